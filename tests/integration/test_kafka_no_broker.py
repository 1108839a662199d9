"""sluice started while no Kafka broker answers: it logs a clear error that
names the brokers, keeps retrying, and once a broker comes up on that
address the records flow, with nothing lost.

The late broker is a single node of its own (SLUICE_KAFKA_DIR=.run/kafka-late,
port 28092), started by the test after sluice has reported the outage, and
reset when the test ends."""

import os

import kafkatest as kt
import sluicetest as st

N = 20_000
PORT = 28092  # below the ephemeral range (32768-), so no client socket can take it
ENV = {"SLUICE_KAFKA_DIR": os.path.join(kt.REPO, ".run", "kafka-late"),
       "SLUICE_KAFKA_PORT": str(PORT), "SLUICE_KAFKA_CONTROLLER_PORT": str(PORT + 1)}
BROKERS = "127.0.0.1:%d" % PORT

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-no-broker",
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                librdkafka = { ["topic.metadata.refresh.interval.ms"] = "1000" } } },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s" } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    # A cluster left over from an interrupted run would answer at once.
    kt.cluster("reset", env=ENV)
    st.assert_true(not kt.port_open("127.0.0.1", PORT), "nothing listens on %s before the test" % BROKERS)
    names = {"in": kt.unique("late-in"), "out": kt.unique("late-out"), "dlq": kt.unique("late-dlq"),
             "group": kt.unique("late"), "b": BROKERS}
    st.write_pipeline(t.dir, PIPELINE % names)
    run = t.start()
    want = "cannot reach Kafka brokers %s" % BROKERS
    st.wait_until(lambda: want in run.stderr_text(), 30, "the error '%s'" % want, abort=run.exited)
    st.assert_true(run.running(), "sluice keeps running without a broker")
    try:
        kt.cluster("start", env=ENV)
        kt.write_input(t.path("in.jsonl"), N)
        kt.produce_file(BROKERS, names["in"], t.path("in.jsonl"))
        kt.wait_for_all_ids(BROKERS, names["out"], N, 80, abort=run.exited)
        run.signal(15)
        st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
        ids = kt.ids_in(BROKERS, names["out"])
        dups = kt.check_all_ids(ids, N, "output")
        st.log("%d messages out, %d duplicates" % (len(ids), dups))
        st.assert_true("reachable again" in run.stderr_text(), "sluice logged that the brokers came back",
                       run.stderr_text()[-3000:])
    finally:
        kt.cluster("reset", env=ENV)


st.main(test)
