#include "sluice/clock.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock_fix.h"

/* Howard Hinnant's days_from_civil: eras of 400 years (146097 days), the
 * year counted from March so that the leap day comes last. */
int64_t sl_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void sl_civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* INT64_MIN: the real clock.  Atomic: set on the loop thread between
 * runs, read on any. */
static _Atomic int64_t fixed_now_ms = INT64_MIN;

void sl__clock_fix(int64_t unix_ms) { atomic_store(&fixed_now_ms, unix_ms); }

int64_t sl_now_ms(void) {
  int64_t fixed = atomic_load_explicit(&fixed_now_ms, memory_order_relaxed);
  if (fixed != INT64_MIN) return fixed;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_format_time_ms(char *out, size_t n, int64_t unix_ms) {
  time_t secs = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(unix_ms % 1000));
}

/* Parses "<number><unit>" where the unit is looked up in units[]; a bare
 * number takes the unit named by bare (or fails if bare is NULL). */
struct unit { const char *name; double factor; };

static int64_t parse_with_units(const char *s, const struct unit *units) {
  if (!s || !*s) return -1;
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) return -1;
  while (isspace((unsigned char)*end)) end++;
  for (const struct unit *u = units; u->name; u++) {
    if (strcmp(end, u->name) == 0) {
      double r = v * u->factor;
      if (r > 9.2e18) return -1;
      return (int64_t)r;
    }
  }
  return -1;
}

int64_t sl_parse_duration_ms(const char *s) {
  static const struct unit units[] = {
      {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};
  return parse_with_units(s, units);
}

int64_t sl_parse_size(const char *s) {
  static const struct unit units[] = {
      {"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0},
      {"GiB", 1073741824.0}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
      {"k", 1024.0}, {"K", 1024.0}, {"M", 1048576.0}, {"G", 1073741824.0},
      {NULL, 0}};
  return parse_with_units(s, units);
}

/* ---- RFC 3339 ---- */

static int digits(const char *p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  *out = v;
  return 0;
}

int sl_parse_time_ms(const char *p, size_t n, int64_t *ms) {
  int y, mo, d, h, mi, s;
  if (n < 20 || digits(p, 4, &y) || p[4] != '-' || digits(p + 5, 2, &mo) || p[7] != '-' ||
      digits(p + 8, 2, &d) || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
      digits(p + 11, 2, &h) || p[13] != ':' || digits(p + 14, 2, &mi) || p[16] != ':' ||
      digits(p + 17, 2, &s))
    return -1;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 60) return -1;
  size_t i = 19;
  int frac_ms = 0;
  if (i < n && p[i] == '.') {
    i++;
    size_t start = i;
    int scale = 100;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
      frac_ms += (p[i] - '0') * scale;
      scale /= 10;
      i++;
    }
    if (i == start) return -1;
  }
  int offset_min = 0;
  if (i < n && (p[i] == 'Z' || p[i] == 'z')) {
    i++;
  } else if (i + 6 <= n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
    int oh, om;
    if (digits(p + i + 1, 2, &oh) || digits(p + i + 4, 2, &om) || oh > 23 || om > 59) return -1;
    offset_min = (oh * 60 + om) * (p[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return -1;
  }
  if (i != n) return -1;
  if (s == 60) s = 59;   /* a leap second: its millisecond in the last second */
  int64_t secs = sl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_min * 60;
  *ms = secs * 1000 + frac_ms;
  return 0;
}
