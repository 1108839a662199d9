"""faults.cdc_restarts: pg.cdc -> pg.sink through many restarts of sluice and
of the PostgreSQL server in the middle of transactions; afterwards the
target equals the source, row by row, and no change was applied twice.

The source: two tables in a publication, `a` (default replica identity) and
`b` (REPLICA IDENTITY FULL).  Two workload threads commit transactions of a
PL/pgSQL function, each one: an upsert of up to 8 rows of `a` (several rows,
and an insert then an update of one key, at one commit LSN), an update of a
few rows of `a`, for one in three a pause with the transaction open, an
upsert of up to 6 rows of `b`, deletes in both, and a key change in `b`.
It counts its changes in a table outside the publication (`done`), in the
same transaction, so the count is right even when a COMMIT's answer is lost.

The pipeline: pg.cdc -> a step that turns each change into a row of `state`
(upsert by (tbl, id); a delete is a tombstone, deleted = true) and a row of
`log` (insert: one row per change applied) -> one pg.sink writing both
tables and the checkpoint in one transaction.

The restarts rotate between kill -9 of sluice at a random moment (the
sink's transactions are short and back to back: many kills land inside
one), SIGTERM, and a crash-like restart of the server (`scripts/pg
restart-server`: immediate stop, then start) while sluice runs and a
workload transaction is open.  Between two restarts the pipeline must have
applied more changes.  At the end the workload stops, sluice catches up, and:

- state (deleted = false) equals the source tables, row by row;
- log holds exactly sum(done.changes) changes, none twice;
- the slot's confirmed_flush_lsn is at or past the stored checkpoint and
  not past the server's WAL end, and the checkpoint is past every change.

The server is restarted, so the test runs its OWN cluster (never the shared
one): SLUICE_PG_DIR=<repo>/.run/pg-cdc, port 25433 (SLUICE_CDC_PG_PORT
overrides), started with scripts/pg and stopped at the end.

  python3 tests/faults/cdc_restarts.py [--soak] [--restarts N] [SLUICE]

SLUICE defaults to build/sluice.  CI: 21 restarts; --soak: 100."""

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import pgtest  # noqa: E402
import sluicetest as st  # noqa: E402

