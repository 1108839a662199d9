"""exactly_once = true, kill -9 of sluice mid-stream (twice), restarts of
the same group: every record arrives exactly once (read_committed).

What the killed process produced in its open transaction is aborted when
the restart initialises the same transactional.id, and its offsets were
never committed, so it is read and written again, once.  Mid-stream is
made certain: the step is paced so that the 300,000 records take several
seconds, and each kill comes once the output holds another part of them.
The producer queue is kept small (QUEUE_FULL path), and the transactions
short (commit_interval 50ms) so that kills land inside them and between.

The test logs how many messages read_uncommitted sees, aborted ones
included (a kill that lands between two transactions leaves none, so it is
not asserted)."""

import kafkatest as kt
import sluicetest as st

N = 300_000

PIPELINE = """local sl = require "sluice"
%(pacer)sreturn sl.pipeline {
  name = "kafka-eos-kill9",
  workers = 2,
  exactly_once = true,
  sources = { sl.kafka.source { brokers = "%(b)s", topics = { "%(in)s" }, group = "%(group)s",
                                librdkafka = %(fast)s } },
  steps = {
    function (rec)
      pace()
      rec.step = true
      return rec
    end,
  },
  sinks = { sl.kafka.sink { brokers = "%(b)s", topic = "%(out)s", commit_interval = "50ms",
                            librdkafka = { ["queue.buffering.max.messages"] = "2000" } } },
  dlq = sl.kafka.sink { brokers = "%(b)s", topic = "%(dlq)s" },
}
"""


def test(t):
    b = kt.bootstrap()
    names = {"in": kt.unique("eos-kill9-in"), "out": kt.unique("eos-kill9-out"),
             "dlq": kt.unique("eos-kill9-dlq"), "group": kt.unique("eos-kill9"), "b": b,
             "fast": kt.lua_table(kt.FAST_GROUP), "pacer": kt.pacer(20000)}
    kt.write_input(t.path("in.jsonl"), N)
    kt.produce_file(b, names["in"], t.path("in.jsonl"))
    st.write_pipeline(t.dir, PIPELINE % names)

    for k, part in enumerate((N // 4, N // 2)):
        run = t.start()
        # End offsets count every message written, committed or not (and
        # the transaction markers): enough to know the stream is under way.
        # read_committed reads would wait for the open transaction.
        kt.wait_for_messages(b, names["out"], part, 90, abort=run.exited)
        run.signal(9)
        run.wait(10)
        written = kt.ids_in(b, names["out"], committed=False)
        st.log("kill -9 number %d with %d messages written (committed or not), %d distinct ids"
               % (k + 1, len(written), len(set(written))))
        st.assert_lt(len(set(written)), N, "distinct ids written when killed (the kill must come "
                     "mid-stream)")

    run = t.start()
    ids = kt.wait_for_all_ids(b, names["out"], N, 120, abort=run.exited)
    run.signal(15)
    st.assert_eq(run.wait(30), 0, "last run: exit code after SIGTERM")
    ids = kt.ids_in(b, names["out"])
    dups = kt.check_all_ids(ids, N, "output")
    st.assert_eq(dups, 0, "duplicates in the committed output (%d messages)" % len(ids))
    raw = kt.count(b, names["out"], committed=False)
    st.log("%d committed messages; %d with the aborted ones" % (len(ids), raw))
    st.assert_eq(kt.end_offsets(b, names["dlq"]), 0, "dead letters")


st.main(test)
