"""faults.io_failures: I/O that fails under a running pipeline (write and
fdatasync errors, short writes, a failed cut, failed checkpoint saves,
failed send and recv on the database's and the broker's connections)
loses no record.

Each case runs a real `sluice run` under libfiu's preload (as fiu-run
would start it) with random faults at a probability P, seeded with
FIU_PRNG_SEED (logged; the threads' interleaving still varies which calls
fail):

  file   file.source -> a step that dead-letters every 97th record ->
         file.sink (fsync on) + the dead-letter file.sink; the points
         sluice/io/file.sink.* (write, short_write, fdatasync, truncate),
         with errno EIO or ENOSPC in turn.
  state  the same pipeline; sluice/io/engine.state.* (the checkpoint
         save's write and fsync) as well as the sink's.
  kafka  file.source -> kafka.sink: the producer's sendmsg() (net_reset.c)
         and recvmsg()/recv() (libfiu) fail; every id on the topic
         (at least once: duplicates are counted, not refused).
  pg     file.source -> pg.sink (insert mode, a table with no unique key)
         on the shared server; libfiu's POSIX preload (as fiu-run -x) fails
         libpq's recv() (posix/io/net/recv, an errno libfiu picks), and
         net_reset.c (built as libsluice_net_reset.so, found through
         $SLUICE_NET_RESET or beside the build's tests) its send() as the
         network does: the connection lost, ECONNRESET.  (libfiu's own
         posix/io/net/send fails a send on a connection that stays up:
         libpq then waits forever for the answer to a query the server
         never got, which no real network does.)

A faulted run must end with exit 0, or stop with exit 1 or 3 and a message
naming the operation that failed (no signal, no silent exit).  Then runs
without faults (at most 3) must complete it.  At the end every input id is
in the output or the dead letters, no output line is torn, and there is
no duplicate where there must be none: none in pg.sink, none in the file
sink after a faulted run that completed (a failed group is cut off and
written again, so only a stop and restart may replay records).

  io_failures.py [SLUICE] [--soak]   SLUICE defaults to build/sluice (or
                                     $SLUICE_BIN); --soak: 100,000 records
                                     at 1%, 2% and 5%, 3 seeds each

First, deterministic cases (a point enabled once, mid-run, through
libfiu's control fifo): an fdatasync that fails once, an fdatasync and the
cut that fail, a CSV file whose first write fails.  The CI version then
runs 20,000 records, each random case once at 5% (file), 2% (state, pg,
kafka): about 16 s.  Prints `figure:` lines: runs, faults injected by kind,
stops with a clear error, restarts, records, lost."""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import kafkatest as kt  # noqa: E402
import pgtest  # noqa: E402
import publishtest as pt  # noqa: E402
import sluicetest as st  # noqa: E402

EIO, ENOSPC = 5, 28
RUN_LIMIT = 600
MAX_RESTARTS = 3
DEAD_EVERY = 97

