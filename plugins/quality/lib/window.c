/* Window arithmetic (window.h). */
#include "window.h"

#include <stdio.h>
#include <string.h>

#include "sluice/clock.h"

const char *const qw_period_names[QW_NPERIODS] = {"hour", "day", "month"};

int qw_period_of(const char *s) {
  for (int p = 0; p < QW_NPERIODS; p++)
    if (!strcmp(s, qw_period_names[p])) return p;
  return -1;
}

/* Floor division: windows before 1970 align like those after. */
static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

int64_t qw_start(qw_period p, int64_t t_ms, int32_t off_s) {
  int64_t local = t_ms + (int64_t)off_s * 1000;
  if (p == QW_HOUR) return floor_div(local, 3600000) * 3600000 - (int64_t)off_s * 1000;
  int64_t day = floor_div(local, 86400000);
  if (p == QW_MONTH) {
    int y, m, d;
    sl_civil_from_days(day, &y, &m, &d);
    day = sl_days_from_civil(y, m, 1);
  }
  return day * 86400000 - (int64_t)off_s * 1000;
}

int64_t qw_next(qw_period p, int64_t start_ms, int32_t off_s) {
  if (p == QW_HOUR) return start_ms + 3600000;
  if (p == QW_DAY) return start_ms + 86400000;
  int64_t day = floor_div(start_ms + (int64_t)off_s * 1000, 86400000);
  int y, m, d;
  sl_civil_from_days(day, &y, &m, &d);
  if (++m > 12) {
    m = 1;
    y++;
  }
  return sl_days_from_civil(y, m, 1) * 86400000 - (int64_t)off_s * 1000;
}

void qw_label(qw_period p, int64_t start_ms, int32_t off_s, char *out, size_t cap) {
  int64_t local = start_ms + (int64_t)off_s * 1000;
  int y, m, d;
  sl_civil_from_days(floor_div(local, 86400000), &y, &m, &d);
  int h = (int)(floor_div(local, 3600000) - floor_div(local, 86400000) * 24);
  if (p == QW_MONTH) snprintf(out, cap, "%04d-%02d", y, m);
  else if (p == QW_DAY) snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
  else snprintf(out, cap, "%04d-%02d-%02dT%02d", y, m, d, h);
}
