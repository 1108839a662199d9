"""The admin endpoint serves a bounded number of connections: under a low
open-file limit (128), a flood of idle connections (150) gets at most a
quarter of the limit served, the rest are answered 503 and closed, sluice's
descriptors stay bounded, /health answers again once the served ones time out,
and the pipeline's own files (input, output, checkpoint saves) never run out
of descriptors: the run ends with exit 0, every record written, the
checkpoint at the end of the input."""

import json
import os
import re
import resource
import selectors
import signal
import socket
import threading
import time

import sluicetest as st

NOFILE = 128
FLOOD = 150

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "cap",
  batch_size = 10,
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "20ms" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def low_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, hard))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Appender(threading.Thread):
    """Appends one record every 10 ms until stopped, so that the pipeline
    reads, writes and saves checkpoints all through the flood."""

    def __init__(self, path, first_id):
        super().__init__(daemon=True)
        self.path = path
        self.next_id = first_id
        self.stop = threading.Event()

    def run(self):
        with open(self.path, "a") as f:
            while not self.stop.is_set():
                f.write('{"id": %d}\n' % self.next_id)
                f.flush()
                self.next_id += 1
                self.stop.wait(0.01)


def get(url):
    """st.http_get, with a reset connection as an answer rather than an error."""
    try:
        return st.http_get(url)
    except OSError as e:
        return None, str(e)


def flood(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        socks.append(s)
    return socks


def drain(socks, timeout):
    """Reads every socket to its end; returns what each received."""
    got = {s: b"" for s in socks}
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    left = len(socks)
    while left:
        if time.monotonic() > deadline:
            st.fail("timed out after %.0f s: %d of %d admin connections still open"
                    % (timeout, left, len(socks)))
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            if data:
                got[s] += data
            else:
                sel.unregister(s)
                s.close()
                left -= 1
    return list(got.values())


def test(t):
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, 101):
            f.write('{"id": %d}\n' % i)
    st.write_pipeline(t.dir, PIPELINE)
    port = st.free_port()
    base = "http://127.0.0.1:%d" % port
    run = t.start(args=["--admin", "127.0.0.1:%d" % port, "--log-format", "text"],
                  preexec_fn=low_nofile)
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 100, 60, "the first 100 records", abort=run.exited)
    cap = re.search(r"at most (\d+) connections", run.stderr_text())
    st.assert_true(cap, "the start line gives the connection cap", run.stderr_text()[-2000:])
    cap = int(cap.group(1))
    st.assert_eq(cap, NOFILE // 4, "connection cap under an open-file limit of %d" % NOFILE)
    baseline = open_fds(run.pid)

    appender = Appender(t.path("in.jsonl"), 101)
    appender.start()
    started = time.monotonic()
    socks = flood(port, FLOOD)
    held = open_fds(run.pid)
    in_time = time.monotonic() - started < 4  # before the first served ones time out
    if in_time:
        code, body = get(base + "/health")
        st.assert_eq((code, body), (503, "too many connections\n"), "/health while the cap is full")
    # The listener and one connection being refused may come and go.
    st.assert_le(held, baseline + cap + 2, "sluice's descriptors with %d admin connections open"
                 % FLOOD)

    answers = drain(socks, 60)
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503 ")]
    silent = [a for a in answers if not a]
    st.assert_eq(len(refused) + len(silent), FLOOD,
                 "connections answered 503 or closed unanswered (others: %r)"
                 % [a[:40] for a in answers if a and not a.startswith(b"HTTP/1.1 503 ")][:3])
    if in_time:
        st.assert_eq(len(refused), FLOOD - cap, "connections refused with 503")
    else:
        st.log("the flood took more than 4 s: served connections timed out meanwhile")
        st.assert_ge(len(refused), 1, "connections refused with 503")
    st.assert_eq(get(base + "/health"), (200, "ok\n"), "/health once the flood is gone")

    appender.stop.set()
    appender.join()
    total = appender.next_id - 1
    st.wait_until(lambda: out.count() >= total, 60, "all %d records written" % total,
                  abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    log = run.stderr_text()
    for bad in ("Too many open files", "ERROR"):
        st.assert_true(bad not in log, "no '%s' in the log" % bad,
                       [line for line in log.splitlines() if bad in line][:3].__repr__())
    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    st.assert_eq(sorted(st.ids_of(records)), list(range(1, total + 1)), "records written")
    with open(t.path("state", "cap", "file.source.1.json")) as f:
        cp = json.load(f)
    st.assert_eq(cp["offset"], os.path.getsize(t.path("in.jsonl")), "checkpoint offset")


st.main(test)
