#!/usr/bin/env python3
"""Unit tests of score.py on hand-made assignments, and of the counting
from cluster intersections against all pairs enumerated."""

import itertools
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import score  # noqa: E402


def brute(truth, pred):
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(truth), 2):
        t = truth[a] == truth[b]
        p = a in pred and b in pred and pred[a] == pred[b]
        tp += t and p
        fp += p and not t
        fn += t and not p
    return tp, fp, fn


class Score(unittest.TestCase):
    TRUTH = {"a": "T1", "b": "T1", "c": "T1", "d": "T2", "e": "T2", "f": "T3"}

    def test_hand_case(self):
        pred = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z", "f": "Z"}
        s = score.score(self.TRUTH, pred)
        self.assertEqual((s["true_pairs"], s["predicted_pairs"], s["true_positives"]), (4, 3, 1))
        self.assertAlmostEqual(s["precision"], 1 / 3)
        self.assertAlmostEqual(s["recall"], 1 / 4)
        self.assertAlmostEqual(s["f1"], 2 / 7)
        self.assertEqual((s["exact_clusters"], s["split_clusters"], s["merged_clusters"]), (0, 2, 3))

    def test_perfect(self):
        pred = {i: "p" + t for i, t in self.TRUTH.items()}
        s = score.score(self.TRUTH, pred)
        self.assertEqual((s["precision"], s["recall"], s["f1"]), (1.0, 1.0, 1.0))
        self.assertEqual(s["exact_clusters"], 3)

    def test_missing_is_singleton(self):
        pred = {"a": "X", "b": "X", "c": "X", "d": "Y"}
        s = score.score(self.TRUTH, pred)
        self.assertEqual(s["missing"], 2)
        self.assertEqual((s["true_positives"], s["false_negatives"], s["false_positives"]), (3, 1, 0))

    def test_unknown_id_is_an_error(self):
        with self.assertRaises(ValueError):
            score.score(self.TRUTH, {"zz": "X"})

    def test_all_one_cluster(self):
        s = score.score(self.TRUTH, {i: "X" for i in self.TRUTH})
        self.assertEqual((s["predicted_pairs"], s["true_positives"]), (15, 4))
        self.assertEqual(s["recall"], 1.0)

    def test_matches_enumeration(self):
        rng = random.Random(7)
        for _ in range(50):
            ids = ["r%d" % i for i in range(rng.randrange(1, 40))]
            truth = {i: "T%d" % rng.randrange(8) for i in ids}
            pred = {i: "P%d" % rng.randrange(8) for i in ids if rng.random() < 0.9}
            s = score.score(truth, pred)
            self.assertEqual((s["true_positives"], s["false_positives"], s["false_negatives"]),
                             brute(truth, pred), (truth, pred))


if __name__ == "__main__":
    unittest.main()
