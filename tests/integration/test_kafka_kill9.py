"""kill -9 of sluice in the middle of a Kafka -> Kafka stream, then a
restart of the same consumer group: no record is lost.  Duplicates are
allowed (at least once) and reported: they are what was produced after the
last committed offset.

Mid-stream is made certain, not hoped for: the step is paced so that the
300,000 records take several seconds, and the kill comes once the output
holds a third of them.  The producer queue is kept small
(queue.buffering.max.messages) so the sink's QUEUE_FULL path runs too."""

import kafkatest as kt
import sluicetest as st

N = 300_000

PIPELINE = """local sl = require "sluice"
%(pacer)sreturn sl.pipeline {
  name = "kafka-kill9",
  workers = 2,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                commit_interval = "500ms", librdkafka = %(fast)s } },
  steps = {
    function (rec)
      pace()
      rec.step = true
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s",
                            librdkafka = { ["queue.buffering.max.messages"] = "2000" } } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("kill9-in"), "out": kt.unique("kill9-out"),
             "dlq": kt.unique("kill9-dlq"), "group": kt.unique("kill9"), "b": b,
             "fast": kt.lua_table(kt.FAST_GROUP), "pacer": kt.pacer(20000)}
    kt.write_input(t.path("in.jsonl"), N)
    kt.produce_file(b, names["in"], t.path("in.jsonl"))
    st.write_pipeline(t.dir, PIPELINE % names)

    run = t.start()
    kt.wait_for_messages(b, names["out"], N // 3, 60, abort=run.exited)
    run.signal(9)
    run.wait(10)
    before = kt.end_offsets(b, names["out"])
    st.log("killed with %d messages in the output" % before)
    st.assert_lt(before, N, "output when killed (the kill must come mid-stream)")

    run2 = t.start()
    # The dead member holds its partitions until its session times out (6 s).
    kt.wait_for_all_ids(b, names["out"], N, 80, abort=run2.exited)
    run2.signal(15)
    st.assert_eq(run2.wait(30), 0, "restarted run: exit code after SIGTERM")
    ids = kt.ids_in(b, names["out"])
    dups = kt.check_all_ids(ids, N, "output")
    st.log("%d messages out, %d distinct ids, %d duplicates (read again after the kill)"
           % (len(ids), len(set(ids)), dups))
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")


st.main(test)
