"""SIGKILL mid-run, twice (kill, restart, kill, restart, finish): every id
reaches the output at least once, no line is torn, and each kill duplicates
at most one contiguous range of ids, no larger than max_inflight_records plus
one batch (the records in flight, not yet durably checkpointed, when the
process died: sources pause once the bound is reached, so it is overshot by
the batch that reached it at most)."""

import signal

import sluicetest as st

N = 1_000_000
MAX_INFLIGHT = 20_000
BATCH = 1000
PROGRESS = 100_000  # new output lines each run makes before it is killed
KILLS = 2


def killed_runs(t, busy_loops):
    """Starts and SIGKILLs sluice KILLS times, each after PROGRESS more lines
    are out. Raises TooFast if a run got to the end before its kill."""
    t.reset("state", "out.jsonl", "dlq.jsonl")
    st.write_pipeline(t.dir, st.upper_pipeline(
        "kill9-resume", busy_loops, batch_size=BATCH, max_inflight_records=MAX_INFLIGHT))
    out = st.LineCounter(t.path("out.jsonl"))
    for kill in range(1, KILLS + 1):
        target = out.count() + PROGRESS
        run = t.start()
        try:
            st.wait_until(lambda: out.count() >= target, 300,
                          "%d output lines" % target, abort=run.exited)
        except st.Failure:
            if run.exit_code() == 0:
                raise st.TooFast()
            raise
        run.signal(signal.SIGKILL)
        code = run.wait(30)
        if code == 0:
            raise st.TooFast()  # it finished before the kill landed
        st.assert_eq(code, -signal.SIGKILL, "exit status of run %d" % kill)
        st.log("kill %d: %d lines out" % (kill, st.count_lines(t.path("out.jsonl"))))


def test(t):
    st.gen_records(t.path("in.jsonl"), N)
    for busy_loops in st.SLOW_LEVELS:
        try:
            killed_runs(t, busy_loops)
            break
        except st.TooFast:
            st.log("sluice finished before it could be killed; retrying with a slower step")
    else:
        st.fail("could not kill sluice mid-run: even with %d busy loops per record "
                "it finished first" % st.SLOW_LEVELS[-1])

    run = t.start()
    st.assert_eq(run.wait(600), 0, "exit code of the final run")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    ids = st.ids_of(records, "out.jsonl")

    st.assert_ids_cover(ids, N, "out.jsonl")

    # The output must be 1..N written in order, restarting at most once per
    # kill a little way back: [1..a] [c1+1..b] [c2+1..N] with c <= end of the
    # previous run, so the duplicated ids of each kill are one range c+1..a.
    runs = st.segments(ids)
    st.log("output: %d lines, %d duplicates, runs of consecutive ids: %s"
           % (len(ids), len(ids) - N, [(a, b) for a, b, _ in runs]))
    st.assert_le(len(runs), KILLS + 1, "runs of consecutive ids (one more than the kills)")
    st.assert_eq(runs[0][0], 1, "first id")
    st.assert_eq(runs[-1][1], N, "last id")
    for prev, cur in zip(runs, runs[1:]):
        where = "at out.jsonl line %d (id %d follows id %d)" % (cur[2] + 1, cur[0], prev[1])
        st.assert_le(cur[0], prev[1] + 1, "restart point %s: no gap" % where)
        duplicated = prev[1] - cur[0] + 1
        st.assert_le(duplicated, MAX_INFLIGHT + BATCH,
                     "duplicated ids %d..%d %s" % (cur[0], prev[1], where))
    st.check_upper(records, "out.jsonl")
    st.check_no_dlq(t)


st.main(test)
