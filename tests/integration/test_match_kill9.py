"""kill -9 of a matching pipeline, then restarts: the platform tables end
equal to those of an uninterrupted run (issue 11, item 4).

Residents of several departments (tests/match/gen.py, with its corruption,
namesakes and updates) are produced to one Kafka partition, so every run
reads them in the same order, each with the message's timestamp as its
time.  The pipeline is kafka.source -> sl.match (restoring from the
platform tables at start) -> platform.sinks: one pg.sink writing the five
tables in one transaction with the source's offsets, the pipeline's only
sink, so a restart resumes exactly where the tables are.

Run A goes through without a stop; run B, into a fresh schema of the same
name, is killed with SIGKILL twice mid-stream (each time once more members
are durable) and restarted.  Every row of members, entities (golden values,
provenance, versions), changelog (stable event ids), reviews and decisions
must be the same, and every record a member."""

import json
import os
import shutil
import subprocess
import sys

import kafkatest as kt
import pgtest
import sluicetest as st

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "match", "gen.py")
N = 12000

PIPELINE = """local sl = require "sluice"
local platform = require "sluice.platform"
%(pacer)sreturn sl.pipeline {
  name = %(name)s,
  batch_size = 250,   -- small batches, small transactions: many points for the kills
  sources = { sl.kafka.source { brokers = %(b)s, topics = { %(topic)s }, group = %(group)s,
                                librdkafka = %(fast)s } },
  steps = {
    function (rec) pace() return rec end,
    sl.match { domain = %(domain)s, preset = "person", model = "model.json", platform = %(dsn)s,
               identity = { dept = "department", feed = "feed", id = "src_id" } },
  },
  -- Small transactions: many commit points for the kills to fall between.
  sinks = platform.sinks { conninfo = %(dsn)s, domain = %(domain)s, transaction_rows = 500 },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

TABLES = {"members": "dept, feed, src_id", "entities": "entity_id", "changelog": "event_id",
          "reviews": "review_id", "decisions": "decision_id"}


def snapshot(db):
    return {table: db.sql("SELECT to_jsonb(x)::text FROM %s.%s x ORDER BY %s" % (db.schema, table, key))
            for table, key in TABLES.items()}


def members(db):
    """Member rows so far (0 until the pipeline has created the table)."""
    if db.one("SELECT to_regclass('%s.members') IS NULL" % db.schema) == "t":
        return 0
    return int(db.one("SELECT count(*) FROM %s.members" % db.schema) or 0)


def run_once(t, db, label, expected, kills):
    """Runs the pipeline (state in state-<label>, consumer group of its
    own) until every record is a member; before that, SIGKILL once the
    members reach each count in kills, and start again."""
    for i, at in enumerate(kills + [expected]):
        r = t.start(state_dir=t.path("state-" + label))
        st.wait_until(lambda: members(db) >= at, 240,
                      "%d members (run %s, start %d)" % (at, label, i + 1), interval=0.05,
                      abort=r.exited)
        if at < expected:
            r.signal(9)
            r.wait(30)
            st.log("run %s: killed with %d of %d members durable" % (label, members(db), expected))
            if members(db) >= expected:
                raise st.TooFast()   # the kill came after the end: again, slower
    r.signal(15)
    st.assert_eq(r.wait(60), 0, "exit code of run %s after SIGTERM" % label)


def test(t):
    b = kt.bootstrap()
    db = pgtest.Db("match_kill9")
    try:
        body(t, b, db)
    finally:
        db.drop()


def body(t, b, db):
    for per_second in (1500, 500, 150):
        try:
            return attempt(t, b, db, per_second)
        except st.TooFast:
            st.log("a kill came after the last record (paced at %d records/s a worker): again, slower"
                   % per_second)
            db.sql("DROP SCHEMA %s CASCADE; CREATE SCHEMA %s; DELETE FROM sluice.checkpoints WHERE pipeline = '%s'"
                   % (db.schema, db.schema, db.schema))
    st.fail("every kill came after the last record, even at 150 records/s a worker")


def attempt(t, b, db, per_second):
    data = t.path("residents.jsonl")
    subprocess.run([sys.executable, GEN, "residents", str(N), data, "--seed", "424"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(data) as f:
        recs = [json.loads(line) for line in f]
    expected = len({(r["department"], r["feed"], r["src_id"]) for r in recs})
    topic = kt.unique("match-kill9")
    # One partition's order: every run reads the records in the same order.
    kt.produce_file(b, topic, data, extra=("-p", "0"))

    names = {"b": pgtest.lua_str(b), "topic": pgtest.lua_str(topic), "domain": pgtest.lua_str(db.schema),
             "fast": kt.lua_table(kt.FAST_GROUP),
             # Paced (per worker), so that the kills certainly come mid-stream.
             "pacer": kt.pacer(per_second)}
    # The model: trained on the data itself, as an operator would.
    db.write_pipeline(t, PIPELINE, group=pgtest.lua_str(kt.unique("match-train")), **names)
    tr = subprocess.run([t.sluice, "train", "pipeline.lua", data, "--out", "model.json", "--seed", "1"],
                        cwd=t.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    st.assert_eq(tr.returncode, 0, "sluice train's exit code (%s)" % tr.stderr[-800:])

    db.write_pipeline(t, PIPELINE, group=pgtest.lua_str(kt.unique("match-a")), **names)
    run_once(t, db, "a", expected, [])
    a = snapshot(db)
    db.sql("DROP SCHEMA %s CASCADE; CREATE SCHEMA %s; DELETE FROM sluice.checkpoints WHERE pipeline = '%s'"
           % (db.schema, db.schema, db.schema))

    db.write_pipeline(t, PIPELINE, group=pgtest.lua_str(kt.unique("match-b")), **names)
    run_once(t, db, "b", expected, [expected // 4, expected * 3 // 5])
    bb = snapshot(db)
    st.assert_eq(len(a["members"]), expected, "members of the uninterrupted run")
    for table in TABLES:
        if a[table] != bb[table]:
            only_a = sorted(set(map(tuple, a[table])) - set(map(tuple, bb[table])))
            only_b = sorted(set(map(tuple, bb[table])) - set(map(tuple, a[table])))
            st.fail("%s: %d rows uninterrupted, %d after kill -9; %d only in the first, e.g. %s; "
                    "%d only after the kills, e.g. %s"
                    % (table, len(a[table]), len(bb[table]), len(only_a), only_a[:2], len(only_b), only_b[:2]))
        st.log("%s: %d rows, equal" % (table, len(a[table])))
    dlq = t.path("dlq.jsonl")
    st.assert_eq(st.count_lines(dlq) if os.path.exists(dlq) else 0, 0, "dead letters")


if __name__ == "__main__":
    st.main(test)
