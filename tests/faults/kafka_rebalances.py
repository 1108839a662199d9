"""faults.kafka_rebalances: forced consumer-group rebalances under load.  A
producer keeps writing keyed records ({"id": n}) to a topic of 4
partitions; 2 or 3 sluice processes share it in one consumer group, and a
seeded random sequence of rebalances is forced: a member starts, a member
stops with SIGTERM, a member is killed with kill -9.  Two configurations:

  alo  at least once, Kafka -> a file per member.  After each rebalance
       and every half second while the test waits, the group's committed
       offsets (asked of the broker, OffsetFetch) are compared with what
       the sinks made durable: every record of a
       partition below its committed offset must be in a member's file
       (the step writes each record's partition and offset with it).  A
       committed offset ahead of that is a violation.  At the end every
       record is there; duplicates are allowed and counted.
  eos  exactly_once = true, Kafka -> Kafka: at the end a read_committed
       consumer sees each record exactly once.

Members live in 3 slots (WHO = M0, M1, M2): a start takes a free slot,
a killed slot first, so a restarted member has the killed one's
transactional_id and fences its open transaction (read_committed readers
would otherwise wait for its timeout).  Slots killed last are started
again at the end.  After each rebalance the test waits, with a deadline,
until a started member has partitions and every record produced up to a
batch after the rebalance is in the output: all partitions are consumed
again (a killed member's only once its session times out).  No fixed
sleeps.

  kafka_rebalances.py [SLUICE] [--soak] [--seed N] [--mode alo|eos|both]

CI: CI_ROUNDS rebalances per configuration; --soak: SOAK_ROUNDS."""

import json
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import kafkatest as kt  # noqa: E402
import sluicetest as st  # noqa: E402

CI_ROUNDS = 10
SOAK_ROUNDS = 20
SLOTS = ("M0", "M1", "M2")
PARTS = 4
BATCH = 100                 # records the producer writes each PRODUCE_TICK
PRODUCE_TICK = 0.15
KEYS = 64
# A killed member's open transaction holds its partitions' committed
# offsets (KIP-447: the next owner's offset fetch waits for it) until a
# member with its transactional_id starts or the transaction times out:
# 10 s instead of librdkafka's 60 s keeps a kill -9 round short.
TXN_TIMEOUT_MS = 10000

