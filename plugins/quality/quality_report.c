/* `sluice report PIPELINE.lua --period 2026-11 [--format html|csv|json]
 * [--department ID] [--out FILE]`: the evaluation of every department for
 * one month (or day, --period 2026-11-05) from the history an sl.quality
 * step wrote (its platform and schema), with each feed's trend over the
 * twelve periods before.  The HTML is the scorecard's page; --department
 * writes that department's part alone, the page the city sends it. */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality.h"
#include "scorecard.h"
#include "sluice/clock.h"
#include "sluice/codec.h"
#include "sluice/stage.h"

const char quality_report_help[] =
    "usage: sluice report PIPELINE.lua --period YYYY-MM|YYYY-MM-DD [--format html|csv|json]\n"
    "                     [--department ID] [--out FILE] [--step NAME]\n"
    "\n"
    "Writes the data-sharing evaluation of one month (or one day) for every department\n"
    "of the sl.quality step's catalog, from the history it keeps in PostgreSQL (its\n"
    "platform and schema options): per department and feed the six quality dimensions\n"
    "of GB/T 36344-2018 and the overall score, ranked, with each feed's trend over the\n"
    "twelve periods before and its worst fields with example dead letters (masked).\n"
    "html (the default) is the scorecard page, readable without JavaScript; csv has a\n"
    "row per department and feed; json the whole. --department keeps one department\n"
    "(the page to send it). Standard output unless --out.\n";


/* The feed's row of the period, the most read one when several pipelines
 * measure it; its trend from the periods before. */
static PGresult *fetch(PGconn *c, const char *schema, const char *period, const char *label) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "select distinct on (department, feed, label) department, feed, label, records, "
           "counts, scores, latency_p50_s, latency_p95_s, worst, examples "
           "from %s.feed_scores where period = $1 and label <= $2 and label > $3 "
           "order by department, feed, label, records desc",
           schema);
  /* Twelve periods before: labels sort as dates do. */
  char from[16];
  int y, mo, d = 1;
  if (!strcmp(period, "month")) {
    sscanf(label, "%d-%d", &y, &mo);
    y -= 1;
    snprintf(from, sizeof from, "%04d-%02d", y, mo);
  } else {
    sscanf(label, "%d-%d-%d", &y, &mo, &d);
    int64_t day = sl_days_from_civil(y, mo, d) - 12;
    sl_civil_from_days(day, &y, &mo, &d);
    snprintf(from, sizeof from, "%04d-%02d-%02d", y, mo, d);
  }
  const char *params[3] = {period, label, from};
  return PQexecParams(c, sql, 3, NULL, params, NULL, NULL, 0);
}

static double json_num(const sl_value *o, const char *key) {
  for (uint32_t i = 0; o && o->type == SL_T_OBJECT && i < o->n; i++) {
    const sl_member *m = &o->u.members[i];
    if (m->name.len != strlen(key) || memcmp(m->name.ptr, key, m->name.len)) continue;
    if (m->value.type == SL_T_INT) return (double)m->value.u.i;
    if (m->value.type == SL_T_DOUBLE) return m->value.u.d;
    return QC_NONE;
  }
  return QC_NONE;
}

static int parse_json(sl_arena *a, const char *text, sl_value *v) {
  const char *why;
  return sl_json_parse(text, strlen(text), a, v, &why) == 0 && sl_json_materialize(v, a, &why) == 0;
}

static const char *json_str(sl_arena *a, const sl_value *o, const char *key) {
  for (uint32_t i = 0; o && o->type == SL_T_OBJECT && i < o->n; i++) {
    const sl_member *m = &o->u.members[i];
    if (m->name.len == strlen(key) && !memcmp(m->name.ptr, key, m->name.len) && m->value.type == SL_T_STRING)
      return sl_arena_strndup(a, m->value.u.s.ptr, m->value.u.s.len);
  }
  return "";
}

