/* Text the scorecard's renderers share: HTML escaping and the formats of
 * scores, counts, durations and dates.  Nothing here reads the clock or
 * the locale: the page is the same bytes for the same card. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "sluice/text.h"
#include "scorecard_fmt.h"

void sl__card_escape(sl_buf *b, const char *s) {
  if (!s) return;
  size_t n = strlen(s), i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : sl_utf8_seq((const unsigned char *)s + i, n - i);
    switch (len ? c : 0) {
    case '&': sl_buf_puts(b, "&amp;"); break;
    case '<': sl_buf_puts(b, "&lt;"); break;
    case '>': sl_buf_puts(b, "&gt;"); break;
    case '"': sl_buf_puts(b, "&quot;"); break;
    case '\'': sl_buf_puts(b, "&#39;"); break;
    case 0: sl_buf_puts(b, "\xEF\xBF\xBD"); len = 1; break;   /* U+FFFD */
    default: sl_buf_append(b, s + i, len); break;
    }
    i += len;
  }
}

void sl__card_pct(sl_buf *b, double score) {
  if (!sl_card_has_score(score)) {
    sl_buf_puts(b, "\xE2\x80\x94");   /* — */
    return;
  }
  sl_buf_printf(b, "%.1f%%", score * 100.0);
}

void sl__card_count(sl_buf *b, int64_t n) {
  char digits[24];
  uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
  int len = 0;
  do {
    digits[len++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (n < 0) sl_buf_putc(b, '-');
  while (len--) {
    sl_buf_putc(b, digits[len]);
    if (len && len % 3 == 0) sl_buf_putc(b, ',');
  }
}

void sl__card_duration(sl_buf *b, double s) {
  if (isnan(s) || s < 0) sl_buf_puts(b, "\xE2\x80\x94");
  else if (s < 60) sl_buf_printf(b, "%.1f s", s);
  else if (s < 3600) sl_buf_printf(b, "%.1f min", s / 60);
  else if (s < 86400) sl_buf_printf(b, "%.1f h", s / 3600);
  else sl_buf_printf(b, "%.1f d", s / 86400);
}

/* The calendar fields of ms shifted by off seconds. */
static struct tm civil(int64_t ms, int32_t off) {
  int64_t s = ms / 1000 - (ms % 1000 < 0) + off;
  time_t t = (time_t)s;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) memset(&tm, 0, sizeof tm);
  return tm;
}

void sl__card_iso_utc(sl_buf *b, int64_t ms) {
  struct tm t = civil(ms, 0);
  sl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
}

void sl__card_iso_local(sl_buf *b, int64_t ms, int32_t off) {
  struct tm t = civil(ms, off);
  int32_t a = off < 0 ? -off : off;
  sl_buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, off < 0 ? '-' : '+',
                (int)(a / 3600), (int)(a % 3600 / 60));
}

sl__card_step sl__card_step_of(const sl_card_point *p, int n) {
  if (n < 2) return SL__CARD_MONTHS;
  int64_t gap = (p[n - 1].start_ms - p[0].start_ms) / (n - 1);
  if (gap >= 27LL * 86400000) return SL__CARD_MONTHS;
  if (gap >= 23LL * 3600000) return SL__CARD_DAYS;
  return SL__CARD_HOURS;
}

void sl__card_period_label(sl_buf *b, int64_t ms, int32_t off, sl__card_step step,
                           int short_form) {
  struct tm t = civil(ms, off);
  int y = t.tm_year + 1900, m = t.tm_mon + 1;
  if (step == SL__CARD_MONTHS) sl_buf_printf(b, "%04d-%02d", y, m);
  else if (short_form && step == SL__CARD_DAYS) sl_buf_printf(b, "%02d-%02d", m, t.tm_mday);
  else if (step == SL__CARD_DAYS) sl_buf_printf(b, "%04d-%02d-%02d", y, m, t.tm_mday);
  else if (short_form) sl_buf_printf(b, "%02d:%02d", t.tm_hour, t.tm_min);
  else sl_buf_printf(b, "%04d-%02d-%02d %02d:%02d", y, m, t.tm_mday, t.tm_hour, t.tm_min);
}

const char *sl__card_feed_label(const sl_card_feed *f) {
  return f->title && *f->title ? f->title : f->name;
}
