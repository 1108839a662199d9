/* sl.quality: measures each department's data-sharing performance as the
 * records flow (docs/metrics.md).
 *
 *   local catalog = require "catalog"
 *   steps = { sl.clean { catalog = catalog },
 *             sl.match { ... },                 -- optional: consistency, contribution
 *             sl.quality { catalog = catalog, platform = dsn } }
 *
 * Per feed of the catalog and per event-time window (hour, day, month in
 * the catalog's zone) it counts volume, latency, on-time arrivals against
 * the declared schedule, completeness per field, validity from the
 * cleansing outcomes, duplicates of the business key, consistency with the
 * golden record, contribution and dead letters, and scores the six
 * dimensions of GB/T 36344-2018.  A window stays open until the feed's
 * watermark (its newest event time minus lateness) passes its end; a
 * record for a window that has closed is counted as late, in the window of
 * the newest event, and in no measure of its own window.  A schedule's
 * deadline that passes with no record in its slot is a missed slot (the
 * tick checks, so it is seen even though nothing arrives).
 *
 * With emit (the default) the step writes its history as extra records
 * with a field `_quality` ("delta", "score", "mark"): sluice.quality's
 * sinks put them into the quality schema, in the same transaction as the
 * sources' positions; a restart rebuilds the open windows from them
 * (quality_pg.c) and skips what it had counted. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "quality.h"
#include "sluice/clock.h"
#include "sluice/errors.h"
#include "sluice/log.h"
#include "sluice/lua.h"
#include "sluice/stage.h"
#include "sluice/stateful.h"

/* ---- key sets ---- */

int keyset_add(keyset *s, uint64_t h) {
  if (!h) h = 1;
  if ((s->n + 1) * 4 >= s->cap * 3) {
    uint32_t cap = s->cap ? s->cap * 2 : 64;
    uint64_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < s->cap; i++) {
      uint64_t k = s->slots[i];
      if (!k) continue;
      uint32_t j = (uint32_t)k & (cap - 1);
      while (t[j]) j = (j + 1) & (cap - 1);
      t[j] = k;
    }
    free(s->slots);
    s->slots = t;
    s->cap = cap;
  }
  uint32_t j = (uint32_t)h & (s->cap - 1);
  while (s->slots[j]) {
    if (s->slots[j] == h) return 0;
    j = (j + 1) & (s->cap - 1);
  }
  s->slots[j] = h;
  s->n++;
  return 1;
}

/* ---- windows ---- */

void quality_window_free(qwin *w) {
  if (!w) return;
  qc_free(&w->total);
  qc_free(&w->flushed);
  free(w->keys.slots);
  free(w->new_keys);
  free(w);
}

/* The open window of period that starts at start, made if need be; NULL
 * out of memory. */
qwin *quality_window(quality_priv *pv, qfeed *qf, int period, int64_t start) {
  qwin *c = qf->cur[period];
  if (c && c->start == start) return c;
  for (qwin *w = qf->wins; w; w = w->next)
    if (w->period == period && w->start == start) return qf->cur[period] = w;
  qwin *w = calloc(1, sizeof *w);
  if (!w || qc_init(&w->total, qf->f->nfields) || qc_init(&w->flushed, qf->f->nfields)) {
    quality_window_free(w);
    return NULL;
  }
  qf->cur[period] = w;
  w->period = period;
  w->start = start;
  w->end = qw_next((qw_period)period, start, pv->cat->utc_offset_s);
  w->next = qf->wins;
  qf->wins = w;
  return w;
}

static int64_t watermark(const qfeed *qf, const quality_cfg *cfg) {
  return qf->max_event ? qf->max_event - cfg->lateness_ms : INT64_MIN;
}

/* Keeps the overall score of a closed day window for the trend. */
static void add_trend(quality_priv *pv, qfeed *qf, const qwin *w, int keep) {
  double s[QC_NSCORES];
  qc_scores(&w->total, qf->f->weights, s);
  if (keep <= 0) return;
  if (qf->ntrend == keep) {
    memmove(qf->trend, qf->trend + 1, (size_t)(keep - 1) * sizeof *qf->trend);
    qf->ntrend--;
  }
  if (!qf->trend) qf->trend = calloc((size_t)keep, sizeof *qf->trend);
  if (!qf->trend) return;
  qf->trend[qf->ntrend++] = (qtrend){w->start, s[QC_OVERALL]};
  (void)pv;
}

