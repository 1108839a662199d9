#!/usr/bin/env python3
"""Writes ops/grafana/sluice.json, the Grafana dashboard over the series of
sluice's /metrics (docs/metrics.md): `python3 ops/grafana/dashboard.py >
ops/grafana/sluice.json`.  The JSON is what operators import; this script is
how it is kept (tests/ops/test_ops.py checks that the two agree and that
every query names series sluice exports)."""

import json

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'pipeline=~"$pipeline"'
FEED = 'pipeline=~"$pipeline",department=~"$department",feed=~"$feed"'

_next_id = [0]


def panel(title, kind, targets, x, y, w, h, description, unit=None, extra=None):
    _next_id[0] += 1
    p = {
        "id": _next_id[0],
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"datasource": DS, "refId": chr(ord("A") + i), "expr": e, "legendFormat": lf}
                    for i, (e, lf) in enumerate(targets)],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
    }
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    if extra:
        for k, v in extra.items():
            p[k] = v
    return p


def row(title, y):
    _next_id[0] += 1
    return {"id": _next_id[0], "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def variable(name, label, query):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": name}, "definition": query, "refresh": 2,
            "includeAll": True, "multi": True, "allValue": ".*",
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1}


def dashboard():
    panels = []
    y = 0
    panels.append(row("Pipeline", y)); y += 1
    panels += [
        panel("Running", "stat", [("min by (pipeline) (sluice_up{%s})" % SEL, "{{pipeline}}")], 0, y, 4, 6,
              "1 while the pipeline runs (sluice_up); 0 while it drains or stops."),
        panel("Records in and out", "timeseries",
              [("sum by (pipeline) (rate(sluice_source_records_total{%s}[5m]))" % SEL, "{{pipeline}} read"),
               ("sum by (pipeline) (rate(sluice_sink_records_total{%s}[5m]))" % SEL, "{{pipeline}} written")],
              4, y, 10, 6, "Records read by the sources and made durable by the sinks, per second.", "rps"),
        panel("In flight", "timeseries",
              [("sum by (pipeline) (sluice_inflight_records{%s})" % SEL, "{{pipeline}}")], 14, y, 5, 6,
              "Records read and not yet durable everywhere: flat under load, bounded by max_inflight_records."),
        panel("Dead letters", "timeseries",
              [("pipeline:sluice_dead_letter_ratio:rate10m{%s}" % SEL, "{{pipeline}}")], 19, y, 5, 6,
              "Share of the records sent to the dead-letter destination (recording rule of alerts.yml).",
              "percentunit"),
    ]
    y += 6
    panels += [
        panel("Consumer lag", "timeseries",
              [("sum by (pipeline, topic) (sluice_kafka_consumer_lag{%s})" % SEL, "{{pipeline}} {{topic}}")],
              0, y, 12, 6, "Messages between the next to consume and the end of each topic (partitions summed)."),
        panel("Replication slot lag", "timeseries",
              [("sluice_pg_cdc_lag_bytes{%s}" % SEL, "{{pipeline}} {{stage}}")], 12, y, 12, 6,
              "WAL bytes the server keeps for the pipeline's replication slot.", "bytes"),
    ]
    y += 6
    panels.append(row("Feeds", y)); y += 1
    panels += [
        panel("Volume per feed", "timeseries",
              [("sum by (department, feed) (rate(sluice_feed_records_total{%s}[5m]))" % FEED,
                "{{department}}/{{feed}}")], 0, y, 12, 7, "Records of each feed measured, per second.", "rps"),
        panel("Latency p50 and p95", "timeseries",
              [("histogram_quantile(0.5, sum by (department, feed, le) (rate(sluice_feed_latency_seconds_bucket{%s}[1h])))" % FEED,
                "{{department}}/{{feed}} p50"),
               ("histogram_quantile(0.95, sum by (department, feed, le) (rate(sluice_feed_latency_seconds_bucket{%s}[1h])))" % FEED,
                "{{department}}/{{feed}} p95")],
              12, y, 12, 7, "Arrival minus event time of each feed's records.", "s"),
    ]
    y += 7
    panels += [
        panel("On time", "timeseries",
              [("sum by (department, feed) (rate(sluice_feed_on_time_records_total{%s}[1h])) / "
                "clamp_min(sum by (department, feed) (rate(sluice_feed_records_total{%s}[1h])), 1e-9)" % (FEED, FEED),
                "{{department}}/{{feed}}")], 0, y, 8, 7,
              "Share of the records that arrived by their schedule's deadline.", "percentunit"),
        panel("Freshness", "table",
              [("time() - max by (department, feed) (sluice_feed_last_arrival_timestamp_seconds{%s})" % FEED, "")],
              8, y, 8, 7, "Time since each feed's last record arrived.", "s",
              {"targets": [{"datasource": DS, "refId": "A", "format": "table", "instant": True,
                            "expr": "time() - max by (department, feed) (sluice_feed_last_arrival_timestamp_seconds{%s})" % FEED}]}),
        panel("Overdue feeds", "table",
              [("max by (department, feed) (sluice_feed_overdue{%s}) == 1" % FEED, "")], 16, y, 8, 7,
              "Feeds whose last deadline passed with nothing in its slot (the SluiceFeedMissedSchedule alert).", None,
              {"targets": [{"datasource": DS, "refId": "A", "format": "table", "instant": True,
                            "expr": "max by (department, feed) (sluice_feed_overdue{%s}) == 1" % FEED}]}),
    ]
    y += 7
    panels += [
        panel("Missed deadlines (1 day)", "bargauge",
              [("sum by (department, feed) (increase(sluice_feed_schedule_missed_total{%s}[1d]))" % FEED,
                "{{department}}/{{feed}}")], 0, y, 12, 7, "Deadlines of each feed's declared schedule missed in the last day."),
        panel("Late and duplicate records", "timeseries",
              [("sum by (department, feed) (rate(sluice_feed_late_records_total{%s}[1h]))" % FEED, "{{department}}/{{feed}} late"),
               ("sum by (department, feed) (rate(sluice_feed_duplicate_records_total{%s}[1h]))" % FEED,
                "{{department}}/{{feed}} duplicates")], 12, y, 12, 7,
              "Records after their window closed, and records whose business key was seen before that day.", "rps"),
    ]
    y += 7
    panels.append(row("Quality", y)); y += 1
    panels += [
        panel("Scores per department", "table",
              [("avg by (department, dimension) (sluice_department_score_ratio{%s,department=~\"$department\"})" % SEL, "")],
              0, y, 12, 8, "Each department's score per GB/T 36344 dimension in its current day windows.", "percentunit",
              {"targets": [{"datasource": DS, "refId": "A", "format": "table", "instant": True,
                            "expr": "avg by (department, dimension) (sluice_department_score_ratio{%s,department=~\"$department\"})" % SEL}]}),
        panel("Overall score", "timeseries",
              [("avg by (department, feed) (sluice_feed_score_ratio{%s,dimension=\"overall\"})" % FEED,
                "{{department}}/{{feed}}")], 12, y, 12, 8, "Each feed's overall score over time.", "percentunit"),
    ]
    y += 8
    panels += [
        panel("Completeness per field", "bargauge",
              [("sum by (department, feed, field) (sluice_feed_field_values_total{%s,state=\"present\"}) / "
                "clamp_min(sum by (department, feed, field) (sluice_feed_field_values_total{%s}), 1)" % (FEED, FEED),
                "{{department}}/{{feed}} {{field}}")], 0, y, 8, 8, "Share of each catalog field's values present.",
              "percentunit"),
        panel("Validity per rule", "bargauge",
              [("sum by (department, feed, field, rule) (sluice_clean_outcomes_total{%s,outcome=~\"valid|fixed\",rule!=\"*\"}) / "
                "clamp_min(sum by (department, feed, field, rule) (sluice_clean_outcomes_total{%s,rule!=\"*\",outcome!=\"missing\"}), 1)"
                % (FEED, FEED), "{{department}}/{{feed}} {{field}} {{rule}}")], 8, y, 8, 8,
              "Share of the values each cleansing rule found valid or could repair.", "percentunit"),
        panel("Consistency with the golden records", "bargauge",
              [("1 - sum by (department, feed) (sluice_feed_golden_disagreements_total{%s}) / "
                "clamp_min(sum by (department, feed) (sluice_feed_golden_comparisons_total{%s}), 1)" % (FEED, FEED),
                "{{department}}/{{feed}}")], 16, y, 8, 8,
              "Share of each feed's values that agree with the surviving golden value.", "percentunit"),
    ]
    y += 8
    panels += [
        panel("Dead letters per feed", "timeseries",
              [("feed:sluice_dead_letter_ratio:rate1h{%s}" % FEED, "{{department}}/{{feed}}")], 0, y, 12, 7,
              "Share of each feed's records that broke its contract (recording rule of alerts.yml).", "percentunit"),
        panel("Contribution", "bargauge",
              [("sum by (department, feed) (sluice_feed_golden_survived_values_total{%s})" % FEED,
                "{{department}}/{{feed}}")], 12, y, 12, 7,
              "Golden-record values whose surviving source was each feed's record."),
    ]
    y += 7
    panels.append(row("Matching", y)); y += 1
    panels += [
        panel("Matching", "timeseries",
              [("sum by (pipeline) (rate(sluice_match_records_total{%s}[5m]))" % SEL, "{{pipeline}} records"),
               ("sum by (pipeline) (rate(sluice_match_links_total{%s}[5m]))" % SEL, "{{pipeline}} links"),
               ("sum by (pipeline) (rate(sluice_match_reviews_total{%s}[5m]))" % SEL, "{{pipeline}} reviews"),
               ("sum by (pipeline) (rate(sluice_match_new_entities_total{%s}[5m]))" % SEL, "{{pipeline}} new entities")],
              0, y, 16, 7, "Records matched, pairs linked, pairs sent to review, entities created, per second.", "rps"),
        panel("Matcher memory", "timeseries",
              [("sum by (pipeline) (sluice_match_index_bytes{%s})" % SEL, "{{pipeline}}")], 16, y, 8, 7,
              "Memory the matcher holds: index, values and clusters.", "bytes"),
    ]
    return {
        "uid": "sluice-overview",
        "title": "sluice: pipelines, feeds and data-sharing quality",
        "description": "The series of sluice's /metrics (docs/metrics.md); alerts in ops/prometheus/alerts.yml.",
        "tags": ["sluice"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            variable("pipeline", "Pipeline", "label_values(sluice_up, pipeline)"),
            variable("department", "Department", "label_values(sluice_feed_records_total{pipeline=~\"$pipeline\"}, department)"),
            variable("feed", "Feed", "label_values(sluice_feed_records_total{pipeline=~\"$pipeline\",department=~\"$department\"}, feed)"),
        ]},
        "annotations": {"list": []},
        "panels": panels,
    }


if __name__ == "__main__":
    print(json.dumps(dashboard(), indent=2, ensure_ascii=False))
