/* The blocking index: key hash → record ids, and the candidate collector.
 *
 * A slot is 16 bytes: the key hash, the block's size and either the one id
 * (size 1) or the offset of the block's ids in the pool.  A block of size
 * n > 1 owns a chunk of max(2, next power of two >= n) uint32 in the pool;
 * a full chunk moves to one twice as large and goes on the free list of its
 * size class (the list is threaded through the chunks' first word).  Most
 * keys have one record, so most cost 16 bytes of slot and nothing else. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "match.h"

#define CAPPED 0x80000000u  /* in size: the block reached the cap */
#define NCLASS 32

typedef struct slot {
  uint64_t key;           /* 0: empty (a real 0 hash is stored as 1) */
  uint32_t size;
  uint32_t v;
} slot;

struct sl_match_index {
  slot *t;
  size_t cap, used;
  uint32_t *pool;
  size_t pool_len, pool_cap;
  uint32_t free_head[NCLASS];   /* per class: first free chunk + 1 */
  uint32_t block_cap;
  uint64_t postings, capped_blocks, capped_hits;
};

uint64_t sl_match_key(uint32_t rule, const void *p, size_t n) {
  uint64_t h = XXH3_64bits_withSeed(p, n, (uint64_t)rule + 1);
  return h ? h : 1;
}

sl_match_index *sl_match_index_new(uint32_t cap) {
  sl_match_index *ix = calloc(1, sizeof *ix);
  if (!ix) return NULL;
  ix->cap = 1024;
  ix->t = calloc(ix->cap, sizeof *ix->t);
  if (!ix->t) {
    free(ix);
    return NULL;
  }
  ix->block_cap = cap;
  return ix;
}

void sl_match_index_free(sl_match_index *ix) {
  if (!ix) return;
  free(ix->t);
  free(ix->pool);
  free(ix);
}

static slot *find(const sl_match_index *ix, uint64_t key) {
  size_t mask = ix->cap - 1;
  for (size_t i = (size_t)key & mask;; i = (i + 1) & mask)
    if (ix->t[i].key == key || !ix->t[i].key) return &ix->t[i];
}

static int grow_table(sl_match_index *ix) {
  size_t ncap = ix->cap * 2;
  slot *nt = calloc(ncap, sizeof *nt), *old = ix->t;
  if (!nt) return SL_ENOMEM;
  size_t ocap = ix->cap;
  ix->t = nt;
  ix->cap = ncap;
  for (size_t i = 0; i < ocap; i++)
    if (old[i].key) *find(ix, old[i].key) = old[i];
  free(old);
  return 0;
}

static int size_class(uint32_t n) {
  int c = 1;
  while ((1u << c) < n) c++;
  return c;
}

/* A chunk of 2^c ids: from the class's free list, else the pool's end. */
static int chunk_alloc(sl_match_index *ix, int c, uint32_t *off) {
  if (ix->free_head[c]) {
    *off = ix->free_head[c] - 1;
    ix->free_head[c] = ix->pool[*off];
    return 0;
  }
  size_t need = (size_t)1 << c;
  if (ix->pool_len + need > UINT32_MAX) return SL_ENOMEM;
  if (ix->pool_len + need > ix->pool_cap) {
    size_t ncap = ix->pool_cap ? ix->pool_cap : 4096;
    while (ncap < ix->pool_len + need) ncap += ncap / 2;
    uint32_t *np = realloc(ix->pool, ncap * sizeof *np);
    if (!np) return SL_ENOMEM;
    ix->pool = np;
    ix->pool_cap = ncap;
  }
  *off = (uint32_t)ix->pool_len;
  ix->pool_len += need;
  return 0;
}

static void chunk_release(sl_match_index *ix, int c, uint32_t off) {
  ix->pool[off] = ix->free_head[c];
  ix->free_head[c] = off + 1;
}

