/* Damerau-Levenshtein distance, optimal string alignment form, on code
 * points: three rolling rows of the dynamic programme. */
#include "match.h"

static int min3(int a, int b, int c) {
  int m = a < b ? a : b;
  return m < c ? m : c;
}

int sl_match_osa(const char *a, size_t an, const char *b, size_t bn) {
  uint32_t ca[SL_MATCH_MAX_CP], cb[SL_MATCH_MAX_CP];
  size_t n = sl__match_cps(a, an, ca), m = sl__match_cps(b, bn, cb);
  if (!n) return (int)m;
  if (!m) return (int)n;
  int r0[SL_MATCH_MAX_CP + 1], r1[SL_MATCH_MAX_CP + 1], r2[SL_MATCH_MAX_CP + 1];
  int *prev2 = r0, *prev = r1, *cur = r2;
  for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int cost = ca[i - 1] != cb[j - 1];
      cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && ca[i - 1] == cb[j - 2] && ca[i - 2] == cb[j - 1] &&
          prev2[j - 2] + 1 < cur[j])
        cur[j] = prev2[j - 2] + 1;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[m];
}
