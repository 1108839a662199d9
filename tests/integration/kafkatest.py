"""Helpers for the Kafka integration tests (test_kafka_*.py), on top of
sluicetest. Everything talks to a real broker started by scripts/kafka.

Where the broker is: $SLUICE_KAFKA_BOOTSTRAP, else the bootstrap file of
$SLUICE_KAFKA_DIR or <repo>/.run/kafka (written by `scripts/kafka start`, which scripts/test runs before the tests),
else this module runs `scripts/kafka start` itself.

Messages are produced and read with kcat. Progress is watched through the
topics' end offsets (`kcat -Q`), never by sleeping: a test waits until an
output topic holds at least N messages, then reads it once.
"""

import json
import os
import re
import socket
import struct
import subprocess
import time

import sluicetest as st

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "kafka")

# Consumer settings for tests: a member that died (kill -9) is noticed
# after 6 s instead of 45 s (6 s is the broker's smallest session timeout).
FAST_GROUP = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
# FAST_GROUP plus librdkafka's consumer-group debug log (joins, assignments,
# the committed offset each assigned partition starts from), for a group
# test that may have to explain a member that reads nothing (group_report).
# sluice logs it at --log-level debug: about two lines a second, most of
# them heartbeats.
DEBUG_GROUP = dict(FAST_GROUP, debug="cgrp")


def bootstrap():
    env = os.environ.get("SLUICE_KAFKA_BOOTSTRAP")
    if env:
        return env
    run_dir = os.environ.get("SLUICE_KAFKA_DIR") or os.path.join(REPO, ".run", "kafka")
    path = os.path.join(run_dir, "bootstrap")
    if os.path.exists(path):
        with open(path) as f:
            value = f.read().strip()
        if value and kafka_answers(value):
            return value
    st.log("no running Kafka found: scripts/kafka start")
    out = subprocess.run([SCRIPT, "start"], check=True, stdout=subprocess.PIPE,
                         text=True, timeout=300).stdout
    return out.strip().splitlines()[-1]


