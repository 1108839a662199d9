/* Text helpers the runtime and plugins share: UTF-8 validity, and the edit
 * distance behind "did you mean ...?" in error messages.
 *
 * UTF-8 validity follows Unicode table 3-7: no stray continuation bytes, no
 * overlong forms, no UTF-16 surrogates (U+D800..DFFF) and nothing above
 * U+10FFFF.  The checks are inline because the JSON and CSV scanners call
 * them from their inner loops. */
#ifndef SLUICE_TEXT_H
#define SLUICE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The length (2..4) of the valid multi-byte sequence that starts p[0..n),
 * or 0 when p[0] does not start one (including a sequence cut short by n).
 * p[0] must be >= 0x80. */
static inline size_t sl_utf8_seq(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0xC2) return 0;   /* a continuation byte, or an overlong 2-byte lead */
  if (c < 0xE0) return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    /* E0 would allow overlongs below A0; ED would reach the surrogates from A0. */
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (n < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
    return 3;
  }
  if (c < 0xF5) {
    /* F0 would allow overlongs below 90; F4 would pass U+10FFFF from 90. */
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (n < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
        (p[3] & 0xC0) != 0x80)
      return 0;
    return 4;
  }
  return 0;
}

/* The offset of the first byte of p[0..n) that is not part of valid UTF-8,
 * or n when all of it is valid. */
static inline size_t sl_utf8_check(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    /* Most text is ASCII: test eight bytes at a time for a high bit. */
    while (n - i >= 8) {
      uint64_t x;
      memcpy(&x, p + i, 8);
      if (x & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = sl_utf8_seq(p + i, n - i);
    if (!k) return i;
    i += k;
  }
  return n;
}

/* Levenshtein distance of two short strings, for suggesting the nearest of
 * a few names; 99 when either is longer than 63 bytes (names are short: a
 * longer one is no typo of them). */
int sl_edit_distance(const char *a, const char *b);

#endif
