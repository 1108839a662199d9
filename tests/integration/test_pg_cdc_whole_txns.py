"""pg.cdc hands a transaction on only once its commit was read.  A part of
one would go out with the checkpoint of the transaction before; the next
start (or the reconnection) streams from there and sends the transaction
again whole, so a pg.sink, effectively-once otherwise, would apply that
part twice.

A proxy between pg.cdc and the server forwards the stream but holds it
back just before the commit of a 150-row transaction: pg.cdc has read
every change of it, and the commit does not come.  Then one of:

- kill -9 (once nothing is in flight: what was emitted is durable),
- the connection cut (pg.cdc reconnects and streams from its checkpoint),
- SIGTERM (the stop drains what was emitted, then saves the checkpoint),

and the stream goes on without the proxy holding.  The target table (no
unique key, one row per change applied) must hold every change once.
Last, a transaction of more than 4 batches, held before its commit: its
first piece is written under a checkpoint of its own (the previous
position and a piece number), then the rest once the commit comes."""

import json
import socket
import threading
import signal

import pgtest
import sluicetest as st

ROWS = 150
BIG = 450       # rows of the transaction that goes in pieces (batch_size 100)

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 100,
  sources = { sl.pg.cdc { dsn = %(cdc_dsn)s, slot = %(slot)s, publication = %(slot)s,
                          status_interval = "100ms", retry_max = "200ms", name = "cdc" } },
  steps = { function (rec) return { id = rec.after.id, lsn = rec.lsn } end },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, name = "target" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


