/* The scorecard's model: dimension names, grades, ranking, and the two
 * machine-readable renderings, CSV (RFC 4180) and JSON.  The HTML page is
 * scorecard_html.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scorecard.h"
#include "scorecard_fmt.h"

static const char *const dim_names[SL_NDIMS] = {
    "normativeness", "completeness", "accuracy", "consistency",
    "timeliness",    "accessibility", "overall"};

const char *sl_card_dim_name(sl_dim d) {
  return d >= 0 && d < SL_NDIMS ? dim_names[d] : "?";
}

int sl_card_has_score(double score) {
  return !isnan(score) && score >= 0;
}

/* The thresholds of the grades; docs/metrics.md states the same. */
const char *sl_card_grade(double score) {
  if (!sl_card_has_score(score)) return "none";
  if (score >= 0.9) return "good";
  if (score >= 0.75) return "fair";
  return "poor";
}

int sl_card_place(const sl_card *c, int dept) {
  double mine = c->depts[dept].score[SL_DIM_OVERALL];
  if (!sl_card_has_score(mine)) return 0;
  int place = 1;
  for (int i = 0; i < c->ndepts; i++)
    if (sl_card_has_score(c->depts[i].score[SL_DIM_OVERALL]) &&
        c->depts[i].score[SL_DIM_OVERALL] > mine)
      place++;
  return place;
}

/* ---- ranking ---- */

static int cmp_str(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "");
}

/* Best first; no score after every score. */
static int cmp_score(double a, double b) {
  int ha = sl_card_has_score(a), hb = sl_card_has_score(b);
  if (ha != hb) return ha ? -1 : 1;
  if (!ha || a == b) return 0;
  return a > b ? -1 : 1;
}

static int cmp_dept(const void *pa, const void *pb) {
  const sl_card_dept *a = pa, *b = pb;
  int r = cmp_score(a->score[SL_DIM_OVERALL], b->score[SL_DIM_OVERALL]);
  if (!r) r = cmp_str(a->name, b->name);
  return r ? r : cmp_str(a->id, b->id);
}

static int cmp_feed(const void *pa, const void *pb) {
  const sl_card_feed *a = pa, *b = pb;
  int r = cmp_score(a->score[SL_DIM_OVERALL], b->score[SL_DIM_OVERALL]);
  return r ? r : cmp_str(a->name, b->name);
}

void sl_card_rank(sl_card *c) {
  if (c->ndepts > 1) qsort(c->depts, (size_t)c->ndepts, sizeof *c->depts, cmp_dept);
  for (int i = 0; i < c->ndepts; i++)
    if (c->depts[i].nfeeds > 1)
      qsort(c->depts[i].feeds, (size_t)c->depts[i].nfeeds, sizeof *c->depts[i].feeds,
            cmp_feed);
}

/* ---- CSV ---- */

/* RFC 4180: quoted when it holds a comma, quote, CR or LF; quotes doubled. */
static void csv_text(sl_buf *b, const char *s) {
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) {
    sl_buf_puts(b, s);
    return;
  }
  sl_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') sl_buf_putc(b, '"');
    sl_buf_putc(b, *s);
  }
  sl_buf_putc(b, '"');
}

static void csv_field(sl_buf *b, const char *s) {
  sl_buf_putc(b, ',');
  csv_text(b, s);
}

/* Rounded to places decimals, then as short as it reads back: the CSV is
 * for spreadsheets, where 0.9659 reads better than 0.9659199999999999
 * (the JSON keeps every digit). */
static void csv_number(sl_buf *b, double d, double places) {
  sl_buf_putc(b, ',');
  if (!sl_card_has_score(d)) return;
  double scale = pow(10, places);
  sl_buf_json_double(b, round(d * scale) / scale);
}

static void csv_count(sl_buf *b, int64_t n) {
  sl_buf_putc(b, ',');
  sl_buf_int64(b, n);
}

static const char *const csv_counters =
    "records,dead_letters,late,duplicates,missed_slots,latency_p50_s,latency_p95_s";

static void csv_header(sl_buf *b) {
  sl_buf_puts(b, "period,rank,department_id,department,feed,feed_title");
  for (int d = 0; d < SL_NDIMS; d++) sl_buf_printf(b, ",%s", dim_names[d]);
  sl_buf_printf(b, ",%s\r\n", csv_counters);
}

/* f NULL: the department's own row (it has no feed). */
static void csv_row(sl_buf *b, const sl_card *c, int di, const sl_card_feed *f) {
  const sl_card_dept *d = &c->depts[di];
  csv_text(b, c->period);
  int place = sl_card_place(c, di);
  sl_buf_putc(b, ',');
  if (place) sl_buf_printf(b, "%d", place);
  csv_field(b, d->id);
  csv_field(b, d->name);
  csv_field(b, f ? f->name : NULL);
  csv_field(b, f ? f->title : NULL);
  for (int k = 0; k < SL_NDIMS; k++) csv_number(b, f ? f->score[k] : d->score[k], 4);
  if (f) {
    csv_count(b, f->records);
    csv_count(b, f->dead_letters);
    csv_count(b, f->late);
    csv_count(b, f->duplicates);
    csv_count(b, f->missed_slots);
    csv_number(b, f->latency_p50_s, 3);
    csv_number(b, f->latency_p95_s, 3);
  } else {
    sl_buf_puts(b, ",,,,,,,");   /* the seven counters of csv_counters */
  }
  sl_buf_puts(b, "\r\n");
}

