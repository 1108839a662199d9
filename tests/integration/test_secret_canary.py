"""Canary secrets never leave sluice: a password written into a connection
string, a Kafka SASL password among the librdkafka settings, the admin bearer token, and a value read with sl.env that a step's
error quotes are absent from every log line, /status, /metrics, the output
of `sluice check` (text and --format json) and the dead-letter envelope,
which shows <from env NAME> where the sl.env value was."""

import json
import os
import signal
import subprocess

import sluicetest as st

DSN_SECRET = "Canary-Dsn-5e1f"
TOKEN = "Canary-Token-0123456789abcdef"
ENV_SECRET = "Canary-Env-77ab"
SASL_SECRET = "Canary-Sasl-9c3d"

PIPELINE = """local sl = require "sluice"
local key = sl.env("CANARY_KEY")
return sl.pipeline {
  name = "canary",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  steps = { function (r)
    if r.bad then error("lookup failed with key " .. key) end
    return r
  end },
  sinks = { sl.file.sink { path = "out.jsonl" }%s },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

PG_SINK = """,
            sl.pg.sink { dsn = "host=127.0.0.1 port=1 dbname=x user=u password=%s", table = "t"%s }""" 

KAFKA_SINK = """,
            sl.kafka.sink { brokers = "127.0.0.1:1", topic = "t"%s, librdkafka = {
              ["security.protocol"] = "sasl_plaintext", ["sasl.mechanism"] = "PLAIN",
              ["sasl.username"] = "u", ["sasl.password"] = "%s" } }"""


def absent(what, text):
    for secret in (DSN_SECRET, TOKEN, ENV_SECRET, SASL_SECRET):
        st.assert_true(secret not in text, "%s holds no canary" % what, "%s found in: %s" % (secret, text[:600]))


def test(t):
    env = {"CANARY_KEY": ENV_SECRET}
    token = t.path("token")
    st.write_file(token, TOKEN + "\n")
    # sluice check, text and JSON, on a pipeline with a mistake next to the DSN.
    st.write_file(t.path("bad.lua"), PIPELINE % (PG_SINK % (DSN_SECRET, ", tabel = 1")))
    for args in ([], ["--format", "json"]):
        p = subprocess.run([t.sluice, "check"] + args + [t.path("bad.lua")], env=dict(os.environ, **env),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        st.assert_eq(p.returncode, 2, "sluice check %s exit code" % " ".join(args))
        absent("sluice check %s" % " ".join(args), p.stdout + p.stderr)
        if args:
            st.assert_eq(json.loads(p.stdout)["ok"], False, "the JSON verdict")

    st.write_file(t.path("bad_kafka.lua"), PIPELINE % (KAFKA_SINK % (", topik = 1", SASL_SECRET)))
    for args in ([], ["--format", "json"]):
        p = subprocess.run([t.sluice, "check"] + args + [t.path("bad_kafka.lua")], env=dict(os.environ, **env),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        st.assert_eq(p.returncode, 2, "sluice check %s exit code (Kafka sink)" % " ".join(args))
        absent("sluice check %s (Kafka sink)" % " ".join(args), p.stdout + p.stderr)

    # A broker that does not answer, with SASL: librdkafka's debug log and
    # sluice's warnings name the broker, never the password.
    st.write_file(t.path("kafka.lua"), PIPELINE % (KAFKA_SINK % ("", SASL_SECRET)))
    st.write_file(t.path("in.jsonl"), '{"id": 1}\n')
    run = t.start(pipeline="kafka.lua", args=["--log-level", "debug"], env=env)
    st.wait_until(lambda: "cannot reach Kafka brokers" in run.stderr_text(), 30,
                  "the log saying the broker is down", abort=run.exited)
    run.signal(signal.SIGTERM)
    # The record cannot be delivered: once the drain has begun, a second
    # SIGTERM exits at once (two sent together may arrive as one).
    st.wait_until(lambda: "draining what is in flight" in run.stderr_text(), 30, "the drain", abort=run.exited)
    run.signal(signal.SIGTERM)
    run.wait(60)
    st.assert_true("sasl_plaintext://127.0.0.1:1" in run.stderr_text(), "librdkafka's messages are logged",
                   run.stderr_text()[:600])
    absent("the debug log of a Kafka sink with SASL", run.stderr_text())

    # A server that does not answer: the start fails, and says why with the
    # connection string, its password hidden.
    st.write_file(t.path("pg.lua"), PIPELINE % (PG_SINK % (DSN_SECRET, "")))
    st.write_file(t.path("in.jsonl"), "")
    run = t.start(pipeline="pg.lua", env=env)
    st.assert_eq(run.wait(60), 1, "exit code when the sink cannot connect")
    st.assert_true("password=***" in run.stderr_text(), "the log shows the DSN, its password hidden",
                   run.stderr_text()[:600])
    absent("the log of a failed start", run.stderr_text())

    st.write_pipeline(t.dir, PIPELINE % "")
    with open(t.path("in.jsonl"), "w") as f:
        f.write('{"id": 1}\n{"id": 2, "bad": true}\n')
    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port, "--admin-token-file", token], env=env)
    dlq = st.LineCounter(t.path("dlq.jsonl"))
    st.wait_until(lambda: dlq.count() >= 1, 30, "the dead letter", abort=run.exited)
    auth = {"Authorization": "Bearer " + TOKEN}
    import urllib.request
    for path in ("/status", "/metrics"):
        with urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=auth),
                                    timeout=5) as r:
            absent(path, r.read().decode())
    run.signal(signal.SIGTERM)
    run.wait(60)
    with open(t.path("dlq.jsonl")) as f:
        letter = f.read()
    absent("the dead-letter envelope", letter)
    st.assert_true("<from env CANARY_KEY>" in letter, "the envelope names the secret instead", letter[:400])
    absent("the log", run.stderr_text())


st.main(test)
