"""Bad records go to a Kafka dead-letter topic with their reason, and the
rest of the stream goes on:

  - a message whose value is not JSON (fails decoding),
  - a record whose key function raises an error (fails on a worker),
  - a record too large for the output topic (max.message.bytes = 20000):
    the broker refuses the whole batch it travels in, the sink sends that
    batch's messages again one by one, and only the large one is rejected.

Each dead letter carries the envelope as its value and the reason, stage
and pipeline in the headers sluice-error, sluice-stage, sluice-pipeline."""

import json

import kafkatest as kt
import sluicetest as st

N = 5000
BAD_JSON = 1000        # the message after id 1000 is not JSON
RAISES = 2000          # the key function raises for this id
TOO_BIG = 3000         # this record is padded past the output topic's limit

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-dlq",
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s" } },
  sinks = { sl.kafka.sink {
    brokers = "%(b)s", topic = "%(out)s",
    key = function (rec)
      if rec.id == %(raises)d then error("no key for record " .. rec.id, 0) end
      return tostring(rec.id)
    end,
    headers = { origin = "test", dept = function (rec) return rec.dept end },
  } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("dlq-in"), "out": kt.unique("dlq-out"), "dlq": kt.unique("dlq-dlq"),
             "group": kt.unique("dlq"), "b": b, "raises": RAISES}
    kt.create_topic(b, names["out"], {"max.message.bytes": "20000"})
    lines = []
    for i in range(1, N + 1):
        pad = "x" * (30000 if i == TOO_BIG else 40)
        lines.append('{"id":%d,"dept":"%s","pad":"%s"}' % (i, st.DEPTS[i % 8], pad))
        if i == BAD_JSON:
            lines.append('{"id":%d, this is not JSON' % (N + 1))
    kt.produce(b, names["in"], lines)
    st.write_pipeline(t.dir, PIPELINE % names)

    run = t.start()
    kt.wait_for_messages(b, names["out"], N - 2, 60, abort=run.exited)
    kt.wait_for_messages(b, names["dlq"], 3, 30, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")

    out = kt.consume_json(b, names["out"])
    ids = sorted(v["id"] for _, _, v in out)
    st.assert_eq(ids, [i for i in range(1, N + 1) if i not in (RAISES, TOO_BIG)],
                 "ids in the output (all but the two rejected records)")
    for headers, key, value in out[:50]:
        st.assert_eq(key, str(value["id"]), "message key (key function)")
        st.assert_eq(headers.get("origin"), "test", "constant header")
        st.assert_eq(headers.get("dept"), value["dept"], "header computed per record")

    dead = kt.consume_json(b, names["dlq"])
    st.assert_eq(len(dead), 3, "dead letters")
    by_reason = {}
    for headers, _, env in dead:
        st.assert_eq(headers.get("sluice-pipeline"), "kafka-dlq", "sluice-pipeline header")
        st.assert_eq(headers.get("sluice-error"), env["error"], "sluice-error header = envelope error")
        st.assert_eq(headers.get("sluice-stage"), env["stage"], "sluice-stage header = envelope stage")
        st.assert_eq(env["source"]["origin"], names["in"], "envelope source topic")
        by_reason[env["stage"]] = by_reason.get(env["stage"], []) + [env]
    st.log("dead letters: %s" % json.dumps([(e["stage"], e["error"][:80]) for _, _, e in dead]))

    decode = [e for e in by_reason.get("decode", [])]
    st.assert_eq(len(decode), 1, "dead letters from decoding")
    st.assert_true("invalid JSON" in decode[0]["error"], "decode reason", decode[0]["error"])
    st.assert_true(decode[0]["raw"].startswith('{"id":%d, this' % (N + 1)), "raw bytes kept",
                   decode[0]["raw"][:80])

    sink = by_reason.get("kafka.sink.1", [])
    st.assert_eq(len(sink), 2, "dead letters from the sink")
    errors = {e["record"]["id"]: e["error"] for e in sink}
    st.assert_true("no key for record %d" % RAISES in errors.get(RAISES, ""), "key function error",
                   str(errors))
    st.assert_true("too large" in errors.get(TOO_BIG, ""), "size error", str(errors))
    st.assert_true("one by one" in run.stderr_text(), "the sink logged the one-by-one retry")


st.main(test)
