"""pg.sink when the dead letters of its bad rows are lost: the dead-letter
sink (a file.sink) fails for good: its writes fail with EFBIG, which no
retry heals (libfiu fault point io/file.sink.write).  pg.sink waits for those dead letters before it
commits the rows and its position; it must hear that they were lost
(sl_sink_batch_lost), roll back and fail its group, so the pipeline stops
with a clear error instead of waiting forever, and stores no position past
the lost dead letters.  A run without the faults then delivers every good
row exactly once and every bad row to the dead-letter file.  Found by the
simulation (tests/faults/sim, seed 17)."""

import json

import pgtest
import sluicetest as st

N = 2000
BAD = {150, 1200}   # age "abc": 22P02

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 256,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert", key = { "id" } } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    db = pgtest.Db("sink_dlq_lost")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, N + 1):
            f.write(json.dumps({"id": i, "age": "abc" if i in BAD else i % 90}) + "\n")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, age int)" % db.t("people"))
    db.write_pipeline(t, PIPELINE, name=db.schema, table="people")

    env = st.fiu_env(["sluice/io/file.sink.write"], errno_value=27)   # EFBIG
    run = t.start(env=env)
    code = run.wait(60)   # before the fix: never ends (pg.sink waits forever)
    st.assert_eq(code, 1, "exit code when the dead letters are lost")
    err = run.stderr_text()
    st.assert_true("dead letters of its bad rows were lost" in err,
                   "pg.sink says why it failed its transaction", err[-1500:])
    rows_after_failure = int(db.one("SELECT count(*) FROM %s WHERE id >= 150" % db.t("people")))
    st.assert_eq(rows_after_failure, 0, "rows at or after the first bad one committed by the failed run")

    run = t.start()
    st.assert_eq(run.wait(60), 0, "exit code of the run without faults")
    got = int(db.one("SELECT count(*) FROM %s" % db.t("people")))
    distinct = int(db.one("SELECT count(DISTINCT id) FROM %s" % db.t("people")))
    st.assert_eq((got, distinct), (N - len(BAD), N - len(BAD)), "(rows, distinct ids) in the table")
    records, torn = st.read_jsonl(t.path("dlq.jsonl"))
    st.assert_no_torn(torn, "dlq.jsonl")
    st.assert_eq(sorted(r["record"]["id"] for r in records), sorted(BAD), "dead-lettered ids")


if __name__ == "__main__":
    st.main(test)
