"""faults.reload_storm: SIGHUP reloads under steady load, some of them with
a broken file, some arriving while a reload is in progress: the process
never exits, every broken file is refused naming its file and line while
the previous pipeline keeps running, /health answers 200 throughout, and
every record reaches the table exactly once.

The pipeline is the effectively-once path: a followed file -> a step that
tags each record with the file's version -> pg.sink in insert mode on a
table with no unique key (a record written twice shows as two rows).  A
feeder thread appends records to the file all along.  A seeded random
sequence of actions rewrites the file and sends SIGHUP:

  valid         a new version (the step changes: one step or two)
  syntax        a syntax error on a known line
  runtime       an error raised at the top level, on a known line
  option        a pg.sink without its table (a plugin option missing)
  burst         a new version, then 3 SIGHUPs at once (checked once or twice)
  check-broken  a new version and SIGHUP, then, while it is being checked,
                a broken file and SIGHUP again
  drain-broken  a new version and SIGHUP, then, once it is draining for the
                reload, a broken file and SIGHUP again: the reload must run
                the text it checked (not the broken file now on disk) and
                check the file again once it runs

After each action the test waits, on the log, until no check, drain or
swap is under way (ReloadLog.idle); never on a fixed sleep.

  reload_storm.py [SLUICE] [--soak] [--seed N]

SLUICE defaults to build/sluice (or $SLUICE_BIN).  The CI version sends
SIGHUP CI_SIGNALS times; --soak sends SOAK_SIGNALS."""

import os
import random
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import pgtest  # noqa: E402
import sluicetest as st  # noqa: E402

CI_SIGNALS = 100
SOAK_SIGNALS = 1000
FEED_PER_TICK = 20          # records appended every FEED_TICK seconds
FEED_TICK = 0.02
PROBE_TIMEOUT = 60          # s; a swap on a loaded machine can take several

HEAD = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.file.source { path = "in.jsonl", name = "src", follow = true,
                               poll_interval = "50ms" } },
"""
STEPS_ONE = """  steps = { function (rec) rec.version = %(version)d; return rec end },
"""
STEPS_TWO = """  steps = { function (rec) rec.version = %(version)d; return rec end,
            function (rec) rec.tag = "two"; return rec end },
"""
SINK = """  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert" } },
"""
TAIL = """  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""
# A top level that spins SLOW_S seconds (in each of the run's Lua states):
# long enough for SIGHUPs sent just after the first to land during its check.
SLOW = """local t0 = os.clock()
while os.clock() - t0 < %(slow)g do end
"""
SLOW_S = 0.15
# The step list is on line 6, the sink on line 7.
BROKEN = {
    "syntax": (HEAD + "  steps = { function (rec) rec.version = ; return rec end },\n" + SINK + TAIL,
               6),
    "runtime": (HEAD.replace("return sl.pipeline {", 'error("broken on purpose")\nreturn sl.pipeline {')
                + STEPS_ONE + SINK + TAIL, 2),
    "option": (HEAD + STEPS_ONE + "  sinks = { sl.pg.sink { dsn = %(dsn)s, mode = \"insert\" } },\n"
               + TAIL, 7),
}
KINDS = ["valid"] * 3 + ["syntax", "runtime", "option", "burst", "check-broken", "drain-broken"]


class ReloadLog:
    """What sluice's log says of its reloads, read in order."""

    MARKS = [("checking", "SIGHUP: checking "), ("again", "another SIGHUP came during the check"),
             ("coalesced", "a check is running; the file will be checked again"),
             ("refused", " is not valid (see above)"), ("late", " did not end within "),
             ("draining", "SIGHUP: draining, then reloading"), ("swap", '"msg":"reloaded"'),
             ("running", '"msg":"running pipeline.lua')]

    def __init__(self, run):
        self.run = run

    def events(self):
        out = []
        for line in self.run.stderr_text().splitlines():
            for name, mark in self.MARKS:
                if mark in line:
                    out.append(name)
                    break
        return out

    def count(self, name):
        return self.events().count(name)

    def idle(self):
        """True when no check, drain or swap is under way."""
        state = "idle"
        for e in self.events():
            if e in ("checking", "again"):
                state = "checking"
            elif e in ("refused", "late"):
                state = "idle"
            elif e == "draining":
                state = "draining"
            elif e == "swap":
                state = "swapping"
            elif e == "running" and state in ("draining", "swapping"):
                state = "idle"
        return state == "idle"


