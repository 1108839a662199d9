"""Two sluice processes in one consumer group share a topic, and partitions
move between them mid-stream without losing a record:

  1. A starts alone and takes all 4 partitions; the input holds the first
     half of the records, spread evenly over the partitions;
  2. once a quarter of the records are out, B starts: the group rebalances
     (cooperative-sticky) and B takes some partitions from A;
  3. once B has them, the second half of the records goes in, spread
     evenly: B's partitions certainly hold records it has to read
     (kafkatest.start_pair says why this matters);
  4. once B has written records and half are out, A gets SIGTERM: it
     finishes what it read, commits, leaves, and B takes A's partitions;
  5. B goes on to the end.

Every id must be in the output; duplicates (records A read but had not
committed when its partitions moved) are allowed and reported.  Each
process tags its records with its name, so the test can tell that both did
real work.  A wait that fails during the rebalances prints what each
member knew of its partitions (kafkatest.group_report)."""

import kafkatest as kt
import sluicetest as st

N = 200_000

PIPELINE = """local sl = require "sluice"
%(pacer)slocal who = sl.env("WHO")
return sl.pipeline {
  name = "kafka-group",
  workers = 2,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                commit_interval = "500ms", librdkafka = %(fast)s } },
  steps = {
    function (rec)
      pace()
      rec.by = who
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s" } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("group-in"), "out": kt.unique("group-out"),
             "dlq": kt.unique("group-dlq"), "group": kt.unique("group"), "b": b,
             "fast": kt.lua_table(kt.DEBUG_GROUP), "pacer": kt.pacer(2000)}
    kt.create_topic(b, names["in"])
    st.write_pipeline(t.dir, PIPELINE % names)

    a, bb = kt.start_pair(t, b, names["in"], names["out"], N)
    try:
        st.wait_until(lambda: kt.count_by(b, names["out"]).get("B", 0) > 0, 30, "B to write records",
                      interval=0.5, abort=lambda: a.exited() or bb.exited())
        before = kt.end_offsets(b, names["out"])
        st.assert_lt(before, N, "output when A is stopped (must be mid-stream)")
        a.signal(15)
        st.assert_eq(a.wait(60), 0, "A: exit code after SIGTERM")
        st.assert_true("left group" in a.stderr_text(), "A committed and left the group",
                       a.stderr_text()[-2000:])
        ids = kt.wait_for_all_ids(b, names["out"], N, 80, abort=bb.exited)
    except st.Failure:
        kt.group_report(b, names["in"], [a, bb])
        raise
    bb.signal(15)
    st.assert_eq(bb.wait(60), 0, "B: exit code after SIGTERM")
    ids = kt.ids_in(b, names["out"])
    dups = kt.check_all_ids(ids, N, "output")
    counts = kt.count_by(b, names["out"])
    st.log("%d messages out, %d distinct ids, %d duplicates; written by A: %d, by B: %d"
           % (len(ids), len(set(ids)), dups, counts.get("A", 0), counts.get("B", 0)))
    st.assert_true(counts.get("A", 0) > 0 and counts.get("B", 0) > 0, "both members wrote records",
                   str(counts))
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")


st.main(test)
