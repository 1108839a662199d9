"""A pg.cdc checkpoint that cannot be used stops the start, as pg.source's
does (test_checkpoint_corrupt_pg): exit 3, a message naming where the
checkpoint is, what is wrong and how to recover, nothing read and the slot
not moved.  Both places the position can be: the state file (a file sink)
and the row a pg.sink keeps in sluice.checkpoints, edited by hand; and a
position the slot cannot serve (past the server's WAL, a slot dropped).
--reset-checkpoint takes the snapshot again."""

import json
import os
import signal

import pgtest
import sluicetest as st

ROWS = 20

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.pg.cdc { dsn = %(dsn)s, slot = %(slot)s, publication = %(slot)s,
                          status_interval = "100ms", name = "cdc" } },
  steps = { %(steps)s },
  sinks = { %(sink)s },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""
FILE_SINK = 'sl.file.sink { path = "out.jsonl" }'
PG_SINK = ('sl.pg.sink { dsn = %s, table = %s, mode = "upsert", key = "id", columns = { "id" }, '
           'name = "target" }')

SHAPE = 'not {"lsn": "X/Y"} nor {"snapshot": "X/Y"}'
CASES = [
    ("garbage", "not JSON {", "it is not JSON ("),
    ("a truncated file", '{"lsn":"0/16B', "it is not JSON ("),
    ("an empty file", "", "it is empty"),
    ("bytes after the object", '{"lsn":"0/16B3748"}xyz', "it is not JSON ("),
    ("an empty object", "{}", "it holds {}, " + SHAPE),
    ("an array", '["0/16B3748"]', 'it holds ["0/16B3748"], ' + SHAPE),
    ("a member too many", '{"lsn":"0/16B3748","from":"me"}',
     'it holds {"lsn":"0/16B3748","from":"me"}, ' + SHAPE),
    ("a number for the LSN", '{"lsn": 23803720}', '"lsn" must be a string "X/Y", got int'),
    ("an LSN that is no LSN", '{"lsn": "16B3748"}', '"lsn" is "16B3748", not a position X/Y'),
    ("an LSN with a sign", '{"lsn": "+0/16B3748"}', '"lsn" is "+0/16B3748", not a position X/Y'),
    ("a piece that is no number", '{"lsn": "0/16B3748", "piece": "2"}',
     '"piece" must be a whole number >= 1, got string'),
    ("a piece of 0", '{"lsn": "0/16B3748", "piece": 0}', '"piece" must be a whole number >= 1, got a smaller one'),
    ("a piece beside a snapshot", '{"snapshot": "0/16B3748", "piece": 1}',
     'it holds {"snapshot": "0/16B3748", "piece": 1}, ' + SHAPE),
    ("an LSN past the server's WAL", '{"lsn": "FFFF/0"}',
     "it is at FFFF/0, past the end of the server's WAL ("),
]


def lines(t):
    return st.count_lines(t.path("out.jsonl")) if os.path.exists(t.path("out.jsonl")) else 0


def body(t, db, slot):
    ev = db.t("ev")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY); CREATE PUBLICATION %s FOR TABLE %s" % (ev, slot, ev))
    db.write_pipeline(t, PIPELINE, slot=pgtest.lua_str(slot), sink=FILE_SINK, steps="")
    run = t.start(args=["--log-format", "text"])
    st.wait_until(lambda: "streaming changes" in run.stderr_text(), 30, "the stream to start",
                  abort=run.exited)
    db.sql("INSERT INTO %s SELECT generate_series(1, %d)" % (ev, ROWS))
    cp_path = t.path("state", db.schema, "cdc.json")
    st.wait_until(lambda: lines(t) >= ROWS and os.path.exists(cp_path), 30, "%d changes read" % ROWS,
                  abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    good = json.load(open(cp_path))
    st.assert_eq(sorted(good), ["lsn"], "the checkpoint after the first run")
    confirmed_q = "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'" % slot
    confirmed = db.one(confirmed_q)

    # 1. The state file, edited; a change waits, which nothing may read.
    db.sql("INSERT INTO %s VALUES (%d)" % (ev, ROWS + 1))
    st.check_refusals(t, cp_path, CASES, "cdc", lambda: (lines(t), db.one(confirmed_q)))
    st.assert_eq(db.one(confirmed_q), confirmed, "the slot's confirmed_flush_lsn after the refusals")

    # 2. A good checkpoint whose slot was dropped: the changes since are gone.
    with open(cp_path, "w") as f:
        json.dump(good, f)
    db.sql("SELECT pg_drop_replication_slot('%s')" % slot)
    st.assert_refused(t, "its slot dropped", cp_path, "it is at %s, but replication slot %s is gone"
                      % (good["lsn"], slot), "cdc")
    st.assert_eq(lines(t), ROWS, "changes read after a refused start (slot dropped)")

    # --reset-checkpoint: the file goes aside, a new slot, the snapshot again.
    r = t.start(args=["--log-format", "text", "--reset-checkpoint", "cdc"])
    st.wait_until(lambda: lines(t) >= 2 * ROWS + 1, 30, "the snapshot taken again", abort=r.exited)
    r.signal(signal.SIGTERM)
    st.assert_eq(r.wait(30), 0, "exit code of the --reset-checkpoint run")
    records, _ = st.read_jsonl(t.path("out.jsonl"))
    st.assert_eq(sorted(x["after"]["id"] for x in records[ROWS:] if x["op"] == "r"),
                 list(range(1, ROWS + 2)), "the snapshot after the reset")
    st.assert_true(os.path.exists(cp_path + ".before-reset"), "the old checkpoint is kept aside",
                   sorted(os.listdir(os.path.dirname(cp_path))))

    # 3. The checkpoint a pg.sink keeps beside the rows, edited by hand (a
    # pipeline of another name: no state file of its own).
    name = db.schema + "_pg"
    target = db.t("target")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY)" % target)
    db.sql("SELECT pg_drop_replication_slot('%s')" % slot)
    db.write_pipeline(t, PIPELINE, name=name, slot=pgtest.lua_str(slot),
                      sink=PG_SINK % (pgtest.lua_str(db.dsn), pgtest.lua_str(target)),
                      steps="function (rec) return rec.after end")
    r = t.start(args=["--log-format", "text"])
    st.wait_until(lambda: "streaming changes" in r.stderr_text(), 30, "the stream to start",
                  abort=r.exited)
    db.sql("INSERT INTO %s VALUES (%d)" % (ev, ROWS + 2))
    st.wait_until(lambda: '"lsn"' in (db.checkpoint(name, "cdc") or ""), 30,
                  "the sink's stream checkpoint", abort=r.exited)
    r.signal(signal.SIGTERM)
    st.assert_eq(r.wait(30), 0, "exit code of the pg.sink run")
    rows = db.count("target")
    bad = '{"lsn": "0/0/0"}'
    db.sql("UPDATE sluice.checkpoints SET checkpoint = '%s' WHERE pipeline = '%s' AND source = 'cdc'"
           % (bad, name))
    db.sql("INSERT INTO %s VALUES (%d)" % (ev, ROWS + 3))
    st.assert_refused(t, "an edited row in sluice.checkpoints", "the checkpoint stored by target",
                      '"lsn" is "0/0/0", not a position X/Y', "cdc")
    st.assert_eq(db.checkpoint(name, "cdc"), bad, "the stored checkpoint after a refused start")
    st.assert_eq(db.count("target"), rows, "rows in the target after a refused start")
    db.sql("DELETE FROM sluice.checkpoints WHERE pipeline = '%s'" % name)


st.main(pgtest.with_replication("cpcorrupt_cdc", body))