class Feeder(threading.Thread):
    """Appends {"id": n} lines to in.jsonl, FEED_PER_TICK every FEED_TICK s."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.last = 0
        self.stop = threading.Event()

    def run(self):
        with open(self.path, "a") as f:
            while not self.stop.wait(FEED_TICK):
                first = self.last + 1
                self.last += FEED_PER_TICK
                f.write("".join('{"id": %d}\n' % i for i in range(first, self.last + 1)))
                f.flush()


class HealthProbe(threading.Thread):
    """GETs /health every 50 ms, one at a time: counts the answers by
    status and the probes that got none (refused, reset, or no answer in
    PROBE_TIMEOUT s), and keeps the longest wait for an answer (a probe
    that comes during a swap waits for the new run)."""

    def __init__(self, admin):
        super().__init__(daemon=True)
        self.url = "http://%s/health" % admin
        self.answers = {}
        self.errors = {}          # kind of error -> how many
        self.slowest = 0.0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=PROBE_TIMEOUT) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except OSError as e:
                self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
                continue
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.answers[code] = self.answers.get(code, 0) + 1


class Storm:
    def __init__(self, t, db, run, rng):
        self.t, self.db, self.run, self.rng = t, db, run, rng
        self.log = ReloadLog(run)
        self.version = 1
        self.sent = 0
        self.kinds = {}
        self.broken_lines = []

    def write(self, text):
        """Replaces pipeline.lua whole (written aside, then renamed), as a
        careful deployment does: a check never reads half a file."""
        values = {"name": pgtest.lua_str(self.db.schema), "dsn": pgtest.lua_str(self.db.dsn),
                  "table": pgtest.lua_str(self.db.t("storm")), "version": self.version,
                  "slow": SLOW_S}
        st.write_file(self.t.path("pipeline.lua.new"), text % values)
        os.replace(self.t.path("pipeline.lua.new"), self.t.path("pipeline.lua"))

    def write_valid(self, slow=False):
        self.version += 1
        steps = STEPS_TWO if self.version % 2 else STEPS_ONE
        self.write((SLOW if slow else "") + HEAD + steps + SINK + TAIL)

    def write_broken(self, kind):
        text, line = BROKEN[kind]
        self.write(text)
        self.broken_lines.append((kind, line))

    def hup(self, n=1):
        for _ in range(n):
            self.run.signal(signal.SIGHUP)
        self.sent += n

    def wait(self, what, cond):
        st.wait_until(cond, 120, what, interval=0.02, abort=self.run.exited)

    def wait_more(self, name, before, what):
        self.wait(what, lambda: self.log.count(name) > before)

    def settle(self):
        self.wait("the SIGHUPs to be taken", lambda: self.run.signal_delivered(signal.SIGHUP))
        self.wait("no reload under way", self.log.idle)

    def act(self, kind):
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        running, refused = self.log.count("running"), self.log.count("refused")
        checking, draining = self.log.count("checking"), self.log.count("draining")
        if kind == "valid":
            self.write_valid()
            self.hup()
            self.wait_more("running", running, "version %d to run" % self.version)
        elif kind in BROKEN:
            self.write_broken(kind)
            self.hup()
            self.wait_more("refused", refused, "the %s file to be refused" % kind)
        elif kind == "burst":
            self.write_valid(slow=True)
            self.hup(3)
            self.wait_more("running", running, "version %d to run after a burst" % self.version)
        elif kind == "check-broken":
            self.write_valid(slow=True)
            self.hup()
            self.wait_more("checking", checking, "the check of version %d" % self.version)
            self.write_broken(self.rng.choice(sorted(BROKEN)))
            self.hup()
            self.wait_more("refused", refused, "the broken file sent during a check to be refused")
        elif kind == "drain-broken":
            self.write_valid()
            self.hup()
            self.wait_more("draining", draining, "the drain for version %d" % self.version)
            self.write_broken(self.rng.choice(sorted(BROKEN)))
            self.hup()
            self.wait_more("refused", refused, "the broken file sent during a drain to be refused")
        self.settle()


def check_refusals(text, broken_lines):
    """Every refusal names pipeline.lua and the line of the broken file."""
    errors = [line for line in text.splitlines() if '"level":"error"' in line and "pipeline.lua:" in line]
    for kind, line in set(broken_lines):
        mark = "pipeline.lua:%d:" % line
        st.assert_true(any(mark in e for e in errors), "the %s file is refused naming %s" % (kind, mark),
                       "\n".join(errors[-5:]))


def body(t, db, signals, seed):
    db.sql("CREATE TABLE %s (id bigint, version int, tag text)" % db.t("storm"))
    db.forget_checkpoint()
    st.write_file(t.path("in.jsonl"), "")
    storm = Storm(t, db, None, random.Random(seed))
    storm.write(HEAD + STEPS_ONE + SINK + TAIL)
    admin = "127.0.0.1:%d" % st.free_port()
    run = t.start(args=["--admin", admin])
    storm.run, storm.log = run, ReloadLog(run)
    feeder = Feeder(t.path("in.jsonl"))
    feeder.start()
    st.wait_until(lambda: db.count("storm") > 0, 60, "the first rows", interval=0.1, abort=run.exited)
    probe = HealthProbe(admin)
    probe.start()
    t0 = time.monotonic()
    try:
        while storm.sent < signals:
            storm.act(storm.rng.choice(KINDS))
    finally:
        feeder.stop.set()
        feeder.join()
        probe.stop.set()
        probe.join()
    storm_s = time.monotonic() - t0
    n = feeder.last
    storm.wait("all %d records in the table" % n, lambda: db.count("storm") >= n)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")

    text = run.stderr_text()
    check_refusals(text, storm.broken_lines)
    rows = db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % db.t("storm"))
    st.assert_eq(rows[0], [str(n), str(n), "1", str(n)], "rows: count, distinct ids, min, max")
    st.check_no_dlq(t)
    st.assert_eq({k: v for k, v in probe.answers.items() if k != 200}, {},
                 "/health answers other than 200 (200: %d)" % probe.answers.get(200, 0))
    # The listening socket is kept across reloads: no probe is refused.  A
    # probe the old run accepted in its last turn is reset when it closes
    # (at most one per swap: the probes go one at a time).
    resets = probe.errors.get("ConnectionResetError", 0) + probe.errors.get("RemoteDisconnected", 0)
    st.assert_eq({k: v for k, v in probe.errors.items()
                  if k not in ("ConnectionResetError", "RemoteDisconnected")}, {},
                 "/health probes refused or unanswered other than reset at a swap")
    log = ReloadLog(run)
    applied = log.count("running") - 1
    st.assert_le(resets, applied, "/health probes reset (at most one per swap)")
    refused = log.count("refused")
    checks = log.count("checking")
    st.log("actions: %s" % sorted(storm.kinds.items()))
    print("figure: reload storm: %d SIGHUPs in %.0f s (seed %d): %d checks, %d applied, %d refused, "
          "%d coalesced; %d records, 0 lost, 0 duplicated; /health: %d answers, all 200 (slowest %.1f s), "
          "none refused, %d reset at a swap" % (storm.sent, storm_s, seed, checks, applied, refused,
                                                storm.sent - checks, n, probe.answers.get(200, 0),
                                                probe.slowest, resets), flush=True)


def main():
    args = st.parse_args(__doc__, default_seed=14)
    signals = SOAK_SIGNALS if args.soak else CI_SIGNALS
    st.main(pgtest.with_db("reload_storm", lambda t, db: body(t, db, signals, args.seed)))


if __name__ == "__main__":
    main()
