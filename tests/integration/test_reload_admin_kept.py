"""The admin endpoint's listening socket stays open across a reload: a
/health probe that comes while the old pipeline is torn down and the new
file loads is queued by the kernel and answered 200 by the new run.
Before, each run bound the address itself, and such a probe was refused
(a liveness probe would have failed during every reload).

The new file's top level spins for SPIN_S seconds in each of the run's Lua
states, so the swap lasts long enough for the probe to land inside it:
the test connects and sends its request once "reloaded" is logged (the
old run is torn down), checks that the new run has not started yet, and
then reads the answer."""

import http.client
import signal

import sluicetest as st

SPIN_S = 0.3
SLOW_TOP = """local t0 = os.clock()
while os.clock() - t0 < %g do end
""" % SPIN_S


def test(t):
    st.write_pipeline(t.dir, st.reload_pipeline("reload_admin_kept", "1"))
    st.append_ids(t, 1, 10)
    admin = "127.0.0.1:%d" % st.free_port()
    run = t.start(args=["--admin", admin])
    st.wait_until(lambda: st.http_answers("http://%s/health" % admin), 30, "the admin endpoint",
                  abort=run.exited)

    st.write_pipeline(t.dir, SLOW_TOP + st.reload_pipeline("reload_admin_kept", "2"))
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: '"msg":"reloaded"' in run.stderr_text(), 60,
                  "the old pipeline to be torn down for the reload", abort=run.exited)
    host, port = admin.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        conn.request("GET", "/health")
    except ConnectionRefusedError:
        st.fail("/health during the swap: connection refused (the listening socket was closed)")
    st.assert_eq(run.stderr_text().count("running pipeline.lua"), 1,
                 "runs started when the probe was sent (the new file still loading)")
    resp = conn.getresponse()
    st.assert_eq(resp.status, 200, "/health status of the probe sent during the swap")
    conn.close()
    st.assert_eq(run.stderr_text().count("running pipeline.lua"), 2, "runs started after the answer")
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")


st.main(test)
