"""The reference pipelines in pipelines/, as shipped, against the real Kafka
and PostgreSQL (issue 11, item 9):

  population.lua       residents of five departments, each on its own topic
  legal-entities.lua   companies of six departments
  platform-changes.lua the changelog table published to a topic (pg.cdc)

Each domain gets a schema of its own (POPULATION_DOMAIN and
LEGAL_ENTITY_DOMAIN), its topics and groups are unique; everything else is
the shipped file with its shipped model.  Records come from the seeded
generator (tests/match/gen.py, a seed the models were not trained on), with
a few bad ones.  Checked, per domain: every good record is a member; the
pairwise F1 of the members table against the generator's truth is at least
FLOOR; the two platform questions answer (entity_of, members_of); golden
values are the cleansed ones; the bad records are on the dead-letter topic
with the reason; an operator's no_link decision, sent to the decisions
topic, splits an entity and is in the decisions table.  Then the person
changelog goes out through platform-changes.lua: every changelog row once
on the topic, keyed by its entity."""

import json
import os
import re
import subprocess
import sys

import kafkatest as kt
import pgtest
import sluicetest as st

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "match"))
import score  # noqa: E402  (tests/match/score.py)

N = 6000
FLOOR = {"residents": 0.99, "companies": 0.995}
# The generator's departments, as topic suffixes.
CODES = {"公安": "gaj", "民政": "mzj", "人社": "rsj", "卫健": "wjw", "税务": "swj",
         "市场监管": "scjgj", "统计": "tjj", "住建": "zjj"}
BAD = [({"department": "公安", "feed": "户籍登记", "name": "无编号"}, "no record id"),
       ({"department": "公安", "feed": "户籍登记", "src_id": "bad-1", "name": {"x": 1}},
        "field 'name' is object")]


def generate(t, kind, seed):
    path = t.path("%s.jsonl" % kind)
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "match", "gen.py"), kind, str(N), path,
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(path) as f:
        return [json.loads(line) for line in f]


def produce(t, b, prefix, records, bad):
    """Each department's records on its own topic; the bad ones on the
    first.  Returns the topics."""
    by_topic = {}
    for r in records:
        by_topic.setdefault("%s.%s" % (prefix, CODES[r["department"]]), []).append(r)
    first = sorted(by_topic)[0]
    by_topic[first] += [rec for rec, _ in bad]
    for topic, recs in by_topic.items():
        path = t.path(topic + ".in")
        with open(path, "w") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        kt.produce_file(b, topic, path)
    return sorted(by_topic)


def members(db, schema):
    if db.one("SELECT to_regclass('%s.members') IS NULL" % schema) == "t":
        return 0
    return int(db.one("SELECT count(*) FROM %s.members" % schema))


