/* Jaro and Jaro-Winkler similarity on code points. */
#include <string.h>

#include "clean.h"
#include "match.h"

size_t sl__match_cps(const char *s, size_t n, uint32_t *out) {
  size_t i = 0, k = 0;
  /* ASCII, the common case in Latin data, is one byte a code point. */
  while (i < n && k < SL_MATCH_MAX_CP && (unsigned char)s[i] < 0x80) out[k++] = (unsigned char)s[i++];
  while (i < n && k < SL_MATCH_MAX_CP) {
    uint32_t cp = sl__utf8_next(s, n, &i);
    if (cp != 0xFFFFFFFFu) out[k++] = cp;
  }
  return k;
}

static double jaro_cps(const uint32_t *a, size_t an, const uint32_t *b, size_t bn) {
  if (!an || !bn) return 0.0;
  /* Characters match when equal and no further apart than half the longer
   * length minus one. */
  size_t longer = an > bn ? an : bn;
  size_t win = longer / 2 ? longer / 2 - 1 : 0;
  unsigned char am[SL_MATCH_MAX_CP], bm[SL_MATCH_MAX_CP];
  memset(am, 0, an);
  memset(bm, 0, bn);
  size_t matches = 0;
  for (size_t i = 0; i < an; i++) {
    size_t lo = i > win ? i - win : 0, hi = i + win + 1 < bn ? i + win + 1 : bn;
    for (size_t j = lo; j < hi; j++) {
      if (!bm[j] && a[i] == b[j]) {
        am[i] = bm[j] = 1;
        matches++;
        break;
      }
    }
  }
  if (!matches) return 0.0;
  /* Half the matched characters that are out of order. */
  size_t k = 0, trans = 0;
  for (size_t i = 0; i < an; i++) {
    if (!am[i]) continue;
    while (!bm[k]) k++;
    if (a[i] != b[k]) trans++;
    k++;
  }
  double m = (double)matches;
  return (m / (double)an + m / (double)bn + (m - (double)trans / 2.0) / m) / 3.0;
}

double sl_match_jaro(const char *a, size_t an, const char *b, size_t bn) {
  uint32_t ca[SL_MATCH_MAX_CP], cb[SL_MATCH_MAX_CP];
  size_t na = sl__match_cps(a, an, ca), nb = sl__match_cps(b, bn, cb);
  return jaro_cps(ca, na, cb, nb);
}

double sl_match_jaro_winkler(const char *a, size_t an, const char *b, size_t bn) {
  uint32_t ca[SL_MATCH_MAX_CP], cb[SL_MATCH_MAX_CP];
  size_t na = sl__match_cps(a, an, ca), nb = sl__match_cps(b, bn, cb);
  return sl__match_jw_cps(ca, na, cb, nb);
}

double sl__match_jw_cps(const uint32_t *ca, size_t na, const uint32_t *cb, size_t nb) {
  double j = jaro_cps(ca, na, cb, nb);
  if (j <= 0.7) return j;
  size_t l = 0;
  while (l < 4 && l < na && l < nb && ca[l] == cb[l]) l++;
  return j + (double)l * 0.1 * (1.0 - j);
}
