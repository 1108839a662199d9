"""sl.quality end to end on crafted records of three departments:

- /metrics holds the exact counts per feed (volume, dead letters,
  duplicates, missing fields) and passes `promtool check metrics`;
- /scorecard is an HTML page that Chromium renders headless: the
  departments ranked by their overall score, the figures in the rendered
  page; a screenshot is kept as an artifact (artifacts/ in the build tree);
- with a bearer token, /scorecard answers 401 without it;
- `sluice report --period 2026-11` writes the month's evaluation from the
  history in PostgreSQL: CSV with each feed's scores, HTML that Chromium
  renders, JSON that parses."""

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess

import pgtest
import sluicetest as st

CATALOG = """local sl = require "sluice"
return sl.catalog {
  timezone = "+08:00",
  departments = {
    sl.department { id = "health", name = "卫健委", feeds = {
      sl.feed { name = "births", title = "出生登记", key = "src_id", time = "reported_at",
                fields = { src_id = { type = "string", required = true }, reported_at = "timestamp",
                           births = "int", district = "string",
                           id_no = { type = "string", rule = "cn_id", sensitive = true } } } } },
    sl.department { id = "tax", name = "税务局", feeds = {
      sl.feed { name = "payers", title = "纳税人", key = "src_id", time = "reported_at",
                fields = { src_id = { type = "string", required = true }, reported_at = "timestamp",
                           uscc = { type = "string", rule = "uscc" } } } } },
    sl.department { id = "civil", name = "民政局", feeds = {
      sl.feed { name = "marriages", title = "婚姻登记", key = "src_id", time = "reported_at",
                fields = { src_id = { type = "string", required = true }, reported_at = "timestamp",
                           district = "string" } } } },
  },
}
"""

PIPELINE = """local sl = require "sluice"
local quality = require "sluice.quality"
local catalog = require "catalog"
return sl.pipeline {
  name = "quality-card",
  sources = { sl.file.source { path = "in.jsonl", follow = true, poll_interval = "50ms" } },
  steps = {
    sl.clean { catalog = catalog },
    sl.quality { catalog = catalog, periods = { "day", "month" }, lateness = "48h",
                 arrival = "arrived_at", platform = %(dsn)s, schema = %(schema)s },
  },
  sinks = {
    quality.sink { conninfo = %(dsn)s, schema = %(schema)s },
    sl.file.sink { path = "out.jsonl", where = quality.not_quality },
  },
  dlq = sl.file.sink { path = "dlq.jsonl" },
}
"""


def rec(dept, feed, src, day, hour, **fields):
    t = "2026-11-%02dT%02d:00:00+08:00" % (day, hour)
    a = "2026-11-%02dT%02d:30:00+08:00" % (day, hour)
    r = {"department": dept, "feed": feed, "src_id": src, "reported_at": t, "arrived_at": a}
    r.update(fields)
    return r


RECORDS = [
    rec("health", "births", "b1", 5, 9, births=1, district="330106", id_no="11010519491231002X"),
    rec("health", "births", "b2", 5, 10, births=2, district="330106"),
    rec("health", "births", "b3", 5, 11, births=1),                              # district missing
    rec("health", "births", "b1", 5, 12, births=1, district="330106"),           # duplicate key
    rec("health", "births", "b5", 6, 9, births="many", district="330106"),       # dead letter
    rec("health", "births", "b6", 6, 10, births=3, district="330106", id_no="110105194912310021"),
    rec("health", "births", "b7", 6, 11, births=1, district="330106"),
    rec("tax", "payers", "p1", 5, 9, uscc="91350100M000100Y43"),
    rec("tax", "payers", "p2", 5, 10, uscc="91350100M000100Y44"),                 # invalid check
    rec("tax", "payers", "p3", 6, 9, uscc="91350100M000100Y43"),
    rec("tax", "payers", "p4", 6, 10),                                           # uscc missing
    rec("civil", "marriages", "m1", 5, 9, district="330106"),
    rec("civil", "marriages", "m2", 5, 10, district="330106"),
    rec("civil", "marriages", "m3", 6, 9, district="330106"),
]

LIVE = 13   # the records that pass sl.clean (one dead letter)


