/* The scorecard as one HTML page: a header (title, period, generation
 * time), the ranking of departments, then a section per department
 * (id="dept-<id>") with its dimension scores, its trend chart, its feeds'
 * scores and delivery figures, and its worst fields and rules.  No
 * JavaScript and no external resource: the CSS is inline, the charts are
 * inline SVG (scorecard_svg.c), every text from the card is escaped.  A
 * grade is always written as a word beside its colour. */
#include <stdlib.h>
#include <string.h>

#include "scorecard_fmt.h"
#include "scorecard_svg.h"

static const char *const dim_titles[SL_NDIMS] = {
    "Normativeness", "Completeness", "Accuracy", "Consistency",
    "Timeliness",    "Accessibility", "Overall"};
/* GB/T 36344-2018's own terms. */
static const char *const dim_terms[SL_NDIMS] = {
    "\xE8\xA7\x84\xE8\x8C\x83\xE6\x80\xA7", "\xE5\xAE\x8C\xE6\x95\xB4\xE6\x80\xA7",
    "\xE5\x87\x86\xE7\xA1\xAE\xE6\x80\xA7", "\xE4\xB8\x80\xE8\x87\xB4\xE6\x80\xA7",
    "\xE6\x97\xB6\xE6\x95\x88\xE6\x80\xA7", "\xE5\x8F\xAF\xE8\xAE\xBF\xE9\x97\xAE\xE6\x80\xA7",
    "\xE7\xBB\xBC\xE5\x90\x88"};

/* Sober and tabular; print starts each department on a page of its own,
 * keeps the colours, and drops the scroll boxes that phones need. */
static const char page_css[] =
    ":root{--ink:#1d2733;--muted:#5b6675;--rule:#d8dde4;--head:#f2f4f7;--accent:#1f3a5f;"
    "--good:#1b7a3e;--fair:#9a6200;--poor:#b42318;--none:#8a94a3}\n"
    "*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}\n"
    "body{margin:0;color:var(--ink);background:#fff;font:14px/1.5 \"Noto Sans CJK SC\","
    "\"Source Han Sans SC\",\"PingFang SC\",\"Microsoft YaHei\",\"WenQuanYi Micro Hei\","
    "system-ui,\"Segoe UI\",Roboto,Arial,sans-serif}\n"
    "main{max-width:1180px;margin:0 auto;padding:28px 24px 48px}\n"
    "header.top{border-bottom:3px solid var(--accent);padding-bottom:14px}\n"
    "h1{font-size:24px;font-weight:600;margin:0 0 6px;color:var(--accent)}\n"
    ".meta{display:flex;flex-wrap:wrap;gap:2px 28px;margin:0;font-size:13px;color:var(--muted)}\n"
    ".meta dt{display:inline;font-weight:600;color:var(--ink)}"
    ".meta dd{display:inline;margin:0 0 0 6px}\n"
    ".legend{margin:10px 0 0;font-size:12px;color:var(--muted)}\n"
    "h2{font-size:18px;font-weight:600;margin:30px 0 10px;color:var(--accent)}\n"
    "h3{font-size:12px;font-weight:600;margin:22px 0 8px;color:var(--muted);"
    "text-transform:uppercase;letter-spacing:.05em}\n"
    "a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}\n"
    ".scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:6px 8px;border-bottom:1px solid var(--rule);text-align:left;"
    "vertical-align:middle;white-space:nowrap}\n"
    "thead th{background:var(--head);font-size:12px;font-weight:600;color:var(--muted);"
    "border-bottom:2px solid var(--rule);vertical-align:bottom}\n"
    "tbody th{font-weight:600}tbody tr:nth-child(even){background:#fafbfc}\n"
    ".num{text-align:right}.zh{display:block;font-weight:400;font-size:11px}\n"
    ".muted{color:var(--muted)}td.ex{white-space:normal;word-break:break-all;"
    "font:12px/1.4 ui-monospace,\"DejaVu Sans Mono\",monospace;color:var(--muted)}\n"
    ".grade{display:inline-block;min-width:44px;padding:0 6px;border:1px solid;border-radius:3px;"
    "font-size:12px;font-weight:600;text-align:center}\n"
    ".grade.good{color:var(--good);background:#ebf6ef}.grade.fair{color:var(--fair);"
    "background:#fdf4e3}.grade.poor{color:var(--poor);background:#fdecea}"
    ".grade.none{color:var(--none)}\n"
    ".bar{display:inline-block;vertical-align:middle;margin-left:6px}.track{fill:#e4e7eb}\n"
    "rect.good,circle.good{fill:var(--good)}rect.fair,circle.fair{fill:var(--fair)}"
    "rect.poor,circle.poor{fill:var(--poor)}\n"
    ".rank-no{font-weight:600;color:var(--accent)}\n"
    ".dept{margin-top:36px;border-top:1px solid var(--rule)}.top+.dept{border-top:0}\n"
    ".dept h2 .grade{margin-left:10px;vertical-align:middle}\n"
    ".sub{margin:-4px 0 14px;color:var(--muted);font-size:13px}\n"
    ".overview{display:flex;flex-wrap:wrap;gap:16px 28px;align-items:center}\n"
    ".overview figure{flex:1 1 520px;max-width:720px;margin:0}\n"
    ".dims{flex:1 1 300px;display:grid;grid-template-columns:repeat(2,1fr);gap:8px;margin:0}\n"
    ".dim{border:1px solid var(--rule);border-radius:4px;padding:8px 10px}\n"
    ".dim dt{font-size:12px;color:var(--muted)}.dim dd{margin:2px 0 0;font-size:18px;"
    "font-weight:600;font-variant-numeric:tabular-nums}\n"
    "figcaption{font-size:12px;color:var(--muted)}svg.trend{display:block;width:100%;height:auto}\n"
    ".line{fill:none;stroke:var(--accent);stroke-width:2;stroke-linejoin:round}\n"
    ".spark .line{stroke-width:1.5}.grid{stroke:#e8ebef}.axis{stroke:var(--muted)}\n"
    ".thr{stroke-dasharray:5 4;stroke-width:1}.thr.good{stroke:var(--good)}"
    ".thr.fair{stroke:var(--fair)}\n"
    ".tick{font-size:11px;fill:var(--muted)}.thr-label{font-size:10px}"
    ".thr-label.good{fill:var(--good)}.thr-label.fair{fill:var(--fair)}\n"
    ".method{margin-top:40px;border-top:1px solid var(--rule);font-size:12px;color:var(--muted)}\n"
    ".method dt{font-weight:600;color:var(--ink)}.method dd{margin:0 0 4px}\n"
    "@media (max-width:700px){main{padding:16px 12px}h1{font-size:20px}"
    "th,td{padding:5px 6px}.overview figure{overflow-x:auto}svg.trend{min-width:540px}}\n"
    "@media print{main{max-width:none;padding:0}.scroll{overflow:visible}"
    ".dept{break-before:page;border:0}tr,figure,.dims{break-inside:avoid}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}a{color:inherit}}\n";

