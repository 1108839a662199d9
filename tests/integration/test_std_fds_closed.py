"""sluice started with descriptor 0, 1 or 2 closed: a file-to-file run ends
normally (it used to abort, exit 134, in a libuv assertion); a stdout sink
with standard output closed fails at once with a clear error, exit 1, and
acknowledges nothing (it used to retry EINVAL forever); a stdin source with
standard input closed fails the same way."""

import json
import os
import subprocess

import sluicetest as st

FILE_TO = """local sl = require "sluice"
return sl.pipeline {
  name    = "fds",
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks   = { %s },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""

FROM_STDIN = """local sl = require "sluice"
return sl.pipeline {
  name    = "fds-stdin",
  sources = { sl.stdin {} },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""

N = 100


def run_closed(t, fd, pipeline, state):
    """Runs sluice with descriptor fd closed; the others go to files (stdin
    from /dev/null). Returns (exit code, stderr text)."""
    err_path = t.path("stderr-%d-%s" % (fd, state))
    out_path = t.path("stdout-%d-%s" % (fd, state))
    cmd = [t.sluice, "run", pipeline, "--state-dir", t.path(state), "--log-format", "text"]
    st.log("run with fd %d closed: %s" % (fd, " ".join(cmd)))
    with open(os.devnull, "rb") as devnull, open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=t.dir, stdin=devnull, stdout=out, stderr=err,
                                preexec_fn=lambda: os.close(fd))
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            st.fail("sluice with fd %d closed did not exit within 60 s (killed); stderr: %s"
                    % (fd, open(err_path, errors="replace").read()[-2000:]))
    with open(err_path, encoding="utf-8", errors="replace") as f:
        return code, f.read()


def checkpoint(t, state, pipeline_name):
    path = t.path(state, pipeline_name, "src.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def test(t):
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, N + 1):
            f.write('{"id":%d}\n' % i)
    size = os.path.getsize(t.path("in.jsonl"))

    # file -> file: every descriptor closed in turn.
    st.write_pipeline(t.dir, FILE_TO % 'sl.file.sink { path = "out.jsonl" }')
    for fd in (0, 1, 2):
        t.reset("out.jsonl")
        code, err = run_closed(t, fd, "pipeline.lua", "state-%d" % fd)
        st.assert_eq(code, 0, "exit code of file -> file with fd %d closed (stderr: %s)" % (fd, err[-1500:]))
        st.assert_eq(st.count_lines(t.path("out.jsonl")), N, "output lines with fd %d closed" % fd)
        cp = checkpoint(t, "state-%d" % fd, "fds")
        st.assert_eq(cp and cp["offset"], size, "checkpoint offset with fd %d closed" % fd)

    # A stdout sink with standard output closed: a clear error, exit 1, no ack.
    st.write_pipeline(t.dir, FILE_TO % "sl.stdout {}", "to_stdout.lua")
    code, err = run_closed(t, 1, "to_stdout.lua", "state-stdout")
    st.assert_eq(code, 1, "exit code of a stdout sink with stdout closed (stderr: %s)" % err[-1500:])
    want = "stdout.1: writing standard output failed: bad file descriptor; stopping the pipeline"
    st.assert_true(want in err, "stderr names the failure", "expected %r in: %s" % (want, err[-1500:]))
    st.assert_eq(checkpoint(t, "state-stdout", "fds"), None,
                 "checkpoint after a stdout sink failed (nothing may be acknowledged)")
    st.assert_eq(st.count_lines(t.path("dlq.jsonl")), 0, "dead letters after a stdout sink failed")

    # A stdin source with standard input closed: a clear error, exit 1.
    st.write_pipeline(t.dir, FROM_STDIN, "from_stdin.lua")
    code, err = run_closed(t, 0, "from_stdin.lua", "state-stdin")
    st.assert_eq(code, 1, "exit code of a stdin source with stdin closed (stderr: %s)" % err[-1500:])
    want = "cannot read standard input: bad file descriptor"
    st.assert_true(want in err, "stderr names the failure", "expected %r in: %s" % (want, err[-1500:]))


st.main(test)
