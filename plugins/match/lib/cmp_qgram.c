/* q-gram Jaccard similarity on code points.  Values are short, so the
 * grams are compared as sorted arrays instead of hashed into sets. */
#include <stdlib.h>
#include <string.h>

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

static int cmp_u64(const void *x, const void *y) {
  uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
  return a < b ? -1 : a > b;
}

static size_t uniq(uint64_t *g, size_t n) {
  qsort(g, n, sizeof *g, cmp_u64);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!k || g[k - 1] != g[i]) g[k++] = g[i];
  return k;
}

double sl_match_jaccard(const char *a, size_t an, const char *b, size_t bn, int q) {
  if (q < 1) q = 1;
  if (q > 3) q = 3;
  uint32_t ca[SL_MATCH_MAX_CP], cb[SL_MATCH_MAX_CP];
  size_t na = sl__match_cps(a, an, ca), nb = sl__match_cps(b, bn, cb);
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
