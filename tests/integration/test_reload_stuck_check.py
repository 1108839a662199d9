"""SIGHUP checks the new pipeline file off the loop thread: while a file
whose top level never ends is being checked, /health answers, records keep
flowing and SIGTERM still drains and exits 0.  A check past its time budget
is given up (the old pipeline goes on), and a SIGHUP that arrives during a
check is kept: the newest file is checked after it, and reloaded if valid."""

import signal
import time

import sluicetest as st

# Top-level code that does not end: coroutines switching faster than the
# instruction hook counts, and a plain loop behind it.
STUCK = """
local co = coroutine.wrap(function () while true do coroutine.yield() end end)
while true do co() end
"""


def health_answers_promptly(url, what):
    started = time.monotonic()
    try:
        status, _ = st.http_get(url + "/health")
    except OSError as e:
        status = "no answer (%s)" % e
    took = time.monotonic() - started
    st.assert_eq(status, 200, "/health status " + what)
    st.assert_lt(took, 3.0, "seconds /health took " + what)


def test(t):
    port = st.free_port()
    url = "http://127.0.0.1:%d" % port
    st.write_pipeline(t.dir, st.reload_pipeline("reload_stuck", "1"))
    st.append_ids(t, 1, 100)
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 100, 30, "the first 100 lines", abort=run.exited)

    # A file whose top level never ends: the live pipeline goes on serving.
    st.write_pipeline(t.dir, STUCK)
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: "SIGHUP: checking" in run.stderr_text(), 30,
                  "the check to start", abort=run.exited)
    health_answers_promptly(url, "while the new file is checked")
    st.append_ids(t, 101, 200)
    st.wait_until(lambda: out.count() >= 200, 30, "lines 101-200 while the check runs",
                  abort=run.exited)
    health_answers_promptly(url, "after records flowed during the check")

    # A SIGHUP during the check is kept: once the stuck check is given up
    # (or fails), the newest file is checked and reloaded.
    st.write_pipeline(t.dir, st.reload_pipeline("reload_stuck", "2"))
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: run.stderr_text().count("running pipeline.lua") >= 2, 120,
                  "the pipeline to reload the newest file after the stuck check",
                  abort=run.exited)
    st.assert_true("still running the pipeline as loaded" in run.stderr_text(),
                   "the stuck check is reported as failed")
    st.append_ids(t, 201, 300)
    st.wait_until(lambda: out.count() >= 300, 30, "lines 201-300 after the reload",
                  abort=run.exited)

    # SIGTERM while a check is stuck: drained, exit 0, promptly.
    st.write_pipeline(t.dir, STUCK)
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: run.stderr_text().count("SIGHUP: checking") >= 3, 30,
                  "the third check to start", abort=run.exited)
    health_answers_promptly(url, "during the third check")
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM during a check")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    st.assert_eq([r["id"] for r in records], list(range(1, 301)),
                 "ids in the output, each once and in order")
    versions = [r["version"] for r in records]
    st.assert_eq(versions[:200], [1] * 200, "versions before the reload")
    st.assert_eq(versions[200:], [2] * 100, "versions after the reload")
    st.check_no_dlq(t)


st.main(test)
