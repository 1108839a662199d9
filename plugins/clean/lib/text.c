/* Text: UTF-8 repair, control and zero-width characters, NFKC and case
 * folding (utf8proc), Traditional → Simplified (OpenCC), whitespace.
 *
 * Most values are already clean, so every pass first scans for something to
 * change and leaves the text alone (no copy) when there is nothing.  The
 * passes that cost something have fast paths for the common text of Chinese
 * records: ASCII and CJK ideographs are NFKC-stable, so utf8proc runs only
 * for other characters; OpenCC allocates on every conversion, so it runs
 * only for text holding a character that t2s changes (a bitmap built once
 * by converting every CJK code point). */
#include <opencc/opencc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clean.h"
#include "sluice/text.h"

void sl_text_scratch_free(sl_text_scratch *sc) {
  free(sc->cps);
  sc->cps = NULL;
  sc->cap = 0;
  sl_buf_free(&sc->a);
  sl_buf_free(&sc->b);
}

/* ---- character classes ---- */

/* Unicode White_Space. */
static int is_space(uint32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Controls (Cc other than whitespace) and the invisible format characters
 * that turn up in pasted text: zero-width space and joiners, word joiner,
 * byte order mark, soft hyphen, bidirectional controls, invisible
 * operators, the Mongolian vowel separator, interlinear annotation marks. */
static int is_junk(uint32_t c) {
  if (c < 0x80) return (c < 0x20 && !(c >= 0x09 && c <= 0x0D)) || c == 0x7F;
  if (c < 0xA0) return c != 0x85;
  return c == 0xAD || c == 0x180E || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0xFEFF ||
         (c >= 0xFFF9 && c <= 0xFFFB);
}

/* Characters that NFKC (and case folding) leave as they are, in the scripts
 * Chinese records are written in: ASCII, CJK Unified Ideographs and
 * extension A.  None composes with a neighbour, so a text made only of
 * them is already normalised. */
static int nfkc_stable(uint32_t c, int fold) {
  if (c < 0x80) return !(fold && c >= 'A' && c <= 'Z');
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF);
}

/* ---- passes: each returns 0 (unchanged), 1 (wrote dst) or a negative error ---- */

static int pass_utf8(const char *s, size_t n, int repair, sl_buf *dst, sl_clean_why *why) {
  size_t bad = sl_utf8_check(s, n);
  if (bad == n) return 0;
  if (!repair) return sl__why(why, SL_EUTF8, "invalid UTF-8 at byte %zu", bad);
  const unsigned char *p = (const unsigned char *)s;
  dst->len = 0;
  size_t i = 0;
  while (i < n) {
    size_t ok = sl_utf8_check(s + i, n - i);
    sl_buf_append(dst, s + i, ok);
    i += ok;
    if (i >= n) break;
    /* One U+FFFD per maximal subpart (Unicode 3.9, "substitution of
     * maximal subparts"): a lead byte and the continuation bytes that
     * could still have completed it. */
    unsigned c = p[i];
    size_t need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
    size_t k = 1;
    for (size_t j = 0; j < need && i + k < n; j++, k++) {
      unsigned lo = 0x80, hi = 0xBF, b = p[i + k];
      if (j == 0) {
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
      }
      if (b < lo || b > hi) break;
    }
    i += k;
    sl_buf_append(dst, "\xEF\xBF\xBD", 3);
  }
  return dst->oom ? SL_ENOMEM : 1;
}

static int pass_junk(const char *s, size_t n, sl_buf *dst) {
  size_t i = 0, first = n;
  while (i < n) {
    size_t at = i;
    if (is_junk(sl__utf8_next(s, n, &i))) {
      first = at;
      break;
    }
  }
  if (first == n) return 0;
  dst->len = 0;
  sl_buf_append(dst, s, first);
  i = first;
  while (i < n) {
    size_t at = i;
    if (!is_junk(sl__utf8_next(s, n, &i))) sl_buf_append(dst, s + at, i - at);
  }
  return dst->oom ? SL_ENOMEM : 1;
}

/* Han characters: a space between two of them is noise in Chinese text
 * ("张 三" is 张三), so the whitespace pass drops it. */
static int is_han(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF) ||
         (c >= 0x20000 && c <= 0x3134F) || c == 0x3007;
}

