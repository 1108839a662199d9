"""A Lua source's checkpoint that cannot be used stops the start, as the
file source's does (test_checkpoint_corrupt): exit 3, naming the state file,
what is wrong and --reset-checkpoint, nothing read.  The source is the
shipped `sequence` (lua/plugins/sequence.lua), which refuses what ctx.load()
gives through ctx.corrupt(); a state file that cannot be read at all is
refused by ctx.load() itself, for every Lua source.  A number edited within
range is used; --reset-checkpoint counts from the start again."""

import os

import sluicetest as st

N = 100

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "seqcp",
  batch_size = 10,
  sources = { sl.sequence { from = 1, to = %d, name = "seq" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
""" % N

CASES = [
    ("garbage", "not a number", 'it holds "not a number", not the last number acknowledged, from 0 to 100'),
    ("an empty file", "", 'it holds "", not the last number acknowledged, from 0 to 100'),
    ("a fraction", "50.5", 'it holds "50.5", not the last number'),
    ("a number past the end", "5000", 'it holds "5000", not the last number'),
    ("a negative number", "-7", 'it holds "-7", not the last number'),
    ("a number and more", "50\n51", 'it holds "50\\\\n51", not the last number'),
]


def run_to_end(t, what, args=()):
    r = t.start(args=["--log-format", "text"] + list(args))
    st.assert_eq(r.wait(60), 0, "exit code (%s)" % what)
    return r.stderr_text()


def test(t):
    st.write_pipeline(t.dir, PIPELINE)
    run_to_end(t, "the first run")
    st.assert_eq(st.count_lines(t.path("out.jsonl")), N, "lines after the first run")
    cp_path = t.path("state", "seqcp", "seq.json")
    with open(cp_path) as f:
        st.assert_eq(f.read(), str(N), "the checkpoint after the first run")

    st.check_refusals(t, cp_path, CASES, "seq", lambda: st.count_lines(t.path("out.jsonl")))

    # A state file that cannot be read (a folder in its place): ctx.load()
    # refuses it for any Lua source, rather than answering nil (= from zero).
    os.remove(cp_path)
    os.mkdir(cp_path)
    st.assert_refused(t, "a folder for a state file", cp_path, "cannot read it: ", "seq")
    os.rmdir(cp_path)

    # A number edited within range is a position like any other.
    with open(cp_path, "w") as f:
        f.write("90")
    err = run_to_end(t, "resuming after 90")
    st.assert_true("resuming after 90" in err, "the source says where it resumes", err[-2000:])
    st.assert_eq(st.count_lines(t.path("out.jsonl")), N + 10, "lines after resuming after 90")

    # --reset-checkpoint: the file goes aside, the source counts from 1.
    with open(cp_path, "w") as f:
        f.write("garbage")
    run_to_end(t, "--reset-checkpoint seq", ["--reset-checkpoint", "seq"])
    st.assert_eq(st.count_lines(t.path("out.jsonl")), 2 * N + 10, "lines after the reset run")
    with open(cp_path + ".before-reset") as f:
        st.assert_eq(f.read(), "garbage", "the checkpoint moved aside")
    st.check_no_dlq(t)


st.main(test)
