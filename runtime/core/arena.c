/* Arena allocator: chunks of at least SL_ARENA_CHUNK bytes, bump-allocated. */
#include "sluice/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SL_ARENA_CHUNK (64 * 1024)
#define SL_ARENA_ALIGN 16

struct sl_arena_chunk {
  sl_arena_chunk *next;
  size_t size;        /* usable bytes in data[] */
  size_t pos;         /* next free byte in data[] */
  _Alignas(16) unsigned char data[];
};

void sl_arena_init(sl_arena *a) {
  a->head = NULL;
  a->used = 0;
  a->reserved = 0;
  a->limit = 0;
  a->refused = 0;
}

void sl_arena_free(sl_arena *a) {
  sl_arena_chunk *c = a->head;
  while (c) {
    sl_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  sl_arena_init(a);
}

void sl_arena_reset(sl_arena *a) {
  if (!a->head) return;
  /* Keep the oldest chunk: it is the one of ordinary size. */
  sl_arena_chunk *c = a->head, *last = NULL;
  while (c) {
    sl_arena_chunk *next = c->next;
    if (!next) last = c; else free(c);
    c = next;
  }
  last->pos = 0;
  last->next = NULL;
  a->head = last;
  a->used = 0;
  a->reserved = last->size + sizeof *last;
}

sl_arena_pos sl_arena_tell(const sl_arena *a) {
  sl_arena_pos p = {a->head, a->head ? a->head->next : NULL, a->head ? a->head->pos : 0,
                    a->used, a->reserved};
  return p;
}

void sl_arena_rewind(sl_arena *a, const sl_arena_pos *p) {
  /* Chunks made since p are in front of p->head (new heads) or right behind
   * it (large blocks, see sl_arena_alloc): the list is
   * [new...] p->head [new large...] p->next [older...]. */
  sl_arena_chunk *c = a->head;
  while (c && c != p->head) {
    sl_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  if (c) {
    sl_arena_chunk *x = c->next;
    while (x && x != p->next) {
      sl_arena_chunk *next = x->next;
      free(x);
      x = next;
    }
    c->next = p->next;
    c->pos = p->pos;
  }
  a->head = p->head;
  a->used = p->used;
  a->reserved = p->reserved;
}

void *sl_arena_alloc(sl_arena *a, size_t n) {
  n = (n + SL_ARENA_ALIGN - 1) & ~(size_t)(SL_ARENA_ALIGN - 1);
  sl_arena_chunk *c = a->head;
  if (!c || c->size - c->pos < n) {
    size_t size = n > SL_ARENA_CHUNK / 4 ? n : SL_ARENA_CHUNK;
    if (size > SIZE_MAX - sizeof *c) return NULL;
    if (a->limit && (a->reserved > a->limit || sizeof *c + size > a->limit - a->reserved)) {
      a->refused = SL_ARENA_OVER_LIMIT;
      return NULL;
    }
    sl_arena_chunk *nc = malloc(sizeof *nc + size);
    if (!nc) {
      a->refused = SL_ARENA_NO_MEMORY;
      return NULL;
    }
    nc->size = size;
    nc->pos = 0;
    a->reserved += sizeof *nc + size;
    if (c && size != SL_ARENA_CHUNK) {
      /* A large block gets a chunk of its own behind the current one, so the
       * space left in the current chunk is not wasted. */
      nc->next = c->next;
      c->next = nc;
      nc->pos = n;
      a->used += n;
      return nc->data;
    }
    nc->next = c;
    a->head = c = nc;
  }
  void *p = c->data + c->pos;
  c->pos += n;
  a->used += n;
  return p;
}

char *sl_arena_strndup(sl_arena *a, const char *p, size_t n) {
  char *s = sl_arena_alloc(a, n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = 0;
  return s;
}

void *sl_arena_memdup(sl_arena *a, const void *p, size_t n) {
  void *s = sl_arena_alloc(a, n ? n : 1);
  if (s && n) memcpy(s, p, n);
  return s;
}

void *sl_arena_grow(sl_arena *a, void *old, size_t old_n, size_t new_n) {
  if (new_n <= old_n) return old;
  void *p = sl_arena_alloc(a, new_n);
  if (p && old_n) memcpy(p, old, old_n);
  return p;
}
