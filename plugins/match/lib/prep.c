/* Per-field normalisation before matching: each value is brought to the
 * form its comparisons and blocking keys need, with the cleansing library,
 * and split into the parts a user of Chinese data blocks and compares on
 * (a name's surname and pinyin, an ID's birth date and region, a credit
 * code's organisation code, an address's county).  The sl.match step runs
 * after sl.clean, so most values arrive clean; preparing them again is
 * idempotent and makes the step safe on raw feeds too. */
#include <stdio.h>
#include <string.h>

#include "clean.h"
#include "match.h"

static const struct {
  const char *name;
  sl_match_kind kind;
  const char *const parts[SL_MATCH_MAX_PARTS + 1];
} kinds[] = {
  {"text", SL_MK_TEXT, {"", NULL}},
  {"cn_name", SL_MK_CN_NAME, {"", "pinyin", "surname", "given", "surname_pinyin", NULL}},
  {"cn_id", SL_MK_CN_ID, {"", "valid", "birth", "region", "sex", NULL}},
  {"gender", SL_MK_GENDER, {"", NULL}},
  {"uscc", SL_MK_USCC, {"", "valid", "org", "body", "region", NULL}},
  {"date", SL_MK_DATE, {"", NULL}},
  {"phone", SL_MK_PHONE, {"", NULL}},
  {"address", SL_MK_ADDRESS, {"", "county", "city", NULL}},
  {"company", SL_MK_COMPANY, {"", "core", NULL}},
};

int sl_match_kind_parse(const char *name, sl_match_kind *out) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(kinds[i].name, name)) {
      *out = kinds[i].kind;
      return 0;
    }
  return SL_EINVAL;
}

int sl_match_kind_parts(sl_match_kind k, const char *const **names) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (kinds[i].kind == k) {
      int n = 0;
      while (kinds[i].parts[n]) n++;
      *names = kinds[i].parts;
      return n;
    }
  return 0;
}

void sl_match_prep_scratch_free(sl_match_prep_scratch *sc) {
  sl_text_scratch_free(&sc->text);
  sl_buf_free(&sc->t);
}

/* Cleans s into sc->t: the text passes, then every space dropped (Chinese
 * values carry none that mean anything: "王浩 然", "9115 2971 ..."). */
static void clean(unsigned flags, const char *s, size_t n, sl_match_prep_scratch *sc) {
  const char *o;
  size_t on;
  sl_clean_why why;
  sc->t.len = 0;
  /* Printable ASCII (IDs, dates, phones): every pass but case folding
   * leaves it as it is, and the spaces go anyway; OpenCC and utf8proc cost
   * more than the rest of the preparation. */
  size_t k = 0;
  while (k < n && s[k] >= 0x20 && s[k] < 0x7F) k++;
  if (k == n) {
    for (size_t i = 0; i < n; i++)
      if (s[i] != ' ')
        sl_buf_putc(&sc->t, (flags & SL_TEXT_CASEFOLD) && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i]);
    return;
  }
  if (sl_text_clean(flags | SL_TEXT_TRIM | SL_TEXT_NFKC | SL_TEXT_REPAIR, s, n, &sc->text, &o, &on,
                    NULL, &why) < 0) {
    o = s;
    on = n;
  }
  for (size_t i = 0; i < on; i++)
    if (o[i] != ' ') sl_buf_putc(&sc->t, o[i]);
}

/* Bytes of the first code point of s. */
static size_t first_cp(const char *s, size_t n) {
  size_t i = n ? 1 : 0;
  while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
  return i;
}

/* Two-character surnames: the first character alone would be another, common one. */
static const char *const compound_surnames[] = {
  "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐",
  "夏侯", "端木", "长孙", "宇文", "司徒", "西门", "独孤", "南宫", "闻人", "澹台",
};

static void prep_name(const char *s, size_t n, sl_buf *part) {
  sl_buf_append(&part[0], s, n);
  sl_pinyin_key(s, n, &part[1]);
  size_t k = first_cp(s, n);
  for (size_t i = 0; i < sizeof compound_surnames / sizeof compound_surnames[0]; i++) {
    size_t l = strlen(compound_surnames[i]);
    if (n > l && !memcmp(s, compound_surnames[i], l)) k = l;
  }
  if ((unsigned char)s[0] < 0x80) k = n;   /* a Latin name: no surname split */
  sl_buf_append(&part[2], s, k);
  sl_buf_append(&part[3], s + k, n - k);
  sl_pinyin_key(s, k, &part[4]);
}

static int all_digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* A resident ID: part 0 is the 17 digits before the check character (a
 * 15-digit number widened with "19"), so that a wrong check character
 * leaves it equal; "valid" only when GB 11643 validates an 18-character
 * one. */
static void prep_cn_id(const char *s, size_t n, sl_buf *part) {
  sl_cn_id id;
  sl_clean_why why;
  if (!sl_cn_id_parse(s, n, 0, &id, &why)) {
    sl_buf_append(&part[0], id.id, 17);
    /* A 15-digit ID has no check character: a mistyped digit still parses,
     * so it is compared, not trusted to decide. */
    if (!id.upgraded) sl_buf_append(&part[1], id.id, 18);
    sl_buf_puts(&part[2], id.birth);
    sl_buf_puts(&part[3], id.division);
    sl_buf_putc(&part[4], id.sex);
    return;
  }
  char body[18];
  /* 17 digits: the body without its check character, as this kind keeps
   * it, so that preparing a prepared value again gives the same parts (a
   * restore and a recomputed entity prepare the stored values again). */
  if ((n == 18 || n == 17) && all_digits(s, 17)) memcpy(body, s, 17);
  else if (n == 15 && all_digits(s, 15)) {
    memcpy(body, s, 6);
    memcpy(body + 6, "19", 2);
    memcpy(body + 8, s + 6, 9);
  } else {
    sl_buf_append(&part[0], s, n);
    return;
  }
  sl_buf_append(&part[0], body, 17);
  int y = (body[6] - '0') * 1000 + (body[7] - '0') * 100 + (body[8] - '0') * 10 + (body[9] - '0');
  int m = (body[10] - '0') * 10 + (body[11] - '0'), d = (body[12] - '0') * 10 + (body[13] - '0');
  if (y >= 1900 && m >= 1 && m <= 12 && d >= 1 && d <= 31) sl_buf_printf(&part[2], "%04d-%02d-%02d", y, m, d);
  sl_buf_append(&part[3], body, 6);
}

