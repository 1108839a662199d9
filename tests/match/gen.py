#!/usr/bin/env python3
"""Seeded synthetic Chinese resident and company records with known truth,
for evaluating record linkage (sluice's match step, Splink, anything else).

    gen.py residents N OUT [--seed S] [--rate NAME=X ...] [--jitter J]
    gen.py companies N OUT [--seed S] ...
    gen.py residents N OUT --split 卫健,民政   (two files, for linkage)

OUT ends in .csv or .jsonl (or is - for JSON Lines on stdout).  Every row has
an id, the department and feed it came from, the record's id in that feed
(src_id), the fields a department would hold, and the truth: `entity`, the
real-world person or company the record is about.  A matcher must not read
`entity`; the scorer (score.py) does.

Records are about entities drawn first (a person: name, birth date, resident
ID, phones, addresses; a company: names, credit code, legal representative,
phone, address), then written by several departments, each with its own
habits (date format, missing fields, old codes) and corruption rates:

  typo        a character of the name replaced by a similar-looking one
  homophone   a character replaced by one read the same (同音字)
  trad        Traditional characters in names and addresses
  width       full-width digits/letters, stray ASCII or ideographic spaces
  old_id      the old 15-digit resident ID (people born before 2000) or,
              for companies, the 15-digit taxpayer number instead of the code
  bad_check   a wrong check character (resident ID or credit code)
  id_typo     a digit of the resident ID mistyped or two swapped (the check
              character then rarely fits)
  swap_dm     day and month swapped in a date (when the day is <= 12)
  phone_new   a later phone number of the entity
  moved       a later address of the entity
  missing     a field left empty
  addr_form   the address written short, without province, and so on
  name_form   companies: legal form, division prefix and brackets varied
  old_name    companies: a name the company had before a rename

and entities that make linkage hard: namesakes (same common name, sometimes
same birth date), twins (same surname, birth date and address), group
companies sharing a brand, a phone and an address, branches (分公司), the
same trade name registered in several cities, renamed companies.

--style b draws another population (southern surnames, more one-character
given names) with other rates, and turns on what real registers hold
besides: lunar-calendar birthdays, year-only birth dates (YYYY-01-01), the
wrong sex, households (a child or spouse at an earlier person's address,
often with the household's phone), twins with consecutive ID sequence
numbers and a shared phone.  Each is also available in style a through
--rate / --hard (off by default, which leaves style a's bytes unchanged).

Every rate is multiplied, per department, by a factor drawn from the seed in
[1-J, 1+J] (--jitter, default 0.4), so two seeds give differently corrupted
data and a matcher tuned to one setting is not rewarded; the shares of hard
entities vary the same way.  --params FILE writes the rates used as JSON.  The same arguments always
give the same bytes.  Python 3 standard library only.
"""

import argparse
import csv
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DIVISIONS = os.path.join(HERE, "..", "..", "data", "cn_divisions.tsv")

# ---------------------------------------------------------------- codes

ID_W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_W = [pow(3, i, 31) for i in range(17)]
ORG_W = [3, 7, 9, 10, 5, 8, 4, 2]


