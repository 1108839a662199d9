"""Memory that steps make is bounded, and running out of it loses nothing.

The three runs of issue 9, under an address-space limit (`ulimit -v`) so that
a step that is not stopped by sluice's own bounds makes malloc fail:

1. a step returning 200,000 tables for every 10th record of a 100-line file
   (ulimit -v 3000000): those records go to the dead-letter sink with the
   fan-out limit as the reason, the others are written, exit 0, and the
   checkpoint is at the end of the file;
2. the same step over `generate`: every bomb dead-lettered, a few log lines;
3. a step setting 200 fields of 50 MiB on record 1 (ulimit -v 4000000):
   record 1 is dead-lettered with the memory_mb reason, records 2 and 3 are
   written.
4. as 3 with limits.memory_mb = 0 (no budget, so malloc itself fails; ulimit
   -v 800000): whatever happens, never a signal, and never a checkpoint past
   a record that is in neither file;
5. a record whose dead letter cannot even be built (ulimit -v 470000): the
   pipeline stops with exit 1 and its checkpoint before that record, and the
   next run dead-letters it.

Each run must end by itself, by exit code and not by a signal, with few log
lines (no line per lost record).
"""

import glob
import json
import os
import resource
import subprocess

import sluicetest as st

FANOUT_STEP = """function (rec)
      local n = (rec.id or rec.n) %% %d == 0 and 200000 or 1
      local out = {}
      for i = 1, n do out[i] = { id = rec.id or rec.n, copy = i } end
      return out
    end"""

FIELDS_STEP = """function (rec)
      if rec.id == 1 then
        for i = 1, 200 do rec["f" .. i] = string.rep("x", 50 << 20) end
      end
      rec.ok = true
      return rec
    end"""


def pipeline(name, source, step, limits=""):
    return """local sl = require "sluice"
return sl.pipeline {
  name    = "%s",%s
  sources = { %s },
  steps   = { %s },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
""" % (name, limits, source, step)


