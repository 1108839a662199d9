#!/usr/bin/env python3
"""End-to-end check of the matching driver without network data: writes a
seeded synthetic file (people with typos, swapped birth days and months,
missing values, namesakes), runs match_eval, and checks the pairwise F1,
that shuffling the input order gives the same clusters, that EM converged,
that a small block cap is reported, not silently slow, and that namesakes
with different valid IDs never link (--id-rule) where they otherwise would.

    tests/match/eval_case.py MATCH_EVAL"""
import csv
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GIVEN = ["james", "mary", "john", "linda", "robert", "susan", "michael", "karen", "david",
         "nancy", "thomas", "lisa", "daniel", "betty", "paul", "sandra", "mark", "ashley"]
SURNAMES = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
            "wilson", "anderson", "taylor", "moore", "jackson", "martin", "thompson", "white"]
STREETS = ["king street", "queen road", "park avenue", "church lane", "mill close", "high street"]
ARGS = ["--compare", "given_name:exact,dl1,jw0.92,jw0.8:tf",
        "--compare", "surname:exact,dl1,jw0.92,jw0.8:tf",
        "--compare", "dob:exact,swap,dl1",
        "--compare", "street:exact,jw0.9",
        "--compare", "postcode:exact,dl1",
        "--block", "given_name+surname", "--block", "dob", "--block", "postcode+street/4",
        "--random-pairs", "50000"]


def typo(rng, s):
    i = rng.randrange(len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def people(rng, n):
    rows = []
    for p in range(n):
        base = {"given_name": rng.choice(GIVEN), "surname": rng.choice(SURNAMES),
                "dob": "19%02d%02d%02d" % (rng.randint(30, 99), rng.randint(1, 12), rng.randint(1, 28)),
                "street": rng.choice(STREETS), "postcode": str(rng.randint(2000, 2999))}
        for c in range(rng.choice([1, 2, 3])):
            r = dict(base)
            if c:
                kind = rng.randrange(4)
                if kind == 0:
                    r["given_name"] = typo(rng, r["given_name"])
                elif kind == 1:
                    r["surname"] = typo(rng, r["surname"])
                elif kind == 2:
                    d = r["dob"]
                    r["dob"] = d[:4] + d[6:8] + d[4:6] if int(d[6:8]) <= 12 else d
                else:
                    r["street"] = ""
            rows.append(dict(r, id=f"r{len(rows)}", truth=f"p{p}"))
    return rows


def run(tool, rows, d, name, extra=()):
    path, out = os.path.join(d, name + ".csv"), os.path.join(d, name + ".jsonl")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["id", "truth", "given_name", "surname", "dob", "street", "postcode",
                               "idno"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    p = subprocess.run([tool, "--in", path, "--out", out] + ARGS + list(extra), check=True,
                       capture_output=True, text=True)
    summary = json.loads(p.stderr)
    score = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "pairwise_f1.py"), path, out],
                                      check=True, capture_output=True, text=True).stdout)
    groups = {}
    with open(out) as f:
        for line in f:
            o = json.loads(line)
            groups.setdefault(o["entity"], set()).add(o["id"])
    return score, sorted(sorted(g) for g in groups.values()), summary


def main():
    tool = sys.argv[1]
    rng = random.Random(11)
    rows = people(rng, 400)
    with tempfile.TemporaryDirectory() as d:
        score, clusters, summary = run(tool, rows, d, "in")
        if score["f1"] < 0.98:
            sys.exit(f"pairwise F1 {score['f1']} < 0.98: {score}")
        if not summary["em"]["converged"] or summary["index"]["capped_blocks"]:
            sys.exit(f"EM not converged or blocks capped: {summary['em']} {summary['index']}")
        for k in range(3):
            shuffled = rows[:]
            random.Random(k).shuffle(shuffled)
            _, again, _ = run(tool, shuffled, d, f"shuffled{k}")
            if again != clusters:
                diff = [c for c in again if c not in clusters][:3]
                sys.exit(f"shuffle {k}: clusters differ, e.g. {diff}")
        # With a cap of 3, the name and postcode blocks of common values stop.
        capped, _, summary = run(tool, rows, d, "capped", ["--cap", "3"])
        if not summary["index"]["capped_blocks"] or not summary["index"]["capped_hits"]:
            sys.exit(f"a cap of 3 capped nothing: {summary['index']}")
        if capped["recall"] > score["recall"]:
            sys.exit(f"capping found more pairs: {capped} vs {score}")
        # Namesakes: a person whose every field equals another's, but each
        # with an ID of their own on every record.
        named = [dict(r, idno=f"ID-{r['truth']}") for r in rows]
        twins = [dict(r, id=r["id"] + "-twin", truth=r["truth"] + "-twin", idno=f"ID-{r['truth']}-twin")
                 for r in named if r["id"] in {f"r{i}" for i in range(0, 300, 10)}]
        both = named + twins
        merged, _, _ = run(tool, both, d, "namesakes")
        kept, _, summary = run(tool, both, d, "namesakes_rule", ["--id-rule", "idno"])
        if merged["precision"] >= kept["precision"] or kept["precision"] < 1.0:
            sys.exit(f"the ID rule did not keep namesakes apart: {merged} vs {kept}")
        if not summary["cannot_links"]:
            sys.exit(f"no cannot-link recorded: {summary}")
    print(f"ok f1={score['f1']} precision={score['precision']} recall={score['recall']}")


if __name__ == "__main__":
    main()
