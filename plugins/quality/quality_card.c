/* /scorecard on the admin endpoint: the live scorecard of the feeds this
 * step measures, from what the lane shares (quality_export.c): each feed's
 * current month window, its closed days as the trend, the worst fields of
 * the month with the latest dead letters (masked).  /scorecard/<department>
 * is one department's part, the page the city sends it. */
#include <stdlib.h>
#include <string.h>

#include "quality.h"
#include "scorecard.h"
#include "sluice/clock.h"
#include "sluice/stage.h"

/* One department's feeds from the shared copies, into cd (arrays in arena
 * `mem`, freed by the caller). */
typedef struct card_mem {
  void **ptrs;
  int n, cap;
} card_mem;

static void *card_alloc(card_mem *m, size_t n) {
  if (m->n == m->cap) {
    int cap = m->cap ? m->cap * 2 : 32;
    void **t = realloc(m->ptrs, (size_t)cap * sizeof *t);
    if (!t) return NULL;
    m->ptrs = t;
    m->cap = cap;
  }
  void *p = calloc(1, n ? n : 1);
  if (p) m->ptrs[m->n++] = p;
  return p;
}

static void card_mem_free(card_mem *m) {
  for (int i = 0; i < m->n; i++) free(m->ptrs[i]);
  free(m->ptrs);
}

/* The worst fields of counts c: most invalid plus missing first. */
static void feed_issues(card_mem *m, sl_card_feed *cf, const qfeed *qf, const qshare *s) {
  const qc_counts *c = &s->month;
  cf->issues = card_alloc(m, (size_t)(c->nfields + 1) * sizeof *cf->issues);
  if (!cf->issues) return;
  for (int i = 0; i < c->nfields; i++) {
    int64_t bad = c->field[i * QC_F_N + QC_F_INVALID] + c->field[i * QC_F_N + QC_F_MISSING];
    if (!bad) continue;
    const sl_catalog_field *fd = &qf->f->fields[i];
    sl_card_issue is = {fd->name, fd->rule.type == SL_T_STRING ? fd->rule.u.s.ptr : "", "", bad};
    int j = cf->nissues++;
    while (j > 0 && cf->issues[j - 1].count < bad) {
      cf->issues[j] = cf->issues[j - 1];
      j--;
    }
    cf->issues[j] = is;
  }
  if (cf->nissues > 5) cf->nissues = 5;
  /* The latest dead letters, with the first issue (or alone). */
  if (s->nexamples && cf->nissues) cf->issues[0].example = s->examples[(s->nexamples - 1) % Q_EXAMPLES];
}

static void feed_card(card_mem *m, sl_card_feed *cf, const qfeed *qf, const qshare *s) {
  cf->name = qf->f->name;
  cf->title = qf->f->title ? qf->f->title : qf->f->name;
  cf->records = s->month.records;
  cf->dead_letters = s->month.dead_letters;
  cf->late = s->month.late;
  cf->duplicates = s->month.duplicates;
  cf->missed_slots = s->month.missed;
  cf->latency_p50_s = qc_quantile(&s->month, 0.5);
  cf->latency_p95_s = qc_quantile(&s->month, 0.95);
  for (int d = 0; d < QC_NSCORES; d++) cf->score[d] = s->month_scores[d];
  cf->trend = card_alloc(m, (size_t)(s->ntrend + 1) * sizeof *cf->trend);
  for (int i = 0; cf->trend && i < s->ntrend; i++) {
    if (s->trend[i].overall == QC_NONE) continue;
    cf->trend[cf->ntrend++] = (sl_card_point){s->trend[i].start, s->trend[i].overall};
  }
  feed_issues(m, cf, qf, s);
}

/* A department's scores: its feeds', weighted by their records; its trend:
 * the mean of its feeds' per day. */
