"""pg.source polling on a watermark with a tie-breaking key:
- 1000 rows share one watermark value while a poll reads 64: every row is
  read once, none skipped across the poll boundaries;
- rows added later (with that watermark and a higher key, and with newer
  watermarks) are picked up by the next polls;
- after SIGTERM and rows added while sluice is down, a restart resumes
  from the acknowledged checkpoint: each row exactly once over both runs;
- the records carry typed fields (numbers, booleans, json, timestamps)."""

import json
import signal

import pgtest
import sluicetest as st

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  batch_size = 64,
  sources = { sl.pg.source { dsn = %(dsn)s, table = %(table)s, watermark = "wm",
                             key = "id", every = "100ms", name = "poll" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    db = pgtest.Db("source")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    tab = db.t("src")
    db.sql("CREATE TABLE %s (id int PRIMARY KEY, wm int NOT NULL, ok bool, doc jsonb, "
           "at timestamptz, amount numeric)" % tab)
    db.sql("CREATE INDEX ON %s (wm, id)" % tab)
    db.sql("INSERT INTO %s SELECT g, 1, g %% 2 = 0, jsonb_build_object('g', g), "
           "'2026-01-02 03:04:05.5+00', g / 4.0 FROM generate_series(1, 1000) g" % tab)
    db.write_pipeline(t, PIPELINE, table="src")
    out = st.LineCounter(t.path("out.jsonl"))

    run = t.start()
    st.wait_until(lambda: out.count() >= 1000, 30, "the first 1000 rows", abort=run.exited)
    # Later rows: the same watermark with higher keys, then newer watermarks.
    db.sql("INSERT INTO %s (id, wm) SELECT g, 1 FROM generate_series(1001, 1100) g" % tab)
    db.sql("INSERT INTO %s (id, wm) SELECT g, 2 + g %% 3 FROM generate_series(1101, 1300) g" % tab)
    st.wait_until(lambda: out.count() >= 1300, 30, "1300 rows", abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    saved = json.load(open(t.path("state", db.schema, "poll.json")))
    st.assert_eq(saved, {"watermark": ["4"], "key": ["1298"]}, "saved checkpoint")

    db.sql("INSERT INTO %s (id, wm) SELECT g, 5 FROM generate_series(1301, 1500) g" % tab)
    run = t.start()
    st.wait_until(lambda: out.count() >= 1500, 30, "1500 rows", abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code of the second run")

    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_no_torn(torn, "out.jsonl")
    ids = st.ids_of(records)
    dups = sorted({i for i in ids if ids.count(i) > 1}) if len(ids) != len(set(ids)) else []
    st.assert_eq(dups[:10], [], "ids read more than once")
    st.assert_eq(sorted(ids), list(range(1, 1501)), "every id once")
    order = [(r["wm"], r["id"]) for r in records]
    st.assert_eq(order, sorted(order), "records in (watermark, key) order")
    first = records[1]
    st.assert_eq(first, {"id": 2, "wm": 1, "ok": True, "doc": {"g": 2},
                         "at": "2026-01-02T03:04:05.5+00:00", "amount": 0.5},
                 "typed fields of id 2")
    st.check_no_dlq(t)


st.main(test)
