"""The admin endpoint: /health and /ready answer while a pipeline runs,
/metrics counts what went through in the Prometheus text format, /status
gives the same as JSON, unknown paths are 404, and a request that is too
large or not a GET is refused without harm."""

import json
import signal
import socket

import sluicetest as st

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "admin",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  steps = { function (rec) if rec.id % 10 == 0 then return nil end return rec end },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        return s.recv(4096).decode(errors="replace")


def test(t):
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, 101):
            f.write('{"id": %d}\n' % i)
        f.write("not json\n")
    st.write_pipeline(t.dir, PIPELINE)
    port = st.free_port()
    base = "http://127.0.0.1:%d" % port
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 90, 30, "90 output lines", abort=run.exited)

    st.assert_eq(st.http_get(base + "/health"), (200, "ok\n"), "/health")
    st.assert_eq(st.http_get(base + "/ready"), (200, "ready\n"), "/ready")

    def metrics():
        return st.http_get(base + "/metrics")[1]
    st.wait_until(lambda: st.metric_value(metrics(), "sluice_source_acked_records_total") == 101, 30,
                  "all 101 records acknowledged")
    text = metrics()
    st.assert_eq(st.metric_value(text, "sluice_source_records_total"), 101, "records read")
    st.assert_eq(st.metric_value(text, "sluice_dropped_records_total"), 10, "records dropped by the step")
    st.assert_eq(st.metric_value(text, "sluice_dead_letters_total"), 1, "dead letters")
    st.assert_eq(st.metric_value(text, "sluice_up"), 1, "up")
    st.assert_true('sluice_sink_records_total{pipeline="admin",stage="file.sink.1"} 90' in text,
                   "sink counter for file.sink.1", text)
    st.assert_true("# TYPE sluice_source_records_total counter" in text, "TYPE line", text)

    code, body = st.http_get(base + "/status")
    st.assert_eq(code, 200, "/status code")
    status = json.loads(body)
    st.assert_eq(status["state"], "running", "/status state")
    st.assert_eq(status["sources"][0]["read"], 101, "/status records read")

    st.assert_eq(st.http_get(base + "/nope")[0], 404, "unknown path")
    st.assert_true(raw_request(port, b"POST /metrics HTTP/1.1\r\n\r\n").startswith("HTTP/1.1 405"),
                   "POST is refused")
    st.assert_true(raw_request(port, b"GET /" + b"a" * 9000).startswith("HTTP/1.1 431"),
                   "an over-long request line is refused")
    st.assert_eq(st.http_get(base + "/health"), (200, "ok\n"), "/health after bad requests")

    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")


st.main(test)
