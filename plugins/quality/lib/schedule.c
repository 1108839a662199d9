/* Schedules (schedule.h): parsed into cron's sets of minutes, hours, days
 * and months, or a fixed interval; the next and previous deadlines found
 * day by day, then within the day. */
#include "schedule.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/clock.h"

#define MINUTE_MS 60000LL
#define DAY_MIN 1440LL
#define SEARCH_DAYS (5 * 366)

static const char *const wday_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int fail(char *err, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && cap) vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return -1;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static int days_in_month(int y, int m) {
  int ny = m == 12 ? y + 1 : y, nm = m == 12 ? 1 : m + 1;
  return (int)(sl_days_from_civil(ny, nm, 1) - sl_days_from_civil(y, m, 1));
}

/* ---- parsing ---- */

/* "HH:MM" at *p; 0 and advances, or -1. */
static int clock_time(const char **p, int *h, int *m) {
  const char *s = *p;
  if (!isdigit((unsigned char)s[0])) return -1;
  char *end;
  long hh = strtol(s, &end, 10);
  if (*end != ':' || end - s > 2 || !isdigit((unsigned char)end[1]) || !isdigit((unsigned char)end[2]))
    return -1;
  long mm = (end[1] - '0') * 10 + (end[2] - '0');
  *h = (int)hh;
  *m = (int)mm;
  *p = end + 3;
  return 0;
}

/* The text lower-cased, blanks squeezed to one space, trimmed. */
static void normalise(const char *text, char *out, size_t cap) {
  size_t n = 0;
  int space = 0;
  for (const char *c = text; *c && n + 1 < cap; c++) {
    if (isspace((unsigned char)*c)) {
      space = n > 0;
      continue;
    }
    if (space && n + 2 < cap) out[n++] = ' ';
    space = 0;
    out[n++] = (char)tolower((unsigned char)*c);
  }
  out[n] = 0;
}

/* One cron field: *, N, A-B, * /S, A-B/S, N/S (N on), comma lists, within
 * lo..hi; the set in *bits, whether it was a bare * in *any.  0, or -1. */
static int cron_field(const char *f, int lo, int hi, uint64_t *bits, int *any) {
  *bits = 0;
  *any = !strcmp(f, "*");
  const char *p = f;
  while (*p) {
    /* long, compared before any use: "1/4294967297" is refused, not wrapped. */
    long a = lo, b = hi, step = 1;
    int single = 0;
    char *end;
    if (*p == '*') {
      p++;
    } else {
      if (!isdigit((unsigned char)*p)) return -1;
      a = b = strtol(p, &end, 10);
      p = end;
      single = 1;
      if (*p == '-') {
        if (!isdigit((unsigned char)p[1])) return -1;
        b = strtol(p + 1, &end, 10);
        p = end;
        single = 0;
      }
    }
    if (*p == '/') {
      if (!isdigit((unsigned char)p[1])) return -1;
      step = strtol(p + 1, &end, 10);
      if (step < 1 || step > hi) return -1;
      p = end;
      if (single) b = hi;
    }
    if (a < lo || b > hi || a > b) return -1;
    for (long v = a; v <= b; v += step) *bits |= 1ull << v;
    if (*p == ',' && p[1]) p++;
    else if (*p) return -1;
  }
  return *bits ? 0 : -1;
}

static int parse_cron(const char *t, sl_schedule *s, char *err, size_t cap) {
  char f[5][64];
  int n = sscanf(t, "%63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4]);
  char extra[2];
  if (n != 5 || sscanf(t, "%*s %*s %*s %*s %*s %1s", extra) == 1)
    return fail(err, cap, "%s: a cron schedule has five fields (minute hour day month weekday)", t);
  static const char *const names[5] = {"minute", "hour", "day of the month", "month", "day of the week"};
  static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
  uint64_t bits[5];
  int any[5];
  for (int i = 0; i < 5; i++)
    if (cron_field(f[i], lo[i], hi[i], &bits[i], &any[i]))
      return fail(err, cap, "%s: %s field '%s' must be *, a number %d-%d, a range or a step", t, names[i],
                  f[i], lo[i], hi[i]);
  s->minutes = bits[0];
  s->hours = (uint32_t)bits[1];
  s->mdays = (uint32_t)bits[2];
  s->months = (uint16_t)bits[3];
  s->wdays = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);   /* 7 is Sunday too */
  s->mday_any = (uint8_t)any[2];
  s->wday_any = (uint8_t)any[4];
  return 0;
}

