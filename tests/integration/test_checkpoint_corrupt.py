"""A file.source checkpoint that cannot be used (garbage, empty, wrong types,
another file's inode, an offset past the end or inside a line) stops the
start: exit 3, a message naming the checkpoint file, what is wrong and how to
recover, and nothing read or written.  It used to warn and read the file
again from byte 0 (or, inside a line, send a fragment to the dead-letter
sink).  --reset-checkpoint SOURCE moves the file aside and starts over."""

import json
import os

import sluicetest as st

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name    = "cp",
  sources = { sl.file.source { path = "in.jsonl", name = "src" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""

CSV_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name    = "cpcsv",
  sources = { sl.file.source { path = "in.csv", format = "csv", name = "src" } },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""

N = 10


def run(t, *args, pipeline="pipeline.lua"):
    r = t.start(pipeline, args=("--log-format", "text") + args)
    code = r.wait(60)
    return code, r.stderr_text()


def test(t):
    with open(t.path("in.jsonl"), "w") as f:
        for i in range(1, N + 1):
            f.write('{"id":%d}\n' % i)
    size = os.path.getsize(t.path("in.jsonl"))
    s = os.stat(t.path("in.jsonl"))
    st.write_pipeline(t.dir, PIPELINE)
    code, err = run(t)
    st.assert_eq(code, 0, "exit code of the first run")
    cp_path = t.path("state", "cp", "src.json")
    with open(cp_path) as f:
        good = json.load(f)
    st.assert_eq(good["offset"], size, "checkpoint offset after the first run")

    def cp(**over):
        c = {"path": t.path("in.jsonl"), "dev": s.st_dev, "ino": s.st_ino, "offset": 9, "line": 1}
        c.update(over)
        return json.dumps(c)

    cases = [
        ("garbage", "this is not JSON {", "it is not JSON"),
        ("empty", "", "it is empty"),
        ("an array", "[1,2]", "it is a JSON array, not an object"),
        ("a string offset", cp(offset="9"), '"offset" must be a whole number >= 0, got string'),
        ("a negative offset", cp(offset=-9), '"offset" must be a whole number >= 0, got a negative one'),
        ("a missing inode", json.dumps({"path": "x", "dev": s.st_dev, "offset": 9, "line": 1}),
         '"ino" must be a whole number >= 0, got nothing'),
        ("a numeric path", cp(path=7), '"path" must be a string'),
        ("another file's inode", cp(ino=s.st_ino + 1),
         "it is for another file (device %d, inode %d)" % (s.st_dev, s.st_ino + 1)),
        ("an offset past the end", cp(offset=size + 10),
         "offset %d is past the end of" % (size + 10)),
        ("an offset inside a line", cp(offset=12), "offset 12 of %s is inside a line" % t.path("in.jsonl")),
        ("a line past the offset", cp(offset=9, line=50), "line 50 cannot come after offset 9"),
    ]
    st.check_refusals(t, cp_path, cases, "src", lambda: (st.count_lines(t.path("out.jsonl")),
                                                        st.count_lines(t.path("dlq.jsonl"))))

    # Valid positions are still taken: at a line start, and at the end.
    with open(cp_path, "w") as f:
        f.write(cp(offset=9 * 8, line=8))   # lines 1-9 are 8 bytes each
    code, err = run(t)
    st.assert_eq(code, 0, "exit code resuming at a line start")
    st.assert_eq(st.count_lines(t.path("out.jsonl")), N + 2, "output lines after resuming at line 9")

    # An unknown source name is a usage error.
    code, err = run(t, "--reset-checkpoint", "nope")
    st.assert_eq(code, 2, "exit code of --reset-checkpoint with an unknown source")
    want = "--reset-checkpoint nope: the pipeline has no source of that name (sources: src)"
    st.assert_true(want in err, "stderr names the unknown source", "expected %r in:\n%s" % (want, err[-2000:]))

    # --reset-checkpoint: the bad file is moved aside, the source starts over.
    with open(cp_path, "w") as f:
        f.write("garbage")
    before = st.count_lines(t.path("out.jsonl"))
    code, err = run(t, "--reset-checkpoint", "src")
    st.assert_eq(code, 0, "exit code with --reset-checkpoint src")
    st.assert_eq(st.count_lines(t.path("out.jsonl")), before + N, "output lines after the reset run")
    with open(cp_path + ".before-reset") as f:
        st.assert_eq(f.read(), "garbage", "the checkpoint moved aside")
    with open(cp_path) as f:
        st.assert_eq(json.load(f)["offset"], size, "the new checkpoint's offset")
    want = "--reset-checkpoint: moved %s to %s.before-reset; reading from the start" % (cp_path, cp_path)
    st.assert_true(want in err, "stderr says what the reset did", "expected %r in:\n%s" % (want, err[-2000:]))

    # CSV: an offset inside the header row (just after its newline is fine).
    header = "id,name\n"
    with open(t.path("in.csv"), "w") as f:
        f.write("\n" + header + "1,a\n2,b\n")
    st.write_pipeline(t.dir, CSV_PIPELINE, "csv.lua")
    c = os.stat(t.path("in.csv"))
    csv_cp = t.path("state", "cpcsv", "src.json")
    os.makedirs(os.path.dirname(csv_cp), exist_ok=True)
    with open(csv_cp, "w") as f:
        f.write(json.dumps({"path": "in.csv", "dev": c.st_dev, "ino": c.st_ino, "offset": 1, "line": 1}))
    code, err = run(t, pipeline="csv.lua")
    st.assert_eq(code, 3, "exit code with a CSV offset inside the header row")
    want = "offset 1 of %s is inside its CSV header row" % t.path("in.csv")
    st.assert_true(want in err, "stderr names the CSV problem", "expected %r in:\n%s" % (want, err[-2000:]))
    # Just after the header (blank lines before it are skipped on resume too).
    with open(csv_cp, "w") as f:
        f.write(json.dumps({"path": "in.csv", "dev": c.st_dev, "ino": c.st_ino,
                            "offset": 1 + len(header), "line": 2}))
    t.reset("out.jsonl")
    code, err = run(t, pipeline="csv.lua")
    st.assert_eq(code, 0, "exit code resuming a CSV file just after its header")
    records, torn = st.read_jsonl(t.path("out.jsonl"))
    st.assert_eq(records, [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}], "CSV records after resuming")


st.main(test)
