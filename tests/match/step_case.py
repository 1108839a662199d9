#!/usr/bin/env python3
"""The sl.match step in pipelines (ctest label pipeline):

  shuffle  the same residents (tests/match/gen.py, seeded) in several
           orders, batch sizes and worker counts give the clusters of the
           batch definition: connected components of the pairs that share
           a block and score above the link threshold (or share a valid
           ID), computed here from every pair match_eval --batch-pairs
           scores without streaming.  Components that a cannot-link
           (different valid IDs) or a capped block touches are left out,
           as the issue's definition says.
  replay   the file read twice (two sources) changes nothing: one member
           row a record, the same clusters as one reading.

A record's final entity is the entity_id it came out with, followed
through the entity rows with status merged (merged_into): what a consumer
of the platform rows does.

    tests/match/step_case.py SLUICE MATCH_EVAL"""
import csv
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
N = 1500
LINK = 0.99

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "match-case",
  workers = %(workers)d,
  batch_size = %(batch)d,
  sources = { %(sources)s },
  steps = {
    sl.match { domain = "person", preset = "person", model = "model.json", link = %(link)r,
               identity = { dept = "department", feed = "feed", id = "id" } },
  },
  sinks = {
    sl.file.sink { path = "out.jsonl", format = "jsonl", where = function (r) return r._platform == nil end },
    sl.file.sink { path = "platform.jsonl", format = "jsonl", where = function (r) return r._platform ~= nil end },
  },
  dlq = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
