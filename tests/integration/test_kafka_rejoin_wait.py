"""A consumer restarted after kill -9 waits for its group to rebalance until
the dead member's session times out; it says so instead of staying silent:
at start that it is joining group G and waiting for partitions, after 5 s
that it is still waiting (probably for a previous member's session, with
session.timeout.ms), and how long it took once it joins.  Then it reads
everything (at least once)."""

import re
import signal

import kafkatest as kt
import sluicetest as st

N = 100
SESSION_MS = 20000  # long enough that the restarted run certainly waits past 5 s

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "rejoin",
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                start = "earliest", commit_interval = "200ms",
                                librdkafka = %(conf)s } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("rejoin-in"), "group": kt.unique("rejoin"), "b": b,
             "conf": kt.lua_table({"session.timeout.ms": str(SESSION_MS),
                                   "heartbeat.interval.ms": "1000"})}
    kt.write_input(t.path("in1.jsonl"), N)
    kt.produce_file(b, names["in"], t.path("in1.jsonl"))
    st.write_pipeline(t.dir, PIPELINE % names)
    group = names["group"]

    run = t.start(args=["--log-format", "text"])
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= N, 60, "the first %d records" % N, abort=run.exited)
    run.signal(signal.SIGKILL)
    run.wait(10)
    kt.write_input(t.path("in2.jsonl"), N, start=N + 1)
    kt.produce_file(b, names["in"], t.path("in2.jsonl"))

    run2 = t.start(args=["--log-format", "text"])
    st.wait_until(lambda: "joining group %s and waiting for partition assignment" % group
                  in run2.stderr_text(), 30, "the joining line", abort=run2.exited)
    still = st.wait_until(
        lambda: re.search(r"still waiting for partitions of group %s after 5 s: .*previous member"
                          r".*session\.timeout\.ms = %d\)" % (re.escape(group), SESSION_MS),
                          run2.stderr_text()),
        30, "the still-waiting line", abort=run2.exited)
    st.log("logged: %s" % still.group(0))
    st.wait_until(lambda: "joined group %s after" % group in run2.stderr_text(), 60,
                  "the joined line", abort=run2.exited)
    st.wait_until(lambda: len(set(st.ids_of(st.read_jsonl(t.path("out.jsonl"))[0]))) >= 2 * N,
                  60, "all %d ids in the output" % (2 * N), abort=run2.exited)
    run2.signal(signal.SIGTERM)
    st.assert_eq(run2.wait(60), 0, "exit code after SIGTERM")
    st.assert_eq(run2.stderr_text().count("still waiting for partitions"), 1,
                 "the still-waiting line is logged once")
    kt.check_all_ids(st.ids_of(st.read_jsonl(t.path("out.jsonl"))[0]), 2 * N, "output")


st.main(test)
