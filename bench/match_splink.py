#!/usr/bin/env python3
"""Splink baseline on the synthetic Chinese data of tests/match/gen.py.

    match_splink.py residents|companies DATA.csv [--out PRED.jsonl]
                    [--threads 1] [--threshold 0.99]

Runs Splink (DuckDB backend) as a careful user would on this data, end to
end, and scores the result against the truth column with
tests/match/score.py:

  preprocessing  NFKC (full-width -> half-width), spaces removed,
                 Traditional -> Simplified (OpenCC when installed, else the
                 generator's own table), pinyin of names (pypinyin), old
                 15-digit resident IDs widened to 18 and compared without the
                 check character, the organisation code taken out of credit
                 codes and taxpayer numbers, dates in any of the generator's
                 formats parsed to ISO, phones reduced to digits, addresses
                 split at the county (division table data/cn_divisions.tsv),
                 company names without division prefix and legal form;
  model          comparisons with exact, pinyin, Damerau-Levenshtein,
                 Jaro-Winkler and day/month-swapped levels, term-frequency
                 adjustment on names and phones; u by random sampling, the
                 prior from a deterministic rule, m by EM on several blocks;
  prediction     blocking on ID, name + birth date, phone, name + county ...,
                 clustering at match probability 0.99.

Prints the wall time of each phase and of the whole, and pairwise
precision, recall and F1.  The bench's Python is not the product: this is
what sluice's match step is compared with.  Needs, in a venv:
pip install splink pypinyin opencc-python-reimplemented
"""

import argparse
import csv
import functools
import json
import os
import re
import sys
import tempfile
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "match"))
import gen    # noqa: E402  (the S2T table, check characters)
import score  # noqa: E402

import duckdb  # noqa: E402
import splink.comparison_library as cl  # noqa: E402
from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: E402

try:
    from pypinyin import lazy_pinyin
except ImportError:          # pinyin levels then compare the characters
    def lazy_pinyin(s):
        return list(s)
try:
    import opencc
    _T2S = opencc.OpenCC("t2s")

    def t2s(s):
        return _T2S.convert(s)
except ImportError:
    _T2S_TABLE = str.maketrans({t: s for s, t in gen.S2T.items() if s != t})

    def t2s(s):
        return s.translate(_T2S_TABLE)

COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容",
                     "令狐", "夏侯", "端木", "长孙", "宇文", "司徒", "西门")
LEGAL_FORMS = re.compile("(集团)?(股份)?有限(责任)?公司|(有限)?合伙企业|集团")
SPACE = re.compile(r"\s+")
BRACKET = re.compile(r"\(([^()]*)\)")
DATE = re.compile(r"(\d{4})\D?(\d{1,2})\D?(\d{1,2})")


@functools.lru_cache(maxsize=None)
def norm(s):
    """Full-width to half-width, no spaces, Simplified."""
    return t2s(SPACE.sub("", unicodedata.normalize("NFKC", s or "")))


@functools.lru_cache(maxsize=None)
def pinyin(s):
    return "".join(lazy_pinyin(s)) if s else ""


def split_name(name):
    n = 2 if name[:2] in COMPOUND_SURNAMES else 1
    return name[:n], name[n:]


def iso_date(s):
    m = DATE.search(unicodedata.normalize("NFKC", s or ""))
    if not m:
        return ""
    y, mo, d = (int(x) for x in m.groups())
    return "%04d-%02d-%02d" % (y, mo, d) if 1 <= mo <= 12 and 1 <= d <= 31 else ""


def resident_id17(s):
    """The first 17 digits of an 18-digit ID (a 15-digit one widened); the
    check character is left out because feeds get it wrong."""
    s = norm(s).upper()
    if len(s) == 15 and s.isdigit():
        return s[:6] + "19" + s[6:]
    if len(s) == 18 and s[:17].isdigit():
        return s[:17]
    return ""


def org_code(s):
    """The 9-character organisation code inside a credit code (18) or a
    taxpayer number (15)."""
    s = norm(s).upper()
    if len(s) == 18:
        return s[8:17]
    if len(s) == 15:
        return s[6:15]
    return ""


def phone(s):
    d = re.sub(r"\D", "", unicodedata.normalize("NFKC", s or ""))
    if d.startswith("86") and len(d) == 13:
        d = d[2:]
    return d