"""


class UF:
    def __init__(self):
        self.p = {}

    def find(self, x):
        self.p.setdefault(x, x)
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def batch_definition(pairs_path, ids):
    """{record id: frozenset of its component} for the components no
    cannot-link or identity conflict touches."""
    uf = UF()
    ident, cannot = {}, []
    with open(pairs_path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "#id":
                ident[int(parts[1])] = parts[2]
                continue
            i, j, rule, p = int(parts[0]), int(parts[1]), parts[2], float(parts[3])
            if rule == "cannot":
                cannot.append((i, j))
            elif rule == "must" or p >= LINK:
                uf.union(i, j)
    comp = {}
    for i in range(len(ids)):
        comp.setdefault(uf.find(i), set()).add(i)
    touched = set()
    for i, j in cannot:
        if uf.find(i) == uf.find(j):
            touched.add(uf.find(i))
    for r, members in comp.items():
        if len({ident[i] for i in members if i in ident}) > 1:
            touched.add(r)
    out = {}
    for r, members in comp.items():
        if r in touched:
            continue
        s = frozenset(ids[i] for i in members)
        for i in members:
            out[ids[i]] = s
    return out, len(touched)


def run(sluice, work, rows, header, workers, batch, copies=1):
    os.makedirs(work, exist_ok=True)
    srcs = []
    for k in range(copies):
        name = "in%d.csv" % k
        with open(os.path.join(work, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
        srcs.append('sl.file.source { name = "in%d", path = "%s", format = "csv" }' % (k, name))
    with open(os.path.join(work, "pipeline.lua"), "w") as f:
        f.write(PIPELINE % {"workers": workers, "batch": batch, "sources": ", ".join(srcs), "link": LINK})
    p = subprocess.run([sluice, "run", "pipeline.lua", "--state-dir", "state"], cwd=work,
                       capture_output=True, text=True, timeout=300)
    if p.returncode:
        sys.exit("sluice failed in %s: %s" % (work, p.stderr[-2000:]))
    out = [json.loads(l) for l in open(os.path.join(work, "out.jsonl"))]
    plat = [json.loads(l) for l in open(os.path.join(work, "platform.jsonl"))]
    merged = {r["entity_id"]: r["merged_into"] for r in plat
              if r["_platform"] == "entity" and r["status"] == "merged"}

    def final(e):
        seen = set()
        while e in merged and e not in seen:
            seen.add(e)
            e = merged[e]
        return e

    entity = {}
    for r in out:
        entity[r["id"]] = final(r["entity_id"])
    # The members table (the last row of each record, as upserts leave it)
    # names each record's entity as it is now, merges included: what a
    # restore rebuilds the clusters from.
    last = {}
    for r in plat:
        if r["_platform"] == "member":
            last[r["src_id"]] = r["entity_id"]
    stale = [k for k in last if last[k] != entity.get(k)]
    if stale:
        sys.exit("%s: %d members table rows name an entity merged since, e.g. %s: %s, now %s"
                 % (work, len(stale), stale[0], last[stale[0]], entity.get(stale[0])))
    clusters = {}
    for rid, e in entity.items():
        clusters.setdefault(e, set()).add(rid)
    return {rid: frozenset(clusters[e]) for rid, e in entity.items()}, out, plat


def compare(defn, got, label):
    bad = [rid for rid, c in defn.items() if got.get(rid) != c]
    if bad:
        rid = bad[0]
        sys.exit("%s: %d records not in their batch cluster, e.g. %s: expected %s, got %s"
                 % (label, len(bad), rid, sorted(defn[rid]), sorted(got.get(rid, ()))))


def main():
    sluice, match_eval = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "residents.csv")
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "residents", str(N), data,
                        "--seed", "17"], check=True, capture_output=True)
        model = os.path.join(tmp, "model.json")
        pairs = os.path.join(tmp, "pairs.tsv")
        subprocess.run([match_eval, "--in", data, "--out", os.path.join(tmp, "eval.jsonl"),
                        "--preset", "person", "--random-pairs", "200000", "--model-out", model,
                        "--batch-pairs", pairs, "--threshold", str(LINK)],
                       check=True, capture_output=True)
        with open(data, newline="") as f:
            rd = csv.reader(f)
            header = next(rd)
            rows = list(rd)
        ids = [r[header.index("id")] for r in rows]
        defn, touched = batch_definition(pairs, ids)
        multi = sum(1 for c in set(defn.values()) if len(c) > 1)
        print("batch definition: %d records in %d clusters (%d of more than one), %d components left out"
              % (len(defn), len(set(defn.values())), multi, touched))
        if len(defn) < N * 0.9 or multi < 100:
            sys.exit("the batch definition is too thin to test anything")

        rng = random.Random(5)
        for k, (workers, batch) in enumerate([(1, 1000), (2, 7), (4, 1), (3, 100)]):
            order = rows[:]
            if k:
                rng.shuffle(order)
            work = os.path.join(tmp, "run%d" % k)
            os.makedirs(work)
            os.symlink(model, os.path.join(work, "model.json"))
            got, out, _ = run(sluice, work, order, header, workers, batch)
            if len(out) != N:
                sys.exit("run %d: %d records out of %d" % (k, len(out), N))
            compare(defn, got, "run %d (workers %d, batch %d, %s)"
                    % (k, workers, batch, "file order" if not k else "shuffled"))
            print("run %d: workers %d, batch_size %d: clusters as the batch definition" % (k, workers, batch))

        # The file twice: the second reading of each record is a replay.
        work = os.path.join(tmp, "replay")
        os.makedirs(work)
        os.symlink(model, os.path.join(work, "model.json"))
        got, out, plat = run(sluice, work, rows, header, 2, 50, copies=2)
        # Each record once among the member rows written when it came (a
        # merge rewrites the others' rows with the survivor, not more).
        os.makedirs(os.path.join(tmp, "once"))
        os.symlink(model, os.path.join(tmp, "once", "model.json"))
        _, _, once = run(sluice, os.path.join(tmp, "once"), rows, header, 2, 50)
        members = [r for r in plat if r["_platform"] == "member"]
        members_once = [r for r in once if r["_platform"] == "member"]
        if len(out) != 2 * N or len(members) != len(members_once):
            sys.exit("replay: %d records out (want %d), %d member rows (%d reading the file once)"
                     % (len(out), 2 * N, len(members), len(members_once)))
        compare(defn, got, "replay")
        print("replay: %d records, %d member rows as reading it once, the same clusters" % (len(out), len(members)))
    print("ok")


if __name__ == "__main__":
    main()
