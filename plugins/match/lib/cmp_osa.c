/* Damerau-Levenshtein distance, optimal string alignment form, on code
 * points: three rolling rows of the dynamic programme. */
#include <limits.h>
#include <string.h>

#include "match.h"

static int min3(int a, int b, int c) {
  int m = a < b ? a : b;
  return m < c ? m : c;
}

int sl_match_osa(const char *a, size_t an, const char *b, size_t bn) {
  uint32_t ca[SL_MATCH_MAX_CP], cb[SL_MATCH_MAX_CP];
  size_t n = sl__match_cps(a, an, ca), m = sl__match_cps(b, bn, cb);
  return sl__match_osa_cps(ca, n, cb, m, INT_MAX - 1);
}

/* Distance 0, 1 or more (2) without the table, for levels that ask no
 * more than "dl<=1" (IDs, dates, phones): one pass over the two strings. */
static int osa_within_one(const uint32_t *ca, size_t n, const uint32_t *cb, size_t m) {
  size_t i = 0;
  size_t short_n = n < m ? n : m;
  while (i < short_n && ca[i] == cb[i]) i++;
  if (n == m) {
    if (i == n) return 0;
    /* One substitution, or one transposition of neighbours. */
    if (!memcmp(ca + i + 1, cb + i + 1, (n - i - 1) * sizeof *ca)) return 1;
    if (i + 1 < n && ca[i] == cb[i + 1] && ca[i + 1] == cb[i] &&
        !memcmp(ca + i + 2, cb + i + 2, (n - i - 2) * sizeof *ca))
      return 1;
    return 2;
  }
  /* Lengths one apart: one insertion into the shorter. */
  const uint32_t *lo = n < m ? ca : cb, *hi = n < m ? cb : ca;
  size_t nl = short_n;
  return !memcmp(lo + i, hi + i + 1, (nl - i) * sizeof *ca) ? 1 : 2;
}

int sl__match_osa_cps(const uint32_t *ca, size_t n, const uint32_t *cb, size_t m, int max) {
  if (!n) return (int)m;
  if (!m) return (int)n;
  /* The distance is at least the difference of the lengths. */
  if ((n > m ? n - m : m - n) > (size_t)max) return max + 1;
  if (max <= 1) {
    int d = osa_within_one(ca, n, cb, m);
    return d <= max ? d : max + 1;
  }
  int r0[SL_MATCH_MAX_CP + 1], r1[SL_MATCH_MAX_CP + 1], r2[SL_MATCH_MAX_CP + 1];
  int *prev2 = r0, *prev = r1, *cur = r2;
  for (size_t j = 0; j <= m; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    cur[0] = (int)i;
    int row_min = cur[0];
    for (size_t j = 1; j <= m; j++) {
      int cost = ca[i - 1] != cb[j - 1];
      cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && ca[i - 1] == cb[j - 2] && ca[i - 2] == cb[j - 1] &&
          prev2[j - 2] + 1 < cur[j])
        cur[j] = prev2[j - 2] + 1;
      if (cur[j] < row_min) row_min = cur[j];
    }
    /* A cell depends on the two rows above, never less than their minimum:
     * once two rows stay above max, so does the distance. */
    if (row_min > max && i > 1) {
      int prev_min = prev[0];
      for (size_t j = 1; j <= m; j++)
        if (prev[j] < prev_min) prev_min = prev[j];
      if (prev_min > max) return max + 1;
    }
    int *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  return prev[m];
}