/* Closes the windows of qf that the watermark has passed (or all of them
 * at the end of the input): their last rows, then they are gone. */
static void close_windows(sl_stage *st, quality_priv *pv, sl_step_out *out, qfeed *qf, int all) {
  const quality_cfg *cfg = sl_stage_config(st);
  int64_t wm = watermark(qf, cfg);
  qwin **pw = &qf->wins;
  while (*pw) {
    qwin *w = *pw;
    if (!all && w->end > wm) {
      pw = &w->next;
      continue;
    }
    *pw = w->next;
    if (cfg->emit && out) quality_rows_window(st, pv, out, qf, w, 1);
    if (w->period == QW_DAY) add_trend(pv, qf, w, (int)cfg->trend_days);
    if (qf->cur[w->period] == w) qf->cur[w->period] = NULL;
    quality_window_free(w);
    qf->touched = 1;
  }
}

/* ---- one record ---- */

/* A field value as text, for time fields and keys; 0, or -1 if absent. */
static int value_str(sl_arena *a, sl_value *v, sl_str *out) {
  if (!v) return -1;
  sl_value t = *v;
  const char *why;
  if (t.type == SL_T_JSON && sl_json_materialize(&t, a, &why)) return -1;
  if (t.type == SL_T_STRING) {
    *out = t.u.s;
    return t.u.s.len ? 0 : -1;
  }
  if (t.type == SL_T_INT) {
    char *b = sl_arena_alloc(a, 24);
    if (!b) return -1;
    *out = (sl_str){b, (size_t)snprintf(b, 24, "%lld", (long long)t.u.i)};
    return 0;
  }
  return -1;
}

static int64_t time_field(sl_record *rec, sl_arena *a, const char *name, int64_t dflt) {
  sl_str s;
  int64_t ms;
  if (!name || value_str(a, sl_record_get(rec, name, strlen(name)), &s) ||
      sl_parse_time_ms(s.ptr, s.len, &ms))
    return dflt;
  return ms;
}

static int str_is(sl_str s, const char *z) {
  size_t n = strlen(z);
  return s.len == n && !memcmp(s.ptr, z, n);
}

/* The catalog field named s, by index, or -1. */
static int field_index(const sl_catalog_feed *f, sl_str s) {
  int lo = 0, hi = f->nfields - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const char *n = f->fields[mid].name;
    size_t nl = strlen(n);
    int c = memcmp(s.ptr, n, s.len < nl ? s.len : nl);
    if (!c) c = s.len < nl ? -1 : s.len > nl;
    if (!c) return mid;
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return -1;
}

/* What one record's fields add: each field of the catalog present or not
 * (one pass over the record's fields), and the cleansing outcomes (each
 * field as a whole, the last step's word). */
static void tally_fields(qc_tally *t, const sl_catalog_feed *f, const sl_record *rec) {
  memset(t->field, 0, (size_t)f->nfields);
  for (uint32_t k = 0; k < rec->nfields; k++) {
    const sl_member *m = &rec->fields[k];
    int i = field_index(f, m->name);
    if (i < 0) continue;
    const sl_value *v = &m->value;
    int empty = v->type == SL_T_NULL || (v->type == SL_T_STRING && !v->u.s.len) ||
                (v->type == SL_T_JSON && ((v->flags & SL_VF_PLAIN_STRING) ? v->u.s.len == 2
                                                                         : v->u.s.len && v->u.s.ptr[0] == 'n'));
    if (!empty) t->field[i] |= QT_PRESENT;
  }
  for (uint32_t k = 0; k < rec->meta.noutcomes; k++) {
    const sl_field_outcome *o = &rec->meta.outcomes[k];
    if (o->outcome == SL_OUTCOME_VALID) t->valid++;
    else if (o->outcome == SL_OUTCOME_FIXED) t->fixed++;
    else if (o->outcome == SL_OUTCOME_INVALID) t->invalid++;
    if (o->outcome != SL_OUTCOME_INVALID && o->outcome != SL_OUTCOME_FIXED) continue;
    int i = field_index(f, o->field);
    if (i >= 0) t->field[i] |= o->outcome == SL_OUTCOME_INVALID ? QT_INVALID : QT_FIXED;
  }
}

