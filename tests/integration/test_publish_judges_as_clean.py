"""`sluice publish --dry-run` rejects exactly the rows that the platform's
sl.clean { catalog = } sends to the dead-letter sink, with the same reason:
both run the clean library's field set (plugins/clean/lib/fieldset.c).

The rows are JSON Lines (sent with their own types, as a department's
messages are): required fields missing or empty, wrong types, values a rule
refuses, values a rule repairs, a time that is not RFC 3339."""

import json

import publishtest as pt
import sluicetest as st

ROWS = [
    {"src_id": "1", "name": "王芳", "id_no": "11010519491231002X", "weight": 3200},
    {"src_id": "2", "name": "李娜", "id_no": "11010519491231002x"},             # repaired: valid
    {"src_id": "3", "id_no": "110105194912310021"},                           # no name, bad check digit
    {"src_id": "4", "name": "", "weight": 3000},                              # empty required
    {"src_id": "5", "name": "张伟", "weight": "3000"},                         # wrong type
    {"src_id": "6", "name": "赵敏", "height": "tall"},                         # wrong type (number)
    {"src_id": "7", "name": "钱七", "updated_at": "2026-05-01 08:00"},         # no offset: not RFC 3339
    {"src_id": "8", "name": "孙八", "updated_at": "2026-05-01T08:00:00+08:00", "height": 50.5},
    {"src_id": "9", "name": {"first": "x"}},                                  # an object for a string
    {"name": "周九"},                                                          # no src_id
]

PIPELINE = """local sl = require "sluice"
local catalog = require "catalog"
return sl.pipeline {
  name    = "judges-as-clean",
  sources = { sl.file.source { path = "rows.jsonl", department = "卫健", feed = "出生登记" } },
  steps   = { sl.clean { catalog = catalog } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    catalog = pt.write_catalog(t, "judges.v1")
    st.write_file(t.path("rows.jsonl"), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS))
    st.write_pipeline(t.dir, PIPELINE)
    run = t.start()
    st.assert_eq(run.wait(60), 0, "exit code of the sl.clean pipeline")
    dead = {json.loads(r["raw"]).get("src_id"): r["error"] for r in st.read_jsonl(t.path("dlq.jsonl"))[0]}

    code, out, _ = pt.publish(t, catalog, ["rows.jsonl"], "--dry-run", "--rejects", "rejects.jsonl")
    st.assert_eq(code, 1, "exit code of publish --dry-run")
    rejected = {json.loads(r["raw"]).get("src_id"): r["reason"] for r in pt.read_rejects(t.path("rejects.jsonl"))}

    st.assert_eq(sorted(rejected, key=str), sorted(dead, key=str), "rows rejected by publish and by sl.clean")
    for k in dead:
        st.assert_eq(rejected[k], dead[k], "the reason for row %s" % k)
    st.assert_eq(sorted(dead, key=str), sorted(["3", "4", "5", "6", "7", "9", None], key=str),
                 "the rows both reject")


if __name__ == "__main__":
    st.main(test)
