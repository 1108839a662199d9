"""pg.sink writing several tables (tables = { ... }, route = "kind"): each
record goes to the table whose route equals its `kind`, with that table's
mode, key, columns and newer_by; a record whose kind no table has goes to
the dead-letter sink with the reason (others = "dlq", the default); a bad
row of one table (an integer column given "abc") is isolated by bisecting
across the tables and dead-lettered with the server's reason while every
other row of every table commits; the tables and the one checkpoint row
commit together.  A replay under another pipeline name changes nothing:
upserts skip unchanged rows, newer_by keeps the newest version."""

import json

import pgtest
import sluicetest as st

N = 3000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 256,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, route = "kind", transaction_rows = 1000,
    setup_sql = %(setup)s,
    tables = {
      { route = "person", table = %(people)s, mode = "upsert", key = "id",
        columns = { "id", "name", "age", "doc" } },
      { route = "event", table = %(events)s },
      { route = "entity", table = %(entities)s, mode = "upsert", key = { "entity_id" },
        newer_by = "version", columns = { "entity_id", "version", "golden" } },
    } } },
  dlq = sl.file.sink { path = %(dlq)s },
}
"""


def test(t):
    db = pgtest.Db("sink_tables")
    try:
        body(t, db)
    finally:
        db.drop()


def records():
    recs = []
    for i in range(1, N + 1):
        recs.append({"kind": "person", "id": i, "name": "n%d" % i, "age": i % 90,
                     "doc": {"tags": ["x", i], "q": 'a "b"\t\\'}})
        recs.append({"kind": "event", "id": i, "what": "seen %d" % i})
        # entities: ten of them, each updated; version grows with i, and
        # every seventh update comes with an older version (ignored)
        v = i if i % 7 else i - 50
        recs.append({"kind": "entity", "entity_id": "e%d" % (i % 10), "version": v,
                     "golden": {"v": v}})
    recs[3 * 99]["age"] = "abc"                      # person 100: 22P02
    recs.insert(600, {"kind": "nobody", "id": -1})    # no table has this route
    recs.insert(601, {"id": -2})                      # no route field at all
    # a row larger than a COPY message of the feed (1 MiB), among others
    recs.insert(900, {"kind": "event", "id": N + 1, "what": "y" * 1_500_000})
    return recs


def body(t, db):
    with open(t.path("in.jsonl"), "w") as f:
        for r in records():
            f.write(json.dumps(r) + "\n")
    setup = ("CREATE TABLE IF NOT EXISTS {p} (id int PRIMARY KEY, name text NOT NULL, age int, "
             "doc jsonb); CREATE TABLE IF NOT EXISTS {e} (id int, what text); "
             "CREATE TABLE IF NOT EXISTS {n} (entity_id text PRIMARY KEY, version bigint, "
             "golden jsonb)").format(p=db.t("people"), e=db.t("events"), n=db.t("entities"))

    def run(name, dlq):
        db.write_pipeline(t, PIPELINE, name=db.schema + "_" + name,
                          setup=pgtest.lua_str(setup), people=pgtest.lua_str(db.t("people")),
                          events=pgtest.lua_str(db.t("events")),
                          entities=pgtest.lua_str(db.t("entities")), dlq=pgtest.lua_str(dlq))
        r = t.start()
        st.assert_eq(r.wait(120), 0, "exit code (%s)" % name)
        records_, torn = st.read_jsonl(t.path(dlq))
        st.assert_no_torn(torn, dlq)
        return records_

    bad = run("first", "dlq-first.jsonl")
    reasons = {r["record"].get("id"): r["error"] for r in bad}
    st.log("dead letters: %s" % json.dumps(reasons)[:600])
    st.assert_eq(sorted(reasons), [-2, -1, 100], "dead-lettered ids")
    st.assert_true(reasons[100].startswith("SQLSTATE 22P02:") and "(column age" in reasons[100],
                   "person 100: 22P02 and the column", reasons[100])
    st.assert_true("no table of the sink takes this record" in reasons[-1],
                   "a record of an unknown kind: the reason", reasons[-1])
    st.assert_true("no table of the sink takes this record" in reasons[-2],
                   "a record without the route field: the reason", reasons[-2])

    st.assert_eq(db.count("people"), N - 1, "person rows (all but the bad one)")
    st.assert_eq(db.one("SELECT doc->>'q' || '#' || (doc->'tags'->>1) FROM %s WHERE id = 5"
                        % db.t("people")), 'a "b"\t\\#5', "a jsonb column")
    st.assert_eq(db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s"
                        % db.t("events")), [[str(N + 1), str(N + 1), "1", str(N + 1)]],
                 "event rows (insert): each once")
    st.assert_eq(db.one("SELECT length(what) FROM %s WHERE id = %d" % (db.t("events"), N + 1)),
                 "1500000", "the large event row, whole")
    want = {}
    for i in range(1, N + 1):
        v = i if i % 7 else i - 50
        key = "e%d" % (i % 10)
        want[key] = max(want.get(key, v), v)
    rows = db.sql("SELECT entity_id, version, golden->>'v' FROM %s ORDER BY 1" % db.t("entities"))
    st.assert_eq(rows, [[k, str(want[k]), str(want[k])] for k in sorted(want)],
                 "entities: the greatest version of each (newer_by)")
    cps = db.sql("SELECT source, checkpoint FROM sluice.checkpoints WHERE pipeline = '%s_first'"
                 % db.schema)
    st.assert_eq(len(cps), 1, "checkpoint rows of the one sink")
    st.assert_eq(cps[0][0], "src", "the checkpoint row's source")
    st.assert_eq(json.loads(cps[0][1])["line"], 3 * N + 3, "the checkpoint: the end of the file")

    # The same input again under another name (no checkpoint: a full
    # replay): upserts leave every row as it is (no new row version).
    before = db.sql("SELECT xmin::text FROM %s ORDER BY id" % db.t("people"))
    run("second", "dlq-second.jsonl")
    after = db.sql("SELECT xmin::text FROM %s ORDER BY id" % db.t("people"))
    st.assert_eq(after == before, True, "person rows untouched by the replay (same xmin)")
    st.assert_eq(db.count("events"), 2 * (N + 1), "event rows after the replay (insert appends)")
    rows = db.sql("SELECT entity_id, version FROM %s ORDER BY 1" % db.t("entities"))
    st.assert_eq(rows, [[k, str(want[k])] for k in sorted(want)], "entities after the replay")


st.main(test)
