/* The scorecard: the data-sharing scores of every department and its feeds
 * for one period, and its renderings (HTML page, CSV, JSON).
 *
 * The admin endpoint (/scorecard, live windows) and `sluice report` (from
 * quality.feed_scores) fill the same structs, rank them, then render.  The
 * caller owns every string and array; the renderers only read them and
 * append to an sl_buf.  Output depends on the card alone (no clock, no
 * locale), so the same card renders to the same bytes.
 *
 * Files: scorecard.c (dimension names, grades, ranking, CSV, JSON),
 * scorecard_html.c (the page), scorecard_svg.c (its charts and bars),
 * scorecard_fmt.c (escaping, percentages, dates, shared by the two).
 * docs/internals/scorecard.md walks through the page. */
#ifndef SLUICE_QUALITY_SCORECARD_H
#define SLUICE_QUALITY_SCORECARD_H

#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/catalog.h"

/* GB/T 36344-2018's six dimensions (sl_dimension, sluice/catalog.h), then
 * the weighted overall score. */
typedef int sl_dim;
#define SL_DIM_OVERALL ((int)SL_NDIMENSIONS)
#define SL_NDIMS (SL_NDIMENSIONS + 1)

#define SL_SCORE_NONE (-1.0)       /* no data for this dimension */

/* One past period's overall score (trend); score may be SL_SCORE_NONE. */
typedef struct sl_card_point {
  int64_t start_ms;
  double score;
} sl_card_point;

/* A field and rule that failed most often; example is a dead letter the
 * caller has already masked (the renderers only escape it). */
typedef struct sl_card_issue {
  const char *field, *rule, *example;
  int64_t count;
} sl_card_issue;

typedef struct sl_card_feed {
  const char *name, *title;                /* title may be NULL: the name is shown */
  int64_t records, dead_letters, late, duplicates, missed_slots;
  double latency_p50_s, latency_p95_s;     /* negative or NaN: not known */
  double score[SL_NDIMS];                  /* 0..1 or SL_SCORE_NONE */
  sl_card_point *trend; int ntrend;        /* overall score per past period, oldest first */
  sl_card_issue *issues; int nissues;      /* worst fields/rules, worst first */
} sl_card_feed;

typedef struct sl_card_dept {
  const char *id, *name;                   /* id: the catalog's key, used in anchors */
  double score[SL_NDIMS];
  sl_card_point *trend; int ntrend;
  sl_card_feed *feeds; int nfeeds;
} sl_card_dept;

typedef struct sl_card {
  const char *title;           /* "Data-sharing scorecard" */
  const char *period;          /* "2026-11", "2026-12-05" or "live" */
  int64_t generated_ms;        /* shown in UTC, ISO 8601 */
  sl_card_dept *depts; int ndepts;
  /* The catalog's zone (seconds east of UTC, "+08:00" = 28800): trend
   * points are labelled with the dates of their periods in it.  0 = UTC.
   * Not in the shared contract: added at the end, so initialisers that name
   * the other fields leave it 0. */
  int32_t utc_offset_s;
} sl_card;

/* Ranks departments by overall score (best first, no score last, equal
 * scores by name, then id), and each department's feeds likewise (by name). */
void sl_card_rank(sl_card *c);
/* Appends the whole page: a self-contained HTML5 document, no JavaScript, no
 * external resource, inline CSS and inline SVG charts; every text
 * HTML-escaped.  One section per department with an anchor
 * (id="dept-<id>") so a department can be sent its own part; dept_only
 * non-NULL renders only that department's section (same header). */
void sl_card_html(const sl_card *c, const char *dept_only, sl_buf *out);
/* RFC 4180: a header row, then one row per (department, feed) in card
 * order; a department without feeds gets one row with empty feed columns.
 * Scores are ratios 0..1 to four decimals, latencies seconds to three;
 * empty when there is none. */
void sl_card_csv(const sl_card *c, sl_buf *out);
/* One JSON object: title, period, generated, departments[] with scores
 * (numbers, or null when there is none), trend, feeds[] with their
 * counters, trend and issues. */
void sl_card_json(const sl_card *c, sl_buf *out);

/* "normativeness" ... "overall" (the metrics' dimension label values). */
const char *sl_card_dim_name(sl_dim d);
/* 1 when score is a score (0..1), 0 for SL_SCORE_NONE (or NaN). */
int sl_card_has_score(double score);
/* "good" (>= 0.9), "fair" (>= 0.75), "poor", or "none". */
const char *sl_card_grade(double score);
/* The department's place: 1 + the departments with a higher overall score
 * (equal scores share a place); 0 when it has no overall score. */
int sl_card_place(const sl_card *c, int dept);

#endif