static void dept_rollup(card_mem *m, sl_card_dept *cd) {
  for (int d = 0; d < QC_NSCORES; d++) {
    double sum = 0, w = 0;
    for (int i = 0; i < cd->nfeeds; i++) {
      const sl_card_feed *f = &cd->feeds[i];
      if (f->score[d] == QC_NONE) continue;
      double v = (double)(f->records ? f->records : 1);
      sum += v * f->score[d];
      w += v;
    }
    cd->score[d] = w > 0 ? sum / w : QC_NONE;
  }
  int cap = 0;
  for (int i = 0; i < cd->nfeeds; i++) cap += cd->feeds[i].ntrend;
  cd->trend = card_alloc(m, (size_t)(cap + 1) * sizeof *cd->trend);
  int *k = card_alloc(m, (size_t)(cap + 1) * sizeof *k);
  if (!cd->trend || !k) return;
  for (int i = 0; i < cd->nfeeds; i++)
    for (int j = 0; j < cd->feeds[i].ntrend; j++) {
      sl_card_point p = cd->feeds[i].trend[j];
      int at = 0;
      while (at < cd->ntrend && cd->trend[at].start_ms < p.start_ms) at++;
      if (at < cd->ntrend && cd->trend[at].start_ms == p.start_ms) {
        cd->trend[at].score += p.score;
        k[at]++;
        continue;
      }
      memmove(&cd->trend[at + 1], &cd->trend[at], (size_t)(cd->ntrend - at) * sizeof *cd->trend);
      memmove(&k[at + 1], &k[at], (size_t)(cd->ntrend - at) * sizeof *k);
      cd->trend[at] = p;
      k[at] = 1;
      cd->ntrend++;
    }
  for (int i = 0; i < cd->ntrend; i++) cd->trend[i].score /= k[i];
}

/* How many of the department's feeds this step measures. */
static int measured_feeds(const quality_priv *pv, const sl_catalog_dept *d) {
  int n = 0;
  for (int k = 0; k < d->nfeeds; k++) n += pv->feeds[d->first_feed + k].measured;
  return n;
}

static int serve_scorecard(sl_stage *st, const char *path, sl_buf *body, const char **type) {
  quality_priv *pv = sl_stage_priv(st);
  const char *dept_only = strncmp(path, "/scorecard/", 11) == 0 && path[11] ? path + 11 : NULL;
  if (dept_only) {
    int known = 0;
    for (int i = 0; i < pv->cat->ndepts; i++)
      if (!strcmp(pv->cat->depts[i].id, dept_only)) known = 1 + measured_feeds(pv, &pv->cat->depts[i]);
    if (known < 2) {
      sl_buf_printf(body, known ? "department '%s': none of its feeds is measured by this pipeline\n"
                                : "no department '%s' in the catalog\n", dept_only);
      return 404;
    }
  }
  card_mem m = {0};
  sl_card card = {.title = "Data-sharing scorecard", .period = "this month (live)",
                  .generated_ms = sl_now_ms(), .utc_offset_s = pv->cat->utc_offset_s};
  card.depts = card_alloc(&m, (size_t)(pv->cat->ndepts + 1) * sizeof *card.depts);
  if (!card.depts) {
    card_mem_free(&m);
    sl_buf_puts(body, "out of memory\n");
    return 503;
  }
  pthread_mutex_lock(&pv->mu);
  for (int i = 0; i < pv->cat->ndepts; i++) {
    const sl_catalog_dept *d = &pv->cat->depts[i];
    if (!measured_feeds(pv, d)) continue;   /* another pipeline's */
    sl_card_dept *cd = &card.depts[card.ndepts++];
    cd->id = d->id;
    cd->name = d->name;
    cd->feeds = card_alloc(&m, (size_t)(d->nfeeds + 1) * sizeof *cd->feeds);
    for (int k = 0; cd->feeds && k < d->nfeeds; k++)
      if (pv->feeds[d->first_feed + k].measured)
        feed_card(&m, &cd->feeds[cd->nfeeds++], &pv->feeds[d->first_feed + k], &pv->share[d->first_feed + k]);
    dept_rollup(&m, cd);
  }
  sl_card_rank(&card);
  sl_card_html(&card, dept_only, body);
  pthread_mutex_unlock(&pv->mu);
  card_mem_free(&m);
  *type = "text/html; charset=utf-8";
  return body->oom ? 503 : 200;
}

const sl_plugin_page quality_pages[] = {
    {"/scorecard", "the data-sharing scorecard (HTML); /scorecard/<department> for one department",
     serve_scorecard},
    {NULL, NULL, NULL},
};
