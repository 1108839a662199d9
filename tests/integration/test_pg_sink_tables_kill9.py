"""file.source -> a busy step -> a fan-out step -> ONE pg.sink writing three
tables (tables = { ... }, route = "t"), kill -9 mid-run three times, then a run to
the end.

Every input record makes a row of table a (insert, no unique key: a replay
would show as a duplicate), a row of table b (upsert on id) and an update of
table c (upsert on dept, newer_by last_id: the last id of each dept); the
record itself has no `t` and is ignored (others = "ignore").  The three
tables and the source's position commit in one transaction, so at every
kill point, before the restart, the tables agree with one another and with
the stored checkpoint: a holds ids 1..n once each, b the same ids, c the
greatest id of each dept among them, and n is the checkpoint's line.  After
the final run every table holds exactly the expected rows."""

import json

import pgtest
import sluicetest as st

N = 300_000
KILLS = 3

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  max_inflight_records = 20000,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  steps = {
    """ + pgtest.BUSY_STEP + """,
    function (rec)
      return { { t = "a", id = rec.id, name = rec.name },
               { t = "b", id = rec.id, dept = rec.dept },
               { t = "c", dept = rec.dept, last_id = rec.id },
               rec }
    end,
  },
  sinks = { sl.pg.sink { dsn = %(dsn)s, route = "t", others = "ignore",
    tables = {
      { route = "a", table = %(a)s, mode = "insert", columns = { "id", "name" } },
      { route = "b", table = %(b)s, mode = "upsert", key = "id" },
      { route = "c", table = %(c)s, mode = "upsert", key = "dept", newer_by = "last_id" },
    } } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    db = pgtest.Db("sink_tables_kill9")
    try:
        body(t, db)
    finally:
        db.drop()


def consistent(db, what):
    """The three tables agree with one another and with the checkpoint."""
    a = db.sql("SELECT count(*), count(DISTINCT id), coalesce(max(id), 0) FROM %s" % db.t("a"))[0]
    st.assert_eq(a[0], a[1], "%s: rows of a and distinct ids (none doubled)" % what)
    st.assert_eq(a[0], a[2], "%s: rows of a and its greatest id (ids 1..n, none lost)" % what)
    only_one = db.one("SELECT count(*) FROM %s FULL JOIN %s b USING (id) "
                      "WHERE a.id IS NULL OR b.id IS NULL" % (db.t("a") + " a", db.t("b")))
    st.assert_eq(only_one, "0", "%s: ids in a but not in b, or in b but not in a" % what)
    c_wrong = db.one("SELECT count(*) FROM (SELECT dept, max(id) AS m FROM %s GROUP BY dept) x "
                     "FULL JOIN %s c USING (dept) WHERE x.m IS DISTINCT FROM c.last_id"
                     % (db.t("b"), db.t("c")))
    st.assert_eq(c_wrong, "0", "%s: depts of c whose last_id is not b's greatest id" % what)
    cp = db.checkpoint(source="src")
    line = json.loads(cp)["line"] if cp else 0
    st.assert_eq(line, int(a[0]), "%s: the checkpoint's line and the rows of a" % what)
    return int(a[0])


def killed_runs(t, db, busy):
    db.sql("DROP TABLE IF EXISTS {a}, {b}, {c}; "
           "CREATE TABLE {a} (id bigint, name text); "
           "CREATE TABLE {b} (id bigint PRIMARY KEY, dept text); "
           "CREATE TABLE {c} (dept text PRIMARY KEY, last_id bigint)"
           .format(a=db.t("a"), b=db.t("b"), c=db.t("c")))
    db.forget_checkpoint()
    db.write_pipeline(t, PIPELINE, busy=busy, a=pgtest.lua_str(db.t("a")),
                      b=pgtest.lua_str(db.t("b")), c=pgtest.lua_str(db.t("c")))
    for kill in range(1, KILLS + 1):
        target = N * kill // (KILLS + 1)
        pgtest.start_and_kill(t, lambda: db.count("a"), target)
        n = consistent(db, "kill %d" % kill)
        st.log("kill %d: %d records in the three tables, consistent" % (kill, n))


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
    st.assert_eq(consistent(db, "the end"), N, "records in the tables at the end")
    st.assert_eq(db.count("b"), N, "rows of b")
    last = {}
    for i in range(1, N + 1):
        last[st.DEPTS[(i // 256) % 8]] = i
    rows = db.sql("SELECT dept, last_id FROM %s ORDER BY dept" % db.t("c"))
    st.assert_eq(rows, [[d, str(last[d])] for d in sorted(last)], "c: the last id of each dept")
    names = db.one("SELECT count(*) FROM %s WHERE name IS NULL" % db.t("a"))
    st.assert_eq(names, "0", "rows of a without their name")


st.main(test)
