"""pg.cdc: the initial snapshot, then inserts, updates and deletes in commit
order with before and after images; a truncate; typed values; and the
heartbeat: with nothing to capture (WAL written only by a table outside the
publication), the slot's confirmed_flush_lsn still moves on; the lag on
/metrics (sluice_pg_cdc_lag_bytes) comes down to 0."""

import json
import signal

import pgtest
import sluicetest as st

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.pg.cdc { dsn = %(dsn)s, slot = %(slot)s, publication = %(pub)s,
                          status_interval = "200ms", name = "cdc" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    db = pgtest.Db("cdc")
    slot = db.schema
    try:
        body(t, db, slot)
    finally:
        db.drop_replication(slot)
        db.drop()


def body(t, db, slot):
    a, b, other = db.t("a"), db.t("b"), db.t("other")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, name text, n bigint, ok bool, doc jsonb, "
           "at timestamptz)" % a)
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, v text)" % b)
    db.sql("ALTER TABLE %s REPLICA IDENTITY FULL" % b)
    db.sql("CREATE TABLE %s (id serial PRIMARY KEY, pad text)" % other)
    db.sql("INSERT INTO %s SELECT g, 'n' || g, g * 10, true, '{\"x\": [1, 2]}', "
           "'2026-01-02 03:04:05+08' FROM generate_series(1, 300) g" % a)
    db.sql("INSERT INTO %s VALUES (1, 'one'), (2, 'two')" % b)
    db.sql("CREATE PUBLICATION %s FOR TABLE %s, %s" % (slot, a, b))
    db.write_pipeline(t, PIPELINE, slot=pgtest.lua_str(slot), pub=pgtest.lua_str(slot))
    out = st.LineCounter(t.path("out.jsonl"))
    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    st.wait_until(lambda: out.count() >= 302, 30, "the snapshot", abort=run.exited)

    db.sql("INSERT INTO %s (id, name) VALUES (1001, 'new')" % a)
    db.sql("UPDATE %s SET name = 'changed' WHERE id = 1001" % a)
    db.sql("UPDATE %s SET id = 1002 WHERE id = 1001" % a)      # a key change: before = old key
    db.sql("DELETE FROM %s WHERE id = 1002" % a)
    db.sql("UPDATE %s SET v = 'uno' WHERE id = 1" % b)          # REPLICA IDENTITY FULL: whole before
    db.sql("BEGIN; INSERT INTO %s VALUES (3, 'three'); DELETE FROM %s WHERE id = 2; COMMIT" % (b, b))
    db.sql("TRUNCATE %s" % b)
    st.wait_until(lambda: out.count() >= 302 + 8, 30, "8 changes", abort=run.exited)

    # Heartbeat: WAL only outside the publication, then the slot must move past it.
    db.sql("INSERT INTO %s (pad) SELECT repeat('x', 100) FROM generate_series(1, 1000)" % other)
    target = db.one("SELECT pg_current_wal_lsn()")
    st.wait_until(lambda: db.one("SELECT confirmed_flush_lsn >= '%s' FROM pg_replication_slots "
                                 "WHERE slot_name = '%s'" % (target, slot)) == "t",
                  30, "confirmed_flush_lsn to pass %s while idle" % target, interval=0.1,
                  abort=run.exited)
    # Caught up: the lag on /metrics comes down to 0 and the changes are counted.
    url = "http://127.0.0.1:%d/metrics" % port
    series = 'sluice_pg_cdc_%%s{pipeline="%s",stage="cdc"' % db.schema
    st.wait_until(lambda: st.metric_value(st.http_get(url)[1], series % "lag_bytes") == 0, 30,
                  "lag_bytes 0 on /metrics", interval=0.1, abort=run.exited)
    metrics = st.http_get(url)[1]
    st.assert_eq(st.metric_value(metrics, series % "changes_total"), 8, "changes on /metrics")
    st.assert_eq(st.metric_value(metrics, series % "lag_milliseconds"), 0, "lag in ms when caught up")
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    snap = records[:302]
    st.assert_eq(sorted((r["op"], r["table"]) for r in snap)[0], ("r", a), "snapshot records")
    st.assert_eq(sorted(r["after"]["id"] for r in snap if r["table"] == a), list(range(1, 301)),
                 "snapshot of a")
    first = [r for r in snap if r["table"] == a and r["after"]["id"] == 7][0]["after"]
    st.assert_eq(first, {"id": 7, "name": "n7", "n": 70, "ok": True, "doc": {"x": [1, 2]},
                         "at": "2026-01-01T19:04:05+00:00"}, "typed snapshot row")
    changes = [{k: r.get(k) for k in ("op", "table", "before", "after")} for r in records[302:]]
    want = [
        {"op": "c", "table": a, "before": None,
         "after": {"id": 1001, "name": "new", "n": None, "ok": None, "doc": None, "at": None}},
        {"op": "u", "table": a, "before": None,
         "after": {"id": 1001, "name": "changed", "n": None, "ok": None, "doc": None, "at": None}},
        {"op": "u", "table": a, "before": {"id": 1001},
         "after": {"id": 1002, "name": "changed", "n": None, "ok": None, "doc": None, "at": None}},
        {"op": "d", "table": a, "before": {"id": 1002}, "after": None},
        {"op": "u", "table": b, "before": {"id": 1, "v": "one"}, "after": {"id": 1, "v": "uno"}},
        {"op": "c", "table": b, "before": None, "after": {"id": 3, "v": "three"}},
        {"op": "d", "table": b, "before": {"id": 2, "v": "two"}, "after": None},
        {"op": "t", "table": b, "before": None, "after": None},
    ]
    st.assert_eq(changes, want, "changes in commit order")
    lsns = [r["lsn"] for r in records[302:]]
    as_int = [int(x.split("/")[0], 16) << 32 | int(x.split("/")[1], 16) for x in lsns]
    st.assert_eq(as_int, sorted(as_int), "commit LSNs grow")
    st.assert_true(all(r["commit_time"].endswith("Z") for r in records[302:]), "commit times in UTC")
    st.check_no_dlq(t)


st.main(test)
