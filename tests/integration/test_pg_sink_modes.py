"""pg.sink, insert and upsert: 200k records of a file reach a table exactly
once with their types (text with tabs, newlines and backslashes, integers,
arrays, jsonb, NULLs); in upsert mode the duplicates of a key collapse and
the last record of each key wins, within a batch and across batches; the
checkpoint of the source is stored in sluice.checkpoints."""

import json

import pgtest
import sluicetest as st

N = 200_000
DUP_KEYS = 1000
DUP_ROWS = 20_000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  sources = { sl.file.source { path = %(input)s, name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = %(mode)s, key = "id" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def run(t, db, name, input_file, table, mode):
    db.write_pipeline(t, PIPELINE, name=db.schema + "_" + name, table=table,
                      input=pgtest.lua_str(input_file), mode=pgtest.lua_str(mode))
    run = t.start()
    st.assert_eq(run.wait(120), 0, "exit code of the %s run" % name)
    st.check_no_dlq(t)


def test(t):
    db = pgtest.Db("sink_modes")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    for table in ("ins", "ups"):
        db.sql("CREATE TABLE %s (id bigint PRIMARY KEY, name text, age int, tags text[], "
               "doc jsonb, note text, v int)" % db.t(table))
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, N + 1):
            rec = {"id": i, "name": "name %d" % i, "age": i % 100, "v": 1}
            if i % 1000 == 1:
                rec.update(tags=["a", 'b"c', "d,e"], doc={"k": i, "nested": [1, None]},
                           note="tab\there\nline\\slash")
            f.write(json.dumps(rec) + "\n")
    # Duplicates of DUP_KEYS keys, interleaved, in one batch and across
    # batches: the last record of a key (the highest v) must win.
    with open(t.path("dup.jsonl"), "w") as f:
        for j in range(1, DUP_ROWS + 1):
            f.write(json.dumps({"id": j % DUP_KEYS + 1, "name": "dup", "v": j}) + "\n")

    run(t, db, "insert", "in.jsonl", "ins", "insert")
    rows = db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % db.t("ins"))
    st.assert_eq(rows[0], [str(N), str(N), "1", str(N)], "insert: count, distinct, min, max")

    row = db.sql("SELECT name, age, tags, doc, note FROM %s WHERE id = 1001" % db.t("ins"))[0]
    st.assert_eq(row[0], "name 1001", "text")
    st.assert_eq(row[1], "1", "integer")
    st.assert_eq(row[2], '{a,"b\\"c","d,e"}', "text[] from a JSON array")
    st.assert_eq(json.loads(row[3]), {"k": 1001, "nested": [1, None]}, "jsonb from an object")
    st.assert_eq(db.one("SELECT note = E'tab\\there\\nline\\\\slash' FROM %s WHERE id = 1001"
                        % db.t("ins")), "t", "tab, newline and backslash survive COPY escaping")
    st.assert_eq(db.one("SELECT count(*) FROM %s WHERE tags IS NULL AND doc IS NULL AND note IS NULL"
                        % db.t("ins")), str(N - N // 1000), "absent fields are NULL")
    cp = db.checkpoint(db.schema + "_insert", source="src")
    st.assert_true(cp and json.loads(cp)["line"] == N, "checkpoint stored with the data", cp or "")

    run(t, db, "upsert", "in.jsonl", "ups", "upsert")
    rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % db.t("ups"))
    st.assert_eq(rows[0], [str(N), str(N)], "upsert: count, distinct")

    run(t, db, "dups", "dup.jsonl", "ups", "upsert")
    rows = db.sql("SELECT count(*), count(*) FILTER (WHERE name = 'dup') FROM %s" % db.t("ups"))
    st.assert_eq(rows[0], [str(N), str(DUP_KEYS)], "after duplicates: rows, rows updated")
    want = {}
    for j in range(1, DUP_ROWS + 1):
        want[j % DUP_KEYS + 1] = j
    got = {int(i): int(v) for i, v in db.sql("SELECT id, v FROM %s WHERE name = 'dup'" % db.t("ups"))}
    wrong = [(k, got.get(k), v) for k, v in sorted(want.items()) if got.get(k) != v]
    st.assert_eq(wrong[:5], [], "keys whose last record did not win (id, got, want)")


st.main(test)