/* The golden record's word on this record (sl.match's annotation `match`:
 * "compared" and "disagreed" field lists, "survived" and "supplied"
 * counts), when a matching step ran before. */
static void tally_golden(qc_tally *t, const sl_catalog_feed *f, sl_record *rec, sl_arena *a) {
  sl_value *m = sl_record_get(rec, "match", 5);
  if (!m) return;
  sl_value v = *m;
  const char *why;
  if (v.type == SL_T_JSON && sl_json_materialize(&v, a, &why)) return;
  if (v.type != SL_T_OBJECT) return;
  for (uint32_t i = 0; i < v.n; i++) {
    sl_member *mb = &v.u.members[i];
    sl_value x = mb->value;
    if (x.type == SL_T_JSON && sl_json_materialize(&x, a, &why)) continue;
    int k = str_is(mb->name, "compared") ? QT_COMPARED : str_is(mb->name, "disagreed") ? QT_DISAGREED : 0;
    if (k && x.type == SL_T_ARRAY) {
      for (uint32_t j = 0; j < x.n; j++) {
        sl_value e = x.u.items[j];
        if (e.type == SL_T_JSON && sl_json_materialize(&e, a, &why)) continue;
        int fi = e.type == SL_T_STRING ? field_index(f, e.u.s) : -1;
        if (fi >= 0) t->field[fi] |= (uint8_t)k;
      }
    } else if (x.type == SL_T_INT && str_is(mb->name, "survived")) {
      t->survived += x.u.i;
    } else if (x.type == SL_T_INT && str_is(mb->name, "supplied")) {
      t->supplied += x.u.i;
    }
  }
}

/* The business key's hash, or 0 when the feed declares none or a key field
 * is missing. */
static uint64_t key_hash(const sl_catalog_feed *f, sl_record *rec, sl_arena *a) {
  if (!f->key || !f->key[0]) return 0;
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (const char **k = f->key; *k; k++) {
    sl_str s;
    if (value_str(a, sl_record_get(rec, *k, strlen(*k)), &s)) return 0;
    h = XXH3_64bits_withSeed(s.ptr, s.len, h);   /* chained: ("ab","c") is not ("a","bc") */
  }
  return h ? h : 1;
}

/* The marks: a record at or before its source partition's mark was
 * counted before a restart. */
static qmark *mark_of(quality_priv *pv, const char *source, int32_t partition, int make) {
  for (int i = 0; i < pv->nmarks; i++)
    if (pv->marks[i].partition == partition && !strcmp(pv->marks[i].source, source)) return &pv->marks[i];
  if (!make) return NULL;
  if (pv->nmarks == pv->capmarks) {
    int cap = pv->capmarks ? pv->capmarks * 2 : 8;
    qmark *t = realloc(pv->marks, (size_t)cap * sizeof *t);
    if (!t) return NULL;
    pv->marks = t;
    pv->capmarks = cap;
  }
  qmark *m = &pv->marks[pv->nmarks];
  m->source = strdup(source);
  if (!m->source) return NULL;
  m->partition = partition;
  m->offset = m->restored = -1;
  m->touched = 0;
  pv->nmarks++;
  return m;
}

/* 1 when the record was counted before a restart (at or before the mark
 * restored for its source partition), else its position joins the mark.
 * Dead letters come after the batch's records: the mark may have passed
 * them in this run, hence the restored mark decides. */
static int seen_before(quality_priv *pv, sl_step_out *out, const sl_record *rec) {
  if (rec->meta.offset < 0) return 0;
  qmark *m = mark_of(pv, sl_stage_name(sl_step_source(out)), rec->meta.partition, 1);
  if (!m) return 0;
  if (rec->meta.offset <= m->restored) return 1;
  if (rec->meta.offset > m->offset) {
    m->offset = rec->meta.offset;
    m->touched = 1;
  }
  return 0;
}

