/* Mainland phone numbers to E.164 and display forms; both forms parse
 * back to themselves. */
#include "clean.h"
#include "test.h"

static const struct {
  const char *in, *area;
  const char *e164, *display_or_why;   /* e164 NULL: rejected */
} cases[] = {
    {"13812345678", NULL, "+8613812345678", "138 1234 5678"},
    {"138 1234 5678", NULL, "+8613812345678", "138 1234 5678"},
    {"138-1234-5678", NULL, "+8613812345678", "138 1234 5678"},
    {"+86 138 1234 5678", NULL, "+8613812345678", "138 1234 5678"},
    {"+86-13812345678", NULL, "+8613812345678", "138 1234 5678"},
    {"008613812345678", NULL, "+8613812345678", "138 1234 5678"},
    {"8613812345678", NULL, "+8613812345678", "138 1234 5678"},
    {"１３８１２３４５６７８", NULL, "+8613812345678", "138 1234 5678"},
    {"（+86）19912345678", NULL, "+8619912345678", "199 1234 5678"},
    {"0756-2123456", NULL, "+867562123456", "0756-2123456"},
    {"(0756) 212 3456", NULL, "+867562123456", "0756-2123456"},
    {"0756 21234567", NULL, "+8675621234567", "0756-21234567"},
    {"010-88888888", NULL, "+861088888888", "010-88888888"},
    {"021 6123 4567", NULL, "+862161234567", "021-61234567"},
    {"+86 10 8888 8888", NULL, "+861088888888", "010-88888888"},
    {"+86 (0)756 2123456", NULL, "+867562123456", "0756-2123456"},
    {"0086 10 88888888", NULL, "+861088888888", "010-88888888"},
    {"010-88888888转123", NULL, "+861088888888;ext=123", "010-88888888转123"},
    {"010-88888888 ext. 45", NULL, "+861088888888;ext=45", "010-88888888转45"},
    {"0756-2123456-8001", NULL, NULL, "area code 0756 takes a 7 or 8-digit number, not 11 digits"},
    {"400-810-8888", NULL, "+864008108888", "400-810-8888"},
    {"800 820 8820", NULL, "+868008208820", "800-820-8820"},
    {"2123456", "0756", "+867562123456", "0756-2123456"},
    {"2123456", NULL, NULL, "a landline number without an area code"},
    {"1381234567", NULL, NULL, "a mobile number has 11 digits, not 10"},
    {"12812345678", NULL, NULL, "no mobile number starts with 12"},
    {"010-8888888", NULL, NULL, "area code 010 takes a 8-digit number, not 7 digits"},
    {"0756-0123456", NULL, NULL, "a landline number does not start with 0"},
    {"+1 415 555 0100", NULL, NULL, "country code is not +86"},
    {"138abc", NULL, NULL, "unexpected character"},
    {"", NULL, NULL, "is empty"},
};

TEST(phone_table) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_cn_phone p;
    sl_clean_why why = {{0}};
    int rc = sl_cn_phone_parse(cases[i].in, strlen(cases[i].in), cases[i].area, &p, &why);
    if (!cases[i].e164) {
      if (rc == 0 || !strstr(why.msg, cases[i].display_or_why))
        TEST_FAIL_AT("%s: rc %d, why \"%s\", want \"%s\"", cases[i].in, rc, why.msg, cases[i].display_or_why);
      continue;
    }
    if (rc) {
      TEST_FAIL_AT("%s: rejected: %s", cases[i].in, why.msg);
      continue;
    }
    ASSERT_STR_EQ(p.e164, cases[i].e164);
    ASSERT_STR_EQ(p.display, cases[i].display_or_why);
    /* Both outputs read back the same. */
    sl_cn_phone q;
    ASSERT_EQ(sl_cn_phone_parse(p.e164, strlen(p.e164), NULL, &q, &why), 0);
    ASSERT_STR_EQ(q.e164, p.e164);
    ASSERT_EQ(sl_cn_phone_parse(p.display, strlen(p.display), NULL, &q, &why), 0);
    ASSERT_STR_EQ(q.display, p.display);
  }
}

TEST(phone_types) {
  sl_cn_phone p;
  sl_clean_why why;
  ASSERT_EQ(sl_cn_phone_parse("13812345678", 11, NULL, &p, &why), 0);
  ASSERT_EQ(p.type, SL_PHONE_MOBILE);
  ASSERT_STR_EQ(p.area, "");
  ASSERT_EQ(sl_cn_phone_parse("0756-2123456", 12, NULL, &p, &why), 0);
  ASSERT_EQ(p.type, SL_PHONE_LANDLINE);
  ASSERT_STR_EQ(p.area, "0756");
  ASSERT_STR_EQ(p.national, "07562123456");
  ASSERT_EQ(sl_cn_phone_parse("4008108888", 10, NULL, &p, &why), 0);
  ASSERT_EQ(p.type, SL_PHONE_SERVICE);
}

RUN_TESTS(phone_table, phone_types)