def kafka_answers(brokers):
    r = subprocess.run(["kcat", "-b", brokers, "-L", "-m", "5"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
    return r.returncode == 0


def port_open(host, port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((host, port)) == 0


def cluster(action, *args, env=None, timeout=300):
    """Runs scripts/kafka ACTION ARGS with extra environment (e.g. another
    SLUICE_KAFKA_DIR); returns its last stdout line."""
    full = dict(os.environ)
    full.update(env or {})
    st.log("scripts/kafka %s %s" % (action, " ".join(args)))
    r = subprocess.run([SCRIPT, action] + list(args), env=full, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if r.returncode != 0:
        st.fail("scripts/kafka %s failed (%d): %s" % (action, r.returncode, r.stderr[-2000:]))
    lines = r.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def unique(prefix):
    """A topic or group name no earlier run used."""
    return "%s-%d-%d" % (prefix, os.getpid(), int(time.time() * 1000) % 100000000)


def pacer(per_second):
    """Lua defining pace(), which a step calls once per record to hold each
    worker to about per_second records a second (wall clock): it paces a
    test's stream so that the test certainly acts mid-stream, however busy
    the machine is.  Put it before `return sl.pipeline`."""
    return """local pace_n, pace_t0 = 0, nil
local function pace()
  pace_t0 = pace_t0 or sl.now_ms()
  pace_n = pace_n + 1
  local due = pace_t0 + pace_n * %g
  while sl.now_ms() < due do end
end
""" % (1000.0 / per_second)


def lua_table(d):
    return "{ %s }" % ", ".join('["%s"] = "%s"' % (k, v) for k, v in sorted(d.items()))


# ----------------------------------------------------------------- topics --

def partitions(brokers, topic):
    """Number of partitions of topic, 0 if it does not exist (yet)."""
    r = subprocess.run(["kcat", "-b", brokers, "-L", "-t", topic, "-m", "10"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30)
    m = re.search(r'topic "%s" with (\d+) partitions' % re.escape(topic), r.stdout)
    return int(m.group(1)) if m else 0


def create_topic(brokers, topic, configs=None, timeout=60):
    """Creates topic by asking for its metadata (the brokers auto-create
    topics: 4 partitions, replication 1 or 3 as scripts/kafka sets), waits
    until it has partitions, then sets the topic configs given."""
    st.wait_until(lambda: partitions(brokers, topic) > 0, timeout, "topic %s to exist" % topic,
                  interval=0.2)
    if configs:
        kafka_config(brokers, topic, configs)


def kafka_home():
    cache = os.path.realpath(os.environ.get("SLUICE_CACHE") or
                             os.path.expanduser("~/.cache/sluice"))
    version = os.environ.get("SLUICE_KAFKA_VERSION", "4.1.1")
    return os.path.join(cache, "kafka-%s" % version)


def kafka_config(brokers, topic, configs):
    """Sets topic configs with Kafka's own ConfigCommand (a JVM: ~1 s)."""
    add = ",".join("%s=%s" % kv for kv in sorted(configs.items()))
    cmd = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx128m",
           "-cp", os.path.join(kafka_home(), "lib", "*"), "kafka.admin.ConfigCommand",
           "--bootstrap-server", brokers.split(",")[0], "--entity-type", "topics",
           "--entity-name", topic, "--alter", "--add-config", add]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120)
    if r.returncode != 0 or "Completed updating config" not in r.stdout:
        st.fail("setting %s on topic %s failed: %s" % (add, topic, r.stdout[-1500:]))


def partition_ends(brokers, topic, nparts=None):
    """The end offset of each partition of topic, by partition ({} while
    the topic does not exist)."""
    n = nparts or partitions(brokers, topic)
    if n == 0:
        return {}
    args = ["kcat", "-b", brokers, "-Q"]
    for p in range(n):
        args += ["-t", "%s:%d:-1" % (topic, p)]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=30)
    ends = {}
    for line in r.stdout.splitlines():
        m = re.search(r"\[(\d+)\]\s+offset (-?\d+)", line)
        if m:
            ends[int(m.group(1))] = max(int(m.group(2)), 0)
    return ends


def end_offsets(brokers, topic, nparts=None):
    """Sum of the end offsets of the topic's partitions (messages written)."""
    return sum(partition_ends(brokers, topic, nparts).values())


def wait_for_messages(brokers, topic, n, timeout, what=None, abort=None):
    """Waits until topic holds at least n messages; returns how many."""
    return st.wait_until(lambda: (lambda c: c if c >= n else 0)(end_offsets(brokers, topic)),
                         timeout, what or "%d messages in %s" % (n, topic), interval=0.25,
                         abort=abort)


# --------------------------------------------------------------- messages --

def produce_file(brokers, topic, path, extra=()):
    """Produces each line of path as one message (kcat -P -l)."""
    cmd = ["kcat", "-P", "-b", brokers, "-t", topic, "-l", "-X", "linger.ms=20",
           "-X", "enable.idempotence=true"] + list(extra) + [path]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if r.returncode != 0:
        st.fail("kcat -P into %s failed: %s" % (topic, r.stderr[-1500:]))


def produce_spread(brokers, topic, path):
    """Produces the lines of path over every partition of topic in turn
    (line i to partition i mod n): each partition gets an even share.
    produce_file leaves that to kcat's partitioner, which puts keyless
    messages in one random partition per batch window: a partition may get
    most of a file and another almost nothing."""
    n = partitions(brokers, topic)
    if n == 0:
        st.fail("produce_spread: topic %s does not exist" % topic)
    with open(path) as f:
        lines = f.readlines()
    for p in range(n):
        part = "%s.p%d" % (path, p)
        with open(part, "w") as f:
            f.write("".join(lines[p::n]))
        produce_file(brokers, topic, part, extra=["-p", str(p)])


def produce(brokers, topic, messages, key_sep=None, headers=(), extra=()):
    """Produces messages (strings; "key<sep>value" when key_sep is given),
    each with the given headers ("name=value")."""
    cmd = ["kcat", "-P", "-b", brokers, "-t", topic, "-X", "enable.idempotence=true"]
    if key_sep:
        cmd += ["-K", key_sep]
    for h in headers:
        cmd += ["-H", h]
    cmd += list(extra)
    r = subprocess.run(cmd, input="".join(m + "\n" for m in messages), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    if r.returncode != 0:
        st.fail("kcat -P into %s failed: %s" % (topic, r.stderr[-1500:]))


def consume(brokers, topic, fmt="%s\\n", timeout=300, committed=True):
    """Every message of topic as kcat formats it (-f fmt), as bytes lines.
    committed=False reads with read_uncommitted: also the messages of open
    and aborted transactions (a read_committed read waits for an open one)."""
    cmd = ["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt]
    if not committed:
        cmd += ["-X", "isolation.level=read_uncommitted"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        st.fail("kcat -C from %s failed: %s" % (topic, r.stderr[-1500:].decode("utf-8", "replace")))
    return r.stdout.split(b"\n")[:-1] if r.stdout else []


def count_by(brokers, topic, committed=True):
    """Messages of topic per value of their "by" field ("A", "B"; "?" when
    missing): which process of a group test wrote what."""
    counts = {}
    for line in consume(brokers, topic, committed=committed):
        who = "A" if b'"by":"A"' in line else "B" if b'"by":"B"' in line else "?"
        counts[who] = counts.get(who, 0) + 1
    return counts


def consume_records(brokers, topic):
    """Every message of topic as kcat -J gives it: a dict with topic,
    partition, offset, ts, headers (a list name, value, ...), key, payload."""
    r = subprocess.run(["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
                        "-J"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if r.returncode != 0:
        st.fail("kcat -C from %s failed: %s" % (topic, r.stderr[-1500:].decode("utf-8", "replace")))
    return [json.loads(line) for line in r.stdout.split(b"\n") if line.strip()]


def consume_json(brokers, topic):
    """Every message of topic as (headers dict, key, parsed JSON value)."""
    out = []
    for m in consume_records(brokers, topic):
        h = m.get("headers") or []
        headers = {h[i]: h[i + 1] for i in range(0, len(h) - 1, 2)}
        out.append((headers, m.get("key"), json.loads(m["payload"])))
    return out


def count(brokers, topic, committed=True):
    """Messages of topic a read_committed (or read_uncommitted) consumer
    sees: with transactions, end offsets also count aborted messages and
    markers.  0 while the topic does not exist."""
    if partitions(brokers, topic) == 0:
        return 0
    return len(consume(brokers, topic, fmt="x\\n", committed=committed))


ID_RE = re.compile(rb'"id":(\d+)')


def ids_in(brokers, topic, committed=True):
    """The "id" of every message of topic, in topic order per partition
    (committed=False: also those of open and aborted transactions)."""
    ids = []
    for line in consume(brokers, topic, committed=committed):
        m = ID_RE.search(line)
        if not m:
            st.fail("a message of %s has no id: %r" % (topic, line[:200]))
        ids.append(int(m.group(1)))
    return ids


def write_input(path, n, start=1, pad=60):
    """n JSON lines {"id":i,"name":...,"dept":...,"pad":...} for ids start..start+n-1."""
    with open(path, "w") as f:
        chunk = []
        for i in range(start, start + n):
            chunk.append('{"id":%d,"name":"resident %d","dept":"%s","pad":"%s"}\n'
                         % (i, i, st.DEPTS[i % 8], "x" * pad))
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))


def wait_for_all_ids(brokers, topic, n, timeout, abort=None):
    """Waits until topic holds every id 1..n (duplicates allowed); returns
    the ids.  Reads the topic only when it has grown since the last read."""
    deadline = time.monotonic() + timeout
    seen = 0
    while True:
        left = deadline - time.monotonic()
        count = wait_for_messages(brokers, topic, max(n, seen + 1), max(left, 0.1), abort=abort)
        ids = ids_in(brokers, topic)
        seen = max(count, len(ids))
        if len(set(ids)) >= n:
            return ids


def check_all_ids(ids, n, what):
    """Every id 1..n is present (duplicates allowed); returns the duplicates."""
    seen = set(ids)
    missing = [i for i in range(1, n + 1) if i not in seen]
    if missing:
        st.fail("%s: %d of %d ids missing, first %s" % (what, len(missing), n, missing[:10]))
    extra = [i for i in seen if not 1 <= i <= n]
    if extra:
        st.fail("%s: unexpected ids %s" % (what, sorted(extra)[:10]))
    return len(ids) - len(seen)


# ----------------------------------------------------------------- groups --

# librdkafka's group debug lines that say nothing about partitions.
_GROUP_NOISE = re.compile(r"librdkafka (HEARTBEAT|CGRPOP|DUMP\w*|CGRPTERM):")
_GROUP_LINES = 150


def start_member(t, who):
    """Starts a member of a group test: sluice with WHO=who in its
    environment, logging at debug level (with DEBUG_GROUP in the pipeline,
    librdkafka's group lines) and serving the admin endpoint on a free port
    (run.admin): what group_report reads."""
    admin = "127.0.0.1:%d" % st.free_port()
    run = t.start(env={"WHO": who}, args=["--log-level", "debug", "--admin", admin])
    run.who = who
    run.admin = admin
    return run


# kafka.source's line for a non-empty assignment; at debug level librdkafka's
# group lines also say "assigned" ("with 0 assigned partition(s)", and the
# leader's "Member ... assigned 2 partition(s)").
_ASSIGNED = re.compile(r'"msg":"assigned \d+ partitions?: ')


def has_partitions(run):
    """Whether the kafka.source of run (logging JSON) was assigned
    partitions."""
    return _ASSIGNED.search(run.stderr_text()) is not None


def start_pair(t, brokers, topic_in, topic_out, n):
    """The start of a group test (test_kafka_group, test_kafka_eos_group),
    with the pipeline written and both topics created: member A starts
    alone on topic_in, which holds ids 1..n/2 spread over its partitions;
    once n/4 messages are in topic_out, member B starts; once B has
    partitions, ids n/2+1..n go in, spread again, so that B's partitions
    certainly hold records it has to read (with everything produced up
    front, kcat's partitioner could leave them so few that A had read them
    all before the rebalance, and B resumed them at their ends and read
    nothing); returns (A, B) once n/2 messages are out.  A failed wait
    prints group_report."""
    write_input(t.path("in1.jsonl"), n // 2)
    write_input(t.path("in2.jsonl"), n - n // 2, start=n // 2 + 1)
    produce_spread(brokers, topic_in, t.path("in1.jsonl"))
    a = start_member(t, "A")
    wait_for_messages(brokers, topic_out, n // 4, 60, abort=a.exited)
    b = start_member(t, "B")
    try:
        st.wait_until(lambda: has_partitions(b), 30, "B to be assigned partitions",
                      abort=lambda: a.exited() or b.exited())
        produce_spread(brokers, topic_in, t.path("in2.jsonl"))
        wait_for_messages(brokers, topic_out, n // 2, 60, abort=lambda: a.exited() or b.exited())
    except st.Failure:
        group_report(brokers, topic_in, [a, b])
        raise
    return a, b


def group_report(brokers, topic, members):
    """Prints, for a failed wait in a group test, what the members (runs of
    start_member) knew of their partitions: the end offset of each
    partition of topic, then per member its /status, its consumer lag per
    partition and its consumer-group log without the heartbeats.  Its
    "Starting pending assigned partition P at offset N" lines, against the
    partition ends, say whether it had anything left to read; no such line
    after "Fetching committed offsets" is an offset fetch that did not
    finish; a lag (shown once it has read from a partition) that stays is
    a fetch that stopped; "paused":true is backpressure."""
    print("---- group report: %s partition ends %s ----" % (topic, partition_ends(brokers, topic)))
    for run in members:
        print("---- %s (%s) ----" % (run.who, run.name))
        try:
            _, status = st.http_get("http://%s/status" % run.admin)
            print("status: %s" % status.strip()[:1500])
            _, metrics = st.http_get("http://%s/metrics" % run.admin)
            for line in metrics.splitlines():
                if line.startswith("sluice_kafka_consumer_lag{"):
                    print(line)
        except OSError as e:
            print("admin endpoint %s: %s" % (run.admin, e))
        lines = []
        for line in run.stderr_text().splitlines():
            try:
                rec = json.loads(line)
                line = "%s %s %s" % (rec.get("time", "")[11:23], rec.get("level", ""), rec.get("msg", ""))
            except ValueError:
                pass
            if not _GROUP_NOISE.search(line):
                lines.append(line)
        if len(lines) > _GROUP_LINES:
            print("(last %d of %d lines)" % (_GROUP_LINES, len(lines)))
        for line in lines[-_GROUP_LINES:]:
            print(line)
    print("---- end of group report ----", flush=True)


# ------------------------------------------------------- committed offsets --

def _kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def committed_offsets(brokers, group, topic, nparts):
    """The offsets group has committed for topic's partitions 0..nparts-1,
    by partition (-1: none yet), asked of the group's coordinator with
    Kafka's OffsetFetch request (v1), over a plain socket: kcat cannot ask
    it, and the JVM tools take seconds.  The coordinator is found with
    FindCoordinator (v1)."""
    host, port = brokers.split(",")[0].rsplit(":", 1)
    body = _kstr(group) + struct.pack(">b", 0)              # key, key type: group
    resp = _kafka_call(host, int(port), 10, 1, body)
    err, = struct.unpack_from(">h", resp, 4)               # after throttle_time_ms
    if err:
        st.fail("FindCoordinator for group %s: error code %d" % (group, err))
    at = 6
    mlen, = struct.unpack_from(">h", resp, at)
    at += 2 + max(mlen, 0) + 4                              # error message, node id
    hlen, = struct.unpack_from(">h", resp, at)
    chost = resp[at + 2:at + 2 + hlen].decode()
    cport, = struct.unpack_from(">i", resp, at + 2 + hlen)
    body = _kstr(group) + struct.pack(">i", 1) + _kstr(topic) + struct.pack(">i", nparts)
    body += b"".join(struct.pack(">i", p) for p in range(nparts))
    resp = _kafka_call(chost, cport, 9, 1, body)
    offsets, at = {}, 0
    ntopics, = struct.unpack_from(">i", resp, at)
    at += 4
    for _ in range(ntopics):
        tlen, = struct.unpack_from(">h", resp, at)
        at += 2 + tlen
        nps, = struct.unpack_from(">i", resp, at)
        at += 4
        for _ in range(nps):
            part, off, mlen = struct.unpack_from(">iqh", resp, at)
            at += 14 + max(mlen, 0)
            err, = struct.unpack_from(">h", resp, at)
            at += 2
            if err:
                st.fail("OffsetFetch %s[%d] for group %s: error code %d" % (topic, part, group, err))
            offsets[part] = off
    return offsets


def _kafka_call(host, port, api_key, version, body):
    """Sends one request (header v1, client id "sluice-test") and returns
    the response after its correlation id."""
    head = struct.pack(">hhi", api_key, version, 1) + _kstr("sluice-test")
    msg = head + body
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(struct.pack(">i", len(msg)) + msg)
        size, = struct.unpack(">i", _recv_exact(s, 4))
        data = _recv_exact(s, size)
    return data[4:]


def _recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            st.fail("the broker closed the connection mid-response")
        data += chunk
    return data
