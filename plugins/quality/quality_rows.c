/* The rows of the quality history (lua/sluice/quality.lua makes the
 * tables), emitted as records with a field `_quality`:
 *
 *   delta  what a window gained since its last delta row: a restart sums
 *          them to rebuild the window (quality_pg.c); day windows carry the
 *          business keys they learnt, for duplicates
 *   score  a window's counters and scores as they stand, closed or not:
 *          the history the scorecard and the report read
 *   mark   the last position counted of a source partition, and of each
 *          feed's schedule ("~slot/<feed>": the last deadline passed,
 *          "~arrival/<feed>": the last arrival), so that a restart counts
 *          nothing twice
 *
 * Each row is written as JSON text and made a record (sl_record_from_json). */
#include <stdio.h>
#include <string.h>

#include "quality.h"
#include "sluice/clock.h"
#include "sluice/errors.h"
#include "sluice/log.h"
#include "sluice/stage.h"

static void emit(sl_stage *st, quality_priv *pv, sl_step_out *out) {
  if (pv->row.oom) {
    sl_log_error(sl_stage_name(st), "out of memory for a history row");
    pv->row.len = pv->row.oom = 0;
    return;
  }
  sl_record *r = sl_record_from_json(sl_step_arena(out), pv->row.ptr, pv->row.len);
  int rc = r ? sl_step_emit(out, r) : SL_ENOMEM;
  if (rc) sl_log_error(sl_stage_name(st), "cannot emit a history row: %s", sl_strerror(rc));
  pv->row.len = 0;
}

static void jstr(sl_buf *b, const char *key, const char *v) {
  sl_buf_printf(b, ",\"%s\":", key);
  sl_buf_json_string(b, v, strlen(v));
}

static void jtime(sl_buf *b, const char *key, int64_t ms) {
  char t[SL_TIME_MS_LEN];
  sl_format_time_ms(t, sizeof t, ms);
  sl_buf_printf(b, ",\"%s\":\"%s\"", key, t);
}

static void jscore(sl_buf *b, double v) {
  if (v == QC_NONE) sl_buf_puts(b, "null");
  else sl_buf_printf(b, "%.6f", v);
}

/* The start of every row of a window: kind, pipeline, the window, the feed. */
static void window_head(quality_priv *pv, sl_buf *b, const char *kind, const qfeed *qf, const qwin *w) {
  sl_buf_printf(b, "{\"_quality\":\"%s\"", kind);
  jstr(b, "pipeline", pv->pipeline);
  jstr(b, "period", qw_period_names[w->period]);
  jtime(b, "period_start", w->start);
  jstr(b, "department", qf->f->dept_id);
  jstr(b, "feed", qf->f->name);
}

/* A field's rule as people read it: "cn_id", "trim, nfkc". */
static void rule_name(sl_buf *b, const sl_value *rule) {
  if (rule->type == SL_T_STRING) {
    sl_buf_json_string(b, rule->u.s.ptr, rule->u.s.len);
    return;
  }
  if (rule->type != SL_T_ARRAY) {
    sl_buf_puts(b, "null");
    return;
  }
  sl_buf t = SL_BUF_INIT;
  for (uint32_t i = 0; i < rule->n; i++) {
    const sl_value *r = &rule->u.items[i];
    if (r->type == SL_T_ARRAY && r->n && r->u.items[0].type == SL_T_STRING) r = &r->u.items[0];
    if (r->type != SL_T_STRING) continue;
    if (t.len) sl_buf_puts(&t, ", ");
    sl_buf_append(&t, r->u.s.ptr, r->u.s.len);
  }
  sl_buf_json_string(b, t.ptr ? t.ptr : "", t.len);
  sl_buf_free(&t);
}

/* The worst fields: the most invalid, then the most missing, at most 5. */
static void worst_fields(sl_buf *b, const qfeed *qf, const qc_counts *c) {
  int order[64], n = 0;
  for (int i = 0; i < c->nfields && n < 64; i++) {
    int64_t bad = c->field[i * QC_F_N + QC_F_INVALID] + c->field[i * QC_F_N + QC_F_MISSING];
    if (!bad) continue;
    int j = n++;
    while (j > 0) {
      int k = order[j - 1];
      int64_t kb = c->field[k * QC_F_N + QC_F_INVALID] + c->field[k * QC_F_N + QC_F_MISSING];
      if (kb >= bad) break;
      order[j] = k;
      j--;
    }
    order[j] = i;
  }
  sl_buf_puts(b, ",\"worst\":[");
  for (int k = 0; k < n && k < 5; k++) {
    int i = order[k];
    const sl_catalog_field *fd = &qf->f->fields[i];
    sl_buf_printf(b, "%s{\"field\":", k ? "," : "");
    sl_buf_json_string(b, fd->name, strlen(fd->name));
    sl_buf_printf(b, ",\"rule\":");
    rule_name(b, &fd->rule);
    sl_buf_printf(b, ",\"invalid\":%lld,\"missing\":%lld,\"fixed\":%lld}",
                  (long long)c->field[i * QC_F_N + QC_F_INVALID], (long long)c->field[i * QC_F_N + QC_F_MISSING],
                  (long long)c->field[i * QC_F_N + QC_F_FIXED]);
  }
  sl_buf_puts(b, "],\"examples\":[");
  int shown = qf->nexamples < Q_EXAMPLES ? qf->nexamples : Q_EXAMPLES;
  for (int k = 0; k < shown; k++) {
    const char *ex = qf->examples[(qf->nexamples - 1 - k) % Q_EXAMPLES];
    if (k) sl_buf_putc(b, ',');
    sl_buf_json_string(b, ex, strlen(ex));
  }
  sl_buf_putc(b, ']');
}

