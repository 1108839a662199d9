/* Numbers and dates as comparators read them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "match.h"

int sl_match_number(const char *s, size_t n, double *out) {
  char tmp[64];
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (!n || n >= sizeof tmp) return SL_EPARSE;
  memcpy(tmp, s, n);
  tmp[n] = 0;
  char *end;
  double v = strtod(tmp, &end);
  if (end != tmp + n || !isfinite(v)) return SL_EPARSE;
  *out = v;
  return 0;
}

static int digits(const char *s, size_t n, int *v) {
  int x = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    x = x * 10 + (s[i] - '0');
  }
  *v = x;
  return 0;
}

int sl_match_date(const char *s, size_t n, int *y, int *m, int *d) {
  int ok;
  if (n == 8) ok = !digits(s, 4, y) && !digits(s + 4, 2, m) && !digits(s + 6, 2, d);
  else if (n == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4])
    ok = !digits(s, 4, y) && !digits(s + 5, 2, m) && !digits(s + 8, 2, d);
  else ok = 0;
  if (!ok || *m < 1 || *m > 12 || *d < 1 || *d > 31) return SL_EPARSE;
  return 0;
}

int64_t sl_match_date_days(int ay, int am, int ad, int by, int bm, int bd) {
  int64_t x = sl_days_from_civil(ay, am, ad), z = sl_days_from_civil(by, bm, bd);
  return x > z ? x - z : z - x;
}