class Places:
    """Division names: the county an address names, and the prefixes of a
    company name."""

    def __init__(self):
        self.counties, self.prefixes = set(), set()
        with open(os.path.join(ROOT, "data", "cn_divisions.tsv"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                code, name, short = (line.rstrip("\n").split("\t") + [""])[:3]
                self.prefixes.update(x for x in (name, short) if len(x) >= 2)
                if not code.endswith("00"):
                    self.counties.add(name)

    def address(self, a):
        """(county, the rest): the first county name the address holds."""
        a = norm(a)
        for end in range(2, min(len(a), 24) + 1):
            if a[end - 1] not in "区县市旗":
                continue
            for start in range(max(0, end - 14), end - 1):
                if a[start:end] in self.counties:
                    return a[start:end], a[end:]
        return "", a

    def company_core(self, name):
        """The trade name and industry: no division prefix, no bracketed
        place, no legal form; a branch keeps its 分公司 and place."""
        n = BRACKET.sub(lambda m: "" if m.group(1) in self.prefixes else m.group(0), norm(name))
        stripped = True
        while stripped:
            stripped = False
            for k in range(min(9, len(n) - 2), 1, -1):
                if n[:k] in self.prefixes:
                    n, stripped = n[k:], True
                    break
        return LEGAL_FORMS.sub("", n)


def preprocess(kind, path, out):
    places = Places()
    with open(path, encoding="utf-8", newline="") as f, open(out, "w", encoding="utf-8", newline="") as o:
        w = None
        for r in csv.DictReader(f):
            county, rest = places.address(r["addr"])
            if kind == "residents":
                name = norm(r["name"])
                sur, given = split_name(name)
                id17 = resident_id17(r["id_no"])
                dob = iso_date(r["birth"])
                if not dob and id17:
                    dob = "%s-%s-%s" % (id17[6:10], id17[10:12], id17[12:14])
                g = norm(r["gender"])
                row = {"unique_id": r["id"], "name": name, "name_py": pinyin(name),
                       "surname_py": pinyin(sur), "given": given, "id17": id17, "dob": dob,
                       "birth_year": dob[:4], "gender": {"男": "1", "女": "2"}.get(g, g),
                       "phone": phone(r["phone"]), "county": county, "addr_rest": rest}
            else:
                name = norm(r["name"])
                rep = norm(r["legal_rep"])
                row = {"unique_id": r["id"], "name": name, "name_core": places.company_core(name),
                       "org": org_code(r["uscc"]), "rep": rep, "rep_py": pinyin(rep),
                       "phone": phone(r["phone"]), "county": county, "addr_rest": rest,
                       "est": iso_date(r["est_date"])}
            if w is None:
                w = csv.DictWriter(o, fieldnames=list(row), lineterminator="\n")
                w.writeheader()
            w.writerow({k: v for k, v in row.items()})


# ------------------------------------------------------------------ model

def null(col):
    return {"sql_condition": '"%s_l" IS NULL OR "%s_r" IS NULL' % (col, col),
            "label_for_charts": "null", "is_null_level": True}


def level(sql, label, tf=None):
    d = {"sql_condition": sql, "label_for_charts": label}
    if tf:
        d.update(tf_adjustment_column=tf, tf_adjustment_weight=1.0)
    return d


ELSE = {"sql_condition": "ELSE", "label_for_charts": "else"}


def exact(col, tf=False):
    return level('"%s_l" = "%s_r"' % (col, col), "exact " + col, col if tf else None)


def date_comparison(col):
    swapped = ('substr({c}_l,1,4) = substr({c}_r,1,4) AND substr({c}_l,6,2) = substr({c}_r,9,2) '
               'AND substr({c}_l,9,2) = substr({c}_r,6,2)').format(c=col)
    return cl.CustomComparison(output_column_name=col, comparison_levels=[
        null(col), exact(col), level(swapped, "day and month swapped"),
        level("damerau_levenshtein(%s_l, %s_r) <= 1" % (col, col), "one digit"),
        level("substr(%s_l,1,4) = substr(%s_r,1,4)" % (col, col), "same year"), ELSE])


def address_comparison():
    return cl.CustomComparison(output_column_name="address", comparison_levels=[
        {"sql_condition": "addr_rest_l IS NULL OR addr_rest_r IS NULL", "label_for_charts": "null",
         "is_null_level": True},
        level("addr_rest_l = addr_rest_r AND county_l = county_r", "exact", "addr_rest"),
        level("addr_rest_l = addr_rest_r", "street exact"),
        level("jaro_winkler_similarity(addr_rest_l, addr_rest_r) >= 0.9", "street jw >= 0.9"),
        level("county_l = county_r", "same county"), ELSE])


def phone_comparison():
    return cl.CustomComparison(output_column_name="phone", comparison_levels=[
        null("phone"), exact("phone", tf=True),
        level("damerau_levenshtein(phone_l, phone_r) <= 1", "one digit"), ELSE])


def residents_settings():
    name = cl.CustomComparison(output_column_name="name", comparison_levels=[
        null("name"), exact("name", tf=True),
        level("name_py_l = name_py_r", "same pinyin (homophones)", "name_py"),
        level("surname_py_l = surname_py_r AND damerau_levenshtein(name_l, name_r) <= 1",
              "surname, one character"),
        level("surname_py_l = surname_py_r", "same surname"), ELSE])
    ident = cl.CustomComparison(output_column_name="id17", comparison_levels=[
        null("id17"), exact("id17"),
        level("damerau_levenshtein(id17_l, id17_r) <= 1", "one digit or a swap"), ELSE])
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[name, ident, date_comparison("dob"), cl.ExactMatch("gender"),
                     phone_comparison(), address_comparison()],
        blocking_rules_to_generate_predictions=[
            block_on("id17"),
            block_on("surname_py", "dob"),
            block_on("name_py", "birth_year"),
            block_on("phone"),
            block_on("name", "county"),
            block_on("addr_rest", "surname_py"),
        ],
        retain_intermediate_calculation_columns=False,
    ), {
        "prior": ["l.id17 = r.id17 AND l.dob = r.dob"],
        "em": [block_on("id17"), block_on("dob"), block_on("name"), block_on("phone")],
    }


def companies_settings():
    name = cl.CustomComparison(output_column_name="name", comparison_levels=[
        null("name_core"), exact("name", tf=True),
        level("name_core_l = name_core_r", "same core name", "name_core"),
        level("jaro_winkler_similarity(name_core_l, name_core_r) >= 0.92", "core jw >= 0.92"),
        level("jaro_winkler_similarity(name_core_l, name_core_r) >= 0.8", "core jw >= 0.8"), ELSE])
    org = cl.CustomComparison(output_column_name="org", comparison_levels=[
        null("org"), exact("org"),
        level("damerau_levenshtein(org_l, org_r) <= 1", "one character"), ELSE])
    rep = cl.CustomComparison(output_column_name="rep", comparison_levels=[
        null("rep"), exact("rep", tf=True), level("rep_py_l = rep_py_r", "same pinyin"),
        level("damerau_levenshtein(rep_l, rep_r) <= 1", "one character"), ELSE])
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[name, org, rep, phone_comparison(), address_comparison(),
                     date_comparison("est")],
        blocking_rules_to_generate_predictions=[
            block_on("org"),
            block_on("name_core"),
            block_on("phone"),
            block_on("addr_rest"),
            block_on("rep", "county"),
        ],
        retain_intermediate_calculation_columns=False,
    ), {
        "prior": ["l.org = r.org AND l.name_core = r.name_core"],
        "em": [block_on("org"), block_on("name_core"), block_on("phone"), block_on("rep")],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("residents", "companies"))
    ap.add_argument("data", help="the generator's CSV (with the truth column)")
    ap.add_argument("--out", help="write the predicted entities here as JSON Lines")
    ap.add_argument("--threads", type=int, default=1, help="DuckDB threads")
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()

    times = {}
    t0 = t = time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        times[name] = now - t
        t = now

    tmp = tempfile.mkdtemp(prefix="match_splink.")
    pre = os.path.join(tmp, "pre.csv")
    preprocess(a.kind, a.data, pre)
    lap("preprocess")

    con = duckdb.connect()
    con.execute("SET threads = %d" % a.threads)
    con.execute("CREATE TABLE records AS SELECT * FROM read_csv('%s', all_varchar = true, header = true)" % pre)
    cols = [r[0] for r in con.execute("DESCRIBE records").fetchall()]
    # Empty strings are missing values, which Splink reads as NULL.
    con.execute("UPDATE records SET " + ", ".join('"%s" = NULLIF("%s", \'\')' % (c, c) for c in cols))
    db = DuckDBAPI(connection=con)
    df = db.register("records")
    settings, training = residents_settings() if a.kind == "residents" else companies_settings()
    linker = Linker(df, settings, log_level=None)
    lap("load")

    linker.training.estimate_probability_two_random_records_match(training["prior"], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    lap("train_u")
    for rule in training["em"]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    lap("train")

    pred = linker.inference.predict(threshold_match_probability=0.5)
    lap("predict")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, a.threshold)
    assignment = {str(u): str(c) for u, c in
                  con.execute("SELECT unique_id, cluster_id FROM %s" % clusters.physical_name).fetchall()}
    lap("cluster")
    total = time.perf_counter() - t0

    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            for u, c in assignment.items():
                f.write(json.dumps({"id": u, "entity": c}) + "\n")
    s = score.score(score.read_assignment(a.data, "entity"), assignment)
    import splink
    if a.json:
        print(json.dumps({"splink": splink.__version__, "threads": a.threads, "seconds": total,
                          "phases": times, **s}))
        return
    print("splink %s, duckdb %s, %d thread(s), %s, %d records" % (
        splink.__version__, duckdb.__version__, a.threads, a.kind, s["records"]))
    print("wall time          %.1f s (%s)" % (total, ", ".join("%s %.1f" % kv for kv in times.items())))
    score.report(s)


if __name__ == "__main__":
    main()
