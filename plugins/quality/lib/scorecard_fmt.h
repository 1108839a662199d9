/* Text the scorecard's renderers share: HTML escaping, percentages,
 * counts, durations and dates (scorecard_fmt.c).  Library-internal. */
#ifndef SLUICE_QUALITY_SCORECARD_FMT_H
#define SLUICE_QUALITY_SCORECARD_FMT_H

#include <stdint.h>

#include "scorecard.h"

/* How far apart a trend's periods are, for labelling them. */
typedef enum { SL__CARD_HOURS, SL__CARD_DAYS, SL__CARD_MONTHS } sl__card_step;

/* Appends s (NULL: nothing) escaped for HTML text and quoted attribute
 * values: & < > " ' become entities, bytes that are not UTF-8 U+FFFD. */
void sl__card_escape(sl_buf *b, const char *s);
/* "95.3%" (one decimal), or "—" when there is no score. */
void sl__card_pct(sl_buf *b, double score);
/* "1,234,567". */
void sl__card_count(sl_buf *b, int64_t n);
/* "42.0 s", "3.5 min", "2.1 h", "1.5 d"; "—" when negative or NaN. */
void sl__card_duration(sl_buf *b, double seconds);
/* "2026-12-05T09:00:00Z". */
void sl__card_iso_utc(sl_buf *b, int64_t ms);
/* "2026-11-01T00:00:00+08:00": ms in the zone utc_offset_s. */
void sl__card_iso_local(sl_buf *b, int64_t ms, int32_t utc_offset_s);
/* The spacing of points[0..n) (months when there is one point or none). */
sl__card_step sl__card_step_of(const sl_card_point *points, int n);
/* A period's name in the zone: "2026-11", "2026-11-05", "2026-11-05 14:00";
 * short (axis labels): "2026-11", "11-05", "14:00". */
void sl__card_period_label(sl_buf *b, int64_t ms, int32_t utc_offset_s, sl__card_step step,
                           int short_form);
/* What a feed is called on the page: its title, else its name. */
const char *sl__card_feed_label(const sl_card_feed *f);

#endif
