/* What the quality step shows outside its lane: the lane copies each
 * feed's totals and current scores into pv->share under pv->mu at the end
 * of every batch and tick; /metrics (quality_collect, loop thread) and
 * /scorecard read the copy. */
#include <stdlib.h>
#include <string.h>

#include "quality.h"
#include "sluice/metrics.h"
#include "sluice/stage.h"

int quality_share_init(quality_priv *pv) {
  pthread_mutex_init(&pv->mu, NULL);
  pv->mu_ready = 1;
  pv->share = calloc((size_t)pv->nfeeds + 1, sizeof *pv->share);
  if (!pv->share || qc_init(&pv->share_other, 0)) return -1;
  for (int i = 0; i < pv->nfeeds; i++) {
    qshare *s = &pv->share[i];
    int n = pv->feeds[i].f->nfields;
    if (qc_init(&s->total, n) || qc_init(&s->day, n) || qc_init(&s->month, n)) return -1;
    for (int d = 0; d < QC_NSCORES; d++) s->scores[d] = s->month_scores[d] = QC_NONE;
  }
  return 0;
}

void quality_share_free(quality_priv *pv) {
  for (int i = 0; pv->share && i < pv->nfeeds; i++) {
    qc_free(&pv->share[i].total);
    qc_free(&pv->share[i].day);
    qc_free(&pv->share[i].month);
    free(pv->share[i].trend);
  }
  free(pv->share);
  pv->share = NULL;
  qc_free(&pv->share_other);
  if (pv->mu_ready) pthread_mutex_destroy(&pv->mu);
  pv->mu_ready = 0;
}

/* The open window of period p that holds the feed's newest event. */
static const qwin *current(const quality_priv *pv, const qfeed *qf, int p) {
  if (!qf->max_event) return NULL;
  int64_t s = qw_start((qw_period)p, qf->max_event, pv->cat->utc_offset_s);
  for (const qwin *w = qf->wins; w; w = w->next)
    if (w->period == p && w->start == s) return w;
  return NULL;
}

static void share_window(const qfeed *qf, const qwin *w, qc_counts *c, double *scores) {
  if (!w) {
    qc_clear(c);
    for (int d = 0; d < QC_NSCORES; d++) scores[d] = QC_NONE;
    return;
  }
  qc_copy(c, &w->total);
  qc_scores(&w->total, qf->f->weights, scores);
}

void quality_share_update(quality_priv *pv) {
  pthread_mutex_lock(&pv->mu);
  qc_copy(&pv->share_other, &pv->other);
  for (int i = 0; i < pv->nfeeds; i++) {
    const qfeed *qf = &pv->feeds[i];
    if (!qf->touched) continue;
    qshare *s = &pv->share[i];
    qc_copy(&s->total, &qf->total);
    share_window(qf, current(pv, qf, QW_DAY), &s->day, s->scores);
    share_window(qf, current(pv, qf, QW_MONTH), &s->month, s->month_scores);
    s->max_event = qf->max_event;
    s->watermark = qf->max_event;   /* minus lateness: see quality_collect */
    s->last_arrival = qf->last_arrival;
    s->next_deadline = qf->has_sched ? qf->next_deadline : 0;
    s->overdue = qf->overdue;
    s->has_sched = qf->has_sched;
    memcpy(s->examples, qf->examples, sizeof s->examples);
    s->nexamples = qf->nexamples;
    if (qf->ntrend != s->ntrend || qf->ntrend) {
      qtrend *t = realloc(s->trend, (size_t)(qf->ntrend ? qf->ntrend : 1) * sizeof *t);
      if (t) {
        memcpy(t, qf->trend, (size_t)qf->ntrend * sizeof *t);
        s->trend = t;
        s->ntrend = qf->ntrend;
      }
    }
  }
  pthread_mutex_unlock(&pv->mu);
}

/* ---- /metrics ---- */

static const char *const feed_labels[] = {"department", "feed", NULL};

static void counter(sl_collector *c, const char *name, const char *help, const qfeed *qf, int64_t v) {
  const char *values[] = {qf->f->dept_id, qf->f->name};
  sl_collect(c, SL_COUNTER, name, help, feed_labels, values, v);
}

static void gauge(sl_collector *c, const char *name, const char *help, const qfeed *qf, int64_t v) {
  const char *values[] = {qf->f->dept_id, qf->f->name};
  sl_collect(c, SL_GAUGE, name, help, feed_labels, values, v);
}

static void feed_fields(sl_collector *c, const qfeed *qf, const qc_counts *t) {
  static const char *const labels[] = {"department", "feed", "field", "state", NULL};
  static const char *const glabels[] = {"department", "feed", "field", NULL};
  for (int i = 0; i < t->nfields; i++) {
    const char *field = qf->f->fields[i].name;
    const char *present[] = {qf->f->dept_id, qf->f->name, field, "present"};
    const char *missing[] = {qf->f->dept_id, qf->f->name, field, "missing"};
    sl_collect(c, SL_COUNTER, "feed_field_values_total",
               "Values of each catalog field per feed: present or missing (completeness).", labels, present,
               t->field[i * QC_F_N + QC_F_PRESENT]);
    sl_collect(c, SL_COUNTER, "feed_field_values_total",
               "Values of each catalog field per feed: present or missing (completeness).", labels, missing,
               t->field[i * QC_F_N + QC_F_MISSING]);
    if (!t->field[i * QC_F_N + QC_F_COMPARED]) continue;
    const char *g[] = {qf->f->dept_id, qf->f->name, field};
    sl_collect(c, SL_COUNTER, "feed_golden_comparisons_total",
               "Values of the feed compared with the golden record's.", glabels, g,
               t->field[i * QC_F_N + QC_F_COMPARED]);
    sl_collect(c, SL_COUNTER, "feed_golden_disagreements_total",
               "Values of the feed that differed from the golden record's surviving value.", glabels, g,
               t->field[i * QC_F_N + QC_F_DISAGREED]);
  }
}

