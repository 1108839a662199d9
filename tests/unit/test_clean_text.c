/* Text cleaning: whitespace, controls, UTF-8, NFKC, case folding, t2s.
 * Every output is cleaned again and must come back unchanged. */
#include "clean.h"
#include "test.h"

#define TRIM SL_TEXT_TRIM
#define NFKC SL_TEXT_NFKC
#define FOLD SL_TEXT_CASEFOLD
#define T2S SL_TEXT_T2S
#define REPAIR SL_TEXT_REPAIR

static const struct {
  unsigned flags;
  const char *in, *out;   /* out NULL: rejected */
  unsigned changed;       /* the passes that changed it */
} cases[] = {
    {TRIM, "张三", "张三", 0},
    {TRIM, "  Wang  Fang\t", "Wang Fang", TRIM},
    {TRIM, "\xE3\x80\x80张三\xE3\x80\x80", "张三", TRIM},                /* U+3000 */
    {TRIM, "张 三", "张三", TRIM},                                       /* no space between Han */
    {TRIM, "张\xE3\x80\x80\xE3\x80\x80三 丰", "张三丰", TRIM},
    {TRIM, "Li\xC2\xA0Na", "Li Na", TRIM},                               /* NBSP */
    {TRIM, "Li\xE2\x80\x83Na", "Li Na", TRIM},                           /* EM SPACE */
    {TRIM, "李\xE2\x80\x8B四", "李四", TRIM},                              /* ZWSP */
    {TRIM, "\xEF\xBB\xBF李四", "李四", TRIM},                              /* BOM */
    {TRIM, "a\x01" "b\x7F" "c", "abc", TRIM},                            /* controls */
    {TRIM, "a\nb\r\nc", "a b c", TRIM},
    {TRIM, "   ", "", TRIM},
    {TRIM, "", "", 0},
    {NFKC, "ＡＢＣ１２３", "ABC123", NFKC},                               /* full width */
    {NFKC, "１３８　１２３４", "138 1234", NFKC},
    {NFKC, "ｶﾀｶﾅ", "カタカナ", NFKC},                                      /* half-width katakana */
    {NFKC, "①②", "12", NFKC},
    {NFKC, "e\xCC\x81", "\xC3\xA9", NFKC},                               /* e + combining acute */
    {NFKC, "中华人民共和国", "中华人民共和国", 0},
    {FOLD, "Wang FANG", "wang fang", FOLD},
    {FOLD, "ＷＡＮＧ", "wang", NFKC | FOLD},
    {FOLD, "Straße", "strasse", FOLD},
    {T2S, "張三豐", "张三丰", T2S},
    {T2S, "臺灣省", "台湾省", T2S},
    {T2S, "张三丰", "张三丰", 0},
    {T2S, "Wang", "Wang", 0},
    {TRIM | NFKC | T2S, "\xE3\x80\x80張 三豐\xE2\x80\x8B ", "张三丰", TRIM | NFKC | T2S},
    {TRIM | NFKC | T2S, "　ＬＩ　Ｎａ　", "LI Na", TRIM | NFKC},
    /* Invalid UTF-8 and surrogates encoded as UTF-8: rejected, or repaired
     * with one U+FFFD per maximal subpart. */
    {TRIM, "a\xFF" "b", NULL, 0},
    {TRIM, "a\xED\xA0\x80z", NULL, 0},
    {REPAIR, "a\xFF" "b", "a\xEF\xBF\xBD" "b", REPAIR},
    {REPAIR, "a\xED\xA0\x80z", "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz", REPAIR},
    {REPAIR, "a\xF0\x9F\x98", "a\xEF\xBF\xBD", REPAIR},                   /* truncated 4-byte */
    {REPAIR, "\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD", REPAIR},             /* overlong */
    {REPAIR | TRIM, "\xF0\x9F\x98\x80 ok", "\xF0\x9F\x98\x80 ok", 0},     /* a real emoji stays */
};

TEST(text_table) {
  sl_text_scratch sc = {0};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *out;
    size_t len;
    unsigned ch = 0;
    sl_clean_why why = {{0}};
    int rc = sl_text_clean(cases[i].flags, cases[i].in, strlen(cases[i].in), &sc, &out, &len, &ch, &why);
    if (!cases[i].out) {
      if (rc != SL_EUTF8) TEST_FAIL_AT("case %zu: rc %d, want SL_EUTF8", i, rc);
      continue;
    }
    if (rc < 0) {
      TEST_FAIL_AT("case %zu (%s): rejected: %s", i, cases[i].in, why.msg);
      continue;
    }
    ASSERT_MEM_EQ(out, len, cases[i].out, strlen(cases[i].out));
    if (ch != cases[i].changed) TEST_FAIL_AT("case %zu: changed %#x, want %#x", i, ch, cases[i].changed);
    ASSERT_EQ(rc, ch != 0);
    /* Idempotent. */
    char copy[256];
    memcpy(copy, out, len);
    ASSERT_EQ(sl_text_clean(cases[i].flags, copy, len, &sc, &out, &len, &ch, &why), 0);
  }
  sl_text_scratch_free(&sc);
}

/* The pass order is fixed: a text clean in one call is a fixed point even
 * where the passes one by one would not be (NFKC can make spaces that only
 * a later trim removes). */
TEST(text_fixed_point) {
  const char *in[] = {"\xC2\xA8\x61\x62\x63" /* "¨abc" */, " \xE2\x80\x8B\xCC\x81x", "x\xE3\x80\x80\xCC\x81", "ﾟa",
                      "\xEF\xBC\xA1\xE2\x80\x8D\xCC\x88"};
  sl_text_scratch sc = {0};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
    const char *out;
    size_t len;
    sl_clean_why why;
    unsigned all = TRIM | NFKC | FOLD | T2S;
    ASSERT(sl_text_clean(all, in[i], strlen(in[i]), &sc, &out, &len, NULL, &why) >= 0);
    char copy[64];
    memcpy(copy, out, len);
    if (sl_text_clean(all, copy, len, &sc, &out, &len, NULL, &why) != 0)
      TEST_FAIL_AT("input %zu: cleaning twice changed \"%.*s\"", i, (int)len, out);
  }
  sl_text_scratch_free(&sc);
}

/* Long text makes the utf8proc buffer grow. */
TEST(text_long) {
  sl_text_scratch sc = {0};
  char in[3 * 2000 + 1];
  for (int i = 0; i < 2000; i++) memcpy(in + 3 * i, "\xEF\xBC\xA1", 3);   /* Ａ */
  const char *out;
  size_t len;
  sl_clean_why why;
  ASSERT_EQ(sl_text_clean(NFKC, in, sizeof in - 1, &sc, &out, &len, NULL, &why), 1);
  ASSERT_EQ(len, 2000);
  ASSERT_EQ(out[0], 'A');
  ASSERT_EQ(out[1999], 'A');
  sl_text_scratch_free(&sc);
}

RUN_TESTS(text_table, text_fixed_point, text_long)
