#!/usr/bin/env python3
"""Write N synthetic resident records for the cleansing benchmark, as JSON Lines.

    clean_gen.py N OUT [--seed S]

Each record has the ten fields the benchmark's clean step checks, written
the many ways real department feeds write them:

  id_no    18 digits (a lower-case x where the check character is X),
           about 10 % in the old 15-digit form, 1 % with a wrong check character
  name     Chinese names, some in Traditional characters, some padded with
           ASCII or ideographic spaces or full-width letters
  phone    mobile numbers as 13812345678, +86 138-1234-5678, full-width digits
  tel      landlines as 0756-2123456, (010) 8888 8888, +86 20 6123 4567
  birth    five formats: 1990-03-07, 1990/3/7, 19900307, 1990年3月7日,
           一九九〇年三月七日
  addr     addresses with the province, city and county written in full or short
  org      unified social credit codes (some lower case or spaced)
  updated  Unix epoch seconds
  email    ASCII, sometimes upper case or full width
  gender   男 / 女 / M / F, sometimes padded

The same N and seed always give the same bytes.
"""

import argparse
import json
import random
import sys

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
UW = [pow(3, i, 31) for i in range(17)]
OW = [3, 7, 9, 10, 5, 8, 4, 2]
FW = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                   "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
                   "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")
CN_DIGITS = "〇一二三四五六七八九"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
SURNAMES_T = "王李張劉陳楊黃趙吳周徐孫馬朱胡郭何林羅高"
GIVEN = ["秀英", "桂英", "秀兰", "玉兰", "伟", "芳", "娜", "敏", "静", "强", "磊", "军",
         "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "建国", "志强", "海燕", "丽华"]
GIVEN_T = ["秀英", "桂英", "秀蘭", "玉蘭", "偉", "芳", "娜", "敏", "靜", "強", "磊", "軍",
           "洋", "勇", "艷", "傑", "娟", "濤", "明", "超", "建國", "志強", "海燕", "麗華"]
# (division code, province, city, county)
REGIONS = [
    ("110101", "北京", "", "东城区"), ("110105", "北京", "", "朝阳区"),
    ("310104", "上海", "", "徐汇区"), ("310115", "上海", "", "浦东新区"),
    ("440106", "广东", "广州", "天河区"), ("440305", "广东", "深圳", "南山区"),
    ("440402", "广东", "珠海", "香洲区"), ("330106", "浙江", "杭州", "西湖区"),
    ("320102", "江苏", "南京", "玄武区"), ("510107", "四川", "成都", "武侯区"),
]
STREETS = ["人民路", "解放路", "中山路", "建设路", "和平街", "新华街"]
AREAS = ["010", "020", "021", "0756", "0571", "028"]
ORG_BODIES = ["MA5G2K3M", "40000012", "50000123", "MA4X5Y6R", "00001311", "MA01ABCD"]


def id_check(first17):
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, W)) % 11]


def org_check(o):
    r = 11 - sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(o, OW)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def uscc(prefix, body):
    code = prefix + body + org_check(body)
    return code + ALPHA[(31 - sum(ALPHA.index(c) * w for c, w in zip(code, UW)) % 31) % 31]


def record(i, rng):
    code, prov, city, county = rng.choice(REGIONS)
    year, month, day = rng.randrange(1940, 2005), rng.randrange(1, 13), rng.randrange(1, 29)
    male = rng.random() < 0.5
    seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
    first17 = "%s%04d%02d%02d%03d" % (code, year, month, day, seq)
    check = id_check(first17)
    r = rng.random()
    if r < 0.10 and year < 2000:
        id_no = "%s%02d%02d%02d%03d" % (code, year % 100, month, day, seq)
    elif r < 0.11:
        id_no = first17 + ("0" if check != "0" else "1")
    else:
        id_no = first17 + (check.lower() if check == "X" else check)

    k = rng.randrange(len(GIVEN))
    s = rng.randrange(len(SURNAMES))
    r = rng.random()
    if r < 0.2:
        name = SURNAMES_T[s] + GIVEN_T[k]
    elif r < 0.3:
        name = "\u3000" + SURNAMES[s] + " " + GIVEN[k] + " "
    else:
        name = SURNAMES[s] + GIVEN[k]

    mobile = "1%d%09d" % (rng.choice((3, 5, 7, 8, 9)), rng.randrange(10 ** 9))
    r = rng.random()
    if r < 0.2:
        phone = "+86 %s-%s-%s" % (mobile[:3], mobile[3:7], mobile[7:])
    elif r < 0.3:
        phone = mobile.translate(FW)
    else:
        phone = mobile
    area = rng.choice(AREAS)
    sub = "%d%07d" % (rng.randrange(2, 9), rng.randrange(10 ** 7))
    if len(area) == 4 and rng.random() < 0.5:
        sub = sub[:7]
    r = rng.random()
    if r < 0.4:
        tel = "%s-%s" % (area, sub)
    elif r < 0.7:
        tel = "(%s) %s %s" % (area, sub[:4], sub[4:])
    else:
        tel = "+86 %s %s" % (area[1:], sub)

    f = rng.randrange(5)
    if f == 0:
        birth = "%04d-%02d-%02d" % (year, month, day)
    elif f == 1:
        birth = "%d/%d/%d" % (year, month, day)
    elif f == 2:
        birth = "%04d%02d%02d" % (year, month, day)
    elif f == 3:
        birth = "%d年%d月%d日" % (year, month, day)
    else:
        def cn(n):
            if n < 10:
                return CN_DIGITS[n]
            return ("" if n < 20 else CN_DIGITS[n // 10]) + "十" + (CN_DIGITS[n % 10] if n % 10 else "")
        birth = "".join(CN_DIGITS[int(c)] for c in str(year)) + "年" + cn(month) + "月" + cn(day) + "日"

    street = "%s%d号" % (rng.choice(STREETS), rng.randrange(1, 200))
    r = rng.random()
    if r < 0.5:
        addr = (prov + ("市" if not city else "省")) + (city + "市" if city else "") + county + street
    else:
        addr = prov + city + county[:-1] + street if len(county) > 2 else prov + city + county + street

    org = uscc(rng.choice(["91", "92", "12", "51"]) + code, rng.choice(ORG_BODIES))
    r = rng.random()
    if r < 0.1:
        org = org.lower()
    elif r < 0.2:
        org = " ".join(org[j:j + 4] for j in range(0, 18, 4))

    user = "user%d" % i
    r = rng.random()
    email = (user.upper() if r < 0.2 else user.translate(FW) if r < 0.3 else user) + "@example.cn"
    gender = rng.choice(["男", "女", "M", "F", " 男 "])
    return {"id": i, "id_no": id_no, "name": name, "phone": phone, "tel": tel, "birth": birth,
            "addr": addr, "org": org, "updated": 1704067200 + rng.randrange(31622400),
            "email": email, "gender": gender}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=20240601)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    f = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    for i in range(1, a.n + 1):
        f.write(json.dumps(record(i, rng), ensure_ascii=False, separators=(",", ":")) + "\n")
    if f is not sys.stdout:
        f.close()


if __name__ == "__main__":
    main()
