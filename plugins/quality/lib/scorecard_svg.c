/* The scorecard page's inline SVG: bars, the trend chart and sparklines.
 * Coordinates are written with one decimal, so the same card gives the
 * same bytes; colours and strokes come from the page's CSS classes. */
#include <math.h>

#include "scorecard_fmt.h"
#include "scorecard_svg.h"

/* The chart's box and its plot area inside it. */
/* The grades' labels stand in the right margin, beside their lines. */
enum { CHART_W = 720, CHART_H = 240, PLOT_L = 44, PLOT_R = 72, PLOT_T = 14, PLOT_B = 34 };
enum { SPARK_W = 96, SPARK_H = 26, SPARK_PAD = 3 };

void sl__card_bar(sl_buf *b, double score) {
  sl_buf_puts(b, "<svg class=\"bar\" viewBox=\"0 0 100 6\" width=\"40\" height=\"6\" "
                 "aria-hidden=\"true\"><rect class=\"track\" width=\"100\" height=\"6\"/>");
  if (sl_card_has_score(score))
    sl_buf_printf(b, "<rect class=\"%s\" width=\"%.1f\" height=\"6\"/>", sl_card_grade(score),
                  fmin(score, 1.0) * 100.0);
  sl_buf_puts(b, "</svg>");
}

/* The axis' lower end in tenths: 7 (70%) unless a score lies below it,
 * so that both thresholds (75%, 90%) always show. */
static int axis_low(const sl_card_point *p, int n) {
  int low = 7;
  for (int i = 0; i < n; i++)
    if (sl_card_has_score(p[i].score) && (int)floor(p[i].score * 10) < low)
      low = (int)floor(p[i].score * 10);
  return low;
}

/* Maps a score to y in [top, top + h], 100% at the top. */
static double y_of(double score, int low, double top, double h) {
  double lo = low / 10.0;
  return top + (1.0 - (fmin(score, 1.0) - lo) / (1.0 - lo)) * h;
}

static double x_of(int i, int n, double left, double w) {
  return n < 2 ? left + w / 2 : left + w * i / (n - 1);
}

/* The line through the points that have a score; a gap where one has none. */
static void polylines(sl_buf *b, const sl_card_point *p, int n, int low, double left,
                      double top, double w, double h) {
  int open = 0;
  for (int i = 0; i < n; i++) {
    if (!sl_card_has_score(p[i].score)) {
      if (open) sl_buf_puts(b, "\"/>");
      open = 0;
      continue;
    }
    sl_buf_puts(b, open ? " " : "<polyline class=\"line\" points=\"");
    sl_buf_printf(b, "%.1f,%.1f", x_of(i, n, left, w), y_of(p[i].score, low, top, h));
    open = 1;
  }
  if (open) sl_buf_puts(b, "\"/>");
}

static void chart_grid(sl_buf *b, int low) {
  const double w = CHART_W - PLOT_L - PLOT_R, h = CHART_H - PLOT_T - PLOT_B;
  for (int k = low; k <= 10; k++) {
    double y = y_of(k / 10.0, low, PLOT_T, h);
    sl_buf_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                  PLOT_L, y, PLOT_L + w, y);
    sl_buf_printf(b, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>",
                  PLOT_L - 6, y + 4, k * 10);
  }
  static const struct { double at; const char *grade, *label; } thr[] = {
      {0.9, "good", "good \xE2\x89\xA5 90%"}, {0.75, "fair", "fair \xE2\x89\xA5 75%"}};
  for (int t = 0; t < 2; t++) {
    double y = y_of(thr[t].at, low, PLOT_T, h);
    sl_buf_printf(b, "<line class=\"thr %s\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                     "<text class=\"thr-label %s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                  thr[t].grade, PLOT_L, y, PLOT_L + w, y, thr[t].grade, PLOT_L + w + 6, y + 3.5,
                  thr[t].label);
  }
  sl_buf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
                PLOT_L, PLOT_T + h, PLOT_L + w, PLOT_T + h);
}

/* Period labels under the axis (at most about twelve), and the points
 * with their hover titles. */
static void chart_points(sl_buf *b, const sl_card_point *p, int n, int32_t off, int low) {
  const double w = CHART_W - PLOT_L - PLOT_R, h = CHART_H - PLOT_T - PLOT_B;
  sl__card_step step = sl__card_step_of(p, n);
  int every = (n + 11) / 12;
  for (int i = 0; i < n; i++) {
    double x = x_of(i, n, PLOT_L, w);
    if (i % every == 0) {
      sl_buf_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x,
                    CHART_H - PLOT_B + 18);
      sl__card_period_label(b, p[i].start_ms, off, step, 1);
      sl_buf_puts(b, "</text>");
    }
    if (!sl_card_has_score(p[i].score)) continue;
    sl_buf_printf(b, "<circle class=\"pt %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>",
                  sl_card_grade(p[i].score), x, y_of(p[i].score, low, PLOT_T, h));
    sl__card_period_label(b, p[i].start_ms, off, step, 0);
    sl_buf_puts(b, ": ");
    sl__card_pct(b, p[i].score);
    sl_buf_printf(b, " (%s)</title></circle>", sl_card_grade(p[i].score));
  }
}

void sl__card_trend_chart(sl_buf *b, const sl_card_point *p, int n, int32_t off,
                          const char *what) {
  int low = axis_low(p, n);
  sl_buf_printf(b, "<svg class=\"trend\" viewBox=\"0 0 %d %d\" role=\"img\"><title>", CHART_W,
                CHART_H);
  sl__card_escape(b, what);
  sl_buf_puts(b, ": overall score per period</title>");
  chart_grid(b, low);
  polylines(b, p, n, low, PLOT_L, PLOT_T, CHART_W - PLOT_L - PLOT_R, CHART_H - PLOT_T - PLOT_B);
  chart_points(b, p, n, off, low);
  sl_buf_puts(b, "</svg>");
}

/* "2026-01 91.2%": the title's words for one point. */
static void point_words(sl_buf *b, const sl_card_point *pt, int32_t off, sl__card_step step) {
  sl__card_period_label(b, pt->start_ms, off, step, 0);
  sl_buf_putc(b, ' ');
  sl__card_pct(b, pt->score);
}

void sl__card_sparkline(sl_buf *b, const sl_card_point *p, int n, int32_t off,
                        const char *what) {
  const double w = SPARK_W - 2 * SPARK_PAD, h = SPARK_H - 2 * SPARK_PAD;
  if (n < 1) return;
  int low = axis_low(p, n);
  sl__card_step step = sl__card_step_of(p, n);
  sl_buf_printf(b, "<svg class=\"spark\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                   "role=\"img\"><title>", SPARK_W, SPARK_H, SPARK_W, SPARK_H);
  sl__card_escape(b, what);
  sl_buf_puts(b, ": ");
  point_words(b, &p[0], off, step);
  if (n > 1) {
    sl_buf_puts(b, " \xE2\x86\x92 ");   /* → */
    point_words(b, &p[n - 1], off, step);
  }
  sl_buf_puts(b, "</title>");
  polylines(b, p, n, low, SPARK_PAD, SPARK_PAD, w, h);
  if (sl_card_has_score(p[n - 1].score))
    sl_buf_printf(b, "<circle class=\"pt %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>",
                  sl_card_grade(p[n - 1].score), x_of(n - 1, n, SPARK_PAD, w),
                  y_of(p[n - 1].score, low, SPARK_PAD, h));
  sl_buf_puts(b, "</svg>");
}
