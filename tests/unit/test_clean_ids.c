/* Resident ID numbers, unified social credit codes, organisation codes:
 * table-driven, with check characters worked out by hand from the
 * standards' weights, and every clean result cleaned again unchanged. */
#include "clean.h"
#include "test.h"

/* 2024-06-01, so that "in the future" does not depend on the day the test runs. */
#define TODAY ((int32_t)sl_days_from_civil(2024, 6, 1))

static const struct {
  const char *in;
  const char *id;       /* NULL: rejected */
  const char *birth_or_why;
  char sex;
  int upgraded;
} ids[] = {
    /* GB 11643-1999's own example, check character X. */
    {"11010519491231002X", "11010519491231002X", "1949-12-31", 'F', 0},
    {"11010519491231002x", "11010519491231002X", "1949-12-31", 'F', 0},
    {" 110105 19491231 002X ", "11010519491231002X", "1949-12-31", 'F', 0},
    {"１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", "1949-12-31", 'F', 0},
    {"110105194912310021", NULL, "check character is 1, expected X", 0, 0},
    {"440402199001011236", "440402199001011236", "1990-01-01", 'M', 0},
    {"31011519880808151X", "31011519880808151X", "1988-08-08", 'M', 0},
    /* 15 digits: 19 inserted, check character appended. */
    {"110105491231002", "11010519491231002X", "1949-12-31", 'F', 1},
    {"440402900101123", "440402199001011236", "1990-01-01", 'M', 1},
    /* Leap days. */
    {"440402200002290025", "440402200002290025", "2000-02-29", 'F', 0},
    {"440402202402290015", "440402202402290015", "2024-02-29", 'M', 0},
    {"440402190002290029", NULL, "impossible birth date 1900-02-29", 0, 0},
    {"440402199002301234", NULL, "impossible birth date 1990-02-30", 0, 0},
    {"440402199013011234", NULL, "impossible birth date 1990-13-01", 0, 0},
    {"440402202501011234", NULL, "birth date 2025-01-01 is in the future", 0, 0},
    {"440402187001011234", NULL, "impossible birth date 1870-01-01", 0, 0},
    /* Unknown province; an unknown county of a known province is accepted
     * (numbers keep the division of first registration, since abolished). */
    {"990105194912310021", NULL, "unknown province code 99", 0, 0},
    {"650102198012317896", "650102198012317896", "1980-12-31", 'M', 0},
    {"710000198001010010", "710000198001010010", "1980-01-01", 'M', 0},
    {"1101051949123100", NULL, "has 16 characters, a resident ID number has 18 (or 15)", 0, 0},
    {"11010519491231002XX", NULL, "has 19 characters", 0, 0},
    {"", NULL, "is empty", 0, 0},
    {"11010519491231002Y", NULL, "must be a digit or X, not 'Y'", 0, 0},
    {"1101051949123100X2", NULL, "character 17 ('X') is not a digit", 0, 0},
    {"11010519491231002\xE2\x80\x8B", NULL, "is not a digit", 0, 0},
    {"\xFF\xFE", NULL, "is not a digit", 0, 0},
};

TEST(cn_id_table) {
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    sl_cn_id id;
    sl_clean_why why = {{0}};
    int rc = sl_cn_id_parse(ids[i].in, strlen(ids[i].in), TODAY, &id, &why);
    if (!ids[i].id) {
      if (rc == 0 || !strstr(why.msg, ids[i].birth_or_why))
        TEST_FAIL_AT("%s: rc %d, why \"%s\", want \"%s\"", ids[i].in, rc, why.msg, ids[i].birth_or_why);
      continue;
    }
    if (rc) {
      TEST_FAIL_AT("%s: rejected: %s", ids[i].in, why.msg);
      continue;
    }
    ASSERT_STR_EQ(id.id, ids[i].id);
    ASSERT_STR_EQ(id.birth, ids[i].birth_or_why);
    ASSERT_EQ(id.sex, ids[i].sex);
    ASSERT_EQ(id.upgraded, ids[i].upgraded);
    ASSERT_MEM_EQ(id.division, 6, ids[i].id, 6);
    /* Idempotent: the clean number cleans to itself. */
    sl_cn_id again;
    ASSERT_EQ(sl_cn_id_parse(id.id, 18, TODAY, &again, &why), 0);
    ASSERT_STR_EQ(again.id, id.id);
  }
}

TEST(cn_id_check_character) {
  ASSERT_EQ(sl_cn_id_check("11010519491231002"), 'X');
  ASSERT_EQ(sl_cn_id_check("44040219900101123"), '6');
  /* Every remainder 0..10 maps through "10X98765432": find one of each. */
  int seen[11] = {0};
  char body[18] = "44040219900101000";
  for (int s = 0; s < 1000; s++) {
    body[14] = (char)('0' + s / 100);
    body[15] = (char)('0' + s / 10 % 10);
    body[16] = (char)('0' + s % 10);
    char c = sl_cn_id_check(body);
    seen[c == 'X' ? 10 : c - '0'] = 1;
  }
  for (int k = 0; k < 11; k++) ASSERT(seen[k]);
}