FILE_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "io_failures",
  batch_size = 50,
  max_inflight_records = 500,
  sources = { sl.file.source { path = "in.jsonl" } },
  steps = {
    function (rec)
      local s = 0
      for i = 1, %(busy)d do s = s + i end
      if rec.id %% %(dead)d == 0 then error("rejected on purpose: " .. rec.id) end
      rec.seen = true
      return rec
    end,
  },
  sinks = { sl.file.sink { path = "out.jsonl", fsync = true } },
  dlq = sl.file.sink { path = "dlq.jsonl", fsync = true },
}
"""

PG_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 100,
  max_inflight_records = 1000,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert", retry_max = "1s" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

# A stop's message must say it stops, and name what failed.
CLEAR_STOP = re.compile(r"stopping the pipeline|cannot start \(input/output error\)|"
                        r"cannot read the checkpoint of \S+: input/output error")
FAILED_OP = re.compile(r"(writing|syncing) \S+ failed|cannot save the checkpoint|"
                       r"could not (send|receive)|connection|server closed")
ID = re.compile(r'\\?"id\\?":(\d+)')


class Figures:
    def __init__(self):
        self.runs = 0
        self.faulted = 0
        self.faults = collections.Counter()
        self.stops = collections.Counter()   # exit code of faulted runs
        self.restarts = 0
        self.records = 0
        self.lost = 0
        self.duplicates = collections.Counter()   # by sink
        self.cases = []


def net_reset_lib(sluice):
    path = os.environ.get("SLUICE_NET_RESET") or os.path.join(
        os.path.dirname(sluice), "tests", "libsluice_net_reset.so")
    if not os.path.exists(path):
        st.fail("%s is missing: build the sluice_net_reset target" % path)
    return path


def count_faults(path, figures):
    try:
        with open(path) as f:
            for line in f:
                name = line.split()[0]
                figures.faults[name.replace("sluice/io/", "")] += 1
    except FileNotFoundError:
        pass


def run_sluice(t, env, figures, faulted):
    """One run to its end: (exit code, stderr)."""
    figures.runs += 1
    full = dict(os.environ)
    full.update(env)
    t.runs_started += 1
    name = "run-%d" % t.runs_started
    err_path = os.path.join(t.dir, name + ".stderr")
    args = [t.sluice, "run", "pipeline.lua", "--state-dir", os.path.join(t.dir, "state")]
    started = time.monotonic()
    with open(err_path, "wb") as err:
        proc = subprocess.run(args, cwd=t.dir, env=full, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err, timeout=RUN_LIMIT)
    with open(err_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    t.logs.append((name, " ".join(args), text))
    st.log("%s (%s) exited %d after %.1f s" % (name, "faults" if faulted else "no faults",
                                              proc.returncode, time.monotonic() - started))
    return proc.returncode, text


def check_stop(code, text, what):
    """A faulted run: exit 0, or a clear stop."""
    if code < 0:
        st.fail("%s: killed by signal %d, expected exit 0, 1 or 3" % (what, -code))
    if code not in (0, 1, 3):
        st.fail("%s: exit code expected 0, 1 or 3, actual %d; stderr ends: %s"
                % (what, code, text[-800:]))
    if code != 0:
        if not CLEAR_STOP.search(text) or not FAILED_OP.search(text):
            st.fail("%s: exit %d without a message naming the failed operation; stderr ends: %s"
                    % (what, code, text[-800:]))


def run_case(t, figures, label, env, check):
    """A faulted run, then runs without faults until one completes; then check()."""
    code, text = run_case_once(t, figures, env)
    check_stop(code, text, label + ": the faulted run")
    completed_faulted = code == 0
    tries = 0
    while code != 0:
        tries += 1
        if tries > MAX_RESTARTS:
            st.fail("%s: %d restarts without faults did not complete the run" % (label, MAX_RESTARTS))
        figures.restarts += 1
        code, text = run_sluice(t, {}, figures, False)
        if code != 0:
            st.fail("%s: a restart without faults exited %d, expected 0; stderr ends: %s"
                    % (label, code, text[-800:]))
    check(completed_faulted)


def out_ids(t, name):
    records, torn = st.read_jsonl(t.path(name))
    st.assert_no_torn(torn, name)
    return [r["id"] for r in records]


def dlq_ids(t):
    ids = []
    try:
        with open(t.path("dlq.jsonl"), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith("\n"):
                    st.fail("dlq.jsonl line %d is torn: %s" % (number, line[:200]))
                m = ID.search(line)
                if not m:
                    st.fail("dlq.jsonl line %d names no id: %s" % (number, line[:200]))
                ids.append(int(m.group(1)))
    except FileNotFoundError:
        pass
    return ids


def check_file_output(t, n, figures, label, completed_faulted):
    out = out_ids(t, "out.jsonl")
    dead = dlq_ids(t)
    want_dead = set(range(DEAD_EVERY, n + 1, DEAD_EVERY))
    want_out = set(range(1, n + 1)) - want_dead
    lost = len(want_out - set(out)) + len(want_dead - set(dead))
    figures.records += n
    figures.lost += lost
    st.assert_eq(lost, 0, "%s: input ids missing from out.jsonl and dlq.jsonl" % label)
    st.assert_eq(set(out) - want_out, set(), "%s: unexpected ids in out.jsonl" % label)
    dups = len(out) - len(set(out)) + len(dead) - len(set(dead))
    figures.duplicates["file"] += dups
    if completed_faulted:
        st.assert_eq(dups, 0, "%s: duplicates after a faulted run that completed" % label)


def file_case(t, n, probability, seed, with_state, figures):
    for name in ("out.jsonl", "dlq.jsonl", "state", "faults.log"):
        t.reset(name)
    st.write_pipeline(t.dir, FILE_PIPELINE % {"dead": DEAD_EVERY, "busy": 0})
    points = ["sluice/io/file.sink.*"] + (["sluice/io/engine.state.*"] if with_state else [])
    errno_value = (EIO, ENOSPC)[seed % 2]
    label = "%s p=%g seed=%d errno=%d" % ("state" if with_state else "file", probability, seed,
                                           errno_value)
    st.log("case " + label)
    run_case(t, figures, label, st.fiu_env(points, probability, errno_value, seed),
             lambda done: check_file_output(t, n, figures, label, done))
    figures.cases.append(label)


def durable_ids(t, name, upto):
    """The ids in the first upto bytes of out.jsonl or dlq.jsonl (all if None)."""
    try:
        with open(t.path(name), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return set()
    if upto is not None:
        data = data[:upto]
    return set(int(m.group(1)) for m in ID.finditer(data.decode("utf-8", "replace")))


def fail_mid_run(t, n, commands, figures):
    """Starts the file pipeline (slowed down) under libfiu's control, and
    once 2,000 records are out enables the points of commands, each for one
    failure (onetime).  Returns (exit code, stderr)."""
    for name in ("out.jsonl", "dlq.jsonl", "state", "faults.log"):
        t.reset(name)
    st.write_pipeline(t.dir, FILE_PIPELINE % {"dead": DEAD_EVERY, "busy": 3000})
    env = dict(os.environ, FIU_CTRL_FIFO=t.path("fiu"), SLUICE_FAULT_LOG=t.path("faults.log"),
               LD_PRELOAD=st.FIU_PRELOAD)
    t.runs_started += 1
    name = "run-%d" % t.runs_started
    err_path = t.path(name + ".stderr")
    args = [t.sluice, "run", "pipeline.lua", "--state-dir", t.path("state")]
    figures.runs += 1
    figures.faulted += 1
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(args, cwd=t.dir, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        counter = st.LineCounter(t.path("out.jsonl"))
        st.wait_until(lambda: counter.count() >= 2000, 120, "2,000 records in out.jsonl",
                      abort=lambda: proc.poll() is not None and "sluice exited %d" % proc.returncode)
        ctl = ["fiu-ctrl", "-f", t.path("fiu")]
        for c in commands:
            ctl += ["-c", c]
        subprocess.run(ctl + [str(proc.pid)], check=True, timeout=30)
        code = proc.wait(timeout=RUN_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open(err_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    t.logs.append((name, " ".join(args), text))
    count_faults(t.path("faults.log"), figures)
    st.log("%s (faults enabled mid-run: %s) exited %d" % (name, "; ".join(commands), code))
    return code, text


def fsync_fails_once(t, n, figures):
    """A failed fdatasync is not retried as if the data were safe: the group
    is cut off and written again; the run completes, each record once."""
    label = "fdatasync fails once"
    code, text = fail_mid_run(t, n, ["enable name=sluice/io/file.sink.fdatasync,failinfo=5,onetime"],
                              figures)
    figures.stops[code] += 1
    st.assert_eq(code, 0, "%s: exit code" % label)
    st.assert_true(re.search(r"syncing \S+ failed: i/o error; the records written since the last sync "
                             r"are not durable: cut off, they are written again whole", text),
                   "%s: the log says the records are not durable and are written again" % label,
                   text[-800:])
    check_file_output(t, n, figures, label, True)
    figures.cases.append(label)


def fsync_and_cut_fail(t, n, figures):
    """A failed fdatasync whose group cannot be cut off: the pipeline stops
    (exit 1) naming both, no checkpoint covers a record of the group, and
    a restart delivers everything."""
    label = "fdatasync and the cut fail once"
    # The cut's point first: it is reached only after a failure.
    code, text = fail_mid_run(t, n, ["enable name=sluice/io/file.sink.truncate,failinfo=28,onetime",
                                     "enable name=sluice/io/file.sink.fdatasync,failinfo=5,onetime"],
                              figures)
    figures.stops[code] += 1
    st.assert_eq(code, 1, "%s: exit code" % label)
    m = re.search(r"syncing (\S+) failed: i/o error, and cutting the unwritten records off its end at "
                  r"byte (\d+) failed too: No space left on device; stopping the pipeline without "
                  r"acknowledging", text)
    st.assert_true(m, "%s: the log names the failed sync and cut and the stop" % label, text[-800:])
    failed_file, durable_end = os.path.basename(m.group(1)), int(m.group(2))
    with open(t.path("state", "io_failures", "file.source.1.json")) as f:
        acked = json.load(f)["line"]
    durable = durable_ids(t, "out.jsonl", durable_end if failed_file == "out.jsonl" else None)
    durable |= durable_ids(t, "dlq.jsonl", durable_end if failed_file == "dlq.jsonl" else None)
    missing = sorted(set(range(1, acked + 1)) - durable)
    st.assert_eq(missing[:10], [], "%s: ids the checkpoint (line %d) passed that are not durable"
                 % (label, acked))
    figures.restarts += 1
    code, text = run_sluice(t, {}, figures, False)
    st.assert_eq(code, 0, "%s: exit code of the restart" % label)
    check_file_output(t, n, figures, label, False)
    figures.cases.append(label)


CSV_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "io_failures_csv",
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.file.sink { path = "out.csv", format = "csv", columns = { "id", "dept" } } },
}
"""