/* ---- pieces ---- */

/* before, then s escaped, then after: markup around a text of the card. */
static void text(sl_buf *b, const char *before, const char *s, const char *after) {
  sl_buf_puts(b, before);
  sl__card_escape(b, s);
  sl_buf_puts(b, after);
}

static void grade_badge(sl_buf *b, double score, int with_pct) {
  const char *g = sl_card_grade(score);
  sl_buf_printf(b, "<span class=\"grade %s\">", g);
  if (with_pct && sl_card_has_score(score)) {
    sl__card_pct(b, score);
    sl_buf_puts(b, " \xC2\xB7 ");   /* · */
  }
  sl_buf_puts(b, sl_card_has_score(score) ? g : "no data");
  sl_buf_puts(b, "</span>");
}

/* A score cell: the percentage and its bar. */
static void score_cell(sl_buf *b, double score) {
  sl_buf_puts(b, "<td class=\"num\">");
  sl__card_pct(b, score);
  sl__card_bar(b, score);
  sl_buf_puts(b, "</td>");
}

static void dim_head(sl_buf *b, int d) {
  sl_buf_printf(b, "<th scope=\"col\" class=\"num\">%s"
                   "<span class=\"zh\" lang=\"zh-CN\">%s</span></th>",
                dim_titles[d], dim_terms[d]);
}

/* The heads of score_cells. */
static void score_heads(sl_buf *b) {
  dim_head(b, SL_DIM_OVERALL);
  sl_buf_puts(b, "<th scope=\"col\">Grade</th>");
  for (int k = 0; k < SL_DIM_OVERALL; k++) dim_head(b, k);
}

