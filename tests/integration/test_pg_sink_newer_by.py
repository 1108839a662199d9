"""pg.sink upsert with newer_by: records of a key arrive out of order (in one
batch, across batches and across transactions), and the row ends with the
newest version of each key.  A null version is older than any value; on
equal versions the row stored first stays.  A bad row in the middle (NOT
NULL given null) is dead-lettered by bisection and the versions still hold.
A replay of the whole input (the stored checkpoint deleted) updates no row:
every row's xmin is the same after it.  A version column whose type has no
order (json) stops the start with the reason."""

import json
import random

import pgtest
import sluicetest as st

KEYS = 300
VERSIONS = 5
BAD_ID = 100000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 16,
  workers = 2,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "upsert", key = { "id" },
                         newer_by = "updated_at", transaction_rows = 40 } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def ts(v):
    return None if v is None else "2024-03-01T08:00:%02dZ" % v


def make_input(path):
    rng = random.Random(9)
    recs = []
    for k in range(1, KEYS + 1):
        for v in range(1, VERSIONS + 1):
            recs.append({"id": k, "name": "k%d v%d" % (k, v), "updated_at": ts(v)})
        if k % 10 == 0:
            recs.append({"id": k, "name": "k%d null version" % k, "updated_at": None})
        if k % 7 == 0:
            recs.append({"id": k, "name": "k%d same version again" % k, "updated_at": ts(VERSIONS)})
    for k in (KEYS + 1, KEYS + 2):   # keys that never have a version
        recs += [{"id": k, "name": "k%d first" % k, "updated_at": None},
                 {"id": k, "name": "k%d second" % k, "updated_at": None}]
    rng.shuffle(recs)
    # Ties within one batch (hence one transaction): right behind a key's
    # newest record, another of the same version; and a key whose two
    # records both have no version.
    for k in range(11, KEYS + 1, 11):
        i = recs.index({"id": k, "name": "k%d v%d" % (k, VERSIONS), "updated_at": ts(VERSIONS)})
        recs.insert(i + 1, {"id": k, "name": "k%d same version next" % k, "updated_at": ts(VERSIONS)})
    recs += [{"id": KEYS + 3, "name": "k%d first" % (KEYS + 3), "updated_at": None},
             {"id": KEYS + 3, "name": "k%d second" % (KEYS + 3), "updated_at": None}]
    recs.insert(len(recs) // 2, {"id": BAD_ID, "name": None, "updated_at": ts(1)})
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    # What the table must hold: the rule, applied in arrival order.
    best = {}
    for r in recs:
        if r["name"] is None:
            continue
        old = best.get(r["id"])
        if old is None or (r["updated_at"] is not None and
                           (old["updated_at"] is None or old["updated_at"] < r["updated_at"])):
            best[r["id"]] = r
    return {k: r["name"] for k, r in best.items()}, len(recs)


def table(db):
    return {int(r[0]): r[1] for r in db.sql("SELECT id, name FROM %s" % db.t("p"))}


def xmins(db):
    return {int(r[0]): r[1] for r in db.sql("SELECT id, xmin FROM %s" % db.t("p"))}


def test(t):
    db = pgtest.Db("sink_newer_by")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    expected, n = make_input(t.path("in.jsonl"))
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, name text NOT NULL, updated_at timestamptz)"
           % db.t("p"))
    db.write_pipeline(t, PIPELINE, table="p")
    run = t.start()
    st.assert_eq(run.wait(120), 0, "exit code")
    got = table(db)
    wrong = sorted((k, got.get(k), v) for k, v in expected.items() if got.get(k) != v)
    if wrong or len(got) != len(expected):
        st.fail("%d of %d keys are not their newest version (key, got, expected): %s; rows %d"
                % (len(wrong), len(expected), wrong[:5], len(got)))

    dead, torn = st.read_jsonl(t.path("dlq.jsonl"))
    st.assert_no_torn(torn, "dlq.jsonl")
    st.assert_eq([d["record"]["id"] for d in dead], [BAD_ID], "dead-lettered ids")
    st.assert_true("SQLSTATE 23502" in dead[0]["error"] and
                   "column defaults do not apply" in dead[0]["error"],
                   "the dead letter says why, with the hint", dead[0]["error"])

    cp = db.checkpoint()
    st.assert_true(cp and json.loads(cp)["line"] == n, "the checkpoint covers the whole file",
                   cp or "none")

    # A replay of everything changes nothing: no row is even rewritten.
    before = xmins(db)
    db.forget_checkpoint()
    t.reset("state", "dlq.jsonl")
    run = t.start()
    st.assert_eq(run.wait(120), 0, "exit code of the replay")
    st.assert_true("%d records read" % n in run.stderr_text(), "the replay read everything",
                   run.stderr_text()[-300:])
    st.assert_eq(table(db), got, "the table after the replay")
    changed = sorted(k for k, x in xmins(db).items() if before.get(k) != x)
    st.assert_eq(changed, [], "rows rewritten by the replay")

    # A version column whose type has no order is refused at start.
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, name text, updated_at json)" % db.t("j"))
    db.write_pipeline(t, PIPELINE, name=db.schema + "_j", table="j")
    run = t.start()
    st.assert_eq(run.wait(60), 2, "exit code with a json version column (an invalid pipeline)")
    st.assert_true('newer_by = \\"updated_at\\": its values cannot be compared' in run.stderr_text(),
                   "the start says why", run.stderr_text()[-400:])


st.main(test)
