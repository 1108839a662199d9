#!/usr/bin/env python3
"""The departments' feeds for scripts/demo: residents and companies from the
matching generator (tests/match/gen.py: the same people and companies as
several departments hold them, with their defects: typos, old 15-digit IDs,
Traditional characters, full-width digits, missing fields), published the
way departments publish (docs/publishing.md).

  demo_feeds.py N DIR BROKERS DSN PREFIX

(PREFIX starts every topic's name: a run of the demo reads its own.)

- every (department, feed) of pipelines/catalog.lua except 住建's onto its
  department's topic, <code>.residents.v1 or <code>.companies.v1, with
  CloudEvents headers (kcat -P -H), updated_at a few minutes ago;
- 税务's resident feed late: its records were updated three days before
  they are published (it misses its "daily by 02:00" schedule);
- a few records that break their feed's contract (a number for a name, no
  record id): the dead letters;
- 住建's 资质许可 into its own PostgreSQL table, dept_zhujian.licences,
  which pipelines/department-table.lua polls.

Prints what it published, one line per feed."""

import datetime
import json
import os
import random
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CODES = {"公安": "gaj", "民政": "mzj", "人社": "rsj", "卫健": "wjw", "税务": "swj",
         "市场监管": "scjgj", "统计": "tjj", "住建": "zjj"}
LATE = ("税务", "个税申报")
TABLE_DEPT = "住建"
TZ = datetime.timezone(datetime.timedelta(hours=8))


def generate(kind, n, path, seed):
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "match", "gen.py"), kind, str(n), path,
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def stamp(records, rnd):
    now = datetime.datetime.now(TZ)
    for r in records:
        r.pop("id", None)        # the generator's truth stays out of the feeds
        r.pop("entity", None)
        age = datetime.timedelta(minutes=rnd.randrange(1, 30))
        if (r["department"], r["feed"]) == LATE:
            age += datetime.timedelta(days=3)
        r["updated_at"] = (now - age).isoformat(timespec="seconds")


def publish_kafka(dirpath, brokers, prefix, kind, records):
    """Returns the topics."""
    by_feed, topics = {}, set()
    for r in records:
        by_feed.setdefault((r["department"], r["feed"]), []).append(r)
    for (dept, feed), recs in sorted(by_feed.items()):
        if dept == TABLE_DEPT:
            continue
        topic = "%s%s.%s.v1" % (prefix, CODES[dept], kind)
        topics.add(topic)
        path = os.path.join(dirpath, "%s-%s.jsonl" % (topic, feed))
        with open(path, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        subprocess.run(["kcat", "-P", "-b", brokers, "-t", topic, "-X", "enable.idempotence=true",
                        "-H", "ce_specversion=1.0", "-H", "ce_source=" + dept, "-H", "ce_type=%s.v1" % feed,
                        "-l", path], check=True)
        late = " (late: updated three days before publishing)" if (dept, feed) == LATE else ""
        print("  %-36s %-8s %6d records%s" % (topic, feed, len(recs), late))
    return sorted(topics)


def psql(dsn, sql):
    subprocess.run(["psql", "-d", dsn, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def publish_table(dirpath, dsn, records):
    recs = [r for r in records if r["department"] == TABLE_DEPT]
    cols = ["department", "feed", "src_id", "name", "uscc", "legal_rep", "phone", "addr", "est_date", "updated_at"]
    psql(dsn, "create schema if not exists dept_zhujian; drop table if exists dept_zhujian.licences; "
              "create table dept_zhujian.licences (seq bigserial primary key, %s)"
              % ", ".join("%s text" % c for c in cols))
    path = os.path.join(dirpath, "zhujian-licences.csv")
    import csv
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        for r in recs:
            w.writerow([r.get(c) if r.get(c) is not None else "" for c in cols])
    psql(dsn, "\\copy dept_zhujian.licences (%s) from '%s' with (format csv)" % (", ".join(cols), path))
    print("  %-36s %-8s %6d records (the department's PostgreSQL table)" % ("dept_zhujian.licences", "资质许可",
                                                                          len(recs)))


def main():
    n, dirpath, brokers, dsn, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    os.makedirs(dirpath, exist_ok=True)
    rnd = random.Random(20261205)
    for kind, seed in (("residents", 41), ("companies", 42)):
        records = generate(kind, n, os.path.join(dirpath, kind + ".jsonl"), seed)
        stamp(records, rnd)
        expected = len({(r["department"], r["feed"], r["src_id"]) for r in records})
        # Records that break their feed's contract: the dead letters.
        first = next(r for r in records if r["department"] != TABLE_DEPT)
        bad = [dict(first, src_id="bad-%s-1" % kind, name={"given": "x"}), dict(first)]
        bad[1].pop("src_id")
        topics = publish_kafka(dirpath, brokers, prefix, kind, records + bad)
        if kind == "companies":
            publish_table(dirpath, dsn, records)
            topics.append("%szjj.companies.v1" % prefix)   # department-table.lua publishes it
        with open(os.path.join(dirpath, kind + ".topics"), "w") as f:
            f.write(",".join(topics) + "\n")
        with open(os.path.join(dirpath, kind + ".expected"), "w") as f:
            f.write("%d\n" % expected)


main()