class HoldingProxy:
    """A TCP proxy to the server that, while `hold` is set, stops forwarding
    the server's bytes at the first pgoutput Commit message (CopyData 'w',
    then 'C') and keeps them; release() sends what it kept and forwards the
    rest as it comes; cut() closes every connection."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.hold = False
        self.holding = threading.Event()
        self.conns = []
        self.held = []    # [client, kept bytes] of the connections holding
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.srv.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self.pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self.from_server, args=(server, client), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def parse(self, buf, client):
        """Forwards the whole messages of buf up to a Commit to hold back;
        returns what is left, and the held entry if it holds."""
        out = b""
        while len(buf) >= 5:
            n = 1 + int.from_bytes(buf[1:5], "big")
            if len(buf) < n:
                break
            if (self.hold and buf[0:1] == b"d" and n > 30 and buf[5:6] == b"w"
                    and buf[30:31] == b"C"):
                client.sendall(out)
                entry = [client, buf]
                self.held.append(entry)
                self.holding.set()
                return b"", entry
            out, buf = out + buf[:n], buf[n:]
        client.sendall(out)
        return buf, None

    def from_server(self, server, client):
        buf, entry, raw = b"", None, False
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                with self.lock:
                    if entry is not None and entry not in self.held:
                        entry, raw = None, True          # released: a plain pipe from now on
                    if raw:
                        client.sendall(data)
                    elif entry is not None:
                        entry[1] += data
                    else:
                        buf, entry = self.parse(buf + data, client)
        except OSError:
            pass
        self.pipe(server, client)   # closes both

    def release(self):
        with self.lock:
            self.hold = False
            held, self.held = self.held, []
            for client, kept in held:
                client.sendall(kept)

    def cut(self):
        with self.lock:
            self.hold, self.held = False, []
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def dsn_param(dsn, key):
    return dict(kv.split("=", 1) for kv in dsn.split())[key]


def body(t, db, slot):
    ev, tgt = db.t("ev"), db.t("tgt")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY); CREATE TABLE %s (id int, lsn text); "
           "CREATE PUBLICATION %s FOR TABLE %s" % (ev, tgt, slot, ev))
    proxy = HoldingProxy(dsn_param(db.dsn, "host"), int(dsn_param(db.dsn, "port")))
    cdc_dsn = " ".join(kv for kv in db.dsn.split() if not kv.startswith(("host=", "port=")))
    cdc_dsn += " host=127.0.0.1 port=%d sslmode=disable gssencmode=disable" % proxy.port
    db.write_pipeline(t, PIPELINE, slot=pgtest.lua_str(slot), table="tgt",
                      cdc_dsn=pgtest.lua_str(cdc_dsn))
    admin = st.free_port()
    url = "http://127.0.0.1:%d/metrics" % admin
    series = '%%s{pipeline="%s"' % db.schema

    def metric(name):
        return st.metric_value(st.http_get(url)[1], series % name) or 0

    def read():
        return metric("sluice_pg_cdc_changes_total")

    def start():
        r = t.start(args=["--log-format", "text", "--admin", "127.0.0.1:%d" % admin])
        st.wait_until(lambda: "streaming changes" in r.stderr_text(), 30, "the stream to start",
                      abort=r.exited)
        st.wait_until(lambda: st.http_answers(url), 30, "the admin endpoint", abort=r.exited)
        return r

    run = start()
    total = 0
    for case in ("kill -9", "connection cut", "SIGTERM"):
        # A transaction read in full, then one held back before its commit.
        db.sql("INSERT INTO %s SELECT generate_series(%d, %d)" % (ev, total + 1, total + 10))
        total += 10
        st.wait_until(lambda: db.count("tgt") >= total, 30, "%d rows before the %s" % (total, case),
                      abort=run.exited)
        before = read()
        proxy.holding.clear()
        proxy.hold = True
        db.sql("INSERT INTO %s SELECT generate_series(%d, %d)" % (ev, total + 1, total + ROWS))
        total += ROWS
        st.wait_until(proxy.holding.is_set, 30, "the proxy to hold the commit back (%s)" % case)
        st.wait_until(lambda: read() >= before + ROWS and metric("sluice_inflight_records") == 0, 30,
                      "the changes read and nothing in flight (%s)" % case, abort=run.exited)
        st.log("%s: %d changes read, the commit held back, %d rows in the target"
               % (case, read(), db.count("tgt")))
        proxy.hold = False
        if case == "kill -9":
            run.signal(signal.SIGKILL)
            st.assert_eq(run.wait(30), -signal.SIGKILL, "exit status after kill -9")
            proxy.cut()
            run = start()
        elif case == "connection cut":
            proxy.cut()
        else:
            run.signal(signal.SIGTERM)
            st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
            proxy.cut()
            run = start()
        st.wait_until(lambda: db.count("tgt") >= total, 60, "%d rows after the %s" % (total, case),
                      abort=run.exited)
        rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % tgt)[0]
        st.assert_eq(rows, [str(total), str(total)], "rows and distinct ids after the %s" % case)

    # A transaction of more than 4 batches goes in pieces, each under the
    # checkpoint of the transaction before it, numbered: no two sink
    # transactions in a row store the same one (the lost-COMMIT check
    # compares them).  Held before its commit: one piece of 400 is out.
    db.sql("INSERT INTO %s SELECT generate_series(%d, %d)" % (ev, total + 1, total + 10))
    total += 10
    st.wait_until(lambda: db.count("tgt") >= total, 30, "%d rows before the big one" % total,
                  abort=run.exited)
    before = json.loads(db.checkpoint(source="cdc"))
    proxy.holding.clear()
    proxy.hold = True
    db.sql("INSERT INTO %s SELECT generate_series(%d, %d)" % (ev, total + 1, total + BIG))
    st.wait_until(proxy.holding.is_set, 30, "the proxy to hold the big commit back")
    st.wait_until(lambda: db.count("tgt") >= total + 400, 30, "the first piece written", abort=run.exited)
    piece = json.loads(db.checkpoint(source="cdc"))
    st.assert_eq(sorted(piece), ["lsn", "piece"], "the checkpoint stored with a piece")
    st.assert_eq(piece["lsn"], before["lsn"], "a piece's position: the transaction before")
    st.assert_ne(piece, before, "the checkpoint of the piece against the one before it")
    proxy.release()
    total += BIG
    st.wait_until(lambda: db.count("tgt") >= total, 30, "the big transaction written", abort=run.exited)
    st.wait_until(lambda: "piece" not in json.loads(db.checkpoint(source="cdc")), 30,
                  "the checkpoint after the commit (no piece)", abort=run.exited)
    rows = db.sql("SELECT count(*), count(DISTINCT id) FROM %s" % tgt)[0]
    st.assert_eq(rows, [str(total), str(total)], "rows and distinct ids after the big transaction")
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code of the last run")
    st.check_no_dlq(t)


st.main(pgtest.with_replication("cdc_whole", body))
