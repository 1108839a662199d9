"""A three-broker cluster loses a broker in the middle of a stream and gets
it back: no record is lost; and with exactly_once = true, none is written
twice either (read_committed), though the stopped broker may have been the
transaction coordinator (its transactions then fail and are redone).

The cluster is its own (scripts/kafka with SLUICE_KAFKA_DIR=.run/kafka3,
ports 29092-29094), so the shared single broker is not disturbed.  Topics
there get replication 3 and min.insync.replicas 2 (scripts/kafka's
defaults for three nodes), so with one broker down the producer (acks=all)
and the consumer go on once leadership has moved.  Node 1 is stopped: it
leads some partitions and may coordinate the consumer group, so both the
fetch path and the group path fail over.

Labelled kafka-cluster in ctest (ctest -LE kafka-cluster skips it); it
needs about 1.5 GB of memory for the three JVMs."""

import os

import kafkatest as kt
import sluicetest as st

N = 200_000
ENV = {"SLUICE_KAFKA_DIR": os.path.join(kt.REPO, ".run", "kafka3"), "SLUICE_KAFKA_PORT": "29092",
       "SLUICE_KAFKA_HEAP": "-Xmx384m -Xms128m"}

PIPELINE = """local sl = require "sluice"
%(pacer)sreturn sl.pipeline {
  name = "kafka-broker-down",
  workers = 2,
  exactly_once = %(eos)s,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                commit_interval = "500ms", librdkafka = %(fast)s } },
  steps = {
    function (rec)
      pace()
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s", key = "id" } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.cluster("start", "--brokers", "3", env=ENV)
    try:
        run_test(t, b, False)
        run_test(t, b, True)
    finally:
        kt.cluster("reset", env=ENV)


def run_test(t, b, eos):
    st.log("---- %s" % ("exactly once" if eos else "at least once"))
    tag = "eos-down" if eos else "down"
    names = {"in": kt.unique(tag + "-in"), "out": kt.unique(tag + "-out"),
             "dlq": kt.unique(tag + "-dlq"), "group": kt.unique(tag), "b": b,
             "fast": kt.lua_table(kt.FAST_GROUP), "pacer": kt.pacer(4000),
             "eos": "true" if eos else "false"}
    kt.write_input(t.path("in.jsonl"), N)
    kt.create_topic(b, names["in"])
    kt.create_topic(b, names["out"])
    kt.produce_file(b, names["in"], t.path("in.jsonl"))
    st.write_pipeline(t.dir, PIPELINE % names)

    run = t.start()
    kt.wait_for_messages(b, names["out"], N // 5, 60, abort=run.exited)
    kt.cluster("stop-node", "1", env=ENV)
    at_stop = kt.end_offsets(b, names["out"])
    st.assert_lt(at_stop, N * 3 // 5, "output once node 1 is down (must be mid-stream)")
    # The stream goes on with two brokers.
    kt.wait_for_messages(b, names["out"], at_stop + N // 5, 60,
                         "progress with node 1 down", abort=run.exited)
    kt.cluster("start-node", "1", env=ENV)
    ids = kt.wait_for_all_ids(b, names["out"], N, 80, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    ids = kt.ids_in(b, names["out"])
    dups = kt.check_all_ids(ids, N, "output")
    st.log("%d messages out, %d distinct ids, %d duplicates" % (len(ids), len(set(ids)), dups))
    if eos:
        st.log("%d transactions aborted and redone"
               % run.stderr_text().count("aborted a transaction"))
        st.assert_eq(dups, 0, "duplicates in the committed output")
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")


st.main(test)
