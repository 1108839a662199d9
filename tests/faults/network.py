"""faults.network: the broker and the database unreachable, slow and
dropping packets under load; no record is lost, none is written twice on
an effectively-once path, and the lag is back to zero within 30 s of each
fault ending.

A producer (kcat, straight to the broker) writes records {"id": 1, 2, ...}
at a steady rate the whole time, into a topic and a file.  Two (three)
sluice processes carry them, reaching the services only through fault proxies
(faultproxy.py):

  kafka  kafka.source -> pg.sink (insert, no unique key): at least once;
         kafka.source's positions are its group's offsets in Kafka, so a
         lost COMMIT answer or a lost assignment writes some rows again:
         counted, not refused;
  file   a followed file.source -> pg.sink: effectively once (the file's
         position commits with the rows): no duplicate;
  eos    (with --eos) kafka.source -> kafka.sink with exactly_once = true,
         read back read_committed: no duplicate.  Not in CI yet: every
         window recovers, but at the end the last transaction, which
         sluice saw commit (commit_transaction returned, in flight 0),
         stays invisible to read_committed readers for over a minute
         (its records are in the log, read_uncommitted sees them).

The broker is a Kafka instance of the test's own (scripts/kafka with
SLUICE_KAFKA_ADVERTISED_PORT, run dir .run/kafka-net, ports 39092
(clients), 39093 (controller), 39094 (the proxied listener), 39192 (the
proxy)); PostgreSQL is the project's server, through a proxy of its own.

Fault windows, one after the other, each on the broker or the database,
of a kind drawn from down, blackhole, halfopen, slow and lossy (see
faultproxy.py), seeded (--seed).  After each window:

  lag = the number of ids 1..M missing on a path (summed over the paths),
        where M is the last id the producer had written when the fault
        ended;
  recovery = seconds from the fault's end until that lag is 0, asserted
        <= 30 s.

At the end the producer stops and every id 1..N must be on every path,
exactly once on the file (and eos) paths; every run ends with exit 0 on
SIGTERM and nothing is a dead letter.

  python3 tests/faults/network.py [SLUICE] [--soak] [--eos] [--seed N] [--windows N]

SLUICE defaults to build/sluice.  CI: 50 windows of 0.5-1.5 s, halfopen
only in two of them.  --soak: 50 windows of 5-30 s, any kind (about 30
min); --windows N for another count.  The pipelines keep the defaults a
deployment has: librdkafka's session timeout (45 s), sluice's
socket.timeout.ms (10 s), pg.sink's retry_max (10 s) and answer_timeout
(20 s).
"""

import os
import random
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import kafkatest as kt  # noqa: E402
import pgtest  # noqa: E402
import sluicetest as st  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

KAFKA_ENV = {"SLUICE_KAFKA_DIR": os.path.join(kt.REPO, ".run", "kafka-net"),
             "SLUICE_KAFKA_PORT": "39092", "SLUICE_KAFKA_CONTROLLER_PORT": "39093",
             "SLUICE_KAFKA_PROXIED_PORT": "39094", "SLUICE_KAFKA_ADVERTISED_PORT": "39192",
             "SLUICE_KAFKA_HEAP": "-Xmx384m -Xms128m"}
BROKER_PROXY_PORT = 39192
KINDS = ("down", "blackhole", "halfopen", "slow", "lossy")
RECOVERY_LIMIT = 30.0
RATE = 300  # records a second