/* Overall, its grade in words, then the six dimensions. */
static void score_cells(sl_buf *b, const double *score) {
  score_cell(b, score[SL_DIM_OVERALL]);
  sl_buf_puts(b, "<td>");
  grade_badge(b, score[SL_DIM_OVERALL], 0);
  sl_buf_puts(b, "</td>");
  for (int k = 0; k < SL_DIM_OVERALL; k++) score_cell(b, score[k]);
}

static void count_cell(sl_buf *b, int64_t n) {
  sl_buf_puts(b, "<td class=\"num\">");
  sl__card_count(b, n);
  sl_buf_puts(b, "</td>");
}

static void duration_cell(sl_buf *b, double s) {
  sl_buf_puts(b, "<td class=\"num\">");
  sl__card_duration(b, s);
  sl_buf_puts(b, "</td>");
}

static void place_text(sl_buf *b, const sl_card *c, int di) {
  int place = sl_card_place(c, di);
  if (place) sl_buf_printf(b, "%d", place);
  else sl_buf_puts(b, "\xE2\x80\x94");
}

/* ---- header, ranking, footer ---- */

static void page_head(sl_buf *b, const sl_card *c, const sl_card_dept *only) {
  sl_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>");
  sl__card_escape(b, c->title);
  text(b, " \xC2\xB7 ", c->period, "");
  if (only) text(b, " \xC2\xB7 ", only->name, "");
  sl_buf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", page_css);
  text(b, "<header class=\"top\">\n<h1>", c->title, "</h1>\n");
  text(b, "<dl class=\"meta\"><div><dt>Period</dt><dd>", c->period, "</dd></div>");
  sl_buf_puts(b, "<div><dt>Generated</dt><dd><time datetime=\"");
  sl__card_iso_utc(b, c->generated_ms);
  sl_buf_puts(b, "\">");
  sl__card_iso_utc(b, c->generated_ms);
  sl_buf_puts(b, "</time></dd></div></dl>\n<p class=\"legend\">Scores in percent. Grades: ");
  grade_badge(b, 0.9, 0);
  sl_buf_puts(b, " at least 90%, ");
  grade_badge(b, 0.75, 0);
  sl_buf_puts(b, " at least 75%, ");
  grade_badge(b, 0, 0);
  sl_buf_puts(b, " below; \xE2\x80\x94 no data in the period.</p>\n</header>\n");
}

static void ranking_row(sl_buf *b, const sl_card *c, int di) {
  const sl_card_dept *d = &c->depts[di];
  sl_buf_puts(b, "<tr><td class=\"num rank-no\">");
  place_text(b, c, di);
  text(b, "</td><th scope=\"row\"><a href=\"#dept-", d->id, "\">");
  text(b, "", d->name, "</a></th>");
  score_cells(b, d->score);
  sl_buf_puts(b, "</tr>\n");
}

static void ranking(sl_buf *b, const sl_card *c) {
  sl_buf_puts(b, "<section class=\"ranking\">\n<h2>Ranking of departments</h2>\n"
                 "<div class=\"scroll\"><table>\n<thead><tr>"
                 "<th scope=\"col\" class=\"num\">Rank</th><th scope=\"col\">Department</th>");
  score_heads(b);
  sl_buf_puts(b, "</tr></thead>\n<tbody>\n");
  for (int i = 0; i < c->ndepts; i++) ranking_row(b, c, i);
  sl_buf_puts(b, "</tbody></table></div>\n</section>\n");
}

/* How the scores are made (docs/metrics.md has the whole of it). */
static const char *const method_lines[SL_NDIMS] = {
    "values that met the standard as sent: valid / (valid + fixed + invalid)",
    "catalog fields present: present / (present + missing)",
    "mean of (valid + fixed) / checked values and 1 \xE2\x88\x92 duplicates / records",
    "1 \xE2\x88\x92 disagreements with the golden record / comparisons",
    "mean of records on time / records and 1 \xE2\x88\x92 missed slots / slots",
    "1 \xE2\x88\x92 dead letters / (records + dead letters)",
    "the catalog's weighted mean of the dimensions that have a score"};

static void method(sl_buf *b) {
  sl_buf_puts(b, "<section class=\"method\">\n<h3>How the scores are computed</h3>\n<dl>");
  for (int d = 0; d < SL_NDIMS; d++)
    sl_buf_printf(b, "<dt>%s</dt><dd>%s</dd>", dim_titles[d], method_lines[d]);
  sl_buf_puts(b, "</dl>\n<p>Dimensions of GB/T 36344-2018. Latency is arrival minus event "
                 "time.</p>\n</section>\n");
}

