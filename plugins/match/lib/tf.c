/* Term frequencies: how often each value of a field occurs, so that
 * agreeing on a common value ("wang", a group's shared phone) weighs less
 * than agreeing on a rare one.  Values are counted by their XXH3 hash. */
#include <xxhash.h>

#include "match.h"

static uint64_t hash(const char *p, size_t n) {
  uint64_t h = XXH3_64bits(p, n);
  return h ? h : 1;
}

void sl_match_tf_free(sl_match_tf *t) {
  sl_match_counts_free(&t->c);
}

int sl_match_tf_add(sl_match_tf *t, const char *p, size_t n) {
  t->last_hash = 0;   /* the counts change */
  return n ? sl_match_counts_add(&t->c, hash(p, n), 1) : 0;
}

double sl_match_tf_freq(const sl_match_tf *t, const char *p, size_t n) {
  if (!t->c.total) return 0.0;
  uint64_t h = hash(p, n);
  if (h == t->last_hash) return t->last_freq;
  uint64_t c = sl_match_counts_get(&t->c, h);
  double f = (double)(c ? c : 1) / (double)t->c.total;
  /* The cache is no part of the table's value: a const table may keep it. */
  sl_match_tf *cache = (sl_match_tf *)t;
  cache->last_hash = h;
  cache->last_freq = f;
  return f;
}