/* The day window's verdict on the key: 1 a duplicate. */
static int duplicate(qwin *day, uint64_t h) {
  if (!h || !day) return 0;
  int r = keyset_add(&day->keys, h);
  if (r != 1) return r == 0;
  if (day->nnew == day->capnew) {
    uint32_t cap = day->capnew ? day->capnew * 2 : 64;
    uint64_t *t = realloc(day->new_keys, cap * sizeof *t);
    if (!t) return 0;
    day->new_keys = t;
    day->capnew = cap;
  }
  day->new_keys[day->nnew++] = h;
  return 0;
}

/* The deadline a record of event time `event` is due by: the first
 * deadline at or after it (no schedule: event + on_time).  Records come
 * mostly in time order: the last answer serves while it holds. */
static int64_t due_of(qfeed *qf, const quality_cfg *cfg, int64_t event) {
  if (!qf->has_sched) return event + cfg->on_time_ms;
  int64_t t = event - 1;
  if (t >= qf->due_from && t < qf->due) return qf->due;
  qf->due_from = t;
  qf->due = sl_schedule_next(&qf->sched, t);
  return qf->due;
}

/* A record arrived at `arrival`: the slot whose deadline is the first at or
 * after it is filled. */
static void fill_slot(qfeed *qf, int64_t arrival) {
  int64_t t = arrival - 1;
  if (!(t >= qf->afrom && t < qf->adue)) {
    qf->afrom = t;
    qf->adue = sl_schedule_next(&qf->sched, t);
  }
  int64_t d = qf->adue;
  for (int i = 0; i < qf->nfilled; i++)
    if (qf->filled[i] == d) return;
  if (qf->nfilled == Q_FILLED) {   /* full: the latest deadlines matter more */
    int low = 0;
    for (int i = 1; i < qf->nfilled; i++)
      if (qf->filled[i] < qf->filled[low]) low = i;
    if (qf->filled[low] > d) return;
    qf->filled[low] = d;
    return;
  }
  qf->filled[qf->nfilled++] = d;
}

/* Whether deadline d's slot was filled; forgets the deadlines up to d. */
static int slot_filled(qfeed *qf, int64_t d) {
  int filled = 0, k = 0;
  for (int i = 0; i < qf->nfilled; i++) {
    filled |= qf->filled[i] == d;
    if (qf->filled[i] > d) qf->filled[k++] = qf->filled[i];
  }
  qf->nfilled = k;
  return filled;
}

/* The record's feed: the last record's when it carries the same (a
 * batch is mostly one feed's), else the catalog's lookup. */
static const sl_catalog_feed *feed_of(quality_priv *pv, sl_record *rec, sl_arena *a) {
  const sl_meta *m = &rec->meta;
  if (pv->last_feed && m->department.len == pv->last_dept.len && m->feed.len == pv->last_name.len &&
      m->department.len && !memcmp(m->department.ptr, pv->last_dept.ptr, m->department.len) &&
      !memcmp(m->feed.ptr, pv->last_name.ptr, m->feed.len))
    return pv->last_feed;
  const sl_catalog_feed *f = a ? sl_catalog_find_record(pv->cat, rec, a)
                              : sl_catalog_find(pv->cat, m->department, m->feed, m->origin);
  /* The cache keeps its own copy of what the record carried: the record's
   * bytes go with its batch. */
  if (f && m->department.len && m->feed.len && m->department.len < sizeof pv->dept_buf &&
      m->feed.len < sizeof pv->name_buf) {
    memcpy(pv->dept_buf, m->department.ptr, m->department.len);
    memcpy(pv->name_buf, m->feed.ptr, m->feed.len);
    pv->last_dept = (sl_str){pv->dept_buf, m->department.len};
    pv->last_name = (sl_str){pv->name_buf, m->feed.len};
    pv->last_feed = f;
  }
  return f;
}

