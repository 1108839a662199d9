"""A checkpoint save that fails mid-run stops the pipeline: exit 3 and an
error naming the file, instead of an error line and running on unprotected
(exit 0).  The failure is made deterministic, also as root, by putting a
folder where the save writes its temporary file (open fails with EISDIR).
A following run, once the folder is gone, resumes from the last checkpoint
saved and loses nothing."""

import errno
import json
import os

import sluicetest as st

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name       = "savefail",
  batch_size = 10,
  sources    = { sl.file.source { path = "in.jsonl", name = "src",
                                  follow = sl.env("FOLLOW", "1") == "1", poll_interval = "20ms" } },
  sinks      = { sl.file.sink { path = "out.jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl" },
}
"""


def append(t, first, n):
    with open(t.path("in.jsonl"), "a") as f:
        for i in range(first, first + n):
            f.write('{"id":%d}\n' % i)
    return first + n


def test(t):
    st.write_pipeline(t.dir, PIPELINE)
    next_id = append(t, 1, 100)
    run = t.start(args=("--log-format", "text"))
    state = t.path("state", "savefail")
    cp_path = os.path.join(state, "src.json")
    tmp_path = os.path.join(state, ".src.json.tmp")
    st.wait_until(lambda: os.path.exists(cp_path) and json.load(open(cp_path))["line"] == 100, 60,
                  "the checkpoint of the first 100 lines", abort=run.exited)

    # A folder where the next save writes its temporary file.  A save under
    # way holds the name for a moment: try again until the folder is made.
    def make_folder():
        try:
            os.mkdir(tmp_path)
            return True
        except FileExistsError:
            return os.path.isdir(tmp_path)
    st.wait_until(make_folder, 30, "a folder in place of %s" % tmp_path, abort=run.exited)

    # More input: its acknowledgement saves a checkpoint, which fails.
    def feed():
        nonlocal next_id
        if run.running():
            next_id = append(t, next_id, 10)
        return not run.running()
    st.wait_until(feed, 60, "sluice to stop after a failed save", interval=0.05)
    code = run.wait(10)
    err = run.stderr_text()
    st.assert_eq(code, 3, "exit code after a failed checkpoint save")
    want = "cannot save the checkpoint to %s: %s; stopping the pipeline (exit 3)" % (
        cp_path, os.strerror(errno.EISDIR))
    st.assert_true(want in err, "stderr names the file and the error",
                   "expected %r in:\n%s" % (want, err[-2000:]))
    st.assert_eq(err.count("cannot save the checkpoint"), 1, "error lines about the failed save")
    saved = json.load(open(cp_path))["line"]
    written = st.count_lines(t.path("out.jsonl"))
    st.assert_le(saved, written, "checkpoint line vs lines written")
    st.log("stopped: checkpoint at line %d, %d lines written, %d in the input"
           % (saved, written, next_id - 1))

    # The folder gone, a run to the end resumes from the checkpoint saved.
    os.rmdir(tmp_path)
    run = t.start(args=("--log-format", "text"), env={"FOLLOW": "0"})
    st.assert_eq(run.wait(60), 0, "exit code of the run after the folder is gone")
    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    ids = st.ids_of(records)
    st.assert_eq(sorted(set(ids)), list(range(1, next_id)), "ids written over both runs")
    st.assert_eq(ids[written:], list(range(saved + 1, next_id)),
                 "ids written after the first run's last checkpoint (line %d)" % saved)
    st.check_no_dlq(t)


st.main(test)