def csv_header_kept(t, n, figures):
    """The first write of a CSV file fails: the write again still begins
    with the header (it was dropped before, the file had none)."""
    label = "csv: the first write fails once"
    t.reset("out.csv", "state", "faults.log")
    st.write_pipeline(t.dir, CSV_PIPELINE)
    env = st.fiu_env([], 0, 0, 1)
    env["FIU_ENABLE"] = "enable name=sluice/io/file.sink.write,failinfo=28,onetime"
    code, text = run_case_once(t, figures, env)
    st.assert_eq(code, 0, "%s: exit code" % label)
    with open(t.path("out.csv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    st.assert_eq(lines[:2], ["id,dept", "1,%s" % st.DEPTS[0]], "%s: the first two lines" % label)
    st.assert_eq(lines.count("id,dept"), 1, "%s: header lines" % label)
    st.assert_eq(len(lines), n + 1, "%s: lines" % label)
    figures.records += n
    figures.cases.append(label)


def run_case_once(t, figures, env):
    fault_log = t.path("faults.log")
    code, text = run_sluice(t, dict(env, SLUICE_FAULT_LOG=fault_log), figures, True)
    figures.faulted += 1
    figures.stops[code] += 1
    count_faults(fault_log, figures)
    return code, text


def pg_case(t, db, n, probability, seed, figures):
    for name in ("dlq.jsonl", "state", "faults.log"):
        t.reset(name)
    table = "io_%d_%d" % (int(probability * 1000), seed)
    db.sql("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint, name text, dept text, pad text)"
           % (db.t(table), db.t(table)))
    pipeline = db.schema + "_" + table
    db.forget_checkpoint(pipeline)
    db.write_pipeline(t, PG_PIPELINE, name=pipeline, table=table)
    label = "pg p=%g seed=%d" % (probability, seed)
    st.log("case " + label)
    env = st.fiu_env(["posix/io/net/recv", "sluice/net/send"], probability, 0, seed,
                     [os.path.join(st.FIU_LIB, "fiu_posix_preload.so"), net_reset_lib(t.sluice)])

    def check(_done):
        rows = db.sql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % db.t(table))
        count, distinct = int(rows[0][0]), int(rows[0][1])
        figures.records += n
        figures.lost += n - distinct
        figures.duplicates["pg"] += count - distinct
        st.check_no_dlq(t)
        st.assert_eq(rows[0], [str(n), str(n), "1", str(n)], "%s: count, distinct ids, min, max" % label)

    run_case(t, figures, label, env, check)
    figures.cases.append(label)


KAFKA_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "io_failures_kafka",
  batch_size = 200,
  max_inflight_records = 2000,
  sources = { sl.file.source { path = "in.jsonl" } },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(topic)s",
                            librdkafka = { ["linger.ms"] = "5", ["batch.num.messages"] = "200",
                                           -- a lost connection is tried again within 0.5 s,
                                           -- not up to 10 s: the case's time is the faults'
                                           ["reconnect.backoff.max.ms"] = "500" } } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def kafka_case(t, n, probability, seed, figures):
    """file.source -> kafka.sink, the producer's sendmsg and recvmsg failing:
    every id on the topic (at least once; duplicates counted)."""
    b = kt.bootstrap()
    topic = kt.unique("io-failures")
    kt.create_topic(b, topic)
    for name in ("dlq.jsonl", "state", "faults.log"):
        t.reset(name)
    st.write_pipeline(t.dir, KAFKA_PIPELINE % {"b": b, "topic": topic})
    label = "kafka p=%g seed=%d" % (probability, seed)
    st.log("case " + label)
    env = st.fiu_env(["posix/io/net/recvmsg", "posix/io/net/recv", "sluice/net/send"], probability, 0, seed,
                     [os.path.join(st.FIU_LIB, "fiu_posix_preload.so"), net_reset_lib(t.sluice)])

    def check(_done):
        st.check_no_dlq(t)
        ids = kt.ids_in(b, topic)
        lost = len(set(range(1, n + 1)) - set(ids))
        figures.records += n
        figures.lost += lost
        figures.duplicates["kafka"] += len(ids) - len(set(ids))
        kt.check_all_ids(ids, n, label)

    run_case(t, figures, label, env, check)
    figures.cases.append(label)


