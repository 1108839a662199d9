#!/usr/bin/env python3
"""Golden records for bench/pg_run's upsert cases, deterministically.

    pg_golden_gen.py N PREFIX [--seed S] [--present FRACTION]

Writes three files:

  PREFIX.jsonl      N golden records, JSON Lines: what pg.sink reads
  PREFIX.tsv        the same N rows as COPY text: what psql \\copy reads
  PREFIX-pre.tsv    an older version of FRACTION of those keys (default 0.9),
                    COPY text: loaded before the update-heavy case, so that
                    that share of the N rows are updates and the rest inserts

The rows are shaped like the matching step's golden-record table:

  entity_id  text PRIMARY KEY   "P" + 12 digits, in random order
  name       text               Chinese name
  id_no      text               18-character resident ID
  phone      text               mobile number
  addr       text               Chinese address
  golden     jsonb              per field: value and provenance (department,
                                feed, source record, time), about 500 bytes
  updated_at timestamptz        ISO 8601 with offset

Every key appears once in PREFIX.jsonl. The same N, seed and fraction always
give the same bytes.
"""

import argparse
import json
import random

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华"
DIVISIONS = ["北京市东城区", "北京市朝阳区", "上海市徐汇区", "上海市浦东新区",
             "广州市天河区", "深圳市南山区", "杭州市西湖区", "南京市玄武区",
             "成都市武侯区", "武汉市武昌区"]
STREETS = ["景山街", "建国路", "人民路", "解放路", "中山路", "文化路",
           "和平街", "长江路", "新华街", "滨江路"]
DEPTS = [("公安", "hukou"), ("民政", "marriage"), ("卫健", "birth"),
         ("人社", "insured"), ("税务", "taxpayer")]
COLS = ["entity_id", "name", "id_no", "phone", "addr", "golden", "updated_at"]


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def row(key, version, rng):
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    id_no = "%06d%04d%02d%02d%03d%s" % (rng.randint(110000, 659999), rng.randint(1940, 2010),
                                       rng.randint(1, 12), rng.randint(1, 28),
                                       rng.randint(0, 999), rng.choice("0123456789X"))
    phone = "1%d%09d" % (rng.choice((3, 5, 8)), rng.randint(0, 999999999))
    addr = "%s%s%d号%d室" % (rng.choice(DIVISIONS), rng.choice(STREETS), rng.randint(1, 300),
                           rng.randint(101, 2408))
    day = 1 + version * 30 + rng.randint(0, 27)
    when = "2026-%02d-%02dT%02d:%02d:%02d.%03d+08:00" % (1 + (day // 28) % 12, 1 + day % 28,
                                                      rng.randint(0, 23), rng.randint(0, 59),
                                                      rng.randint(0, 59), rng.randint(0, 999))
    golden = {}
    for field, value in (("name", name), ("id_no", id_no), ("phone", phone), ("addr", addr)):
        dept, feed = rng.choice(DEPTS)
        golden[field] = {"v": value, "dept": dept, "feed": feed,
                         "rec": "%s-%08d" % (feed, rng.randint(0, 99999999)), "at": when}
    golden["members"] = rng.randint(1, 6)
    return {"entity_id": key, "name": name, "id_no": id_no, "phone": phone, "addr": addr,
            "golden": golden, "updated_at": when}


def tsv_line(r):
    vals = [r[c] if c != "golden" else json.dumps(r[c], ensure_ascii=False, separators=(",", ":"))
            for c in COLS]
    return "\t".join(esc(v) for v in vals) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("prefix")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--present", type=float, default=0.9)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    keys = ["P%012d" % k for k in rng.sample(range(10 ** 12), a.n)]
    pre_n = int(a.n * a.present)
    with open(a.prefix + "-pre.tsv", "w", encoding="utf-8") as pre:
        # The keys already present: a random FRACTION of them, written in an order of their own.
        present = keys[:]
        rng.shuffle(present)
        for k in present[:pre_n]:
            pre.write(tsv_line(row(k, 0, rng)))
    with open(a.prefix + ".jsonl", "w", encoding="utf-8") as js, \
         open(a.prefix + ".tsv", "w", encoding="utf-8") as tsv:
        for k in keys:
            r = row(k, 1, rng)
            js.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
            tsv.write(tsv_line(r))


if __name__ == "__main__":
    main()