def run_limited(t, name, vm_kib, timeout=120, fresh=True):
    """Runs the pipeline under RLIMIT_AS = vm_kib KiB (None: no limit), from
    no state and no output if fresh; returns (code, stderr)."""
    def limit():
        if vm_kib:
            resource.setrlimit(resource.RLIMIT_AS, (vm_kib * 1024, vm_kib * 1024))
    if fresh:
        t.reset("state", "out.jsonl", "dlq.jsonl")
    err_path = t.path(name + ".stderr")
    st.log("run %s under ulimit -v %s" % (name, vm_kib or "unlimited"))
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([t.sluice, "run", "pipeline.lua", "--state-dir", t.path("state")],
                                cwd=t.dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=limit)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            st.fail("%s did not exit within %d s" % (name, timeout))
    with open(err_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    st.log("%s exited with code %d; %d log lines" % (name, code, len(text.splitlines())))
    if code < 0:
        st.fail("%s was killed by signal %d; log:\n%s" % (name, -code, text[-3000:]))
    st.assert_le(len(text.splitlines()), 20, "%s: log lines" % name)
    return code, text


def read(t, name):
    path = t.path(name)
    if not os.path.exists(path):
        return []
    records, torn = st.read_jsonl(path)
    st.assert_no_torn(torn, name)
    return records


def checkpoint_offset(t):
    """The file source's saved offset, or 0 if none was saved."""
    for path in glob.glob(t.path("state", "*", "*")):
        try:
            with open(path) as f:
                cp = json.load(f)
        except (ValueError, IsADirectoryError, UnicodeDecodeError):
            continue
        if isinstance(cp, dict) and "offset" in cp:
            return cp["offset"]
    return 0


def write_input(t, n):
    lines = ["{\"id\":%d}\n" % i for i in range(1, n + 1)]
    st.write_file(t.path("in.jsonl"), "".join(lines))
    return lines


def fanout_file(t):
    lines = write_input(t, 100)
    st.write_pipeline(t.dir, pipeline(
        "fanout-file", 'sl.file.source { path = "in.jsonl", format = "jsonl" }', FANOUT_STEP % 10))
    code, _ = run_limited(t, "fanout-file", 3000000)
    st.assert_eq(code, 0, "fanout-file: exit code")
    out, dlq = read(t, "out.jsonl"), read(t, "dlq.jsonl")
    st.assert_eq(sorted(r["id"] for r in out), [i for i in range(1, 101) if i % 10], "fanout-file: ids written")
    st.assert_eq([d["record"]["id"] for d in dlq], list(range(10, 101, 10)), "fanout-file: ids dead-lettered")
    st.assert_true("over the fan-out limit of 16384" in dlq[0]["error"], "fanout-file: reason", dlq[0]["error"])
    st.assert_eq(checkpoint_offset(t), sum(len(l) for l in lines), "fanout-file: checkpoint offset")


def fanout_generate(t):
    st.write_pipeline(t.dir, pipeline(
        "fanout-generate", 'sl.generate { count = 10, template = { n = "${seq}" } }', FANOUT_STEP % 1))
    code, _ = run_limited(t, "fanout-generate", 3000000)
    st.assert_eq(code, 0, "fanout-generate: exit code")
    dlq = read(t, "dlq.jsonl")
    st.assert_eq(sorted(d["record"]["n"] for d in dlq), list(range(1, 11)), "fanout-generate: dead-lettered")
    st.assert_eq(len(read(t, "out.jsonl")), 0, "fanout-generate: records written")


def big_fields(t, limits, vm_kib, name):
    # 200 string.rep calls of 50 MiB take over the default 1 s call budget on a
    # busy machine: the budget is raised so that memory, not time, stops them.
    lines = write_input(t, 3)
    st.write_pipeline(t.dir, pipeline(
        name, 'sl.file.source { path = "in.jsonl", format = "jsonl" }', FIELDS_STEP, limits))
    code, text = run_limited(t, name, vm_kib)
    out, dlq = read(t, "out.jsonl"), read(t, "dlq.jsonl")
    written = [r["id"] for r in out]
    dead = [json.loads(d["raw"])["id"] for d in dlq]
    return code, text, lines, written, dead, dlq


def big_fields_budget(t):
    code, _, lines, written, dead, dlq = big_fields(
        t, "\n  limits  = { call_ms = 60000 },", 4000000, "big-fields")
    st.assert_eq(code, 0, "big-fields: exit code")
    st.assert_eq(written, [2, 3], "big-fields: ids written")
    st.assert_eq(dead, [1], "big-fields: ids dead-lettered")
    st.assert_true("limits.memory_mb" in dlq[0]["error"], "big-fields: reason", dlq[0]["error"])
    st.assert_eq(checkpoint_offset(t), sum(len(l) for l in lines), "big-fields: checkpoint offset")


def big_fields_no_budget(t):
    code, text, lines, written, dead, _ = big_fields(
        t, "\n  limits  = { memory_mb = 0, call_ms = 60000 },", 800000, "big-fields-unbounded")
    # The checkpoint never passes a record that is in neither file.
    offset, end = checkpoint_offset(t), 0
    for i, line in enumerate(lines, 1):
        end += len(line)
        if end <= offset and i not in written and i not in dead:
            st.fail("big-fields-unbounded: checkpoint %d passes record %d, which is in neither file "
                    "(exit %d; written %s, dead %s)" % (offset, i, code, written, dead))
    if code == 0:
        st.assert_eq(sorted(written + dead), [1, 2, 3], "big-fields-unbounded: every record accounted for")
    else:
        st.assert_true("cannot be written" in text, "big-fields-unbounded: the reason to stop is logged", text[-2000:])


def dead_letter_unbuildable(t):
    """A 100 MiB record that a step fails, in a process too small for its
    dead letter: the pipeline stops (exit 1) with the checkpoint before it,
    and the next run, with room, dead-letters it and goes on."""
    first = '{"id":1}\n'
    big = json.dumps({"id": 2, "big": "x" * (100 << 20)}) + "\n"
    st.write_file(t.path("in.jsonl"), first + big + '{"id":3}\n')
    st.write_pipeline(t.dir, """local sl = require "sluice"
return sl.pipeline {
  name       = "unbuildable",
  batch_size = 1,
  workers    = 1,
  sources    = { sl.file.source { path = "in.jsonl", format = "jsonl", max_record_size = "128MiB" } },
  steps      = { function (rec) if rec.id == 2 then error("bad") end return rec end },
  sinks      = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq        = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
""")
    code, text = run_limited(t, "unbuildable", 470000)
    st.assert_eq(code, 1, "unbuildable: exit code")
    st.assert_true("cannot be written" in text or "out of memory" in text,
                   "unbuildable: the reason to stop is logged", text[-2000:])
    st.assert_le(checkpoint_offset(t), len(first), "unbuildable: checkpoint offset")
    code, _ = run_limited(t, "unbuildable-again", None, fresh=False)
    st.assert_eq(code, 0, "unbuildable-again: exit code")
    st.assert_eq(sorted(set(r["id"] for r in read(t, "out.jsonl"))), [1, 3], "unbuildable: ids written")
    st.assert_eq([d["record"]["id"] for d in read(t, "dlq.jsonl")], [2], "unbuildable: ids dead-lettered")
    st.assert_eq(checkpoint_offset(t), len(first) + len(big) + 9, "unbuildable-again: checkpoint offset")


def test(t):
    if st.linked_with(t.sluice, "libtsan"):
        # ThreadSanitizer maps terabytes of shadow at start: under any of
        # these limits it cannot start at all.
        st.log("built with ThreadSanitizer: an address-space limit cannot apply; skipped")
        return
    fanout_file(t)
    fanout_generate(t)
    big_fields_budget(t)
    big_fields_no_budget(t)
    dead_letter_unbuildable(t)


st.main(test)
