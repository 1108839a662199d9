/* Clusters: union-find with cannot-link constraints, and the whole
 * streaming path (index, candidates, scoring, union) giving the same
 * clusters whatever the order the records arrive in. */
#include <stdio.h>

#include "match.h"
#include "test.h"

TEST(union_find_merges_and_reports) {
  sl_match_uf uf = {0};
  ASSERT_EQ(sl_match_uf_grow(&uf, 5), 0);
  ASSERT_EQ(sl_match_uf_union(&uf, 0, 1), 1);
  ASSERT_EQ(sl_match_uf_union(&uf, 1, 0), 0);
  ASSERT_EQ(sl_match_uf_union(&uf, 2, 3), 1);
  ASSERT_EQ(sl_match_uf_union(&uf, 3, 1), 1);
  ASSERT_EQ(sl_match_uf_find(&uf, 0), sl_match_uf_find(&uf, 2));
  ASSERT(sl_match_uf_find(&uf, 4) != sl_match_uf_find(&uf, 0));
  sl_match_uf_free(&uf);
}

TEST(cannot_link_refuses_a_merge_through_others) {
  sl_match_uf uf = {0};
  ASSERT_EQ(sl_match_uf_grow(&uf, 6), 0);
  ASSERT_EQ(sl_match_uf_cannot(&uf, 0, 5), 0);
  ASSERT_EQ(sl_match_uf_union(&uf, 0, 1), 1);
  ASSERT_EQ(sl_match_uf_union(&uf, 5, 4), 1);
  ASSERT_EQ(sl_match_uf_union(&uf, 2, 3), 1);
  ASSERT_EQ(sl_match_uf_union(&uf, 1, 2), 1);
  /* {0,1,2,3} and {4,5}: 0 and 5 must stay apart, whichever side is asked. */
  ASSERT_EQ(sl_match_uf_union(&uf, 3, 4), SL_ESTATE);
  ASSERT_EQ(sl_match_uf_union(&uf, 4, 3), SL_ESTATE);
  ASSERT_EQ(uf.refused, 2);
  ASSERT(sl_match_uf_find(&uf, 3) != sl_match_uf_find(&uf, 4));
  /* A constraint between records already together is refused. */
  ASSERT_EQ(sl_match_uf_cannot(&uf, 1, 3), SL_ESTATE);
  sl_match_uf_free(&uf);
}

/* A fixed LCG: the same shuffles on every run. */
static uint32_t next(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(*s >> 33);
}

/* Each record's cluster as the smallest original record number in it. */
static void canonical(sl_match_uf *uf, const uint32_t *orig, size_t n, uint32_t *label) {
  uint32_t best[1024];
  for (size_t i = 0; i < n; i++) best[i] = UINT32_MAX;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = sl_match_uf_find(uf, (uint32_t)i);
    if (orig[i] < best[r]) best[r] = orig[i];
  }
  for (size_t i = 0; i < n; i++) label[orig[i]] = best[sl_match_uf_find(uf, (uint32_t)i)];
}

#define NREC 600

static char names[NREC][16], dobs[NREC][16];

/* 200 people, 3 records each, with typos in the name or the date, and
 * some names replaced (those records stay apart); people share names'
 * first letters and birth dates, so blocks overlap. */
static void make_records(void) {
  uint64_t s = 7;
  for (int i = 0; i < NREC; i++) {
    int p = i / 3;
    snprintf(names[i], sizeof names[i], "%c%c%cname%03d", 'a' + p % 5, 'a' + p % 3, 'a' + p % 7, p);
    snprintf(dobs[i], sizeof dobs[i], "19%02d%02d%02d", 50 + p % 20, 1 + p % 12, 1 + p % 28);
    uint32_t r = next(&s) % 4;
    if (r == 1) names[i][4] = 'x';
    if (r == 2) dobs[i][7] = (char)('0' + (dobs[i][7] - '0' + 1) % 10);
    if (r == 3 && i % 2) snprintf(names[i], sizeof names[i], "q%03d", p);
  }
}

/* Streams the records in the order perm, as the driver does, and labels
 * each record's cluster. */
static void stream(const sl_match_model *mo, const uint32_t *perm, uint32_t *label) {
  sl_match_index *ix = sl_match_index_new(0);
  sl_match_cands c = {0};
  sl_match_uf uf = {0};
  sl_match_scratch sc = {0};
  sl_match_uf_grow(&uf, NREC);
  for (uint32_t i = 0; i < NREC; i++) {
    const char *nm = names[perm[i]], *dob = dobs[perm[i]];
    uint64_t keys[2] = {sl_match_key(0, nm, 3), sl_match_key(1, dob, 8)};
    sl_match_cands_collect(&c, ix, keys, 2, i);
    sl_match_str a[2] = {{nm, (uint32_t)strlen(nm)}, {dob, 8}};
    for (size_t k = 0; k < c.n; k++) {
      uint32_t j = c.ids[k];
      sl_match_str b[2] = {{names[perm[j]], (uint32_t)strlen(names[perm[j]])}, {dobs[perm[j]], 8}};
      int8_t g[2];
      sl_match_gamma(mo, a, b, g, &sc);
      if (sl_match_weight(mo, g, a, NULL) > 0) sl_match_uf_union(&uf, i, j);
    }
    sl_match_index_add(ix, keys[0], i);
    sl_match_index_add(ix, keys[1], i);
  }
  canonical(&uf, perm, NREC, label);
  sl_match_scratch_free(&sc);
  sl_match_uf_free(&uf);
  sl_match_cands_free(&c);
  sl_match_index_free(ix);
}

TEST(streaming_clusters_do_not_depend_on_order) {
  static const sl_match_field fields[2] = {
    {.name = "name", .nlevels = 2, .level = {{SL_MT_EXACT, 0}, {SL_MT_JW, 0.9}}},
    {.name = "dob", .nlevels = 2, .level = {{SL_MT_EXACT, 0}, {SL_MT_OSA, 1}}},
  };
  sl_match_model mo;
  sl_match_model_init(&mo, fields, 2);
  mo.lambda = 0.01;
  const double m[3] = {0.8, 0.15, 0.05}, u[3] = {0.001, 0.01, 0.989};
  for (int f = 0; f < 2; f++)
    for (int l = 0; l < 3; l++) mo.m[f][l] = m[l], mo.u[f][l] = u[l];
  make_records();
  uint32_t perm[NREC], base[NREC], label[NREC];
  for (uint32_t i = 0; i < NREC; i++) perm[i] = i;
  stream(&mo, perm, base);
  /* The clusters are not trivial: some people are split or joined by the
   * typos, and that must come out the same in every order. */
  size_t clusters = 0;
  for (uint32_t i = 0; i < NREC; i++) clusters += base[i] == i;
  if (clusters <= 200 || clusters >= 400) TEST_FAIL_AT("clusters: %zu, expected 201..399", clusters);
  uint64_t s = 99;
  for (int round = 0; round < 20; round++) {
    for (uint32_t i = NREC - 1; i > 0; i--) {
      uint32_t j = next(&s) % (i + 1), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    stream(&mo, perm, label);
    for (uint32_t i = 0; i < NREC; i++) ASSERT_EQ(label[i], base[i]);
  }
  sl_match_model_free(&mo);
}

RUN_TESTS(union_find_merges_and_reports, cannot_link_refuses_a_merge_through_others,
          streaming_clusters_do_not_depend_on_order)
