"""Helpers for the PostgreSQL integration tests (test_pg_*.py), on top of
sluicetest. Standard library only: SQL goes through psql.

The server is the project's (scripts/pg): its DSN comes from SLUICE_PG_DSN,
else <repo>/.run/pg/dsn, else `scripts/pg start` is run. Each test works in
a schema of its own (Db.schema), dropped at the end, so tests never see each
other's tables; replication slots and publications are named after it too.
"""

import os
import subprocess
import time

import sluicetest as st

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_BIN = os.environ.get("SLUICE_PG_BIN", "/usr/lib/postgresql/15/bin")


def dsn():
    value = os.environ.get("SLUICE_PG_DSN")
    if value:
        return value
    path = os.path.join(REPO, ".run", "pg", "dsn")
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

    def drop(self):
        try:
            self.sql("DROP SCHEMA IF EXISTS %s CASCADE; "
                     "DELETE FROM sluice.checkpoints WHERE pipeline LIKE '%s%%'"
                     % (self.schema, self.schema))
        except Exception:  # the schema goes with the cluster anyway
            pass


def lua_str(s):
    """A Lua string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def restart_server():
    """Crash-like restart of the project's server (scripts/pg restart-server)."""
    t0 = time.monotonic()
    subprocess.run([os.path.join(REPO, "scripts", "pg"), "restart-server"],
                   stdout=subprocess.DEVNULL, check=True)
    st.log("server restarted in %.1f s" % (time.monotonic() - t0))


def own_server():
    """Whether the DSN is the project's server (which a test may restart)."""
    return not os.environ.get("SLUICE_PG_DSN")
