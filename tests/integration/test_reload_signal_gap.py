"""A signal that comes while a reload swaps pipelines (the old one torn
down, the new file loading) waits for the new pipeline instead of ending the
process (SIGHUP's default action) or being lost (SIGTERM): the new file's
top level runs for about 2 s, and SIGHUP then SIGTERM are sent during it.
The new pipeline checks the file once more, drains and exits 0, and every
input line is written exactly once."""

import json
import signal

import sluicetest as st

# The new file spins at its top level so that the gap between the two runs
# is long enough to hit: the check of the file spins too (before the drain).
SLOW_TOP = """local t0 = os.clock()
while os.clock() - t0 < 2 do end
"""


def test(t):
    st.write_pipeline(t.dir, st.reload_pipeline("reload_gap", "1"))
    st.append_ids(t, 1, 100)
    run = t.start()
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 100, 30, "the first 100 lines", abort=run.exited)

    st.write_pipeline(t.dir, SLOW_TOP + st.reload_pipeline("reload_gap", "2"))
    run.signal(signal.SIGHUP)
    # "reloaded" is logged once the old pipeline is torn down, just before
    # the new file is loaded: the signals are sent while it loads.
    st.wait_until(lambda: "reloaded" in run.stderr_text(), 60, "the old pipeline to drain for the reload",
                  abort=run.exited)
    run.signal(signal.SIGHUP)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.stderr_text().count("running pipeline.lua"), 1,
                 "runs started when the signals were sent (the new file still loading)")
    code = run.wait(60)
    st.assert_eq(code, 0, "exit code after SIGHUP and SIGTERM during the swap")
    text = run.stderr_text()
    st.assert_eq(text.count("running pipeline.lua"), 2, "runs started (the first, and the reloaded one)")
    after = text.split("reloaded", 1)[1]
    st.assert_true("SIGTERM" in after, "the new pipeline took the SIGTERM sent during the swap", after[-2000:])

    with open(t.path("out.jsonl")) as f:
        ids = [json.loads(line)["id"] for line in f]
    st.assert_eq(sorted(ids), list(range(1, 101)), "each of the first 100 lines once")


if __name__ == "__main__":
    st.main(test)