int sl_match_index_add(sl_match_index *ix, uint64_t key, uint32_t id) {
  if (!key) key = 1;
  if ((ix->used + 1) * 10 > ix->cap * 7 && grow_table(ix)) return SL_ENOMEM;
  slot *s = find(ix, key);
  if (!s->key) {
    s->key = key;
    s->size = 1;
    s->v = id;
    ix->used++;
    ix->postings++;
    return 0;
  }
  if (s->size & CAPPED) {
    if ((s->size & ~CAPPED) < ~CAPPED) s->size++;
    return 0;
  }
  uint32_t n = s->size;
  if (ix->block_cap && n >= ix->block_cap) {
    /* The block stops here: its ids are released, its size still counts. */
    if (n > 1) chunk_release(ix, size_class(n), s->v);
    ix->postings -= n;
    ix->capped_blocks++;
    s->size = (n + 1) | CAPPED;
    return 0;
  }
  if (n == 1) {
    uint32_t off;
    if (chunk_alloc(ix, 1, &off)) return SL_ENOMEM;
    ix->pool[off] = s->v;
    ix->pool[off + 1] = id;
    s->v = off;
  } else {
    int c = size_class(n);
    if (n == (1u << c)) {
      uint32_t off;
      if (chunk_alloc(ix, c + 1, &off)) return SL_ENOMEM;
      memcpy(ix->pool + off, ix->pool + s->v, n * sizeof(uint32_t));
      chunk_release(ix, c, s->v);
      s->v = off;
    }
    ix->pool[s->v + n] = id;
  }
  s->size = n + 1;
  ix->postings++;
  return 0;
}

const uint32_t *sl_match_index_get(sl_match_index *ix, uint64_t key, uint32_t *n) {
  if (!key) key = 1;
  slot *s = find(ix, key);
  if (!s->key) {
    *n = 0;
    return NULL;
  }
  if (s->size & CAPPED) {
    ix->capped_hits++;
    *n = s->size & ~CAPPED;
    return NULL;
  }
  *n = s->size;
  return s->size == 1 ? &s->v : ix->pool + s->v;
}

void sl_match_index_stats_get(const sl_match_index *ix, sl_match_index_stats *st) {
  st->keys = ix->used;
  st->postings = ix->postings;
  st->capped_blocks = ix->capped_blocks;
  st->capped_hits = ix->capped_hits;
  st->bytes = sizeof *ix + ix->cap * sizeof(slot) + ix->pool_cap * sizeof(uint32_t);
}

void sl_match_cands_free(sl_match_cands *c) {
  free(c->stamp);
  free(c->ids);
  memset(c, 0, sizeof *c);
}

int sl_match_cands_collect(sl_match_cands *c, sl_match_index *ix, const uint64_t *keys,
                           size_t nkeys, uint32_t max_id) {
  c->n = 0;
  if (max_id > c->nstamp) {
    size_t ncap = c->nstamp ? c->nstamp : 1024;
    while (ncap < max_id) ncap *= 2;
    uint16_t *ns = realloc(c->stamp, ncap * sizeof *ns);
    if (!ns) return SL_ENOMEM;
    memset(ns + c->nstamp, 0, (ncap - c->nstamp) * sizeof *ns);
    c->stamp = ns;
    c->nstamp = ncap;
  }
  if (++c->gen > UINT16_MAX) {
    memset(c->stamp, 0, c->nstamp * sizeof *c->stamp);
    c->gen = 1;
  }
  /* The keys' slots are far apart in a large table: ask for them all
   * before reading the first, so that the misses overlap. */
  for (size_t k = 0; k < nkeys; k++) __builtin_prefetch(&ix->t[(size_t)(keys[k] ? keys[k] : 1) & (ix->cap - 1)]);
  for (size_t k = 0; k < nkeys; k++) {
    uint32_t n;
    const uint32_t *ids = sl_match_index_get(ix, keys[k], &n);
    if (!ids) continue;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t id = ids[i];
      if (id >= max_id || c->stamp[id] == c->gen) continue;
      c->stamp[id] = c->gen;
      if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        uint32_t *ni = realloc(c->ids, ncap * sizeof *ni);
        if (!ni) return SL_ENOMEM;
        c->ids = ni;
        c->cap = ncap;
      }
      c->ids[c->n++] = id;
    }
  }
  return 0;
}
