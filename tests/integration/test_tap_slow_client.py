"""A tap whose client never reads does not slow the pipeline: with one
attached at rate 1 and not read, 300,000 records still go through within
the deadline (they make some 40 MB of tap lines, far more than the tap's
256 KiB queue and the socket buffers); the samples that did not fit are
dropped, and when the client reads at last the stream says how many with
a {"dropped": N} line.  A client that then never reads again is cut off
after 30 s, freeing its tap.  Then the pipeline stops cleanly."""

import json
import signal
import socket
import time

import sluicetest as st

N = 300000

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "tap-slow",
  sources = { sl.file.source { name = "in", path = "in.jsonl", follow = true,
                               poll_interval = "50ms" } },
  steps = { function (rec) rec.step = 1; return rec end },
  sinks = { sl.file.sink { name = "out", path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def status(port):
    code, body = st.http_get("http://127.0.0.1:%d/status" % port)
    return json.loads(body) if code == 200 else None


def test(t):
    st.write_pipeline(t.dir, PIPELINE)
    open(t.path("in.jsonl"), "w").close()
    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    st.wait_until(lambda: st.http_answers("http://127.0.0.1:%d/ready" % port), 30,
                  "the pipeline to be ready", abort=run.exited)

    # The client asks for every record of the step and then reads nothing.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /tap?stage=step.1 HTTP/1.1\r\nHost: t\r\n\r\n")
    st.wait_until(lambda: status(port)["taps"] == 1, 30, "the tap to be attached",
                  abort=run.exited)

    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, N + 1):
            f.write('{"id": %d, "name": "%s"}\n' % (i, "x" * 80))
    started = time.monotonic()
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= N, 60, "%d records through with an unread tap" % N,
                  abort=run.exited)
    st.log("%d records in %.1f s with a tap attached and not read" % (N, time.monotonic() - started))
    st.assert_eq(status(port)["taps"], 1, "the tap is still attached")

    # Now the client reads: lines, and a notice of what was dropped.
    s.settimeout(10)
    data = b""
    deadline = time.monotonic() + 30
    while b'{"dropped":' not in data and time.monotonic() < deadline:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    st.assert_true(b'{"dropped":' in data, "a dropped notice reaches the client",
                   data[-300:].decode(errors="replace"))
    at = data.index(b'{"dropped":')
    notice = json.loads(data[at:data.index(b"\n", at)])
    st.assert_true(0 < notice["dropped"] < N, "the notice counts the lost samples", notice)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    st.assert_true(head.startswith("HTTP/1.1 200") and "chunked" in head.lower(),
                   "a chunked 200 answer", head)
    s.close()
    st.wait_until(lambda: status(port)["taps"] == 0, 30, "the tap to be detached once the client left",
                  abort=run.exited)

    # A client that never reads again is cut off once a piece has waited
    # 30 s for it: it cannot hold one of the four taps for ever.
    s2 = socket.socket()
    s2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s2.connect(("127.0.0.1", port))
    s2.sendall(b"GET /tap?stage=step.1 HTTP/1.1\r\nHost: t\r\n\r\n")
    st.wait_until(lambda: status(port)["taps"] == 1, 30, "the second tap to be attached",
                  abort=run.exited)
    with open(t.path("in.jsonl"), "a") as f:
        for i in range(N + 1, N + 20001):
            f.write('{"id": %d, "name": "%s"}\n' % (i, "x" * 80))
    st.wait_until(lambda: out.count() >= N + 20000, 60, "20,000 more records", abort=run.exited)
    cut = time.monotonic()
    st.wait_until(lambda: status(port)["taps"] == 0, 60, "the stalled tap to be cut off",
                  abort=run.exited)
    st.log("the stalled tap was cut off %.1f s after the records went through" % (time.monotonic() - cut))
    s2.close()

    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    st.assert_eq(st.count_lines(t.path("out.jsonl")), N + 20000, "records written")


st.main(test)
