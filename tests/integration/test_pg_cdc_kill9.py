"""pg.cdc, kill -9 mid-stream, restart: no change is lost; the changes read
again after the restart all come after the checkpoint the first run had
saved; and the slot's confirmed_flush_lsn never passed what the sink had
made durable (every change committed before it is in the output the killed
run left behind)."""

import json
import signal

import pgtest
import sluicetest as st

TXNS = 300
ROWS = 20

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 100,
  max_inflight_records = 1000,
  sources = { sl.pg.cdc { dsn = %(dsn)s, slot = %(slot)s, publication = %(pub)s,
                          status_interval = "100ms", name = "cdc" } },
  steps = {
    """ + pgtest.BUSY_STEP + """,
  },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def lsn(text):
    hi, lo = text.split("/")
    return int(hi, 16) << 32 | int(lo, 16)


def key(r):
    return (r["op"], (r.get("after") or r.get("before"))["id"], r["lsn"])


def test(t):
    db = pgtest.Db("cdc_kill9")
    slot = db.schema
    try:
        body(t, db, slot)
    finally:
        db.drop_replication(slot)
        db.drop()


def body(t, db, slot):
    ev = db.t("ev")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, v int)" % ev)
    db.sql("CREATE PUBLICATION %s FOR TABLE %s" % (slot, ev))
    db.write_pipeline(t, PIPELINE, slot=pgtest.lua_str(slot), pub=pgtest.lua_str(slot),
                      busy=100000)
    out = st.LineCounter(t.path("out.jsonl"))
    run = t.start()
    st.wait_until(lambda: "streaming changes" in run.stderr_text(), 30, "the stream to start",
                  abort=run.exited)
    # TXNS transactions, each inserting ROWS rows and updating its first one.
    db.sql("DO $$ BEGIN FOR k IN 0..%d LOOP "
           "INSERT INTO %s SELECT k * %d + g, k FROM generate_series(1, %d) g; "
           "UPDATE %s SET v = v + 100000 WHERE id = k * %d + 1; COMMIT; END LOOP; END $$"
           % (TXNS - 1, ev, ROWS, ROWS, ev, ROWS))
    total = TXNS * (ROWS + 1)
    st.wait_until(lambda: out.count() >= total // 3, 60, "a third of the changes", abort=run.exited)
    run.signal(signal.SIGKILL)
    st.assert_eq(run.wait(30), -signal.SIGKILL, "exit status of the killed run")

    confirmed = lsn(db.one("SELECT confirmed_flush_lsn FROM pg_replication_slots "
                           "WHERE slot_name = '%s'" % slot))
    saved = json.load(open(t.path("state", db.schema, "cdc.json")))["lsn"]
    first, torn = st.read_jsonl(t.path("out.jsonl"))
    st.log("killed with %d changes out (%d torn lines), checkpoint %s, confirmed %X/%X"
           % (len(first), len(torn), saved, confirmed >> 32, confirmed & 0xFFFFFFFF))
    st.assert_lt(len(first), total, "the kill came before the end of the stream")
    durable = {key(r) for r in first}

    run = t.start()
    want = set()
    for k in range(TXNS):
        for g in range(1, ROWS + 1):
            want.add(("c", k * ROWS + g))
        want.add(("u", k * ROWS + 1))

    def all_there():
        recs, _ = st.read_jsonl(t.path("out.jsonl"))
        return want <= {(r["op"], (r.get("after") or r.get("before"))["id"]) for r in recs}

    st.wait_until(all_there, 60, "every change after the restart", interval=0.2, abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code of the second run")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl after the restart")
    committed_before = [r for r in records if lsn(r["lsn"]) < confirmed]
    missing = [key(r) for r in committed_before if key(r) not in durable]
    st.assert_eq(missing[:5], [], "changes below confirmed_flush_lsn missing from the killed "
                 "run's output (the slot passed what the sink had made durable)")
    again = records[len(first):]
    early = [key(r) for r in again if lsn(r["lsn"]) < lsn(saved)]
    st.assert_eq(early[:5], [], "changes read again from before the saved checkpoint %s" % saved)
    dups = len(records) - len({key(r) for r in records})
    st.log("%d changes in all, %d read twice" % (len(records), dups))
    st.check_no_dlq(t)


st.main(test)
