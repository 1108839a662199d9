"""exactly_once = true and records Kafka refuses or cannot decode: they go
to the dead-letter topic with the reason, every other record arrives
exactly once.

  - a message whose value is not JSON (fails decoding: dead-lettered
    before the transaction holding its batch commits);
  - two records too large for the output topic (max.message.bytes =
    20000): the broker refuses the record batches they travel in, which
    fails the transaction.  It is aborted; on the next try each message
    of the refused batches goes alone, the two large ones fail alone and
    are dead-lettered, the rest commit.  None of the aborted messages is
    visible to a read_committed consumer.

The sink's batch.size (16000) is below the topic's limit, as docs/kafka.md
advises: the refused batches then hold few innocent messages (each costs a
round trip alone; without it this test takes about 30 s instead of 8)."""

import kafkatest as kt
import sluicetest as st

N = 5000
BAD_JSON = 1000
TOO_BIG = (2500, 4000)

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-eos-refused",
  exactly_once = true,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s" } },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s", key = "id",
                            librdkafka = { ["batch.size"] = "16000" } } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("eos-refused-in"), "out": kt.unique("eos-refused-out"),
             "dlq": kt.unique("eos-refused-dlq"), "group": kt.unique("eos-refused"), "b": b}
    kt.create_topic(b, names["out"], {"max.message.bytes": "20000"})
    lines = []
    for i in range(1, N + 1):
        pad = "x" * (30000 if i in TOO_BIG else 40)
        lines.append('{"id":%d,"dept":"%s","pad":"%s"}' % (i, st.DEPTS[i % 8], pad))
        if i == BAD_JSON:
            lines.append('{"id":%d, this is not JSON' % (N + 1))
    kt.produce(b, names["in"], lines)
    st.write_pipeline(t.dir, PIPELINE % names)

    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    kt.wait_for_messages(b, names["dlq"], 3, 60, abort=run.exited)
    kt.wait_for_all_ids(b, names["out"], N - len(TOO_BIG), 60, abort=run.exited)
    metrics = st.http_get("http://127.0.0.1:%d/metrics" % port)[1]
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")

    out = kt.consume_json(b, names["out"])
    ids = sorted(v["id"] for _, _, v in out)
    st.assert_eq(ids, [i for i in range(1, N + 1) if i not in TOO_BIG],
                 "ids in the committed output (each once, all but the two refused)")
    dead = kt.consume_json(b, names["dlq"])
    st.assert_eq(len(dead), 3, "dead letters")
    stages = sorted(env["stage"] for _, _, env in dead)
    st.assert_eq(stages, ["decode", "kafka.sink.1", "kafka.sink.1"], "dead letters' stages")
    refused = sorted(env["record"]["id"] for _, _, env in dead if env["stage"] == "kafka.sink.1")
    st.assert_eq(refused, list(TOO_BIG), "records refused by the broker")
    for _, _, env in dead:
        if env["stage"] == "kafka.sink.1":
            st.assert_true("too large" in env["error"], "refusal reason", env["error"])
    aborted = st.metric_value(metrics, 'sluice_kafka_transactions_total{pipeline="kafka-eos-refused",'
                                       'stage="kafka.sink.1",outcome="aborted"')
    st.log("%s transactions aborted" % aborted)
    st.assert_true(aborted and aborted >= 1, "aborted transactions", str(aborted))
    st.assert_true("aborted a transaction" in run.stderr_text(), "the sink logged the abort")


st.main(test)
