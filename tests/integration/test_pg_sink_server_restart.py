"""pg.sink while the server goes away: `scripts/pg restart-server` (an
immediate, crash-like stop, then a start) in the middle of a run.  The sink
keeps its batches, the sources pause on the in-flight bound, the sink
reconnects with backoff and carries on: the table holds every record
exactly once (insert mode, no unique key, so a duplicate would show), and
the run ends normally.  A COMMIT whose answer was lost is resolved by
comparing the stored checkpoint."""


import pgtest
import sluicetest as st

N = 300_000


def test(t):
    if not pgtest.own_server():
        st.log("SLUICE_PG_DSN names another server: not restarting it; skipped")
        return
    db = pgtest.Db("sink_restart")
    try:
        body(t, db)
    finally:
        db.drop()


def attempt(t, db, busy):
    db.sql("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint, name text, dept text, pad text)"
           % (db.t("r"), db.t("r")))
    db.forget_checkpoint()
    db.write_pipeline(t, pgtest.FILE_TO_PG, table="r", busy=busy,
                      sink_options=', retry_max = "1s"')
    run = t.start()
    try:
        st.wait_until(lambda: db.count("r") >= N // 4, 120, "a quarter of the rows",
                      interval=0.05, abort=run.exited)
    except st.Failure:
        if run.exit_code() == 0:
            raise st.TooFast()
        raise
    pgtest.restart_server()
    if run.exit_code() == 0:
        raise st.TooFast()
    return run


def body(t, db):
    st.gen_records(t.path("in.jsonl"), N, line_bytes=120)
    for busy in (3000, 20000, 60000):
        try:
            run = attempt(t, db, busy)
            break
        except st.TooFast:
            st.log("sluice finished before the server restarted; retrying with a slower step")
    else:
        st.fail("could not restart the server mid-run")
    code = run.wait(180)
    st.assert_eq(code, 0, "exit code after the server restart")
    st.check_no_dlq(t)
    log = run.stderr_text()
    for line in log.splitlines():
        if "pg.sink" in line and ("retrying" in line or "COMMIT" in line or "connected" in line):
            st.log("sluice: " + line[:300])
    st.assert_true("retrying in" in log, "the sink logged its retries", log[-2000:])
    st.assert_true("password=sluice" not in log, "no password in the log")
    rows = db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % db.t("r"))
    st.assert_eq(rows[0], [str(N), str(N), "1", str(N)], "count, distinct ids, min, max")


st.main(test)
