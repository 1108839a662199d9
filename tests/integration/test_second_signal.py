"""A second SIGTERM during the drain that the first one started makes sluice
give up draining and exit promptly with a non-zero code; a restart then
completes with every record at least once and no torn line."""

import signal
import time

import sluicetest as st

N = 1_000_000
STOP_AFTER = 100_000
PROMPT_S = 10  # the second signal must end the process within this


def interrupted_run(t, busy_loops):
    """SIGTERM, then a second SIGTERM as soon as the first is delivered.
    Returns the exit code; raises TooFast if the run ended before that."""
    t.reset("state", "out.jsonl", "dlq.jsonl")
    st.write_pipeline(t.dir, st.upper_pipeline("second-signal", busy_loops))
    run = t.start()
    out = st.LineCounter(t.path("out.jsonl"))
    try:
        st.wait_until(lambda: out.count() >= STOP_AFTER, 300,
                      "%d output lines" % STOP_AFTER, abort=run.exited)
    except st.Failure:
        if run.exit_code() == 0:
            raise st.TooFast()
        raise
    run.signal(signal.SIGTERM)
    # Two SIGTERMs sent back to back can merge into one while the first is
    # still pending, so send the second once the first has been taken.
    st.wait_until(lambda: run.signal_delivered(signal.SIGTERM), 5,
                  "the first SIGTERM to be delivered")
    if not run.running():
        if run.exit_code() == 0:
            raise st.TooFast()  # drained before the second signal was sent
        st.fail("sluice exited with code %d on the first SIGTERM, before the second"
                % run.exit_code())
    run.signal(signal.SIGTERM)
    sent = time.monotonic()
    code = run.wait(PROMPT_S)
    st.log("exited %.2f s after the second SIGTERM, %d lines out"
           % (time.monotonic() - sent, st.count_lines(t.path("out.jsonl"))))
    if code == 0 and (st.count_lines(t.path("out.jsonl")) >= N
                      or "second signal" not in run.stderr_text()):
        # The drain the first signal started was over before the second one
        # was handled (it logs "second signal" when it is): too fast to test.
        raise st.TooFast()
    return code


def test(t):
    st.gen_records(t.path("in.jsonl"), N)
    for busy_loops in st.SLOW_LEVELS:
        try:
            code = interrupted_run(t, busy_loops)
            break
        except st.TooFast:
            st.log("sluice finished before the second signal; retrying with a slower step")
    else:
        st.fail("could not signal sluice twice mid-run: even with %d busy loops "
                "per record it drained and exited 0 before (or despite) the "
                "second SIGTERM" % st.SLOW_LEVELS[-1])
    st.assert_ne(code, 0, "exit code after the second SIGTERM")

    run = t.start()
    st.assert_eq(run.wait(600), 0, "exit code of the restarted run")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    ids = st.ids_of(records, "out.jsonl")
    st.assert_ids_cover(ids, N, "out.jsonl")
    st.check_upper(records, "out.jsonl")


st.main(test)