static int pass_space(const char *s, size_t n, sl_buf *dst) {
  /* Scan: is there leading or trailing whitespace, a run of two, a
   * whitespace character other than ' ', or a space between Han? */
  int need = 0, in_space = 1, prev_han = 0;
  size_t i = 0;
  while (i < n && !need) {
    uint32_t c = sl__utf8_next(s, n, &i);
    if (is_space(c)) {
      if (in_space || c != ' ') need = 1;
      in_space = 1;
    } else {
      int han = is_han(c);
      if (in_space && i > 1 && prev_han && han) need = 1;
      in_space = 0;
      prev_han = han;
    }
  }
  if (!need && !(n && in_space)) return 0;
  dst->len = 0;
  int pending = 0;
  prev_han = 0;
  i = 0;
  while (i < n) {
    size_t at = i;
    uint32_t c = sl__utf8_next(s, n, &i);
    if (is_space(c)) {
      pending = dst->len > 0;
      continue;
    }
    int han = is_han(c);
    if (pending && !(prev_han && han)) sl_buf_putc(dst, ' ');
    pending = 0;
    prev_han = han;
    sl_buf_append(dst, s + at, i - at);
  }
  if (dst->oom) return SL_ENOMEM;
  return 1;
}

/* One utf8proc run (NFKC, or NFKC_Casefold with fold) into dst. */
static int run_utf8proc(const char *s, size_t n, int fold, sl_text_scratch *sc, sl_buf *dst,
                        sl_clean_why *why) {
  utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  if (fold) opt |= UTF8PROC_CASEFOLD;
  for (;;) {
    utf8proc_ssize_t got = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                              (utf8proc_int32_t *)sc->cps,
                                              (utf8proc_ssize_t)sc->cap, opt);
    if (got < 0) return sl__why(why, SL_EUTF8, "cannot normalise: %s", utf8proc_errmsg(got));
    if ((size_t)got < sc->cap) {
      /* reencode writes the UTF-8 over the code points (4 bytes each) and a
       * NUL after them: the +1 above leaves room for it. */
      utf8proc_ssize_t len = utf8proc_reencode((utf8proc_int32_t *)sc->cps, got, opt);
      if (len < 0) return sl__why(why, SL_EUTF8, "cannot normalise: %s", utf8proc_errmsg(len));
      dst->len = 0;
      sl_buf_append(dst, sc->cps, (size_t)len);
      return dst->oom ? SL_ENOMEM : 1;
    }
    size_t cap = (size_t)got + 1 > 2 * sc->cap ? (size_t)got + 1 : 2 * sc->cap;
    int32_t *p = realloc(sc->cps, cap * sizeof *p);
    if (!p) return sl__why(why, SL_ENOMEM, "out of memory");
    sc->cps = p;
    sc->cap = cap;
  }
}

static int pass_nfkc(const char *s, size_t n, int fold, sl_text_scratch *sc, sl_buf *dst,
                     sl_clean_why *why) {
  size_t i = 0;
  int ascii_upper = 0, slow = 0;
  while (i < n && !slow) {
    uint32_t c = sl__utf8_next(s, n, &i);
    if (!nfkc_stable(c, fold)) {
      if (c < 0x80) ascii_upper = 1;
      else slow = 1;
    }
  }
  if (!slow && !ascii_upper) return 0;
  if (!slow) {
    /* Case folding of ASCII is lower-casing. */
    dst->len = 0;
    sl_buf_append(dst, s, n);
    if (dst->oom) return SL_ENOMEM;
    for (size_t k = 0; k < n; k++)
      if (dst->ptr[k] >= 'A' && dst->ptr[k] <= 'Z') dst->ptr[k] = (char)(dst->ptr[k] + 32);
    return 1;
  }
  int rc = run_utf8proc(s, n, fold, sc, dst, why);
  if (rc == 1 && dst->len == n && memcmp(dst->ptr, s, n) == 0) return 0;
  return rc;
}

/* ---- Traditional → Simplified ---- */

#define T2S_MAX 0x40000
static pthread_once_t t2s_once = PTHREAD_ONCE_INIT;
static opencc_t t2s_cc = (opencc_t)-1;
static uint8_t t2s_bits[T2S_MAX / 8];   /* code points that t2s changes on their own */
static int t2s_failed;       /* 1: OpenCC's data would not load; 2: out of memory */

static const uint32_t probe_ranges[][2] = {
    {0x2E80, 0x2FDF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF}, {0x20000, 0x2FFFF},
};

