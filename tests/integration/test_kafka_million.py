"""1,000,000 records Kafka -> a Lua step -> Kafka, in both delivery modes;
each record passes through the step.

At least once: every record arrives (the distinct ids in the output are
exactly 1..1,000,000).  sluice runs until the output topic's end offsets
reach 1,000,000, then gets SIGTERM and must exit 0.  Its final commit is
then checked: 1,000 more records go in and a second run of the same group
must write exactly those 1,000 (a missed commit would make it read old
records again).

Exactly once (exactly_once = true): every record arrives exactly once
(read_committed: each id once, no more messages).  The sink's transactions
commit the source's offsets with the records: a second run of the same
group after 1,000 more records writes exactly those 1,000.  The
transactions metric says how many committed; none aborted."""

import kafkatest as kt
import sluicetest as st

N = 1_000_000
MORE = 1000

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-million",
  exactly_once = %(eos)s,
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


def exactly(ids, n, what):
    dups = kt.check_all_ids(ids, n, what)
    st.assert_eq(dups, 0, "%s: duplicates (%d messages for %d ids)" % (what, len(ids), n))


def run_mode(t, b, eos):
    st.log("---- %s" % ("exactly once" if eos else "at least once"))
    tag = "eos-million" if eos else "million"
    names = {"in": kt.unique(tag + "-in"), "out": kt.unique(tag + "-out"),
             "dlq": kt.unique(tag + "-dlq"), "group": kt.unique(tag), "b": b,
             "fast": kt.lua_table(kt.FAST_GROUP), "eos": "true" if eos else "false"}
    kt.produce_file(b, names["in"], t.path("in.jsonl"))
    st.assert_eq(kt.end_offsets(b, names["in"]), N, "messages in the input topic")
    st.write_pipeline(t.dir, PIPELINE % names)

    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    if eos:
        # End offsets also count transaction markers: wait for the ids.
        kt.wait_for_all_ids(b, names["out"], N, 120, abort=run.exited)
        metrics = st.http_get("http://127.0.0.1:%d/metrics" % port)[1]
    else:
        kt.wait_for_messages(b, names["out"], N, 80, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    if eos:
        series = ('sluice_kafka_transactions_total{pipeline="kafka-million",stage="kafka.sink.1",'
                  'outcome="%s"')
        committed = st.metric_value(metrics, series % "committed")
        aborted = st.metric_value(metrics, series % "aborted") or 0
        st.log("%s transactions committed, %s aborted" % (committed, aborted))
        st.assert_true(committed and committed > 1, "transactions committed", str(committed))
        st.assert_eq(aborted, 0, "transactions aborted")

    ids = []
    for line in kt.consume(b, names["out"]):
        m = kt.ID_RE.search(line)
        if not m or b'"name":"RESIDENT ' not in line:
            st.fail("an output message did not pass through the step: %r" % line[:200])
        ids.append(int(m.group(1)))
    if eos:
        exactly(ids, N, "output")
    else:
        dups = kt.check_all_ids(ids, N, "output")
        st.log("%d messages out, %d distinct, %d duplicates" % (len(ids), len(set(ids)), dups))
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")

    kt.produce_file(b, names["in"], t.path("more.jsonl"))
    run2 = t.start()
    if eos:
        kt.wait_for_all_ids(b, names["out"], N + MORE, 60, abort=run2.exited)
    else:
        kt.wait_for_messages(b, names["out"], len(ids) + MORE, 60, abort=run2.exited)
    run2.signal(15)
    st.assert_eq(run2.wait(30), 0, "second run: exit code after SIGTERM")
    if eos:
        exactly(kt.ids_in(b, names["out"]), N + MORE, "output after the second run")
    else:
        st.assert_eq(kt.end_offsets(b, names["out"]), len(ids) + MORE,
                     "output after the second run (first run's messages + the new ones)")


def test(t):
    b = kt.bootstrap()
    kt.write_input(t.path("in.jsonl"), N)
    kt.write_input(t.path("more.jsonl"), MORE, start=N + 1)
    run_mode(t, b, False)
    run_mode(t, b, True)


st.main(test)
