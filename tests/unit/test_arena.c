/* sl_arena: the limit on what it holds, and going back to a position. */
#include <stdint.h>
#include <string.h>

#include "sluice/arena.h"
#include "test.h"

TEST(limit_refuses_new_chunks) {
  sl_arena a;
  sl_arena_init(&a);
  ASSERT(sl_arena_alloc(&a, 100) != NULL);
  a.limit = a.reserved + 200 * 1024;
  ASSERT(sl_arena_alloc(&a, 150 * 1024) != NULL);     /* a large block of its own */
  ASSERT_EQ(a.refused, 0);
  ASSERT(sl_arena_alloc(&a, 100 * 1024) == NULL);     /* would pass the limit */
  ASSERT_EQ(a.refused, SL_ARENA_OVER_LIMIT);
  ASSERT(a.reserved <= a.limit);
  /* What fits in the current chunk is still handed out. */
  ASSERT(sl_arena_alloc(&a, 64) != NULL);
  a.limit = 0;
  ASSERT(sl_arena_alloc(&a, 100 * 1024) != NULL);
  sl_arena_free(&a);
  ASSERT_EQ(a.limit, 0);
  ASSERT_EQ(a.refused, 0);
}

TEST(rewind_frees_what_came_after) {
  sl_arena a;
  sl_arena_init(&a);
  char *keep = sl_arena_strndup(&a, "keep", 4);
  sl_arena_pos pos = sl_arena_tell(&a);
  size_t used = a.used, reserved = a.reserved;
  /* New heads, large blocks behind the head, bumps in the head. */
  for (int i = 0; i < 50; i++) ASSERT(sl_arena_alloc(&a, 3000) != NULL);
  ASSERT(sl_arena_alloc(&a, 1 << 20) != NULL);
  ASSERT(sl_arena_alloc(&a, 40 * 1024) != NULL);
  ASSERT(a.reserved > reserved);
  sl_arena_rewind(&a, &pos);
  ASSERT_EQ(a.used, used);
  ASSERT_EQ(a.reserved, reserved);
  ASSERT_MEM_EQ(keep, 4, "keep", 4);
  /* The next allocation takes the space right after the kept one. */
  char *next = sl_arena_alloc(&a, 16);
  ASSERT(next == keep + 16);
  sl_arena_free(&a);
}

TEST(rewind_of_an_empty_arena) {
  sl_arena a;
  sl_arena_init(&a);
  sl_arena_pos pos = sl_arena_tell(&a);
  ASSERT(sl_arena_alloc(&a, 1 << 20) != NULL);
  ASSERT(sl_arena_alloc(&a, 10) != NULL);
  sl_arena_rewind(&a, &pos);
  ASSERT(a.head == NULL);
  ASSERT_EQ(a.reserved, 0);
  ASSERT(sl_arena_alloc(&a, 10) != NULL);
  sl_arena_free(&a);
}

RUN_TESTS(limit_refuses_new_chunks, rewind_frees_what_came_after, rewind_of_an_empty_arena)
