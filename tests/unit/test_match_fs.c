/* Fellegi-Sunter weights, term frequencies and EM on a small synthetic set
 * whose true parameters are known. */
#include "match.h"
#include "test.h"

static const sl_match_field fields[3] = {
  {.name = "a", .nlevels = 1, .level = {{SL_MT_EXACT, 0}}},
  {.name = "b", .nlevels = 1, .level = {{SL_MT_EXACT, 0}}},
  {.name = "c", .nlevels = 1, .level = {{SL_MT_EXACT, 0}}, .tf = 1},
};

TEST(weight_is_prior_plus_log_bayes_factors) {
  sl_match_model mo;
  sl_match_model_init(&mo, fields, 3);
  mo.lambda = 0.5;
  for (int f = 0; f < 3; f++) {
    mo.m[f][0] = 0.9, mo.m[f][1] = 0.1;
    mo.u[f][0] = 0.1, mo.u[f][1] = 0.9;
  }
  int8_t g[3] = {0, 1, -1};
  sl_match_str a[3] = {{"x", 1}, {"y", 1}, {"", 0}};
  sl_match_term t[3];
  double w = sl_match_weight(&mo, g, a, t);
  ASSERT_NEAR(t[0].weight, log2(9.0), 1e-12);
  ASSERT_NEAR(t[1].weight, -log2(9.0), 1e-12);
  ASSERT_DBL_EQ(t[2].weight, 0.0);
  ASSERT_NEAR(w, 0.0, 1e-12);
  ASSERT_NEAR(sl_match_probability(w), 0.5, 1e-12);
  ASSERT_NEAR(sl_match_probability(log2(99.0)), 0.99, 1e-12);
  /* A prior far below the m and u floor is used as it is. */
  mo.lambda = 1e-12;
  ASSERT_NEAR(sl_match_weight(&mo, g, a, NULL), log2(1e-12 / (1 - 1e-12)), 1e-9);
  sl_match_model_free(&mo);
}

TEST(common_value_weighs_less) {
  sl_match_model mo;
  sl_match_model_init(&mo, fields, 3);
  mo.lambda = 0.5;
  mo.m[2][0] = 0.9, mo.u[2][0] = 0.01;
  for (int i = 0; i < 90; i++) sl_match_tf_add(&mo.tf[2], "wang", 4);
  for (int i = 0; i < 10; i++) sl_match_tf_add(&mo.tf[2], "ouyang", 6);
  int8_t g[3] = {-1, -1, 0};
  sl_match_str wang[3] = {{"", 0}, {"", 0}, {"wang", 4}}, ou[3] = {{"", 0}, {"", 0}, {"ouyang", 6}};
  sl_match_term t;
  sl_match_term ts[3];
  double ww = sl_match_weight(&mo, g, wang, ts);
  t = ts[2];
  ASSERT_NEAR(t.tf_adjust, log2(0.01 / 0.9), 1e-12);
  double wo = sl_match_weight(&mo, g, ou, ts);
  ASSERT_NEAR(ts[2].tf_adjust, log2(0.01 / 0.1), 1e-12);
  ASSERT(wo > ww);
  /* A value never seen counts as seen once. */
  ASSERT_NEAR(sl_match_tf_freq(&mo.tf[2], "li", 2), 0.01, 1e-12);
  sl_match_model_free(&mo);
}

TEST(id_rule) {
  sl_match_str a = {"440402199001011234", 18}, b = {"440402199001011235", 18}, none = {"", 0};
  ASSERT_EQ(sl_match_id_rule(a, a), SL_MATCH_MUST);
  ASSERT_EQ(sl_match_id_rule(a, b), SL_MATCH_CANNOT);
  ASSERT_EQ(sl_match_id_rule(a, none), SL_MATCH_SCORE);
}

/* A fixed LCG: the same pairs on every run. */
static double rnd(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) / 9007199254740992.0;
}

TEST(em_recovers_m_and_lambda) {
  const double m[3] = {0.95, 0.9, 0.8}, u[3] = {0.05, 0.1, 0.2}, lambda = 0.3;
  sl_match_patterns rp = {0}, cp = {0};
  uint64_t seed = 42;
  for (int i = 0; i < 200000; i++) {
    int8_t g[3];
    for (int f = 0; f < 3; f++) g[f] = rnd(&seed) < u[f] ? 0 : 1;
    ASSERT_EQ(sl_match_patterns_add(&rp, g, 3), 0);
  }
  for (int i = 0; i < 200000; i++) {
    int match = rnd(&seed) < lambda;
    int8_t g[3];
    for (int f = 0; f < 3; f++) g[f] = rnd(&seed) < (match ? m[f] : u[f]) ? 0 : 1;
    ASSERT_EQ(sl_match_patterns_add(&cp, g, 3), 0);
  }
  ASSERT_EQ(cp.c.used, 8);
  sl_match_model mo;
  sl_match_model_init(&mo, fields, 3);
  sl_match_estimate_u(&mo, &rp);
  for (int f = 0; f < 3; f++) ASSERT_NEAR(mo.u[f][0], u[f], 0.005);
  sl_match_em_report rep;
  mo.lambda = 0.5;
  sl_match_em(&mo, &cp, 500, 1e-7, &rep);
  ASSERT(rep.converged);
  ASSERT(rep.iterations > 1);
  for (int f = 0; f < 3; f++) ASSERT_NEAR(mo.m[f][0], m[f], 0.02);
  ASSERT_NEAR(mo.lambda, lambda, 0.02);
  ASSERT_NEAR(rep.lambda, mo.lambda, 1e-12);
  /* 200000 candidates among 10^8 pairs: the random pair's prior. */
  sl_match_prior_from_candidates(&mo, cp.c.total, 1e8);
  ASSERT_NEAR(mo.lambda, rep.lambda * 2e-3, 1e-12);
  sl_match_patterns_free(&rp);
  sl_match_patterns_free(&cp);
  sl_match_model_free(&mo);
}

