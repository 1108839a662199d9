/* The scorecard page's inline SVG: score bars, the trend chart and
 * sparklines (scorecard_svg.c).  Library-internal.  Their look is the
 * page's CSS (classes good, fair, poor, line, grid ...): the SVG carries
 * geometry and text only. */
#ifndef SLUICE_QUALITY_SCORECARD_SVG_H
#define SLUICE_QUALITY_SCORECARD_SVG_H

#include "scorecard.h"

/* A small bar as wide as the score, in its grade's colour; hidden from
 * screen readers (the number stands beside it). */
void sl__card_bar(sl_buf *b, double score);
/* The overall score per period: a line chart with a percentage axis,
 * the grades' thresholds, period labels and a <title> per point (hover).
 * what: the chart's title, e.g. the department's name (escaped here). */
void sl__card_trend_chart(sl_buf *b, const sl_card_point *p, int n, int32_t utc_offset_s,
                          const char *what);
/* The same as a 96x26 sparkline with a <title> giving first and last. */
void sl__card_sparkline(sl_buf *b, const sl_card_point *p, int n, int32_t utc_offset_s,
                        const char *what);

#endif
