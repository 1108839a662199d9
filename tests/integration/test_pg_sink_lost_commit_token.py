"""pg.sink when the answer to a COMMIT that happened is lost, and the
source keeps no position (generate here; kafka.source alike): the sink
used to have nothing to compare, wrote the rows again and duplicated them.
Now such a transaction also stores a token of its own in
sluice.checkpoints ("#tx#<sink>"), which the check reads back: the rows
are acknowledged without being written again, every one exactly once.

How the answer is lost: the sink reaches the server through a fault proxy
(tests/faults/faultproxy.py); a deferred trigger holds the first COMMIT
while a flag row exists; the proxy goes halfopen, the flag is deleted, the
COMMIT completes and its answer is held by the proxy for ever; the sink's
answer_timeout (10 s: the COMMIT held by the trigger counts
against it too, and the test must release it well before) breaks the
connection."""

import pgtest
import sluicetest as st

N = 20_000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  sources = { sl.generate { count = %(n)d, template = function (seq) return { id = seq } end } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, retry_max = "500ms",
                         answer_timeout = "10s" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def body(t, db, proxy, dsn):
    tab, flag = db.t("r"), db.t("hold")
    db.sql("CREATE TABLE %s (id bigint)" % tab)
    db.sql("CREATE TABLE %s (x int); INSERT INTO %s VALUES (1)" % (flag, flag))
    # The first COMMIT waits in a deferred trigger while the flag row exists.
    db.sql("""CREATE FUNCTION %(s)s.hold() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                IF current_setting('sluice_test.held', true) IS DISTINCT FROM 'y' THEN
                  PERFORM set_config('sluice_test.held', 'y', true);
                  WHILE EXISTS (SELECT 1 FROM %(flag)s) LOOP
                    PERFORM pg_sleep(0.02);
                  END LOOP;
                END IF;
                RETURN NULL;
              END $$""" % {"s": db.schema, "flag": flag})
    db.sql("CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON %s DEFERRABLE INITIALLY DEFERRED "
           "FOR EACH ROW EXECUTE FUNCTION %s.hold()" % (tab, db.schema))
    st.write_pipeline(t.dir, PIPELINE % {"name": pgtest.lua_str(db.schema), "n": N,
                                         "dsn": pgtest.lua_str(dsn),
                                         "table": pgtest.lua_str(tab)})
    run = t.start()
    q = ("SELECT pid FROM pg_stat_activity WHERE application_name = 'sluice/pg.sink.1' "
         "AND state = 'active' AND query = 'COMMIT' AND datname = current_database()")
    st.wait_until(lambda: db.one(q), 30, "a COMMIT held by the trigger", interval=0.05,
                  abort=run.exited)
    proxy.set_mode("halfopen")
    db.sql("DELETE FROM %s" % flag)
    pgtest.leave_halfopen(proxy, run, "the COMMIT's answer")
    st.assert_eq(run.wait(60), 0, "exit code")
    run.log_lines("COMMIT", "answer_timeout")
    log = run.stderr_text()
    st.assert_true("did commit; acknowledging its" in log,
                   "the sink found the transaction committed", log[-1500:])
    rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % tab)
    st.assert_eq(rows[0], [str(N), str(N)], "count and distinct ids")
    st.check_no_dlq(t)


st.main(pgtest.with_proxy("lost_commit_token", body))
