"""SIGHUP reloads the pipeline file: a broken file is refused and the old
pipeline goes on; a valid one takes over after a drain, resuming from the
checkpoints, so every input line reaches the output exactly once and the
lines after the reload went through the new step."""

import signal

import sluicetest as st


def test(t):
    st.write_pipeline(t.dir, st.reload_pipeline("reload", "1"))
    st.append_ids(t, 1, 100)
    run = t.start()
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 100, 30, "the first 100 lines", abort=run.exited)

    # A broken file: refused, the old pipeline keeps running.
    st.write_pipeline(t.dir, "return sl.pipeline {")
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: "still running the pipeline as loaded" in run.stderr_text(), 30,
                  "the reload to be refused", abort=run.exited)
    st.assert_true("pipeline.lua:1:" in run.stderr_text(),
                   "the refused reload's error names the file and line")
    st.append_ids(t, 101, 200)
    st.wait_until(lambda: out.count() >= 200, 30, "lines 101-200 after the refused reload",
                  abort=run.exited)

    # A valid file: drained, reloaded, resumed.
    st.write_pipeline(t.dir, st.reload_pipeline("reload", "2"))
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: run.stderr_text().count("running pipeline.lua") >= 2, 30,
                  "the pipeline to start again", abort=run.exited)
    st.append_ids(t, 201, 300)
    st.wait_until(lambda: out.count() >= 300, 30, "lines 201-300 after the reload",
                  abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    ids = [r["id"] for r in records]
    st.assert_eq(ids, list(range(1, 301)), "ids in the output, each once and in order")
    versions = [r["version"] for r in records]
    st.assert_eq(versions[:200], [1] * 200, "versions before the reload")
    st.assert_eq(versions[200:], [2] * 100, "versions after the reload")
    st.check_no_dlq(t)


st.main(test)
