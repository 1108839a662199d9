/* q-gram Jaccard similarity on code points.  Values are short, so the
 * grams are compared as sorted arrays instead of hashed into sets. */

#include "match.h"

/* A gram of up to 3 code points, 21 bits each, packed into 63 bits so that
 * grams sort and compare exactly. */
static int grams(const uint32_t *c, size_t n, int q, uint64_t *out) {
  if (n < (size_t)q) q = (int)n;
  size_t k = 0;
  for (size_t i = 0; i + (size_t)q <= n; i++) {
    uint64_t g = 0;
    for (int j = 0; j < q; j++) g = g << 21 | (c[i + (size_t)j] & 0x1FFFFF);
    out[k++] = g;
  }
  return (int)k;
}

/* Insertion sort: a value has a few dozen grams at most. */
static size_t uniq(uint64_t *g, size_t n) {
  for (size_t i = 1; i < n; i++) {
    uint64_t x = g[i];
    size_t j = i;
    while (j && g[j - 1] > x) g[j] = g[j - 1], j--;
    g[j] = x;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!k || g[k - 1] != g[i]) g[k++] = g[i];
  return k;
}

double sl_match_jaccard(const char *a, size_t an, const char *b, size_t bn, int q) {
  uint32_t ca[SL_MATCH_MAX_CP], cb[SL_MATCH_MAX_CP];
  size_t na = sl__match_cps(a, an, ca), nb = sl__match_cps(b, bn, cb);
  return sl__match_jaccard_cps(ca, na, cb, nb, q);
}

double sl__match_jaccard_cps(const uint32_t *ca, size_t na, const uint32_t *cb, size_t nb, int q) {
  if (q < 1) q = 1;
  if (q > 3) q = 3;
  if (!na && !nb) return 1.0;
  if (!na || !nb) return 0.0;
  uint64_t ga[SL_MATCH_MAX_CP], gb[SL_MATCH_MAX_CP];
  size_t ka = uniq(ga, (size_t)grams(ca, na, q, ga)), kb = uniq(gb, (size_t)grams(cb, nb, q, gb));
  size_t i = 0, j = 0, both = 0;
  while (i < ka && j < kb) {
    if (ga[i] == gb[j]) both++, i++, j++;
    else if (ga[i] < gb[j]) i++;
    else j++;
  }
  return (double)both / (double)(ka + kb - both);
}
