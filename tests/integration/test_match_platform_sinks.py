"""The platform tables (lua/sluice/platform.lua): sl.match's `_platform`
records, hand-written as the step emits them, go through platform.sinks
into the domain's schema, which the first sink creates at start
(pg.sink setup_sql).  Checks the four tables (jsonb with nested objects and
nulls, timestamps, NULLs), an updated member, a merged entity, a version
bump and a stale version arriving late (newer_by keeps the newer), the two
queries (entity_of, members_of) following merged_into, that other sinks see
only the ordinary records, and that replaying everything into the same
tables changes nothing and keeps an operator's review decision."""

import json

import pgtest
import sluicetest as st

PIPELINE = """local sl = require "sluice"
local platform = require "sluice.platform"
local sinks = platform.sinks { conninfo = %(dsn)s, domain = %(domain)s }
table.insert(sinks, 1, sl.file.sink { path = %(out)s, where = platform.not_platform })
return sl.pipeline {
  name = %(name)s,
  batch_size = 4,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = sinks,
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""

A, B = "P00000000000000aa", "P00000000000000bb"


def records(d):
    """What sl.match would emit for four input records of domain d: gaj/hukou/1
    (new entity A), mzj/marriage/7 (links to A), wjw/vacc/3 (new entity B),
    gaj/hukou/1 again (an update), then a record joining A and B: B merges
    into A.  The member of B keeps its row (entity_id B) until the step
    rewrites it: the queries must follow merged_into."""
    seq = [0]

    def member(dept, feed, sid, ent, decision, p, vals, at):
        seq[0] += 1   # the step numbers its member rows; the latest wins
        return {"_platform": "member", "domain": d, "dept": dept, "feed": feed, "src_id": sid,
                "entity_id": ent, "decision": decision, "probability": p, "vals": vals,
                "updated_at": at, "seq": seq[0]}

    def entity(ent, status, into, golden, prov, n, v, at):
        return {"_platform": "entity", "domain": d, "entity_id": ent, "status": status,
                "merged_into": into, "golden": golden, "provenance": prov, "members": n,
                "version": v, "updated_at": at}

    def event(eid, kind, ent, other, mem, v, at):
        return {"_platform": "event", "domain": d, "event_id": eid, "kind": kind, "entity_id": ent,
                "other_entity": other, "member": mem, "version": v, "at": at}

    def src(dept, feed, sid, at):
        return {"dept": dept, "feed": feed, "src_id": sid, "at": at}

    t1, t2, t3, t4, t5 = ("2026-12-01T08:00:00+08:00", "2026-12-01T09:00:00Z",
                          "2026-12-01T10:00:00Z", "2026-12-01T11:00:00.250Z",
                          "2026-12-01T12:00:00Z")
    v1 = {"name": "张三", "id_no": "440402199001011234", "phone": None,
          "addr": {"city": "珠海市", "street": "拱北 \"口岸\"\t路\\1号"}}
    v2 = {"name": "章三", "birth": "1990-01-01", "phone": "13800000000"}
    v3 = {"name": "张叁", "birth": "1990-01-01"}
    v1b = dict(v1, phone="13900000000")
    out = [
        {"id": 1, "name": "张三", "entity_id": A},          # an ordinary, annotated record
        member("gaj", "hukou", "1", A, "new", None, v1, t1),
        entity(A, "active", None, {"name": "张三", "phone": None},
               {"name": src("gaj", "hukou", "1", t1)}, 1, 1, t1),
        event("e-a1", "created", A, None, "gaj/hukou/1", 1, t1),
        member("mzj", "marriage", "7", A, "link", 0.9991, v2, t2),
        entity(A, "active", None, {"name": "张三", "phone": "13800000000", "birth": "1990-01-01"},
               {"name": src("gaj", "hukou", "1", t1), "phone": src("mzj", "marriage", "7", t2),
                "birth": src("mzj", "marriage", "7", t2)}, 2, 2, t2),
        event("e-a2", "member_added", A, None, "mzj/marriage/7", 2, t2),
        member("wjw", "vacc", "3", B, "new", None, v3, t3),
        entity(B, "active", None, {"name": "张叁", "birth": "1990-01-01"},
               {"name": src("wjw", "vacc", "3", t3)}, 1, 1, t3),
        event("e-b1", "created", B, None, "wjw/vacc/3", 1, t3),
        {"_platform": "review", "domain": d, "review_id": "r-ab", "a": "gaj/hukou/1",
         "b": "wjw/vacc/3", "probability": 0.85,
         "explanation": {"name": {"level": "pinyin", "weight": 3.2}, "phone": None},
         "record_a": v1, "record_b": v3},
        member("gaj", "hukou", "1", A, "id", 1.0, v1b, t4),
        entity(A, "active", None, {"name": "张三", "phone": "13900000000", "birth": "1990-01-01"},
               {"name": src("gaj", "hukou", "1", t4), "phone": src("gaj", "hukou", "1", t4),
                "birth": src("mzj", "marriage", "7", t2)}, 2, 3, t4),
        event("e-a3", "updated", A, None, "gaj/hukou/1", 3, t4),
        entity(B, "merged", A, {"name": "张叁", "birth": "1990-01-01"},
               {"name": src("wjw", "vacc", "3", t3)}, 0, 2, t5),
        entity(A, "active", None, {"name": "张三", "phone": "13900000000", "birth": "1990-01-01"},
               {"name": src("gaj", "hukou", "1", t4), "phone": src("gaj", "hukou", "1", t4),
                "birth": src("mzj", "marriage", "7", t2)}, 3, 4, t5),
        event("e-a4", "merged", A, B, None, 4, t5),
        # Late and stale: version 2 of A again (a replay); newer_by keeps 4.
        entity(A, "active", None, {"name": "stale"}, {}, 2, 2, t2),
        event("e-a2", "member_added", A, None, "mzj/marriage/7", 2, t2),
        {"id": 2, "name": "王五", "entity_id": "P00000000000000cc"},
    ]
    return out


def run(t, db, name):
    db.write_pipeline(t, PIPELINE, name=db.schema + "_" + name, domain=pgtest.lua_str(db.schema),
                      out=pgtest.lua_str("out-%s.jsonl" % name))
    r = t.start()
    st.assert_eq(r.wait(120), 0, "exit code of the %s run" % name)
    st.check_no_dlq(t)


# pg.sink's setup_sql, failing: the pipeline does not start, and says why.
BAD_SETUP = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, setup_sql = "create tabel x (a int)" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def snapshot(db):
    s = db.schema
    return {table: db.sql("SELECT to_jsonb(x)::text FROM %s.%s x ORDER BY 1" % (s, table))
            for table in ("members", "entities", "changelog", "reviews")}


def test(t):
    db = pgtest.Db("platform")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    s = db.schema
    with open(t.path("in.jsonl"), "w") as f:
        for rec in records(s):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    run(t, db, "first")

    # Other sinks get the ordinary records only.
    with open(t.path("out-first.jsonl")) as f:
        ids = [json.loads(line)["id"] for line in f]
    st.assert_eq(ids, [1, 2], "records reaching the file sink (where = platform.not_platform)")
    # One pg.sink writes the five tables in one transaction, with one
    # checkpoint row; beside another sink it keeps it under a name of its
    # own ("<source>#<sink>").
    cps = db.sql("SELECT source FROM sluice.checkpoints WHERE pipeline = '%s_first' ORDER BY 1" % s)
    st.assert_eq(cps, [["src#platform-%s" % s]], "the checkpoint rows: one, of the one sink")

    st.assert_eq(db.count("members"), 3, "member rows (an update replaces, not adds)")
    row = db.sql("SELECT entity_id, decision, probability, vals->>'phone', "
                 "vals->'addr'->>'street', updated_at = '2026-12-01 11:00:00.25+00' "
                 "FROM %s.members WHERE (dept, feed, src_id) = ('gaj', 'hukou', '1')" % s)
    st.assert_eq(row, [[A, "id", "1", "13900000000", '拱北 "口岸"\t路\\1号', "t"]],
                 "the updated member: nested jsonb with quote, tab and backslash; timestamp")
    st.assert_eq(db.one("SELECT probability IS NULL AND vals->'phone' IS NULL FROM %s.members "
                        "WHERE src_id = '3'" % s), "t", "a null probability is NULL")
    st.assert_eq(db.one("SELECT updated_at FROM %s.members WHERE src_id = '7'" % s),
                 "2026-12-01 09:00:00+00", "RFC 3339 time in UTC")

    ents = db.sql("SELECT entity_id, status, coalesce(merged_into, '-'), members, version, "
                  "golden->>'phone', jsonb_typeof(golden->'birth'), "
                  "provenance->'birth'->>'dept', updated_at FROM %s.entities ORDER BY 1" % s)
    st.assert_eq(ents, [[A, "active", "-", "3", "4", "13900000000", "string", "mzj",
                         "2026-12-01 12:00:00+00"],
                        [B, "merged", A, "0", "2", "", "string", "",
                         "2026-12-01 12:00:00+00"]],
                 "entities: A at version 4 (the stale version 2 did not win), B merged into A")
    st.assert_eq(db.one("SELECT golden FROM %s.entities WHERE entity_id = '%s'" % (s, B)) is not None,
                 True, "golden of B")

    ev = db.sql("SELECT event_id, kind, entity_id, coalesce(other_entity, '-'), "
                "coalesce(member, '-'), version FROM %s.changelog ORDER BY event_id" % s)
    st.assert_eq(ev, [["e-a1", "created", A, "-", "gaj/hukou/1", "1"],
                      ["e-a2", "member_added", A, "-", "mzj/marriage/7", "2"],
                      ["e-a3", "updated", A, "-", "gaj/hukou/1", "3"],
                      ["e-a4", "merged", A, B, "-", "4"],
                      ["e-b1", "created", B, "-", "wjw/vacc/3", "1"]],
                 "changelog: one row per stable event id")

    rev = db.sql("SELECT a, b, probability, explanation->'name'->>'level', "
                 "jsonb_typeof(explanation->'phone'), record_b->>'name', decision IS NULL "
                 "FROM %s.reviews" % s)
    st.assert_eq(rev, [["gaj/hukou/1", "wjw/vacc/3", "0.85", "pinyin", "null", "张叁", "t"]],
                 "the review: explanation with a JSON null inside, both records")

    # Query 1: the entity of a department's record, and its golden record,
    # also for the member still filed under the merged entity B.
    q1 = db.sql("SELECT member_entity_id, entity_id, status, golden->>'name', version "
                "FROM %s.entity_of('wjw', 'vacc', '3')" % s)
    st.assert_eq(q1, [[B, A, "active", "张三", "4"]], "entity_of follows merged_into to the survivor")
    q1 = db.sql("SELECT entity_id, decision, golden->>'phone', provenance->'phone'->>'src_id' "
                "FROM %s.entity_of('gaj', 'hukou', '1')" % s)
    st.assert_eq(q1, [[A, "id", "13900000000", "1"]], "entity_of of an updated member")
    st.assert_eq(db.sql("SELECT * FROM %s.entity_of('gaj', 'hukou', 'nope')" % s), [],
                 "entity_of of a record that is no member")

    # Query 2: the records and departments making up an entity, asked by
    # the survivor's id or the merged one's.
    want = [["gaj", "hukou", "1", A], ["mzj", "marriage", "7", A], ["wjw", "vacc", "3", B]]
    for asked in (A, B):
        q2 = db.sql("SELECT dept, feed, src_id, member_entity_id FROM %s.members_of('%s')"
                    % (s, asked))
        st.assert_eq(q2, want, "members_of(%s)" % asked)
    deps = db.sql("SELECT entity_id, dept, records FROM %s.entity_departments ORDER BY dept" % s)
    st.assert_eq(deps, [[A, "gaj", "1"], [A, "mzj", "1"], [A, "wjw", "1"]],
                 "entity_departments: the active entities' departments")

    # An operator decides the review; then everything comes again (a new
    # pipeline name: no checkpoint, a full replay) into the same tables.
    db.sql("UPDATE %s.reviews SET decision = 'link', decided_at = now()" % s)
    before = snapshot(db)
    run(t, db, "replay")
    after = snapshot(db)
    for table in before:
        st.assert_eq(after[table], before[table], "%s after a full replay" % table)
    st.assert_eq(db.one("SELECT decision FROM %s.reviews" % s), "link",
                 "the operator's decision survives the replay")

    db.write_pipeline(t, BAD_SETUP, name=s + "_bad", table="members")
    r = t.start()
    st.assert_ne(r.wait(60), 0, "exit code with a setup_sql that fails")
    st.assert_true("setup_sql failed: SQLSTATE 42601" in r.stderr_text(),
                   "the error names setup_sql and the server's reason", r.stderr_text()[-800:])


if __name__ == "__main__":
    st.main(test)
