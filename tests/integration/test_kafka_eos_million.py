"""exactly_once = true: 1,000,000 records Kafka -> a Lua step -> Kafka
arrive exactly once (read_committed: the output holds each id 1..1,000,000
once, no more messages), each passed through the step.

The sink's transactions commit the source's offsets with the records: a
second run of the same group after 1,000 more records writes exactly those
1,000.  The transactions metric says how many committed; none aborted."""

import kafkatest as kt
import sluicetest as st

N = 1_000_000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-eos-million",
  exactly_once = true,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                librdkafka = %(fast)s } },
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


def exactly(ids, n, what):
    dups = kt.check_all_ids(ids, n, what)
    st.assert_eq(dups, 0, "%s: duplicates (%d messages for %d ids)" % (what, len(ids), n))


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("eos-million-in"), "out": kt.unique("eos-million-out"),
             "dlq": kt.unique("eos-million-dlq"), "group": kt.unique("eos-million"), "b": b,
             "fast": kt.lua_table(kt.FAST_GROUP)}
    kt.write_input(t.path("in.jsonl"), N)
    kt.produce_file(b, names["in"], t.path("in.jsonl"))
    st.assert_eq(kt.end_offsets(b, names["in"]), N, "messages in the input topic")
    st.write_pipeline(t.dir, PIPELINE % names)

    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    kt.wait_for_all_ids(b, names["out"], N, 120, abort=run.exited)
    metrics = st.http_get("http://127.0.0.1:%d/metrics" % port)[1]
    series = ('sluice_kafka_transactions_total{pipeline="kafka-eos-million",stage="kafka.sink.1",'
              'outcome="%s"')
    committed = st.metric_value(metrics, series % "committed")
    aborted = st.metric_value(metrics, series % "aborted") or 0
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    st.log("%s transactions committed, %s aborted" % (committed, aborted))
    st.assert_true(committed and committed > 1, "transactions committed", str(committed))
    st.assert_eq(aborted, 0, "transactions aborted")

    lines = kt.consume(b, names["out"])
    ids = []
    for line in lines:
        m = kt.ID_RE.search(line)
        if not m or b'"name":"RESIDENT ' not in line:
            st.fail("an output message did not pass through the step: %r" % line[:200])
        ids.append(int(m.group(1)))
    exactly(ids, N, "output")
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")

    more = 1000
    kt.write_input(t.path("more.jsonl"), more, start=N + 1)
    kt.produce_file(b, names["in"], t.path("more.jsonl"))
    run2 = t.start()
    kt.wait_for_all_ids(b, names["out"], N + more, 60, abort=run2.exited)
    run2.signal(15)
    st.assert_eq(run2.wait(30), 0, "second run: exit code after SIGTERM")
    exactly(kt.ids_in(b, names["out"]), N + more, "output after the second run")


st.main(test)
