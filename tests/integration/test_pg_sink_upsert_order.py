"""Kafka -> sl.clean -> pg.sink (upsert keyed on the cleansed ID, the only
sink), about 20% of the records dead-lettered: the last record of a key
wins, also when its batch had no dead letters and an earlier batch of the
same partition waits for its dead letters to be durable (dlq_first), and
after a kill -9 and a restart.

The interleaving is forced, not hoped for: the dead-letter sink is a
kafka.sink with linger.ms = 4000, so a batch with dead letters waits about
4 s before its rows may commit, while the corrections of its keys come
right behind it in batches that have no dead letters.  Without the ordering
in flow.c those commit first and the older records then overwrite them."""

import signal

import kafkatest as kt
import pgtest
import sluicetest as st

RESIDENTS = 400        # keys; every 5th original record is bad (dead-lettered)
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = %(name)s,
  workers = 2,
  batch_size = 20,
  max_inflight_records = 100000,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                librdkafka = %(fast)s } },
  steps = { sl.clean { fields = { id_no = "cn_id" }, required = { "id_no" } } },
  sinks = { sl.pg.sink { dsn = %(dsn)s, table = %(table)s, mode = "upsert", key = { "id_no" },
                         columns = { "id_no", "name", "rev" } } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s",
                        librdkafka = { ["linger.ms"] = "4000" } },
}
"""


def cn_id(n):
    base = "110101" + "1980%02d%02d" % (1 + n // 900 % 12, 1 + n // 30 % 28) + "%03d" % (n % 900)
    return base + CHECK[sum(int(d) * w for d, w in zip(base, W)) % 11]


def record(i, rev):
    return '%s\t{"id_no":"%s","name":"resident %d rev %d","rev":%d}' % (
        cn_id(i), cn_id(i), i, rev, rev)


def produce_round(b, topic, rev, with_bad):
    """Every resident's record of revision rev, keyed by the normalised ID
    (so a key stays in one partition), then a sentinel of that revision.
    With with_bad, a bad record (no valid ID) follows every 4th resident."""
    lines = []
    for i in range(RESIDENTS):
        lines.append(record(i, rev))
        if with_bad and i % 4 == 3:
            lines.append('bad-%d\t{"id_no":"bad-%d","name":"x","rev":%d}' % (i, i, rev))
    lines.append(record(RESIDENTS, rev))   # the sentinel, written last
    kt.produce(b, topic, lines, key_sep="\t")


def rows(db):
    return {r[0]: int(r[1]) for r in db.sql("SELECT id_no, rev FROM %s" % db.t("r"))}


def check_all(db, rev, what):
    got = rows(db)
    st.assert_eq(len(got), RESIDENTS + 1, "%s: rows" % what)
    older = sorted((k, v) for k, v in got.items() if v != rev)
    if older:
        st.fail("%s: %d of %d keys hold an older record than their last (rev %d), first %s"
                % (what, len(older), len(got), rev, older[:5]))


def sentinel_rev(db):
    v = db.one("SELECT rev FROM %s WHERE id_no = '%s'" % (db.t("r"), cn_id(RESIDENTS)))
    return int(v) if v else 0


def test(t):
    db = pgtest.Db("upsert_order")
    try:
        body(t, db)
    finally:
        db.drop()


def body(t, db):
    b = kt.bootstrap()
    names = {"in": kt.unique("order-in"), "dlq": kt.unique("order-dlq"),
             "group": kt.unique("order"), "b": b, "fast": kt.lua_table(kt.FAST_GROUP)}
    db.sql("CREATE TABLE %s (id_no text PRIMARY KEY, name text, rev int)" % db.t("r"))
    db.write_pipeline(t, PIPELINE, table="r", **names)

    # Round 1: originals with dead letters among them, then corrections
    # without any, in the same partitions.
    produce_round(b, names["in"], 1, with_bad=True)
    produce_round(b, names["in"], 2, with_bad=False)
    run = t.start()
    st.wait_until(lambda: sentinel_rev(db) == 2, 120, "the last correction's sentinel",
                  interval=0.2, abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    check_all(db, 2, "after the first run")
    st.assert_eq(kt.end_offsets(b, names["dlq"]), RESIDENTS // 4, "dead letters")

    # Round 2: the same, with a kill -9 once its dead letters are durable
    # (its rows are then being committed), and a restart of the same group.
    produce_round(b, names["in"], 3, with_bad=True)
    produce_round(b, names["in"], 4, with_bad=False)
    run = t.start()
    kt.wait_for_messages(b, names["dlq"], RESIDENTS // 4 + 1, 120, abort=run.exited)
    run.signal(signal.SIGKILL)
    run.wait(30)
    st.log("killed with %d rows at rev 4" % sum(1 for v in rows(db).values() if v == 4))
    run = t.start()
    # The dead member holds its partitions until its session times out (6 s).
    st.wait_until(lambda: "assigned" in run.stderr_text() and sentinel_rev(db) == 4, 120,
                  "round 2's sentinel", interval=0.2, abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "restarted run: exit code after SIGTERM")
    check_all(db, 4, "after the kill -9 and the restart")


st.main(test)