# Path 1, Kafka -> PostgreSQL, at least once: kafka.source's positions are
# its group's offsets in Kafka (it has no checkpoint a pg.sink could
# store), so a fault that costs the consumer its partitions, or a COMMIT
# whose answer is lost, writes some records again.  Counted, not refused.
KAFKA_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 200,
  max_inflight_records = 5000,
  sources = { sl.kafka.source { brokers = "127.0.0.1:%(proxy)d", topics = { "%(topic)s" },
                                group = "%(group)s" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert" } },
  dlq = sl.file.sink { path = "dlq-kafka.jsonl" },
}
"""

# Path 2, a followed file -> PostgreSQL, effectively once: pg.sink commits
# the file's position with the rows, and checks a lost COMMIT against it.
FILE_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 200,
  max_inflight_records = 5000,
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "insert" } },
  dlq = sl.file.sink { path = "dlq-file.jsonl" },
}
"""


# Path 3, Kafka -> Kafka with exactly_once = true: the consumer offsets
# commit in the producer's transactions, both through the broker's proxy
# (the transaction markers go broker to broker, not through it).  Read
# back with read_committed: every id once.
EOS_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 200,
  max_inflight_records = 5000,
  exactly_once = true,
  sources = { sl.kafka.source { brokers = "127.0.0.1:%(proxy)d", topics = { "%(topic)s" },
                                group = "%(group)s-eos" } },
  sinks = { sl.kafka.sink { brokers = "127.0.0.1:%(proxy)d", topic = "%(out)s" } },
  dlq = sl.file.sink { path = "dlq-eos.jsonl" },
}
"""


class Settings:
    def __init__(self, argv):
        self.soak = "--soak" in argv
        self.eos = "--eos" in argv
        self.seed = 14
        self.windows = 50
        self.sluice = os.path.join(kt.REPO, "build", "sluice")
        args = [a for a in argv[1:] if a not in ("--soak", "--eos")]
        while args:
            a = args.pop(0)
            if a == "--seed":
                self.seed = int(args.pop(0))
            elif a == "--windows":
                self.windows = int(args.pop(0))
            else:
                self.sluice = a
        self.length = (5.0, 30.0) if self.soak else (0.5, 1.5)


class Producer:
    """Writes {"id": i, ...} lines at RATE a second, into a kcat -P straight
    to the broker (never through a proxy) and appended to a file, until
    stop()."""

    def __init__(self, brokers, topic, path):
        self.proc = subprocess.Popen(
            ["kcat", "-P", "-b", brokers, "-t", topic, "-X", "linger.ms=5",
             "-X", "enable.idempotence=true"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.brokers, self.topic = brokers, topic
        self.file = open(path, "a")
        self.last = 0
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        t0 = time.monotonic()
        while not self.halt.is_set():
            due = int((time.monotonic() - t0) * RATE)
            if due > self.last:
                lines = "".join('{"id":%d,"pad":"%s"}\n' % (i, "x" * 80)
                                for i in range(self.last + 1, due + 1))
                self.proc.stdin.write(lines.encode())
                self.proc.stdin.flush()
                self.file.write(lines)
                self.file.flush()
                self.last = due
            self.halt.wait(0.02)

    def stop(self):
        self.halt.set()
        self.thread.join()
        self.file.close()
        self.proc.stdin.close()
        err = self.proc.stderr.read().decode(errors="replace")
        code = self.proc.wait(60)
        st.assert_eq(code, 0, "kcat -P exit code (stderr: %s)" % err[-500:])
        return self.last


class TablePath:
    """A pipeline that ends in a table of the test's schema, r_<name>."""

    def __init__(self, name, pipeline, db):
        self.name, self.pipeline, self.db = name, pipeline, db
        self.table = db.t("r_" + name)
        db.sql("CREATE TABLE %s (id bigint, pad text); CREATE INDEX ON %s (id)"
               % (self.table, self.table))

    def missing(self, m):
        """How many of the ids 1..m the table lacks: the path's lag."""
        return m - int(self.db.one("SELECT count(DISTINCT id) FROM %s WHERE id <= %d"
                                   % (self.table, m)))

    def counts(self):
        """(rows, distinct ids, min id, max id)."""
        return tuple(int(v) for v in self.db.sql(
            "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM %s" % self.table)[0])

    def close(self):
        pass


