/* Dates and times to ISO 8601.
 *
 * The input is first rewritten into a small ASCII form: full-width
 * characters to ASCII, Chinese numerals to digits (二〇二〇 → 2020, 二十一 →
 * 21), the unit characters to markers (年 Y, 月 M, 日/号 D, 时/点 h, 分 m,
 * 秒 s), whitespace to one space.  Three shapes are then recognised:
 *   Y-M-D with '-', '/' or '.' (ISO 8601 and the local forms), then an
 *     optional time and offset;
 *   2020Y1M2D, then an optional time (3h4m5s or 03:04:05);
 *   a bare number: YYYYMMDD, YYYYMMDDhhmmss, epoch seconds or
 *     milliseconds, or a spreadsheet serial day number. */
#include <stdio.h>
#include <string.h>

#include "clean.h"

int sl_days_in_month(int y, int m) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return 29;
  return days[m - 1];
}

/* Writes v as exactly w digits (zero-padded; v is in range). */
static void put_digits(char **q, int v, int w) {
  for (int i = w - 1; i >= 0; i--) {
    (*q)[i] = (char)('0' + v % 10);
    v /= 10;
  }
  *q += w;
}

/* ---- the ASCII form ---- */

static int cn_digit(uint32_t u) {
  switch (u) {
    case 0x3007: case 0x96F6: case 0x25CB: return 0;   /* 〇 零 ○ */
    case 0x4E00: return 1;
    case 0x4E8C: return 2;
    case 0x4E09: return 3;
    case 0x56DB: return 4;
    case 0x4E94: return 5;
    case 0x516D: return 6;
    case 0x4E03: return 7;
    case 0x516B: return 8;
    case 0x4E5D: return 9;
    case 0x5341: return 10;   /* 十 */
  }
  return -1;
}

static char marker(uint32_t u) {
  switch (u) {
    case 0x5E74: return 'Y';                            /* 年 */
    case 0x6708: return 'M';                            /* 月 */
    case 0x65E5: case 0x53F7: case 0x865F: return 'D';  /* 日 号 號 */
    case 0x65F6: case 0x6642: case 0x70B9: case 0x9EDE: return 'h';   /* 时 時 点 點 */
    case 0x5206: return 'm';                            /* 分 */
    case 0x79D2: return 's';                            /* 秒 */
  }
  return 0;
}

/* Rewrites s into buf; returns the length or -1 with why. */
static int ascii_form(const char *s, size_t n, char *buf, int cap, sl_clean_why *why) {
  int k = 0;
  size_t i = 0;
  while (i < n) {
    size_t at = i;
    uint32_t u = sl__utf8_next(s, n, &i);
    if (u >= 0xFF01 && u <= 0xFF5E) u -= 0xFEE0;
    if (u == 0x3000 || u == 0xA0 || u == '\t') u = ' ';
    int cd = cn_digit(u);
    if (cd >= 0) {
      /* A run of Chinese numerals: digit by digit (二〇二〇), or with 十
       * as tens (十二, 二十一, 三十). */
      int ds[8], nd = 0, ten = -1;
      ds[nd++] = cd;
      if (cd == 10) ten = 0;
      size_t j = i;
      while (j < n && nd < 8) {
        size_t jj = j;
        int c2 = cn_digit(sl__utf8_next(s, n, &jj));
        if (c2 < 0) break;
        if (c2 == 10) {
          if (ten >= 0) return sl__why(why, SL_EINVAL, "malformed Chinese numeral at byte %zu", at), -1;
          ten = nd;
        }
        ds[nd++] = c2;
        j = jj;
      }
      i = j;
      char num[12];
      int len;
      if (ten >= 0) {
        /* 十 (10), 十二 (12), 二十 (20), 二十一 (21): at most one digit each side. */
        if (ten > 1 || nd - ten - 1 > 1)
          return sl__why(why, SL_EINVAL, "malformed Chinese numeral at byte %zu", at), -1;
        int v = (ten ? ds[0] : 1) * 10 + (nd - ten - 1 ? ds[ten + 1] : 0);
        len = snprintf(num, sizeof num, "%d", v);
      } else {
        for (len = 0; len < nd; len++) num[len] = (char)('0' + ds[len]);
      }
      if (k + len >= cap) return sl__why(why, SL_EINVAL, "too long for a date"), -1;
      memcpy(buf + k, num, (size_t)len);
      k += len;
      continue;
    }
    char c = marker(u);
    if (!c) {
      if (u >= '0' && u <= '9') c = (char)u;
      else if (u == '-' || u == '/' || u == '.' || u == ':' || u == '+' || u == ' ' || u == ',') c = (char)u;
      else if (u == 'T' || u == 't') c = 'T';
      else if (u == 'Z' || u == 'z') c = 'Z';
      else if (u == 0x2212 || u == 0x2013) c = '-';
      else return sl__why(why, SL_EINVAL, "unexpected character at byte %zu", at), -1;
    }
    if (c == ' ' && (k == 0 || buf[k - 1] == ' ')) continue;
    if (k + 1 >= cap) return sl__why(why, SL_EINVAL, "too long for a date"), -1;
    buf[k++] = c;
  }
  while (k && buf[k - 1] == ' ') k--;
  buf[k] = 0;
  return k;
}

