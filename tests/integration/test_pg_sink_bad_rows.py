"""pg.sink: bad rows do not block the pipeline.  A unique violation against
a row already in the table, a duplicate key inside the batch, an integer
column given "abc" and a NOT NULL column given null each go to the
dead-letter sink with the SQLSTATE, the server's message and the column
(and for NOT NULL, a hint that column defaults do not apply);
every other row is committed, once, with the source's checkpoint.  Both
modes: in upsert mode a duplicate key is not an error (last wins), but the
bad values are."""

import json

import pgtest
import sluicetest as st

N = 5000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 512,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = %(mode)s, key = { "id" } } },
  dlq = sl.file.sink { path = %(dlq)s },
}
"""


def test(t):
    db = pgtest.Db("sink_bad_rows")
    try:
        body(t, db)
    finally:
        db.drop()


def dead_letters(t, name):
    records, torn = st.read_jsonl(t.path(name))
    st.assert_no_torn(torn, name)
    return {r["record"]["id"]: r["error"] for r in records}


def body(t, db):
    recs = []
    for i in range(1, N + 1):
        recs.append({"id": i, "name": "n%d" % i, "age": i % 90})
    recs[99]["age"] = "abc"                    # id 100: 22P02, column age
    recs[199]["name"] = None                   # id 200: 23502, column name
    recs.insert(400, {"id": 300, "name": "again", "age": 1})   # a second id 300 in the batch
    with open(t.path("in.jsonl"), "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")

    for mode in ("insert", "upsert"):
        table = "bad_" + mode
        db.sql("CREATE TABLE %s (id int PRIMARY KEY, name text NOT NULL, age int)" % db.t(table))
        # id 7 exists already: in insert mode, id 7 of the input violates the key.
        db.sql("INSERT INTO %s VALUES (7, 'old', 0)" % db.t(table))
        dlq = "dlq-%s.jsonl" % mode
        db.write_pipeline(t, PIPELINE, name=db.schema + "_" + mode, table=table,
                          mode=pgtest.lua_str(mode), dlq=pgtest.lua_str(dlq))
        run = t.start()
        st.assert_eq(run.wait(60), 0, "exit code (%s)" % mode)
        bad = dead_letters(t, dlq)
        st.log("%s: dead letters %s" % (mode, json.dumps(bad)[:600]))

        st.assert_true(bad.get(100, "").startswith("SQLSTATE 22P02:") and "(column age" in bad[100],
                       "%s: id 100 dead-lettered with 22P02 and the column" % mode, bad.get(100, "none"))
        st.assert_true(bad.get(200, "").startswith("SQLSTATE 23502:") and "(column name" in bad[200],
                       "%s: id 200 dead-lettered with 23502 and the column" % mode, bad.get(200, "none"))
        st.assert_true("hint: column name is NOT NULL; a null (or missing) field is written as NULL, "
                       "column defaults do not apply" in bad.get(200, ""),
                       "%s: id 200's reason says that column defaults do not apply" % mode,
                       bad.get(200, "none"))
        if mode == "insert":
            st.assert_eq(sorted(bad), [7, 100, 200, 300], "%s: dead-lettered ids" % mode)
            st.assert_true(bad[7].startswith("SQLSTATE 23505:") and "column id" in bad[7],
                           "id 7 dead-lettered with 23505 and the column", bad[7])
            st.assert_true(bad[300].startswith("SQLSTATE 23505:"), "the second id 300: 23505", bad[300])
            st.assert_eq(db.one("SELECT name FROM %s WHERE id = 7" % db.t(table)), "old",
                         "the existing row is untouched")
            st.assert_eq(db.one("SELECT name FROM %s WHERE id = 300" % db.t(table)), "n300",
                         "the first id 300 is kept")
        else:
            st.assert_eq(sorted(bad), [100, 200], "%s: dead-lettered ids" % mode)
            st.assert_eq(db.one("SELECT name FROM %s WHERE id = 7" % db.t(table)), "n7",
                         "upsert replaces the existing row")
            st.assert_eq(db.one("SELECT name FROM %s WHERE id = 300" % db.t(table)), "again",
                         "the last id 300 wins")
        rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % db.t(table))
        st.assert_eq(rows[0], [str(N - 2), str(N - 2)],
                     "%s: every good row once (all ids but 100 and 200)" % mode)
        cp = db.checkpoint("%s_%s" % (db.schema, mode))
        st.assert_true(cp and json.loads(cp)["line"] == len(recs),
                       "%s: the checkpoint covers the whole file" % mode, cp or "none")


st.main(test)