void sl_card_csv(const sl_card *c, sl_buf *out) {
  csv_header(out);
  for (int i = 0; i < c->ndepts; i++) {
    if (!c->depts[i].nfeeds) csv_row(out, c, i, NULL);
    for (int j = 0; j < c->depts[i].nfeeds; j++) csv_row(out, c, i, &c->depts[i].feeds[j]);
  }
}

/* ---- JSON ---- */

/* "key": at the start of a member; first members pass no comma. */
static void json_key(sl_buf *b, const char *key, int comma) {
  if (comma) sl_buf_putc(b, ',');
  sl_buf_json_string(b, key, strlen(key));
  sl_buf_putc(b, ':');
}

/* A string, or null for NULL. */
static void json_text(sl_buf *b, const char *s) {
  if (s) sl_buf_json_string(b, s, strlen(s));
  else sl_buf_puts(b, "null");
}

static void json_str(sl_buf *b, const char *key, const char *s) {
  json_key(b, key, 1);
  json_text(b, s);
}

/* A score, latency or other non-negative number; null when there is none. */
static void json_num(sl_buf *b, const char *key, double d) {
  json_key(b, key, 1);
  if (sl_card_has_score(d)) sl_buf_json_double(b, d);
  else sl_buf_puts(b, "null");
}

static void json_int(sl_buf *b, const char *key, int64_t n) {
  json_key(b, key, 1);
  sl_buf_int64(b, n);
}

static void json_scores(sl_buf *b, const double *score) {
  json_key(b, "scores", 1);
  sl_buf_putc(b, '{');
  for (int d = 0; d < SL_NDIMS; d++) {
    json_key(b, dim_names[d], d > 0);
    if (sl_card_has_score(score[d])) sl_buf_json_double(b, score[d]);
    else sl_buf_puts(b, "null");
  }
  sl_buf_putc(b, '}');
}

static void json_trend(sl_buf *b, const sl_card *c, const sl_card_point *p, int n) {
  json_key(b, "trend", 1);
  sl_buf_putc(b, '[');
  for (int i = 0; i < n; i++) {
    sl_buf_puts(b, i ? ",{" : "{");
    json_key(b, "start", 0);
    sl_buf_putc(b, '"');
    sl__card_iso_local(b, p[i].start_ms, c->utc_offset_s);
    sl_buf_putc(b, '"');
    json_int(b, "start_ms", p[i].start_ms);
    json_num(b, "score", p[i].score);
    sl_buf_putc(b, '}');
  }
  sl_buf_putc(b, ']');
}

static void json_issues(sl_buf *b, const sl_card_feed *f) {
  json_key(b, "issues", 1);
  sl_buf_putc(b, '[');
  for (int i = 0; i < f->nissues; i++) {
    const sl_card_issue *is = &f->issues[i];
    sl_buf_puts(b, i ? ",{" : "{");
    json_key(b, "field", 0);
    json_text(b, is->field);
    json_str(b, "rule", is->rule);
    json_int(b, "count", is->count);
    json_str(b, "example", is->example);
    sl_buf_putc(b, '}');
  }
  sl_buf_putc(b, ']');
}

static void json_feed(sl_buf *b, const sl_card *c, const sl_card_feed *f) {
  sl_buf_putc(b, '{');
  json_key(b, "name", 0);
  json_text(b, f->name);
  json_str(b, "title", f->title);
  json_scores(b, f->score);
  json_int(b, "records", f->records);
  json_int(b, "dead_letters", f->dead_letters);
  json_int(b, "late", f->late);
  json_int(b, "duplicates", f->duplicates);
  json_int(b, "missed_slots", f->missed_slots);
  json_num(b, "latency_p50_s", f->latency_p50_s);
  json_num(b, "latency_p95_s", f->latency_p95_s);
  json_trend(b, c, f->trend, f->ntrend);
  json_issues(b, f);
  sl_buf_putc(b, '}');
}

static void json_dept(sl_buf *b, const sl_card *c, int di) {
  const sl_card_dept *d = &c->depts[di];
  int place = sl_card_place(c, di);
  sl_buf_putc(b, '{');
  json_key(b, "rank", 0);
  if (place) sl_buf_printf(b, "%d", place);
  else sl_buf_puts(b, "null");
  json_str(b, "id", d->id);
  json_str(b, "name", d->name);
  json_scores(b, d->score);
  json_trend(b, c, d->trend, d->ntrend);
  json_key(b, "feeds", 1);
  sl_buf_putc(b, '[');
  for (int j = 0; j < d->nfeeds; j++) {
    if (j) sl_buf_putc(b, ',');
    json_feed(b, c, &d->feeds[j]);
  }
  sl_buf_puts(b, "]}");
}

void sl_card_json(const sl_card *c, sl_buf *out) {
  sl_buf_putc(out, '{');
  json_key(out, "title", 0);
  json_text(out, c->title);
  json_str(out, "period", c->period);
  json_key(out, "generated", 1);
  sl_buf_putc(out, '"');
  sl__card_iso_utc(out, c->generated_ms);
  sl_buf_putc(out, '"');
  json_int(out, "utc_offset_s", c->utc_offset_s);
  json_key(out, "departments", 1);
  sl_buf_putc(out, '[');
  for (int i = 0; i < c->ndepts; i++) {
    if (i) sl_buf_putc(out, ',');
    json_dept(out, c, i);
  }
  sl_buf_puts(out, "]}");
}