/* ---- parsing the ASCII form ---- */

typedef struct cur {
  const char *p;
  int i, n;
} cur;

/* Reads 1..max digits; -1 if none. */
static int64_t num(cur *c, int max, int *nd) {
  int64_t v = 0;
  int k = 0;
  while (c->i < c->n && k < max && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
    v = v * 10 + (c->p[c->i++] - '0');
    k++;
  }
  if (nd) *nd = k;
  return k ? v : -1;
}

static int eat(cur *c, char ch) {
  if (c->i < c->n && c->p[c->i] == ch) {
    c->i++;
    return 1;
  }
  return 0;
}

typedef struct fields {
  int64_t y;
  int mo, d, h, mi, s, ms;
  int has_time, has_ms, has_off;
  int32_t off;
} fields;

/* hh:mm[:ss[.fff]] or 3h[4m[5s]]; 0, or -1 with why. */
static int parse_time(cur *c, fields *f, sl_clean_why *why) {
  int nd;
  int64_t h = num(c, 2, &nd);
  if (h < 0) return sl__why(why, SL_EINVAL, "expected a time after the date"), -1;
  int64_t mi = 0, s = 0;
  if (eat(c, ':')) {
    if ((mi = num(c, 2, &nd)) < 0 || nd != 2) return sl__why(why, SL_EINVAL, "malformed time"), -1;
    if (eat(c, ':')) {
      if ((s = num(c, 2, &nd)) < 0 || nd != 2) return sl__why(why, SL_EINVAL, "malformed time"), -1;
      if (eat(c, '.') || eat(c, ',')) {
        int fd;
        int64_t frac = num(c, 9, &fd);
        if (frac < 0) return sl__why(why, SL_EINVAL, "malformed fraction of a second"), -1;
        while (fd > 3) frac /= 10, fd--;
        while (fd < 3) frac *= 10, fd++;
        f->ms = (int)frac;
        f->has_ms = 1;
        while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') c->i++;
      }
    }
  } else if (eat(c, 'h')) {
    if ((mi = num(c, 2, &nd)) >= 0) {
      if (!eat(c, 'm')) return sl__why(why, SL_EINVAL, "expected 分 after the minutes"), -1;
      if ((s = num(c, 2, &nd)) >= 0 && !eat(c, 's'))
        return sl__why(why, SL_EINVAL, "expected 秒 after the seconds"), -1;
      if (s < 0) s = 0;
    } else {
      mi = 0;
    }
  } else {
    return sl__why(why, SL_EINVAL, "malformed time"), -1;
  }
  if (h > 23 || mi > 59 || s > 59)
    return sl__why(why, SL_EINVAL, "impossible time %02d:%02d:%02d", (int)h, (int)mi, (int)s), -1;
  f->h = (int)h;
  f->mi = (int)mi;
  f->s = (int)s;
  f->has_time = 1;
  return 0;
}