/* The feed's card from its row of the period (row) and its trend rows. */
static void feed_from_row(sl_arena *a, PGresult *res, int row, sl_card_feed *cf) {
  sl_value counts, scores, worst, examples;
  cf->records = strtoll(PQgetvalue(res, row, 3), NULL, 10);
  if (parse_json(a, PQgetvalue(res, row, 4), &counts)) {
    cf->dead_letters = (int64_t)json_num(&counts, "dead_letters");
    cf->late = (int64_t)json_num(&counts, "late");
    cf->duplicates = (int64_t)json_num(&counts, "duplicates");
    cf->missed_slots = (int64_t)json_num(&counts, "missed");
    if (cf->dead_letters < 0) cf->dead_letters = 0;
    if (cf->late < 0) cf->late = 0;
    if (cf->duplicates < 0) cf->duplicates = 0;
    if (cf->missed_slots < 0) cf->missed_slots = 0;
  }
  if (parse_json(a, PQgetvalue(res, row, 5), &scores))
    for (int d = 0; d < QC_NSCORES; d++)
      cf->score[d] = json_num(&scores, d < SL_NDIMENSIONS ? sl_dimension_names[d] : "overall");
  cf->latency_p50_s = PQgetisnull(res, row, 6) ? QC_NONE : strtod(PQgetvalue(res, row, 6), NULL);
  cf->latency_p95_s = PQgetisnull(res, row, 7) ? QC_NONE : strtod(PQgetvalue(res, row, 7), NULL);
  if (!PQgetisnull(res, row, 8) && parse_json(a, PQgetvalue(res, row, 8), &worst) && worst.type == SL_T_ARRAY) {
    cf->issues = sl_arena_alloc(a, (worst.n + 1) * sizeof *cf->issues);
    for (uint32_t i = 0; cf->issues && i < worst.n; i++) {
      const sl_value *w = &worst.u.items[i];
      double inv = json_num(w, "invalid"), mis = json_num(w, "missing");
      cf->issues[cf->nissues++] = (sl_card_issue){json_str(a, w, "field"), json_str(a, w, "rule"), "",
                                                  (int64_t)((inv > 0 ? inv : 0) + (mis > 0 ? mis : 0))};
    }
  }
  if (cf->nissues && !PQgetisnull(res, row, 9) && parse_json(a, PQgetvalue(res, row, 9), &examples) &&
      examples.type == SL_T_ARRAY && examples.n && examples.u.items[0].type == SL_T_STRING)
    cf->issues[0].example = sl_arena_strndup(a, examples.u.items[0].u.s.ptr, examples.u.items[0].u.s.len);
}

static int64_t label_ms(const char *label, int32_t off) {
  int y = 1970, m = 1, d = 1;
  if (sscanf(label, "%d-%d-%d", &y, &m, &d) < 2) return 0;
  return sl_days_from_civil(y, m, d) * 86400000 - (int64_t)off * 1000;
}

/* Builds the card of the period from the rows, the catalog's order. */
static void build_card(sl_arena *a, const quality_priv *pv, PGresult *res, const char *label, sl_card *card) {
  card->depts = sl_arena_alloc(a, ((size_t)pv->cat->ndepts + 1) * sizeof *card->depts);
  if (!card->depts) return;
  memset(card->depts, 0, ((size_t)pv->cat->ndepts + 1) * sizeof *card->depts);
  int n = PQntuples(res);
  for (int di = 0; di < pv->cat->ndepts; di++) {
    const sl_catalog_dept *d = &pv->cat->depts[di];
    sl_card_dept *cd = &card->depts[card->ndepts++];
    cd->id = d->id;
    cd->name = d->name;
    cd->feeds = sl_arena_alloc(a, ((size_t)d->nfeeds + 1) * sizeof *cd->feeds);
    cd->trend = sl_arena_alloc(a, 14 * sizeof *cd->trend);
    if (!cd->feeds || !cd->trend) return;
    memset(cd->feeds, 0, ((size_t)d->nfeeds + 1) * sizeof *cd->feeds);
    for (int k = 0; k < QC_NSCORES; k++) cd->score[k] = QC_NONE;
    for (int fi = 0; fi < d->nfeeds; fi++) {
      const sl_catalog_feed *f = &pv->cat->feeds[d->first_feed + fi];
      sl_card_feed *cf = &cd->feeds[cd->nfeeds++];
      cf->name = f->name;
      cf->title = f->title ? f->title : f->name;
      for (int k = 0; k < QC_NSCORES; k++) cf->score[k] = QC_NONE;
      cf->trend = sl_arena_alloc(a, 14 * sizeof *cf->trend);
      for (int r = 0; r < n; r++) {
        if (strcmp(PQgetvalue(res, r, 0), d->id) || strcmp(PQgetvalue(res, r, 1), f->name)) continue;
        const char *l = PQgetvalue(res, r, 2);
        if (!strcmp(l, label)) feed_from_row(a, res, r, cf);
        sl_value sc;
        if (cf->trend && cf->ntrend < 14 && parse_json(a, PQgetvalue(res, r, 5), &sc)) {
          double o = json_num(&sc, "overall");
          if (o != QC_NONE) cf->trend[cf->ntrend++] = (sl_card_point){label_ms(l, pv->cat->utc_offset_s), o};
        }
      }
    }
    /* The department: its feeds weighted by records; its trend, their mean. */
    for (int k = 0; k < QC_NSCORES; k++) {
      double sum = 0, w = 0;
      for (int fi = 0; fi < cd->nfeeds; fi++) {
        const sl_card_feed *cf = &cd->feeds[fi];
        if (cf->score[k] == QC_NONE) continue;
        double v = (double)(cf->records ? cf->records : 1);
        sum += v * cf->score[k];
        w += v;
      }
      cd->score[k] = w > 0 ? sum / w : QC_NONE;
    }
    for (int fi = 0; fi < cd->nfeeds; fi++)
      for (int t = 0; t < cd->feeds[fi].ntrend; t++) {
        sl_card_point p = cd->feeds[fi].trend[t];
        int at = 0;
        while (at < cd->ntrend && cd->trend[at].start_ms != p.start_ms) at++;
        if (at == cd->ntrend) {
          if (cd->ntrend == 14) continue;
          cd->trend[cd->ntrend++] = (sl_card_point){p.start_ms, 0};
        }
        cd->trend[at].score += p.score / d->nfeeds;
      }
  }
}