static void t2s_load(void) {
  t2s_cc = opencc_open("t2s.json");
  if (t2s_cc == (opencc_t)-1) {
    t2s_failed = 1;
    return;
  }
  /* Convert every code point of the CJK blocks once, one per line (a line
   * break stops phrase matching), and remember which ones change.  A
   * phrase of characters none of which changes alone is not caught; the
   * t2s phrase table holds such entries only to keep text as it is. */
  sl_buf in = SL_BUF_INIT;
  for (size_t r = 0; r < sizeof probe_ranges / sizeof probe_ranges[0]; r++)
    for (uint32_t c = probe_ranges[r][0]; c <= probe_ranges[r][1]; c++) {
      sl__utf8_put(&in, c);
      sl_buf_putc(&in, '\n');
    }
  char *out = in.oom ? NULL : opencc_convert_utf8(t2s_cc, in.ptr, in.len);
  if (!out) {
    t2s_failed = in.oom ? 2 : 1;
    sl_buf_free(&in);
    return;
  }
  size_t on = strlen(out), oi = 0;
  for (size_t r = 0; r < sizeof probe_ranges / sizeof probe_ranges[0]; r++)
    for (uint32_t c = probe_ranges[r][0]; c <= probe_ranges[r][1]; c++) {
      size_t start = oi;
      while (oi < on && out[oi] != '\n') oi++;
      /* The line must be the one code point c, else c changes. */
      size_t k = start;
      uint32_t got = start < oi ? sl__utf8_next(out, oi, &k) : 0;
      if (got != c || k != oi) t2s_bits[c >> 3] |= (uint8_t)(1u << (c & 7));
      if (oi < on) oi++;
    }
  opencc_convert_utf8_free(out);
  sl_buf_free(&in);
}

int sl_text_t2s_ready(sl_clean_why *why) {
  pthread_once(&t2s_once, t2s_load);
  if (t2s_failed == 2)
    return sl__why(why, SL_ENOMEM, "Traditional to Simplified conversion unavailable: out of memory "
                                   "loading it");
  if (t2s_failed)
    return sl__why(why, SL_EIO, "Traditional to Simplified conversion unavailable: cannot load "
                                "OpenCC's t2s.json (is the OpenCC data package installed?)");
  return 0;
}

static int pass_t2s(const char *s, size_t n, sl_buf *dst, sl_clean_why *why) {
  size_t i = 0;
  int any = 0;
  while (i < n && !any) {
    uint32_t c = sl__utf8_next(s, n, &i);
    any = c >= 0x2E80 && c < T2S_MAX && (t2s_bits[c >> 3] >> (c & 7) & 1);
  }
  if (!any) return 0;
  int rc = sl_text_t2s_ready(why);
  if (rc) return rc;
  char *out = opencc_convert_utf8(t2s_cc, s, n);
  if (!out) return sl__why(why, SL_ENOMEM, "Traditional to Simplified conversion failed");
  dst->len = 0;
  sl_buf_append(dst, out, strlen(out));
  opencc_convert_utf8_free(out);
  if (dst->oom) return SL_ENOMEM;
  return dst->len == n && memcmp(dst->ptr, s, n) == 0 ? 0 : 1;
}

/* ---- the whole ---- */

/* The passes that fail only when their buffer cannot grow say so in why. */
static int or_out_of_memory(int rc, sl_clean_why *why) {
  if (rc < 0 && why) snprintf(why->msg, sizeof why->msg, "out of memory");
  return rc;
}

int sl_text_clean(unsigned flags, const char *s, size_t n, sl_text_scratch *sc, const char **out,
                  size_t *out_len, unsigned *changed, sl_clean_why *why) {
  const char *cur = s;
  size_t len = n;
  unsigned ch = 0;
  sl_buf *next = &sc->a;
  int rc;
  /* Runs one pass; on a change, its output becomes the input of the next. */
#define PASS(flag, call)                                  \
  do {                                                    \
    rc = (call);                                          \
    if (rc < 0) return rc;                                \
    if (rc == 1) {                                        \
      cur = next->ptr;                                    \
      len = next->len;                                    \
      next = next == &sc->a ? &sc->b : &sc->a;            \
      ch |= (flag);                                       \
    }                                                     \
  } while (0)

  if (flags & SL_TEXT_T2S) {
    /* Load before the first conversion, so that a missing data package is
     * reported even for text that needs no conversion. */
    rc = sl_text_t2s_ready(why);
    if (rc) return rc;
  }
  PASS(SL_TEXT_REPAIR, pass_utf8(cur, len, (flags & SL_TEXT_REPAIR) != 0, next, why));
  if (flags & SL_TEXT_TRIM) PASS(SL_TEXT_TRIM, or_out_of_memory(pass_junk(cur, len, next), why));
  if (flags & (SL_TEXT_NFKC | SL_TEXT_CASEFOLD)) PASS(SL_TEXT_NFKC, pass_nfkc(cur, len, 0, sc, next, why));
  if (flags & SL_TEXT_CASEFOLD) PASS(SL_TEXT_CASEFOLD, pass_nfkc(cur, len, 1, sc, next, why));
  if (flags & SL_TEXT_T2S) PASS(SL_TEXT_T2S, pass_t2s(cur, len, next, why));
  if (flags & SL_TEXT_TRIM) PASS(SL_TEXT_TRIM, or_out_of_memory(pass_space(cur, len, next), why));
#undef PASS
  *out = cur;
  *out_len = len;
  if (changed) *changed = ch;
  return ch ? 1 : 0;
}