/* Z, +08:00, +0800, +08. */
static int parse_offset(cur *c, fields *f, sl_clean_why *why) {
  if (eat(c, 'Z')) {
    f->has_off = 1;
    f->off = 0;
    return 0;
  }
  if (c->i >= c->n || (c->p[c->i] != '+' && c->p[c->i] != '-')) return 0;
  int sign = c->p[c->i++] == '-' ? -1 : 1;
  int nd;
  int64_t h = num(c, 2, &nd), m = 0, sec = 0;
  if (h < 0 || nd != 2) return sl__why(why, SL_EINVAL, "malformed UTC offset"), -1;
  eat(c, ':');
  if (c->i < c->n) {
    m = num(c, 2, &nd);
    if (m < 0 || nd != 2) return sl__why(why, SL_EINVAL, "malformed UTC offset"), -1;
    /* Seconds: local mean time before 1901 (Asia/Shanghai +08:05:43),
     * written out below so that the output reads back the same. */
    if (eat(c, ':')) {
      sec = num(c, 2, &nd);
      if (sec < 0 || nd != 2) return sl__why(why, SL_EINVAL, "malformed UTC offset"), -1;
    }
  }
  if (h > 18 || m > 59 || sec > 59) return sl__why(why, SL_EINVAL, "impossible UTC offset"), -1;
  f->has_off = 1;
  f->off = (int32_t)(sign * (h * 3600 + m * 60 + sec));
  return 0;
}

static int check_date(const fields *f, sl_clean_why *why) {
  if (f->y < 1 || f->y > 9999) return sl__why(why, SL_EINVAL, "year %lld is out of range", (long long)f->y);
  if (f->mo < 1 || f->mo > 12 || f->d < 1 || f->d > sl_days_in_month((int)f->y, f->mo))
    return sl__why(why, SL_EINVAL, "impossible date %04d-%02d-%02d", (int)f->y, f->mo, f->d);
  return 0;
}

static void from_instant(int64_t ms, const sl_tz *tz, fields *f);

/* A wall-clock time (seconds, local) in the zone: sets f's offset.  A time
 * the clocks skipped (a daylight-saving gap) does not exist: it is moved
 * forward by the gap, as the clocks were (02:24 becomes 03:24), so that the
 * output parses back to itself. */
static void wall_time(int64_t local, const sl_tz *tz, fields *f) {
  int32_t off = sl_tz_offset_local(tz, local);
  f->off = off;
  if (sl_tz_offset_utc(tz, local - off) == off) return;
  int ms = f->ms, has_ms = f->has_ms;
  from_instant((local - off) * 1000 + ms, tz, f);
  f->has_ms = has_ms;
  f->has_off = 0;
}

/* An instant (Unix ms) shown in the zone: fills f as a local date-time. */
static void from_instant(int64_t ms, const sl_tz *tz, fields *f) {
  int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int32_t off = sl_tz_offset_utc(tz, s);
  int64_t local = s + off;
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  int64_t rem = local - days * 86400;
  int y, m, d;
  sl_civil_from_days(days, &y, &m, &d);
  f->y = y;
  f->mo = m;
  f->d = d;
  f->h = (int)(rem / 3600);
  f->mi = (int)(rem / 60 % 60);
  f->s = (int)(rem % 60);
  f->ms = (int)(ms - s * 1000);
  f->has_time = 1;
  f->has_off = 1;
  f->off = off;
}

