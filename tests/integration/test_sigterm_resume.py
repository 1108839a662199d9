"""SIGTERM mid-run drains and exits 0; a restart with the same state folder
resumes where the first run stopped: every id exactly once, in order."""

import signal

import sluicetest as st

N = 1_000_000
STOP_AFTER = 100_000  # output lines before the SIGTERM


def first_run(t, busy_loops):
    """Runs until STOP_AFTER lines are out, then SIGTERM. Returns the output
    line count at exit; raises TooFast if the run got to the end anyway."""
    t.reset("state", "out.jsonl", "dlq.jsonl")
    st.write_pipeline(t.dir, st.upper_pipeline("sigterm-resume", busy_loops))
    run = t.start()
    out = st.LineCounter(t.path("out.jsonl"))
    try:
        st.wait_until(lambda: out.count() >= STOP_AFTER, 300,
                      "%d output lines" % STOP_AFTER, abort=run.exited)
    except st.Failure:
        if run.exit_code() == 0 and out.count() == N:
            raise st.TooFast()
        raise
    run.signal(signal.SIGTERM)
    code = run.wait(120)
    st.assert_eq(code, 0, "exit code after SIGTERM")
    lines = st.count_lines(t.path("out.jsonl"))
    st.log("first run stopped with %d of %d lines out" % (lines, N))
    if lines >= N:
        raise st.TooFast()
    return lines


def test(t):
    st.gen_records(t.path("in.jsonl"), N)
    for busy_loops in st.SLOW_LEVELS:
        try:
            stopped_at = first_run(t, busy_loops)
            break
        except st.TooFast:
            st.log("sluice read all %d records before the SIGTERM took effect; "
                   "retrying with a slower step" % N)
    else:
        st.fail("could not stop sluice mid-run: even with %d busy loops per record "
                "it wrote all %d records after the SIGTERM (does it stop reading "
                "on SIGTERM?)" % (st.SLOW_LEVELS[-1], N))
    st.assert_lt(stopped_at, N, "output lines after SIGTERM")

    run = t.start()
    st.assert_eq(run.wait(600), 0, "exit code of the resumed run")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    ids = st.ids_of(records, "out.jsonl")
    for index, i in enumerate(ids):
        if i != index + 1:
            st.fail("out.jsonl line %d: expected id %d, actual %d (the first run "
                    "stopped after %d lines)" % (index + 1, index + 1, i, stopped_at))
    st.assert_eq(len(ids), N, "output lines after the resumed run")
    st.check_upper(records, "out.jsonl")
    st.check_no_dlq(t)


st.main(test)
