"""Operators' decisions survive a restart (issue 11, item 5): sl.match with
decisions = "reviews" writes each decision that holds to <domain>.decisions
through platform.sinks; a later run restores members and decisions from the
platform tables (platform = conninfo), and the decisions still constrain the
records that come next.

Run 1: records 1, 2 (alice) and 5, 6 (carol), and two decisions: no_link
1-2 (they split apart) and split 5 (it leaves 5-6).  Run 2, restored from
PostgreSQL: record 3 (alice again) matches both 1 and 2 and record 7
(carol) matches 5 and 6.  Without the restored decisions 3 would bridge 1
and 2 into one entity and 7 would pull 5 back; with them 1 and 2 stay apart
(3 joins one of them), and 7 joins 6, not 5."""

import json
import os
import shutil

import pgtest
import sluicetest as st

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "match", "decisions", "model.json")

PIPELINE = """local sl = require "sluice"
local platform = require "sluice.platform"
local sinks = platform.sinks { conninfo = %(dsn)s, domain = %(domain)s }
sinks[#sinks + 1] = sl.file.sink { path = %(out)s, where = platform.not_platform }
return sl.pipeline {
  name = %(name)s,
  sources = { sl.file.source { path = %(input)s, name = "records" },
              sl.file.source { path = %(decisions)s, name = "reviews" } },
  steps = {
    sl.match { domain = %(domain)s, model = "model.json", decisions = "reviews",
               platform = %(dsn)s,
               identity = { dept = sl.match.const("gaj"), feed = sl.match.const("hj"), id = "src_id" },
               compare = { name = { "exact" }, dob = { "exact" } }, block = { "dob" } },
  },
  sinks = sinks,
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def run(t, db, label, records, decisions):
    write_jsonl(t.path("in-%s.jsonl" % label), records)
    write_jsonl(t.path("decisions-%s.jsonl" % label), decisions)
    db.write_pipeline(t, PIPELINE, name="%s_%s" % (db.schema, label),
                      domain=pgtest.lua_str(db.schema), out=pgtest.lua_str("out-%s.jsonl" % label),
                      input=pgtest.lua_str("in-%s.jsonl" % label),
                      decisions=pgtest.lua_str("decisions-%s.jsonl" % label))
    r = t.start(state_dir=t.path("state-" + label))
    st.assert_eq(r.wait(120), 0, "exit code of run %s" % label)
    st.assert_eq(st.count_lines(t.path("dlq.jsonl")) if os.path.exists(t.path("dlq.jsonl")) else 0,
                 0, "dead letters after run %s" % label)
    return r


def entities(db):
    """src_id -> the surviving entity of its member row."""
    rows = db.sql("SELECT src_id, %s.survivor(entity_id) FROM %s.members" % (db.schema, db.schema))
    return {r[0]: r[1] for r in rows}


def body(t, db):
    shutil.copy(MODEL, t.path("model.json"))
    alice = {"name": "alice", "dob": "2000-01-01"}
    carol = {"name": "carol", "dob": "1980-03-03"}
    run(t, db, "first",
        [dict(alice, src_id="1"), dict(alice, src_id="2"), dict(carol, src_id="5"),
         dict(carol, src_id="6")],
        [{"a": "gaj/hj/1", "b": "gaj/hj/2", "decision": "no_link", "by": "li"},
         {"a": "gaj/hj/5", "decision": "split", "by": "li"}])
    e = entities(db)
    st.assert_eq(len(set(e.values())), 4, "entities after the decisions of run 1 (%s)" % e)
    got = db.sql("SELECT a, coalesce(b, '-'), decision, by FROM %s.decisions ORDER BY decision" % db.schema)
    st.assert_eq(got, [["gaj/hj/1", "gaj/hj/2", "no_link", "li"], ["gaj/hj/5", "-", "split", "li"]],
                 "the decisions table")

    r = run(t, db, "second", [dict(alice, src_id="3"), dict(carol, src_id="7")], [])
    log = r.stderr_text()
    st.assert_true("restored 4 members, 4 entity versions and 2 decisions" in log,
                   "the restore reads the members and the decisions", log[-1500:])
    e = entities(db)
    st.assert_ne(e["1"], e["2"], "1 and 2 (no_link) after record 3 matched both")
    st.assert_true(e["3"] in (e["1"], e["2"]), "record 3 joins 1 or 2", str(e))
    st.assert_eq(e["7"], e["6"], "record 7 joins 6")
    st.assert_ne(e["7"], e["5"], "record 7 does not join the split record 5")


if __name__ == "__main__":
    st.main(pgtest.with_db("match_decisions", body))
