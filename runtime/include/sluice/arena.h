/* Arena: a bump allocator freed in one go.  Every batch owns one; nothing
 * allocated from it is freed on its own. */
#ifndef SLUICE_ARENA_H
#define SLUICE_ARENA_H

#include <stddef.h>

typedef struct sl_arena_chunk sl_arena_chunk;

typedef struct sl_arena {
  sl_arena_chunk *head;   /* chunk being filled; older ones follow ->next */
  size_t used;            /* bytes handed out (statistics, backpressure) */
  size_t reserved;        /* bytes held from malloc */
} sl_arena;

void sl_arena_init(sl_arena *a);
/* Frees every chunk; the arena can be used again afterwards. */
void sl_arena_free(sl_arena *a);
/* Frees all but the first chunk and empties it: cheap reuse. */
void sl_arena_reset(sl_arena *a);

/* 16-byte aligned memory, or NULL when malloc fails. */
void *sl_arena_alloc(sl_arena *a, size_t n);
/* A NUL-terminated copy of p[0..n). */
char *sl_arena_strndup(sl_arena *a, const char *p, size_t n);
void *sl_arena_memdup(sl_arena *a, const void *p, size_t n);
/* Grows an array allocated from the arena: the old block is abandoned. */
void *sl_arena_grow(sl_arena *a, void *old, size_t old_n, size_t new_n);

#endif