class TopicPath:
    """A pipeline that ends in a topic, read all along by a kcat -C
    (read_committed, straight to the broker) into a set of ids."""

    def __init__(self, name, pipeline, brokers, topic):
        self.name, self.pipeline = name, pipeline
        self.brokers, self.topic = brokers, topic
        kt.create_topic(brokers, topic)
        self.proc = subprocess.Popen(
            ["kcat", "-C", "-b", self.brokers, "-t", self.topic, "-o", "beginning", "-q", "-f",
             "%s\\n",
             "-X", "isolation.level=read_committed"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.seen, self.rows, self.prefix = set(), 0, 0
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            m = kt.ID_RE.search(line)
            if not m:
                continue
            with self.lock:
                self.rows += 1
                self.seen.add(int(m.group(1)))
                while self.prefix + 1 in self.seen:
                    self.prefix += 1

    def missing(self, m):
        with self.lock:
            return 0 if self.prefix >= m else len([i for i in range(self.prefix + 1, m + 1)
                                                   if i not in self.seen])

    def counts(self):
        with self.lock:
            return (self.rows, len(self.seen), min(self.seen, default=0),
                    max(self.seen, default=0))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def window_plan(cfg):
    """(where, kind, seconds) of each window: first every kind on each
    service, then drawn at random.  A halfopen window costs a timeout
    (10-20 s) to get out of, so in CI only the first two are halfopen."""
    rng = random.Random(cfg.seed)
    drawn = KINDS if cfg.soak else tuple(k for k in KINDS if k != "halfopen")
    plan = []
    for i in range(cfg.windows):
        if i < 2 * len(KINDS):
            where, kind = ("broker", "db")[i // len(KINDS)], KINDS[i % len(KINDS)]
        else:
            where, kind = rng.choice(("broker", "db")), rng.choice(drawn)
        plan.append((where, kind, rng.uniform(*cfg.length)))
    return plan


def body(t, cfg, db, brokers):
    topic, group = kt.unique("net-in"), kt.unique("net")
    kt.create_topic(brokers, topic)
    proxies = {
        "broker": FaultProxy("broker", BROKER_PROXY_PORT,
                             ("127.0.0.1", int(KAFKA_ENV["SLUICE_KAFKA_PROXIED_PORT"])),
                             seed=cfg.seed).start(),
        "db": FaultProxy("db", st.free_port(), ("127.0.0.1", pgtest.dsn_port(db.dsn)),
                         seed=cfg.seed + 1).start(),
    }
    paths = [TablePath("kafka", KAFKA_PIPELINE, db), TablePath("file", FILE_PIPELINE, db)]
    if cfg.eos:
        paths.append(TopicPath("eos", EOS_PIPELINE, brokers, topic + "-out"))
    try:
        # sluice reaches PostgreSQL through the database's proxy.
        dsn = pgtest.lua_str(pgtest.with_port(db.dsn, proxies["db"].listen_port))
        for path in paths:
            st.write_pipeline(t.dir, path.pipeline % {
                "name": pgtest.lua_str("%s_%s" % (db.schema, path.name)), "dsn": dsn,
                "table": pgtest.lua_str(db.t("r_" + path.name)), "proxy": BROKER_PROXY_PORT,
                "topic": topic, "group": group, "out": topic + "-out"},
                name=path.name + ".lua")
        producer = Producer(brokers, topic, t.path("in.jsonl"))
        try:
            runs = []
            for path in paths:
                admin = "127.0.0.1:%d" % st.free_port()
                runs.append(t.start(pipeline=path.name + ".lua",
                                    state_dir=t.path("state-" + path.name),
                                    args=["--admin", admin]))
                runs[-1].admin = admin
            recoveries, last = run_windows(cfg, paths, proxies, producer, runs)
        finally:
            producer.halt.set()
        check(t, paths, last, recoveries, cfg, proxies)
    finally:
        for p in proxies.values():
            p.stop()
        for path in paths:
            path.close()


def check(t, paths, last, recoveries, cfg, proxies):
    dups = {}
    for path in paths:
        st.assert_eq(st.count_lines(t.path("dlq-%s.jsonl" % path.name)), 0,
                     "dead letters of the %s path" % path.name)
        rows, distinct, low, high = path.counts()
        st.assert_eq((distinct, low, high), (last, 1, last),
                     "%s path: distinct ids, min, max" % path.name)
        dups[path.name] = rows - last
    report(cfg, recoveries, last, dups, proxies)
    for name in ("file", "eos"):
        if name in dups:
            st.assert_eq(dups[name], 0, "duplicates on the effectively-once path " + name)
    worst = max(recoveries)
    st.assert_le(worst[0], RECOVERY_LIMIT, "worst recovery (window %d, %s %s), seconds"
                 % worst[1:])


def run_windows(cfg, paths, proxies, producer, runs):
    """The fault windows under load; returns the recoveries (seconds,
    window, where, kind) and the last id produced."""
    def exited():
        return next((r.exited() for r in runs if r.exited()), None)

    def lag(m):
        return sum(path.missing(m) for path in paths)

    st.wait_until(lambda: lag(100) == 0, 60, "the first 100 records on every path",
                  interval=0.2, abort=exited)
    recoveries = []
    for n, (where, kind, length) in enumerate(window_plan(cfg), 1):
        proxies[where].set_mode(kind)
        t_fault = time.monotonic()
        time.sleep(length)  # the fault's window: its length is the point
        proxies[where].set_mode("pass")
        t_end = time.monotonic()
        m = producer.last
        try:
            st.wait_until(lambda: lag(m) == 0, RECOVERY_LIMIT + 30,
                          "window %d (%s %s): every id up to %d on every path"
                          % (n, where, kind, m), interval=0.1, abort=exited)
        except st.Failure as e:
            st.fail("%s; missing by path: %s" % (e, {p.name: p.missing(m) for p in paths}))
        rec = time.monotonic() - t_end
        st.log("window %2d: %-6s %-9s %4.1f s; ids <= %d on every path %4.1f s after its end"
               % (n, where, kind, t_end - t_fault, m, rec))
        recoveries.append((rec, n, where, kind))
    last = producer.stop()
    try:
        st.wait_until(lambda: lag(last) == 0, 60, "all %d ids on every path" % last,
                      interval=0.2, abort=exited)
    except st.Failure as e:
        report_stuck(paths, runs, last)
        st.fail("%s; missing by path: %s; the input topic holds %d" % (
            e, {p.name: p.missing(last) for p in paths},
            kt.end_offsets(producer.brokers, producer.topic)))
    for run in runs:
        run.signal(15)
    for run in runs:
        st.assert_eq(run.wait(60), 0, "exit code of %s after SIGTERM" % run.name)
    return recoveries, last


def report_stuck(paths, runs, last):
    """For a path that does not catch up: which ids it lacks, whether a
    topic holds them uncommitted, and each run's Kafka metrics."""
    for path in paths:
        gone = [i for i in range(1, last + 1) if path.missing(i) > path.missing(i - 1)] \
            if path.missing(last) else []
        if not gone:
            continue
        print("---- %s path lacks ids %s" % (path.name, gone[:20]))
        if isinstance(path, TopicPath):
            loose = set(kt.ids_in(path.brokers, path.topic, committed=False))
            print("     of those, read_uncommitted sees %s; partition ends %s"
                  % ([i for i in gone[:20] if i in loose],
                     kt.partition_ends(path.brokers, path.topic)))
    for run in runs:
        try:
            _, metrics = st.http_get("http://%s/metrics" % run.admin)
        except OSError as e:
            print("%s /metrics: %s" % (run.name, e))
            continue
        for line in metrics.splitlines():
            if line.startswith("sluice_kafka") or line.startswith("sluice_sink") or \
                    "inflight" in line:
                print("%s %s" % (run.name, line))


def report(cfg, recoveries, records, dups, proxies):
    times = sorted(r[0] for r in recoveries)
    worst = max(recoveries)
    kinds = {}
    for _, _, where, kind in recoveries:
        kinds["%s %s" % (where, kind)] = kinds.get("%s %s" % (where, kind), 0) + 1
    print("figure: network faults: %d windows of %.1f-%.1f s (seed %d): %s"
          % (len(recoveries), cfg.length[0], cfg.length[1], cfg.seed,
             ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    print("figure: network faults: %d records under load on each path, 0 lost; duplicated: "
          "file -> pg.sink %d, %skafka -> pg.sink %d (at least once)"
          % (records, dups["file"], "kafka -> kafka exactly_once %d, " % dups["eos"]
             if "eos" in dups else "", dups["kafka"]))
    print("figure: network faults: lag back to 0 after each fault: worst %.1f s (window %d, %s %s),"
          " median %.1f s" % (worst[0], worst[1], worst[2], worst[3], times[len(times) // 2]))
    for name, p in sorted(proxies.items()):
        print("figure: network faults: %s proxy: %s" % (name, p.counts()))


def ports_quiet(ports):
    """Whether no TCP socket of this host has one of ports as its local
    port (/proc/net/tcp, tcp6): not even one in TIME_WAIT, which the broker's
    listener cannot bind over."""
    hexes = {":%04X" % p for p in ports}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):  # the JVM's sockets are IPv6 ones
        with open(table) as f:
            next(f)
            if any(line.split()[1][-5:] in hexes for line in f):
                return False
    return True


def start_kafka():
    """Starts the test's own broker, once its ports are quiet: a previous
    run's connections to it linger in TIME_WAIT for a minute.  The ports lie
    in Linux's ephemeral range, so an outgoing connection may still take
    one in between: a start that fails is tried again."""
    ports = [int(KAFKA_ENV[k]) for k in ("SLUICE_KAFKA_PORT", "SLUICE_KAFKA_CONTROLLER_PORT",
                                         "SLUICE_KAFKA_PROXIED_PORT")]
    for attempt in range(3):
        st.wait_until(lambda: ports_quiet(ports), 120, "ports %s to be free" % ports,
                      interval=0.5)
        try:
            return kt.cluster("start", env=KAFKA_ENV)
        except st.Failure as e:
            if attempt == 2:
                raise
            st.log("the broker did not start (%s); again" % str(e)[-200:])


def main():
    cfg = Settings(sys.argv)
    sys.argv = [sys.argv[0], cfg.sluice]

    def test(t):
        brokers = start_kafka()
        db = pgtest.Db("net")
        try:
            body(t, cfg, db, brokers)
        finally:
            db.drop()
            kt.cluster("reset", env=KAFKA_ENV)

    st.main(test)


main()