def run_domain(t, b, db, kind, pipeline, env_prefix, seed):
    schema = "%s_%s" % (db.schema, kind[:3])
    records = generate(t, kind, seed)
    tag = kt.unique(kind)
    topics = produce(t, b, tag, records, BAD)
    names = {"decisions": tag + ".decisions", "dlq": tag + ".dlq"}
    env = {"SLUICE_BROKERS": b, "PLATFORM_DSN": db.dsn, env_prefix + "_TOPICS": ",".join(topics),
           env_prefix + "_DECISIONS": names["decisions"], env_prefix + "_GROUP": tag,
           env_prefix + "_DOMAIN": schema, env_prefix + "_DLQ": names["dlq"],
           "QUALITY_SCHEMA": db.schema + "_q"}
    kt.create_topic(b, names["decisions"])
    expected = len({(r["department"], r["feed"], r["src_id"]) for r in records})
    run = t.start(pipeline=os.path.join(ROOT, "pipelines", pipeline), state_dir=t.path("state-" + kind),
                  env=env)
    st.wait_until(lambda: members(db, schema) >= expected, 240, "%d %s members" % (expected, kind),
                  interval=0.2, abort=run.exited)
    st.assert_eq(members(db, schema), expected, "%s members (one per department record)" % kind)

    # Every department's feeds are measured against pipelines/catalog.lua:
    # the month's score rows count every good record, and the records that
    # sl.match compared with their golden records.
    q = db.schema + "_q"
    st.wait_until(lambda: db.one("SELECT coalesce(sum(records), 0) FROM %s.feed_scores WHERE period = 'month' "
                                 "AND pipeline = '%s'" % (q, pipeline[:-4])) == str(len(records)), 60,
                  "%s: the month's quality rows count every record" % kind, interval=0.2)
    depts = {r["department"] for r in records}
    got = {row[0] for row in db.sql("SELECT DISTINCT department FROM %s.feed_scores WHERE pipeline = '%s'"
                                    % (q, pipeline[:-4]))}
    st.assert_eq(got, depts, "%s: departments with quality rows" % kind)
    compared = db.one("SELECT sum((counts->>'supplied')::int) FROM %s.feed_scores WHERE period = 'month' AND "
                      "pipeline = '%s'" % (q, pipeline[:-4]))
    st.assert_true(int(compared or 0) > 0, "%s: values compared with the golden records" % kind, str(compared))

    # Pairwise F1 of the members table against the generator's truth.
    ident = {(r["department"], r["feed"], r["src_id"]): r["id"] for r in records}
    rows = db.sql("SELECT dept, feed, src_id, %s.survivor(entity_id) FROM %s.members" % (schema, schema))
    pred = {ident[(d, f, s)]: e for d, f, s, e in rows if (d, f, s) in ident}
    truth = {r["id"]: r["entity"] for r in records}
    sc = score.score(truth, pred)
    st.log("%s: precision %.5f recall %.5f F1 %.5f (%d records, %d entities, %d true)"
           % (kind, sc["precision"], sc["recall"], sc["f1"], len(truth), sc["predicted_clusters"],
              sc["true_clusters"]))
    st.assert_ge(sc["f1"], FLOOR[kind], "%s pairwise F1 of the members table" % kind)

    # The two questions, on a record of the largest entity.
    big = db.sql("SELECT entity_id, count(*) FROM %s.members GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
                 % schema)[0]
    d, f, s = db.sql("SELECT dept, feed, src_id FROM %s.members WHERE entity_id = '%s' ORDER BY 1, 2, 3 "
                     "LIMIT 1" % (schema, big[0]))[0]
    q1 = db.sql("SELECT entity_id, status, golden::text FROM %s.entity_of('%s', '%s', '%s')"
                % (schema, d, f, s))
    st.assert_eq([q1[0][0], q1[0][1]], [big[0], "active"], "entity_of(%s/%s/%s)" % (d, f, s))
    golden = json.loads(q1[0][2])
    n = db.one("SELECT count(*) FROM %s.members_of('%s')" % (schema, big[0]))
    st.assert_eq(n, big[1], "members_of(%s): the entity's records" % big[0])
    # Golden values are the normalised ones: digits only for a phone, ISO
    # 8601 for a date (the raw feeds hold "+86 178 3166 8881", "1979/2/14").
    if golden.get("phone"):
        st.assert_true(re.fullmatch(r"[0-9]{7,12}", golden["phone"]), "the golden phone is normalised", str(golden))
    for date_field in ("birth", "est_date"):
        if golden.get(date_field):
            st.assert_true(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", golden[date_field]),
                           "the golden %s is ISO 8601" % date_field, str(golden))

    # The bad records: on the dead-letter topic, with the reason.
    dead = kt.wait_for_messages(b, names["dlq"], len(BAD), 60, abort=run.exited)
    st.assert_eq(dead, len(BAD), "dead letters")
    got = [m.decode("utf-8") for m in kt.consume(b, names["dlq"], committed=False) if m.strip()]
    for rec, why in BAD:
        st.assert_true(any(why in m for m in got), "a dead letter says %r" % why, "\n".join(got)[:1500])

    # An operator splits the largest entity apart: no_link between two of
    # its members, then the decision is in the decisions table.
    two = db.sql("SELECT dept || '/' || feed || '/' || src_id FROM %s.members WHERE entity_id = '%s' "
                 "ORDER BY 1 LIMIT 2" % (schema, big[0]))
    a, b2 = two[0][0], two[1][0]
    kt.produce(b, names["decisions"], [json.dumps({"a": a, "b": b2, "decision": "no_link", "by": "test"},
                                                  ensure_ascii=False)])
    st.wait_until(lambda: db.one("SELECT count(*) FROM %s.decisions" % schema) == "1", 60,
                  "the decision row", interval=0.2, abort=run.exited)

    def entity(ident_text):
        dd, ff, ss = ident_text.split("/", 2)
        return db.one("SELECT %s.survivor(entity_id) FROM %s.members WHERE (dept, feed, src_id) = "
                      "('%s', '%s', '%s')" % (schema, schema, dd, ff, ss))
    st.wait_until(lambda: entity(a) != entity(b2), 60, "%s and %s apart after no_link" % (a, b2),
                  interval=0.2, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(60), 0, "%s: exit code after SIGTERM" % pipeline)
    return schema


def publish_changes(t, b, db, schema):
    topic = kt.unique("changes")
    slot = schema + "_changes"
    env = {"SLUICE_BROKERS": b, "CHANGES_DOMAIN": schema, "CHANGES_DSN": db.dsn, "CHANGES_TOPIC": topic,
           "CHANGES_DLQ": t.path("changes.dlq.jsonl")}
    try:
        run = t.start(pipeline=os.path.join(ROOT, "pipelines", "platform-changes.lua"),
                      state_dir=t.path("state-changes"), env=env)
        n = int(db.one("SELECT count(*) FROM %s.changelog" % schema))
        kt.wait_for_messages(b, topic, n, 120, abort=run.exited)
        run.signal(15)
        st.assert_eq(run.wait(60), 0, "platform-changes: exit code after SIGTERM")
        got = [m.decode("utf-8") for m in kt.consume(b, topic, fmt="%k\t%s\n", committed=False)]
        events = {}
        for line in got:
            key, _, value = line.partition("\t")
            ev = json.loads(value)
            st.assert_eq(key, ev["entity_id"], "the message key of event %s" % ev["event_id"])
            events[ev["event_id"]] = ev
        want = {r[0] for r in db.sql("SELECT event_id FROM %s.changelog" % schema)}
        st.assert_eq(len(got), n, "messages on the changes topic (one per changelog row)")
        st.assert_eq(set(events), want, "event ids on the topic")
    finally:
        db.drop_replication(slot)


def body(t, db):
    b = kt.bootstrap()
    try:
        person = run_domain(t, b, db, "residents", "population.lua", "POPULATION", 31)
        run_domain(t, b, db, "companies", "legal-entities.lua", "LEGAL_ENTITY", 32)
        publish_changes(t, b, db, person)
    finally:
        for kind in ("res", "com"):
            schema = "%s_%s" % (db.schema, kind)
            db.sql("DROP SCHEMA IF EXISTS %s CASCADE; DROP PUBLICATION IF EXISTS %s_changes" % (schema, schema))
        db.sql("DROP SCHEMA IF EXISTS %s_q CASCADE" % db.schema)


if __name__ == "__main__":
    st.main(pgtest.with_db("reference", body))
