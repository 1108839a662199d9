"""pg.sink when the connection dies during COMMIT: the outcome is unknown to
the sink, which on reconnect compares the checkpoint stored in
sluice.checkpoints with the transaction's; here the COMMIT did not happen
(its backend was terminated while a deferred trigger held it), so the rows
are written again, and the table ends with every record exactly once.
The same with one sink writing two tables (tables = { ... }): both commit
or neither, and the check settles the transaction of both."""


import pgtest
import sluicetest as st

N = 50_000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, retry_max = "500ms" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

# Each record to lc and, with only its id, to lc_b: one sink, two tables.
TWO_TABLES = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  steps = { function (rec) rec.t = "a"; return { rec, { t = "b", id = rec.id } } end },
  sinks = { sl.pg.sink { dsn = %(dsn)s, route = "t", retry_max = "500ms", tables = {
    { route = "a", table = %(table)s, columns = { "id", "name", "dept", "pad" } },
    { route = "b", table = %(table_b)s } } } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    db = pgtest.Db("sink_lost_commit")
    try:
        body(t, db, two=False)
        db.sql("DROP TABLE %s, %s; DROP FUNCTION %s.hold()"
               % (db.t("lc"), db.t("hold"), db.schema))
        body(t, db, two=True)
    finally:
        db.drop()


def body(t, db, two):
    tab, flag = db.t("lc"), db.t("hold")
    db.sql("CREATE TABLE %s (id bigint, name text, dept text, pad text)" % tab)
    db.sql("CREATE TABLE IF NOT EXISTS %s (id bigint)" % db.t("lc_b"))
    db.sql("CREATE TABLE %s (x int); INSERT INTO %s VALUES (1)" % (flag, flag))
    # The first COMMIT waits in a deferred trigger while the hold table has a row.
    db.sql("""CREATE FUNCTION %(s)s.hold() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                IF EXISTS (SELECT 1 FROM %(flag)s)
                   AND current_setting('sluice_test.held', true) IS DISTINCT FROM 'y' THEN
                  PERFORM set_config('sluice_test.held', 'y', true);
                  PERFORM pg_sleep(60);
                END IF;
                RETURN NULL;
              END $$""" % {"s": db.schema, "flag": flag})
    db.sql("CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON %s DEFERRABLE INITIALLY DEFERRED "
           "FOR EACH ROW EXECUTE FUNCTION %s.hold()" % (tab, db.schema))
    st.gen_records(t.path("in.jsonl"), N, line_bytes=100)
    if two:
        db.write_pipeline(t, TWO_TABLES, name=db.schema + "_two", table="lc",
                          table_b=pgtest.lua_str(db.t("lc_b")))
    else:
        db.write_pipeline(t, PIPELINE, table="lc")
    run = t.start()
    q = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice/pg.sink.1' "
         "AND state = 'active' AND query = 'COMMIT' AND datname = current_database()")
    pid = st.wait_until(lambda: db.one(q), 30, "a COMMIT held by the trigger", interval=0.05,
                        abort=run.exited)
    db.sql("DELETE FROM %s" % flag)
    db.sql("SELECT pg_terminate_backend(%s)" % pid)
    st.log("terminated backend %s during COMMIT" % pid)
    st.assert_eq(run.wait(60), 0, "exit code")
    log = run.stderr_text()
    st.assert_true("the last COMMIT's outcome is unknown" in log, "the sink saw an unknown COMMIT",
                   log[-1500:])
    st.assert_true("did not commit; writing its" in log, "the sink found it did not commit",
                   log[-1500:])
    rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % tab)
    st.assert_eq(rows[0], [str(N), str(N)], "count and distinct ids")
    if two:
        rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % db.t("lc_b"))
        st.assert_eq(rows[0], [str(N), str(N)], "the second table: count and distinct ids")
    st.check_no_dlq(t)


st.main(test)