static void feed_latency(sl_collector *c, const qfeed *qf, const qc_counts *t) {
  const char *values[] = {qf->f->dept_id, qf->f->name};
  sl_collect_histogram(c, "feed_latency_seconds", "Arrival minus event time of the feed's records.",
                       feed_labels, values, qc_bucket_le_s, t->latency, QC_NBUCKETS - 1,
                       (double)t->latency_ms_sum / 1000.0);
}

static void feed_scores(sl_collector *c, const qfeed *qf, const double *s) {
  static const char *const labels[] = {"department", "feed", "dimension", NULL};
  for (int d = 0; d < QC_NSCORES; d++) {
    if (s[d] == QC_NONE) continue;
    const char *values[] = {qf->f->dept_id, qf->f->name, d < SL_NDIMENSIONS ? sl_dimension_names[d] : "overall"};
    sl_collect_double(c, SL_GAUGE, "feed_score_ratio",
                      "Score of the feed's current day window per quality dimension (GB/T 36344), 0 to 1.",
                      labels, values, s[d]);
  }
}

/* A department's scores: its feeds' by their volume in the day. */
static void department_scores(sl_collector *c, const quality_priv *pv) {
  static const char *const labels[] = {"department", "dimension", NULL};
  for (int di = 0; di < pv->cat->ndepts; di++) {
    const sl_catalog_dept *d = &pv->cat->depts[di];
    for (int k = 0; k < QC_NSCORES; k++) {
      double sum = 0, w = 0;
      for (int i = d->first_feed; i < d->first_feed + d->nfeeds; i++) {
        const qshare *s = &pv->share[i];
        double v = (double)(s->day.records ? s->day.records : 1);
        if (s->scores[k] == QC_NONE) continue;
        sum += v * s->scores[k];
        w += v;
      }
      if (w <= 0) continue;
      const char *values[] = {d->id, k < SL_NDIMENSIONS ? sl_dimension_names[k] : "overall"};
      sl_collect_double(c, SL_GAUGE, "department_score_ratio",
                        "Score of the department's feeds in their current day windows, weighted by volume.",
                        labels, values, sum / w);
    }
  }
}

void quality_collect(sl_stage *st, sl_collector *c) {
  quality_priv *pv = sl_stage_priv(st);
  const quality_cfg *cfg = sl_stage_config(st);
  if (!pv->share) return;
  pthread_mutex_lock(&pv->mu);
  for (int i = 0; i < pv->nfeeds; i++) {
    const qfeed *qf = &pv->feeds[i];
    const qshare *s = &pv->share[i];
    const qc_counts *t = &s->total;
    if (!qf->measured) continue;
    counter(c, "feed_records_total", "Records of the feed measured (volume).", qf, t->records);
    counter(c, "feed_late_records_total", "Records that came after their event-time window closed.", qf, t->late);
    counter(c, "feed_dead_letters_total", "Records of the feed the steps before sent to the dead-letter sink.", qf,
            t->dead_letters);
    counter(c, "feed_duplicate_records_total", "Records whose business key was seen before in the same day.", qf,
            t->duplicates);
    counter(c, "feed_on_time_records_total", "Records that arrived by their schedule's deadline.", qf, t->on_time);
    counter(c, "feed_reads_total", "Records of the feed read by this pipeline (use).", qf, t->records + t->late);
    counter(c, "feed_golden_survived_values_total",
            "Golden-record values whose surviving source was this feed's record (contribution).", qf, t->survived);
    feed_latency(c, qf, t);
    feed_fields(c, qf, t);
    if (s->last_arrival)
      gauge(c, "feed_last_arrival_timestamp_seconds", "When the feed's last record arrived (freshness).", qf,
            s->last_arrival / 1000);
    if (s->max_event) {
      gauge(c, "feed_last_event_timestamp_seconds", "The newest event time of the feed.", qf, s->max_event / 1000);
      gauge(c, "feed_watermark_timestamp_seconds", "The feed's event-time watermark: windows before it are closed.",
            qf, (s->max_event - cfg->lateness_ms) / 1000);
    }
    if (s->has_sched) {
      gauge(c, "feed_next_deadline_timestamp_seconds", "The next deadline of the feed's declared schedule.", qf,
            s->next_deadline / 1000);
      counter(c, "feed_schedule_slots_total", "Deadlines of the feed's schedule that passed.", qf, t->slots);
      counter(c, "feed_schedule_missed_total", "Deadlines that passed with no record in their slot.", qf, t->missed);
      gauge(c, "feed_overdue", "1 from a deadline that passed with no record in its slot until a record comes.", qf,
            s->overdue);
    }
    feed_scores(c, qf, s->scores);
  }
  department_scores(c, pv);
  pthread_mutex_unlock(&pv->mu);
}
