"""faults.crash_points: sluice killed at every named crash point, and by
kill -9 at random moments, loses no record; on the effectively-once paths
it duplicates none either.

The crash points are the SL_CRASH_POINT("name") lines of runtime/ and
plugins/ (sluice/fault.h): this script reads them from the sources, so a new
point is tested as soon as it is written.  Each path below is a small
pipeline (RECORDS records, paced so that a run lasts about a second);
a first run of every path with SLUICE_CRASH_LOG says which points it passes
and how often.  A point no path reaches fails the test.

Then, for each point, RUNS_PER_POINT times (on the paths that reach it, in
turn): a fresh copy of the path runs with SLUICE_CRASH_AT=point:N (N drawn
from the hits the first run counted), must die by SIGKILL at that point
(its stderr line says so), is started again without it and runs to the
end; then every input id must be in the output, and on the
effectively-once paths (file -> pg.sink as the only sink; Kafka to Kafka
with exactly_once, read with read_committed; sluice publish, by key) none
twice.  Kafka -> pg.sink is at least once (docs/kafka.md, "Not covered").  On the at-least-once
paths the duplicates of a kill are bounded (docs/operating.md, "Delivery
guarantees"): BATCH + MAX_INFLIGHT, plus, for a Kafka source, what one
commit_interval acknowledges.  Finally RANDOM_KILLS runs of random paths
are killed with SIGKILL after a random delay within their run and
checked the same way.

Every choice (path, N, delay) comes from the seed, printed first; --seed
replays a run's choices (not its timing).

  crash_points.py [SLUICE] [--soak] [--seed N] [--points REGEX] [--jobs J] [--verbose]

SLUICE defaults to $SLUICE_BIN, else build/sluice.  --soak: SOAK_PER_POINT
runs per point and SOAK_RANDOM_KILLS random kills.  Needs the Kafka and
PostgreSQL of scripts/test (SLUICE_KAFKA_BOOTSTRAP, SLUICE_PG_DSN)."""

import concurrent.futures
import contextlib
import os
import random
import re
import shutil
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import kafkatest as kt  # noqa: E402
import pgtest  # noqa: E402
import publishtest as pt  # noqa: E402
import sluicetest as st  # noqa: E402

RECORDS = 1000
BATCH = 50
MAX_INFLIGHT = 200
WORKERS = 2
RATE = 1000                 # records a second through each worker's paced step
COMMIT_INTERVAL_S = 0.05    # kafka.source's commit_interval
COMMIT_SLACK_S = 0.2        # how late a commit may reach the broker
RUNS_PER_POINT = 3
RANDOM_KILLS = 30
SOAK_PER_POINT = 10
SOAK_RANDOM_KILLS = 200
RUN_TIMEOUT = 120

QUIET = re.compile(r"start \w+-\d+: |: send SIG|\w+-\d+ exited with")
_print_lock = threading.Lock()
_log = st.log


def log(message):
    """st.log for several threads: one line at a time, and without the
    lines of each start, signal and exit unless --verbose."""
    if log.verbose or not QUIET.search(message):
        with _print_lock:
            _log(message)


log.verbose = False
st.log = log   # sluicetest's Run logs through its module's log

POINT_RE = re.compile(r'SL_CRASH_POINT\("([^"]+)"\)')


