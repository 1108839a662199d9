/* Writes a sample scorecard page (six departments, their feeds, twelve
 * months of trend) to the path in argv[1], or stdout: for looking at the
 * page in a browser, e.g.
 *   build/tests/card_demo /tmp/card.html
 *   chromium --headless --screenshot=/tmp/card.png --window-size=1280,2000 file:///tmp/card.html
 * With --dept ID, only that department's page; --csv or --json, those
 * renderings.  The numbers are made up but deterministic. */
#include <stdio.h>
#include <string.h>

#include "sluice/clock.h"
#include "scorecard.h"

#define MONTHS 12
#define MAX_FEEDS 3

typedef struct demo_dept {
  const char *id, *name;
  double base;                     /* the department's level */
  const char *feeds[MAX_FEEDS][2]; /* name, title */
} demo_dept;

static const demo_dept demo[] = {
    {"psb", "\xE5\x85\xAC\xE5\xAE\x89\xE5\xB1\x80", 0.955,
     {{"residents", "Resident registrations"}, {"vehicles", "Vehicle registrations"},
      {"permits", "Residence permits"}}},
    {"mca", "\xE6\xB0\x91\xE6\x94\xBF\xE5\xB1\x80", 0.905,
     {{"marriages", "Marriage registrations"}, {"subsidies", "Subsistence allowances"}}},
    {"samr", "\xE5\xB8\x82\xE5\x9C\xBA\xE7\x9B\x91\xE7\xAE\xA1\xE5\xB1\x80", 0.872,
     {{"companies", "Legal entities"}, {"licences", "Business licences"},
      {"inspections", "Spot inspections"}}},
    {"tax", "\xE7\xA8\x8E\xE5\x8A\xA1\xE5\xB1\x80", 0.93,
     {{"taxpayers", "Taxpayer registrations"}, {"credit", "Tax credit ratings"}}},
    {"nhc", "\xE5\x8D\xAB\xE5\x81\xA5\xE5\xA7\x94", 0.79,
     {{"births", "Birth certificates"}, {"clinics", "Medical institutions"},
      {"vaccines", "Vaccination records"}}},
    {"mee", "\xE7\x94\x9F\xE6\x80\x81\xE7\x8E\xAF\xE5\xA2\x83\xE5\xB1\x80", 0.71,
     {{"emissions", "Pollutant discharge permits"}, {"air", "Air quality readings"}}},
};
#define NDEPTS ((int)(sizeof demo / sizeof demo[0]))

static sl_card_point trends[NDEPTS][MAX_FEEDS + 1][MONTHS];
static sl_card_feed feeds[NDEPTS][MAX_FEEDS];
static sl_card_dept depts[NDEPTS];
static sl_card_issue issues[NDEPTS][MAX_FEEDS][2];

/* A small deterministic wobble in -1..1 from two integers. */
static double wobble(int a, int b) {
  unsigned h = (unsigned)(a * 7919 + b * 104729 + 17);
  h ^= h >> 7;
  h *= 2654435761u;
  return ((h >> 8) % 2001) / 1000.0 - 1.0;
}

static double clamp(double v) {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

static void fill_trend(sl_card_point *t, double level, int seed) {
  for (int m = 0; m < MONTHS; m++) {
    /* December 2025 to November 2026, months starting on the 1st in +08:00. */
    int64_t days = sl_days_from_civil(m ? 2026 : 2025, m ? m : 12, 1);
    t[m].start_ms = (days * 86400 - 8 * 3600) * 1000;
    t[m].score = clamp(level - 0.04 + 0.004 * m + 0.025 * wobble(seed, m));
  }
  if (seed == 42 || seed == 49) t[4].score = SL_SCORE_NONE;   /* 卫健委: a month without data */
}

static void fill_feed(sl_card_feed *f, const demo_dept *d, int i, int j) {
  double level = d->base + 0.03 * wobble(i, j + 50);
  f->name = d->feeds[j][0];
  f->title = d->feeds[j][1];
  f->records = 20000 + (int64_t)(180000 * (1 + wobble(i, j)));
  f->dead_letters = (int64_t)(f->records * (1 - level) * 0.2);
  f->late = (int64_t)(f->records * (1 - level) * 0.1);
  f->duplicates = (int64_t)(f->records * (1 - level) * 0.05);
  f->missed_slots = level < 0.8 ? 3 : level < 0.9 ? 1 : 0;
  f->latency_p50_s = 30 + 600 * (1 - level);
  f->latency_p95_s = 900 + 40000 * (1 - level);
  for (int k = 0; k < SL_DIM_OVERALL; k++) f->score[k] = clamp(level + 0.05 * wobble(j, k));
  f->score[SL_DIM_CONSISTENCY] = j == 2 ? SL_SCORE_NONE : f->score[SL_DIM_CONSISTENCY];
  f->score[SL_DIM_OVERALL] = level;
  fill_trend(trends[i][j + 1], level, i * 10 + j);
  f->trend = trends[i][j + 1];
  f->ntrend = MONTHS;
  issues[i][j][0] =
      (sl_card_issue){"id_number", "id_card", "11010519******0021", f->dead_letters / 2};
  issues[i][j][1] = (sl_card_issue){"phone", "mobile", "138****5678 (11 digits expected)",
                                    f->dead_letters / 5};
  f->issues = issues[i][j];
  f->nissues = 2;
}

static void fill_dept(int i) {
  const demo_dept *d = &demo[i];
  sl_card_dept *dp = &depts[i];
  dp->id = d->id;
  dp->name = d->name;
  dp->feeds = feeds[i];
  while (dp->nfeeds < MAX_FEEDS && d->feeds[dp->nfeeds][0]) {
    fill_feed(&feeds[i][dp->nfeeds], d, i, dp->nfeeds);
    dp->nfeeds++;
  }
  for (int k = 0; k < SL_NDIMS; k++) {
    double sum = 0;
    for (int j = 0; j < dp->nfeeds; j++)
      sum += feeds[i][j].score[k] < 0 ? feeds[i][0].score[SL_DIM_OVERALL] : feeds[i][j].score[k];
    dp->score[k] = sum / dp->nfeeds;
  }
  fill_trend(trends[i][0], dp->score[SL_DIM_OVERALL], i * 10 + 9);
  dp->trend = trends[i][0];
  dp->ntrend = MONTHS;
}

int main(int argc, char **argv) {
  const char *path = NULL, *dept = NULL, *format = "html";
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--dept") == 0 && a + 1 < argc) dept = argv[++a];
    else if (strcmp(argv[a], "--csv") == 0) format = "csv";
    else if (strcmp(argv[a], "--json") == 0) format = "json";
    else path = argv[a];
  }
  for (int i = 0; i < NDEPTS; i++) fill_dept(i);
  sl_card card = {.title = "Data-sharing scorecard", .period = "2026-11",
                  .generated_ms = 1796436600000LL, .depts = depts, .ndepts = NDEPTS,
                  .utc_offset_s = 8 * 3600};
  sl_card_rank(&card);
  sl_buf out = SL_BUF_INIT;
  if (strcmp(format, "csv") == 0) sl_card_csv(&card, &out);
  else if (strcmp(format, "json") == 0) sl_card_json(&card, &out);
  else sl_card_html(&card, dept, &out);
  FILE *f = path ? fopen(path, "wb") : stdout;
  if (!f || out.oom || fwrite(out.ptr, 1, out.len, f) != out.len) {
    fprintf(stderr, "card_demo: cannot write %s\n", path ? path : "stdout");
    return 1;
  }
  if (path) fclose(f);
  sl_buf_free(&out);
  return 0;
}
