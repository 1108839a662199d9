"""The clean step's outcomes reach /metrics as
sluice_clean_outcomes_total{department,feed,field,rule,outcome}; with two
clean steps the family is exposed once (one HELP and TYPE, both stages'
series under it), and the whole page passes `promtool check metrics`."""

import signal

import sluicetest as st

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "clean-metrics",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  steps = { sl.clean { fields = { id_no = "cn_id" } }, sl.clean { fields = { other = "trim" } } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    with open(t.path("in.jsonl"), "w") as f:
        f.write('{"id_no": "11010519491231002X"}\n')   # valid
        f.write('{"id_no": "11010519491231002x"}\n')   # fixed: lowercase check character
        f.write('{"id_no": "110105194912310021"}\n')   # invalid: wrong check character
        f.write('{"other": 1}\n')                       # missing
    st.write_pipeline(t.dir, PIPELINE)
    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 4, 30, "4 output lines", abort=run.exited)
    url = "http://127.0.0.1:%d/metrics" % port
    base = 'sluice_clean_outcomes_total{pipeline="clean-metrics",stage="clean.1",department="",feed="",field="id_no",rule="*",outcome="%s"'
    for outcome, n in (("valid", 1), ("fixed", 1), ("invalid", 1), ("missing", 1)):
        st.wait_until(lambda: st.metric_value(st.http_get(url)[1], base % outcome) is not None, 30,
                      "the %s counter" % outcome)
        st.assert_eq(st.metric_value(st.http_get(url)[1], base % outcome), n, "%s outcomes" % outcome)
    text = st.http_get(url)[1]
    st.assert_eq(text.count("# TYPE sluice_clean_outcomes_total "), 1, "TYPE lines of the clean family")
    st.assert_true('stage="clean.2"' in text, "the second clean step's series", text[-400:])
    st.promtool_check_metrics(text)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")


st.main(test)
