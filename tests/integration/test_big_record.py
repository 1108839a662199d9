"""A 10 MB JSON line between two small ones.

1. With the default limits (max_record_size 16MiB) it passes through a Lua
   step intact: every output line has the sha256 of its input line.
2. A step that changes the record (rec.size = #rec.blob) makes the sink encode
   it from its fields: the 10 MB value still arrives byte for byte.
3. With max_record_size = "1MiB" on the source it goes to the dead-letter sink
   (stage "decode", the reason names max_record_size, source line 2, and the
   envelope keeps only a prefix of it), and its neighbours still pass intact.

Each run must finish well within the budget of the whole test (~60 s).
"""

import hashlib
import json
import os
import random

import sluicetest as st

BIG_BYTES = 10 * 1024 * 1024


def pipeline(name, source_opts="", step="return rec"):
    return """local sl = require "sluice"
return sl.pipeline {
  name    = "%(name)s",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl"%(source_opts)s } },
  steps   = { function (rec) %(step)s end },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
""" % {"name": name, "source_opts": source_opts, "step": step}


def big_value():
    """10 MiB of varied string content: ASCII letters and digits, JSON
    escapes (\\" \\\\ \\n \\u00e9) and raw multi-byte UTF-8, from a fixed seed so
    that a failure reproduces."""
    rnd = random.Random(20261127)
    pieces = ["abcdefghijklmnopqrstuvwxyz0123456789" * 2, '\\"', "\\\\", "\\n",
              "\\u00e9", "李秀英", "€", " "]
    weights = [60, 1, 1, 1, 1, 2, 1, 3]
    out, size = [], 0
    while size < BIG_BYTES:
        p = rnd.choices(pieces, weights)[0]
        if p.startswith("abc"):
            k = rnd.randrange(1, len(p))
            p = p[k:] + p[:k]
        out.append(p)
        size += len(p.encode("utf-8"))
    return "".join(out)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    st.assert_true(data == b"" or data.endswith(b"\n"), "%s ends with a newline" % path)
    return data.split(b"\n")[:-1] if data else []


def run_once(t, text, what):
    t.reset("out.jsonl", "dlq.jsonl", "state")
    st.write_pipeline(t.dir, text)
    run = t.start()
    code = run.wait(timeout=60)
    st.assert_eq(code, 0, "%s: sluice exit code" % what)
    return read_lines(t.path("out.jsonl")), read_lines(t.path("dlq.jsonl"))


def test(t):
    small1 = b'{"id":1,"name":"before"}'
    big = ('{"id":2,"blob":"%s","tail":"end"}' % big_value()).encode("utf-8")
    small3 = b'{"id":3,"name":"after"}'
    with open(t.path("in.jsonl"), "wb") as f:
        f.write(small1 + b"\n" + big + b"\n" + small3 + b"\n")
    st.log("input: %d bytes, big line %d bytes" % (os.path.getsize(t.path("in.jsonl")), len(big)))
    # The record is valid JSON, and its blob is what we think it is.
    blob = json.loads(big)["blob"]

    # 1. Default limits: everything passes, byte for byte.
    out, dlq = run_once(t, pipeline("big-default"), "default limits")
    st.assert_eq(len(dlq), 0, "default limits: dead letters")
    st.assert_eq([len(l) for l in out], [len(small1), len(big), len(small3)],
                 "default limits: output line lengths")
    st.assert_eq([sha(l) for l in out], [sha(small1), sha(big), sha(small3)],
                 "default limits: sha256 of each output line")

    # 2. A changed record is encoded from its fields; the big value survives.
    step = "if rec.blob then rec.size = #rec.blob end return rec"
    out, dlq = run_once(t, pipeline("big-changed", "", step), "changed record")
    st.assert_eq(len(dlq), 0, "changed record: dead letters")
    st.assert_eq(len(out), 3, "changed record: output lines")
    rec = json.loads(out[1])
    st.assert_eq(rec.get("id"), 2, "changed record: id")
    st.assert_eq(rec.get("size"), len(blob.encode("utf-8")), "changed record: #rec.blob")
    st.assert_eq(sha(rec.get("blob", "").encode("utf-8")), sha(blob.encode("utf-8")),
                 "changed record: sha256 of the blob")
    st.assert_eq(rec.get("tail"), "end", "changed record: the field after the blob")

    # 3. max_record_size = "1MiB": the big one is a dead letter, the others pass.
    out, dlq = run_once(t, pipeline("big-limited", ', max_record_size = "1MiB"'),
                        "max_record_size 1MiB")
    st.assert_eq([sha(l) for l in out], [sha(small1), sha(small3)],
                 "max_record_size 1MiB: sha256 of the output lines (the neighbours)")
    st.assert_eq(len(dlq), 1, "max_record_size 1MiB: dead letters")
    env = json.loads(dlq[0])
    st.assert_eq(env.get("stage"), "decode", "envelope stage")
    st.assert_true("max_record_size" in env.get("error", ""),
                   "the envelope's reason names max_record_size", repr(env.get("error")))
    st.assert_eq(env.get("source", {}).get("line"), 2, "envelope source.line")
    st.assert_eq(env.get("source", {}).get("offset"), len(small1) + 1, "envelope source.offset")
    raw = env.get("raw", "").encode("utf-8")
    st.assert_true(0 < len(raw) <= 1024 * 1024, "the envelope keeps a bounded prefix",
                   "%d bytes" % len(raw))
    st.assert_true(big.startswith(raw), "the envelope's raw is a prefix of the record")
    st.assert_lt(len(dlq[0]), 2 * 1024 * 1024, "dead-letter line size")

st.main(test)
