"""Helpers for the PostgreSQL integration tests (test_pg_*.py), on top of
sluicetest. Standard library only: SQL goes through psql.

The server is the project's (scripts/pg): its DSN comes from SLUICE_PG_DSN,
else <repo>/.run/pg/dsn, else `scripts/pg start` is run. Each test works in
a schema of its own (Db.schema), dropped at the end, so tests never see each
other's tables; replication slots and publications are named after it too.
"""

import os
import re
import signal
import subprocess
import sys
import time

import sluicetest as st

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_BIN = os.environ.get("SLUICE_PG_BIN", "/usr/lib/postgresql/15/bin")


def run_dir():
    """The run dir of the server scripts/pg manages: $SLUICE_PG_DIR, else
    <repo>/.run/pg (scripts/pg's own default)."""
    return os.environ.get("SLUICE_PG_DIR") or os.path.join(REPO, ".run", "pg")


def dsn():
    value = os.environ.get("SLUICE_PG_DSN")
    if value:
        return value
    path = os.path.join(run_dir(), "dsn")
    try:
        with open(path) as f:
            value = f.read().strip()
    except FileNotFoundError:
        value = ""
    if value and subprocess.run([os.path.join(REPO, "scripts", "pg"), "status"],
                                stderr=subprocess.DEVNULL).returncode == 0:
        return value
    out = subprocess.run([os.path.join(REPO, "scripts", "pg"), "start"],
                         stdout=subprocess.PIPE, check=True, text=True).stdout
    return out.strip().splitlines()[-1]


def psql_path():
    p = os.path.join(PG_BIN, "psql")
    return p if os.access(p, os.X_OK) else "psql"


class Db:
    """A psql runner bound to one DSN and one schema of the test's own."""

    def __init__(self, test_name):
        self.dsn = dsn()
        self.schema = ("t_%s_%d" % (test_name, os.getpid())).lower()
        self.sql("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s" % (self.schema, self.schema))

    def sql(self, text, timeout=120):
        """Runs SQL (several statements allowed); returns the rows as lists of
        strings (psql -tA, '|' separated)."""
        proc = subprocess.run(
            [psql_path(), "-d", self.dsn, "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
             "-c", text],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if proc.returncode != 0:
            st.fail("psql failed (%d): %s\nSQL: %s" % (proc.returncode, proc.stderr.strip(),
                                                        text[:500]))
        return [line.split("|") for line in proc.stdout.splitlines() if line != ""]

    def one(self, text):
        rows = self.sql(text)
        return rows[0][0] if rows else None

    def count(self, table):
        return int(self.one("SELECT count(*) FROM %s.%s" % (self.schema, table)))

    def t(self, table):
        return "%s.%s" % (self.schema, table)

    def write_pipeline(self, t, template, name=None, table=None, **values):
        """Writes template % values as the test's pipeline.lua, with
        %(name)s the pipeline's name (default: the schema), %(dsn)s the DSN
        and, if table is given, %(table)s that table of the schema, each
        as a Lua string."""
        values["name"] = lua_str(name or self.schema)
        values["dsn"] = lua_str(self.dsn)
        if table is not None:
            values["table"] = lua_str(self.t(table))
        st.write_pipeline(t.dir, template % values)

    def checkpoint(self, pipeline=None, source=None):
        """The checkpoint text a pg.sink stored for the pipeline (default:
        the one named after the schema), and for source if given; None if
        there is none."""
        where = "pipeline = '%s'" % (pipeline or self.schema)
        if source is not None:
            where += " AND source = '%s'" % source
        return self.one("SELECT checkpoint FROM sluice.checkpoints WHERE " + where)

    def forget_checkpoint(self, pipeline=None):
        """Deletes what a pg.sink stored for the pipeline (default: the one
        named after the schema), so that its sources start over.  On a fresh
        server, before any pg.sink made sluice.checkpoints, there is none."""
        self.sql("DO $$ BEGIN IF to_regclass('sluice.checkpoints') IS NOT NULL THEN "
                 "DELETE FROM sluice.checkpoints WHERE pipeline = '%s'; END IF; END $$"
                 % (pipeline or self.schema))

    def drop_replication(self, slot):
        """Drops the replication slot named slot (unless a sluice still holds
        it) and the publication of the same name."""
        self.sql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                 "WHERE slot_name = '%s' AND NOT active" % slot)
        self.sql("DROP PUBLICATION IF EXISTS %s" % slot)

    def drop(self):
        try:
            self.sql("DROP SCHEMA IF EXISTS %s CASCADE; "
                     "DELETE FROM sluice.checkpoints WHERE pipeline LIKE '%s%%'"
                     % (self.schema, self.schema))
        except Exception:  # the schema goes with the cluster anyway
            pass


