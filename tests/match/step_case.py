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
  updates  a fifth of the records come again later in the file with other
           values (half of them another record's, half a changed phone),
           and 40 more come twice: first as a bridge (the values of a record
           of a cluster without a valid ID, with their own valid ID: it
           links both clusters), then with their own values and a new
           phone (the entity it held together splits): the clusters are the batch
           definition of the final versions, in file order, shuffled, and
           with each update at a random place after its record.

A record's final entity is the entity its last member row names, followed
through the entity rows with status merged (merged_into): what a consumer
of the platform rows does.  Without updates it is also the entity_id the
record came out with, followed the same way.

    tests/match/step_case.py SLUICE MATCH_EVAL"""
import csv
import json
import os
import random
import subprocess
import sys
import tempfile

import platform_rows

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


def batch_pairs(match_eval, tmp, name, header, rows, model):
    """The pairs match_eval scores in batch on rows under model."""
    data = os.path.join(tmp, name + ".csv")
    with open(data, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    pairs = os.path.join(tmp, name + ".pairs.tsv")
    subprocess.run([match_eval, "--in", data, "--out", os.path.join(tmp, name + ".eval.jsonl"),
                    "--preset", "person", "--model", model, "--batch-pairs", pairs,
                    "--threshold", str(LINK)], check=True, capture_output=True)
    return pairs


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
    # The members table (the last row of each record, as upserts leave it)
    # names each record's entity as it is now, merges and splits included:
    # what a restore rebuilds the clusters from.
    final = platform_rows.survivor_of(plat)
    entity = platform_rows.member_entities(plat)
    if len(rows) == len({r[0] for r in rows}):
        # No updates: each record's own entity_id says the same.
        came = {r["id"]: final(r["entity_id"]) for r in out}
        stale = [k for k in came if came[k] != entity.get(k)]
        if stale:
            sys.exit("%s: %d members table rows name an entity merged since, e.g. %s: %s, now %s"
                     % (work, len(stale), stale[0], entity.get(stale[0]), came[stale[0]]))
    clusters = platform_rows.clusters_of(entity)
    # Each entity's latest row (the highest version) is active and counts
    # its members; event ids are unique.
    bad = platform_rows.stale_entity_rows(plat, clusters)
    if bad:
        sys.exit("%s: entity %s of %d members: its latest row is %s" % (work, bad[0], len(bad[1]), bad[2]))
    events = [r["event_id"] for r in plat if r["_platform"] == "event"]
    if len(events) != len(set(events)):
        dup = [r for r in plat if r["_platform"] == "event" and events.count(r["event_id"]) > 1]
        sys.exit("%s: %d events, %d distinct ids, e.g. %s" % (work, len(events), len(set(events)), dup[:4]))
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

        # Updates: a fifth of the records again, later, with other values.
        idx = header.index("id")
        fields = [header.index(h) for h in ("name", "gender", "birth", "id_no", "phone", "addr")]
        rng = random.Random(11)
        final_rows = [r[:] for r in rows]
        updates = []
        for i in rng.sample(range(N), N // 5):
            u = rows[i][:]
            if len(updates) % 2 == 0:
                other = rows[rng.randrange(N)]
                for f in fields:
                    u[f] = other[f]
            else:
                u[header.index("phone")] = "1%010d" % rng.randrange(10 ** 10)
            final_rows[i] = u
            updates.append(u)
        chosen = {u[idx] for u in updates}
        with_id = set()
        with open(pairs) as f:
            for line in f:
                if line.startswith("#id\t"):
                    with_id.add(ids[int(line.split("\t")[1])])
        no_id = [i for i in range(N) if not any(r in with_id for r in defn.get(ids[i], {ids[i]}))]
        has_id = [i for i in range(N) if ids[i] in with_id and ids[i] not in chosen]
        bridges = 0
        for b, x in zip(rng.sample(no_id, min(40, len(no_id))), rng.sample(has_id, 40)):
            bridge, back = rows[b][:], rows[x][:]
            bridge[idx] = rows[x][idx]
            for h in ("department", "feed", "id_no"):
                bridge[header.index(h)] = rows[x][header.index(h)]
            back[header.index("phone")] = "1%010d" % rng.randrange(10 ** 10)
            final_rows[x] = back
            updates += [bridge, back]
            bridges += 1
        defn_u, touched_u = batch_definition(batch_pairs(match_eval, tmp, "final", header, final_rows, model), ids)
        print("updates: %d (%d bridges), batch definition of the final versions: %d clusters, %d components "
              "left out" % (len(updates), bridges, len(set(defn_u.values())), touched_u))
        for k, (workers, batch) in enumerate([(1, 1000), (2, 7), (3, 1)]):
            order = rows[:]
            if k:
                rng.shuffle(order)
            # Each update after its record's first version (one source keeps
            # its order), at a random place, or all at the end.
            stream = order + updates
            if k == 2:
                stream = order[:]
                for u in updates:
                    last = max(n for n, r in enumerate(stream) if r[idx] == u[idx])
                    stream.insert(rng.randint(last + 1, len(stream)), u)
            work = os.path.join(tmp, "update%d" % k)
            os.makedirs(work)
            os.symlink(model, os.path.join(work, "model.json"))
            got, out, plat = run(sluice, work, stream, header, workers, batch)
            if len(out) != len(stream):
                sys.exit("updates %d: %d records out of %d" % (k, len(out), len(stream)))
            splits = sum(1 for r in plat if r["_platform"] == "event" and r["kind"] == "split")
            compare(defn_u, got, "updates %d (workers %d, batch %d)" % (k, workers, batch))
            if splits < bridges // 2:
                sys.exit("updates %d: %d splits for %d bridges: the case tests too little" % (k, splits, bridges))
            print("updates %d: workers %d, batch_size %d: clusters as the batch definition of the final "
                  "versions (%d splits)" % (k, workers, batch, splits))
    print("ok")


if __name__ == "__main__":
    main()