void quality_rows_window(sl_stage *st, quality_priv *pv, sl_step_out *out, qfeed *qf, qwin *w,
                         int closed) {
  sl_buf *b = &pv->row;
  qc_counts delta;
  if (qc_init(&delta, qf->f->nfields)) {
    sl_log_error(sl_stage_name(st), "out of memory for a history row");
    return;
  }
  qc_diff(&delta, &w->total, &w->flushed);
  if (!qc_is_zero(&delta) || w->nnew) {
    window_head(pv, b, "delta", qf, w);
    sl_buf_printf(b, ",\"seq\":%lld,\"counts\":", (long long)++pv->seq);
    qc_to_json(&delta, qf->f, b);
    sl_buf_puts(b, ",\"keys\":[");
    for (uint32_t i = 0; i < w->nnew; i++) sl_buf_printf(b, "%s%lld", i ? "," : "", (long long)w->new_keys[i]);
    sl_buf_puts(b, "]}");
    emit(st, pv, out);
    qc_copy(&w->flushed, &w->total);
    w->nnew = 0;
  }
  qc_free(&delta);
  double s[QC_NSCORES];
  qc_scores(&w->total, qf->f->weights, s);
  window_head(pv, b, "score", qf, w);
  char label[32];
  qw_label((qw_period)w->period, w->start, pv->cat->utc_offset_s, label, sizeof label);
  jstr(b, "label", label);
  sl_buf_printf(b, ",\"closed\":%s,\"records\":%lld,\"counts\":", closed ? "true" : "false",
                (long long)w->total.records);
  qc_to_json(&w->total, qf->f, b);
  sl_buf_puts(b, ",\"scores\":{");
  for (int d = 0; d < QC_NSCORES; d++) {
    sl_buf_printf(b, "%s\"%s\":", d ? "," : "", d < SL_NDIMENSIONS ? sl_dimension_names[d] : "overall");
    jscore(b, s[d]);
  }
  sl_buf_puts(b, "},\"latency_p50_s\":");
  jscore(b, qc_quantile(&w->total, 0.5));
  sl_buf_puts(b, ",\"latency_p95_s\":");
  jscore(b, qc_quantile(&w->total, 0.95));
  worst_fields(b, qf, &w->total);
  jtime(b, "updated_at", sl_now_ms());
  sl_buf_printf(b, ",\"seq\":%lld}", (long long)++pv->seq);
  emit(st, pv, out);
  w->touched = 0;
}

static void mark_row(sl_stage *st, quality_priv *pv, sl_step_out *out, const char *source,
                     int32_t partition, int64_t offset) {
  sl_buf *b = &pv->row;
  sl_buf_puts(b, "{\"_quality\":\"mark\"");
  jstr(b, "pipeline", pv->pipeline);
  jstr(b, "source", source);
  sl_buf_printf(b, ",\"partition\":%d,\"offset\":%lld}", (int)partition, (long long)offset);
  emit(st, pv, out);
}

void quality_rows_marks(sl_stage *st, quality_priv *pv, sl_step_out *out) {
  for (int i = 0; i < pv->nmarks; i++)
    if (pv->marks[i].touched) mark_row(st, pv, out, pv->marks[i].source, pv->marks[i].partition, pv->marks[i].offset);
  for (int i = 0; i < pv->nfeeds; i++) {
    const qfeed *qf = &pv->feeds[i];
    if (!qf->touched) continue;
    char name[300];
    snprintf(name, sizeof name, "~event/%s", qf->f->id);
    if (qf->max_event) mark_row(st, pv, out, name, 0, qf->max_event);
    snprintf(name, sizeof name, "~arrival/%s", qf->f->id);
    if (qf->last_arrival) mark_row(st, pv, out, name, 0, qf->last_arrival);
    snprintf(name, sizeof name, "~slot/%s", qf->f->id);
    if (qf->has_sched) mark_row(st, pv, out, name, 0, qf->slot_start);
  }
}