/* ---- a department's section ---- */

static void dept_dims(sl_buf *b, const sl_card_dept *d) {
  sl_buf_puts(b, "<dl class=\"dims\">");
  for (int k = 0; k < SL_DIM_OVERALL; k++) {
    sl_buf_printf(b, "<div class=\"dim\"><dt>%s <span lang=\"zh-CN\">%s</span></dt><dd>",
                  dim_titles[k], dim_terms[k]);
    sl__card_pct(b, d->score[k]);
    sl__card_bar(b, d->score[k]);
    sl_buf_puts(b, "</dd></div>");
  }
  sl_buf_puts(b, "</dl>\n");
}

static void dept_trend(sl_buf *b, const sl_card *c, const sl_card_dept *d) {
  if (d->ntrend < 1) {
    sl_buf_puts(b, "<p class=\"muted\">No trend yet: no earlier period has a score.</p>\n");
    return;
  }
  sl_buf_puts(b, "<figure>");
  sl__card_trend_chart(b, d->trend, d->ntrend, c->utc_offset_s, d->name);
  sl_buf_puts(b, "<figcaption>Overall score per period; hover a point for its value.</figcaption>"
                 "</figure>\n");
}

static void feed_name_cell(sl_buf *b, const sl_card_feed *f) {
  text(b, "<th scope=\"row\">", sl__card_feed_label(f), "");
  if (f->title && *f->title && f->name) text(b, "<span class=\"zh muted\">", f->name, "</span>");
  sl_buf_puts(b, "</th>");
}

static void feed_score_row(sl_buf *b, const sl_card *c, const sl_card_feed *f) {
  sl_buf_puts(b, "<tr>");
  feed_name_cell(b, f);
  sl_buf_puts(b, "<td>");
  if (f->ntrend > 0)
    sl__card_sparkline(b, f->trend, f->ntrend, c->utc_offset_s, sl__card_feed_label(f));
  else
    sl_buf_puts(b, "\xE2\x80\x94");
  sl_buf_puts(b, "</td>");
  score_cells(b, f->score);
  sl_buf_puts(b, "</tr>\n");
}

static void feed_delivery_row(sl_buf *b, const sl_card_feed *f) {
  sl_buf_puts(b, "<tr>");
  feed_name_cell(b, f);
  count_cell(b, f->records);
  count_cell(b, f->dead_letters);
  count_cell(b, f->late);
  count_cell(b, f->duplicates);
  count_cell(b, f->missed_slots);
  duration_cell(b, f->latency_p50_s);
  duration_cell(b, f->latency_p95_s);
  sl_buf_puts(b, "</tr>\n");
}

/* The columns of feed_delivery_row. */
static const char *const delivery_cols[] = {"Records",      "Dead letters", "Late",
                                            "Duplicates",   "Missed slots", "Latency p50",
                                            "Latency p95"};

static void feed_tables(sl_buf *b, const sl_card *c, const sl_card_dept *d) {
  sl_buf_puts(b, "<h3>Feed scores</h3>\n<div class=\"scroll\"><table>\n<thead><tr>"
                 "<th scope=\"col\">Feed</th><th scope=\"col\">Trend</th>");
  score_heads(b);
  sl_buf_puts(b, "</tr></thead>\n<tbody>\n");
  for (int j = 0; j < d->nfeeds; j++) feed_score_row(b, c, &d->feeds[j]);
  sl_buf_puts(b, "</tbody></table></div>\n<h3>Feed delivery</h3>\n<div class=\"scroll\"><table>\n"
                 "<thead><tr><th scope=\"col\">Feed</th>");
  for (size_t k = 0; k < sizeof delivery_cols / sizeof *delivery_cols; k++)
    sl_buf_printf(b, "<th scope=\"col\" class=\"num\">%s</th>", delivery_cols[k]);
  sl_buf_puts(b, "</tr></thead>\n<tbody>\n");
  for (int j = 0; j < d->nfeeds; j++) feed_delivery_row(b, &d->feeds[j]);
  sl_buf_puts(b, "</tbody></table></div>\n");
}

/* ---- worst fields and rules ---- */

enum { WORST_SHOWN = 10 };

