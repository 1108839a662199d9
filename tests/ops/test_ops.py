#!/usr/bin/env python3
"""The operators' files in ops/: the Prometheus rules pass `promtool check
rules` and their unit tests (`promtool test rules`), the Grafana dashboard
is what ops/grafana/dashboard.py writes, every panel queries through the
dashboard's datasource variable, and every series a query or rule names is
one sluice exports (docs/metrics.md) or a recording rule of alerts.yml.

Usage: test_ops.py <path-to-sluice> (unused: the files are checked alone)."""

import json
import os
import re
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPS = os.path.join(REPO, "ops")

# What sluice exports (docs/metrics.md, runtime/engine/metrics.c, the
# plugins' collect and metric calls), plus Prometheus's own `up`.
KNOWN = {
    "up", "sluice_up", "sluice_source_records_total", "sluice_source_acked_records_total",
    "sluice_source_paused", "sluice_sink_records_total", "sluice_sink_rejected_records_total",
    "sluice_dead_letters_total", "sluice_dropped_records_total", "sluice_inflight_records",
    "sluice_inflight_bytes", "sluice_kafka_consumer_lag", "sluice_pg_cdc_lag_bytes",
    "sluice_clean_outcomes_total", "sluice_feed_records_total", "sluice_feed_late_records_total",
    "sluice_feed_dead_letters_total", "sluice_feed_duplicate_records_total",
    "sluice_feed_on_time_records_total", "sluice_feed_reads_total", "sluice_feed_latency_seconds_bucket",
    "sluice_feed_latency_seconds_sum", "sluice_feed_latency_seconds_count", "sluice_feed_field_values_total",
    "sluice_feed_golden_comparisons_total", "sluice_feed_golden_disagreements_total",
    "sluice_feed_golden_survived_values_total", "sluice_feed_last_arrival_timestamp_seconds",
    "sluice_feed_last_event_timestamp_seconds", "sluice_feed_watermark_timestamp_seconds",
    "sluice_feed_next_deadline_timestamp_seconds", "sluice_feed_schedule_slots_total",
    "sluice_feed_schedule_missed_total", "sluice_feed_overdue", "sluice_feed_score_ratio",
    "sluice_department_score_ratio", "sluice_match_records_total", "sluice_match_links_total",
    "sluice_match_reviews_total", "sluice_match_new_entities_total", "sluice_match_index_bytes",
}
FUNCS = {"sum", "by", "rate", "clamp_min", "histogram_quantile", "min", "max", "avg", "time", "increase",
         "deriv", "and", "offset", "label_values", "without", "or", "unless", "on", "ignoring"}


def fail(msg):
    print("test_ops: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def promtool(*args):
    tool = shutil.which("promtool")
    if not tool:
        fail("promtool is not installed (scripts/deps installs Debian's prometheus)")
    p = subprocess.run([tool] + list(args), cwd=os.path.join(OPS, "prometheus"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        fail("promtool %s: exit %d\n%s" % (" ".join(args), p.returncode, p.stdout))


def series_of(expr):
    """The metric names an expression names (words before { or alone that
    are not functions, keywords, label names or durations)."""
    expr = re.sub(r'"[^"]*"', '""', expr)              # no label values
    expr = re.sub(r"\{[^}]*\}", "{}", expr)              # no matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)               # no ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\b\d+(\.\d+)?(e-?\d+)?[smhdwy]?\b", "", expr)   # numbers and durations
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n not in FUNCS}


def exprs_of(yaml_text):
    """The rules' expressions: `expr: ...` on its line, or `expr: |` and the
    lines indented under it."""
    out, lines, i = [], yaml_text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"(\s*)expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        if m.group(2).strip() != "|":
            out.append(m.group(2))
            continue
        indent, block = len(m.group(1)), []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        out.append("\n".join(block))
    return out


def check_unit():
    """ops/systemd/sluice@.service as systemd-analyze verify sees it, with
    the binary paths pointing at programs that exist."""
    tool = shutil.which("systemd-analyze")
    if not tool:
        fail("systemd-analyze is not installed (scripts/deps installs Debian's systemd)")
    import tempfile
    with open(os.path.join(OPS, "systemd", "sluice@.service")) as f:
        unit = f.read().replace("/usr/local/bin/sluice", shutil.which("true") or "/bin/true")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "sluice@test.service")
        with open(path, "w") as f:
            f.write(unit)
        p = subprocess.run([tool, "verify", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Warnings about the machine itself (no running systemd) are not the unit's.
        problems = [l for l in p.stdout.splitlines() if "sluice@test.service" in l]
        if p.returncode or problems:
            fail("systemd-analyze verify sluice@.service: exit %d\n%s" % (p.returncode, p.stdout))
        # The sandbox stays tight: systemd's exposure score (0 best, 10 worst;
        # --threshold counts tenths) at most 1.5 ("OK").
        p = subprocess.run([tool, "security", "--offline=yes", "--threshold=15", "--no-pager", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode:
            fail("systemd-analyze security sluice@.service: exposure above 1.5\n%s" % p.stdout[-3000:])


def main():
    check_unit()
    promtool("check", "rules", "alerts.yml")
    promtool("test", "rules", "alerts_test.yml")
    with open(os.path.join(OPS, "prometheus", "alerts.yml")) as f:
        rules = f.read()
    recorded = set(re.findall(r"record:\s*(\S+)", rules))
    for expr in exprs_of(rules):
        for name in series_of(expr):
            if name not in KNOWN and name not in recorded and not name.startswith("job"):
                fail("alerts.yml names %s, which sluice does not export" % name)

    path = os.path.join(OPS, "grafana", "sluice.json")
    with open(path) as f:
        text = f.read()
    made = subprocess.run([sys.executable, os.path.join(OPS, "grafana", "dashboard.py")], stdout=subprocess.PIPE,
                          text=True, check=True).stdout
    if made != text:
        fail("ops/grafana/sluice.json is not what ops/grafana/dashboard.py writes: run it and commit the result")
    d = json.loads(text)
    if d.get("uid") != "sluice-overview" or not d.get("title"):
        fail("the dashboard's uid and title: %r %r" % (d.get("uid"), d.get("title")))
    names = [v["name"] for v in d["templating"]["list"]]
    if names[:1] != ["datasource"] or d["templating"]["list"][0]["type"] != "datasource":
        fail("the first variable is the datasource: %r" % names)
    panels = [p for p in d["panels"] if p["type"] != "row"]
    if len(panels) < 15:
        fail("the dashboard has %d panels" % len(panels))
    for p in panels:
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail("panel %r does not query through ${datasource}" % p["title"])
        if not p.get("description"):
            fail("panel %r has no description" % p["title"])
        for t in p["targets"]:
            for name in series_of(t["expr"]):
                if name not in KNOWN and name not in recorded:
                    fail("panel %r queries %s, which sluice does not export" % (p["title"], name))
    print("test_ops: ok: %d rules, %d panels" % (len(re.findall(r"- (alert|record):", rules)), len(panels)))


main()