KINDS = ("kill -9", "SIGTERM", "server")
WORKERS = 2         # workload threads, their transactions interleaved
MIN_PROGRESS = 50   # changes the pipeline must apply between two restarts
PG_ENV = {"SLUICE_PG_DIR": os.path.join(REPO, ".run", "pg-cdc"),
          "SLUICE_PG_PORT": os.environ.get("SLUICE_CDC_PG_PORT", "25433")}

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 50,
  max_inflight_records = 2000,
  sources = { sl.pg.cdc { dsn = %(dsn)s, slot = %(slot)s, publication = %(slot)s,
                          status_interval = "100ms", retry_max = "500ms", name = "cdc" } },
  steps = {
    -- A change -> its row of state (a delete, or the old key of a key
    -- change, is a tombstone) and its row of log.
    function (rec)
      local tbl = rec.table:match("%%.([%%w_]+)$")
      local log = { _to = "log", lsn = rec.lsn, xid = rec.xid, tbl = tbl, op = rec.op }
      local out = {}
      if rec.op == "d" then
        log.id = rec.before.id
        out[1] = { _to = "state", tbl = tbl, id = rec.before.id, deleted = true }
      else
        local a = rec.after
        log.id, log.v = a.id, a.v
        if rec.before and rec.before.id ~= a.id then
          out[1] = { _to = "state", tbl = tbl, id = rec.before.id, deleted = true }
        end
        out[#out + 1] = { _to = "state", tbl = tbl, id = a.id, v = a.v, w = a.w, deleted = false }
      end
      out[#out + 1] = log
      return out
    end,
  },
  sinks = { sl.pg.sink { dsn = %(dsn)s, route = "_to", retry_max = "500ms", name = "target",
    tables = {
      { route = "state", table = %(state)s, mode = "upsert", key = { "tbl", "id" } },
      { route = "log", table = %(log)s },
    } } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

# One workload transaction: k is its number, hold how long it stays open
# in the middle.  Returns nothing; counts its changes into done.
WORK = """
CREATE FUNCTION %(s)s.work(k int, hold float8) RETURNS void LANGUAGE plpgsql AS $$
DECLARE n int := 0; c int; r int;
BEGIN
  INSERT INTO %(s)s.a SELECT id, nextval('%(s)s.seq')
    FROM (SELECT DISTINCT (random() * 1999)::int + 1 AS id FROM generate_series(1, 8)) x
    ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v;
  GET DIAGNOSTICS c = ROW_COUNT; n := n + c;
  UPDATE %(s)s.a SET v = nextval('%(s)s.seq')
    WHERE id IN (SELECT (random() * 1999)::int + 1 FROM generate_series(1, 4));
  GET DIAGNOSTICS c = ROW_COUNT; n := n + c;
  IF hold > 0 THEN PERFORM pg_sleep(hold); END IF;
  INSERT INTO %(s)s.b SELECT id, nextval('%(s)s.seq'), md5(random()::text)
    FROM (SELECT DISTINCT (random() * 999)::int + 1 AS id FROM generate_series(1, 6)) x
    ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, w = EXCLUDED.w;
  GET DIAGNOSTICS c = ROW_COUNT; n := n + c;
  DELETE FROM %(s)s.a WHERE id IN (SELECT (random() * 1999)::int + 1 FROM generate_series(1, 3));
  GET DIAGNOSTICS c = ROW_COUNT; n := n + c;
  DELETE FROM %(s)s.b WHERE id IN (SELECT (random() * 999)::int + 1 FROM generate_series(1, 2));
  GET DIAGNOSTICS c = ROW_COUNT; n := n + c;
  r := (random() * 999)::int + 1;
  UPDATE %(s)s.b SET id = id + 1000 * (k + 1), v = nextval('%(s)s.seq') WHERE id = r;
  GET DIAGNOSTICS c = ROW_COUNT; n := n + c;
  INSERT INTO %(s)s.done VALUES (k, n);
END $$;
"""


def pg_script(command):
    """scripts/pg COMMAND on the test's own cluster; returns its stdout."""
    env = dict(os.environ)
    env.update(PG_ENV)
    env.pop("SLUICE_PG_DSN", None)
    proc = subprocess.run([os.path.join(REPO, "scripts", "pg"), command], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if proc.returncode != 0:
        st.fail("scripts/pg %s on %s failed (%d): %s"
                % (command, PG_ENV["SLUICE_PG_DIR"], proc.returncode, proc.stderr[-1500:]))
    return proc.stdout


def lsn(text):
    hi, lo = text.split("/")
    return int(hi, 16) << 32 | int(lo, 16)


class Workload(threading.Thread):
    """Commits work(k, hold) transactions until stopped, each through its own
    psql; a transaction that fails (the server going away) is not retried:
    done tells which committed."""

    def __init__(self, db, seed, index):
        super().__init__(daemon=True)
        self.db = db
        self.index = index   # transaction numbers of this thread: index, index + WORKERS, ...
        self.rng = random.Random(seed * WORKERS + index)
        self.stop = threading.Event()
        self.tried = 0
        self.failed = 0
        self.errors = {}   # first line of psql's message -> how many times

    def run(self):
        while not self.stop.is_set():
            hold = 0.3 if self.rng.random() < 1 / 3 else 0
            proc = subprocess.run(
                [pgtest.psql_path(), "-d", self.db.dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                 "-c", "SELECT %s.work(%d, %s)" % (self.db.schema,
                                                   self.tried * WORKERS + self.index, hold)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
            self.tried += 1
            if proc.returncode != 0:
                self.failed += 1
                why = (proc.stderr.strip().splitlines() or ["?"])[0][:160]
                self.errors[why] = self.errors.get(why, 0) + 1
                self.stop.wait(0.1)   # the server is restarting: pace the attempts


class Harness:
    def __init__(self, t, db, seed):
        self.t, self.db = t, db
        self.rng = random.Random(seed)
        self.run = None
        self.counts = {k: 0 for k in KINDS}
        self.mid_txn = 0   # kills sent once a transaction of the sink was seen open

    def applied(self):
        return int(self.db.one("SELECT count(*) FROM %s" % self.db.t("log")))

    def start(self):
        self.run = self.t.start(args=["--log-format", "text"])

    def progress(self, since, what):
        """Waits until the pipeline applied more changes than `since`."""
        st.wait_until(lambda: self.applied_or_none() > since, 120, what, interval=0.05,
                      abort=self.run.exited)

    def applied_or_none(self):
        try:
            return self.applied()
        except st.Failure:   # the server is coming back
            return -1

    def seen(self, where):
        """Whether a session of pg_stat_activity matches where."""
        try:
            return self.db.one("SELECT count(*) FROM pg_stat_activity WHERE " + where) != "0"
        except st.Failure:
            return False

    def restart(self, i):
        kind = KINDS[i % len(KINDS)]
        self.counts[kind] += 1
        if kind == "server":
            # Crash the server while a workload transaction is open.
            st.wait_until(lambda: self.seen("wait_event = 'PgSleep'"), 30,
                          "a workload transaction open", abort=self.run.exited)
            t0 = time.monotonic()
            pg_script("restart-server")
            st.log("server restarted in %.1f s" % (time.monotonic() - t0))
            st.assert_true(self.run.running(), "sluice runs on through a server restart",
                           self.run.stderr_text()[-2000:])
        else:
            # Every other kill waits to see a transaction of the sink open;
            # the rest come at a random moment.
            if self.counts[kind] % 2 == 0:
                try:
                    st.wait_until(lambda: self.seen("application_name = 'sluice/target' AND "
                                                    "xact_start IS NOT NULL"), 5,
                                  "a sink transaction open", abort=self.run.exited)
                    self.mid_txn += 1
                except st.Failure:
                    pass
            else:
                time.sleep(self.rng.uniform(0, 0.5))
            sig, code = (signal.SIGKILL, -signal.SIGKILL) if kind == "kill -9" else (signal.SIGTERM, 0)
            self.run.signal(sig)
            st.assert_eq(self.run.wait(60), code, "exit status after %s" % kind)
            self.start()
        # Changes applied from now on are the new run's (or, after a server
        # restart, the reconnected run's), not the drain of the old one.
        before = self.applied_or_none()
        while before < 0:
            st.wait_until(lambda: self.applied_or_none() >= 0, 60, "the server to answer")
            before = self.applied_or_none()
        self.progress(before + MIN_PROGRESS, "%d more changes applied after restart %d (%s)"
                      % (MIN_PROGRESS, i + 1, kind))


def compare(db):
    """Source rows against the live rows of state; prints the differences."""
    s = db.schema
    src = db.sql("SELECT 'a', id, v, '' FROM %s.a UNION ALL SELECT 'b', id, v, w FROM %s.b" % (s, s))
    dst = db.sql("SELECT tbl, id, v, coalesce(w, '') FROM %s.state WHERE NOT deleted" % s)
    src, dst = set(map(tuple, src)), set(map(tuple, dst))
    missing, extra = sorted(src - dst), sorted(dst - src)
    if missing or extra:
        st.fail("target differs from source: %d source rows missing or different in the "
                "target, e.g. %s; %d target rows not in the source, e.g. %s"
                % (len(missing), missing[:10], len(extra), extra[:10]))
    return len(src)


def body(t, db, restarts, seed):
    s = db.schema
    db.sql("CREATE SEQUENCE %s.seq; "
           "CREATE TABLE %s.a (id int PRIMARY KEY, v bigint NOT NULL); "
           "CREATE TABLE %s.b (id int PRIMARY KEY, v bigint NOT NULL, w text); "
           "ALTER TABLE %s.b REPLICA IDENTITY FULL; "
           "CREATE TABLE %s.done (k int PRIMARY KEY, changes int NOT NULL); "
           "CREATE TABLE %s.state (tbl text, id int, v bigint, w text, deleted bool, "
           "PRIMARY KEY (tbl, id)); "
           "CREATE TABLE %s.log (lsn text, xid bigint, tbl text, op text, id int, v bigint); "
           "CREATE PUBLICATION %s FOR TABLE %s.a, %s.b" % ((s,) * 10))
    db.sql(WORK % {"s": s})
    db.write_pipeline(t, PIPELINE, slot=pgtest.lua_str(s), state=pgtest.lua_str(db.t("state")),
                      log=pgtest.lua_str(db.t("log")))
    h = Harness(t, db, seed)
    h.start()
    st.wait_until(lambda: "streaming changes" in h.run.stderr_text(), 60, "the stream to start",
                  abort=h.run.exited)
    # A first change and its checkpoint before any restart: a stop during
    # the initial snapshot takes the snapshot again, by design.
    db.sql("SELECT %s.work(-1, 0)" % s)
    h.progress(0, "the first transaction applied")
    workers = [Workload(db, seed, i) for i in range(WORKERS)]
    for w in workers:
        w.start()
    t0 = time.monotonic()
    try:
        for i in range(restarts):
            h.restart(i)
    finally:
        for w in workers:
            w.stop.set()
        for w in workers:
            w.join(120)
    elapsed = time.monotonic() - t0

    # Catch up: every committed change applied, then the slot confirmed.
    want = int(db.one("SELECT coalesce(sum(changes), 0) FROM %s.done" % s))
    st.wait_until(lambda: h.applied() >= want, 180, "all %d changes applied" % want,
                  interval=0.1, abort=h.run.exited)
    ckpt = db.checkpoint(source="cdc")
    st.assert_true(ckpt is not None and '"lsn"' in ckpt, "a stream checkpoint is stored", ckpt)
    ck = lsn(ckpt.split('"lsn":"')[1].split('"')[0])
    slot_q = "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '%s'" % s
    st.wait_until(lambda: lsn(db.one(slot_q)) >= ck, 30, "confirmed_flush_lsn to reach the "
                  "checkpoint %s" % ckpt, interval=0.1, abort=h.run.exited)
    h.run.signal(signal.SIGTERM)
    st.assert_eq(h.run.wait(60), 0, "exit code of the last run")

    log_rows = db.sql("SELECT count(*), count(DISTINCT (xid, tbl, op, id, coalesce(v, -1))), "
                      "coalesce(max(lsn::pg_lsn)::text, '0/0') FROM %s.log WHERE op <> 'r'" % s)
    applied, distinct, max_lsn = int(log_rows[0][0]), int(log_rows[0][1]), log_rows[0][2]
    if applied != distinct:
        dups = db.sql("SELECT xid, tbl, op, id, v, count(*) FROM %s.log GROUP BY 1, 2, 3, 4, 5 "
                      "HAVING count(*) > 1 LIMIT 10" % s)
        st.fail("%d changes applied twice, e.g. %s" % (applied - distinct, dups))
    st.assert_eq(applied, want, "changes applied (log rows) against changes committed (done)")
    rows = compare(db)
    confirmed = lsn(db.one(slot_q))
    wal_end = lsn(db.one("SELECT pg_current_wal_lsn()"))
    st.assert_true(lsn(max_lsn) < ck <= confirmed <= wal_end,
                   "last change < checkpoint <= confirmed_flush_lsn <= WAL end",
                   "%s, %X, %X, %X" % (max_lsn, ck, confirmed, wal_end))
    st.check_no_dlq(t)
    txns = int(db.one("SELECT count(*) FROM %s.done" % s))
    errors = {}
    for w in workers:
        for why, n in w.errors.items():
            errors[why] = errors.get(why, 0) + n
    st.log("workload: %d transactions tried, %d failed (server restarts), %d committed"
           % (sum(w.tried for w in workers), sum(w.failed for w in workers), txns))
    for why, n in sorted(errors.items(), key=lambda e: -e[1])[:5]:
        st.log("  %d x %s" % (n, why))
    print("figure: cdc restarts: %d (%s; %d signals sent with a sink transaction seen open) "
          "in %.0f s, %d transactions, %d changes, %d rows, 0 duplicated, target equals "
          "source: yes" % (restarts, ", ".join("%d %s" % (h.counts[k], k) for k in KINDS),
                           h.mid_txn, elapsed, txns, applied, rows), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sluice", nargs="?", default=os.path.join(REPO, "build", "sluice"))
    ap.add_argument("--soak", action="store_true", help="100 restarts instead of 21")
    ap.add_argument("--restarts", type=int, help="the number of restarts")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SLUICE_SEED", "14")))
    args = ap.parse_args()
    restarts = args.restarts or (100 if args.soak else 21)
    st.log("seed %d, %d restarts" % (args.seed, restarts))
    os.environ["SLUICE_PG_DSN"] = pg_script("start").strip().splitlines()[-1]

    test = pgtest.with_replication("cdc_restarts",
                                   lambda t, db, slot: body(t, db, restarts, args.seed))

    sys.argv = [sys.argv[0], args.sluice]
    try:
        st.main(test)
    finally:
        pg_script("stop")


main()
