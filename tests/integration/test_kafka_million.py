"""1,000,000 records Kafka -> a Lua step -> Kafka: every record arrives at
least once (the distinct ids in the output are exactly 1..1,000,000) and
each passed through the step.

The input goes in with kcat; sluice runs until the output topic's end
offsets reach 1,000,000, then gets SIGTERM and must exit 0.  Its final
commit is then checked: 1,000 more records go in and a second run of the
same group must write exactly those 1,000 (a missed commit would make it
read old records again)."""

import kafkatest as kt
import sluicetest as st

N = 1_000_000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-million",
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                commit_interval = "1s", librdkafka = %(fast)s } },
  steps = {
    function (rec)
      rec.name = string.upper(rec.name)
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s", key = "id" } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("million-in"), "out": kt.unique("million-out"),
             "dlq": kt.unique("million-dlq"), "group": kt.unique("million"), "b": b,
             "fast": kt.lua_table(kt.FAST_GROUP)}
    kt.write_input(t.path("in.jsonl"), N)
    kt.produce_file(b, names["in"], t.path("in.jsonl"))
    st.assert_eq(kt.end_offsets(b, names["in"]), N, "messages in the input topic")
    st.write_pipeline(t.dir, PIPELINE % names)

    run = t.start()
    kt.wait_for_messages(b, names["out"], N, 80, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")

    lines = kt.consume(b, names["out"])
    ids = []
    for line in lines:
        m = kt.ID_RE.search(line)
        if not m or b'"name":"RESIDENT ' not in line:
            st.fail("an output message did not pass through the step: %r" % line[:200])
        ids.append(int(m.group(1)))
    dups = kt.check_all_ids(ids, N, "output")
    st.log("%d messages out, %d distinct, %d duplicates" % (len(ids), len(set(ids)), dups))
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")

    more = 1000
    kt.write_input(t.path("more.jsonl"), more, start=N + 1)
    kt.produce_file(b, names["in"], t.path("more.jsonl"))
    run2 = t.start()
    kt.wait_for_messages(b, names["out"], len(ids) + more, 60, abort=run2.exited)
    run2.signal(15)
    st.assert_eq(run2.wait(30), 0, "second run: exit code after SIGTERM")
    st.assert_eq(kt.end_offsets(b, names["out"]), len(ids) + more,
                 "output after the second run (first run's messages + the new ones)")


st.main(test)
