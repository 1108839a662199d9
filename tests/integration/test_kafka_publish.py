"""`sluice publish` sends a department's spreadsheets to its feed's topic
as docs/publishing.md asks, and rejects what the platform would:

  - an .xlsx written by openpyxl (Chinese names, dates, numbers; a row the
    catalog's rules refuse, an empty row), CSV saved in GBK (detected with
    uchardet), in UTF-8 with and without a byte order mark, JSON Lines;
  - every valid row is one message: the business key as key, the row as a
    JSON object typed as the schema says (an int column is a number, a
    date cell an ISO date, a time without offset the catalog's +08:00),
    headers ce_specversion, ce_id, ce_source, ce_type, ce_time,
    content-type; a value the rules repair (a lowercase x) is sent repaired;
  - every invalid row is a line of <file>.rejects.jsonl with its line and
    reasons; the exit code is 1 when a row was rejected;
  - --dry-run sends nothing and exits 1 on an invalid row, 0 when all are
    valid;
  - running the same files again sends nothing twice."""

import os
import re

import kafkatest as kt
import publishtest as pt
import sluicetest as st

XLSX_ROWS = [
    ["B001", "王芳", "11010519491231002x", {"date": "1949-12-31"}, 3200, 50.5,
     {"datetime": "2026-05-01T08:00:00"}],
    ["B002", "李娜", None, {"date": "2024-02-29"}, 3100, 49, "2026-05-02T09:30:00+08:00"],
    ["B003", None, None, {"date": "2026-01-02"}, 3000, 50, None],
    [],
    ["B004", "张伟", "110105194912310021", {"date": "2026-01-15"}, "三千", 50, None],
    ["B005", "赵敏", None, {"date": "2026-03-01"}, 2800, 48.2, None],
]
CSV_ROWS = {
    "gbk.csv": ("gbk", [["C001", "欧阳娜娜", "", "2026-04-01", "3300", "51", "2026-05-01 08:00:00"],
                        ["C002", "司马懿", "", "2026-04-02", "3400", "52.5", "2026-05-01 09:00:00"],
                        ["C003", "诸葛亮", "110105194912310030", "2026-04-03", "3500", "53",
                         "2026-05-01T10:00:00+08:00"]]),
    "bom.csv": ("utf-8-sig", [["D001", "东方不败", "", "2026-04-04", "3000", "50", ""],
                              ["D002", "令狐冲", "", "2026-04-05", "3100", "50", ""]]),
    "plain.csv": ("utf-8", [["E001", "任盈盈", "", "2026-04-06", "3200", "50", ""]]),
}
JSONL = ('{"src_id":"F001","name":"钱七","weight":3000}\n'
         '{"src_id":"F002","name":"孙八","weight":"3000"}\n')
VALID = {"B001", "B002", "B005", "C001", "C002", "C003", "D001", "D002", "E001", "F001"}


def write_inputs(t):
    header = ["姓名 " if h == "姓名" else h for h in pt.HEADER]   # a stray space
    files = [{"path": t.path("births.xlsx"), "kind": "xlsx", "sheet": "出生登记", "extra_sheet": "说明",
              "header": header, "rows": XLSX_ROWS}]
    for name, (enc, rows) in CSV_ROWS.items():
        files.append({"path": t.path(name), "kind": "csv", "encoding": enc, "header": pt.HEADER,
                      "rows": rows})
    pt.write_sheets({"files": files}, t.path("sheets"))
    st.write_file(t.path("rows.jsonl"), JSONL)
    with open(t.path("gbk.csv"), "rb") as f:
        raw = f.read()
    st.assert_true(b"\xc5\xb7\xd1\xf4" in raw, "gbk.csv is GBK (欧阳 as C5 B7 D1 F4)", repr(raw[:80]))


def check_dry_runs(t, b, catalog, topic):
    code, out, _ = pt.publish(t, catalog, ["births.xlsx"], "--dry-run")
    st.assert_eq(code, 1, "exit code of --dry-run on a file with invalid rows")
    st.assert_eq(pt.summary_count(out, "rejected"), 2, "rows --dry-run rejects in births.xlsx")
    code, out, err = pt.publish(t, catalog, ["gbk.csv"], "--dry-run")
    st.assert_eq(code, 0, "exit code of --dry-run on a valid file")
    st.assert_true("reading gbk.csv as GB18030 (detected by uchardet; --encoding to override)" in err,
                   "the encoding chosen is reported", err)
    code, _, err = pt.publish(t, catalog, ["births.xlsx"], "--dry-run", "--progress")
    st.assert_true("\r[" in err and "5 rows" in err, "--progress draws a bar on stderr", err)
    code, out, err = pt.publish(t, catalog, ["gbk.csv"], "--dry-run", "--encoding", "gbk")
    st.assert_eq(code, 0, "exit code of --dry-run --encoding gbk")
    st.assert_true("reading gbk.csv as GBK (--encoding)" in err, "--encoding overrides detection", err)
    code, _, err = pt.publish(t, catalog, ["gbk.csv"], "--dry-run", "--encoding", "utf-8")
    st.assert_eq(code, 2, "exit code of --encoding utf-8 on a GBK file")
    st.assert_true("gbk.csv: not valid UTF-8 at byte" in err, "where the file stops being UTF-8", err)
    # (Asking creates the topic: the publish that follows meets a topic whose
    # partitions may not have a leader yet, as a department's new topic may.)
    st.assert_eq(kt.count(b, topic), 0, "messages on the topic after dry runs (nothing sent)")