/* "by HH:MM" at p (after the words before it). */
static int by_time(const char *t, const char *p, sl_schedule *s, char *err, size_t cap) {
  int h, m;
  if (strncmp(p, "by ", 3) || (p += 3, clock_time(&p, &h, &m)) || *p)
    return fail(err, cap, "%s: expected \"by HH:MM\" at the end", t);
  if (h > 23) return fail(err, cap, "%s: hour must be 0-23", t);
  if (m > 59) return fail(err, cap, "%s: minute must be 0-59", t);
  s->hours = 1u << h;
  s->minutes = 1ull << m;
  return 0;
}

static int parse_every(const char *t, sl_schedule *s, char *err, size_t cap) {
  char unit[16] = "";
  long n = 0;
  int used = 0;
  if (sscanf(t, "every %ld%n", &n, &used) != 1)
    return fail(err, cap, "%s: expected \"every N min\" or \"every N h\"", t);
  const char *u = t + used;
  while (*u == ' ') u++;
  if (sscanf(u, "%15s", unit) != 1 || u[strlen(unit)])
    return fail(err, cap, "%s: expected a unit after the number: min or h", t);
  int64_t per;
  if (!strcmp(unit, "m") || !strcmp(unit, "min") || !strcmp(unit, "mins") || !strcmp(unit, "minute") ||
      !strcmp(unit, "minutes"))
    per = MINUTE_MS;
  else if (!strcmp(unit, "h") || !strcmp(unit, "hr") || !strcmp(unit, "hour") || !strcmp(unit, "hours"))
    per = 60 * MINUTE_MS;
  else
    return fail(err, cap, "%s: unknown unit '%s' (min or h)", t, unit);
  if (n < 1 || n > 10000) return fail(err, cap, "%s: the interval must be 1 to 10000", t);
  s->interval_ms = n * per;
  /* Aligned to the zone's midnight when it divides a day. */
  s->align_ms = DAY_MIN * MINUTE_MS % s->interval_ms == 0 ? -(int64_t)s->offset_s * 1000 : 0;
  return 0;
}

int sl_schedule_parse(const char *text, int32_t utc_offset_s, sl_schedule *s, char *err, size_t cap) {
  char t[128];
  memset(s, 0, sizeof *s);
  s->offset_s = utc_offset_s;
  if (!text || strlen(text) >= sizeof t - 1) return fail(err, cap, "a schedule is a short text");
  normalise(text, t, sizeof t);
  /* Everything but the times is every day, hour, month by default. */
  s->minutes = 1;
  s->hours = 0xffffff;
  s->mdays = 0xfffffffe;
  s->months = 0x1ffe;
  s->wdays = 0x7f;
  s->mday_any = s->wday_any = 1;
  if (!strncmp(t, "every ", 6)) return parse_every(t, s, err, cap);
  if (!strncmp(t, "daily ", 6)) return by_time(t, t + 6, s, err, cap);
  if (!strncmp(t, "workdays ", 9)) {
    s->wdays = 0x3e;
    s->wday_any = 0;
    return by_time(t, t + 9, s, err, cap);
  }
  if (!strncmp(t, "hourly by :", 11)) {
    char *end;
    long m = strtol(t + 11, &end, 10);
    if (end == t + 11 || *end || m < 0 || m > 59) return fail(err, cap, "%s: expected \"hourly by :MM\" (00-59)", t);
    s->minutes = 1ull << m;
    return 0;
  }
  if (!strncmp(t, "weekly on ", 10)) {
    const char *d = t + 10;
    for (int w = 0; w < 7; w++)
      if (!strncmp(d, wday_names[w], 3)) {
        const char *p = d + 3;
        while (*p && *p != ' ') p++;   /* "mon", "monday" */
        s->wdays = (uint8_t)(1u << w);
        s->wday_any = 0;
        return by_time(t, *p ? p + 1 : p, s, err, cap);
      }
    return fail(err, cap, "%s: expected a day of the week (mon ... sun) after \"weekly on\"", t);
  }
  if (!strncmp(t, "monthly on ", 11)) {
    char *end;
    long d = strtol(t + 11, &end, 10);
    if (end == t + 11 || d < 1 || d > 31) return fail(err, cap, "%s: the day of the month must be 1-31", t);
    s->mdays = 1u << d;
    s->mday_any = 0;
    s->last_day = d > 28;
    return by_time(t, *end == ' ' ? end + 1 : end, s, err, cap);
  }
  if (isdigit((unsigned char)t[0]) || t[0] == '*') return parse_cron(t, s, err, cap);
  return fail(err, cap, "%s: unknown schedule (daily by HH:MM, hourly by :MM, every N min, weekly on DAY by "
                        "HH:MM, workdays by HH:MM, monthly on D by HH:MM, or 5-field cron)", t);
}