static const struct {
  const char *in, *code, *why_or_type;
} usccs[] = {
    /* GB 32100-2015's example. */
    {"91350100M000100Y43", "91350100M000100Y43", "企业"},
    {"91350100m000100y43", "91350100M000100Y43", "企业"},
    {" 9135 0100 M000 100Y 43", "91350100M000100Y43", "企业"},
    {"９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43", "企业"},
    {"91440300MA5G2K3M5Q", "91440300MA5G2K3M5Q", "企业"},
    {"12100000400000122T", "12100000400000122T", "事业单位"},
    {"51100000500001237J", "51100000500001237J", "社会团体"},
    {"93440402MA4X5Y6R3M", "93440402MA4X5Y6R3M", "农民专业合作社"},
    {"11100000000013119J", "11100000000013119J", "机关"},
    {"91350100M000100Y42", NULL, "check character is 2, expected 3"},
    {"91350100M000100Y4", NULL, "has 17 characters"},
    {"B1350100M000100Y43", NULL, "unknown registration authority 'B'"},
    {"95350100M000100Y43", NULL, "unknown organisation type '5'"},
    {"91350100M000100I43", NULL, "character 16 ('I') is not in the code's alphabet"},
    {"91990100M000100Y43", NULL, "unknown province code 99"},
    {"9135A100M000100Y43", NULL, "division code (characters 3-8) must be digits"},
    /* A right check character over a wrong embedded organisation code. */
    {"91350100M000100Y56", NULL, "embedded organisation code"},
    {"", NULL, "is empty"},
};

TEST(uscc_table) {
  for (size_t i = 0; i < sizeof usccs / sizeof usccs[0]; i++) {
    sl_uscc u;
    sl_clean_why why = {{0}};
    int rc = sl_uscc_parse(usccs[i].in, strlen(usccs[i].in), &u, &why);
    if (!usccs[i].code) {
      if (rc == 0 || !strstr(why.msg, usccs[i].why_or_type))
        TEST_FAIL_AT("%s: rc %d, why \"%s\", want \"%s\"", usccs[i].in, rc, why.msg, usccs[i].why_or_type);
      continue;
    }
    if (rc) {
      TEST_FAIL_AT("%s: rejected: %s", usccs[i].in, why.msg);
      continue;
    }
    ASSERT_STR_EQ(u.code, usccs[i].code);
    ASSERT_STR_EQ(u.type_name, usccs[i].why_or_type);
    sl_uscc again;
    ASSERT_EQ(sl_uscc_parse(u.code, 18, &again, &why), 0);
    ASSERT_STR_EQ(again.code, u.code);
  }
}

TEST(uscc_parts) {
  sl_uscc u;
  sl_clean_why why;
  ASSERT_EQ(sl_uscc_parse("91350100M000100Y43", 18, &u, &why), 0);
  ASSERT_EQ(u.authority, '9');
  ASSERT_STR_EQ(u.authority_name, "工商");
  ASSERT_EQ(u.type, '1');
  ASSERT_STR_EQ(u.division, "350100");
  ASSERT_STR_EQ(u.org_code, "M000100Y4");
  ASSERT_EQ(sl_uscc_check("91350100M000100Y4"), '3');
  ASSERT_EQ(sl_uscc_check("91350100M000100O4"), 0);   /* O is not in the alphabet */
}

TEST(org_code_table) {
  static const struct {
    const char *in, *out, *why;
  } t[] = {
      {"M000100Y4", "M000100Y4", NULL},
      {"M000100Y-4", "M000100Y4", NULL},
      {"m000100y－4", "M000100Y4", NULL},
      {"12345678-8", "123456788", NULL},
      {"00000001-9", "000000019", NULL},
      {"M000100Y-5", NULL, "check character is 5, expected 4"},
      {"M000100Y", NULL, "has 8 characters"},
      {"M000100Y/4", NULL, "unexpected character"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char out[10];
    sl_clean_why why = {{0}};
    int rc = sl_org_code_parse(t[i].in, strlen(t[i].in), out, &why);
    if (t[i].out) {
      if (rc) TEST_FAIL_AT("%s: rejected: %s", t[i].in, why.msg);
      else ASSERT_STR_EQ(out, t[i].out);
    } else if (rc == 0 || !strstr(why.msg, t[i].why)) {
      TEST_FAIL_AT("%s: rc %d, why \"%s\", want \"%s\"", t[i].in, rc, why.msg, t[i].why);
    }
  }
}

RUN_TESTS(cn_id_table, cn_id_check_character, uscc_table, uscc_parts, org_code_table)
