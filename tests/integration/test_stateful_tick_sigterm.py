"""A Lua keyed store (sl.stateful) on a followed file, whose input never
ends: tick reports the store's running total every 30 ms; batch_end emits
each touched key's count, and restore rebuilds the counts from those lines
of out.jsonl.  SIGTERM mid-stream drains and exits 0 without calling finish
(the input has not ended); a restart with more input goes on counting from
the restored store, and so does a reload (SIGHUP), which does not call
finish either: the counts are exact, nothing lost or counted twice."""

import json
import signal

import sluicetest as st

PIPELINE = """
local sl = require "sluice"
return sl.pipeline {
  name = "stateful-tick",
  batch_size = 16,
  sources = { sl.file.source { name = "in", path = "in.jsonl", follow = true, poll_interval = "20ms" } },
  steps = {
    sl.stateful {
      name = "counts",
      key = function (rec) return "k" .. (rec.id % 3) end,
      apply = function (state, rec) state.n = (state.n or 0) + 1 end,
      batch_end = function (keys, touched, emit)
        for key, state in pairs(touched) do emit { count_of = key, n = state.n } end
      end,
      every = "30ms",
      tick = function (keys, now_ms, emit)
        local total = 0
        for _, state in pairs(keys) do total = total + state.n end
        emit { tick = true, total = total, at = now_ms }
      end,
      finish = function (keys, emit) emit { summary = true } end,
      restore_from = "out.jsonl",
      restore = function (keys, rec)
        if rec.count_of then keys[rec.count_of] = { n = rec.n } end
      end,
    },
  },
  sinks = { sl.file.sink { path = "out.jsonl",
                           where = function (rec) return rec.tick or rec.count_of or rec.summary end } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


class Output:
    """out.jsonl read as it grows: the last tick's total, the counts."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.total = None
        self.ticks = 0
        self.summaries = 0
        self.counts = {}

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            rec = json.loads(line)
            if rec.get("tick"):
                self.ticks += 1
                self.total = rec["total"]
            elif rec.get("summary"):
                self.summaries += 1
            elif "count_of" in rec:
                self.counts[rec["count_of"]] = rec["n"]
        return self


def run_until_total(t, total):
    run = t.start()
    out = Output(t.path("out.jsonl"))
    st.wait_until(lambda: out.poll().total == total, 60,
                  "a tick with the store's total at %d" % total, abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    out.poll()
    return out, run


def test(t):
    st.write_pipeline(t.dir, PIPELINE)
    st.append_ids(t, 1, 300)
    out, run = run_until_total(t, 300)
    st.assert_eq(out.summaries, 0, "summaries after a SIGTERM (finish must not run)")
    st.assert_eq(out.counts, {"k0": 100, "k1": 100, "k2": 100}, "counts per key")
    st.assert_true("stopping the sources" in run.stderr_text(), "SIGTERM was handled")

    st.append_ids(t, 301, 450)
    out, run = run_until_total(t, 450)
    st.assert_true("restored from" in run.stderr_text(), "the store was restored from out.jsonl")
    st.assert_eq(out.summaries, 0, "summaries after the second SIGTERM")
    st.assert_eq(out.counts, {"k0": 150, "k1": 150, "k2": 150}, "counts per key after the restart")

    # A reload drains like a stop: no finish; the reloaded pipeline restores
    # the store and counts on.
    out = Output(t.path("out.jsonl"))
    out.poll()
    ticks_before = out.ticks
    run = t.start()
    st.wait_until(lambda: out.poll().ticks > ticks_before and out.total == 450, 60,
                  "a tick of the restarted run", abort=run.exited)
    run.signal(signal.SIGHUP)
    st.wait_until(lambda: run.stderr_text().count("restored from") >= 2, 60,
                  "the reloaded pipeline to restore its store", abort=run.exited)
    st.append_ids(t, 451, 600)
    st.wait_until(lambda: out.poll().total == 600, 60, "a tick with the total at 600",
                  abort=run.exited)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    out.poll()
    st.assert_eq(out.summaries, 0, "summaries after a reload and a SIGTERM")
    st.assert_eq(out.counts, {"k0": 200, "k1": 200, "k2": 200}, "counts per key after the reload")


st.main(test)
