"""sl.quality restarted in the middle of its windows, by kill -9, twice: the
closed windows' counters and scores in quality.feed_scores are exactly
those of a run that was never interrupted (no count lost, none doubled).

Two runs over the same input, each into a history schema of its own: one
uninterrupted; one killed twice mid-run and then run to the end, restoring
its open windows from quality.feed_deltas and skipping what the marks say
it counted.  The input has three feeds over several days, records out of
order within the lateness and after it (late), duplicate keys, missing
fields and dead letters."""

import json
import random

import pgtest
import sluicetest as st

N = 40_000
KILLS = 2

CATALOG = """local sl = require "sluice"
return sl.catalog {
  timezone = "+08:00",
  departments = {
    sl.department { id = "health", name = "卫健委", feeds = {
      sl.feed { name = "births", key = "src_id", time = "reported_at",
                fields = { src_id = { type = "string", required = true }, reported_at = "timestamp",
                           births = "int", district = { type = "string", rule = { "trim", "nfkc" } } } },
      sl.feed { name = "clinics", key = "src_id", time = "reported_at",
                fields = { src_id = { type = "string", required = true }, reported_at = "timestamp",
                           district = "string" } } } },
    sl.department { id = "tax", name = "税务局", feeds = {
      sl.feed { name = "payers", key = "src_id", time = "reported_at",
                fields = { src_id = { type = "string", required = true }, reported_at = "timestamp",
                           uscc = { type = "string", rule = "uscc" } } } } },
  },
}
"""

PIPELINE = """local sl = require "sluice"
local quality = require "sluice.quality"
local catalog = require "catalog"
return sl.pipeline {
  name = %(name)s,
  batch_size = 500,
  max_inflight_records = 5000,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  steps = {
    sl.clean { catalog = catalog },
    %(busy)s,
    sl.quality { catalog = catalog, periods = { "day", "month" }, lateness = "2h",
                 arrival = "arrived_at", platform = %(dsn)s, schema = %(schema)s },
  },
  sinks = {
    quality.sink { conninfo = %(dsn)s, schema = %(schema)s, transaction_rows = 2000 },
    sl.null { where = quality.not_quality },
  },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

FEEDS = [("health", "births"), ("health", "clinics"), ("tax", "payers")]


def iso(ms):
    import datetime
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone(datetime.timedelta(hours=8)))
    return d.isoformat()


def gen_input(path):
    """Records over about 5 days, a minute apart on average, jittered so that
    some come out of order (within and beyond the 2 h lateness)."""
    rnd = random.Random(20261205)
    base = 1_793_808_000_000  # 2026-11-05T00:00:00+08:00
    with open(path, "w") as f:
        for i in range(N):
            dept, feed = FEEDS[i % 3]
            ev = base + i * 10_000 + rnd.choice([0, 0, 0, -600_000, -3_000_000, -9_000_000])
            rec = {"department": dept, "feed": feed, "src_id": "%s-%d" % (feed, rnd.randrange(N // 2)),
                   "reported_at": iso(ev), "arrived_at": iso(ev + rnd.randrange(0, 90_000_000))}
            if feed == "births":
                rec["births"] = rnd.randrange(1, 4) if i % 97 else "many"   # a dead letter
                if i % 5:
                    rec["district"] = " 330106 " if i % 7 == 0 else "330106"
            elif feed == "clinics":
                if i % 3:
                    rec["district"] = "330102"
            else:
                rec["uscc"] = "91350100M000100Y43" if i % 11 else "91350100M000100Y44"
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def busy_step(loops):
    return pgtest.BUSY_STEP % {"busy": loops}


def write(t, db, name, schema, busy):
    st.write_file(t.path("catalog.lua"), CATALOG)
    st.write_file(t.path("pipeline.lua"), PIPELINE % {"name": pgtest.lua_str(name), "dsn": pgtest.lua_str(db.dsn),
                                       "schema": pgtest.lua_str(schema), "busy": busy_step(busy)})


def deltas(db, schema):
    """The delta rows so far; 0 while the sink has not made the table."""
    if db.one("SELECT to_regclass('%s.feed_deltas') IS NULL" % schema) == "t":
        return 0
    return int(db.one("SELECT count(*) FROM %s.feed_deltas" % schema))


def closed_rows(db, schema):
    return db.sql("SELECT period, label, department, feed, records, counts::text, scores::text "
                  "FROM %s.feed_scores WHERE closed ORDER BY 1, 2, 3, 4" % schema)


def body(t, db):
    gen_input(t.path("in.jsonl"))
    a, b = db.schema + "_a", db.schema + "_b"
    try:
        write(t, db, "qa", a, 0)
        run = t.start()
        st.assert_eq(run.wait(300), 0, "exit code of the uninterrupted run")
        expected = closed_rows(db, a)
        st.assert_true(len(expected) >= 10, "closed windows in the uninterrupted run", str(len(expected)))

        for busy in (2000, 20000, 100000):
            db.sql("DROP SCHEMA IF EXISTS %s CASCADE" % b)
            t.reset("state")
            write(t, db, "qb", b, busy)
            try:
                for kill in range(1, KILLS + 1):
                    target = kill * 40
                    pgtest.start_and_kill(t, lambda: deltas(db, b), target)
                    st.log("kill %d: %s delta rows" % (kill, db.one("SELECT count(*) FROM %s.feed_deltas" % b)))
                break
            except st.TooFast:
                st.log("the run ended before it was killed; slower")
        else:
            st.fail("could not kill sluice mid-run")
        run = t.start()
        st.assert_eq(run.wait(300), 0, "exit code of the last run")
        got = closed_rows(db, b)
        st.assert_eq(len(got), len(expected), "closed windows")
        for e, g in zip(expected, got):
            st.assert_eq(g, e, "closed window %s %s %s/%s" % tuple(e[:4]))
    finally:
        db.sql("DROP SCHEMA IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS %s CASCADE" % (a, b))


st.main(pgtest.with_db("quality_restart", body))