static int quality_apply(sl_stage *st, sl_step_out *out, sl_record *rec) {
  quality_priv *pv = sl_stage_priv(st);
  const quality_cfg *cfg = sl_stage_config(st);
  sl_arena *a = sl_step_arena(out);
  const sl_catalog_feed *f = feed_of(pv, rec, a);
  if (!f) {
    pv->other.records++;
    return SL_STEP_KEEP;
  }
  if (seen_before(pv, out, rec)) return SL_STEP_KEEP;
  if (sl_record_decode(rec, a)) return SL_STEP_KEEP;   /* failed: the engine dead-letters it */
  qfeed *qf = &pv->feeds[f->index];
  if (!qf->measured) {
    pv->other.records++;
    return SL_STEP_KEEP;
  }
  int64_t arrival = rec->meta.published_ms ? rec->meta.published_ms : rec->meta.arrival_ms;
  if (pv->arrival_field) arrival = time_field(rec, a, cfg->arrival, arrival);
  int64_t event = time_field(rec, a, f->time_field, rec->meta.event_time_ms ? rec->meta.event_time_ms : arrival);

  qc_tally t = {.field = qf->tally};
  t.latency_ms = arrival > event ? arrival - event : 0;
  t.bucket = qc_bucket(t.latency_ms);
  t.on_time = arrival <= due_of(qf, cfg, event);
  tally_fields(&t, f, rec);
  tally_golden(&t, f, rec, a);

  if (event > qf->max_event) qf->max_event = event;
  if (arrival > qf->last_arrival) qf->last_arrival = arrival;
  if (qf->has_sched && arrival > qf->slot_start) {
    fill_slot(qf, arrival);
    qf->overdue = 0;   /* it has delivered since the deadline it missed */
  }
  int64_t wm = watermark(qf, cfg);
  int32_t off = pv->cat->utc_offset_s;
  qwin *day = NULL;
  int late = 0;
  /* The day window decides duplicates for every period. */
  if (pv->has_day && f->key && f->key[0]) {
    int64_t s = qw_start(QW_DAY, event, off);
    if (qw_next(QW_DAY, s, off) > wm) day = quality_window(pv, qf, QW_DAY, s);
    t.duplicate = duplicate(day, key_hash(f, rec, a));
  }
  for (int i = 0; i < pv->nperiods; i++) {
    int p = pv->periods[i];
    int64_t s = qw_start((qw_period)p, event, off);
    qwin *w = qf->cur[p];
    if (!w || w->start != s) {
      if (qw_next((qw_period)p, s, off) <= wm) {
        /* Its window has closed: late, in the window of the newest event. */
        late = 1;
        w = quality_window(pv, qf, p, qw_start((qw_period)p, qf->max_event, off));
        if (w) {
          w->total.late++;
          w->touched = 1;
        }
        continue;
      }
      w = quality_window(pv, qf, p, s);
      if (!w) continue;
    }
    qc_count_record(&w->total, &t);
    w->touched = 1;
  }
  qc_count_record(&qf->total, &t);
  qf->total.late += late;
  qf->touched = 1;
  if (qf->max_event == event) close_windows(st, pv, out, qf, 0);
  return SL_STEP_KEEP;
}

/* A dead letter of the steps before: counted against its feed, its reason
 * kept as an example with long digit runs (IDs, phones) masked. */
static void quality_dead(sl_stage *st, sl_step_out *out, const sl_record *rec) {
  quality_priv *pv = sl_stage_priv(st);
  if (seen_before(pv, out, rec)) return;
  const sl_catalog_feed *f = feed_of(pv, (sl_record *)rec, NULL);
  if (!f) {
    pv->other.dead_letters++;
    return;
  }
  qfeed *qf = &pv->feeds[f->index];
  if (!qf->measured) {
    pv->other.dead_letters++;
    return;
  }
  qf->total.dead_letters++;
  qf->touched = 1;
  /* In the windows of the newest event: a dead letter's own time cannot be trusted. */
  int32_t off = pv->cat->utc_offset_s;
  for (int i = 0; i < pv->nperiods && qf->max_event; i++) {
    qwin *w = quality_window(pv, qf, pv->periods[i], qw_start((qw_period)pv->periods[i], qf->max_event, off));
    if (!w) continue;
    w->total.dead_letters++;
    w->touched = 1;
  }
  char *ex = qf->examples[qf->nexamples % Q_EXAMPLES];
  qf->nexamples++;
  const char *why = rec->error ? rec->error : "dead letter";
  size_t n = 0;
  for (const char *p = why; *p && n + 1 < Q_EXAMPLE_LEN; p++) {
    size_t run = 0;
    while (p[run] >= '0' && p[run] <= '9') run++;
    if (run >= 6) {
      for (size_t k = 0; k < run && n + 1 < Q_EXAMPLE_LEN; k++) ex[n++] = k < 2 || k + 2 >= run ? p[k] : '*';
      p += run - 1;
      continue;
    }
    ex[n++] = *p;
  }
  ex[n] = 0;
}

