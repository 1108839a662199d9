#!/usr/bin/env python3
"""Write N synthetic resident records as JSON Lines, deterministically.

    gen_records.py N OUT [--seed S] [--dirty FRACTION] [--bad-every K]

OUT is a file path, or - for standard output. Each record has 10 fields and
its line is about 200 bytes:

  {"id":1,"name":"Wang Xiuying","dept":"civil","id_no":"110101199003074514",
   "phone":"13812345678","addr":"...","birth":"1990-03-07","sex":"F",
   "status":"active","updated":1714552200}

id_no is a well-formed PRC resident ID number (region, birth date, sequence
number whose parity matches sex, ISO 7064 check digit); addr is Chinese text
(district, street, number).
The same N and seed always give the same bytes.

--dirty FRACTION  that fraction of records gets one realistic defect for a
                  cleansing step to fix or flag: full-width digits or +86 and
                  dashes in the phone, padded name (ASCII or ideographic spaces), a wrong check digit, a
                  lower-case x check character, a birth date as 1990/3/7, a
                  null name.
--bad-every K     every K-th line is replaced by a line that is not a JSON
                  object record (truncated, not JSON, unterminated string,
                  trailing comma): input for the dead-letter queue.
"""

import argparse
import random
import sys

SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu",
            "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Gao"]
GIVEN = ["Wei", "Fang", "Na", "Xiuying", "Min", "Jing", "Li", "Qiang", "Lei",
         "Jun", "Yang", "Yong", "Yan", "Jie", "Juan", "Tao", "Ming", "Chao",
         "Xiulan", "Xia", "Ping", "Gang", "Guiying", "Hui"]
DEPTS = ["civil", "police", "health", "edu", "hr", "market", "tax", "housing"]
# (administrative division code, district)
REGIONS = [
    ("110101", "东城区"), ("110105", "朝阳区"),
    ("310104", "徐汇区"), ("310115", "浦东新区"),
    ("440106", "天河区"), ("440305", "南山区"),
    ("330106", "西湖区"), ("320102", "玄武区"),
    ("510107", "武侯区"), ("420106", "武昌区"),
]
STREETS = ["景山街", "建国路", "人民路", "解放路", "中山路", "文化路",
           "和平街", "长江路", "新华街", "滨江路"]
STATUSES = ["active", "active", "active", "active", "moved", "dead"]
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def id_check(first17):
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def record(i, rng):
    # Two draws of random bits per record, sliced into fields: same
    # distribution as separate draws, a good deal faster.
    r = rng.getrandbits(64)
    q = rng.getrandbits(64)
    region, district = REGIONS[r % len(REGIONS)]
    r //= len(REGIONS)
    year = 1940 + r % 70
    r //= 70
    month = 1 + r % 12
    r //= 12
    day = 1 + r % 28
    r //= 28
    sex = "M" if r & 1 else "F"
    r >>= 1
    seq = (r % 500) * 2 + (1 if sex == "M" else 0)
    r //= 500
    first17 = "%s%04d%02d%02d%03d" % (region, year, month, day, seq)
    name = "%s %s" % (SURNAMES[r % len(SURNAMES)], GIVEN[q % len(GIVEN)])
    r //= len(SURNAMES)
    q //= len(GIVEN)
    return {
        "id": i,
        "name": name,
        "dept": DEPTS[r % len(DEPTS)],
        "id_no": first17 + id_check(first17),
        "phone": "1%d%09d" % ((3, 5, 7, 8, 9)[q % 5], (q // 5) % 10 ** 9),
        "addr": "%s%s%d号" % (district, STREETS[(r // 8) % len(STREETS)],
                             1 + (r // 80) % 99),
        "birth": "%04d-%02d-%02d" % (year, month, day),
        "sex": sex,
        "status": STATUSES[(q // 5 // 10 ** 9) % len(STATUSES)],
        # Seconds since the epoch, somewhere in 2024.
        "updated": 1704067200 + (q >> 38) % 31622400,
    }


def make_dirty(rec, rng):
    kind = rng.randrange(7)
    if kind == 0:
        rec["phone"] = rec["phone"].translate(FULL_WIDTH)
    elif kind == 1:
        p = rec["phone"]
        rec["phone"] = "+86 %s-%s-%s" % (p[:3], p[3:7], p[7:])
    elif kind == 2:
        if rng.random() < 0.5:
            rec["name"] = "  %s\t" % rec["name"]
        else:
            rec["name"] = "\u3000%s  %s" % tuple(rec["name"].split(" ", 1))
    elif kind == 3:
        good = rec["id_no"][17]
        rec["id_no"] = rec["id_no"][:17] + ("0" if good != "0" else "1")
    elif kind == 4:
        first17 = rec["id_no"][:17]
        if id_check(first17) == "X":
            rec["id_no"] = first17 + "x"
        else:
            rec["name"] = rec["name"].upper()
    elif kind == 5:
        y, m, d = rec["birth"].split("-")
        rec["birth"] = "%s/%d/%d" % (y, int(m), int(d))
    else:
        rec["name"] = None


def encode(rec):
    # Hand-rolled for speed and a fixed key order; values never need escapes
    # except the name, which may hold a tab.
    name = rec["name"]
    if name is None:
        name_json = "null"
    else:
        name_json = '"%s"' % name.replace("\t", "\\t")
    return ('{"id":%d,"name":%s,"dept":"%s","id_no":"%s","phone":"%s","addr":"%s",'
            '"birth":"%s","sex":"%s","status":"%s","updated":%d}\n') % (
        rec["id"], name_json, rec["dept"], rec["id_no"], rec["phone"], rec["addr"],
        rec["birth"], rec["sex"], rec["status"], rec["updated"])


def bad_line(i, n_bad):
    kind = n_bad % 4
    if kind == 0:
        return '{"id":%d,"name":"Trunc Ated","dept":"tax","id_no":"1101\n' % i
    if kind == 1:
        return "this is not json at line %d\n" % i
    if kind == 2:
        return '{"id":%d,"name":"Unterminated string}\n' % i
    return '{"id":%d,"name":"Trailing Comma","dept":"health",}\n' % i


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int, help="number of lines")
    ap.add_argument("out", help="output file, or - for stdout")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument("--dirty", type=float, default=0.0, metavar="FRACTION")
    ap.add_argument("--bad-every", type=int, default=0, metavar="K")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    dirty_rng = random.Random(args.seed + 1)
    out = (open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)
           if args.out == "-" else open(args.out, "w", encoding="utf-8"))
    n_bad = 0
    with out:
        chunk = []
        for i in range(1, args.n + 1):
            rec = record(i, rng)
            if args.bad_every and i % args.bad_every == 0:
                chunk.append(bad_line(i, n_bad))
                n_bad += 1
            else:
                if args.dirty and dirty_rng.random() < args.dirty:
                    make_dirty(rec, dirty_rng)
                chunk.append(encode(rec))
            if len(chunk) >= 10000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))
    if args.out != "-":
        print("wrote %d lines (%d malformed) to %s" % (args.n, n_bad, args.out),
              file=sys.stderr)


if __name__ == "__main__":
    main()