typedef struct worst {
  const sl_card_feed *feed;
  const sl_card_issue *issue;
  int order;              /* place in the card: equal counts keep it */
} worst;

static int cmp_worst(const void *pa, const void *pb) {
  const worst *a = pa, *b = pb;
  if (a->issue->count != b->issue->count) return a->issue->count > b->issue->count ? -1 : 1;
  return a->order - b->order;
}

static void worst_row(sl_buf *b, const worst *w) {
  text(b, "<tr><td>", sl__card_feed_label(w->feed), "</td>");
  text(b, "<td>", w->issue->field, "</td>");
  text(b, "<td>", w->issue->rule, "</td>");
  count_cell(b, w->issue->count);
  text(b, "<td class=\"ex\">", w->issue->example, "</td></tr>\n");
}

/* The department's issues across its feeds, most frequent first. */
static void dept_worst(sl_buf *b, const sl_card_dept *d) {
  int n = 0;
  for (int j = 0; j < d->nfeeds; j++) n += d->feeds[j].nissues > 0 ? d->feeds[j].nissues : 0;
  sl_buf_puts(b, "<h3>Worst fields and rules</h3>\n");
  if (!n) {
    sl_buf_puts(b, "<p class=\"muted\">No field or rule failed in the period.</p>\n");
    return;
  }
  worst *all = malloc((size_t)n * sizeof *all);
  if (!all) {
    b->oom = 1;   /* the page is incomplete: say so the way sl_buf does */
    return;
  }
  n = 0;
  for (int j = 0; j < d->nfeeds; j++)
    for (int k = 0; k < d->feeds[j].nissues; k++, n++)
      all[n] = (worst){&d->feeds[j], &d->feeds[j].issues[k], n};
  qsort(all, (size_t)n, sizeof *all, cmp_worst);
  sl_buf_puts(b, "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Feed</th>"
                 "<th scope=\"col\">Field</th><th scope=\"col\">Rule</th>"
                 "<th scope=\"col\" class=\"num\">Count</th>"
                 "<th scope=\"col\">Example (masked)</th></tr></thead>\n<tbody>\n");
  for (int i = 0; i < n && i < WORST_SHOWN; i++) worst_row(b, &all[i]);
  sl_buf_puts(b, "</tbody></table></div>\n");
  free(all);
}

/* ---- the page ---- */

static void dept_section(sl_buf *b, const sl_card *c, int di) {
  const sl_card_dept *d = &c->depts[di];
  int64_t records = 0;
  for (int j = 0; j < d->nfeeds; j++) records += d->feeds[j].records;
  text(b, "<section class=\"dept\" id=\"dept-", d->id, "\">\n");
  text(b, "<h2>", d->name, "");
  grade_badge(b, d->score[SL_DIM_OVERALL], 1);
  sl_buf_puts(b, "</h2>\n<p class=\"sub\">Rank ");
  place_text(b, c, di);
  sl_buf_printf(b, " of %d \xC2\xB7 %d feed%s \xC2\xB7 ", c->ndepts, d->nfeeds,
                d->nfeeds == 1 ? "" : "s");
  sl__card_count(b, records);
  sl_buf_puts(b, " records</p>\n");
  sl_buf_puts(b, "<div class=\"overview\">\n");
  dept_trend(b, c, d);
  dept_dims(b, d);
  sl_buf_puts(b, "</div>\n");
  if (d->nfeeds > 0) feed_tables(b, c, d);
  dept_worst(b, d);
  sl_buf_puts(b, "</section>\n");
}

static int find_dept(const sl_card *c, const char *id) {
  for (int i = 0; i < c->ndepts; i++)
    if (c->depts[i].id && strcmp(c->depts[i].id, id) == 0) return i;
  return -1;
}

void sl_card_html(const sl_card *c, const char *dept_only, sl_buf *out) {
  int only = dept_only ? find_dept(c, dept_only) : -1;
  page_head(out, c, only >= 0 ? &c->depts[only] : NULL);
  if (!dept_only) {
    ranking(out, c);
    for (int i = 0; i < c->ndepts; i++) dept_section(out, c, i);
  } else if (only >= 0) {
    dept_section(out, c, only);
  } else {
    text(out, "<p>This scorecard has no department \xE2\x80\x9C", dept_only,
         "\xE2\x80\x9D.</p>\n");
  }
  method(out);
  sl_buf_puts(out, "</main>\n</body>\n</html>\n");
}
