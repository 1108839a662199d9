"""exactly_once = true with a stateful step that ticks (sl.stateful): the
tick's batch has no input record and no position, and its records commit in
the sink's transactions like any other, moving no offset.  Every input
record arrives once, the ticks report the store's total, and SIGTERM
drains and exits 0 without calling finish."""

import kafkatest as kt
import sluicetest as st

N = 600

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name = "kafka-eos-stateful-tick",
  exactly_once = true,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s" } },
  steps = {
    sl.stateful {
      key = "dept",
      apply = function (state, rec) state.n = (state.n or 0) + 1 end,
      every = "50ms",
      tick = function (keys, now_ms, emit)
        local total = 0
        for _, state in pairs(keys) do total = total + state.n end
        emit { tick = true, total = total }
      end,
      finish = function (keys, emit) emit { summary = true } end,
    },
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s" } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("eos-tick-in"), "out": kt.unique("eos-tick-out"),
             "dlq": kt.unique("eos-tick-dlq"), "group": kt.unique("eos-tick"), "b": b}
    kt.produce(b, names["in"], ['{"id":%d,"dept":"%s"}' % (i, st.DEPTS[i % 8]) for i in range(1, N + 1)])
    st.write_pipeline(t.dir, PIPELINE % names)
    run = t.start()

    def full_tick():
        if kt.partitions(b, names["out"]) == 0:
            return False
        return any(v.get("tick") and v["total"] == N for _, _, v in kt.consume_json(b, names["out"]))

    st.wait_until(full_tick, 120, "a committed tick with the total at %d" % N, interval=0.5,
                  abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "exit code after SIGTERM")
    out = [v for _, _, v in kt.consume_json(b, names["out"])]
    ids = sorted(v["id"] for v in out if "id" in v)
    st.assert_eq(ids, list(range(1, N + 1)), "ids in the committed output (each once)")
    st.assert_eq(sum(1 for v in out if v.get("summary")), 0, "summaries (finish must not run)")
    st.assert_true("not a kafka.source" not in run.stderr_text(), "no transaction refused a tick batch")


st.main(test)
