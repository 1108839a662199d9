#!/usr/bin/env python3
"""Pairwise precision, recall and F1 of an entity assignment against the
truth.

    tests/match/pairwise_f1.py INPUT.csv ENTITIES.jsonl [--cross-source]

INPUT.csv has the columns id and truth (and source); ENTITIES.jsonl has one
{"id": ..., "entity": ...} per record.  A pair is two records given one
entity; it is true when their truth is the same.  --cross-source counts
only pairs of records from different sources (linkage of two files).
Prints one JSON object."""
import csv
import json
import sys
from collections import Counter


def pairs(counter):
    return sum(n * (n - 1) // 2 for n in counter.values())


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    cross = "--cross-source" in sys.argv
    if len(args) != 2:
        sys.exit("usage: pairwise_f1.py INPUT.csv ENTITIES.jsonl [--cross-source]")
    truth, source = {}, {}
    with open(args[0], newline="") as f:
        for row in csv.DictReader(f):
            truth[row["id"]] = row["truth"]
            source[row["id"]] = row.get("source", "")
    entity = {}
    with open(args[1]) as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                entity[str(o["id"])] = str(o["entity"])
    missing = [i for i in truth if i not in entity]
    if missing:
        sys.exit(f"{len(missing)} records have no entity, e.g. {missing[0]}")
    if cross:
        # Pairs across sources: within a group, all pairs minus same-source pairs.
        def cross_pairs(key):
            groups, within = Counter(), Counter()
            for i in truth:
                groups[key(i)] += 1
                within[(key(i), source[i])] += 1
            return pairs(groups) - pairs(within)
        pred = cross_pairs(lambda i: entity[i])
        true = cross_pairs(lambda i: truth[i])
        tp = cross_pairs(lambda i: (entity[i], truth[i]))
    else:
        pred = pairs(Counter(entity[i] for i in truth))
        true = pairs(Counter(truth.values()))
        tp = pairs(Counter((entity[i], truth[i]) for i in truth))
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    print(json.dumps({"records": len(truth), "true_pairs": true, "predicted_pairs": pred,
                      "true_positives": tp, "precision": round(p, 6), "recall": round(r, 6),
                      "f1": round(f1, 6)}))


if __name__ == "__main__":
    main()