HEAD = """local sl = require "sluice"
%(pacer)slocal who = sl.env("WHO")
return sl.pipeline {
  name = "rebalances",
  workers = 2,
"""
SOURCE = """  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                commit_interval = "200ms", librdkafka = %(fast)s } },
  steps = {
    function (rec)
      pace()
      local m = rec:meta()
      rec.p, rec.o, rec.by = m.partition, m.offset, who
      return rec
    end,
  },
"""
ALO = HEAD + SOURCE + """  sinks = { sl.file.sink { path = "out-" .. who .. ".jsonl" } },
  dlq = sl.file.sink { path = "dlq-" .. who .. ".jsonl" },
}
"""
EOS = HEAD + """  exactly_once = true,
  max_inflight_records = 4096,
""" + SOURCE + """  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s",
                            transactional_id = "%(group)s-" .. who,
                            librdkafka = { ["transaction.timeout.ms"] = "%(txn_ms)d" } } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


class Producer(threading.Thread):
    """Produces BATCH keyed records every PRODUCE_TICK s (ids 1, 2, ...)."""

    def __init__(self, brokers, topic):
        super().__init__(daemon=True)
        self.brokers, self.topic = brokers, topic
        self.last = 0
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(PRODUCE_TICK):
                first = self.last + 1
                msgs = ['k%d|{"id":%d}' % (i % KEYS, i) for i in range(first, first + BATCH)]
                kt.produce(self.brokers, self.topic, msgs, key_sep="|")
                self.last += BATCH
        except Exception as e:  # reported by the main thread
            self.error = e


class FileOutputs:
    """The records the members wrote to out-*.jsonl, read incrementally."""

    def __init__(self, t):
        self.t = t
        self.read = {}          # file -> (offset, [records])

    def records(self):
        out = []
        for slot in SLOTS:
            path = self.t.path("out-%s.jsonl" % slot)
            offset, recs = self.read.get(path, (0, []))
            try:
                with open(path, "rb") as f:
                    if os.fstat(f.fileno()).st_size < offset:
                        offset, recs = 0, []   # a restarted sink cut a torn tail
                    f.seek(offset)
                    data = f.read()
            except FileNotFoundError:
                continue
            end = data.rfind(b"\n") + 1        # a torn last line is not durable yet
            for line in data[:end].splitlines():
                recs.append(json.loads(line))
            self.read[path] = (offset + end, recs)
            out.extend(recs)
        return out

    def ids(self):
        return [r["id"] for r in self.records()]


class Group:
    def __init__(self, t, names, mode, rng):
        self.t, self.names, self.mode, self.rng = t, names, mode, rng
        self.b = names["b"]
        self.live = {}            # slot -> run
        self.killed = []          # slots whose last member was killed
        self.kinds = {"start": 0, "SIGTERM": 0, "kill -9": 0}
        self.checks = 0
        self.files = FileOutputs(t) if mode == "alo" else None

    def start(self, count=True):
        free = [s for s in self.killed if s not in self.live] or \
               [s for s in SLOTS if s not in self.live]
        slot = free[0]
        if slot in self.killed:
            self.killed.remove(slot)
        run = self.t.start(env={"WHO": slot}, state_dir=self.t.path("state-%s-%s" % (self.mode, slot)))
        run.who = slot
        self.live[slot] = run
        if count:
            self.kinds["start"] += 1
        return run

    def stop(self, kind):
        slot = self.rng.choice(sorted(self.live))
        run = self.live.pop(slot)
        if kind == "SIGTERM":
            run.signal(signal.SIGTERM)
            st.assert_eq(run.wait(60), 0, "%s: exit code after SIGTERM" % slot)
        else:
            run.signal(signal.SIGKILL)
            st.assert_eq(run.wait(30), -signal.SIGKILL, "%s: exit status after kill -9" % slot)
            self.killed.append(slot)
        self.kinds[kind] += 1

    def abort(self):
        for slot, run in self.live.items():
            if not run.running():
                return "%s (%s) exited with code %s" % (slot, run.name, run.exit_code())
        return None

    def output_ids(self):
        if self.files:
            return self.files.ids()
        return kt.ids_in(self.b, self.names["out"], committed=False)

    def wait_covered(self, n, what, timeout=120):
        """Waits until ids 1..n are all in the output."""
        def covered():
            seen = set(self.output_ids())
            return all(i in seen for i in range(1, n + 1))
        def checked_and_covered():
            self.check_committed("while waiting for %s" % what)
            return covered()
        try:
            st.wait_until(checked_and_covered, timeout, what, interval=0.5, abort=self.abort)
        except st.Failure:
            kt.group_report(self.b, self.names["in"], list(self.live.values()))
            raise

    def check_committed(self, when):
        """alo: no partition's committed offset is ahead of the records the
        sinks made durable (asked in this order: offsets first, then the
        files, which only grow)."""
        if not self.files:
            return
        committed = kt.committed_offsets(self.b, self.names["group"], self.names["in"], PARTS)
        durable = {}
        for r in self.files.records():
            durable.setdefault(r["p"], set()).add(r["o"])
        self.checks += 1
        for p, c in sorted(committed.items()):
            have = durable.get(p, set())
            prefix = 0
            while prefix in have:
                prefix += 1
            st.assert_le(c, prefix, "%s: partition %d's committed offset against the first offset "
                                    "missing from the durable output" % (when, p))

    def round(self, number):
        n = len(self.live)
        kinds = (["start"] if n < len(SLOTS) else []) + (["SIGTERM", "kill -9"] if n >= 2 else [])
        kind = self.rng.choice(kinds)
        st.log("rebalance %d: %s (members %s)" % (number, kind, sorted(self.live)))
        if kind == "start":
            run = self.start()
            st.wait_until(lambda: kt.has_partitions(run), 60, "%s to be assigned partitions" % run.who,
                          interval=0.1, abort=self.abort)
        else:
            self.stop(kind)
        self.check_committed("after rebalance %d (%s)" % (number, kind))
        return kind


def run_mode(t, mode, rounds, seed):
    b = kt.bootstrap()
    names = {"in": kt.unique("rebal-%s-in" % mode), "out": kt.unique("rebal-%s-out" % mode),
             "dlq": kt.unique("rebal-%s-dlq" % mode), "group": kt.unique("rebal-%s" % mode),
             "b": b, "fast": kt.lua_table(kt.FAST_GROUP), "pacer": kt.pacer(1500),
             "txn_ms": TXN_TIMEOUT_MS}
    kt.create_topic(b, names["in"])
    if mode == "eos":
        kt.create_topic(b, names["out"])
    st.write_pipeline(t.dir, (ALO if mode == "alo" else EOS) % names)
    group = Group(t, names, mode, random.Random("%d-%s" % (seed, mode)))
    producer = Producer(b, names["in"])
    producer.start()
    t0 = time.monotonic()
    try:
        group.start(count=False)
        group.start(count=False)
        group.wait_covered(BATCH, "the first records")
        for number in range(1, rounds + 1):
            group.round(number)
            # Records produced after the rebalance, on every partition: once
            # they are out, each partition has an owner that reads it.
            after = producer.last + BATCH
            st.wait_until(lambda: producer.last >= after, 30, "records produced after rebalance %d"
                          % number, interval=0.05)
            group.wait_covered(after, "ids 1..%d, produced up to after rebalance %d" % (after, number))
    finally:
        producer.stop.set()
        producer.join()
    if producer.error:
        raise producer.error
    n = producer.last
    while group.killed:
        group.start(count=False)     # fences the killed members' transactions
    group.wait_covered(n, "all %d records" % n)
    for slot in sorted(group.live):
        run = group.live.pop(slot)
        run.signal(signal.SIGTERM)
        st.assert_eq(run.wait(60), 0, "%s: exit code after SIGTERM" % slot)
    seconds = time.monotonic() - t0
    kinds = ", ".join("%s %d" % kv for kv in sorted(group.kinds.items()))
    if mode == "alo":
        group.check_committed("at the end")
        ends = kt.partition_ends(b, names["in"], PARTS)
        committed = kt.committed_offsets(b, names["group"], names["in"], PARTS)
        st.assert_eq(committed, ends, "committed offsets at the end (the partitions' ends)")
        dups = kt.check_all_ids(group.output_ids(), n, "the members' files")
        print("figure: kafka rebalances, at least once (Kafka -> file): %d rebalances (%s) in %.0f s, "
              "%d records, 0 lost, %d read again, committed offset ahead of the durable output: "
              "0 in %d checks" % (rounds, kinds, seconds, n, dups, group.checks), flush=True)
    else:
        ids = kt.ids_in(b, names["out"])
        dups = kt.check_all_ids(ids, n, "the output topic (read_committed)")
        st.assert_eq(dups, 0, "duplicates under read_committed")
        st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")
        print("figure: kafka rebalances, exactly_once (Kafka -> Kafka): %d rebalances (%s) in %.0f s, "
              "%d records, 0 lost, 0 duplicated under read_committed" % (rounds, kinds, seconds, n),
              flush=True)


def main():
    args = st.parse_args(__doc__, default_seed=20, extra=lambda ap: ap.add_argument(
        "--mode", choices=("alo", "eos", "both"), default="both"))
    rounds = SOAK_ROUNDS if args.soak else CI_ROUNDS
    modes = ("alo", "eos") if args.mode == "both" else (args.mode,)

    def test(t):
        for mode in modes:
            run_mode(t, mode, rounds, args.seed)

    st.main(test)


if __name__ == "__main__":
    main()
