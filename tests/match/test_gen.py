#!/usr/bin/env python3
"""Unit tests of gen.py: the same seed gives the same bytes, codes carry
valid check characters, the truth and record identity are there, and the
homophone table only pairs characters with a common reading."""

import csv
import os
import subprocess
import sys
import tempfile
import unittest
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402

GEN = os.path.join(HERE, "gen.py")


def run(kind, n, seed, *extra):
    return subprocess.run([sys.executable, GEN, kind, str(n), "-", "--seed", str(seed), *extra],
                          check=True, capture_output=True).stdout


def read_csv(kind, n, seed):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.csv")
        subprocess.run([sys.executable, GEN, kind, str(n), path, "--seed", str(seed)],
                       check=True, capture_output=True)
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))


class Gen(unittest.TestCase):
    def test_deterministic(self):
        for kind in ("residents", "companies"):
            a, b = run(kind, 1500, 5), run(kind, 1500, 5)
            self.assertEqual(a, b, kind)
            self.assertNotEqual(a, run(kind, 1500, 6), kind)

    def check_common(self, rs, n):
        self.assertEqual(len(rs), n)
        self.assertEqual(len({r["id"] for r in rs}), n)
        ident = Counter((r["department"], r["feed"], r["src_id"]) for r in rs)
        self.assertEqual(ident.most_common(1)[0][1], 1, "record identity repeats")
        sizes = Counter(Counter(r["entity"] for r in rs).values())
        self.assertGreater(sizes[1], 0, sizes)
        self.assertGreater(sum(v for k, v in sizes.items() if k >= 3), 0, sizes)
        self.assertGreaterEqual(len({r["department"] for r in rs}), 5)

    def test_residents(self):
        rs = read_csv("residents", 3000, 11)
        self.check_common(rs, 3000)
        ids = [r["id_no"] for r in rs if len(r["id_no"]) == 18 and r["id_no"][:17].isdigit()]
        valid = sum(gen.id_check(i[:17]) == i[17].upper() for i in ids)
        self.assertGreater(valid / len(ids), 0.9, (valid, len(ids)))
        self.assertLess(valid, len(ids), "no wrong check characters")
        self.assertTrue(any(len(r["id_no"]) == 15 for r in rs), "no old 15-digit IDs")
        # Namesakes: one written name, several people.
        by_name = {}
        for r in rs:
            by_name.setdefault(r["name"], set()).add(r["entity"])
        self.assertTrue(any(len(v) > 1 for v in by_name.values()))

    def test_companies(self):
        rs = read_csv("companies", 3000, 11)
        self.check_common(rs, 3000)
        codes = [r["uscc"] for r in rs
                 if len(r["uscc"]) == 18 and all(ch in gen.USCC_ALPHA for ch in r["uscc"])]
        valid = sum(gen.uscc_check(c[:17]) == c[17] for c in codes)
        self.assertGreater(valid / len(codes), 0.9, (valid, len(codes)))
        self.assertTrue(any(r["name"].endswith("分公司") for r in rs), "no branches")
        self.assertTrue(any(len(r["uscc"]) == 15 for r in rs), "no taxpayer numbers")
        # Group companies: one phone, several entities.
        by_phone = {}
        for r in rs:
            if r["phone"]:
                by_phone.setdefault(r["phone"], set()).add(r["entity"])
        self.assertTrue(any(len(v) > 1 for v in by_phone.values()))

    def test_split_for_linkage(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.csv")
            subprocess.run([sys.executable, GEN, "residents", "2000", path, "--split", "卫健,民政"],
                           check=True, capture_output=True)
            with open(path, encoding="utf-8") as f:
                a = list(csv.DictReader(f))
            with open(os.path.join(d, "x.b.csv"), encoding="utf-8") as f:
                b = list(csv.DictReader(f))
        self.assertEqual(len(a) + len(b), 2000)
        self.assertEqual({r["department"] for r in b}, {"卫健", "民政"})
        self.assertFalse({r["department"] for r in a} & {"卫健", "民政"})
        self.assertTrue({r["entity"] for r in a} & {r["entity"] for r in b}, "nothing to link")

    def test_style_b(self):
        """Style b is its own population and rates, deterministic; the
        register phenomena off (style a's default) leave style a's bytes
        as they were, on they change them."""
        import json
        a = run("residents", 2000, 5, "--style", "b")
        self.assertEqual(a, run("residents", 2000, 5, "--style", "b"))
        self.assertNotEqual(a, run("residents", 2000, 5))
        self.assertEqual(run("residents", 2000, 5), run("residents", 2000, 5, "--hard", "family=0"))
        self.assertNotEqual(run("residents", 2000, 5), run("residents", 2000, 5, "--hard", "family=0.2"))
        rows = [json.loads(line) for line in a.decode().splitlines()]
        surnames = Counter(r["name"].strip()[:1] for r in rows)
        self.assertGreater(surnames["陈"] + surnames["林"], surnames["王"] + surnames["李"])

    def test_family_shares_an_address(self):
        """A household member lives at an earlier person's address: more
        addresses are shared by two people than without households."""
        import json

        def shared(*extra):
            rows = [json.loads(line) for line in run("residents", 3000, 8, *extra).decode().splitlines()]
            people = {}
            for r in rows:
                if r["addr"].strip():
                    people.setdefault(r["addr"].strip()[-12:], set()).add(r["entity"])
            return sum(1 for e in people.values() if len(e) > 1)
        self.assertGreater(shared("--hard", "family=0.3"), shared() + 20)

    def test_check_characters(self):
        self.assertEqual(gen.id_check("11010519491231002"), "X")
        self.assertEqual(gen.uscc_check("91350100M000100Y4"), "3")

    def test_homophones_share_a_reading(self):
        readings = {}
        with open(os.path.join(HERE, "..", "..", "data", "cn_pinyin.tsv"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                cp, r = line.rstrip("\n").split("\t")
                readings[chr(int(cp, 16))] = set(r.split(","))
        for g in gen.HOMOPHONES:
            common = set.intersection(*[readings.get(c, set()) for c in g])
            self.assertTrue(common, g)


if __name__ == "__main__":
    unittest.main()