/* A household: field a (the address) agreeing makes field b (the birth
 * date) agree between different people 1000 times as often as chance. */
TEST(dependence_discounts_once) {
  sl_match_model mo;
  sl_match_model_init(&mo, fields, 3);
  mo.lambda = 0.5;
  for (int f = 0; f < 3; f++) mo.m[f][0] = 0.9, mo.m[f][1] = 0.1, mo.u[f][0] = 1e-4, mo.u[f][1] = 1 - 1e-4;
  mo.ndeps = 2;
  mo.dep[0] = (sl_match_dep){.a = 0, .la = 0, .b = 1, .lb = 0};
  mo.dep[1] = (sl_match_dep){.a = 2, .la = 0, .b = 1, .lb = 0};
  /* 99 of 999 known non-matches with a equal agree on b: P = (99 + 1e-4) / 1000. */
  sl_match_dep_estimate(&mo, 0, 99, 999);
  ASSERT_NEAR(mo.dep[0].ratio, (99 + 1e-4) / 1000 / 1e-4, 1e-6);
  /* None agree: no discount (the ratio never falls below 1). */
  sl_match_dep_estimate(&mo, 1, 0, 999);
  ASSERT_DBL_EQ(mo.dep[1].ratio, 1.0);
  sl_match_str v[3] = {{"x", 1}, {"y", 1}, {"", 0}};
  int8_t both[3] = {0, 0, -1}, b_only[3] = {1, 0, -1}, a_only[3] = {0, 1, -1};
  sl_match_term t[3];
  double w = sl_match_weight(&mo, both, v, t);
  ASSERT_NEAR(t[1].dep_adjust, -log2(mo.dep[0].ratio), 1e-9);
  ASSERT_NEAR(w, 2 * log2(0.9 / 1e-4) - log2(mo.dep[0].ratio), 1e-9);
  sl_match_weight(&mo, b_only, v, t);
  ASSERT_DBL_EQ(t[1].dep_adjust, 0.0);
  sl_match_weight(&mo, a_only, v, t);
  ASSERT_DBL_EQ(t[0].dep_adjust, 0.0);
  /* Two dependences on b that hold: the larger ratio only. */
  sl_match_dep_estimate(&mo, 1, 9, 999);
  int8_t all3[3] = {0, 0, 0};
  sl_match_str v3[3] = {{"x", 1}, {"y", 1}, {"z", 1}};
  sl_match_weight(&mo, all3, v3, t);
  ASSERT_NEAR(t[1].dep_adjust, -log2(mo.dep[0].ratio), 1e-9);
  sl_match_model_free(&mo);
}

/* Field 1's m from the known matches alone: EM's undecided pairs, all
 * disagreeing on it, do not move it. */
TEST(m_from_known_matches) {
  sl_match_patterns must = {0}, undecided = {0};
  for (int i = 0; i < 2000; i++) {
    int8_t g[3] = {0, (int8_t)(i % 10 == 0), 0};
    ASSERT_EQ(sl_match_patterns_add(&must, g, 3), 0);
  }
  for (int i = 0; i < 2000; i++) {
    int8_t g[3] = {0, 1, 0};
    ASSERT_EQ(sl_match_patterns_add(&undecided, g, 3), 0);
  }
  sl_match_model mo;
  sl_match_model_init(&mo, fields, 3);
  for (int f = 0; f < 3; f++) mo.u[f][0] = 0.01, mo.u[f][1] = 0.99;
  mo.m_from_known = 1u << 1;
  sl_match_em_report rep;
  mo.lambda = 0.5;
  sl_match_em_known(&mo, &undecided, &must, NULL, 200, 1e-9, &rep);
  ASSERT_NEAR(mo.m[1][1], (200 + 0.5) / 2001.0, 1e-9);
  sl_match_patterns_free(&must);
  sl_match_patterns_free(&undecided);
  sl_match_model_free(&mo);
}

RUN_TESTS(weight_is_prior_plus_log_bayes_factors, common_value_weighs_less, id_rule,
          em_recovers_m_and_lambda, dependence_discounts_once, m_from_known_matches)