# A step that spends CPU on every record (%(busy)d additions) and passes it
# on: it makes a run last long enough to be killed or disturbed mid-way.
BUSY_STEP = """function (rec)
      local s = 0
      for i = 1, %(busy)d do s = s + i end
      if s < 0 then return nil end
      return rec
    end"""

# file.source -> the busy step -> pg.sink in insert mode, the pipeline of
# the tests that disturb a long run (kill -9, a server restart).  Fill with
# Db.write_pipeline(t, FILE_TO_PG, table=..., busy=..., sink_options=...):
# sink_options are more pg.sink options (", retry_max = ..." or "").
FILE_TO_PG = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 1000,
  max_inflight_records = 20000,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  steps = {
    """ + BUSY_STEP + """,
  },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert"%(sink_options)s } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def start_and_kill(t, rows, target):
    """Starts the test's pipeline, waits until rows() >= target and kills it
    with SIGKILL.  Raises st.TooFast when the run ended before the kill (the
    caller retries with a slower step)."""
    run = t.start()
    try:
        st.wait_until(lambda: rows() >= target, 120, "%d rows" % target,
                      interval=0.05, abort=run.exited)
    except st.Failure:
        if run.exit_code() == 0:
            raise st.TooFast()
        raise
    run.signal(signal.SIGKILL)
    code = run.wait(30)
    if code == 0:
        raise st.TooFast()
    st.assert_eq(code, -signal.SIGKILL, "exit status of the killed run")
    return run


def with_db(test_name, body):
    """A test function for st.main that runs body(t, db) with a Db of its
    own (Db(test_name)), dropped afterwards whatever happens."""
    def test(t):
        db = Db(test_name)
        try:
            body(t, db)
        finally:
            db.drop()
    return test


def with_replication(test_name, body):
    """As with_db, for a test of pg.cdc: body(t, db, slot) with slot the
    name of the replication slot and publication (the schema's); sluice is
    stopped and both are dropped afterwards whatever happens."""
    def test(t):
        db = Db(test_name)
        try:
            body(t, db, db.schema)
        finally:
            st._kill_leftovers()
            db.drop_replication(db.schema)
            db.drop()
    return test


def dsn_port(dsn):
    """The port= of a key=value DSN."""
    m = re.search(r"\bport=(\d+)", dsn)
    if not m:
        st.fail("the DSN %r names no port=" % dsn)
    return int(m.group(1))


def with_port(dsn, port):
    """dsn with its port= replaced: the DSN of a proxy in front of it."""
    dsn_port(dsn)
    return re.sub(r"\bport=\d+", "port=%d" % port, dsn)


def with_proxy(test_name, body):
    """Like with_db, for a test whose sink reaches the server through a
    fault proxy (tests/faults/faultproxy.py): runs body(t, db, proxy, dsn),
    dsn the proxy's DSN; the proxy starts in mode pass."""
    sys.path.insert(0, os.path.join(REPO, "tests", "faults"))
    from faultproxy import FaultProxy

    def run(t, db):
        proxy = FaultProxy("db", st.free_port(), ("127.0.0.1", dsn_port(db.dsn)), seed=1).start()
        try:
            body(t, db, proxy, with_port(db.dsn, proxy.listen_port))
        finally:
            proxy.stop()
    return with_db(test_name, run)


def leave_halfopen(proxy, run, what):
    """With proxy in mode halfopen: waits until it holds a chunk (what:
    which), then lets new connections pass; the held one stays dead."""
    st.wait_until(lambda: proxy.counts()["held"] > 0, 30, "the proxy to hold " + what,
                  interval=0.02, abort=run.exited)
    proxy.set_mode("pass")


def lua_str(s):
    """A Lua string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def restart_server():
    """Crash-like restart of the project's server (scripts/pg restart-server,
    which restarts the one in $SLUICE_PG_DIR when that is set)."""
    t0 = time.monotonic()
    subprocess.run([os.path.join(REPO, "scripts", "pg"), "restart-server"],
                   stdout=subprocess.DEVNULL, check=True)
    st.log("server restarted in %.1f s" % (time.monotonic() - t0))


def own_server():
    """Whether the DSN is the server scripts/pg manages here (which a test may
    restart): no SLUICE_PG_DSN, or the DSN of the instance in $SLUICE_PG_DIR
    (a run with servers of its own, e.g. scripts/test --tsan-integration)."""
    env = os.environ.get("SLUICE_PG_DSN")
    if not env:
        return True
    if not os.environ.get("SLUICE_PG_DIR"):
        return False
    try:
        with open(os.path.join(run_dir(), "dsn")) as f:
            return f.read().strip() == env
    except FileNotFoundError:
        return False
