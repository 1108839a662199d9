/* Company names compared on their core: the part that names the business,
 * without where it is registered or what legal form it has, so that
 * "珠海格力电器股份有限公司" and "格力电器有限公司" compare equal. */
#include <string.h>

#include "clean.h"
#include "match.h"

/* Legal forms and group words a name ends with, longest first, so that
 * 股份有限公司 is not taken for 有限公司 and left with 股份. */
static const char *const suffixes[] = {
  "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "股份公司", "集团公司",
  "总公司", "公司", "集团", "有限合伙", "控股", "co., ltd.", "co.,ltd.", "co. ltd",
  "limited", "ltd.", "ltd", "inc.", "inc", "corp.", "corp", " ",
};

static int ends_with(const char *s, size_t n, const char *suf, size_t *k) {
  size_t l = strlen(suf);
  if (l > n || memcmp(s + n - l, suf, l)) return 0;
  *k = l;
  return 1;
}

/* The length of a bracket group whose content is an administrative
 * division ("（珠海）", "(广东珠海)"), else 0: the group s ends with, or with
 * at_start the group s starts with. */
static size_t division_brackets(const char *s, size_t n, int at_start) {
  static const char *const open[] = {"（", "("}, *const close[] = {"）", ")"};
  for (int i = 0; i < 2; i++) {
    size_t cl = strlen(close[i]), ol = strlen(open[i]);
    size_t o = 0, c = 0;
    int found = 0;
    if (at_start) {
      if (n < ol || memcmp(s, open[i], ol)) continue;
      for (size_t j = ol; j + cl <= n && !found; j++)
        if (!memcmp(s + j, close[i], cl)) o = 0, c = j, found = 1;
    } else {
      if (n < cl + ol || memcmp(s + n - cl, close[i], cl)) continue;
      for (size_t j = n - cl; j-- > 0 && !found;)
        if (j + ol <= n - cl && !memcmp(s + j, open[i], ol)) o = j, c = n - cl, found = 1;
    }
    if (!found) return 0;
    const char *in = s + o + ol;
    size_t inn = c - o - ol;
    sl_address a;
    sl_clean_why why;
    if (inn && !sl_address_normalize(in, inn, &a, NULL, &why) && a.rest == inn) return c + cl - o;
    return 0;
  }
  return 0;
}

/* Whether the divisions at the start of a name end written in full, with
 * their level's suffix ("珠海市", "香洲区"): a short name is also the first
 * word of many brands (东方航空 is not 东方市's 航空, 海南航空 not 海南's), so
 * only a full one is taken off. */
static int full_division(const char *s, size_t rest) {
  static const char *const suffix[] = {"省", "市", "区", "县", "州", "盟", "旗"};
  for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
    size_t l = strlen(suffix[i]);
    if (rest >= l && !memcmp(s + rest - l, suffix[i], l)) return 1;
  }
  return 0;
}

void sl_match_company_core(const char *s, size_t n, sl_buf *out) {
  sl_address a;
  sl_clean_why why;
  if (!sl_address_normalize(s, n, &a, NULL, &why) && a.rest < n && full_division(s, a.rest))
    s += a.rest, n -= a.rest;
  for (;;) {
    size_t k = 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0] && !k; i++)
      if (!ends_with(s, n, suffixes[i], &k)) k = 0;
    if (!k) k = division_brackets(s, n, 0);
    if (!k || k >= n) break;
    n -= k;
  }
  /* A division in brackets inside the name says where a company of a
   * brand is registered (金海（珠海）科技): the core is the brand and the
   * business without it. */
  for (size_t j = 0; j < n; j++) {
    size_t k = division_brackets(s + j, n - j > 64 ? 64 : n - j, 1);
    if (k && k < n) {
      sl_buf_append(out, s, j);
      sl_buf_append(out, s + j + k, n - j - k);
      return;
    }
  }
  sl_buf_append(out, s, n);
}

/* Whether core x is core y behind a short division name: "珠海格力电器"
 * and "格力电器".  Only then is the short name a prefix, and not the start of
 * the brand (海南航空 is not 东方航空). */
static int prefixed(const sl_buf *x, const sl_buf *y) {
  sl_address a;
  sl_clean_why why;
  if (x->len <= y->len || sl_address_normalize(x->ptr, x->len, &a, NULL, &why)) return 0;
  return x->len - a.rest == y->len && !memcmp(x->ptr + a.rest, y->ptr, y->len);
}

double sl_match_company_jw(const char *a, size_t an, const char *b, size_t bn, sl_match_scratch *sc) {
  sc->a.len = sc->b.len = 0;
  sl_match_company_core(a, an, &sc->a);
  sl_match_company_core(b, bn, &sc->b);
  if (sc->a.len == sc->b.len && !memcmp(sc->a.ptr, sc->b.ptr, sc->a.len)) return 1.0;
  if (prefixed(&sc->a, &sc->b) || prefixed(&sc->b, &sc->a)) return 1.0;
  return sl_match_jaro_winkler(sc->a.ptr, sc->a.len, sc->b.ptr, sc->b.len);
}
