/* Restoring sl.quality from its history tables (lua/sluice/quality.lua)
 * when it starts with platform = conninfo:
 *
 *   - the open windows: the sum of their delta rows (a window whose score
 *     row says closed is final: its deltas are deleted, it stays closed);
 *   - the day windows' business keys, for duplicates;
 *   - the marks: each source partition's last position counted (a record
 *     at or before it is not counted again), each feed's newest event
 *     time, last deadline passed and last arrival;
 *   - the closed day windows' overall scores, for the trend;
 *   - the greatest seq, so that new rows never reuse a key.
 *
 * The queries are small (open windows only) and run once, blocking, before
 * any source starts.  Missing tables are an empty history. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality.h"
#include "sluice/errors.h"
#include "sluice/log.h"
#include "sluice/stage.h"

typedef struct restore {
  sl_stage *st;
  quality_priv *pv;
  PGconn *c;
  const char *schema;
} restore;

/* Runs sql with the pipeline's name as $1; NULL after logging. */
static PGresult *query(restore *r, const char *fmt) {
  char sql[2048];
  char *o = sql;
  /* @ stands for the schema (checked: a plain identifier). */
  for (const char *p = fmt; *p && o < sql + sizeof sql - 64; p++) {
    if (*p == '@') o += snprintf(o, 64, "%s", r->schema);
    else *o++ = *p;
  }
  *o = 0;
  const char *params[1] = {r->pv->pipeline};
  PGresult *res = PQexecParams(r->c, sql, 1, NULL, params, NULL, NULL, 0);
  ExecStatusType s = PQresultStatus(res);
  if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) return res;
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (!state || strcmp(state, "42P01"))   /* undefined_table: no history yet */
    sl_log_error(sl_stage_name(r->st), "restore: %s", PQresultErrorMessage(res));
  PQclear(res);
  return NULL;
}

static qfeed *feed_of(quality_priv *pv, const char *dept, const char *feed) {
  const sl_catalog_feed *f = sl_catalog_find(pv->cat, (sl_str){dept, strlen(dept)},
                                             (sl_str){feed, strlen(feed)}, (sl_str){NULL, 0});
  return f ? &pv->feeds[f->index] : NULL;
}

