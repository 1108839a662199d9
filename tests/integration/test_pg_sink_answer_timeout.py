"""pg.sink and a connection that stops moving without being reset: a
server that hung, or a network path (a proxy, a firewall) that holds the
connection open.  Keepalives cannot see it when something in between
answers for the server, so before answer_timeout the sink waited for ever.

The sink reaches the server through a fault proxy (tests/faults/
faultproxy.py).  Mid-run the proxy goes "halfopen": the connection the
sink holds never moves a byte again, and new ones pass.  With
answer_timeout = "2s" the sink gives the connection up, reconnects, ends
the old session (the server still runs it, and its open transaction holds
the checkpoint row's lock) and goes on: every row exactly once (insert
mode, no unique key), exit 0."""

import pgtest
import sluicetest as st

N = 60_000


def body(t, db, proxy, dsn):
    db.sql("CREATE TABLE %s (id bigint, name text, dept text, pad text)" % db.t("r"))
    st.gen_records(t.path("in.jsonl"), N, line_bytes=120)
    st.write_pipeline(t.dir, pgtest.FILE_TO_PG % {
        "name": pgtest.lua_str(db.schema), "dsn": pgtest.lua_str(dsn),
        "table": pgtest.lua_str(db.t("r")), "busy": 3000,
        "sink_options": ', retry_max = "1s", answer_timeout = "2s"'})
    run = t.start()
    st.wait_until(lambda: db.count("r") >= N // 4, 120, "a quarter of the rows", interval=0.05,
                  abort=run.exited)
    proxy.set_mode("halfopen")
    # Once a chunk is held, the sink's connection is stuck in a command.
    pgtest.leave_halfopen(proxy, run, "a chunk")
    st.assert_eq(run.wait(120), 0, "exit code")
    run.log_lines("answer_timeout", "previous session", "connected")
    log = run.stderr_text()
    st.assert_true("no answer from the server for 2000 ms (answer_timeout)" in log,
                   "the sink gave the stuck connection up", log[-2000:])
    # The server still ran the stuck session, whose open transaction held
    # the checkpoint row: without ending it, every new transaction waited
    # on that lock until answer_timeout, for ever.
    st.assert_true("ended the previous session" in log,
                   "the sink ended the session the server still ran", log[-2000:])
    st.check_no_dlq(t)
    rows = db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % db.t("r"))
    st.assert_eq(rows[0], [str(N), str(N), "1", str(N)], "count, distinct ids, min, max")


st.main(pgtest.with_proxy("answer_timeout", body))
