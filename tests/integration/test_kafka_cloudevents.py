"""CloudEvents on Kafka land in the record's metadata, in both modes of the
Kafka protocol binding:

  - binary mode: the value is the data, the attributes are headers
    ce_specversion, ce_id, ce_source, ce_type, ce_time;
  - structured mode (content-type: application/cloudevents+json): the value
    is the whole event and the record becomes its `data` object;
  - a structured event without data is a dead letter.

A step copies rec:meta() into each record, so the test reads back what the
source put there: id, department (ce_source), feed (ce_type), event time
(ce_time), key, topic, partition, offset and the headers table."""

import kafkatest as kt
import sluicetest as st

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-ce",
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s" } },
  steps = {
    function (rec)
      local m = rec:meta()
      rec.m_id, rec.m_department, rec.m_feed = m.id, m.department, m.feed
      rec.m_event_time, rec.m_key, rec.m_origin = m.event_time, m.key, m.origin
      rec.m_partition, rec.m_offset = m.partition, m.offset
      rec.m_specversion = m.headers and m.headers.ce_specversion
      rec.m_content_type = m.headers and m.headers["content-type"]
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s", key = "m_id" } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""

# 2026-05-01T12:34:56.789Z and 2026-05-02T01:00:00+08:00 in Unix ms.
T_BINARY = 1777638896789
T_STRUCTURED = 1777654800000


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("ce-in"), "out": kt.unique("ce-out"), "dlq": kt.unique("ce-dlq"),
             "group": kt.unique("ce"), "b": b}
    kt.produce(b, names["in"], ['b-1|{"name":"Wang Fang","births":3}'], key_sep="|",
               headers=["ce_specversion=1.0", "ce_id=b-1", "ce_source=health",
                        "ce_type=births.v1", "ce_time=2026-05-01T12:34:56.789Z",
                        "content-type=application/json"])
    kt.produce(b, names["in"],
               ['s-1|{"specversion":"1.0","id":"s-1","source":"tax","type":"filings.v1",'
                '"time":"2026-05-02T01:00:00+08:00","datacontenttype":"application/json",'
                '"data":{"company":"Acme","amount":12.5}}',
                's-2|{"specversion":"1.0","id":"s-2","source":"tax","type":"filings.v1"}'],
               key_sep="|", headers=["content-type=application/cloudevents+json; charset=utf-8"])
    st.write_pipeline(t.dir, PIPELINE % names)

    run = t.start()
    kt.wait_for_messages(b, names["out"], 2, 60, abort=run.exited)
    kt.wait_for_messages(b, names["dlq"], 1, 30, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")

    out = {v["m_id"]: (k, v) for _, k, v in kt.consume_json(b, names["out"])}
    st.assert_eq(sorted(out), ["b-1", "s-1"], "records out")

    key, rec = out["b-1"]
    st.assert_eq(key, "b-1", "binary: message key from the m_id field")
    st.assert_eq({k: rec[k] for k in ("name", "births")}, {"name": "Wang Fang", "births": 3},
                 "binary: the data")
    st.assert_eq(rec["m_department"], "health", "binary: ce_source -> meta.department")
    st.assert_eq(rec["m_feed"], "births.v1", "binary: ce_type -> meta.feed")
    st.assert_eq(rec["m_event_time"], T_BINARY, "binary: ce_time -> meta.event_time")
    st.assert_eq(rec["m_key"], "b-1", "binary: meta.key")
    st.assert_eq(rec["m_specversion"], "1.0", "binary: meta.headers.ce_specversion")
    st.assert_eq(rec["m_content_type"], "application/json", "binary: meta.headers content-type")
    st.assert_eq(rec["m_origin"], names["in"], "meta.origin is the topic")
    st.assert_true(isinstance(rec["m_partition"], int) and isinstance(rec["m_offset"], int),
                   "meta.partition and meta.offset", str(rec))

    key, rec = out["s-1"]
    data = {k: v for k, v in rec.items() if not k.startswith("m_")}
    st.assert_eq(data, {"company": "Acme", "amount": 12.5}, "structured: the record is the data")
    st.assert_eq(rec["m_department"], "tax", "structured: source -> meta.department")
    st.assert_eq(rec["m_feed"], "filings.v1", "structured: type -> meta.feed")
    st.assert_eq(rec["m_event_time"], T_STRUCTURED, "structured: time (+08:00) -> meta.event_time")

    dead = kt.consume_json(b, names["dlq"])
    st.assert_eq(len(dead), 1, "dead letters")
    st.assert_true("has no data" in dead[0][2]["error"], "reason of the event without data",
                   dead[0][2]["error"])


st.main(test)