def id_check(first17):
    """GB 11643 check character of an 18-digit resident ID."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, ID_W)) % 11]


def org_check(body8):
    """GB 11714 check character of an organisation code."""
    r = 11 - sum((int(c) if c.isdigit() else ord(c) - 55) * w
                 for c, w in zip(body8, ORG_W)) % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def uscc_check(first17):
    """GB 32100 check character of a unified social credit code."""
    s = sum(USCC_ALPHA.index(c) * w for c, w in zip(first17, USCC_W))
    return USCC_ALPHA[(31 - s % 31) % 31]


def wrong_check(code, check_of, alphabet):
    right = check_of(code[:-1])
    return code[:-1] + next(c for c in alphabet if c != right and c != code[-1])


# ---------------------------------------------------------------- tables

# Surnames with their approximate share of the population (per mille).
SURNAMES = [
    ("王", 71), ("李", 70), ("张", 67), ("刘", 54), ("陈", 46), ("杨", 31), ("黄", 22),
    ("赵", 20), ("吴", 20), ("周", 19), ("徐", 15), ("孙", 15), ("马", 14), ("朱", 13),
    ("胡", 13), ("郭", 12), ("何", 12), ("高", 11), ("林", 11), ("罗", 11), ("郑", 10),
    ("梁", 10), ("谢", 8), ("宋", 8), ("唐", 8), ("许", 7), ("韩", 7), ("冯", 7),
    ("邓", 7), ("曹", 7), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 6), ("董", 5),
    ("袁", 5), ("潘", 5), ("于", 5), ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 5),
    ("叶", 5), ("程", 5), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4), ("任", 4),
    ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 3), ("钟", 3), ("谭", 3),
    ("陆", 3), ("汪", 3), ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3),
    ("夏", 3), ("韦", 3), ("付", 3), ("方", 3), ("白", 2), ("邹", 2), ("孟", 2),
    ("熊", 2), ("秦", 2), ("邱", 2), ("江", 2), ("尹", 2), ("薛", 2), ("闫", 2),
    ("段", 2), ("雷", 2), ("侯", 2), ("龙", 2), ("史", 2), ("陶", 2), ("黎", 2),
    ("贺", 2), ("顾", 2), ("毛", 2), ("郝", 2), ("龚", 2), ("邵", 2), ("万", 2),
    ("钱", 2), ("严", 2), ("覃", 1), ("武", 1), ("戴", 1), ("莫", 1), ("孔", 1),
    ("欧阳", 1), ("司马", 1), ("上官", 1), ("诸葛", 1),
]
GIVEN_M = ("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建国志文海东峰亮成晨博"
           "子轩然睿泽航铭豪毅嘉瑞振庆永兵彬新立")
GIVEN_F = ("芳娜敏静秀丽艳娟霞燕玲桂英兰萍红梅琳婷雪慧颖佳欣怡思雨涵琪月晶莉倩洁蕾薇凤琼娇梦瑶"
           "紫萱诗悦婉清欢妍玉珍云")
# Common given names, so that namesakes (王伟, 张静) are as frequent as in life.
COMMON_GIVEN_M = ["伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "建国", "建华",
                  "志强", "俊杰", "浩然", "子轩"]
COMMON_GIVEN_F = ["芳", "娜", "敏", "静", "丽", "艳", "娟", "秀英", "桂英", "秀兰", "玉兰",
                  "海燕", "丽华", "婷婷", "欣怡", "子涵"]

# Characters read the same (toneless pinyin), as a clerk who hears a name
# writes it.
HOMOPHONES = [
    "张章彰", "王汪", "李理里黎礼", "刘柳留", "杨阳扬洋", "黄皇煌", "吴武伍吾", "周舟州洲",
    "徐许旭", "孙荪", "马玛码", "朱珠诸", "胡湖虎", "郭国", "何和贺禾", "高郜皋", "林琳霖麟淋",
    "罗骆洛", "郑正政", "梁良粱", "谢协", "宋送", "唐堂棠", "韩寒涵含", "冯风峰锋枫丰", "邓登",
    "彭鹏朋蓬", "曾增", "肖萧晓小", "田甜填", "程成城诚承", "苏素", "任仁人", "沈申深",
    "伟玮炜威薇", "静晶婧菁京", "丽莉俐立力", "明铭鸣", "华桦骅", "军君均钧", "杰洁婕捷",
    "娟鹃", "芳方舫", "敏民珉", "强蔷", "磊蕾垒", "涛韬滔", "艳燕雁彦", "红虹鸿宏", "霞侠",
    "平萍苹", "辉晖徽", "勇永咏泳", "超潮", "刚钢岗", "建剑健键", "婷亭庭廷", "颖莹英盈瑛",
    "慧惠蕙", "佳嘉家", "欣新鑫心馨", "宇雨羽语玉钰煜", "浩昊皓豪", "子紫梓", "思斯丝",
    "晨辰臣琛", "文雯闻", "梅玫媚", "秀绣", "兰岚澜蓝", "凤奉", "志智芝", "轩萱宣", "涵寒含",
    "怡仪宜依", "琪琦祺奇", "悦月越岳", "诗师施", "航杭", "泽则", "睿瑞锐", "博波柏", "然冉",
    "凯楷", "俊骏峻", "帆凡繁", "龙隆", "宁凝", "东冬栋", "亮靓", "飞菲非", "海亥", "倩茜",
    "洁捷", "娇姣", "梦蒙", "瑶遥姚", "云芸耘", "珍真贞", "玲灵凌", "斌彬滨", "毅怡",
    "庆青清", "兵冰", "新心", "立力", "成诚",
]
# Characters that look alike (形近字), as a typist or an OCR pass confuses them.
LOOKALIKE = [
    "己已巳", "末未", "土士", "戊戌戍", "日曰", "人入八", "大太犬", "王玉主", "干千于",
    "白自", "贝见", "未朱", "刀力", "天夫", "田由甲申", "木本术", "今令", "晴睛", "辩辨",
    "候侯", "崇祟", "拔拨", "佳隹", "杨扬", "刘浏", "李季", "张弦", "陈阵", "静净", "丽雨",
    "军车", "明朋", "华毕", "强虽", "伟纬", "芳方", "敏每", "娟绢", "燕艳", "梅海", "兰三",
    "英央", "红江", "霞暇", "平苹", "辉挥", "鹏朋", "涛寿", "超赵", "刚纲", "建健", "国围",
]
# Simplified -> Traditional for the characters of names, addresses and
# company names that differ.
S2T = dict(zip(
    "张刘陈杨黄赵吴孙马郑罗谢许韩冯邓叶苏吕卢钟谭陆龚贺顾万钱严龙伟强军杰涛华辉鹏飞鑫宁"
    "国东峰亮晨轩铭泽庆兵丽艳娟霞燕玲兰红梅颖欣怡涵琪凤琼娇梦瑶诗悦云广门区县阳湾岛乡镇"
    "园丰兴开发电贸业实设计术务营销团责银联医药车运输饮长鸿凯宝贵达环厂农产际网络讯创动"
    "热气质检测筑场楼层单号栋义汉滨庆织装饰图书画纺乐凤湖汇盛恒泰鼎昌润锦腾远航丽临时"
    "连宾胜师阳缘维亚门头沟里街",
    "張劉陳楊黃趙吳孫馬鄭羅謝許韓馮鄧葉蘇呂盧鍾譚陸龔賀顧萬錢嚴龍偉強軍傑濤華輝鵬飛鑫寧"
    "國東峰亮晨軒銘澤慶兵麗艷娟霞燕玲蘭紅梅穎欣怡涵琪鳳瓊嬌夢瑤詩悅雲廣門區縣陽灣島鄉鎮"
    "園豐興開發電貿業實設計術務營銷團責銀聯醫藥車運輸飲長鴻凱寶貴達環廠農產際網絡訊創動"
    "熱氣質檢測築場樓層單號棟義漢濱慶織裝飾圖書畫紡樂鳳湖匯盛恆泰鼎昌潤錦騰遠航麗臨時"
    "連賓勝師陽緣維亞門頭溝里街"))
FW = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-()",
                   "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
                   "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ－（）")

ROADS = ["人民路", "中山路", "解放路", "建设路", "新华路", "滨海路", "迎宾路", "朝阳路", "青年路",
         "文化路", "工业路", "健康路", "胜利路", "长江路", "黄河路", "和平街", "光明街", "东风路",
         "跃进路", "环城路", "学府路", "前进路", "幸福路", "友谊路", "凤凰路", "金湾路", "海滨路"]
ESTATES = ["花园", "新村", "小区", "家园", "华府", "名苑", "雅居", "公寓", "广场", "大厦"]
ESTATE_HEAD = "翠锦碧金银富华君悦海景湖畔世纪阳光幸福和谐东方南山北岸"

BRAND_CHARS = ("金华鑫盛泰恒达通宏信德隆兴瑞丰祥源海天明富嘉博创科伟新安永昌汇鼎星辰中联众合"
               "和美佳光大正远航利银锦润发腾宇云峰凯威力诚晟昊骏铭")
INDUSTRIES = ["科技", "电子科技", "信息技术", "网络科技", "贸易", "商贸", "进出口贸易", "建筑工程",
              "装饰工程", "房地产开发", "物业管理", "餐饮管理", "酒店管理", "物流", "供应链管理",
              "生物科技", "医药", "机械设备", "电器", "汽车销售服务", "文化传媒", "广告",
              "教育咨询", "投资管理", "企业管理咨询", "环保科技", "新能源科技", "服装", "食品",
              "建材", "实业", "电子商务", "纺织", "印刷", "五金制品"]
FORMS = [("有限公司", 70), ("有限责任公司", 12), ("股份有限公司", 10), ("有限合伙企业", 2),
         ("合伙企业", 1), ("集团有限公司", 1)]
# Area codes of some prefecture cities; the others get a made-up one.
AREA_CODES = {"1100": "010", "3100": "021", "1200": "022", "5000": "023", "4401": "020",
              "4403": "0755", "4404": "0756", "4406": "0757", "4419": "0769", "4420": "0760",
              "3301": "0571", "3201": "025", "5101": "028", "4201": "027", "6101": "029"}

DATE_FORMATS = {
    "iso": lambda y, m, d: "%04d-%02d-%02d" % (y, m, d),
    "cn": lambda y, m, d: "%d年%d月%d日" % (y, m, d),
    "compact": lambda y, m, d: "%04d%02d%02d" % (y, m, d),
    "slash": lambda y, m, d: "%d/%d/%d" % (y, m, d),
    "dot": lambda y, m, d: "%04d.%02d.%02d" % (y, m, d),
}

# ---------------------------------------------------------------- rates

RATES = {
    "residents": {"typo": 0.02, "homophone": 0.04, "trad": 0.03, "width": 0.05, "old_id": 0.05,
                  "bad_check": 0.02, "id_typo": 0.01, "swap_dm": 0.02, "phone_new": 0.15, "moved": 0.12,
                  "missing": 0.05, "addr_form": 0.5},
    "companies": {"typo": 0.02, "homophone": 0.02, "trad": 0.03, "width": 0.05, "old_id": 0.05,
                  "bad_check": 0.02, "swap_dm": 0.02, "phone_new": 0.1, "moved": 0.1,
                  "missing": 0.05, "addr_form": 0.5, "name_form": 0.25, "old_name": 0.3},
}
# Entities that make linkage hard, as a share of the entities drawn.
HARD = {
    "residents": {"namesake": 0.03, "namesake_birth": 0.01, "twin": 0.01},
    "companies": {"group": 0.06, "branch": 0.05, "same_trade_name": 0.03, "renamed": 0.08},
}

# What real population registers hold besides, off by default in style a
# (drawn from a second random stream, so that style a's bytes do not change
# when they are 0) and on in style b:
#   lunar         the birth date written as the lunar-calendar birthday (the
#                 lunar month and day read as solar ones: 20-50 days early)
#   default_date  only the year known: the birth date written as YYYY-01-01
#   gender_err    the other sex written
#   family        a household member of an earlier person: a child (same
#                 surname, born 20-35 years later) or a spouse, at the same
#                 address, often with the household's phone
#   twin_seq      twins' IDs with consecutive sequence numbers, as the
#                 police station registers them together
#   twin_phone    twins with the household's phone
EXTRA_RATES = {"residents": {"lunar": 0.0, "default_date": 0.0, "gender_err": 0.0}, "companies": {}}
EXTRA_HARD = {"residents": {"family": 0.0, "twin_seq": 0.0, "twin_phone": 0.0}, "companies": {}}

# Style b: another population and other clerks (--style b), so that a
# matcher settled on style a is measured on data it was not settled on:
# southern surnames (陈, 林, 黄 lead), more single-character and other
# common given names, more homophones and Traditional characters, fewer
# look-alikes and old IDs, more moves, new phones and missing values, and
# the register phenomena above.
SURNAME_B = {"陈": 4.0, "林": 4.5, "黄": 2.8, "郑": 2.5, "梁": 2.8, "谢": 2.2, "许": 2.5, "蔡": 3.5,
             "吴": 1.6, "何": 1.8, "罗": 1.8, "叶": 2.5, "曾": 2.2, "邓": 2.0, "钟": 2.0, "卢": 1.8,
             "王": 0.5, "刘": 0.7, "张": 0.7, "赵": 0.4, "孙": 0.4, "马": 0.5, "郭": 0.6}
COMMON_GIVEN_M_B = ["志明", "伟明", "国强", "家豪", "俊杰", "文杰", "志强", "建明", "伟", "明",
                    "辉", "斌", "锦华", "嘉俊"]
COMMON_GIVEN_F_B = ["丽娟", "美玲", "淑芬", "秀珍", "雅婷", "慧敏", "嘉欣", "丽华", "玉梅", "燕",
                    "婷", "敏", "咏诗", "晓琳"]
RATES_B = {
    "residents": {"typo": 0.01, "homophone": 0.07, "trad": 0.06, "width": 0.08, "old_id": 0.03,
                  "bad_check": 0.01, "id_typo": 0.02, "swap_dm": 0.01, "phone_new": 0.22, "moved": 0.18,
                  "missing": 0.08, "addr_form": 0.6},
    "companies": {"typo": 0.01, "homophone": 0.04, "trad": 0.06, "width": 0.08, "old_id": 0.03,
                  "bad_check": 0.01, "swap_dm": 0.01, "phone_new": 0.15, "moved": 0.15,
                  "missing": 0.08, "addr_form": 0.6, "name_form": 0.35, "old_name": 0.25},
}
HARD_B = {
    "residents": {"namesake": 0.04, "namesake_birth": 0.015, "twin": 0.015},
    "companies": {"group": 0.08, "branch": 0.04, "same_trade_name": 0.04, "renamed": 0.1},
}
EXTRA_RATES_B = {"residents": {"lunar": 0.02, "default_date": 0.01, "gender_err": 0.005}, "companies": {}}
EXTRA_HARD_B = {"residents": {"family": 0.15, "twin_seq": 0.7, "twin_phone": 0.3}, "companies": {}}

# (department, [feeds], share of the records, date format, multipliers of
# some rates: a department's habits)
DEPTS = {
    "residents": [
        ("公安", ["户籍登记", "流动人口"], 30, "compact", {"old_id": 0.5, "typo": 0.5, "missing": 0.3}),
        ("民政", ["婚姻登记", "救助对象"], 15, "cn", {"old_id": 2.5, "trad": 2.0}),
        ("卫健", ["门诊就诊", "疫苗接种"], 25, "iso", {"homophone": 2.0, "typo": 1.5, "phone_new": 1.5,
                                               "missing": 2.0, "width": 1.5}),
        ("税务", ["个税申报"], 15, "slash", {"moved": 1.5, "missing": 1.5}),
        ("人社", ["社保参保", "就业登记"], 15, "dot", {"swap_dm": 2.0, "width": 2.0}),
    ],
    "companies": [
        ("市场监管", ["企业登记", "年度报告"], 35, "iso", {"old_id": 0.1, "name_form": 0.3, "typo": 0.3}),
        ("税务", ["税务登记"], 25, "compact", {"old_id": 4.0, "old_name": 1.5}),
        ("人社", ["社保单位参保"], 15, "dot", {"name_form": 2.0, "missing": 2.0, "old_name": 1.5}),
        ("住建", ["资质许可"], 10, "cn", {"trad": 2.0, "width": 2.0, "missing": 1.5}),
        ("统计", ["名录库"], 15, "slash", {"homophone": 2.0, "typo": 2.0, "swap_dm": 2.0}),
    ],
}
POOL = 20000
# Records per entity: (count, weight).
PER_ENTITY = [(1, 30), (2, 25), (3, 18), (4, 11), (5, 7), (6, 4), (7, 2), (8, 1), (10, 1), (14, 1)]

# ---------------------------------------------------------------- divisions


class Divisions:
    def __init__(self, path):
        self.name, self.short = {}, {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                code, name, short = (line.rstrip("\n").split("\t") + [""])[:3]
                self.name[code], self.short[code] = name, short or name
        self.counties = sorted(c for c in self.name if not c.endswith("00"))
        self.cities = sorted(c for c in self.name if c.endswith("00") and not c.endswith("0000"))

    def chain(self, county):
        """(province, city or None, county) codes above and at a county."""
        city = county[:4] + "00"
        return county[:2] + "0000", city if city in self.name else None, county

    def counties_of(self, city):
        return [c for c in self.counties if c[:4] == city[:4]]


# ---------------------------------------------------------------- helpers


class Gen:
    def __init__(self, kind, seed, rates, jitter, divs, hard=None, extra=None, style="a"):
        self.kind, self.rng, self.divs = kind, random.Random(seed), divs
        self.style = style
        rng = self.rng
        # The extra phenomena (EXTRA_RATES, EXTRA_HARD) draw from their own
        # stream: at 0 they leave the data of style a as it was.
        self.rng2 = random.Random(seed * 7919 + 17)
        self.extra = {k: v * self.rng2.uniform(1 - jitter, 1 + jitter)
                      for k, v in sorted((extra or {}).items())}
        self.depts = []
        for name, feeds, share, fmt, mult in DEPTS[kind]:
            r = {k: min(0.95, v * mult.get(k, 1.0) * rng.uniform(1 - jitter, 1 + jitter))
                 for k, v in rates.items()}
            self.depts.append((name, feeds, share, fmt, r))
        self.hard = {k: v * rng.uniform(1 - jitter, 1 + jitter) for k, v in (hard or HARD[kind]).items()}
        # A city's records: most people live in one prefecture city, and were
        # first registered (the ID's division) there or anywhere in China.
        big = [c for c in divs.cities if len(divs.counties_of(c)) >= 3]
        self.home = rng.choice(big)
        self.home_counties = divs.counties_of(self.home)
        self.sur = [s for s, _ in SURNAMES]
        self.sur_w = [w * (SURNAME_B.get(s, 1.0) if style == "b" else 1.0) for s, w in SURNAMES]
        self.per_n = [n for n, _ in PER_ENTITY]
        self.per_w = [w for _, w in PER_ENTITY]
        self.homo = {}
        for g in HOMOPHONES:
            for c in g:
                self.homo.setdefault(c, set()).update(x for x in g if x != c)
        self.look = {}
        for g in LOOKALIKE:
            for c in g:
                self.look.setdefault(c, set()).update(x for x in g if x != c)
        self.homo = {c: sorted(v) for c, v in self.homo.items() if v}
        self.look = {c: sorted(v) for c, v in self.look.items() if v}
        self.used_ids = set()

    def chance(self, p):
        return self.rng.random() < p

    def extra_chance(self, name):
        """An extra phenomenon (EXTRA_RATES, EXTRA_HARD): draws nothing when off."""
        p = self.extra.get(name, 0.0)
        return p > 0 and self.rng2.random() < p

    def county(self, local=0.9):
        if self.chance(local):
            return self.rng.choice(self.home_counties)
        return self.rng.choice(self.divs.counties)

    def address(self, county):
        rng = self.rng
        return (county, "%s%d号%s%s%d栋%d室" % (
            rng.choice(ROADS), rng.randrange(1, 400),
            "".join(rng.sample(ESTATE_HEAD, 2)), rng.choice(ESTATES),
            rng.randrange(1, 30), rng.randrange(1, 33) * 100 + rng.randrange(1, 5)))

    def write_address(self, addr, r):
        """An address as a department writes it: the divisions in full or
        short, the province or city left out."""
        county, rest = addr
        prov, city, cty = self.divs.chain(county)
        d = self.divs
        parts = [d.name[prov], d.name[city] if city else "", d.name[cty]]
        if self.chance(r["addr_form"]):
            form = self.rng.randrange(4)
            if form == 0:
                parts = [d.short[prov], d.short[city] if city else "", d.name[cty]]
            elif form == 1:
                parts = ["", d.name[city] if city else d.name[prov], d.name[cty]]
            elif form == 2:
                parts = [d.short[prov], d.name[city] if city else "", d.name[cty]]
            else:
                parts = ["", "", d.name[cty]] if city else [d.name[prov], "", d.name[cty]]
        return "".join(parts) + rest

    def mobile(self):
        return "1%d%d%08d" % (self.rng.choice((3, 5, 7, 8, 9)), self.rng.randrange(10),
                              self.rng.randrange(10 ** 8))

    def landline(self, county):
        area = AREA_CODES.get(county[:4]) or "0%d" % (300 + int(county[:4]) % 600)
        return area + "-" + "%d%07d" % (self.rng.randrange(2, 9), self.rng.randrange(10 ** 7))

    def write_phone(self, phone, r):
        rng = self.rng
        if phone[0] == "1":
            f = rng.randrange(6)
            if f == 1:
                phone = "%s-%s-%s" % (phone[:3], phone[3:7], phone[7:])
            elif f == 2:
                phone = "+86 %s %s %s" % (phone[:3], phone[3:7], phone[7:])
            elif f == 3:
                phone = "86" + phone
        elif rng.random() < 0.3:
            area, num = phone.split("-")
            phone = "(%s)%s" % (area, num)
        elif rng.random() < 0.3:
            phone = phone.replace("-", "")
        if self.chance(r["width"]):
            phone = phone.translate(FW)
        return phone

    def write_date(self, date, fmt, r):
        y, m, d = date
        if d <= 12 and m != d and self.chance(r["swap_dm"]):
            m, d = d, m
        if self.chance(0.15):
            fmt = self.rng.choice(sorted(DATE_FORMATS))
        s = DATE_FORMATS[fmt](y, m, d)
        if self.chance(r["width"]):
            s = s.translate(FW)
        return s

    def corrupt_chars(self, text, r, first=0):
        """Homophones, look-alikes, Traditional characters, width and spaces."""
        rng = self.rng
        chars = list(text)
        pos = [i for i in range(first, len(chars)) if chars[i] in self.homo]
        if pos and self.chance(r["homophone"]):
            i = rng.choice(pos)
            chars[i] = rng.choice(self.homo[chars[i]])
        pos = [i for i in range(first, len(chars)) if chars[i] in self.look]
        if pos and self.chance(r["typo"]):
            i = rng.choice(pos)
            chars[i] = rng.choice(self.look[chars[i]])
        if self.chance(r["trad"]):
            chars = [S2T.get(c, c) for c in chars]
        text = "".join(chars)
        if self.chance(r["width"]):
            f = rng.randrange(4)
            if f == 0:
                text = text.translate(FW)
            elif f == 1:
                text = "\u3000" + text
            elif f == 2 and len(text) > 1:
                i = rng.randrange(1, len(text))
                text = text[:i] + " " + text[i:]
            else:
                text = " " + text + " "
        return text

    def maybe(self, value, r):
        return "" if self.chance(r["missing"]) else value

    def dept(self):
        d = self.rng.choices(self.depts, weights=[x[2] for x in self.depts])[0]
        return d, self.rng.choice(d[1])

    def n_records(self):
        return self.rng.choices(self.per_n, weights=self.per_w)[0]

    def date(self, y0, y1):
        return (self.rng.randrange(y0, y1), self.rng.randrange(1, 13), self.rng.randrange(1, 29))

    # ------------------------------------------------------------ residents

    def person(self, people):
        rng = self.rng
        male = self.chance(0.5)
        h = self.hard
        twin_of = None
        if people and self.chance(h["twin"]):
            twin_of = rng.choice(people)
        if twin_of:
            surname, birth, addrs = twin_of["surname"], twin_of["birth"], list(twin_of["addrs"])
            given = twin_of["given"]
            while given == twin_of["given"]:
                given = self.given(male)
                if len(twin_of["given"]) == 2 and self.chance(0.5):
                    given = twin_of["given"][0] + rng.choice(GIVEN_M if male else GIVEN_F)
            id_county = twin_of["id_no"][:6]
        else:
            surname = rng.choices(self.sur, weights=self.sur_w)[0]
            given = self.given(male)
            birth = self.date(1935, 2020)
            addrs = [self.address(self.county())]
            id_county = addrs[0][0] if self.chance(0.6) else rng.choice(self.divs.counties)
            if people and self.chance(h["namesake"]):
                other = rng.choice(people)
                surname, given, male = other["surname"], other["given"], other["male"]
                if self.chance(h["namesake_birth"] / h["namesake"]):
                    birth = other["birth"]
        if self.chance(0.3):
            addrs.append(self.address(self.county()))
        family = None
        if people and not twin_of and self.extra_chance("family"):
            family = self.rng2.choice(people)
            addrs = [family["addrs"][0]] + addrs[1:]
            if self.rng2.random() < 0.6:      # a child, registered where the parent was
                surname = family["surname"]
                y = min(2022, family["birth"][0] + self.rng2.randrange(20, 36))
                birth = (y, self.rng2.randrange(1, 13), self.rng2.randrange(1, 29))
                id_county = family["id_no"][:6]
            else:                             # a spouse
                y = min(2005, max(1935, family["birth"][0] + self.rng2.randrange(-6, 7)))
                birth = (y, self.rng2.randrange(1, 13), self.rng2.randrange(1, 29))
        twin_seq = twin_of and self.extra_chance("twin_seq")
        while True:
            seq = rng.randrange(0, 500) * 2 + (1 if male else 0)
            if twin_seq:                      # the next free number of the right parity
                seq = int(twin_of["id_no"][14:17]) + 1
                while seq % 2 != (1 if male else 0) or "%s%04d%02d%02d%03d" % (
                        id_county, birth[0], birth[1], birth[2], seq) in self.used_ids:
                    seq = (seq + 1) % 1000
            first17 = "%s%04d%02d%02d%03d" % (id_county, birth[0], birth[1], birth[2], seq)
            if first17 not in self.used_ids:
                self.used_ids.add(first17)
                break
        phones = [self.mobile()]
        if self.chance(0.35):
            phones.append(self.mobile())
        if family and self.rng2.random() < 0.5:
            phones[0] = family["phones"][0]   # the household's phone
        if twin_of and self.extra_chance("twin_phone"):
            phones[0] = twin_of["phones"][0]
        return {"surname": surname, "given": given, "male": male, "birth": birth,
                "id_no": first17 + id_check(first17), "phones": phones, "addrs": addrs,
                "twin": twin_of is not None}

    def given(self, male):
        rng = self.rng
        b = self.style == "b"
        if self.chance(0.15 if b else 0.25):
            if b:
                return rng.choice(COMMON_GIVEN_M_B if male else COMMON_GIVEN_F_B)
            return rng.choice(COMMON_GIVEN_M if male else COMMON_GIVEN_F)
        pool = GIVEN_M if male else GIVEN_F
        n = 1 if self.chance(0.35 if b else 0.2) else 2
        return "".join(rng.choice(pool) for _ in range(n))

    def resident_record(self, p):
        (dname, _, _, fmt, r), feed = self.dept()
        rng = self.rng
        name = self.corrupt_chars(p["surname"] + p["given"], r)
        id_no = p["id_no"]
        if p["birth"][0] < 2000 and self.chance(r["old_id"]):
            id_no = id_no[:6] + id_no[8:17]
        elif self.chance(r["bad_check"]):
            id_no = wrong_check(id_no, id_check, "0123456789X")
        if self.chance(r["id_typo"]):
            i = rng.randrange(len(id_no) - 2)
            if self.chance(0.5) and id_no[i] != id_no[i + 1]:
                id_no = id_no[:i] + id_no[i + 1] + id_no[i] + id_no[i + 2:]
            else:
                id_no = id_no[:i] + str((int(id_no[i]) + rng.randrange(1, 10)) % 10) + id_no[i + 1:]
        if id_no[-1] == "X" and self.chance(0.3):
            id_no = id_no[:-1] + "x"
        if self.chance(r["width"]):
            id_no = id_no.translate(FW) if self.chance(0.5) else " ".join(
                [id_no[:6], id_no[6:14], id_no[14:]])
        later = self.chance(r["phone_new"])
        phone = p["phones"][-1] if later and len(p["phones"]) > 1 else p["phones"][0]
        moved = self.chance(r["moved"])
        addr = p["addrs"][-1] if moved and len(p["addrs"]) > 1 else p["addrs"][0]
        gender = ("男" if p["male"] else "女") if rng.random() < 0.8 else (
            "1" if p["male"] else "2")
        if self.extra_chance("gender_err"):
            gender = {"男": "女", "女": "男", "1": "2", "2": "1"}[gender]
        birth = p["birth"]
        if self.extra_chance("lunar"):
            birth = shift_days(birth, -self.rng2.randrange(20, 51))
        elif self.extra_chance("default_date"):
            birth = (birth[0], 1, 1)
        return {"department": dname, "feed": feed,
                "name": name,
                "gender": self.maybe(gender, r),
                "birth": self.maybe(self.write_date(birth, fmt, r), r),
                "id_no": self.maybe(id_no, r),
                "phone": self.maybe(self.write_phone(phone, r), r),
                "addr": self.maybe(self.corrupt_chars(self.write_address(addr, r), r, 2), r)}

    # ------------------------------------------------------------ companies

    def company(self, companies):
        """A company: its names over time, code, representative, phone, address."""
        rng = self.rng
        h = self.hard
        county = self.county(0.85)
        brand = "".join(rng.sample(BRAND_CHARS, rng.choice((2, 2, 2, 3, 4))))
        industry = rng.choice(INDUSTRIES)
        form = rng.choices([f for f, _ in FORMS], weights=[w for _, w in FORMS])[0]
        phone = self.landline(county) if self.chance(0.6) else self.mobile()
        addr = self.address(county)
        parent = None
        prefix_style = rng.choice(("city", "city", "city", "bracket", "none"))
        kind = "plain"
        if companies:
            x = rng.random()
            if x < h["group"]:
                parent, kind = rng.choice(companies), "group"
                brand, phone = parent["brand"], parent["phone"]
                if self.chance(0.5):
                    county, addr = parent["county"], parent["addr"]
                while industry == parent["industry"]:
                    industry = rng.choice(INDUSTRIES)
            elif x < h["group"] + h["branch"]:
                parent = rng.choice(companies)
                if parent["form"] != "分公司":     # a branch has no branches
                    kind = "branch"
                    if self.chance(0.5):
                        phone = parent["phone"]
            elif x < h["group"] + h["branch"] + h["same_trade_name"]:
                # The same trade name and industry registered in another city.
                other = rng.choice(companies)
                brand, industry = other["brand"], other["industry"]
                form = other["form"] if other["form"] != "分公司" else "有限公司"
                prefix_style = "city"
                county = rng.choice([c for c in self.divs.counties if c[:4] != other["county"][:4]])
                addr = self.address(county)
        if kind == "branch":
            d = self.divs
            _, city, cty = d.chain(county)
            place = d.name[city] if city and self.chance(0.7) else d.name[cty]
            names = [parent["names"][-1] + place + "分公司"]
            brand, industry, form = parent["brand"], parent["industry"], "分公司"
        else:
            names = [self.company_name(county, brand, industry, form, prefix_style)]
            if self.chance(h["renamed"]):
                if self.chance(0.5):
                    old_brand = "".join(rng.sample(BRAND_CHARS, len(brand)))
                    names.insert(0, self.company_name(county, old_brand, industry, form, prefix_style))
                else:
                    old_ind = rng.choice(INDUSTRIES)
                    names.insert(0, self.company_name(county, brand, old_ind, form, prefix_style))
        org8 = ("MA" + "".join(rng.choice(USCC_ALPHA) for _ in range(6))
                if self.chance(0.7) else "%08d" % rng.randrange(10 ** 8))
        first17 = "91" + county + org8 + org_check(org8)
        est = self.date(1985, 2025)
        rep = rng.choices(self.sur, weights=self.sur_w)[0] + self.given(self.chance(0.7))
        addrs = [addr]
        if self.chance(0.25):
            addrs.append(self.address(county if self.chance(0.7) else self.county(0.85)))
        phones = [phone]
        if self.chance(0.2):
            phones.append(self.landline(county))
        return {"names": names, "brand": brand, "industry": industry, "form": form,
                "county": county, "uscc": first17 + uscc_check(first17), "rep": rep,
                "phone": phone, "phones": phones, "addr": addr, "addrs": addrs, "est": est,
                "kind": kind}

    def company_name(self, county, brand, industry, form, style):
        d = self.divs
        _, city, cty = d.chain(county)
        place = city or cty
        if style == "city":
            return d.name[place] + brand + industry + form
        if style == "bracket":
            return brand + "（" + d.short[place] + "）" + industry + form
        return brand + industry + form

    def write_company_name(self, c, name, r):
        """Legal form, division prefix and brackets as departments vary them."""
        if not self.chance(r["name_form"]):
            return name
        rng = self.rng
        d = self.divs
        _, city, cty = d.chain(c["county"])
        place = city or cty
        f = rng.randrange(5)
        full, short = d.name[place], d.short[place]
        if f == 0 and name.startswith(full):
            return name[len(full):]                          # prefix dropped
        if f == 1 and name.startswith(full):
            return short + name[len(full):]                  # 珠海市 -> 珠海
        if f == 2 and not name.startswith(full) and "（" not in name:
            return full + name                               # prefix added
        if f == 3:
            if name.endswith("有限责任公司"):
                return name[:-6] + "有限公司"
            if name.endswith("有限公司") and not name.endswith("股份有限公司"):
                return name[:-4] + "有限责任公司"
        return name.replace("（", "(").replace("）", ")")

    def company_record(self, c):
        (dname, _, _, fmt, r), feed = self.dept()
        rng = self.rng
        name = c["names"][0] if len(c["names"]) > 1 and self.chance(r["old_name"]) else c["names"][-1]
        name = self.corrupt_chars(self.write_company_name(c, name, r), r)
        code = c["uscc"]
        if self.chance(r["old_id"]):
            code = code[2:8] + code[8:17]                    # taxpayer number: division + org code
        elif self.chance(r["bad_check"]):
            code = wrong_check(code, uscc_check, USCC_ALPHA)
        if self.chance(r["width"]):
            code = code.lower() if self.chance(0.5) else " ".join(
                code[i:i + 4] for i in range(0, len(code), 4))
        phone = c["phones"][-1] if self.chance(r["phone_new"]) else c["phones"][0]
        addr = c["addrs"][-1] if self.chance(r["moved"]) else c["addrs"][0]
        return {"department": dname, "feed": feed,
                "name": name,
                "uscc": self.maybe(code, r),
                "legal_rep": self.maybe(self.corrupt_chars(c["rep"], r), r),
                "phone": self.maybe(self.write_phone(phone, r), r),
                "addr": self.maybe(self.corrupt_chars(self.write_address(addr, r), r, 2), r),
                "est_date": self.maybe(self.write_date(c["est"], fmt, r), r)}

    # ------------------------------------------------------------ all

    def run(self, n):
        """(field names, records, number of entities).  A record is held
        as one string, its values joined by US (0x1f), so that a million
        records fit in a few hundred megabytes."""
        rng = self.rng
        make, record, prefix = ((self.person, self.resident_record, "P") if self.kind == "residents"
                                else (self.company, self.company_record, "C"))
        # Namesakes, twins and groups are drawn from a sample of the earlier
        # entities, so that memory stays bounded at a million records.
        pool, count, rows, fields = [], 0, [], None
        while len(rows) < n:
            e = make(pool)
            count += 1
            if len(pool) < POOL:
                pool.append(e)
            else:
                pool[rng.randrange(POOL)] = e
            eid = "%s%07d" % (prefix, count)
            for _ in range(min(self.n_records(), n - len(rows))):
                row = record(e)
                row["entity"] = eid
                fields = fields or list(row)
                rows.append("\x1f".join(row.values()))
        rng.shuffle(rows)
        # Source-record ids: each feed numbers its own records.
        seq = {}
        for i, row in enumerate(rows):
            dept, feed, rest = row.split("\x1f", 2)
            key = (dept, feed)
            seq[key] = seq.get(key, 0) + rng.randrange(1, 5)
            rows[i] = "\x1f".join(("r%07d" % (i + 1), dept, feed,
                                   "%s-%08d" % (hash_str(key) % 10000, seq[key]), rest))
        return ["id"] + fields[:2] + ["src_id"] + fields[2:], rows, count


def shift_days(date, days):
    """(y, m, d) moved by a number of days."""
    import datetime
    d = datetime.date(*date) + datetime.timedelta(days=days)
    return (d.year, d.month, d.day)


def hash_str(key):
    """A stable hash (Python's str hash is salted per process)."""
    h = 2166136261
    for ch in "/".join(key):
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("residents", "companies"))
    ap.add_argument("n", type=int, help="number of records (1000 .. 1000000)")
    ap.add_argument("out", help="FILE.csv, FILE.jsonl, or - (JSON Lines on stdout)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", action="append", default=[], metavar="NAME=X",
                    help="base rate of one corruption (see above)")
    ap.add_argument("--hard", action="append", default=[], metavar="NAME=X",
                    help="share of hard entities: namesake, namesake_birth, twin; "
                         "group, branch, same_trade_name, renamed")
    ap.add_argument("--style", choices=("a", "b"), default="a",
                    help="a: the base population and rates; b: another population "
                         "(southern surnames, other given names), other rates and the "
                         "register phenomena lunar, default_date, gender_err, family, "
                         "twin_seq, twin_phone")
    ap.add_argument("--jitter", type=float, default=0.4,
                    help="per-department random factor on each rate, in [1-J, 1+J]")
    ap.add_argument("--params", help="write the rates used to this JSON file")
    ap.add_argument("--split", metavar="DEPT,DEPT",
                    help="for linkage of two files: these departments' records go to a "
                         "second file, OUT with .b before its extension (a.csv -> a.b.csv)")
    a = ap.parse_args()
    if a.split and a.out == "-":
        ap.error("--split needs a file name")

    b = a.style == "b"
    rates = dict((RATES_B if b else RATES)[a.kind])
    hard = dict((HARD_B if b else HARD)[a.kind])
    extra = dict((EXTRA_RATES_B if b else EXTRA_RATES)[a.kind])
    extra.update((EXTRA_HARD_B if b else EXTRA_HARD)[a.kind])
    for spec, tables in [(s, (rates, extra)) for s in a.rate] + [(s, (hard, extra)) for s in a.hard]:
        k, _, v = spec.partition("=")
        table = next((t for t in tables if k in t), None)
        if table is None:
            ap.error("unknown name %r (known: %s)" % (k, ", ".join(sorted(set().union(*tables)))))
        table[k] = float(v)
    g = Gen(a.kind, a.seed, rates, a.jitter, Divisions(DIVISIONS), hard, extra, a.style)
    fields, rows, n_entities = g.run(a.n)

    params = {"kind": a.kind, "seed": a.seed, "n": a.n, "style": a.style,
              "home_city": g.divs.name[g.home], "hard": g.hard, "extra": g.extra,
              "departments": {d[0]: {"feeds": d[1], "share": d[2], "date_format": d[3],
                                     "rates": {k: round(v, 4) for k, v in d[4].items()}}
                              for d in g.depts}}
    if a.params:
        with open(a.params, "w", encoding="utf-8") as f:
            f.write(json.dumps(params, ensure_ascii=False, indent=1) + "\n")
    print("gen: %d %s records, %d entities, home city %s" % (
        len(rows), a.kind, n_entities, params["home_city"]), file=sys.stderr)

    if a.split:
        split = set(a.split.split(","))
        known = {d[0] for d in g.depts}
        if not split <= known:
            ap.error("unknown department in --split (known: %s)" % ", ".join(sorted(known)))
        stem, dot, ext = a.out.rpartition(".")
        write(a.out, fields, [r for r in rows if r.split("\x1f", 2)[1] not in split])
        write(stem + ".b." + ext if dot else a.out + ".b", fields,
              [r for r in rows if r.split("\x1f", 2)[1] in split])
    else:
        write(a.out, fields, rows)


def write(out, fields, rows):
    f = sys.stdout if out == "-" else open(out, "w", encoding="utf-8", newline="")
    if out.endswith(".csv"):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(fields)
        for r in rows:
            w.writerow(r.split("\x1f"))
    else:
        for r in rows:
            f.write(json.dumps(dict(zip(fields, r.split("\x1f"))), ensure_ascii=False,
                               separators=(",", ":")) + "\n")
    if f is not sys.stdout:
        f.close()


if __name__ == "__main__":
    main()
