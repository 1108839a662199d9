"""exactly_once = true with two sluice processes in one consumer group,
partitions moving between them mid-stream: every record arrives exactly
once (read_committed).

  1. A starts alone and takes all 4 partitions; the input holds the first
     half of the records, spread evenly over the partitions;
  2. once a quarter of the records are written, B starts: the group
     rebalances (cooperative-sticky); A hands partitions over once the
     transaction holding what it read from them has committed;
  3. once B has them, the second half of the records goes in, spread
     evenly: B's partitions certainly hold records it has to read
     (kafkatest.start_pair says why this matters);
  4. once B has written records and half are written, A gets SIGTERM: it
     commits its last transaction, leaves, and B takes A's partitions;
  5. B goes on to the end.

Each process has its own transactional_id (the group's unique name and
WHO from the environment), as docs/kafka.md asks of processes running at
the same time (also those of another run of this test on the same broker),
and tags its records, so the test can tell that both did real work.  The
in-flight bound is small (4,096 records): a revoke waits for what A
already read to commit, and with exactly_once's default (65,536) at the
paced 4,000 records a second that is a quarter of the whole stream, which
would end before the partitions move.  Progress is watched with
read_uncommitted reads: read_committed ones wait for the open
transaction.  Both processes log librdkafka's consumer-group debug lines
and serve the admin endpoint: a wait that fails during the rebalances
prints what each member knew of its partitions (kafkatest.group_report)."""

import kafkatest as kt
import sluicetest as st

N = 100_000

PIPELINE = """local sl = require "sluice"
%(pacer)slocal who = sl.env("WHO")
return sl.pipeline {
  name = "kafka-eos-group",
  workers = 2,
  exactly_once = true,
  max_inflight_records = 4096,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                librdkafka = %(fast)s } },
  steps = {
    function (rec)
      pace()
      rec.by = who
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s",
                            transactional_id = "%(group)s-" .. who } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("eos-group-in"), "out": kt.unique("eos-group-out"),
             "dlq": kt.unique("eos-group-dlq"), "group": kt.unique("eos-group"), "b": b,
             "fast": kt.lua_table(kt.DEBUG_GROUP), "pacer": kt.pacer(2000)}
    kt.create_topic(b, names["in"])
    kt.create_topic(b, names["out"])
    st.write_pipeline(t.dir, PIPELINE % names)

    a, bb = kt.start_pair(t, b, names["in"], names["out"], N)
    try:
        st.wait_until(lambda: kt.count_by(b, names["out"], committed=False).get("B", 0) > 0, 30,
                      "B to write records", interval=0.5, abort=lambda: a.exited() or bb.exited())
        st.assert_lt(sum(kt.count_by(b, names["out"], committed=False).values()), N,
                     "output when A is stopped (must be mid-stream)")
        a.signal(15)
        st.assert_eq(a.wait(60), 0, "A: exit code after SIGTERM")
        st.assert_true("left group" in a.stderr_text(), "A left the group", a.stderr_text()[-2000:])
        kt.wait_for_all_ids(b, names["out"], N, 80, abort=bb.exited)
    except st.Failure:
        kt.group_report(b, names["in"], [a, bb])
        raise
    bb.signal(15)
    st.assert_eq(bb.wait(60), 0, "B: exit code after SIGTERM")
    ids = kt.ids_in(b, names["out"])
    dups = kt.check_all_ids(ids, N, "output")
    counts = kt.count_by(b, names["out"])
    st.log("%d committed messages, %d distinct ids; written by A: %d, by B: %d"
           % (len(ids), len(set(ids)), counts.get("A", 0), counts.get("B", 0)))
    st.assert_eq(dups, 0, "duplicates in the committed output")
    st.assert_true(counts.get("A", 0) > 0 and counts.get("B", 0) > 0, "both members wrote records",
                   str(counts))
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")


st.main(test)
