"""A reload runs the text its check found valid, not the file as it is
after the drain: the file is replaced by a broken one while the pipeline
drains for the reload, and SIGHUP is sent again.  Before, the new run read
the broken file and the process exited 2 (the service down); now the
checked version runs, the SIGHUP that came during the drain is kept, and
the broken file is refused by the check it starts, naming its line.
Every input line is written exactly once and in order.

The drain lasts about half a second (a step that spins 5 ms a record, 200
records in flight), so the test replaces the file well inside it."""

import os
import signal

import sluicetest as st

N = 600

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "reload_checked_text",
  batch_size = 50,
  max_inflight_records = 200,
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  steps = { function (rec)
    local t0 = os.clock()
    while os.clock() - t0 < 0.005 do end
    rec.version = %d
    return rec
  end },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""
BROKEN = "local sl = require \"sluice\"\nreturn sl.pipeline {\n  name = ,\n}\n"


def replace_pipeline(t, text):
    st.write_file(t.path("pipeline.lua.new"), text)
    os.replace(t.path("pipeline.lua.new"), t.path("pipeline.lua"))


def test(t):
    replace_pipeline(t, PIPELINE % 1)
    st.append_ids(t, 1, N)
    run = t.start()
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 50, 60, "the first 50 lines", abort=run.exited)

    replace_pipeline(t, PIPELINE % 2)
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: "draining, then reloading" in run.stderr_text(), 30,
                  "the drain for the reload", abort=run.exited)
    replace_pipeline(t, BROKEN)
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: "is not valid" in run.stderr_text(), 30,
                  "the broken file to be refused", abort=run.exited)
    text = run.stderr_text()
    st.assert_true(run.running(), "sluice still runs after the broken file", run.exited() or "")
    st.assert_eq(text.count("running pipeline.lua"), 2, "runs started (the first, the reloaded one)")
    st.assert_true("pipeline.lua:3:" in text, "the refusal names the broken line", text[-1500:])
    st.assert_true("file will be checked again once the new pipeline runs" in text,
                   "the SIGHUP during the drain is kept")
    st.append_ids(t, N + 1, N + 100)
    st.wait_until(lambda: out.count() >= N + 100, 60, "every line", abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    st.assert_eq([r["id"] for r in records], list(range(1, N + 101)), "ids, each once and in order")
    versions = [r["version"] for r in records]
    first2 = versions.index(2)
    st.assert_eq(versions[first2:], [2] * (len(versions) - first2),
                 "after the reload every record went through the checked version 2")
    st.assert_lt(first2, N, "the reload came mid-stream (first record of version 2)")
    st.check_no_dlq(t)


st.main(test)