def artifacts():
    d = os.path.join(os.getcwd(), "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    st.fail("chromium is not installed (scripts/deps installs Debian's chromium)")


def render(url, shot):
    """The DOM Chromium rendered from url (headless, no JavaScript needed),
    and a screenshot of it at shot."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", "--user-data-dir=" + os.path.join(os.path.dirname(shot), ".chromium")]
    subprocess.run(base + ["--window-size=1280,1800", "--screenshot=" + shot, url],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=True)
    st.assert_true(os.path.getsize(shot) > 10_000, "the screenshot %s has a picture" % shot)
    dom = subprocess.run(base + ["--dump-dom", url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         timeout=120, check=True, text=True).stdout
    return dom


def text_of(html):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def metric(text, name, **labels):
    """The value of the sample of name whose labels include labels."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        if all('%s="%s"' % kv in head for kv in labels.items()):
            return float(value)
    return None


def check_metrics(url):
    text = st.http_get(url)[1]
    feed = {"department": "health", "feed": "births"}
    st.assert_eq(metric(text, "sluice_feed_records_total", **feed), 6, "births measured")
    st.assert_eq(metric(text, "sluice_feed_dead_letters_total", **feed), 1, "births dead letters")
    st.assert_eq(metric(text, "sluice_feed_duplicate_records_total", **feed), 1, "births duplicates")
    st.assert_eq(metric(text, "sluice_feed_field_values_total", field="district", state="missing", **feed), 1,
                 "births without a district")
    st.assert_eq(metric(text, "sluice_feed_field_values_total", field="id_no", state="present", **feed), 2,
                 "births with an ID")
    st.assert_eq(metric(text, "sluice_feed_records_total", department="tax", feed="payers"), 4, "payers")
    st.assert_eq(metric(text, "sluice_feed_latency_seconds_count", department="civil", feed="marriages"), 3,
                 "marriages' latencies")
    st.assert_eq(metric(text, "sluice_feed_latency_seconds_bucket", department="civil", feed="marriages",
                        le="1800"), None, "no bucket at 1800 s (the buckets are 900 and 3600)")
    st.assert_eq(metric(text, "sluice_feed_latency_seconds_bucket", department="civil", feed="marriages",
                        le="3600"), 3, "marriages within an hour")
    st.assert_eq(metric(text, "sluice_feed_score_ratio", department="civil", feed="marriages",
                        dimension="completeness"), 1.0, "marriages complete")
    st.promtool_check_metrics(text)


def check_scorecard(t, port):
    url = "http://127.0.0.1:%d/scorecard" % port
    status, html = st.http_get(url)
    st.assert_eq(status, 200, "GET /scorecard")
    st.assert_true("<script" not in html.lower(), "the scorecard has no script")
    dom = render(url, os.path.join(artifacts(), "quality_scorecard.png"))
    text = text_of(dom)
    order = [text.find(n) for n in ("民政局", "税务局", "卫健委")]
    st.assert_true(-1 not in order and order == sorted(order),
                   "departments ranked civil, tax, health in the rendered page", str(order))
    st.assert_true("100.0%" in text, "civil affairs' 100.0% in the rendered page", text[:400])
    status, one = st.http_get(url + "/tax")
    st.assert_eq(status, 200, "GET /scorecard/tax")
    st.assert_true("税务局" in one and "卫健委" not in one, "the tax page has tax alone")
    st.assert_eq(st.http_get(url + "/nobody")[0], 404, "GET /scorecard/nobody")


def check_report(t, db, schema):
    st.wait_until(lambda: db.one("SELECT coalesce(sum(records), 0) FROM %s.feed_scores WHERE period = 'month'"
                                 % schema) == str(LIVE), 60, "the month's rows in the history")
    out = subprocess.run([t.sluice, "report", "pipeline.lua", "--period", "2026-11", "--format", "csv"],
                         cwd=t.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    st.assert_eq(out.returncode, 0, "sluice report --format csv exit code (stderr: %s)" % out.stderr)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    st.assert_eq(len(rows), 3, "a CSV row per feed")
    by = {(r.get("department_id") or r.get("department"), r.get("feed")): r for r in rows}
    st.log("report csv: %s" % out.stdout)
    jout = subprocess.run([t.sluice, "report", "pipeline.lua", "--period", "2026-11", "--format", "json"],
                          cwd=t.dir, stdout=subprocess.PIPE, text=True, timeout=60)
    doc = json.loads(jout.stdout)
    st.assert_true(isinstance(doc, dict), "the JSON report is an object")
    html_path = t.path("2026-11.html")
    hout = subprocess.run([t.sluice, "report", "pipeline.lua", "--period", "2026-11", "--out", html_path],
                          cwd=t.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    st.assert_eq(hout.returncode, 0, "sluice report --out exit code (stderr: %s)" % hout.stderr)
    dom = render("file://" + html_path, os.path.join(artifacts(), "quality_report.png"))
    text = text_of(dom)
    st.assert_true("2026-11" in text and "民政局" in text and "出生登记" in text,
                   "the report's period, departments and feeds in the rendered page", text[:400])
    return by


def ready(port):
    try:
        return st.http_get("http://127.0.0.1:%d/ready" % port)[0] == 200
    except OSError:
        return False   # not listening yet


def body(t, db):
    schema = db.schema + "_q"
    try:
        st.write_file(t.path("catalog.lua"), CATALOG)
        st.write_file(t.path("pipeline.lua"), PIPELINE % {"dsn": pgtest.lua_str(db.dsn),
                                                         "schema": pgtest.lua_str(schema)})
        with open(t.path("in.jsonl"), "w") as f:
            for r in RECORDS:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        port = st.free_port()
        run = t.start(args=["--admin", "127.0.0.1:%d" % port])
        out = st.LineCounter(t.path("out.jsonl"))
        st.wait_until(lambda: out.count() >= LIVE, 30, "%d records through" % LIVE, abort=run.exited)
        url = "http://127.0.0.1:%d/metrics" % port
        st.wait_until(lambda: metric(st.http_get(url)[1], "sluice_feed_records_total", department="civil",
                                     feed="marriages") == 3, 30, "the counts on /metrics")
        check_metrics(url)
        check_scorecard(t, port)
        check_report(t, db, schema)
        run.signal(signal.SIGTERM)
        st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")

        # With a token, the scorecard is behind it like /metrics.
        token = t.path("token")
        st.write_file(token, "s3cret-token-for-the-scorecard\n")
        run = t.start(args=["--admin", "127.0.0.1:%d" % port, "--admin-token-file", token])
        st.wait_until(lambda: ready(port), 30, "ready", abort=run.exited)
        st.assert_eq(st.http_get("http://127.0.0.1:%d/scorecard" % port)[0], 401, "/scorecard without the token")
        run.signal(signal.SIGTERM)
        st.assert_eq(run.wait(60), 0, "exit code after SIGTERM")
    finally:
        db.sql("DROP SCHEMA IF EXISTS %s CASCADE" % schema)


st.main(pgtest.with_db("quality_card", body))