/* ---- the schedule ---- */

/* Every deadline of qf's schedule up to now: a slot with no record in it
 * is missed, in the windows of the deadline's time. */
static void check_schedule(sl_stage *st, quality_priv *pv, sl_step_out *out, qfeed *qf, int64_t now) {
  if (!qf->has_sched) return;
  int32_t off = pv->cat->utc_offset_s;
  int guard = 0;
  while (qf->next_deadline <= now && guard++ < 100000) {
    int missed = !slot_filled(qf, qf->next_deadline);
    qf->total.slots++;
    qf->total.missed += missed;
    /* Overdue until a record comes: one may have come after this deadline already. */
    qf->overdue = missed && qf->last_arrival <= qf->next_deadline;
    for (int i = 0; i < pv->nperiods; i++) {
      int p = pv->periods[i];
      int64_t s = qw_start((qw_period)p, qf->next_deadline, off);
      if (qw_next((qw_period)p, s, off) <= watermark(qf, sl_stage_config(st))) continue;
      qwin *w = quality_window(pv, qf, p, s);
      if (!w) continue;
      w->total.slots++;
      w->total.missed += missed;
      w->touched = 1;
    }
    qf->slot_start = qf->next_deadline;
    qf->next_deadline = sl_schedule_next(&qf->sched, qf->next_deadline);
    qf->touched = 1;
  }
  (void)out;
}

/* ---- the end of a batch, a tick, the end of the input ---- */

static void flush_rows(sl_stage *st, quality_priv *pv, sl_step_out *out) {
  const quality_cfg *cfg = sl_stage_config(st);
  for (int i = 0; i < pv->nfeeds; i++) {
    qfeed *qf = &pv->feeds[i];
    if (!qf->touched) continue;
    for (qwin *w = qf->wins; w; w = w->next) {
      if (!w->touched) continue;
      if (cfg->emit) quality_rows_window(st, pv, out, qf, w, 0);
      qc_copy(&w->flushed, &w->total);
      w->nnew = 0;
      w->touched = 0;
    }
  }
  if (cfg->emit) quality_rows_marks(st, pv, out);
  for (int i = 0; i < pv->nmarks; i++) pv->marks[i].touched = 0;
  quality_share_update(pv);
  for (int i = 0; i < pv->nfeeds; i++) pv->feeds[i].touched = 0;
}

static void quality_batch_end(sl_stage *st, sl_step_out *out) {
  flush_rows(st, sl_stage_priv(st), out);
}

static void quality_tick(sl_stage *st, sl_step_out *out, int64_t now_ms) {
  quality_priv *pv = sl_stage_priv(st);
  for (int i = 0; i < pv->nfeeds; i++) check_schedule(st, pv, out, &pv->feeds[i], now_ms);
  flush_rows(st, pv, out);
}

static void quality_finish(sl_stage *st, sl_step_out *out) {
  quality_priv *pv = sl_stage_priv(st);
  for (int i = 0; i < pv->nfeeds; i++) close_windows(st, pv, out, &pv->feeds[i], 1);
  flush_rows(st, pv, out);
}

/* ---- init ---- */

static int64_t parse_time_opt(const char *s) {
  int64_t ms;
  return s && sl_parse_time_ms(s, strlen(s), &ms) == 0 ? ms : INT64_MIN;
}

