"""pg.sink upsert leaves alone a row that would not change: a feed sent
again in full, with a few records changed (a jsonb value, a timestamptz, a
text turned null), rewrites only those rows (their xmin changes, the
others' does not), inserts its new keys, and the table ends as the last
records say.  A key twice in one transaction still ends as its last record.
A table with a json column (a type without equality, so the check cannot be
asked) is upserted as before, every row of the feed rewritten, and the
start says so."""

import json

import pgtest
import sluicetest as st

KEYS = 200

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 16,
  workers = 2,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "upsert",
                         key = { "entity_id" }, transaction_rows = 64 } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def rec(k, name, golden, at):
    return {"entity_id": "P%06d" % k, "name": name, "golden": golden, "updated_at": at}


def first_feed():
    return [rec(k, "name %d" % k, {"name": {"v": "name %d" % k, "dept": "police"}, "n": k},
                "2026-03-01T08:00:00+08:00") for k in range(KEYS)]


def second_feed():
    """The first feed again, except: key 3's jsonb changes, key 5's time,
    key 7's name becomes null, key 9 comes twice (the second wins) and two
    keys are new."""
    recs = first_feed()
    recs[3]["golden"] = {"name": {"v": "name 3", "dept": "health"}, "n": 3}
    recs[5]["updated_at"] = "2026-03-02T08:00:00+08:00"
    recs[7]["name"] = None
    recs.insert(10, dict(recs[9], name="name 9 again"))
    recs += [rec(KEYS, "new", {"n": KEYS}, "2026-03-03T08:00:00Z"),
             rec(KEYS + 1, "new", None, None)]
    return recs, ["P%06d" % k for k in (3, 5, 7, 9, KEYS, KEYS + 1)]


def write(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


def rows(db, table):
    return {r[0]: r[1:] for r in db.sql(
        "SELECT entity_id, name, golden::text, updated_at, xmin FROM %s" % db.t(table))}


def expected(db, recs):
    """What the table must hold: the last record of each key, as the server
    prints its values (jsonb normalised, timestamptz in the session's zone)."""
    last = {}
    for r in recs:
        last[r["entity_id"]] = r
    vals = ",".join("(%s, %s, %s::jsonb, %s::timestamptz)" % (
        lit(r["entity_id"]), lit(r["name"]),
        lit(None if r["golden"] is None else json.dumps(r["golden"])), lit(r["updated_at"]))
        for r in last.values())
    return {r[0]: r[1:] for r in db.sql(
        "SELECT k, n, g::text, u FROM (VALUES %s) v(k, n, g, u)" % vals)}


def lit(v):
    return "NULL" if v is None else "'" + v.replace("'", "''") + "'"


def run(t, db, recs):
    write(t.path("in.jsonl"), recs)
    db.forget_checkpoint()
    t.reset("state", "dlq.jsonl")
    r = t.start()
    st.assert_eq(r.wait(120), 0, "exit code")
    dead, _ = st.read_jsonl(t.path("dlq.jsonl"))
    st.assert_eq(len(dead), 0, "dead letters")
    return r


def test(t):
    db = pgtest.Db("sink_unchanged")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    db.sql("CREATE TABLE %s (entity_id text PRIMARY KEY, name text, golden jsonb, "
           "updated_at timestamptz)" % db.t("g"))
    db.write_pipeline(t, PIPELINE, table="g")
    run(t, db, first_feed())
    before = rows(db, "g")
    st.assert_eq(len(before), KEYS, "rows after the first feed")

    recs, changed_keys = second_feed()
    run(t, db, recs)
    after = rows(db, "g")
    want = expected(db, recs)
    got = {k: v[:3] for k, v in after.items()}
    wrong = sorted((k, got.get(k), v) for k, v in want.items() if got.get(k) != v)
    if wrong or len(got) != len(want):
        st.fail("%d of %d rows are not their last record (key, got, expected): %s; rows %d"
                % (len(wrong), len(want), wrong[:5], len(got)))
    rewritten = sorted(k for k, v in after.items() if before.get(k, [None] * 4)[3] != v[3])
    st.assert_eq(rewritten, changed_keys, "rows written by the second feed (xmin changed)")

    # json has no equality: the check is left out and every row rewritten.
    db.sql("CREATE TABLE %s (entity_id text PRIMARY KEY, name text, golden json, "
           "updated_at timestamptz)" % db.t("j"))
    db.write_pipeline(t, PIPELINE, table="j")
    run(t, db, first_feed())
    before = rows(db, "j")
    r = run(t, db, first_feed())
    st.assert_true("has a type without equality" in r.stderr_text(), "the start says why",
                   r.stderr_text()[-400:])
    after = rows(db, "j")
    st.assert_eq({k: v[:3] for k, v in after.items()}, {k: v[:3] for k, v in before.items()},
                 "the json table after the same feed again")
    kept = sorted(k for k, v in after.items() if before[k][3] == v[3])
    st.assert_eq(kept, [], "json table: rows not rewritten (none expected)")


st.main(test)