static int load_windows(restore *r) {
  quality_priv *pv = r->pv;
  PGresult *res = query(r,
      "select d.period, (extract(epoch from d.period_start) * 1000)::int8, d.department, d.feed, "
      "e.key, sum(e.value::numeric)::int8 "
      "from @.feed_deltas d cross join lateral jsonb_each_text(d.counts) e "
      "where d.pipeline = $1 group by 1, 2, 3, 4, 5");
  if (!res) return 0;
  int n = PQntuples(res);
  for (int i = 0; i < n; i++) {
    int p = qw_period_of(PQgetvalue(res, i, 0));
    qfeed *qf = feed_of(pv, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
    if (p < 0 || !qf) continue;   /* a period or feed no longer measured */
    qwin *w = quality_window(pv, qf, p, strtoll(PQgetvalue(res, i, 1), NULL, 10));
    if (!w) {
      PQclear(res);
      return SL_ENOMEM;
    }
    qc_add_named(&w->total, qf->f, PQgetvalue(res, i, 4), strtoll(PQgetvalue(res, i, 5), NULL, 10));
  }
  PQclear(res);
  res = query(r,
      "select (extract(epoch from d.period_start) * 1000)::int8, d.department, d.feed, k::numeric::int8 "
      "from @.feed_deltas d cross join lateral jsonb_array_elements_text(d.keys) k "
      "where d.pipeline = $1 and d.period = 'day'");
  if (!res) return 0;
  n = PQntuples(res);
  for (int i = 0; i < n; i++) {
    qfeed *qf = feed_of(pv, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    qwin *w = qf ? quality_window(pv, qf, QW_DAY, strtoll(PQgetvalue(res, i, 0), NULL, 10)) : NULL;
    if (w && keyset_add(&w->keys, (uint64_t)strtoll(PQgetvalue(res, i, 3), NULL, 10)) < 0) {
      PQclear(res);
      return SL_ENOMEM;
    }
  }
  PQclear(res);
  return 0;
}

/* "~event/<dept>/<feed>" and the like: the feed's own marks. */
static int feed_mark(quality_priv *pv, const char *source, int64_t v) {
  static const char *const kinds[] = {"~event/", "~slot/", "~arrival/"};
  for (int k = 0; k < 3; k++) {
    size_t n = strlen(kinds[k]);
    if (strncmp(source, kinds[k], n)) continue;
    const char *id = source + n;
    for (int i = 0; i < pv->nfeeds; i++) {
      qfeed *qf = &pv->feeds[i];
      if (strcmp(qf->f->id, id)) continue;
      if (k == 0) qf->max_event = v;
      else if (k == 1 && qf->has_sched && v > qf->slot_start) {
        qf->slot_start = v;
        qf->next_deadline = sl_schedule_next(&qf->sched, v);
      } else if (k == 2) qf->last_arrival = v;
    }
    return 1;
  }
  return 0;
}

static int load_marks(restore *r) {
  quality_priv *pv = r->pv;
  PGresult *res = query(r, "select source, partition, \"offset\" from @.marks where pipeline = $1");
  if (!res) return 0;
  int n = PQntuples(res);
  for (int i = 0; i < n; i++) {
    const char *source = PQgetvalue(res, i, 0);
    int64_t off = strtoll(PQgetvalue(res, i, 2), NULL, 10);
    if (feed_mark(pv, source, off)) continue;
    if (pv->nmarks == pv->capmarks) {
      int cap = pv->capmarks ? pv->capmarks * 2 : 8;
      qmark *t = realloc(pv->marks, (size_t)cap * sizeof *t);
      if (!t) break;
      pv->marks = t;
      pv->capmarks = cap;
    }
    qmark *m = &pv->marks[pv->nmarks];
    m->source = strdup(source);
    if (!m->source) break;
    m->partition = (int32_t)atoi(PQgetvalue(res, i, 1));
    m->offset = m->restored = off;
    m->touched = 0;
    pv->nmarks++;
  }
  PQclear(res);
  for (int i = 0; i < pv->nfeeds; i++) {
    qfeed *qf = &pv->feeds[i];
    if (qf->has_sched && qf->last_arrival > qf->slot_start) {
      /* The last arrival's slot is filled; the others in the current slot
       * were (one record is enough). */
      int64_t d = sl_schedule_next(&qf->sched, qf->last_arrival - 1);
      qf->filled[0] = d;
      qf->nfilled = 1;
    }
  }
  return 0;
}

static void load_trend(restore *r, int keep) {
  quality_priv *pv = r->pv;
  PGresult *res = query(r,
      "select department, feed, (extract(epoch from period_start) * 1000)::int8, "
      "(scores->>'overall')::float8 from @.feed_scores "
      "where pipeline = $1 and period = 'day' and closed order by period_start");
  if (!res) return;
  int n = PQntuples(res);
  for (int i = 0; i < n && keep > 0; i++) {
    qfeed *qf = feed_of(pv, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    if (!qf) continue;
    if (!qf->trend) qf->trend = calloc((size_t)keep, sizeof *qf->trend);
    if (!qf->trend) continue;
    if (qf->ntrend == keep) {
      memmove(qf->trend, qf->trend + 1, (size_t)(keep - 1) * sizeof *qf->trend);
      qf->ntrend--;
    }
    double s = PQgetisnull(res, i, 3) ? QC_NONE : strtod(PQgetvalue(res, i, 3), NULL);
    qf->trend[qf->ntrend++] = (qtrend){strtoll(PQgetvalue(res, i, 2), NULL, 10), s};
  }
  PQclear(res);
}

int quality_restore(sl_stage *st) {
  const quality_cfg *cfg = sl_stage_config(st);
  quality_priv *pv = sl_stage_priv(st);
  if (!cfg->platform) return 0;
  restore r = {st, pv, PQconnectdb(cfg->platform), cfg->schema ? cfg->schema : "quality"};
  if (PQstatus(r.c) != CONNECTION_OK) {
    sl_log_error(sl_stage_name(st), "restore: cannot connect: %s", PQerrorMessage(r.c));
    PQfinish(r.c);
    return SL_EIO;
  }
  PGresult *res = query(&r, "select coalesce(greatest((select max(seq) from @.feed_deltas where pipeline = $1), "
                            "(select max(seq) from @.feed_scores where pipeline = $1)), 0)");
  if (res) {
    pv->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
  }
  /* A closed window is final: its deltas go. */
  res = query(&r, "delete from @.feed_deltas d using @.feed_scores s "
                  "where d.pipeline = $1 and s.pipeline = d.pipeline and s.period = d.period "
                  "and s.period_start = d.period_start and s.department = d.department "
                  "and s.feed = d.feed and s.closed");
  if (res) PQclear(res);
  int rc = load_windows(&r);
  if (!rc) rc = load_marks(&r);
  if (!rc) load_trend(&r, (int)cfg->trend_days);
  PQfinish(r.c);
  /* What was restored is flushed already: the next delta rows hold only what comes now. */
  int nwin = 0;
  for (int i = 0; i < pv->nfeeds; i++)
    for (qwin *w = pv->feeds[i].wins; w; w = w->next, nwin++) qc_copy(&w->flushed, &w->total);
  sl_log_info(sl_stage_name(st), "restored %d open window%s, %d source mark%s (rows numbered from %lld)", nwin,
              nwin == 1 ? "" : "s", pv->nmarks, pv->nmarks == 1 ? "" : "s", (long long)pv->seq + 1);
  for (int i = 0; i < pv->nfeeds; i++) pv->feeds[i].touched = 1;
  quality_share_update(pv);
  for (int i = 0; i < pv->nfeeds; i++) pv->feeds[i].touched = 0;
  return rc;
}