static int quality_init(sl_stage *st) {
  quality_cfg *cfg = sl_stage_config(st);
  quality_priv *pv = sl_stage_priv(st);
  sl_buf err = SL_BUF_INIT;
  int rc = 0;
  lua_State *L = sl_stage_lua(st);
  lua_rawgeti(L, LUA_REGISTRYINDEX, cfg->catalog);
  rc = sl_catalog_load(L, -1, &pv->cat, &err);
  lua_pop(L, 1);
  if (rc) goto fail;
  for (char **p = cfg->periods; p && *p; p++) {
    int k = qw_period_of(*p);
    if (k < 0) {
      sl_buf_printf(&err, "periods: unknown period '%s' (hour, day, month)", *p);
      rc = SL_EOPTION;
      goto fail;
    }
    pv->periods[pv->nperiods++] = k;
    if (pv->nperiods == QW_NPERIODS) break;
  }
  if (!cfg->periods)
    for (int p = 0; p < QW_NPERIODS; p++) pv->periods[pv->nperiods++] = p;
  for (int i = 0; i < pv->nperiods; i++) pv->has_day |= pv->periods[i] == QW_DAY;
  if (!pv->nperiods) {
    sl_buf_puts(&err, "periods: at least one of hour, day, month");
    rc = SL_EOPTION;
    goto fail;
  }
  pv->schedule_from = cfg->schedule_from ? parse_time_opt(cfg->schedule_from) : sl_now_ms();
  if (pv->schedule_from == INT64_MIN) {
    sl_buf_printf(&err, "schedule_from: expected an RFC 3339 time, got \"%s\"", cfg->schedule_from);
    rc = SL_EOPTION;
    goto fail;
  }
  if (cfg->trend_days < 0 || cfg->trend_days > 3660) {
    sl_buf_puts(&err, "trend_days: 0 to 3660");
    rc = SL_EOPTION;
    goto fail;
  }
  pv->arrival_field = cfg->arrival != NULL;
  pv->pipeline = sl_pipeline_name(sl_stage_pipeline(st));
  pv->nfeeds = pv->cat->nfeeds;
  pv->feeds = calloc((size_t)pv->nfeeds + 1, sizeof *pv->feeds);
  if (!pv->feeds || qc_init(&pv->other, 0)) {
    rc = SL_ENOMEM;
    goto fail;
  }
  for (int i = 0; i < pv->nfeeds; i++) {
    qfeed *qf = &pv->feeds[i];
    qf->f = &pv->cat->feeds[i];
    qf->measured = !cfg->domain || (qf->f->domain && !strcmp(qf->f->domain, cfg->domain));
    qf->tally = calloc((size_t)qf->f->nfields + 1, 1);
    if (!qf->tally || qc_init(&qf->total, qf->f->nfields)) {
      rc = SL_ENOMEM;
      goto fail;
    }
    if (!qf->f->schedule || !qf->measured) continue;
    char why[160];
    if (sl_schedule_parse(qf->f->schedule, pv->cat->utc_offset_s, &qf->sched, why, sizeof why)) {
      if (err.len) sl_buf_puts(&err, "; ");
      sl_buf_printf(&err, "%s: feed %s: schedule: %s", qf->f->where ? qf->f->where : "?", qf->f->id, why);
      rc = SL_EOPTION;
      continue;
    }
    qf->has_sched = 1;
    qf->slot_start = pv->schedule_from;
    qf->next_deadline = sl_schedule_next(&qf->sched, pv->schedule_from);
  }
  if (rc) goto fail;
  if (quality_share_init(pv)) {
    rc = SL_ENOMEM;
    goto fail;
  }
  sl_stateful_tick(st, cfg->tick_ms);
  return 0;
fail:
  sl_log_error(sl_stage_name(st), "%s: %s", sl_stage_where(st), sl_buf_text(&err));
  sl_buf_free(&err);
  return rc ? rc : SL_EOPTION;
}

