"""The demo pipeline (pipelines/residents-clean.lua, what scripts/demo runs)
end to end on a small input: clean records reach residents.jsonl cleansed,
the open-data CSV carries masked ID numbers and no phone, and records
without a valid name or ID number are dead-lettered with the reason."""

import csv
import json
import os

import sluicetest as st

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INPUT = [
    {"id": 1, "name": " 王\u3000芳 ", "dept": "hr", "id_no": "11010519491231002x",
     "phone": "138 1234 5678", "birth": "1949/12/31"},                  # repaired
    {"id": 2, "name": "張偉", "dept": "market", "id_no": "110105491231002",
     "phone": "12", "birth": "19491231"},                               # 15 digits, bad phone
    {"id": 3, "name": "", "dept": "hr", "id_no": "11010519491231002X"},  # no name
    {"id": 4, "name": "李娜", "dept": "hr", "id_no": "110105194912310021"},  # bad check char
    {"id": 5, "name": "TEST record", "dept": "qa", "id_no": "11010519491231002X"},  # dropped
]


def test(t):
    with open(t.path("in.jsonl"), "w") as f:
        for rec in INPUT:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    out = t.path("out")
    os.makedirs(out)
    run = t.start(pipeline=os.path.join(REPO, "pipelines", "residents-clean.lua"),
                  env={"SLUICE_DEMO_IN": t.path("in.jsonl"), "SLUICE_DEMO_OUT": out})
    st.assert_eq(run.wait(60), 0, "exit code")

    residents, torn = st.read_jsonl(os.path.join(out, "residents.jsonl"))
    st.assert_no_torn(torn, "residents.jsonl")
    st.assert_eq([r["id"] for r in residents], [1, 2], "ids in residents.jsonl")
    st.assert_eq(residents[0]["name"], "王芳", "name trimmed; no space kept between two Han characters")
    st.assert_eq(residents[0]["id_no"], "11010519491231002X", "lowercase check character fixed")
    st.assert_eq(residents[0]["phone"], "+8613812345678", "phone to E.164")
    st.assert_eq(residents[0]["birth"], "1949-12-31", "date to ISO 8601")
    st.assert_eq(residents[1]["name"], "张伟", "Traditional to Simplified")
    st.assert_eq(residents[1]["id_no"], "11010519491231002X", "15 digits upgraded to 18")
    st.assert_eq(residents[1].get("phone"), None, "an invalid phone set to null")

    with open(os.path.join(out, "open-residents.csv"), newline="") as f:
        rows = list(csv.reader(f))
    st.assert_eq(rows[0], ["id", "name", "id_no", "dept"], "CSV header")
    st.assert_eq([r[2] for r in rows[1:]], ["110105********002X"] * 2, "masked ID numbers")

    dead, torn = st.read_jsonl(os.path.join(out, "dlq.jsonl"))
    st.assert_no_torn(torn, "dlq.jsonl")
    st.assert_eq([d["source"]["line"] for d in dead], [3, 4], "dead-lettered lines")
    st.assert_true("name: missing (required)" in dead[0]["error"], "reason for line 3", dead[0]["error"])
    st.assert_true("id_no (cn_id)" in dead[1]["error"], "reason for line 4", dead[1]["error"])


st.main(test)
