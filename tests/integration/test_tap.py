"""sluice tap: copies of the records leaving a stage of a running pipeline,
through the admin endpoint.  A tap after a masking sl.clean step shows the
masked values; rate, fields, where and limit shape what is printed; the token is
needed; an unknown stage is a usage error; at most four taps at once, and
a tap whose client left is detached; a tap ends (exit 0) when its limit is
reached or the pipeline stops."""

import json
import signal
import subprocess

import sluicetest as st

TOKEN = "tap-test-token-0123456789abcdef"
RAW_ID = "440402199001011234"
MASKED_ID = "440402********1234"

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "tap",
  sources = { sl.file.source { name = "in", path = "in.jsonl", follow = true,
                               poll_interval = "50ms" } },
  steps = {
    sl.clean { name = "mask", fields = { id_no = "mask_id" } },
    function (rec) rec.seen = true; return rec end,
  },
  sinks = { sl.file.sink { name = "out", path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def append(t, first, last):
    with open(t.path("in.jsonl"), "a") as f:
        for i in range(first, last + 1):
            f.write('{"id": %d, "name": "n%d", "id_no": "%s"}\n' % (i, i, RAW_ID))


def test(t):
    st.write_pipeline(t.dir, PIPELINE)
    open(t.path("in.jsonl"), "w").close()
    port = st.free_port()
    admin = "127.0.0.1:%d" % port
    env = {"SLUICE_ADMIN_TOKEN": TOKEN}
    run = t.start(args=["--admin", admin], env=env)
    status_url = "http://%s/status" % admin

    def status():
        code, body = http_get_token(status_url)
        return json.loads(body) if code == 200 else None

    st.wait_until(lambda: status_ok(status_url), 30, "the admin endpoint", abort=run.exited)
    taps = lambda: status()["taps"]
    steps = [s["name"] for s in status()["steps"]]
    st.assert_eq(steps, ["mask", "step.2"], "the steps /status lists")

    def tap(*args, token=True):
        cmd = [t.sluice, "tap", "--admin", admin] + list(args)
        e = dict(__import__("os").environ)
        e.pop("SLUICE_ADMIN_TOKEN", None)
        if token:
            e["SLUICE_ADMIN_TOKEN"] = TOKEN
        return subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    # Without the token: refused (exit 1), nothing attached.
    p = tap("--stage", "mask", token=False)
    out, err = p.communicate(timeout=30)
    st.assert_eq(p.returncode, 1, "exit code without the token")
    st.assert_true("401" in err, "the refusal says 401", err)

    # An unknown stage: a usage error that lists the stages.
    p = tap("--stage", "nope")
    out, err = p.communicate(timeout=30)
    st.assert_eq(p.returncode, 2, "exit code for an unknown stage")
    st.assert_true("in, mask, step.2, out" in err, "the stages are listed", err)

    # After the masking step: one record in ten, two fields, five lines.
    p = tap("--stage", "mask", "--rate", "0.1", "--fields", "id,id_no", "--limit", "5")
    st.wait_until(lambda: taps() == 1, 30, "the tap to be attached", abort=run.exited)
    append(t, 1, 200)
    out, err = p.communicate(timeout=60)
    st.assert_eq(p.returncode, 0, "exit code once the limit is reached")
    lines = [json.loads(line) for line in out.splitlines()]
    st.assert_eq(len(lines), 5, "lines printed with --limit 5")
    ids = [line["record"]["id"] for line in lines]
    st.assert_eq(len(set(ids)), 5, "five different records")
    for line in lines:
        st.assert_eq(line["stage"], "mask", "the stage of a line")
        st.assert_eq(sorted(line["record"]), ["id", "id_no"], "the fields of a line (--fields)")
        st.assert_eq(line["record"]["id_no"], MASKED_ID, "id_no after the masking step")
        st.assert_true(line["time"].endswith("Z"), "the time is RFC 3339 UTC", line["time"])
        st.assert_eq(line["origin"], t.path("in.jsonl"), "where the record came from")
        st.assert_true(isinstance(line["offset"], int), "its offset", line)
    st.assert_true(RAW_ID not in out, "the raw id_no never shows after the masking step", out)
    st.wait_until(lambda: taps() == 0, 30, "the tap to be detached after its limit")

    # A sink's tap sees what the sink is given: the step's output, masked.
    p = tap("--stage", "out", "--limit", "3", "--format", "pretty")
    # A where: only the records whose field holds the value (a number here,
    # a string below), the rate counting those only.
    w_num = tap("--stage", "in", "--where", "id=205", "--limit", "1")
    w_str = tap("--stage", "step.2", "--where", "name=n207", "--fields", "id", "--limit", "1")
    st.wait_until(lambda: taps() == 3, 30, "the sink's and the where taps to be attached",
                  abort=run.exited)
    append(t, 201, 210)
    for q, want in ((w_num, 205), (w_str, 207)):
        out, err = q.communicate(timeout=60)
        st.assert_eq(q.returncode, 0, "exit code of a where tap")
        st.assert_eq([json.loads(line)["record"]["id"] for line in out.splitlines()], [want],
                     "the record a where tap printed")
    out, err = p.communicate(timeout=60)
    st.assert_eq(p.returncode, 0, "exit code of the pretty tap")
    rows = out.splitlines()
    st.assert_eq(len(rows), 3, "pretty lines")
    for row in rows:
        when, stage, record = row.split("  ", 2)
        st.assert_eq(stage, "out", "the stage of a pretty line")
        rec = json.loads(record)
        st.assert_eq((rec["id_no"], rec["seen"]), (MASKED_ID, True), "what the sink is given")

    # At most four taps; the fifth is refused.  Taps whose clients left are
    # detached at once, with no record offered to them.
    four = [tap("--stage", "in") for _ in range(4)]
    st.wait_until(lambda: taps() == 4, 30, "four taps attached", abort=run.exited)
    p = tap("--stage", "in")
    out, err = p.communicate(timeout=30)
    st.assert_eq(p.returncode, 1, "exit code of a fifth tap")
    st.assert_true("at most 4 taps" in err, "the fifth tap is told why", err)
    for q in four:
        q.kill()
        q.wait()
    st.wait_until(lambda: taps() == 0, 30, "taps of clients that left to be detached",
                  abort=run.exited)
    append(t, 211, 220)
    out_lines = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out_lines.count() >= 220, 30, "records 211-220 written",
                  abort=run.exited)

    # A tap without a limit ends, exit 0, when the pipeline stops.
    p = tap("--stage", "in")
    st.wait_until(lambda: taps() == 1, 30, "the last tap attached", abort=run.exited)
    append(t, 221, 221)
    st.wait_until(lambda: out_lines.count() >= 221, 30, "record 221 written", abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "the pipeline's exit code")
    out, err = p.communicate(timeout=30)
    st.assert_eq(p.returncode, 0, "the tap's exit code when the pipeline stops")
    got = [json.loads(line) for line in out.splitlines()]
    st.assert_eq([(g["stage"], g["record"]["id"]) for g in got], [("in", 221)],
                 "the source tap's line: the record as read")
    st.assert_eq(got[0]["record"]["id_no"], RAW_ID, "a source's tap shows what it read")

    out_ids = [r["id"] for r in st.read_jsonl(t.path("out.jsonl"))[0]]
    st.assert_eq(out_ids, list(range(1, 222)), "every record reached the sink once")


def http_get_token(url):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + TOKEN})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def status_ok(url):
    try:
        return http_get_token(url)[0] == 200
    except OSError:
        return False


st.main(test)