/* A credit code, or the 15-character taxpayer number it replaced (division
 * and organisation code): both carry the organisation code (GB 11714), which
 * names one organisation for life.  "valid": the credit code when GB 32100
 * validates it; "org": the organisation code when its own check character
 * holds, from either form; "body": the nine characters where the
 * organisation code sits, valid or not, for comparison. */
static void prep_uscc(const char *s, size_t n, sl_buf *part) {
  sl_uscc u;
  sl_clean_why why;
  sl_buf_append(&part[0], s, n);
  if (!sl_uscc_parse(s, n, &u, &why)) sl_buf_append(&part[1], u.code, 18);
  const char *org = n == 18 ? s + 8 : n == 15 ? s + 6 : NULL;
  if (!org) return;
  char code[10];
  if (!sl_org_code_parse(org, 9, code, &why)) sl_buf_puts(&part[2], code);
  sl_buf_append(&part[3], org, 9);
  sl_buf_append(&part[4], n == 18 ? s + 2 : s, 6);
}

static void prep_date(const char *s, size_t n, sl_buf *part) {
  sl_date d;
  sl_clean_why why;
  sl_date_opts o = {.output = SL_DATE_OUT_DATE};
  if (!sl_date_parse(s, n, &o, &d, &why)) sl_buf_printf(&part[0], "%04d-%02d-%02d", d.year, d.month, d.day);
  else sl_buf_append(&part[0], s, n);
}

/* Sex as GB/T 2261.1 codes it (1 male, 2 female) or as it is written
 * (男, 女, M, F, male, female), to M or F. */
static void prep_gender(const char *s, size_t n, sl_buf *part) {
  static const char *const male[] = {"1", "男", "m", "male"}, *const female[] = {"2", "女", "f", "female"};
  for (size_t i = 0; i < 4; i++) {
    if (strlen(male[i]) == n && !memcmp(s, male[i], n)) {
      sl_buf_putc(&part[0], 'M');
      return;
    }
    if (strlen(female[i]) == n && !memcmp(s, female[i], n)) {
      sl_buf_putc(&part[0], 'F');
      return;
    }
  }
  sl_buf_append(&part[0], s, n);
}

static void prep_phone(const char *s, size_t n, sl_buf *part) {
  sl_cn_phone p;
  sl_clean_why why;
  if (!sl_cn_phone_parse(s, n, NULL, &p, &why)) sl_buf_puts(&part[0], p.national);
  else
    for (size_t i = 0; i < n; i++)
      if (s[i] >= '0' && s[i] <= '9') sl_buf_putc(&part[0], s[i]);
}

static void prep_address(const char *s, size_t n, sl_buf *part) {
  sl_address a;
  sl_clean_why why;
  size_t at = part[0].len;
  if (sl_address_normalize(s, n, &a, &part[0], &why)) {
    part[0].len = at;
    sl_buf_append(&part[0], s, n);
    return;
  }
  if (a.county.level) sl_buf_puts(&part[1], a.county.code);
  if (a.city.level) sl_buf_puts(&part[2], a.city.code);
}

void sl_match_prep(sl_match_kind k, const char *s, size_t n, sl_buf *part, sl_match_prep_scratch *sc) {
  if (!n) return;
  unsigned flags = k == SL_MK_CN_ID || k == SL_MK_USCC || k == SL_MK_TEXT || k == SL_MK_COMPANY ||
                           k == SL_MK_GENDER
                       ? SL_TEXT_CASEFOLD
                       : 0;
  clean(flags | SL_TEXT_T2S, s, n, sc);
  const char *c = sc->t.ptr ? sc->t.ptr : "";
  size_t cn = sc->t.len;
  if (k == SL_MK_CN_ID || k == SL_MK_USCC)   /* case folding made them lower case */
    for (size_t i = 0; i < cn; i++)
      if (sc->t.ptr[i] >= 'a' && sc->t.ptr[i] <= 'z') sc->t.ptr[i] = (char)(sc->t.ptr[i] - 32);
  if (!cn) return;
  switch (k) {
    case SL_MK_TEXT: sl_buf_append(&part[0], c, cn); break;
    case SL_MK_CN_NAME: prep_name(c, cn, part); break;
    case SL_MK_CN_ID: prep_cn_id(c, cn, part); break;
    case SL_MK_USCC: prep_uscc(c, cn, part); break;
    case SL_MK_DATE: prep_date(c, cn, part); break;
    case SL_MK_GENDER: prep_gender(c, cn, part); break;
    case SL_MK_PHONE: prep_phone(c, cn, part); break;
    case SL_MK_ADDRESS: prep_address(c, cn, part); break;
    case SL_MK_COMPANY:
      sl_buf_append(&part[0], c, cn);
      sl_match_company_core(c, cn, &part[1]);
      break;
  }
}