def check_messages(b, topic):
    msgs = kt.consume_json(b, topic)
    keys = sorted(k for _, k, _ in msgs)
    st.assert_eq(keys, sorted(VALID), "keys on the topic (each valid row once)")
    ids = [h.get("ce_id") for h, _, _ in msgs]
    st.assert_eq(len(set(ids)), len(ids), "distinct ce_ids")
    for h, k, v in msgs:
        st.assert_true(re.fullmatch(r"pub-[0-9a-f]{32}", h.get("ce_id", "")), "ce_id of %s" % k, h)
        for name, want in (("ce_specversion", "1.0"), ("ce_source", "卫健"), ("ce_type", "出生登记.v1"),
                           ("content-type", "application/json")):
            st.assert_eq(h.get(name), want, "header %s of %s" % (name, k))
        st.assert_eq(v["src_id"], k, "the key is the business key (src_id) of %s" % k)
    by_key = {k: (h, v) for h, k, v in msgs}
    h, v = by_key["B001"]
    st.assert_eq(v, {"src_id": "B001", "name": "王芳", "id_no": "11010519491231002X", "birth": "1949-12-31",
                     "weight": 3200, "height": 50.5, "updated_at": "2026-05-01T08:00:00+08:00"},
                 "B001 from the .xlsx (date cell, time without offset, ID repaired)")
    st.assert_eq(h["ce_time"], "2026-05-01T08:00:00+08:00", "ce_time of B001 (its updated_at)")
    st.assert_eq(by_key["B002"][1]["birth"], "2024-02-29", "a leap day from an Excel date cell")
    st.assert_eq(by_key["C001"][1]["name"], "欧阳娜娜", "a name read from the GBK file")
    st.assert_eq(by_key["C002"][1]["height"], 52.5, "a number column of the GBK file")
    st.assert_eq(by_key["C002"][1]["updated_at"], "2026-05-01T09:00:00+08:00", "a CSV time takes +08:00")
    st.assert_eq(by_key["D001"][1]["name"], "东方不败", "a name read from the UTF-8 file with a BOM")
    st.assert_eq(by_key["E001"][1]["name"], "任盈盈", "a name read from the UTF-8 file without one")
    st.assert_eq(by_key["F001"][1], {"src_id": "F001", "name": "钱七", "weight": 3000}, "F001 from JSON Lines")
    return ids


def check_rejects(t):
    rej = pt.read_rejects(t.path("births.xlsx.rejects.jsonl"))
    st.assert_eq([r["line"] for r in rej], [4, 6], "sheet rows of the rejected rows")
    st.assert_eq([e["field"] for e in rej[0]["errors"]], ["name"], "what is wrong with row 4")
    st.assert_eq(rej[0]["errors"][0]["reason"], "missing", "why row 4 is rejected")
    fields = sorted((e["field"], e.get("rule")) for e in rej[1]["errors"])
    st.assert_eq(fields, [("id_no", "cn_id"), ("weight", "type")], "what is wrong with row 6")
    st.assert_eq(rej[1]["record"]["src_id"], "B004", "the rejected row as read")
    st.assert_eq(rej[1]["file"], "births.xlsx", "the file of a rejected row")
    rej = pt.read_rejects(t.path("rows.jsonl.rejects.jsonl"))
    st.assert_eq([(r["line"], r["raw"]) for r in rej], [(2, '{"src_id":"F002","name":"孙八","weight":"3000"}')],
                 "the rejected JSON line, as sent")
    st.assert_true(not os.path.exists(t.path("gbk.csv.rejects.jsonl")), "no rejects file for a clean file")


def test(t):
    b = kt.bootstrap()
    os.environ["SLUICE_KAFKA_BOOTSTRAP"] = b
    topic = kt.unique("publish") + ".v1"
    catalog = pt.write_catalog(t, topic)
    write_inputs(t)
    check_dry_runs(t, b, catalog, topic)

    files = ["births.xlsx", "gbk.csv", "bom.csv", "plain.csv", "rows.jsonl"]
    code, out, err = pt.publish(t, catalog, files)
    st.assert_eq(code, 1, "exit code when some rows are rejected")
    st.assert_true("reading bom.csv as UTF-8 with a byte order mark (detected" in err, "BOM reported", err)
    st.assert_true("reading births.xlsx from sheet '出生登记'" in err, "the sheet read", err)
    published = sum(int(l.split()[1]) for l in out.splitlines() if l.split()[:1] == ["published"])
    st.assert_eq(published, len(VALID), "rows published, by the summaries")
    ids = check_messages(b, topic)
    check_rejects(t)

    code, out, _ = pt.publish(t, catalog, files)
    st.assert_eq(code, 1, "exit code of the second run (the same rows are rejected)")
    skipped = sum(int(l.split()[1]) for l in out.splitlines() if l.split()[:1] == ["skipped"])
    st.assert_eq(skipped, len(VALID), "rows the second run skips as already published")
    st.assert_eq(kt.count(b, topic), len(ids), "messages on the topic after the second run")


if __name__ == "__main__":
    st.main(test)
