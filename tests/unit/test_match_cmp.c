/* The matching comparators and comparison levels, on values with known
 * answers. */
#include "match.h"
#include <string.h>

#include "test.h"

#define S(x) x, sizeof(x) - 1
#define V(x) ((sl_match_str){x, sizeof(x) - 1})

TEST(jaro_winkler_known_values) {
  ASSERT_NEAR(sl_match_jaro(S("MARTHA"), S("MARHTA")), 0.944444, 1e-6);
  ASSERT_NEAR(sl_match_jaro_winkler(S("MARTHA"), S("MARHTA")), 0.961111, 1e-6);
  ASSERT_NEAR(sl_match_jaro_winkler(S("DWAYNE"), S("DUANE")), 0.84, 1e-6);
  ASSERT_NEAR(sl_match_jaro_winkler(S("DIXON"), S("DICKSONX")), 0.813333, 1e-6);
  ASSERT_DBL_EQ(sl_match_jaro_winkler(S("abc"), S("abc")), 1.0);
  ASSERT_DBL_EQ(sl_match_jaro_winkler(S(""), S("abc")), 0.0);
}

TEST(jaro_winkler_counts_code_points) {
  /* 张三丰 / 张三峰: 3 characters, 2 matching, prefix 2; bytes would say 9. */
  ASSERT_NEAR(sl_match_jaro(S("张三丰"), S("张三峰")), (2.0 / 3 + 2.0 / 3 + 1) / 3, 1e-9);
  ASSERT_NEAR(sl_match_jaro_winkler(S("张三丰"), S("张三峰")), 0.777778 + 0.2 * (1 - 0.777778), 1e-6);
}

TEST(osa_distance) {
  ASSERT_EQ(sl_match_osa(S("kitten"), S("sitting")), 3);
  ASSERT_EQ(sl_match_osa(S("ab"), S("ba")), 1);
  /* Optimal string alignment edits no substring twice: 3, not 2. */
  ASSERT_EQ(sl_match_osa(S("CA"), S("ABC")), 3);
  ASSERT_EQ(sl_match_osa(S("张三丰"), S("张丰三")), 1);
  ASSERT_EQ(sl_match_osa(S(""), S("abc")), 3);
  ASSERT_EQ(sl_match_osa(S("19900304"), S("19900403")), 2);
}

TEST(osa_bounded_stops_past_max) {
  uint32_t a[SL_MATCH_MAX_CP], b[SL_MATCH_MAX_CP];
  size_t na = sl__match_cps(S("kitten"), a), nb = sl__match_cps(S("sitting"), b);
  ASSERT_EQ(sl__match_osa_cps(a, na, b, nb, 3), 3);
  ASSERT_EQ(sl__match_osa_cps(a, na, b, nb, 2), 3);
  ASSERT_EQ(sl__match_osa_cps(a, na, b, nb, 1), 2);
  /* Lengths alone rule it out. */
  nb = sl__match_cps(S("kittenxxxx"), b);
  ASSERT_EQ(sl__match_osa_cps(a, na, b, nb, 2), 3);
  ASSERT_EQ(sl__match_osa_cps(a, na, b, nb, 4), 4);
}

TEST(qgram_jaccard) {
  /* ni ig gh ht / na ac ch ht: 1 shared of 7. */
  ASSERT_NEAR(sl_match_jaccard(S("night"), S("nacht"), 2), 1.0 / 7, 1e-12);
  ASSERT_DBL_EQ(sl_match_jaccard(S("abab"), S("ab"), 2), 0.5);
  ASSERT_DBL_EQ(sl_match_jaccard(S("人民路"), S("人民路"), 2), 1.0);
  ASSERT_DBL_EQ(sl_match_jaccard(S("a"), S("a"), 2), 1.0);
}

TEST(numbers_and_dates) {
  double x;
  ASSERT_EQ(sl_match_number(S(" 12.5 "), &x), 0);
  ASSERT_DBL_EQ(x, 12.5);
  ASSERT_EQ(sl_match_number(S("12a"), &x), SL_EPARSE);
  int y, m, d;
  ASSERT_EQ(sl_match_date(S("19900304"), &y, &m, &d), 0);
  ASSERT_EQ(y * 10000 + m * 100 + d, 19900304);
  ASSERT_EQ(sl_match_date(S("1990-03-04"), &y, &m, &d), 0);
  ASSERT_EQ(sl_match_date(S("19901304"), &y, &m, &d), SL_EPARSE);
  ASSERT_EQ(sl_match_date_days(2020, 2, 28, 2020, 3, 1), 2);
}

TEST(pinyin_homophones) {
  sl_match_scratch sc = {0};
  ASSERT(sl_match_pinyin_eq(S("张三"), S("章三"), &sc));
  ASSERT(sl_match_pinyin_eq(S("张三"), S("Zhang San"), &sc));
  ASSERT(!sl_match_pinyin_eq(S("张三"), S("李三"), &sc));
  sl_match_scratch_free(&sc);
}

