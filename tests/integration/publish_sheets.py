"""Writes the spreadsheets of a `sluice publish` test as departments make
them: .xlsx with openpyxl, CSV with the csv module in the encoding a
Chinese Excel saves ("CSV": GBK; "CSV UTF-8": UTF-8 with a byte order mark).

  publish_sheets.py SPEC.json

SPEC: {"files": [{"path": ..., "kind": "xlsx"|"csv", "encoding": "gbk"|
"utf-8-sig"|"utf-8", "sheet": "name", "header": [...], "rows": [[...]...],
"generate": {"n": N, "start": 1}}]}.  In rows, {"date": "2026-05-01"} and
{"datetime": "2026-05-01T08:00:00"} are real dates (an Excel date cell, a
number with a date style); generate makes N valid rows of its own."""

import csv
import datetime
import json
import sys

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "芳娜伟敏静丽强磊军洋勇艳杰娟涛明超秀英华"


def cell(v):
    if isinstance(v, dict) and "date" in v:
        return datetime.date.fromisoformat(v["date"])
    if isinstance(v, dict) and "datetime" in v:
        return datetime.datetime.fromisoformat(v["datetime"])
    return v


def generated(n, start):
    for i in range(start, start + n):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 20) % len(GIVEN)]
        yield ["B%06d" % i, name, "", {"date": "2026-%02d-%02d" % (i % 12 + 1, i % 28 + 1)},
               2500 + i % 2000, 45 + (i % 100) / 10, "2026-05-01 08:%02d:%02d" % (i // 60 % 60, i % 60)]


def as_text(v):
    if isinstance(v, dict):
        return (v.get("date") or v.get("datetime")).replace("T", " ")
    return "" if v is None else str(v)


def write(f):
    rows = f.get("rows") or []
    if "generate" in f:
        rows = generated(f["generate"]["n"], f["generate"].get("start", 1))
    if f["kind"] == "xlsx":
        import openpyxl
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet(f.get("sheet", "Sheet1"))
        ws.append(f["header"])
        for r in rows:
            ws.append([cell(v) for v in r])
        if f.get("extra_sheet"):
            wb.create_sheet(f["extra_sheet"]).append(["other"])
        wb.save(f["path"])
    else:
        with open(f["path"], "w", encoding=f["encoding"], newline="") as out:
            w = csv.writer(out)
            w.writerow(f["header"])
            for r in rows:
                w.writerow([as_text(v) for v in r])


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    for f in spec["files"]:
        write(f)


main()