/* A bare number: digits with at most one '.'. */
static int parse_number(const char *b, int n, sl_date_input mode, const sl_tz *tz, fields *f,
                        sl_clean_why *why) {
  int dot = -1;
  for (int i = 0; i < n; i++)
    if (b[i] == '.') dot = i;
  int ilen = dot < 0 ? n : dot;
  if (ilen == 0 || ilen > 16) return sl__why(why, SL_EINVAL, "not a date"), -1;
  int64_t v = 0;
  for (int i = 0; i < ilen; i++) v = v * 10 + (b[i] - '0');
  /* The fraction as a fraction of 1, in units of 1e-9. */
  int64_t frac = 0;
  int fd = 0;
  for (int i = dot + 1; dot >= 0 && i < n && fd < 9; i++, fd++) frac = frac * 10 + (b[i] - '0');
  while (fd < 9) frac *= 10, fd++;
  int has_frac = dot >= 0 && frac != 0;

  if (mode == SL_DATE_AUTO) {
    if (dot < 0 && ilen == 8) {
      f->y = v / 10000;
      f->mo = (int)(v / 100 % 100);
      f->d = (int)(v % 100);
      return check_date(f, why) ? -1 : 0;
    }
    if (dot < 0 && ilen == 14) {
      int64_t date = v / 1000000, t = v % 1000000;
      f->y = date / 10000;
      f->mo = (int)(date / 100 % 100);
      f->d = (int)(date % 100);
      f->h = (int)(t / 10000);
      f->mi = (int)(t / 100 % 100);
      f->s = (int)(t % 100);
      f->has_time = 1;
      if (check_date(f, why)) return -1;
      if (f->h > 23 || f->mi > 59 || f->s > 59)
        return sl__why(why, SL_EINVAL, "impossible time %02d:%02d:%02d", f->h, f->mi, f->s), -1;
      return 0;
    }
    if (ilen == 10) mode = SL_DATE_EPOCH;
    else if (ilen == 13 && dot < 0) mode = SL_DATE_EPOCH_MS;
    else if (v < 2958466) mode = SL_DATE_SERIAL;
    else return sl__why(why, SL_EINVAL, "a number of %d digits is not a date (say which: epoch, epoch_ms, serial)", ilen), -1;
  }
  if (mode == SL_DATE_EPOCH || mode == SL_DATE_EPOCH_MS) {
    /* Up to year 9999. */
    if (v > (mode == SL_DATE_EPOCH ? 253402300799LL : 253402300799999LL))
      return sl__why(why, SL_EINVAL, "epoch time out of range"), -1;
    int64_t ms = mode == SL_DATE_EPOCH ? v * 1000 + frac / 1000000 : v;
    from_instant(ms, tz, f);
    f->has_ms = (mode == SL_DATE_EPOCH_MS && ms % 1000) || (mode == SL_DATE_EPOCH && has_frac);
    return 0;
  }
  /* Spreadsheet serial (1900 date system): day 1 is 1900-01-01, and day 60
   * is the 1900-02-29 that Lotus 1-2-3 invented and Excel kept. */
  if (v < 1 || v > 2958465) return sl__why(why, SL_EINVAL, "spreadsheet serial %lld is out of range", (long long)v), -1;
  if (v == 60) return sl__why(why, SL_EINVAL, "spreadsheet serial 60 is 1900-02-29, which did not exist"), -1;
  int64_t days = sl_days_from_civil(1899, 12, v < 60 ? 31 : 30) + v;
  int y, m, d;
  sl_civil_from_days(days, &y, &m, &d);
  f->y = y;
  f->mo = m;
  f->d = d;
  if (has_frac) {
    int64_t ms = (frac * 86400 + 500000) / 1000000;   /* frac is in 1e-9 of a day */
    if (ms >= 86400000) ms = 86399999;
    f->h = (int)(ms / 3600000);
    f->mi = (int)(ms / 60000 % 60);
    f->s = (int)(ms / 1000 % 60);
    f->ms = (int)(ms % 1000);
    f->has_ms = f->ms != 0;
    f->has_time = 1;
  }
  return 0;
}

