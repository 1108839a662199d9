#!/usr/bin/env python3
"""Chinese residents and companies through match_eval --preset, small and
seeded (tests/match/gen.py, a seed tuned on by no one): the preparation,
the ID rule, the blocking keys and comparisons of the presets, trained on
the file, match probability 0.99.  Checks that pairwise F1 (score.py) is
above a floor and that EM converged.

    tests/match/cn_case.py MATCH_EVAL"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
N = 3000
FLOOR = {"residents": 0.99, "companies": 0.99}


def main():
    match_eval = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, preset in (("residents", "person"), ("companies", "company")):
            csv = os.path.join(tmp, kind + ".csv")
            out = os.path.join(tmp, kind + ".jsonl")
            subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), kind, str(N), csv,
                            "--seed", "31"], check=True, capture_output=True)
            run = subprocess.run([match_eval, "--in", csv, "--out", out, "--preset", preset,
                                  "--random-pairs", "200000"], check=True, capture_output=True,
                                 text=True)
            summary = json.loads(run.stderr)
            score = json.loads(subprocess.run(
                [sys.executable, os.path.join(HERE, "score.py"), csv, out, "--json"],
                check=True, capture_output=True, text=True).stdout)
            print("%s: F1 %.5f (floor %.2f), precision %.5f, recall %.5f, EM converged %d"
                  % (kind, score["f1"], FLOOR[kind], score["precision"], score["recall"],
                     summary["em"]["converged"]))
            if score["f1"] < FLOOR[kind]:
                failures.append("%s: F1 %.5f below %.2f" % (kind, score["f1"], FLOOR[kind]))
            if not summary["em"]["converged"]:
                failures.append("%s: EM did not converge" % kind)
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
