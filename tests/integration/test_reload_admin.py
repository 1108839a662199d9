"""sluice reload, through the admin endpoint: a broken file is refused
with exit 2 and the check's file:line message while the old pipeline goes
on; a valid file exits 0 once the new pipeline is ready, and the records
after it went through the new step; two reloads at once are both answered
by a check that started after them (or by the new run, when one came while
the pipeline switched runs); an endpoint that does not answer is exit 1."""

import subprocess
import threading

import sluicetest as st


def reload(t, admin):
    p = subprocess.run([t.sluice, "reload", "--admin", admin], capture_output=True, text=True,
                       timeout=120)
    st.log("sluice reload: exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout, p.stderr))
    return p


def test(t):
    st.write_pipeline(t.dir, st.reload_pipeline("reload-admin", "1"))
    st.append_ids(t, 1, 100)
    port = st.free_port()
    admin = "127.0.0.1:%d" % port
    run = t.start(args=["--admin", admin])
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 100, 30, "the first 100 lines", abort=run.exited)

    # A broken file: exit 2, the error with its file and line; the old
    # pipeline goes on.
    st.write_pipeline(t.dir, "local sl = require 'sluice'\nreturn sl.pipeline { name = 'x', bogus = 1 }\n")
    p = reload(t, admin)
    st.assert_eq(p.returncode, 2, "exit code for a broken file")
    st.assert_true("pipeline.lua:2:" in p.stderr and "bogus" in p.stderr,
                   "the check's error names the file and line", p.stderr)
    st.assert_eq(st.http_get("http://%s/ready" % admin), (200, "ready\n"), "the old pipeline is ready")
    st.append_ids(t, 101, 200)
    st.wait_until(lambda: out.count() >= 200, 30, "lines 101-200 after the refused reload",
                  abort=run.exited)

    # A valid file: exit 0 once the new pipeline answers /ready.
    st.write_pipeline(t.dir, st.reload_pipeline("reload-admin", "2"))
    p = reload(t, admin)
    st.assert_eq(p.returncode, 0, "exit code for a valid file")
    st.assert_true("reloaded" in p.stdout, "it says so", p.stdout)
    st.assert_eq(run.stderr_text().count("running pipeline.lua"), 2, "the pipeline started twice")
    st.append_ids(t, 201, 300)
    st.wait_until(lambda: out.count() >= 300, 30, "lines 201-300 after the reload", abort=run.exited)

    # Two at once: each is answered by a check that started after it, and
    # both see the pipeline come back.
    st.write_pipeline(t.dir, st.reload_pipeline("reload-admin", "3"))
    results = [None, None]

    def one(i):
        results[i] = reload(t, admin)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(150)
    # Each exits 0: answered by a check after it, or (asked while the
    # pipeline switched runs) once the new run, which read the file after
    # it, is ready.  Only one that came while nothing listened at all
    # may say it could not reach the endpoint.
    for r in results:
        st.assert_true(r.returncode == 0 or (r.returncode == 1 and "cannot reach" in r.stderr),
                       "a reload of two at once exits 0 (or 1: nothing listened)", r)
    st.assert_true(any(r.returncode == 0 for r in results), "one of two reloads at once exits 0",
                   results)
    st.append_ids(t, 301, 400)
    st.wait_until(lambda: out.count() >= 400, 30, "lines 301-400 after the double reload",
                  abort=run.exited)

    # GET is not a reload.
    st.assert_eq(st.http_get("http://%s/reload" % admin)[0], 405, "GET /reload")

    run.signal(__import__("signal").SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    st.assert_eq([r["id"] for r in records], list(range(1, 401)), "ids, each once and in order")
    versions = [r["version"] for r in records]
    st.assert_eq((versions[:200], versions[200:300], versions[300:]), ([1] * 200, [2] * 100, [3] * 100),
                 "versions: 1 before the reload, 2 after, 3 after the double reload")
    st.check_no_dlq(t)

    # Nothing listens any more: exit 1.
    p = reload(t, admin)
    st.assert_eq(p.returncode, 1, "exit code when the endpoint cannot be reached")
    st.assert_true("cannot reach" in p.stderr, "it says why", p.stderr)


st.main(test)