/* ---- deadlines ---- */

/* Whether local day z (days since 1970-01-01) is a day of the schedule. */
static int day_matches(const sl_schedule *s, int64_t z) {
  int y, m, d;
  sl_civil_from_days(z, &y, &m, &d);
  if (!(s->months >> m & 1)) return 0;
  int wday = (int)(((z % 7) + 11) % 7);   /* 1970-01-01 was a Thursday */
  int mday_ok = (int)(s->mdays >> d & 1);
  if (!mday_ok && s->last_day && d == days_in_month(y, m)) mday_ok = ((uint64_t)s->mdays >> (d + 1)) != 0;
  int wday_ok = s->wdays >> wday & 1;
  if (s->mday_any && s->wday_any) return 1;
  if (s->mday_any) return wday_ok;
  if (s->wday_any) return mday_ok;
  return mday_ok || wday_ok;
}

/* The first minute of the day at or after minute `from` (0..1439), or -1. */
static int first_minute(const sl_schedule *s, int from) {
  for (int h = from / 60; h < 24; h++) {
    if (!(s->hours >> h & 1)) continue;
    for (int m = h == from / 60 ? from % 60 : 0; m < 60; m++)
      if (s->minutes >> m & 1) return h * 60 + m;
  }
  return -1;
}

/* The last minute of the day at or before minute `to`, or -1. */
static int last_minute(const sl_schedule *s, int to) {
  for (int h = to / 60; h >= 0; h--) {
    if (!(s->hours >> h & 1)) continue;
    for (int m = h == to / 60 ? to % 60 : 59; m >= 0; m--)
      if (s->minutes >> m & 1) return h * 60 + m;
  }
  return -1;
}

int64_t sl_schedule_next(const sl_schedule *s, int64_t t) {
  if (s->interval_ms) return s->align_ms + (floor_div(t - s->align_ms, s->interval_ms) + 1) * s->interval_ms;
  int64_t off = (int64_t)s->offset_s * 1000;
  int64_t minute = floor_div(t + off, MINUTE_MS) + 1;   /* deadlines are on minutes: strictly after t */
  int64_t day = floor_div(minute, DAY_MIN);
  int from = (int)(minute - day * DAY_MIN);
  for (int i = 0; i < SEARCH_DAYS; i++, day++, from = 0) {
    if (!day_matches(s, day)) continue;
    int m = first_minute(s, from);
    if (m >= 0) return (day * DAY_MIN + m) * MINUTE_MS - off;
  }
  return INT64_MAX;
}

int64_t sl_schedule_prev(const sl_schedule *s, int64_t t) {
  if (s->interval_ms) return s->align_ms + floor_div(t - s->align_ms, s->interval_ms) * s->interval_ms;
  int64_t off = (int64_t)s->offset_s * 1000;
  int64_t minute = floor_div(t + off, MINUTE_MS);   /* its start is at or before t */
  int64_t day = floor_div(minute, DAY_MIN);
  int to = (int)(minute - day * DAY_MIN);
  for (int i = 0; i < SEARCH_DAYS; i++, day--, to = (int)DAY_MIN - 1) {
    if (!day_matches(s, day)) continue;
    int m = last_minute(s, to);
    if (m >= 0) return (day * DAY_MIN + m) * MINUTE_MS - off;
  }
  return INT64_MIN;
}