def publish_run(t, catalog, env, figures, faulted, mid_run=None):
    """`sluice publish` of births.csv, slowed by a small producer queue; with
    mid_run (libfiu commands), those are enabled once the journal has
    settled 2,000 rows.  Returns (exit code, stdout, stderr)."""
    figures.runs += 1
    figures.faulted += faulted
    cmd = [t.sluice, "publish", "--catalog", catalog, "--feed", pt.FEED, "--no-progress",
           "-X", "queue.buffering.max.messages=200", "-X", "linger.ms=20", "births.csv"]
    full = dict(os.environ, **env)
    if mid_run:
        full.update(FIU_CTRL_FIFO=t.path("fiu"), LD_PRELOAD=st.FIU_PRELOAD)
    proc = subprocess.Popen(cmd, cwd=t.dir, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if mid_run:
            st.wait_until(lambda: pt.settled(t.path("births.csv.publish-state")) >= 2000, 120,
                          "2,000 settled rows in the journal",
                          abort=lambda: proc.poll() is not None and "publish exited %d" % proc.returncode)
            ctl = ["fiu-ctrl", "-f", t.path("fiu")]
            for c in mid_run:
                ctl += ["-c", c]
            subprocess.run(ctl + [str(proc.pid)], check=True, timeout=30)
        out, err = proc.communicate(timeout=RUN_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    t.logs.append(("publish", " ".join(cmd), out + err))
    st.log("publish (%s) exited %d" % ("; ".join(mid_run) if mid_run else "faults" if faulted else
                                       "no faults", proc.returncode))
    return proc.returncode, out, err


def publish_case(t, n, figures):
    """`sluice publish` whose progress file (the journal) cannot be saved:
    at the start, it stops (exit 3) naming the file, nothing sent; later,
    it goes on and says so, and the re-run, from the last progress saved,
    finds the rest on the topic.  Every key on the topic exactly once."""
    label = "publish: the journal's saves fail"
    b = kt.bootstrap()
    os.environ["SLUICE_KAFKA_BOOTSTRAP"] = b
    topic = kt.unique("io-failures-publish") + ".v1"
    catalog = pt.write_catalog(t, topic)
    pt.write_sheets({"files": [{"path": t.path("births.csv"), "kind": "csv", "encoding": "utf-8",
                                "header": pt.HEADER, "generate": {"n": n}}]}, t.path("sheets"))
    t.reset("births.csv.publish-state", "faults.log")
    env = st.fiu_env([], 0, 0, 1)
    env["FIU_ENABLE"] = "enable name=sluice/io/kafka.publish.journal.fsync,failinfo=5"
    env["SLUICE_FAULT_LOG"] = t.path("faults.log")
    code, out, err = publish_run(t, catalog, env, figures, True)
    count_faults(t.path("faults.log"), figures)
    figures.stops[code] += 1
    st.assert_eq(code, 3, "%s at the start: exit code" % label)
    st.assert_true(re.search(r"cannot save the progress to \S*births\.csv\.publish-state: "
                             r"Input/output error\n\s*nothing was sent", out),
                   "%s at the start: the summary names the file and says nothing was sent" % label, out)
    st.assert_eq(kt.count(b, topic), 0, "%s at the start: messages on the topic" % label)

    code, out, err = publish_run(t, catalog, {"SLUICE_FAULT_LOG": t.path("faults.log")}, figures, True,
                                 mid_run=["enable name=sluice/io/kafka.publish.journal.write,failinfo=28"])
    count_faults(t.path("faults.log"), figures)
    figures.stops[code] += 1
    st.assert_eq(code, 0, "%s mid-run: exit code" % label)
    st.assert_true("cannot save the progress to" in err and "going on" in err,
                   "%s mid-run: standard error says the save failed and the run goes on" % label, err)
    stale = pt.settled(t.path("births.csv.publish-state"))
    st.assert_lt(stale, n, "%s mid-run: rows the stale journal says are settled" % label)

    figures.restarts += 1
    code, out, err = publish_run(t, catalog, {}, figures, False)
    st.assert_eq(code, 0, "%s: exit code of the re-run" % label)
    st.assert_eq(pt.summary_count(out, "published"), 0, "%s: rows the re-run publishes" % label)
    keys = collections.Counter(kt.consume(b, topic, fmt="%k\\n"))
    want = {("B%06d" % i).encode() for i in range(1, n + 1)}
    lost = len(want - set(keys))
    figures.records += n
    figures.lost += lost
    figures.duplicates["kafka"] += sum(keys.values()) - len(keys)
    st.assert_eq(lost, 0, "%s: keys missing from the topic" % label)
    st.assert_eq(sum(keys.values()), n, "%s: messages on the topic (each key once)" % label)
    figures.cases.append(label)


def connections_lost(t):
    """The pg.sink's lost connections (libfiu's recv faults keep no log)."""
    return sum(len(re.findall(r"lost the connection to PostgreSQL", text)) for _, _, text in t.logs)


def kafka_errors(t):
    """librdkafka's transport errors as the kafka.sink logged them."""
    return sum(len(re.findall(r"(?i)connection reset|disconnected|receive failed|send failed|"
                              r"transport", text)) for _, _, text in t.logs)


class Work(st.Test):
    """sluicetest's work folder; the runs here are whole (run_sluice), so
    their stderr is kept as text in logs rather than as Run objects."""

    def __init__(self, sluice):
        super().__init__(sluice, "io-failures")
        self.runs_started = 0
        self.logs = []

    def print_logs(self, tail_lines=40):
        for name, cmd, text in self.logs[-6:]:
            lines = text.splitlines()
            print("---- %s stderr (last %d of %d lines) ----\n     command: %s"
                  % (name, min(tail_lines, len(lines)), len(lines), cmd))
            for line in lines[-tail_lines:]:
                print(line)


def main():
    args = st.parse_args(__doc__)
    soak, sluice = args.soak, args.sluice
    if not os.path.exists(os.path.join(st.FIU_LIB, "fiu_posix_preload.so")):
        print("io_failures: FAIL: libfiu's preloads are missing (apt-get install fiu-utils)")
        return 1
    if not os.access(sluice, os.X_OK):
        print("io_failures: FAIL: %s is missing or not executable" % sluice)
        return 1
    out = subprocess.run([sluice, "version", "-v"], stdout=subprocess.PIPE, text=True).stdout
    if "fault points: compiled in" not in out:
        print("io_failures: FAIL: %s was built without fault points" % sluice)
        return 1
    n = 100_000 if soak else 20_000
    plan = ([(p, seed) for p in (0.01, 0.02, 0.05) for seed in (1, 2, 3)] if soak
            else None)
    t = Work(sluice)
    figures = Figures()
    st.log("io_failures: work folder %s, %d records, %s" % (t.dir, n, "soak" if soak else "CI"))
    ok = False
    db = None
    try:
        st.gen_records(t.path("in.jsonl"), n, line_bytes=120)
        csv_header_kept(t, n, figures)
        fsync_fails_once(t, n, figures)
        fsync_and_cut_fail(t, n, figures)
        if soak:
            for p, seed in plan:
                file_case(t, n, p, seed, False, figures)
            for p, seed in plan:
                file_case(t, n, p, seed, True, figures)
        else:
            file_case(t, n, 0.05, 1, False, figures)
            file_case(t, n, 0.02, 2, True, figures)
        db = pgtest.Db("io_failures")
        for p, seed in (plan if soak else [(0.02, 1)]):
            pg_case(t, db, n, p, seed, figures)
        for p, seed in (plan if soak else [(0.02, 1)]):
            kafka_case(t, n, p, seed, figures)
        publish_case(t, n, figures)
        ok = True
    except st.Failure as e:
        print("\nio_failures: FAIL: %s\n" % e, flush=True)
    except Exception:
        import traceback
        traceback.print_exc()
        print("\nio_failures: FAIL: the test itself raised an exception\n", flush=True)
    finally:
        if db:
            db.drop()
    if not ok:
        t.print_logs()
    if ok or os.environ.get("SLUICE_TEST_KEEP") != "1":
        shutil.rmtree(t.dir, ignore_errors=True)
    kinds = ", ".join("%s %d" % kv for kv in sorted(figures.faults.items())) or "none"
    stops = ", ".join("exit %d: %d" % kv for kv in sorted(figures.stops.items()))
    print("figure: io failures: %d cases (%s records each), %d runs: %d with faults (%s), "
          "%d restarts without faults" % (len(figures.cases), n, figures.runs, figures.faulted,
                                          stops, figures.restarts))
    print("figure: io faults injected: %s; pg.sink connections lost to send/recv faults: %d; "
          "librdkafka transport errors logged: %d" % (kinds, connections_lost(t), kafka_errors(t)))
    print("figure: io failures: %d records checked, %d lost; duplicated: file.sink %d (after a stop "
          "and restart only), pg.sink %d, kafka.sink %d (at least once)"
          % (figures.records, figures.lost, figures.duplicates["file"], figures.duplicates["pg"],
             figures.duplicates["kafka"]))
    if ok:
        print("io_failures: PASS (%.1f s)" % (time.monotonic() - st._T0))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
