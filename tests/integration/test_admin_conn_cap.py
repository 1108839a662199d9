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
REFUSING = 8  # SL_HTTP_REFUSING_MAX

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


def open_sockets(pid):
    """Sockets the process holds (its files come and go with checkpoint saves)."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


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


class Reader:
    """Reads a set of sockets to their end, keeping what each received."""

    def __init__(self, socks):
        self.got = {s: b"" for s in socks}
        self.done = {}
        self.sel = selectors.DefaultSelector()
        for s in socks:
            self.sel.register(s, selectors.EVENT_READ)

    def refused(self):
        return sum(1 for a in self.done.values() if a.startswith(b"HTTP/1.1 503 "))

    def until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                st.fail("timed out after %.0f s waiting for %s: %d of %d connections ended, "
                        "%d with 503" % (timeout, what, len(self.done), len(self.got),
                                         self.refused()))
            for key, _ in self.sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except ConnectionResetError:
                    data = b""
                if data:
                    self.got[s] += data
                else:
                    self.sel.unregister(s)
                    s.close()
                    self.done[s] = self.got[s]


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
    # A quarter of the limit, less the connections that may be being refused.
    st.assert_eq(cap, NOFILE // 4 - REFUSING, "connection cap under an open-file limit of %d"
                 % NOFILE)
    baseline = open_sockets(run.pid)

    appender = Appender(t.path("in.jsonl"), 101)
    appender.start()
    started = time.monotonic()
    socks = flood(port, FLOOD)
    held = open_sockets(run.pid)
    # Served ones, those being refused (they linger until the client closes
    # its end, or 1 s): a quarter of the limit; and one refused right now.
    st.assert_le(held, baseline + cap + REFUSING + 1,
                 "sluice's sockets with %d admin connections open" % FLOOD)

    # The refused ones are answered at once; the served ones stay open until
    # they time out (5 s), unless the machine is so slow that they did.
    reader = Reader(socks)
    reader.until(lambda: reader.refused() >= FLOOD - cap or len(reader.done) == FLOOD, 30,
                 "the refused connections")
    in_time = time.monotonic() - started < 4
    if in_time:
        code, body = get(base + "/health")
        st.assert_eq((code, body), (503, "too many connections\n"), "/health while the cap is full")
    reader.until(lambda: len(reader.done) == FLOOD, 60, "every connection to end")
    answers = list(reader.done.values())
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
