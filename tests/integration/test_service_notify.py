"""sluice under a service manager (systemd's notification protocol, as
ops/systemd/sluice@.service runs it): with NOTIFY_SOCKET and WATCHDOG_USEC
set, the process says READY=1 once its sources run, WATCHDOG=1 at half the
watchdog interval from its loop, RELOADING=1 and READY=1 again around a
SIGHUP reload, and STOPPING=1 when SIGTERM starts the drain.  The test is
the manager: a datagram socket of its own."""

import os
import signal
import socket
import time

import sluicetest as st

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "service",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


class Manager:
    """The service manager's end: every message sluice sent, in order."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.got = []

    def poll(self):
        try:
            while True:
                self.got.append(self.sock.recv(4096).decode())
        except socket.timeout:
            pass
        return self.got

    def wait_for(self, what, after=0, timeout=30):
        def seen():
            return any(what in m.split("\n") for m in self.poll()[after:])
        st.wait_until(seen, timeout, "%s from sluice (got %s)" % (what, self.got[after:][-5:]))
        return next(i for i in range(after, len(self.got)) if what in self.got[i].split("\n"))


def test(t):
    st.write_pipeline(t.dir, PIPELINE)
    with open(t.path("in.jsonl"), "w") as f:
        f.write('{"id": 1}\n')
    path = t.path("notify.sock")
    m = Manager(path)
    run = t.start(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    ready = m.wait_for("READY=1")
    st.assert_true(any(line.startswith("STATUS=running service") for line in m.got[ready].split("\n")),
                   "READY=1 comes with a STATUS line", m.got[ready])
    # The watchdog: several pings, from the loop, at about 100 ms.
    first = m.wait_for("WATCHDOG=1", ready)
    t0 = time.monotonic()
    third = m.wait_for("WATCHDOG=1", m.wait_for("WATCHDOG=1", first + 1) + 1)
    st.assert_lt(time.monotonic() - t0, 5, "three watchdog pings within 5 s")
    st.assert_ge(third, first + 2, "the watchdog pings keep coming")
    # A reload: RELOADING=1, then READY=1 again once the new file runs.
    run.signal(signal.SIGHUP)
    reloading = m.wait_for("RELOADING=1", third)
    m.wait_for("READY=1", reloading)
    run.signal(signal.SIGTERM)
    m.wait_for("STOPPING=1", reloading)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    # Without a manager, nothing is sent and nothing fails.
    os.unlink(path)
    t.reset("state", "out.jsonl")
    run = t.start()
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 1, 30, "the record through", abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code without a manager")


st.main(test)
