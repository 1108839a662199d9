"""A canary secret read with sl.env never shows in sluice's output: not in
a PostgreSQL connection error (a malformed URI from the environment), not in
a log line a step writes with it, not as a stage name in /status or
/metrics, and a Kafka sasl.password (from sl.env) not in librdkafka's
configuration dump at debug level."""

import signal

import sluicetest as st

CANARY = "Canary-0xDEADBEEF-4711"

PG = """
local sl = require "sluice"
return sl.pipeline {
  name = "pg",
  sources = { sl.generate { count = 1 } },
  sinks = { sl.pg.sink { dsn = sl.env("CANARY_DSN"), table = "t" } },
}
"""

RUN = """
local sl = require "sluice"
local secret = sl.env("CANARY")
return sl.pipeline {
  name = "secrets",
  sources = {
    sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" },
    sl.kafka.source { brokers = "127.0.0.1:1", topics = { "t" }, group = "g",
      librdkafka = { ["security.protocol"] = "sasl_plaintext", ["sasl.mechanisms"] = "PLAIN",
                     ["sasl.username"] = "u", ["sasl.password"] = secret, debug = "conf" } },
  },
  steps = { function (rec) sl.log.warn("the token is %s", secret) return rec end },
  sinks = { sl.file.sink { path = "out.jsonl", name = secret } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def assert_hidden(text, what):
    st.assert_true(CANARY not in text, "the canary is not in %s" % what,
                   [line for line in text.splitlines() if CANARY in line][:3].__repr__())


def test(t):
    st.write_pipeline(t.dir, PG, "pg.lua")
    run = t.start("pg.lua", args=["--log-format", "text"],
                  env={"CANARY_DSN": "postgresql://u:%s@[::1/x" % CANARY})
    st.assert_eq(run.wait(60), 1, "exit code with a malformed DSN")
    assert_hidden(run.stderr_text(), "the PostgreSQL error")
    st.assert_true("cannot connect to PostgreSQL" in run.stderr_text(), "the error is logged",
                   run.stderr_text()[-1000:])

    st.write_file(t.path("in.jsonl"), '{"id": 1}\n')
    st.write_pipeline(t.dir, RUN)
    port = st.free_port()
    base = "http://127.0.0.1:%d" % port
    run = t.start(args=["--admin", "127.0.0.1:%d" % port, "--log-format", "json",
                        "--log-level", "debug"], env={"CANARY": CANARY})
    st.wait_until(lambda: st.count_lines(t.path("out.jsonl")) == 1, 60, "the record written",
                  abort=run.exited)
    st.wait_until(lambda: "sasl.password" in run.stderr_text(), 30,
                  "librdkafka's configuration dump", abort=run.exited)
    code, status = st.http_get(base + "/status")
    st.assert_eq(code, 200, "/status")
    assert_hidden(status, "/status")
    st.assert_true('"name":"<from env CANARY>"' in status, "/status names the variable", status)
    code, metrics = st.http_get(base + "/metrics")
    st.assert_eq(code, 200, "/metrics")
    assert_hidden(metrics, "/metrics")
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    log = run.stderr_text()
    assert_hidden(log, "the log")
    st.assert_true("the token is <from env CANARY>" in log, "the step's log line names the variable",
                   log[-2000:])


st.main(test)
