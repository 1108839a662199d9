"""What sluice tap never shows: a field marked `sensitive` in a catalog a
step of the pipeline uses shows as "***" at every stage, before the
cleaning step too, and a value read with sl.env shows as <from env NAME>."""

import json
import signal
import subprocess

import sluicetest as st

SECRET = "s3cret-canary-value-4711"
RAW_ID = "11010519491231002X"

CATALOG = """local sl = require "sluice"
return sl.catalog {
  timezone = "+08:00",
  departments = {
    sl.department { id = "health", name = "卫健委", feeds = {
      sl.feed { name = "births", key = "src_id",
                fields = { src_id = { type = "string", required = true },
                           id_no = { type = "string", rule = "cn_id", sensitive = true } } } } },
  },
}
"""

PIPELINE = """local sl = require "sluice"
local catalog = require "catalog"
local secret = sl.env("TAP_SECRET")
return sl.pipeline {
  name = "tap-sensitive",
  sources = { sl.file.source { name = "in", path = "in.jsonl", follow = true, poll_interval = "50ms",
                               department = "health", feed = "births" } },
  steps = {
    sl.clean { name = "clean", catalog = catalog },
    function (rec) rec.token = secret; return rec end,
  },
  sinks = { sl.file.sink { name = "out", path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def test(t):
    st.write_file(t.path("catalog.lua"), CATALOG)
    st.write_pipeline(t.dir, PIPELINE)
    open(t.path("in.jsonl"), "w").close()
    port = st.free_port()
    admin = "127.0.0.1:%d" % port
    run = t.start(args=["--admin", admin], env={"TAP_SECRET": SECRET})
    st.wait_until(lambda: st.http_answers("http://%s/ready" % admin), 30, "ready",
                  abort=run.exited)
    taps = lambda: json.loads(st.http_get("http://%s/status" % admin)[1])["taps"]

    procs = {stage: subprocess.Popen([t.sluice, "tap", "--admin", admin, "--stage", stage,
                                      "--limit", "2"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
             for stage in ("in", "clean", "out")}
    st.wait_until(lambda: taps() == 3, 30, "three taps attached", abort=run.exited)
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, 3):
            f.write('{"src_id": "b%d", "id_no": "%s"}\n' % (i, RAW_ID))

    for stage, p in procs.items():
        out, err = p.communicate(timeout=60)
        st.assert_eq(p.returncode, 0, "exit code of the %s tap" % stage)
        lines = [json.loads(line) for line in out.splitlines()]
        st.assert_eq(len(lines), 2, "lines of the %s tap" % stage)
        for line in lines:
            st.assert_eq(line["record"]["id_no"], "***", "id_no at %s (sensitive in the catalog)" % stage)
        st.assert_true(RAW_ID not in out, "the raw id_no never shows at %s" % stage, out)
        if stage == "out":
            st.assert_eq(lines[0]["record"]["token"], "<from env TAP_SECRET>",
                         "a value read with sl.env")
        st.assert_true(SECRET not in out, "the secret never shows at %s" % stage, out)

    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 2, 30, "the records written", abort=run.exited)
    written = st.read_jsonl(t.path("out.jsonl"))[0]
    st.assert_eq(written[0]["id_no"], RAW_ID, "the sink still gets the value itself")
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")


st.main(test)