def find_points():
    """{name: "file:line"} of every SL_CRASH_POINT in runtime/ and plugins/."""
    points = {}
    for top in ("runtime", "plugins"):
        for root, _, files in os.walk(os.path.join(REPO, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(root, f)
                with open(path, encoding="utf-8", errors="replace") as src:
                    for number, line in enumerate(src, 1):
                        for name in POINT_RE.findall(line):
                            points.setdefault(name, "%s:%d" % (os.path.relpath(path, REPO), number))
    return points


# ------------------------------------------------------------------ paths --

PIPELINE = """local sl = require "sluice"
%(pacer)sreturn sl.pipeline {
  name = "%(name)s",
  workers = %(workers)d,
  batch_size = %(batch)d,
  max_inflight_records = %(inflight)d,%(eo)s
  sources = { %(source)s },
  steps = { function (rec) pace(); return rec end },
  sinks = { %(sink)s },
  dlq = %(dlq)s,
}
"""

FILE_DLQ = 'sl.file.sink { path = "dlq.jsonl" }'


class Path:
    """One pipeline shape.  prepare() makes a fresh copy of it in the case's
    work folder (its own topics, tables, state); ids() reads its output."""

    name = ""
    eo = False                # effectively once: no duplicate allowed
    ends = True               # the source ends by itself (a file)
    kafka_source = False
    limit = None              # a semaphore bounding the cases of this path at once

    def __init__(self, env):
        self.env = env        # brokers, db

    def write(self, t, case, source, sink, dlq=FILE_DLQ, eo=False):
        st.write_pipeline(t.dir, PIPELINE % {
            "pacer": kt.pacer(RATE), "name": "%s_%s" % (self.env["db"].schema, case),
            "workers": WORKERS, "batch": BATCH, "inflight": MAX_INFLIGHT, "eo": "\n  exactly_once = true," if eo else "",
            "source": source, "sink": sink, "dlq": dlq})

    def start(self, t, env):
        return t.start(env=env)

    def cleanup(self, t):
        """Frees what prepare() took on the servers beyond the test's schema."""

    def complete(self, t):
        """Whether the output holds every id (for sources that never end)."""
        return len(set(self.ids(t))) >= RECORDS

    def dup_bound(self):
        """Duplicates one kill may cause: the records in flight, not yet
        covered by a saved checkpoint; for a Kafka source, also those acked
        since its last offset commit (every commit_interval, plus the
        commit's way to the broker)."""
        bound = BATCH + MAX_INFLIGHT
        if self.kafka_source:
            bound += int(WORKERS * RATE * (COMMIT_INTERVAL_S + COMMIT_SLACK_S))
        return bound


def kafka_input(t, brokers, topic):
    """Ids 1..RECORDS into a new topic."""
    kt.write_input(t.path("in.jsonl"), RECORDS)
    kt.produce_file(brokers, topic, t.path("in.jsonl"))


def kafka_source(brokers, topic, group):
    return ('sl.kafka.source { brokers = "%s", topics = { "%s" }, group = "%s", commit_interval = "%dms", '
            'librdkafka = %s }' % (brokers, topic, group, COMMIT_INTERVAL_S * 1000, kt.lua_table(kt.FAST_GROUP)))


FILE_SINK = 'sl.file.sink { path = "out.jsonl" }'


class ToFile(Path):
    """A path into out.jsonl."""

    def records(self, t):
        records, torn = st.read_jsonl(t.path("out.jsonl"))
        st.assert_no_torn(torn, "out.jsonl")
        return records

    def ids(self, t):
        return st.ids_of(self.records(t), "out.jsonl")

    def complete(self, t):
        return st.count_lines(t.path("out.jsonl")) >= RECORDS and Path.complete(self, t)


class FileToFile(ToFile):
    name = "file->file"

    def prepare(self, t, case):
        kt.write_input(t.path("in.jsonl"), RECORDS)
        self.write(t, case, 'sl.file.source { path = "in.jsonl" }', FILE_SINK)


class KafkaToFile(ToFile):
    name = "kafka->file"
    ends = False
    kafka_source = True

    def prepare(self, t, case):
        b = self.env["brokers"]
        t.topic_in = "crash-%s-in-%s" % (case, kt.unique("kf"))
        kafka_input(t, b, t.topic_in)
        self.write(t, case, kafka_source(b, t.topic_in, t.topic_in), FILE_SINK)


class KafkaToKafka(Path):
    name = "kafka->kafka"
    ends = False
    kafka_source = True
    exactly_once = False

    def prepare(self, t, case):
        b = self.env["brokers"]
        tag = "crash-%s-%s" % (case, kt.unique("kk"))
        t.topic_in, t.topic_out = tag + "-in", tag + "-out"
        kafka_input(t, b, t.topic_in)
        sink = ('sl.kafka.sink { brokers = "%s", topic = "%s"%s }'
                % (b, t.topic_out, ', commit_interval = "50ms"' if self.exactly_once else ""))
        dlq = 'sl.kafka.sink { brokers = "%s", topic = "%s-dlq" }' % (b, tag)
        self.write(t, case, kafka_source(b, t.topic_in, tag), sink, dlq=dlq, eo=self.exactly_once)

    def complete(self, t):
        return kt.end_offsets(self.env["brokers"], t.topic_out) >= RECORDS and Path.complete(self, t)

    def ids(self, t):
        return kt.ids_in(self.env["brokers"], t.topic_out)   # read_committed


class KafkaToKafkaExactlyOnce(KafkaToKafka):
    name = "kafka->kafka exactly_once"
    eo = True
    exactly_once = True


class FileToPg(Path):
    name = "file->pg.sink"
    eo = True

    def prepare(self, t, case):
        db = self.env["db"]
        t.table = db.t("out_%s" % case)
        db.sql("CREATE TABLE %s (id bigint, name text, dept text, pad text)" % t.table)
        kt.write_input(t.path("in.jsonl"), RECORDS)
        self.write(t, case, 'sl.file.source { path = "in.jsonl", name = "src" }',
                   'sl.pg.sink { dsn = %s, table = "%s", mode = "insert" }' % (pgtest.lua_str(db.dsn), t.table))

    def ids(self, t):
        return [int(r[0]) for r in self.env["db"].sql("SELECT id FROM %s" % t.table)]


class KafkaToPg(FileToPg):
    """At least once (docs/kafka.md: kafka.source does not hand pg.sink
    per-partition positions yet, so it resumes from its committed offsets)."""
    name = "kafka->pg.sink"
    eo = False
    ends = False
    kafka_source = True

    def prepare(self, t, case):
        db, b = self.env["db"], self.env["brokers"]
        t.table = db.t("out_%s" % case)
        db.sql("CREATE TABLE %s (id bigint, name text, dept text, pad text)" % t.table)
        t.topic_in = "crash-%s-in-%s" % (case, kt.unique("kp"))
        kafka_input(t, b, t.topic_in)
        self.write(t, case, kafka_source(b, t.topic_in, t.topic_in),
                   'sl.pg.sink { dsn = %s, table = "%s", mode = "insert" }' % (pgtest.lua_str(db.dsn), t.table))

    def complete(self, t):
        row = self.env["db"].sql("SELECT count(DISTINCT id) FROM %s" % t.table)
        return int(row[0][0]) >= RECORDS


class PgToFile(ToFile):
    name = "pg.source->file"
    ends = False

    def prepare(self, t, case):
        db = self.env["db"]
        table = db.t("in_%s" % case)
        db.sql("CREATE TABLE %s (id bigint PRIMARY KEY, name text); INSERT INTO %s "
               "SELECT g, 'resident ' || g FROM generate_series(1, %d) g" % (table, table, RECORDS))
        self.write(t, case, 'sl.pg.source { dsn = %s, table = "%s", watermark = "id", every = "100ms", '
                   'name = "src" }' % (pgtest.lua_str(db.dsn), table), FILE_SINK)


class CdcToFile(ToFile):
    """pg.cdc from a slot made before the rows go in (snapshot = false), so
    that every row arrives through the stream: its positions, saved per
    batch, and its feedback to the server (status_interval 100ms)."""
    name = "pg.cdc->file"
    ends = False
    # Replication slots are few (max_replication_slots) and shared.
    limit = threading.Semaphore(2)

    def prepare(self, t, case):
        db = self.env["db"]
        t.slot = "%s_%s" % (db.schema, case)
        table = db.t("ev_%s" % case)
        db.sql("CREATE TABLE %s (id bigint PRIMARY KEY, v int); CREATE PUBLICATION %s FOR TABLE %s"
               % (table, t.slot, table))
        db.sql("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')" % t.slot)
        db.sql("DO $$ BEGIN FOR k IN 0..%d LOOP INSERT INTO %s SELECT g, k FROM generate_series(k * %d + 1, "
               "(k + 1) * %d) g; COMMIT; END LOOP; END $$" % (RECORDS // BATCH - 1, table, BATCH, BATCH))
        self.write(t, case, 'sl.pg.cdc { dsn = %s, slot = "%s", publication = "%s", snapshot = false, '
                   'status_interval = "100ms", name = "cdc" }' % (pgtest.lua_str(db.dsn), t.slot, t.slot),
                   FILE_SINK)

    def ids(self, t):
        return [r["after"]["id"] for r in self.records(t)]

    def cleanup(self, t):
        if not getattr(t, "slot", None):
            return
        db = self.env["db"]
        # The walsender of a killed run may hold the slot a moment longer.
        st.wait_until(lambda: db.one("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '%s' "
                                     "AND active" % t.slot) == "0", 30, "slot %s to be released" % t.slot,
                      interval=0.1)
        db.drop_replication(t.slot)


class Publish(Path):
    """`sluice publish` of a CSV of RECORDS rows to a topic: a re-run after
    a crash resumes from its journal and finds on the topic the rows the
    killed run sent but did not record, so every key is there once."""
    name = "sluice publish"
    eo = True

    def prepare(self, t, case):
        t.topic_out = "crash-%s-%s.v1" % (case, kt.unique("pub"))
        t.catalog = pt.write_catalog(t, t.topic_out)
        pt.write_sheets({"files": [{"path": t.path("births.csv"), "kind": "csv", "encoding": "utf-8",
                                    "header": pt.HEADER, "generate": {"n": RECORDS}}]}, t.path("sheets"))

    def start(self, t, env):
        cmd = [t.sluice, "publish", "--catalog", t.catalog, "--feed", pt.FEED, "--no-progress",
               "--bootstrap", self.env["brokers"], "births.csv"]
        t._count += 1
        return st.Run(t, cmd, t.dir, dict(os.environ, **env), "publish-%d" % t._count)

    def ids(self, t):
        return [int(k[1:]) for k in kt.consume(self.env["brokers"], t.topic_out, fmt="%k\\n")]


PATHS = (FileToFile, KafkaToFile, KafkaToKafka, KafkaToKafkaExactlyOnce, FileToPg, KafkaToPg, PgToFile,
         CdcToFile, Publish)


# ------------------------------------------------------------------ runs --

class Stop(Exception):
    """The case cannot go on (another case failed)."""


def run_to_end(t, path, env):
    """Starts sluice and waits until it exits: by itself (a file source),
    by a crash point, or by the SIGTERM sent once the output is complete.
    Returns (exit code, run)."""
    run = path.start(t, env)
    deadline = time.monotonic() + RUN_TIMEOUT
    termed = False
    while True:
        code = run.exit_code()
        if code is not None:
            return code, run
        # SIGTERM once sluice runs the pipeline (before, it would die of it).
        if not path.ends and not termed and "running pipeline.lua" in run.stderr_text() and path.complete(t):
            run.signal(signal.SIGTERM)
            termed = True
        if time.monotonic() > deadline:
            run.proc.kill()
            run.wait(10)
            st.fail("%s did not finish within %d s" % (run.name, RUN_TIMEOUT))
        time.sleep(0.05)


def finish_and_check(t, path):
    """Runs the path to its end without faults; returns (records read,
    lost ids, duplicates)."""
    code, _ = run_to_end(t, path, {})
    st.assert_eq(code, 0, "exit code of the run after the kill")
    ids = path.ids(t)
    seen = set(ids)
    extra = sorted(i for i in seen if not 1 <= i <= RECORDS)
    st.assert_eq(extra, [], "ids that were never input")
    return len(ids), [i for i in range(1, RECORDS + 1) if i not in seen], len(ids) - len(seen)


def check(path, kills, lost, dups):
    if lost:
        st.fail("%s: %d of %d ids lost, first %s" % (path.name, len(lost), RECORDS, lost[:10]))
    if path.eo:
        st.assert_eq(dups, 0, "%s (effectively once): duplicated records" % path.name)
    else:
        st.assert_le(dups, path.dup_bound() * kills, "%s: duplicated records after %d kill(s)"
                     % (path.name, kills))


class Case:
    def __init__(self, index, path_cls, point=None, hit=1, delay=0.0):
        self.index, self.path_cls, self.point, self.hit, self.delay = index, path_cls, point, hit, delay

    def describe(self):
        what = ("%s:%d" % (self.point, self.hit)) if self.point else ("kill -9 after %.2f s" % self.delay)
        return "case %d: %s on %s" % (self.index, what, self.path_cls.name)


class Suite:
    def __init__(self, sluice, env, keep):
        self.sluice, self.env, self.keep = sluice, env, keep
        self.lock = threading.Lock()
        self.failures = []
        self.records = self.kills = self.lost = self.eo_duplicated = self.alo_duplicated = self.max_alo_dup = 0
        self.not_reached = []

    def test(self, name):
        return st.Test(self.sluice, name)

    def done(self, t, ok):
        if not ok:
            with _print_lock:
                t.print_logs(30)
        if ok or not self.keep:
            shutil.rmtree(t.dir, ignore_errors=True)
        else:
            print("work folder kept: %s" % t.dir, flush=True)

    def learn(self, path_cls):
        """A run without faults that logs the points reached: {point: hits},
        and how long the run took."""
        t = self.test("crash-learn")
        path = path_cls(self.env)
        ok = False
        try:
            path.prepare(t, "learn%d" % PATHS.index(path_cls))
            started = time.monotonic()
            code, _ = run_to_end(t, path, {"SLUICE_CRASH_LOG": t.path("crash.log")})
            took = time.monotonic() - started
            st.assert_eq(code, 0, "%s: exit code of the run without faults" % path.name)
            ids = path.ids(t)
            st.assert_eq(sorted(set(ids)), list(range(1, RECORDS + 1)), "%s: ids out" % path.name)
            hits = {}
            with open(t.path("crash.log")) as f:
                for line in f:
                    hits[line.strip()] = hits.get(line.strip(), 0) + 1
            ok = True
            return hits, took
        finally:
            path.cleanup(t)
            self.done(t, ok)

    def run_case(self, case):
        if self.failures:
            raise Stop()
        limit = case.path_cls.limit or contextlib.nullcontext()
        with limit:
            self.run_limited(case)

    def run_limited(self, case):
        t = self.test("crash-%d" % case.index)
        path = case.path_cls(self.env)
        started = time.monotonic()
        ok = False
        try:
            path.prepare(t, str(case.index))
            if case.point:
                kills = self.crash_at(t, path, case)
            else:
                kills = self.kill_at(t, path, case)
            n, lost, dups = finish_and_check(t, path)
            with self.lock:
                self.records += RECORDS
                self.kills += kills
                self.lost += len(lost)
                if path.eo:
                    self.eo_duplicated += dups
                else:
                    self.alo_duplicated += dups
                    self.max_alo_dup = max(self.max_alo_dup, dups)
            check(path, kills, lost, dups)
            st.log("%s: ok, %d read, %d duplicated, %.1f s%s" % (
                case.describe(), n, dups, time.monotonic() - started, "" if kills else " (finished before the kill)"))
            ok = True
        except st.Failure as e:
            with self.lock:
                self.failures.append("%s: %s" % (case.describe(), e))
            log("FAIL %s: %s" % (case.describe(), e))
        finally:
            path.cleanup(t)
            self.done(t, ok)

    def crash_at(self, t, path, case):
        for hit in (case.hit, 1):
            code, run = run_to_end(t, path, {"SLUICE_CRASH_AT": "%s:%d" % (case.point, hit)})
            if code == -signal.SIGKILL:
                line = "sluice: crash point %s (hit %d): SIGKILL" % (case.point, hit)
                st.assert_true(line in run.stderr_text(), "%s: stderr of the killed run" % case.describe(),
                               "expected the line %r" % line)
                return 1
            st.assert_eq(code, 0, "%s: exit code of the armed run" % case.describe())
            # This run passed the point fewer times than the first: try hit 1 on a fresh copy.
            with self.lock:
                self.not_reached.append("%s (hit %d)" % (case.point, hit))
            path.cleanup(t)
            t.reset("state", "out.jsonl", "dlq.jsonl")
            path.prepare(t, "%dr" % case.index)
        st.fail("%s: the point was not reached, not even at hit 1" % case.describe())

    def kill_at(self, t, path, case):
        run = path.start(t, {})
        deadline = time.monotonic() + case.delay
        while time.monotonic() < deadline and run.exit_code() is None:
            time.sleep(0.01)
        if run.exit_code() is not None:
            st.assert_eq(run.exit_code(), 0, "%s: exit code before the kill" % case.describe())
            return 0
        run.signal(signal.SIGKILL)
        st.assert_eq(run.wait(30), -signal.SIGKILL, "%s: exit status of the killed run" % case.describe())
        return 1


def plan(rng, points, reach, hits, took, per_point, random_kills):
    """The cases: per_point per point, over the paths that reach it in
    turn; then random_kills on random paths at random moments."""
    cases = []
    for point in sorted(points):
        paths = sorted(reach[point], key=PATHS.index)
        first = rng.randrange(len(paths))
        for k in range(per_point):
            p = paths[(first + k) % len(paths)]
            top = max(1, hits[p][point] * 2 // 3)
            cases.append(Case(len(cases) + 1, p, point=point, hit=rng.randint(1, top)))
    for _ in range(random_kills):
        p = rng.choice(PATHS)
        cases.append(Case(len(cases) + 1, p, delay=rng.uniform(0.05, took[p] * 0.8)))
    return cases


def main():
    def options(ap):
        ap.add_argument("--points", default=None, help="only the points matching this regex (no random kills)")
        ap.add_argument("--verbose", action="store_true", help="log every start, signal and exit")
        ap.add_argument("--jobs", type=int, default=int(os.environ.get("SLUICE_CRASH_JOBS", "6")))
    args = st.parse_args(__doc__, extra=options)
    log.verbose = args.verbose
    # CI's choices are the same every run (seed 1); each soak draws new ones.
    seed = args.seed if args.seed is not None else (
        random.SystemRandom().randrange(1 << 31) if args.soak else 1)
    per_point = SOAK_PER_POINT if args.soak else RUNS_PER_POINT
    random_kills = 0 if args.points else SOAK_RANDOM_KILLS if args.soak else RANDOM_KILLS
    print("crash_points: seed %d (replay with --seed %d)%s" % (seed, seed, " --soak" if args.soak else ""),
          flush=True)
    sluice = os.path.abspath(args.sluice)
    if not os.access(sluice, os.X_OK):
        print("crash_points: FAIL: sluice binary %s is missing" % sluice)
        return 1
    t0 = time.monotonic()
    env = {"brokers": kt.bootstrap(), "db": pgtest.Db("crash")}
    suite = Suite(sluice, env, os.environ.get("SLUICE_TEST_KEEP") == "1")
    try:
        return body(suite, seed, args, per_point, random_kills, t0)
    finally:
        env["db"].drop()


def body(suite, seed, args, per_point, random_kills, t0):
    points = find_points()
    if args.points:
        points = {p: w for p, w in points.items() if re.search(args.points, p)}
    hits, took, reach = {}, {}, {}
    for p in PATHS:
        hits[p], took[p] = suite.learn(p)
        st.log("%s: %.1f s, points reached: %s" % (p.name, took[p], ", ".join(
            "%s x%d" % kv for kv in sorted(hits[p].items()))))
        for point in hits[p]:
            reach.setdefault(point, []).append(p)
    unknown = sorted(set(reach) - set(find_points()))
    unreached = sorted(p for p in points if p not in reach)
    if unknown:
        print("crash_points: FAIL: points logged but not found in the sources: %s" % unknown)
        return 1
    if unreached:
        print("crash_points: FAIL: %d point(s) no path reaches:" % len(unreached))
        for p in unreached:
            print("  %s (%s)" % (p, points[p]))
        return 1
    rng = random.Random(seed)
    cases = plan(rng, points, reach, hits, took, per_point, random_kills)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(suite.run_case, c) for c in cases]
        for f in futures:
            try:
                f.result()
            except Stop:
                pass
    wall = time.monotonic() - t0
    if suite.not_reached:
        st.log("armed at a hit this run did not reach (retried at hit 1): %s" % ", ".join(suite.not_reached))
    print("figure: crash points: %d points x %d + %d random kills, %d runs, %d kills, %d records, "
          "%d lost, %d duplicated on the effectively-once paths (at least once: %d, at most %d per run), "
          "%.0f s, seed %d"
          % (len(points), per_point, random_kills, len(cases), suite.kills, suite.records,
             suite.lost, suite.eo_duplicated, suite.alo_duplicated,
             suite.max_alo_dup, wall, seed), flush=True)
    if suite.failures:
        print("\ncrash_points: FAIL (%d): seed %d\n  %s" % (len(suite.failures), seed,
                                                           "\n  ".join(suite.failures)))
        return 1
    print("crash_points: PASS (%.1f s)" % wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