int sl_date_parse(const char *s, size_t n, const sl_date_opts *o, sl_date *out, sl_clean_why *why) {
  static const sl_date_opts defaults = {NULL, SL_DATE_AUTO, SL_DATE_OUT_AUTO};
  if (!o) o = &defaults;
  const sl_tz *tz = o->tz ? o->tz : sl_tz_get("Asia/Shanghai", why);
  if (!tz) return SL_EINVAL;
  char b[64];
  int bn = ascii_form(s, n, b, (int)sizeof b, why);
  if (bn < 0) return SL_EINVAL;
  if (bn == 0) return sl__why(why, SL_EINVAL, "is empty");
  fields f;
  memset(&f, 0, sizeof f);
  int only_number = 1;
  for (int i = 0; i < bn; i++)
    if (!((b[i] >= '0' && b[i] <= '9') || b[i] == '.')) only_number = 0;
  int dots = 0;
  for (int i = 0; i < bn; i++) dots += b[i] == '.';
  if (only_number && dots <= 1) {
    if (parse_number(b, bn, o->input, tz, &f, why)) return SL_EINVAL;
  } else {
    if (o->input != SL_DATE_AUTO) return sl__why(why, SL_EINVAL, "expected a number");
    cur c = {b, 0, bn};
    int nd;
    int64_t y = num(&c, 4, &nd);
    if (y < 0 || nd != 4) return sl__why(why, SL_EINVAL, "not a date: expected a four-digit year first");
    f.y = y;
    if (eat(&c, 'Y')) {
      eat(&c, ' ');
      int64_t mo = num(&c, 2, &nd);
      if (mo < 0 || !eat(&c, 'M')) return sl__why(why, SL_EINVAL, "expected the month and 月 after 年");
      eat(&c, ' ');
      int64_t d = num(&c, 2, &nd);
      if (d < 0 || !eat(&c, 'D')) return sl__why(why, SL_EINVAL, "expected the day and 日 after 月");
      f.mo = (int)mo;
      f.d = (int)d;
      if (check_date(&f, why)) return SL_EINVAL;
      eat(&c, ' ');
      if (c.i < c.n && parse_time(&c, &f, why)) return SL_EINVAL;
    } else {
      char sep = c.i < c.n ? c.p[c.i] : 0;
      if (sep != '-' && sep != '/' && sep != '.') return sl__why(why, SL_EINVAL, "not a date");
      c.i++;
      int64_t mo = num(&c, 2, &nd);
      if (mo < 0 || !eat(&c, sep)) return sl__why(why, SL_EINVAL, "not a date: expected year%cmonth%cday", sep, sep);
      int64_t d = num(&c, 2, &nd);
      if (d < 0) return sl__why(why, SL_EINVAL, "not a date: expected the day");
      f.mo = (int)mo;
      f.d = (int)d;
      if (check_date(&f, why)) return SL_EINVAL;
      if (eat(&c, 'T') || eat(&c, ' ')) {
        if (parse_time(&c, &f, why)) return SL_EINVAL;
        eat(&c, ' ');
        if (parse_offset(&c, &f, why)) return SL_EINVAL;
      }
    }
    if (c.i != c.n) return sl__why(why, SL_EINVAL, "unexpected text after the date at '%.8s'", c.p + c.i);
  }

  /* A time with an offset is an instant: show it in the zone. */
  if (f.has_time && f.has_off) {
    int64_t local = sl_days_from_civil(f.y, f.mo, f.d) * 86400 + f.h * 3600 + f.mi * 60 + f.s;
    int ms = f.ms, has_ms = f.has_ms;
    from_instant((local - f.off) * 1000 + ms, tz, &f);
    f.has_ms = has_ms;
    if (check_date(&f, why)) return SL_EINVAL;
  } else if (f.has_time) {
    wall_time(sl_days_from_civil(f.y, f.mo, f.d) * 86400 + f.h * 3600 + f.mi * 60 + f.s, tz, &f);
    if (check_date(&f, why)) return SL_EINVAL;
  }
  if (o->output == SL_DATE_OUT_DATE) {
    f.has_time = 0;
  } else if (o->output == SL_DATE_OUT_DATETIME && !f.has_time) {
    f.has_time = 1;
    f.h = f.mi = f.s = f.ms = 0;
    wall_time(sl_days_from_civil(f.y, f.mo, f.d) * 86400, tz, &f);
    if (check_date(&f, why)) return SL_EINVAL;
  }
  if (!f.has_time) f.has_ms = 0;

  out->year = (int)f.y;
  out->month = f.mo;
  out->day = f.d;
  out->hour = f.h;
  out->min = f.mi;
  out->sec = f.s;
  out->ms = f.ms;
  out->has_time = f.has_time;
  out->has_ms = f.has_ms;
  out->offset = f.has_time ? f.off : 0;
  /* By hand: snprintf costs more than the rest of a parse. */
  char *q = out->iso;
  put_digits(&q, out->year, 4);
  *q++ = '-';
  put_digits(&q, out->month, 2);
  *q++ = '-';
  put_digits(&q, out->day, 2);
  if (f.has_time) {
    *q++ = 'T';
    put_digits(&q, f.h, 2);
    *q++ = ':';
    put_digits(&q, f.mi, 2);
    *q++ = ':';
    put_digits(&q, f.s, 2);
    if (f.has_ms) {
      *q++ = '.';
      put_digits(&q, f.ms, 3);
    }
    int32_t off = f.off < 0 ? -f.off : f.off;
    *q++ = f.off < 0 ? '-' : '+';
    put_digits(&q, off / 3600, 2);
    *q++ = ':';
    put_digits(&q, off / 60 % 60, 2);
    if (off % 60) {
      *q++ = ':';
      put_digits(&q, off % 60, 2);
    }
  }
  *q = 0;
  return 0;
}
