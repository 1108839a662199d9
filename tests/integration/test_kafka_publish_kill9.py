"""A `sluice publish` killed with SIGKILL in the middle of a 50,000-row
workbook, then run again as it was, publishes every row exactly once:

  - the first run is slowed (a small producer queue) and killed once its
    journal (births.xlsx.publish-state) says at least 10,000 rows are
    settled, with rows sent but not yet recorded in flight;
  - the second run resumes after the settled rows, finds on the topic the
    rows the first run sent but did not record, sends the rest, exits 0;
  - reading the whole topic, every business key is there once: none lost,
    none twice;
  - a third run sends nothing."""

import collections
import os
import signal

import kafkatest as kt
import publishtest as pt
import sluicetest as st

N = 50000


def test(t):
    b = kt.bootstrap()
    os.environ["SLUICE_KAFKA_BOOTSTRAP"] = b
    topic = kt.unique("publish-kill") + ".v1"
    catalog = pt.write_catalog(t, topic)
    pt.write_sheets({"files": [{"path": t.path("births.xlsx"), "kind": "xlsx", "header": pt.HEADER,
                                "generate": {"n": N}}]}, t.path("sheets"))

    run = pt.start_publish(t, catalog, ["births.xlsx"], "-X", "queue.buffering.max.messages=200",
                           "-X", "linger.ms=50", "--no-progress")
    journal = t.path("births.xlsx.publish-state")
    st.wait_until(lambda: pt.settled(journal) >= 10000, 120, "10000 settled rows in the journal",
                  interval=0.05, abort=run.exited)
    run.signal(signal.SIGKILL)
    st.assert_eq(run.wait(30), -signal.SIGKILL, "exit of the killed run")
    at_kill = pt.settled(journal)
    sent = kt.count(b, topic)
    st.log("killed: journal says %d rows settled, the topic holds %d messages" % (at_kill, sent))
    st.assert_lt(at_kill, N, "rows settled when killed (the run was interrupted)")
    st.assert_ge(sent, at_kill, "messages on the topic when killed (every settled row was acknowledged)")

    code, out, err = pt.publish(t, catalog, ["births.xlsx"], "--no-progress")
    st.assert_eq(code, 0, "exit code of the re-run")
    st.assert_true("resuming after the %d rows" % at_kill in err, "the re-run resumes from the journal", err)
    st.assert_eq(pt.summary_count(out, "published") + pt.summary_count(out, "skipped"), N,
                 "rows the re-run published or skipped as already published")
    st.assert_eq(pt.summary_count(out, "skipped"), sent, "rows the re-run found already sent")

    keys = collections.Counter(k for k in kt.consume(b, topic, fmt="%k\\n"))
    twice = [k for k, n in keys.items() if n > 1]
    st.assert_eq(twice[:5], [], "business keys on the topic more than once")
    want = {("B%06d" % i).encode() for i in range(1, N + 1)}
    st.assert_eq(sorted(want - set(keys))[:5], [], "business keys missing from the topic")
    st.assert_eq(sum(keys.values()), N, "messages on the topic")

    code, out, _ = pt.publish(t, catalog, ["births.xlsx"], "--no-progress")
    st.assert_eq(code, 0, "exit code of a third run")
    st.assert_eq(pt.summary_count(out, "published"), 0, "rows a third run publishes")
    st.assert_eq(kt.count(b, topic), N, "messages on the topic after a third run")


if __name__ == "__main__":
    st.main(test)
