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
  size_t limit;           /* reserved may not grow past it; 0 = no limit */
  int refused;            /* why an allocation failed: SL_ARENA_OVER_LIMIT or _NO_MEMORY; 0 */
} sl_arena;

#define SL_ARENA_OVER_LIMIT 1
#define SL_ARENA_NO_MEMORY 2

/* A point to go back to with sl_arena_rewind. */
typedef struct sl_arena_pos {
  sl_arena_chunk *head, *next;
  size_t pos, used, reserved;
} sl_arena_pos;

void sl_arena_init(sl_arena *a);
/* Frees every chunk; the arena can be used again afterwards. */
void sl_arena_free(sl_arena *a);
/* Frees all but the first chunk and empties it: cheap reuse. */
void sl_arena_reset(sl_arena *a);

/* Where the arena is now. */
sl_arena_pos sl_arena_tell(const sl_arena *a);
/* Frees everything allocated since pos was taken (the arena must not have
 * been reset or freed since): pointers into it are dangling afterwards. */
void sl_arena_rewind(sl_arena *a, const sl_arena_pos *pos);

/* 16-byte aligned memory, or NULL (and refused says why) when a new chunk
 * would take reserved past limit or malloc fails. */
void *sl_arena_alloc(sl_arena *a, size_t n);
/* A NUL-terminated copy of p[0..n). */
char *sl_arena_strndup(sl_arena *a, const char *p, size_t n);
void *sl_arena_memdup(sl_arena *a, const void *p, size_t n);
/* Grows an array allocated from the arena: the old block is abandoned. */
void *sl_arena_grow(sl_arena *a, void *old, size_t old_n, size_t new_n);

#endif
