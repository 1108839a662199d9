"""A pg.source checkpoint that cannot be used stops the start, as a file
source's does (test_checkpoint_corrupt): exit 3, a message naming where the
checkpoint is, what is wrong and how to recover, and nothing read.  Both
places a checkpoint can be: the state file (a file sink), and the row a
pg.sink keeps in sluice.checkpoints, edited by hand.  --reset-checkpoint
reads the table again from the start."""

import json
import os
import signal

import pgtest
import sluicetest as st

ROWS = 50

FILE_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.pg.source { dsn = %(dsn)s, table = %(table)s, watermark = "wm",
                             key = "id", every = "50ms", name = "poll" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

PG_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.pg.source { dsn = %(dsn)s, table = %(table)s, watermark = "wm",
                             key = "id", every = "50ms", name = "poll" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(target)s, mode = "upsert", key = "id",
                         name = "target" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

SHAPE = 'not {"watermark": [1 strings], "key": [1 strings]} for this source\'s watermark and key'
CASES = [
    ("garbage", "not JSON {", "it is not JSON ("),
    ("a truncated file", '{"watermark": ["3"], "ke', "it is not JSON ("),
    ("an empty file", "", "it is empty"),
    ("an empty object", "{}", "it holds {}, " + SHAPE),
    ("a number for a position", '{"watermark": [3], "key": ["3"]}', "position 1 must be a string, got int"),
    ("too few positions", '{"watermark": [], "key": ["3"]}', 'it holds {"watermark": [], "key": ["3"]}, ' + SHAPE),
]


def run_until_read(t, db, count, what):
    """Starts the pipeline, waits until count rows were read, stops it."""
    out = st.LineCounter(t.path("out.jsonl"))
    run = t.start(args=["--log-format", "text"])
    st.wait_until(lambda: out.count() >= count if os.path.exists(t.path("out.jsonl")) else False,
                  30, what, abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM (%s)" % what)


def body(t, db):
    tab = db.t("src")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, wm int NOT NULL)" % tab)
    db.sql("INSERT INTO %s SELECT g, g FROM generate_series(1, %d) g" % (tab, ROWS))

    # 1. The state file of a pipeline with a file sink.
    db.write_pipeline(t, FILE_PIPELINE, table="src")
    run_until_read(t, db, ROWS, "the first %d rows" % ROWS)
    cp_path = t.path("state", db.schema, "poll.json")
    good = json.load(open(cp_path))
    st.assert_eq(good, {"watermark": [str(ROWS)], "key": [str(ROWS)]}, "checkpoint after the first run")
    st.check_refusals(t, cp_path, CASES, "poll", lambda: st.count_lines(t.path("out.jsonl")))

    # --reset-checkpoint: the bad file is moved aside, the table is read again.
    r = t.start(args=["--log-format", "text", "--reset-checkpoint", "poll"])
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 2 * ROWS, 30, "the table read again", abort=r.exited)
    r.signal(signal.SIGTERM)
    st.assert_eq(r.wait(30), 0, "exit code of the --reset-checkpoint run")
    st.assert_true(os.path.exists(cp_path + ".before-reset"), "the bad checkpoint is kept aside",
                   sorted(os.listdir(os.path.dirname(cp_path))))

    # 2. The checkpoint a pg.sink keeps beside the rows, edited by hand (a
    # pipeline of another name: no state file of its own to fall back on).
    target = db.t("target")
    name = db.schema + "_pg"
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, wm int NOT NULL)" % target)
    db.write_pipeline(t, PG_PIPELINE, name=name, table="src", target=pgtest.lua_str(target))
    def stored():
        # sluice.checkpoints is made by the first pg.sink that starts.
        if db.one("SELECT to_regclass('sluice.checkpoints')") is None:
            return None
        return db.checkpoint(name, "poll")

    r = t.start(args=["--log-format", "text"])
    st.wait_until(lambda: stored() is not None and json.loads(stored()).get("key") == [str(ROWS)],
                  30, "the sink's checkpoint after %d rows" % ROWS, abort=r.exited)
    r.signal(signal.SIGTERM)
    st.assert_eq(r.wait(30), 0, "exit code of the pg.sink run")
    st.assert_eq(db.count("target"), ROWS, "rows in the target")
    bad = '{"watermark": [7], "key": ["7"]}'
    db.sql("UPDATE sluice.checkpoints SET checkpoint = '%s' WHERE pipeline = '%s' AND source = 'poll'"
           % (bad, name))
    st.assert_refused(t, "an edited row in sluice.checkpoints", "the checkpoint stored by target",
                      "position 1 must be a string, got int", "poll")
    st.assert_eq(json.loads(db.checkpoint(name, "poll")), json.loads(bad),
                 "the stored checkpoint after a refused start")


st.main(pgtest.with_db("cpcorrupt", body))