TEST(company_core) {
  static const struct { const char *in, *core; } cases[] = {
    {"珠海市格力电器股份有限公司", "格力电器"},
    {"珠海格力电器股份有限公司", "珠海格力电器"},
    {"格力电器（珠海）有限公司", "格力电器"},
    {"广东省珠海市华发集团有限公司", "华发"},
    /* A short division name is the start of a brand, not a prefix. */
    {"海南航空控股股份有限公司", "海南航空"},
    {"东方航空股份有限公司", "东方航空"},
    {"华为技术有限责任公司", "华为技术"},
    {"有限公司", "有限公司"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_match_company_core(cases[i].in, strlen(cases[i].in), &b);
    sl_buf_putc(&b, 0);
    ASSERT_STR_EQ(b.ptr, cases[i].core);
    sl_buf_free(&b);
  }
  sl_match_scratch sc = {0};
  /* A short division in front of the other's core is a prefix... */
  ASSERT_DBL_EQ(sl_match_company_jw(S("珠海格力电器股份有限公司"), S("格力电器有限公司"), &sc), 1.0);
  ASSERT_DBL_EQ(sl_match_company_jw(S("格力电器有限公司"), S("广东珠海格力电器有限公司"), &sc), 1.0);
  /* ...but two brands that start with divisions stay two brands. */
  ASSERT(sl_match_company_jw(S("海南航空控股股份有限公司"), S("东方航空股份有限公司"), &sc) < 0.8);
  sl_match_scratch_free(&sc);
}

TEST(address_on_divisions) {
  sl_match_scratch sc = {0};
  ASSERT_DBL_EQ(sl_match_address_jw(S("广东省珠海市香洲区人民路1号"), S("珠海香洲人民路1号"), &sc), 1.0);
  ASSERT_DBL_EQ(sl_match_address_jw(S("广东省珠海市香洲区人民路1号"), S("广东省珠海市金湾区人民路1号"), &sc), -1.0);
  ASSERT(sl_match_address_jw(S("珠海市香洲区人民路1号"), S("珠海市香洲区人民路2号"), &sc) > 0.9);
  sl_match_scratch_free(&sc);
}

TEST(levels_first_test_that_holds) {
  sl_match_field f = {.name = "name", .nlevels = 3,
                      .level = {{SL_MT_EXACT, 0}, {SL_MT_JW, 0.92}, {SL_MT_JW, 0.8}}};
  sl_match_scratch sc = {0};
  ASSERT_EQ(sl_match_level_of(&f, V("martha"), V("martha"), &sc), 0);
  ASSERT_EQ(sl_match_level_of(&f, V("martha"), V("marhta"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&f, V("dwayne"), V("duane"), &sc), 2);
  ASSERT_EQ(sl_match_level_of(&f, V("martha"), V("xyz"), &sc), 3);
  /* A missing value is no evidence. */
  ASSERT_EQ(sl_match_level_of(&f, V("martha"), V(""), &sc), -1);
  sl_buf b = SL_BUF_INIT;
  sl_match_level_name(&f, 1, &b);
  sl_buf_putc(&b, 0);
  ASSERT_STR_EQ(b.ptr, "jw>=0.92");
  sl_buf_free(&b);
  sl_match_scratch_free(&sc);
}

TEST(date_levels_with_swap) {
  sl_match_field f = {.name = "dob", .nlevels = 3,
                      .level = {{SL_MT_EXACT, 0}, {SL_MT_DATE_SWAP, 0}, {SL_MT_DATE_DAYS, 31}}};
  sl_match_scratch sc = {0};
  ASSERT_EQ(sl_match_level_of(&f, V("1990-03-04"), V("1990-04-03"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&f, V("1990-03-04"), V("1990-03-20"), &sc), 2);
  ASSERT_EQ(sl_match_level_of(&f, V("1990-03-04"), V("1991-03-04"), &sc), 3);
  /* An unreadable date falls to "else", it is not missing. */
  ASSERT_EQ(sl_match_level_of(&f, V("1990-03-04"), V("unknown"), &sc), 3);
  sl_match_scratch_free(&sc);
}

TEST(chinese_and_number_levels) {
  sl_match_field name = {.name = "name", .nlevels = 2, .level = {{SL_MT_EXACT, 0}, {SL_MT_PINYIN, 0}}};
  sl_match_field company = {.name = "company", .nlevels = 2,
                            .level = {{SL_MT_EXACT, 0}, {SL_MT_COMPANY, 0.9}}};
  sl_match_field addr = {.name = "addr", .nlevels = 1, .level = {{SL_MT_ADDRESS, 0.9}}};
  sl_match_field income = {.name = "income", .nlevels = 2,
                           .level = {{SL_MT_NUM_ABS, 0}, {SL_MT_NUM_REL, 0.1}}};
  sl_match_scratch sc = {0};
  ASSERT_EQ(sl_match_level_of(&name, V("张三"), V("章三"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&name, V("张三"), V("李四"), &sc), 2);
  ASSERT_EQ(sl_match_level_of(&company, V("珠海格力电器股份有限公司"), V("格力电器有限公司"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&company, V("格力电器有限公司"), V("华发集团有限公司"), &sc), 2);
  ASSERT_EQ(sl_match_level_of(&addr, V("广东省珠海市香洲区人民路1号"), V("珠海香洲人民路1号"), &sc), 0);
  ASSERT_EQ(sl_match_level_of(&addr, V("珠海市香洲区人民路1号"), V("珠海市金湾区人民路1号"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&income, V("100"), V("100.0"), &sc), 0);
  ASSERT_EQ(sl_match_level_of(&income, V("100"), V("95"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&income, V("100"), V("50"), &sc), 2);
  sl_match_scratch_free(&sc);
}

/* A resident ID's 17 digits: a mistyped region or birth digit is one edit
 * in the first 14; one edit in the sequence code (twins registered
 * together) falls to the plain one-edit level. */
TEST(id_head_levels) {
  sl_match_field id = {.name = "id_no", .nlevels = 3,
                       .level = {{SL_MT_EXACT, 0}, {SL_MT_OSA_HEAD, 14}, {SL_MT_OSA, 1}}};
  sl_match_scratch sc = {0};
  ASSERT_EQ(sl_match_level_of(&id, V("44040219900101123"), V("44040219900101123"), &sc), 0);
  ASSERT_EQ(sl_match_level_of(&id, V("44040219900101123"), V("44040219900110123"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&id, V("44040219900101123"), V("44040319900101123"), &sc), 1);
  ASSERT_EQ(sl_match_level_of(&id, V("44040219900101123"), V("44040219900101125"), &sc), 2);
  ASSERT_EQ(sl_match_level_of(&id, V("44040219900101123"), V("44040319900101125"), &sc), 3);
  sl_buf b = SL_BUF_INIT;
  sl_match_level_name(&id, 1, &b);
  sl_buf_putc(&b, 0);
  ASSERT_STR_EQ(b.ptr, "dl<=1-head=14");
  sl_buf_free(&b);
  sl_match_scratch_free(&sc);
}

/* The one-pass check for "dl<=1" agrees with the full table on random
 * strings over a small alphabet (substitutions, transpositions,
 * insertions, deletions, and farther pairs). */
TEST(osa_within_one_agrees_with_the_table) {
  unsigned seed = 12345;
  for (int t = 0; t < 20000; t++) {
    uint32_t a[12], b[13];
    seed = seed * 1103515245u + 12345u;
    size_t na = 1 + (seed >> 16) % 10;
    for (size_t i = 0; i < na; i++) {
      seed = seed * 1103515245u + 12345u;
      a[i] = 'a' + (seed >> 16) % 3;
    }
    memcpy(b, a, na * sizeof *a);
    size_t nb = na;
    seed = seed * 1103515245u + 12345u;
    size_t at = (seed >> 16) % na;
    switch ((seed >> 8) % 5) {
      case 0: b[at] = 'a' + (b[at] - 'a' + 1) % 3; break;                   /* substitute */
      case 1: if (at + 1 < na) { b[at] = a[at + 1]; b[at + 1] = a[at]; } break;  /* transpose */
      case 2: memmove(b + at + 1, b + at, (na - at) * sizeof *b); b[at] = 'c'; nb++; break;  /* insert */
      case 3: memmove(b + at, b + at + 1, (na - at - 1) * sizeof *b); nb--; break;          /* delete */
      default: for (size_t i = 0; i < nb; i += 2) b[i] = 'a' + (b[i] - 'a' + 2) % 3; break;  /* far */
    }
    int full = sl__match_osa_cps(a, na, b, nb, 1000);
    for (int max = 0; max <= 1; max++) {
      int want = full <= max ? full : max + 1;
      int got = sl__match_osa_cps(a, na, b, nb, max);
      if (got != want) TEST_FAIL_AT("case %d (lengths %zu, %zu), max %d: %d, the table says %d", t, na, nb, max, got, want);
    }
  }
}

RUN_TESTS(osa_within_one_agrees_with_the_table, jaro_winkler_known_values, jaro_winkler_counts_code_points, osa_distance,
          osa_bounded_stops_past_max, qgram_jaccard,
          numbers_and_dates, pinyin_homophones, company_core, address_on_divisions,
          levels_first_test_that_holds, date_levels_with_swap, chinese_and_number_levels,
          id_head_levels)
