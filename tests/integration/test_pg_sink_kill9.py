"""file.source -> pg.sink, kill -9 mid-run, twice, then a run to the end:
the table holds every record exactly once, in insert mode and with no
unique key on the table (so a replayed record would show as a duplicate).
The rows and the source's checkpoint commit in one transaction, and the
source resumes from the checkpoint stored in sluice.checkpoints."""

import json

import pgtest
import sluicetest as st

N = 300_000
KILLS = 2


def test(t):
    db = pgtest.Db("sink_kill9")
    try:
        body(t, db)
    finally:
        db.drop()


def killed_runs(t, db, busy):
    db.sql("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint, name text, dept text, pad text)"
           % (db.t("k"), db.t("k")))
    db.forget_checkpoint()
    db.write_pipeline(t, pgtest.FILE_TO_PG, table="k", busy=busy, sink_options="")
    for kill in range(1, KILLS + 1):
        target = N * kill // (KILLS + 1)
        pgtest.start_and_kill(t, lambda: db.count("k"), target)
        st.log("kill %d: %d rows in the table; checkpoint %s" % (
            kill, db.count("k"), db.checkpoint()))


def body(t, db):
    st.gen_records(t.path("in.jsonl"), N, line_bytes=120)
    for busy in (300, 3000, 20000):
        try:
            killed_runs(t, db, busy)
            break
        except st.TooFast:
            st.log("sluice finished before it could be killed; retrying with a slower step")
    else:
        st.fail("could not kill sluice mid-run")
    run = t.start()
    st.assert_eq(run.wait(300), 0, "exit code of the final run")
    st.check_no_dlq(t)
    rows = db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % db.t("k"))
    st.assert_eq(rows[0], [str(N), str(N), "1", str(N)], "count, distinct ids, min, max")
    cp = json.loads(db.checkpoint())
    st.assert_eq(cp["line"], N, "the stored checkpoint is at the end of the file")


st.main(test)