int quality_report_command(sl_stage *st, int argc, char **argv) {
  const quality_cfg *cfg = sl_stage_config(st);
  const char *period = NULL, *format = "html", *dept = NULL, *out_path = NULL;
  static const struct option longs[] = {{"period", required_argument, NULL, 'p'},
                                        {"format", required_argument, NULL, 'f'},
                                        {"department", required_argument, NULL, 'd'},
                                        {"out", required_argument, NULL, 'o'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    if (ch == 'p') period = optarg;
    else if (ch == 'f') format = optarg;
    else if (ch == 'd') dept = optarg;
    else if (ch == 'o') out_path = optarg;
    else if (ch == 'h') {
      fputs(quality_report_help, stdout);
      return 0;
    } else {
      fputs(quality_report_help, stderr);
      return 2;
    }
  }
  int y, m, d;
  char tail;
  int is_month = period && sscanf(period, "%4d-%2d%c", &y, &m, &tail) == 2 && strlen(period) == 7;
  int is_day = period && sscanf(period, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 && strlen(period) == 10;
  if (!is_month && !is_day) {
    fprintf(stderr, "sluice report: --period YYYY-MM (a month) or YYYY-MM-DD (a day) is required\n");
    return 2;
  }
  if (strcmp(format, "html") && strcmp(format, "csv") && strcmp(format, "json")) {
    fprintf(stderr, "sluice report: --format must be html, csv or json, not '%s'\n", format);
    return 2;
  }
  if (!cfg->platform) {
    fprintf(stderr, "sluice report: the step %s has no platform option: it keeps no history to report on\n",
            sl_stage_name(st));
    return 2;
  }
  if (sl_stage_plugin(st)->init(st)) return 2;
  quality_priv *pv = sl_stage_priv(st);
  int rc = 1;
  if (dept) {
    int known = 0;
    for (int i = 0; i < pv->cat->ndepts; i++) known |= !strcmp(pv->cat->depts[i].id, dept);
    if (!known) {
      fprintf(stderr, "sluice report: no department '%s' in the catalog\n", dept);
      sl_stage_plugin(st)->destroy(st);
      return 2;
    }
  }
  PGconn *c = PQconnectdb(cfg->platform);
  PGresult *res = NULL;
  sl_arena a;
  sl_arena_init(&a);
  sl_buf body = SL_BUF_INIT;
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "sluice report: cannot connect: %s", PQerrorMessage(c));
    goto done;
  }
  res = fetch(c, cfg->schema ? cfg->schema : "quality", is_month ? "month" : "day", period);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    fprintf(stderr, "sluice report: %s", PQresultErrorMessage(res));
    goto done;
  }
  char title[128];
  snprintf(title, sizeof title, "Data-sharing evaluation %s", period);
  sl_card card = {.title = title, .period = period, .generated_ms = sl_now_ms(),
                  .utc_offset_s = pv->cat->utc_offset_s};
  build_card(&a, pv, res, period, &card);
  sl_card_rank(&card);
  if (!strcmp(format, "html")) sl_card_html(&card, dept, &body);
  else if (!strcmp(format, "csv")) sl_card_csv(&card, &body);
  else sl_card_json(&card, &body);
  FILE *out = out_path ? fopen(out_path, "w") : stdout;
  if (!out) {
    perror(out_path);
    goto done;
  }
  fwrite(body.ptr ? body.ptr : "", 1, body.len, out);
  if (out != stdout && fclose(out)) perror(out_path);
  else rc = 0;
  if (out_path) fprintf(stderr, "sluice report: wrote %s (%d rows of the history)\n", out_path, PQntuples(res));
done:
  PQclear(res);
  PQfinish(c);
  sl_buf_free(&body);
  sl_arena_free(&a);
  sl_stage_plugin(st)->destroy(st);
  return rc;
}
