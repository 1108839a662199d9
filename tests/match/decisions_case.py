#!/usr/bin/env python3
"""Operators' decisions in a pipeline (ctest label pipeline): sl.match with
decisions = "reviews", a second source (tests/match/decisions/) whose
records are decisions.  The two sources interleave in an order that differs
from run to run, so the case runs with several batch sizes and worker
counts, with the decisions' source listed first (the decisions come before
their records: they wait for them) and last (they change entities already
made), and checks what does not depend on the order:

  - the final clusters: link 1-8 merges {1,2} and {8}; no_link 3-4 keeps
    3 and 4 apart; split 5 takes 5 out of {5,6,7}; link then no_link 11-12
    leaves them apart (a later decision on a pair replaces it); the update
    of record 10 (another dob) takes it out of {9,10};
  - the clusters are read from the members rows (the last of each record,
    followed through the merged entity rows), as the members table holds
    them and a restore reads them; each final entity's latest row is
    active with its member count;
  - one decision row per decision that holds, keyed by the pair (the
    review id of the pair) or the split record;
  - the decisions that do not hold go to the dead letters with the reason.

    tests/match/decisions_case.py SLUICE"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import platform_rows

HERE = os.path.dirname(os.path.abspath(__file__))
CASE = os.path.join(HERE, "decisions")

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "match-decisions",
  workers = %(workers)d,
  batch_size = %(batch)d,
  sources = { %(sources)s },
  steps = {
    sl.match { domain = "person", model = "model.json", decisions = "reviews",
               identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
               compare = { name = { "exact" }, dob = { "exact" } }, block = { "dob" } },
  },
  sinks = {
    sl.file.sink { path = "out.jsonl", format = "jsonl", where = function (r) return r._platform == nil end },
    sl.file.sink { path = "platform.jsonl", format = "jsonl", where = function (r) return r._platform ~= nil end },
  },
  dlq = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
"""

EXPECTED = [{"1", "2", "8"}, {"3"}, {"4"}, {"5"}, {"6", "7"}, {"9"}, {"10"}, {"11"}, {"12"}]
BAD = ["a and b are the same record", "'maybe' is not link, no_link or split",
       'a must name a record as \\"dept/feed/src_id\\"']


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def check(work, label):
    out = lines(os.path.join(work, "out.jsonl"))
    if len(out) != 13:
        sys.exit("%s: %d records out, want 13" % (label, len(out)))
    plat = lines(os.path.join(work, "platform.jsonl"))
    clusters = platform_rows.clusters_of(platform_rows.member_entities(plat))
    got = sorted(map(sorted, clusters.values()))
    want = sorted(map(sorted, EXPECTED))
    if got != want:
        sys.exit("%s: clusters %s, want %s" % (label, got, want))
    # The entity rows: the latest version of each final entity is active
    # with its member count.
    bad = platform_rows.stale_entity_rows(plat, clusters)
    if bad:
        sys.exit("%s: entity %s (%d members): latest row %s" % (label, bad[0], len(bad[1]), bad[2]))
    kinds = {r["kind"] for r in plat if r["_platform"] == "event"}
    if not kinds <= {"created", "updated", "merged", "split", "member_added", "member_removed"}:
        sys.exit("%s: unknown event kinds %s" % (label, kinds))
    ids = [r["event_id"] for r in plat if r["_platform"] == "event"]
    if len(ids) != len(set(ids)):
        sys.exit("%s: an event id twice" % label)

    decisions = [r for r in plat if r["_platform"] == "decision"]
    held = {}
    for r in decisions:
        held[r["decision_id"]] = r
    summary = sorted((r["a"], r["b"], r["decision"]) for r in held.values())
    want = sorted([("gaj/hj/1", "gaj/hj/8", "link"), ("gaj/hj/3", "gaj/hj/4", "no_link"),
                   ("gaj/hj/5", None, "split"), ("gaj/hj/99", None, "split"),
                   ("gaj/hj/11", "gaj/hj/12", "no_link")])
    if len(decisions) != 6 or summary != want:
        sys.exit("%s: %d decision rows, by id %s, want 6 and %s" % (label, len(decisions), summary, want))
    first = [r for r in decisions if r["decision"] == "link" and r["a"] == "gaj/hj/1"][0]
    if first["review_id"] != "r1" or first["by"] != "wang" or first["at"] != "2026-12-01T10:00:00Z":
        sys.exit("%s: the decision row does not carry review_id, by, at: %s" % (label, first))

    dlq = open(os.path.join(work, "dlq.jsonl")).read()
    for why in BAD:
        if why not in dlq:
            sys.exit("%s: no dead letter saying %s in %s" % (label, why, dlq))
    if len(dlq.splitlines()) != len(BAD):
        sys.exit("%s: %d dead letters, want %d" % (label, len(dlq.splitlines()), len(BAD)))


def main():
    sluice = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        data = 'sl.file.source { name = "in", path = "in.jsonl", format = "jsonl" }'
        reviews = 'sl.file.source { name = "reviews", path = "decisions.jsonl", format = "jsonl" }'
        runs = [(1, 1000, 0), (1, 1000, 1), (2, 1, 0), (2, 1, 1), (3, 2, 0), (1, 3, 1)]
        for k, (workers, batch, first) in enumerate(runs):
            work = os.path.join(tmp, "run%d" % k)
            shutil.copytree(CASE, work)
            with open(os.path.join(work, "pipeline.lua"), "w") as f:
                srcs = [reviews, data] if first else [data, reviews]
                f.write(PIPELINE % {"workers": workers, "batch": batch, "sources": ", ".join(srcs)})
            p = subprocess.run([sluice, "run", "pipeline.lua", "--state-dir", "state"], cwd=work,
                               capture_output=True, text=True, timeout=120)
            if p.returncode:
                sys.exit("run %d: sluice failed: %s" % (k, p.stderr[-2000:]))
            label = "run %d (workers %d, batch %d, decisions %s)" % (k, workers, batch, "first" if first else "last")
            check(work, label)
            print("%s: the decisions hold" % label)
    print("ok")


if __name__ == "__main__":
    main()
