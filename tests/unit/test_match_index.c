/* The blocking index: keys to ids, the block cap, candidate dedup. */
#include "match.h"
#include "test.h"

TEST(keys_depend_on_rule_and_bytes) {
  ASSERT(sl_match_key(0, "wang", 4) == sl_match_key(0, "wang", 4));
  ASSERT(sl_match_key(0, "wang", 4) != sl_match_key(1, "wang", 4));
  ASSERT(sl_match_key(0, "wang", 4) != sl_match_key(0, "wan", 3));
}

TEST(ids_in_insertion_order) {
  sl_match_index *ix = sl_match_index_new(0);
  uint64_t k = sl_match_key(0, "k", 1);
  for (uint32_t i = 0; i < 100; i++) ASSERT_EQ(sl_match_index_add(ix, k, i * 3), 0);
  uint32_t n;
  const uint32_t *ids = sl_match_index_get(ix, k, &n);
  ASSERT_EQ(n, 100);
  for (uint32_t i = 0; i < 100; i++) ASSERT_EQ(ids[i], i * 3);
  ASSERT(sl_match_index_get(ix, sl_match_key(0, "other", 5), &n) == NULL);
  ASSERT_EQ(n, 0);
  sl_match_index_free(ix);
}

TEST(many_keys_survive_growth_and_chunk_reuse) {
  sl_match_index *ix = sl_match_index_new(0);
  /* Key j gets ids j, j + 5000, j + 10000 ... (j % 7 + 1 of them). */
  for (uint32_t round = 0; round < 7; round++)
    for (uint32_t j = 0; j < 5000; j++)
      if (round < j % 7 + 1) ASSERT_EQ(sl_match_index_add(ix, sl_match_key(2, &j, sizeof j), j + round * 5000), 0);
  uint64_t total = 0;
  for (uint32_t j = 0; j < 5000; j++) {
    total += j % 7 + 1;
    uint32_t n;
    const uint32_t *ids = sl_match_index_get(ix, sl_match_key(2, &j, sizeof j), &n);
    ASSERT_EQ(n, j % 7 + 1);
    for (uint32_t r = 0; r < n; r++) ASSERT_EQ(ids[r], j + r * 5000);
  }
  sl_match_index_stats st;
  sl_match_index_stats_get(ix, &st);
  ASSERT_EQ(st.keys, 5000);
  ASSERT_EQ(st.postings, total);
  sl_match_index_free(ix);
}

TEST(capped_block_is_skipped_and_counted) {
  sl_match_index *ix = sl_match_index_new(10);
  uint64_t big = sl_match_key(0, "wang", 4), small = sl_match_key(0, "ouyang", 6);
  for (uint32_t i = 0; i < 25; i++) ASSERT_EQ(sl_match_index_add(ix, big, i), 0);
  ASSERT_EQ(sl_match_index_add(ix, small, 3), 0);
  uint32_t n;
  ASSERT(sl_match_index_get(ix, big, &n) == NULL);
  ASSERT_EQ(n, 25);
  sl_match_index_stats st;
  sl_match_index_stats_get(ix, &st);
  ASSERT_EQ(st.capped_blocks, 1);
  ASSERT_EQ(st.capped_hits, 1);
  ASSERT_EQ(st.postings, 1);
  /* The capped block's records are still found through their other keys. */
  sl_match_cands c = {0};
  uint64_t keys[2] = {big, small};
  ASSERT_EQ(sl_match_cands_collect(&c, ix, keys, 2, 100), 0);
  ASSERT_EQ(c.n, 1);
  ASSERT_EQ(c.ids[0], 3);
  sl_match_cands_free(&c);
  sl_match_index_free(ix);
}

TEST(candidates_once_and_only_earlier) {
  sl_match_index *ix = sl_match_index_new(0);
  uint64_t a = sl_match_key(0, "a", 1), b = sl_match_key(1, "b", 1);
  for (uint32_t i = 0; i < 6; i++) {
    sl_match_index_add(ix, a, i);
    sl_match_index_add(ix, b, i);
  }
  sl_match_cands c = {0};
  uint64_t keys[2] = {a, b};
  for (int round = 0; round < 3; round++) {
    ASSERT_EQ(sl_match_cands_collect(&c, ix, keys, 2, 4), 0);
    ASSERT_EQ(c.n, 4);
    for (uint32_t i = 0; i < 4; i++) ASSERT_EQ(c.ids[i], i);
  }
  sl_match_cands_free(&c);
  sl_match_index_free(ix);
}

RUN_TESTS(keys_depend_on_rule_and_bytes, ids_in_insertion_order, many_keys_survive_growth_and_chunk_reuse,
          capped_block_is_skipped_and_counted, candidates_once_and_only_earlier)
