"""A feed that misses its schedule is seen although nothing arrives: with
schedule_from three hours and ten minutes ago and "hourly by :00", the
silent feed has missed every deadline since (sluice_feed_schedule_missed_total
equals sluice_feed_schedule_slots_total equals the hours passed) and is
overdue; a feed whose record arrives now fills its current slot, and its
next deadline is the next full hour; a feed of another domain is not
measured (sl.quality { domain = })."""

import datetime
import json
import signal

import sluicetest as st

CATALOG = """local sl = require "sluice"
return sl.catalog {
  timezone = "+08:00",
  departments = {
    sl.department { id = "env", name = "生态环境局", feeds = {
      sl.feed { name = "air", schedule = "hourly by :00", domain = "env", fields = { station = "string" } },
      sl.feed { name = "water", schedule = "hourly by :00", domain = "env", fields = { station = "string" } },
      sl.feed { name = "noise", schedule = "hourly by :00", domain = "city", fields = { station = "string" } } } },
  },
}
"""

PIPELINE = """local sl = require "sluice"
local catalog = require "catalog"
return sl.pipeline {
  name = "quality-schedule",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms",
                               department = "env", feed = "water" } },
  steps = { sl.quality { catalog = catalog, tick = "100ms", emit = false, schedule_from = %(from)s,
                         domain = "env" } },
  sinks = { sl.file.sink { path = "out.jsonl" } },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def metric(text, name, **labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def hours_between(a, b):
    """Full hours (deadlines at :00) in (a, b]."""
    first = a.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    n = 0
    while first <= b:
        n += 1
        first += datetime.timedelta(hours=1)
    return n


def test(t):
    now = datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(hours=3, minutes=10)
    st.write_file(t.path("catalog.lua"), CATALOG)
    st.write_file(t.path("pipeline.lua"), PIPELINE % {"from": '"%s"' % start.strftime("%Y-%m-%dT%H:%M:%SZ")})
    with open(t.path("in.jsonl"), "w") as f:
        f.write(json.dumps({"station": "s1"}) + "\n")
    port = st.free_port()
    run = t.start(args=["--admin", "127.0.0.1:%d" % port])
    url = "http://127.0.0.1:%d/metrics" % port
    out = st.LineCounter(t.path("out.jsonl"))
    st.wait_until(lambda: out.count() >= 1, 30, "the water record through", abort=run.exited)
    air = {"department": "env", "feed": "air"}

    def missed():
        try:
            return metric(st.http_get(url)[1], "sluice_feed_schedule_missed_total", **air)
        except OSError:
            return None
    st.wait_until(lambda: missed() is not None and missed() >= 3, 30, "air's missed deadlines")
    before = datetime.datetime.now(datetime.timezone.utc)
    text = st.http_get(url)[1]
    after = datetime.datetime.now(datetime.timezone.utc)
    expected = {hours_between(start, before), hours_between(start, after)}
    got = metric(text, "sluice_feed_schedule_missed_total", **air)
    st.assert_true(got in expected, "air's missed deadlines %s in %s" % (got, sorted(expected)))
    st.assert_eq(metric(text, "sluice_feed_schedule_slots_total", **air), got, "air's deadlines passed")
    st.assert_eq(metric(text, "sluice_feed_overdue", **air), 1, "air is overdue")
    st.assert_eq(metric(text, "sluice_feed_records_total", **air), 0, "air's records")
    # Another domain's feed is another pipeline's business: not measured here.
    st.assert_eq(metric(text, "sluice_feed_schedule_slots_total", department="env", feed="noise"), None,
                 "the noise feed (domain city) on this pipeline's /metrics")
    # Water's record arrived in its current slot: not overdue, its deadlines
    # before it all missed but the current one is still to come.
    water = {"department": "env", "feed": "water"}
    st.assert_eq(metric(text, "sluice_feed_records_total", **water), 1, "water's records")
    st.assert_eq(metric(text, "sluice_feed_overdue", **water), 0, "water is not overdue")
    nxt = (before.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)).timestamp()
    st.assert_true(metric(text, "sluice_feed_next_deadline_timestamp_seconds", **water) in (nxt, nxt + 3600),
                   "water's next deadline is the next full hour (%s)" % nxt)
    run.signal(signal.SIGTERM)
    st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")


st.main(test)
