/* A counting table: 64-bit keys (never 0) to counts, open addressing with
 * linear probing.  Term frequencies count values by hash in it, EM counts
 * comparison vectors by pattern. */
#include <stdlib.h>

#include "match.h"

static size_t slot_of(const sl_match_counts *c, uint64_t k) {
  size_t mask = c->cap - 1, i = (size_t)((k * 0x9E3779B97F4A7C15ull) >> 20) & mask;
  while (c->key[i] && c->key[i] != k) i = (i + 1) & mask;
  return i;
}

void sl_match_counts_free(sl_match_counts *c) {
  free(c->key);
  free(c->count);
  *c = (sl_match_counts){0};
}

static int grow(sl_match_counts *c) {
  sl_match_counts n = {.cap = c->cap ? c->cap * 2 : 256, .used = c->used, .total = c->total};
  n.key = calloc(n.cap, sizeof *n.key);
  n.count = calloc(n.cap, sizeof *n.count);
  if (!n.key || !n.count) {
    free(n.key);
    free(n.count);
    return SL_ENOMEM;
  }
  for (size_t i = 0; i < c->cap; i++) {
    if (!c->key[i]) continue;
    size_t j = slot_of(&n, c->key[i]);
    n.key[j] = c->key[i];
    n.count[j] = c->count[i];
  }
  free(c->key);
  free(c->count);
  *c = n;
  return 0;
}

int sl_match_counts_add(sl_match_counts *c, uint64_t key, uint64_t n) {
  if ((c->used + 1) * 10 > c->cap * 7 && grow(c)) return SL_ENOMEM;
  size_t i = slot_of(c, key);
  if (!c->key[i]) {
    c->key[i] = key;
    c->used++;
  }
  c->count[i] += n;
  c->total += n;
  return 0;
}

uint64_t sl_match_counts_get(const sl_match_counts *c, uint64_t key) {
  if (!c->cap) return 0;
  size_t i = slot_of(c, key);
  return c->key[i] ? c->count[i] : 0;
}