static void quality_destroy(sl_stage *st) {
  quality_priv *pv = sl_stage_priv(st);
  quality_share_free(pv);
  for (int i = 0; pv->feeds && i < pv->nfeeds; i++) {
    qfeed *qf = &pv->feeds[i];
    while (qf->wins) {
      qwin *w = qf->wins;
      qf->wins = w->next;
      quality_window_free(w);
    }
    qc_free(&qf->total);
    free(qf->trend);
    free(qf->tally);
  }
  free(pv->feeds);
  qc_free(&pv->other);
  for (int i = 0; i < pv->nmarks; i++) free(pv->marks[i].source);
  free(pv->marks);
  sl_buf_free(&pv->row);
  sl_catalog_free(pv->cat);
  memset(pv, 0, sizeof *pv);
}

/* sluice check: the catalog, the periods and every feed's schedule. */
static int quality_check(sl_stage *st) {
  int rc = quality_init(st);
  quality_destroy(st);
  return rc;
}

static const sl_option quality_options[] = {
    {"catalog", SL_OPT_LUA, NULL, SL_REQUIRED, offsetof(quality_cfg, catalog),
     "The feed catalog (sl.catalog): which feeds to measure, their schedules and weights.", "table"},
    {"periods", SL_OPT_STRLIST, NULL, 0, offsetof(quality_cfg, periods),
     "Event-time windows to measure over: hour, day, month (default all three).", NULL},
    {"lateness", SL_OPT_DURATION, "1h", 0, offsetof(quality_cfg, lateness_ms),
     "How far behind a feed's newest event time its windows stay open for late records.", NULL},
    {"tick", SL_OPT_DURATION, "10s", 0, offsetof(quality_cfg, tick_ms),
     "How often the feeds' schedules are checked for missed deadlines.", NULL},
    {"on_time", SL_OPT_DURATION, "24h", 0, offsetof(quality_cfg, on_time_ms),
     "For a feed without a schedule: a record is on time when it arrives within this of its event.", NULL},
    {"arrival", SL_OPT_STR, NULL, 0, offsetof(quality_cfg, arrival),
     "A field holding when the record reached the platform (replays, tests); else the transport's time.", NULL},
    {"schedule_from", SL_OPT_STR, NULL, 0, offsetof(quality_cfg, schedule_from),
     "RFC 3339 time the first schedule slot starts at (default: when the step starts).", NULL},
    {"platform", SL_OPT_STR, NULL, 0, offsetof(quality_cfg, platform),
     "PostgreSQL conninfo of the history tables: the open windows are restored from them.", NULL},
    {"schema", SL_OPT_STR, "quality", 0, offsetof(quality_cfg, schema),
     "Schema of the history tables.", NULL},
    {"domain", SL_OPT_STR, NULL, 0, offsetof(quality_cfg, domain),
     "Measure only the catalog's feeds of this domain (their `domain`): what this pipeline reads.", NULL},
    {"emit", SL_OPT_BOOL, "true", 0, offsetof(quality_cfg, emit),
     "Emit the history rows (field _quality: delta, score, mark) for sluice.quality's sinks.", NULL},
    {"trend_days", SL_OPT_INT, "30", 0, offsetof(quality_cfg, trend_days),
     "Closed day windows kept per feed for the live scorecard's trend.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_plugin_command quality_commands[] = {
    {"report", "the monthly (or daily) data-sharing evaluation of every department, html, csv or json",
     quality_report_help, quality_report_command, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static const sl_stateful quality_stateful = {
    .restore = quality_restore,
    .apply = quality_apply,
    .dead = quality_dead,
    .batch_end = quality_batch_end,
    .tick = quality_tick,
    .finish = quality_finish,
};

/* Its catalog: sluice tap masks the sensitive fields. */
static const sl_catalog *quality_catalog(sl_stage *st) {
  return ((quality_priv *)sl_stage_priv(st))->cat;
}

const sl_plugin quality_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_STEP,
    .name = "quality",
    .doc = "Measures each department's data-sharing performance per feed (docs/metrics.md).",
    .options = quality_options,
    .config_size = sizeof(quality_cfg),
    .priv_size = sizeof(quality_priv),
    .init = quality_init,
    .destroy = quality_destroy,
    .check = quality_check,
    .collect = quality_collect,
    .stateful = &quality_stateful,
    .pages = quality_pages,
    .commands = quality_commands,
    .catalog = quality_catalog,
};
