/* Clusters: union-find (union by size, path halving) over linked records,
 * with cannot-link constraints kept per cluster root as a list of the
 * records on the other side.  A union is refused when a record of one
 * cluster must not be with a record of the other, or when the two clusters
 * carry different identities (the hashes of their valid IDs). */
#include <stdlib.h>
#include <string.h>

#include "match.h"

void sl_match_uf_free(sl_match_uf *uf) {
  free(uf->parent);
  free(uf->size);
  free(uf->cl_head);
  free(uf->cl_other);
  free(uf->cl_next);
  free(uf->ident);
  memset(uf, 0, sizeof *uf);
}

static int grow(void **p, size_t n, size_t elem) {
  void *np = realloc(*p, n * elem);
  if (!np) return SL_ENOMEM;
  *p = np;
  return 0;
}

int sl_match_uf_grow(sl_match_uf *uf, size_t n) {
  if (n > uf->cap) {
    size_t ncap = uf->cap ? uf->cap : 1024;
    while (ncap < n) ncap *= 2;
    if (grow((void **)&uf->parent, ncap, sizeof(uint32_t)) ||
        grow((void **)&uf->size, ncap, sizeof(uint32_t)) ||
        grow((void **)&uf->cl_head, ncap, sizeof(uint32_t)) ||
        grow((void **)&uf->ident, ncap, sizeof(uint64_t)))
      return SL_ENOMEM;
    uf->cap = ncap;
  }
  for (size_t i = uf->n; i < n; i++) {
    uf->parent[i] = (uint32_t)i;
    uf->size[i] = 1;
    uf->cl_head[i] = 0;
    uf->ident[i] = 0;
  }
  if (n > uf->n) uf->n = n;
  return 0;
}

uint32_t sl_match_uf_find(sl_match_uf *uf, uint32_t x) {
  while (uf->parent[x] != x) {
    uf->parent[x] = uf->parent[uf->parent[x]];
    x = uf->parent[x];
  }
  return x;
}

/* Whether a record on root r's list is in the cluster of root other; *tail
 * gets r's last entry + 1 (0 for an empty list). */
static int conflicts(sl_match_uf *uf, uint32_t r, uint32_t other, uint32_t *tail) {
  *tail = 0;
  for (uint32_t e = uf->cl_head[r]; e; e = uf->cl_next[e - 1]) {
    if (sl_match_uf_find(uf, uf->cl_other[e - 1]) == other) return 1;
    *tail = e;
  }
  return 0;
}

int sl_match_uf_union(sl_match_uf *uf, uint32_t a, uint32_t b) {
  uint32_t ra = sl_match_uf_find(uf, a), rb = sl_match_uf_find(uf, b);
  if (ra == rb) return 0;
  if (uf->size[ra] < uf->size[rb]) {
    uint32_t t = ra;
    ra = rb;
    rb = t;
  }
  /* Both lists are checked: a constraint is stored on one side only. */
  uint32_t ta, tb;
  if ((uf->ident[ra] && uf->ident[rb] && uf->ident[ra] != uf->ident[rb]) ||
      conflicts(uf, rb, ra, &tb) || conflicts(uf, ra, rb, &ta)) {
    uf->refused++;
    return SL_ESTATE;
  }
  if (tb) {
    uf->cl_next[tb - 1] = uf->cl_head[ra];
    uf->cl_head[ra] = uf->cl_head[rb];
  }
  uf->cl_head[rb] = 0;
  if (!uf->ident[ra]) uf->ident[ra] = uf->ident[rb];
  uf->parent[rb] = ra;
  uf->size[ra] += uf->size[rb];
  return 1;
}

int sl_match_uf_cannot(sl_match_uf *uf, uint32_t a, uint32_t b) {
  uint32_t ra = sl_match_uf_find(uf, a);
  if (ra == sl_match_uf_find(uf, b)) return SL_ESTATE;
  if (uf->ncl == uf->clcap) {
    size_t ncap = uf->clcap ? uf->clcap * 2 : 256;
    if (grow((void **)&uf->cl_other, ncap, sizeof(uint32_t)) ||
        grow((void **)&uf->cl_next, ncap, sizeof(uint32_t)))
      return SL_ENOMEM;
    uf->clcap = ncap;
  }
  uf->cl_other[uf->ncl] = b;
  uf->cl_next[uf->ncl] = uf->cl_head[ra];
  uf->cl_head[ra] = (uint32_t)++uf->ncl;
  return 0;
}

void sl_match_uf_reset(sl_match_uf *uf, uint32_t x, uint64_t ident) {
  uf->parent[x] = x;
  uf->size[x] = 1;
  uf->cl_head[x] = 0;
  uf->ident[x] = ident;
}

int sl_match_uf_identify(sl_match_uf *uf, uint32_t x, uint64_t ident) {
  uint32_t r = sl_match_uf_find(uf, x);
  if (uf->ident[r] && uf->ident[r] != ident) return SL_ESTATE;
  uf->ident[r] = ident;
  return 0;
}
