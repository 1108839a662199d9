/* A growable byte buffer.  An append that cannot get memory sets b->oom and
 * every later append is a no-op, so a writer checks once at the end instead
 * of after every call. */
#include "sluice/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/errors.h"
#include "sluice/text.h"

void sl_buf_free(sl_buf *b) {
  free(b->ptr);
  b->ptr = NULL;
  b->len = 0;
  b->cap = 0;
  b->oom = 0;
}

int sl_buf_reserve(sl_buf *b, size_t n) {
  if (b->oom) return SL_ENOMEM;
  if (n <= b->cap - b->len) return 0;
  if (n > SIZE_MAX - b->len) goto oom;
  size_t need = b->len + n;
  /* Doubling keeps a run of appends linear in the bytes written. */
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  char *p = realloc(b->ptr, cap);
  if (!p) goto oom;
  b->ptr = p;
  b->cap = cap;
  return 0;
oom:
  b->oom = 1;
  return SL_ENOMEM;
}

/* The test every append makes, inline: the call to sl_buf_reserve is only
 * for growing. */
static inline int has_room(const sl_buf *b, size_t n) {
  return !b->oom && n <= b->cap - b->len;
}

void sl_buf_append(sl_buf *b, const void *p, size_t n) {
  if (n == 0 || (!has_room(b, n) && sl_buf_reserve(b, n))) return;
  memcpy(b->ptr + b->len, p, n);
  b->len += n;
}

void sl_buf_putc(sl_buf *b, char c) {
  if (!has_room(b, 1) && sl_buf_reserve(b, 1)) return;
  b->ptr[b->len++] = c;
}

void sl_buf_puts(sl_buf *b, const char *s) {
  sl_buf_append(b, s, strlen(s));
}

void sl_buf_printf(sl_buf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  size_t room = b->cap - b->len;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(room ? b->ptr + b->len : NULL, room, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    va_end(ap);
    return;
  }
  /* vsnprintf needs room for its NUL even though the NUL is not kept. */
  if ((size_t)n >= room) {
    if (sl_buf_reserve(b, (size_t)n + 1)) {
      va_end(ap);
      return;
    }
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
  }
  va_end(ap);
  b->len += (size_t)n;
}

static const char hexdigits[] = "0123456789abcdef";

void sl_buf_json_string(sl_buf *b, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  if (n == 0) {
    sl_buf_append(b, "\"\"", 2);
    return;
  }
  /* Most strings need no escape: reserve once for the common case. */
  if (sl_buf_reserve(b, n + 2)) return;
  b->ptr[b->len++] = '"';
  size_t i = 0, run = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c >= 0x80) {
      size_t k = sl_utf8_seq(p + i, n - i);
      if (k) {
        i += k;
        continue;
      }
    } else if (c >= 0x20 && c != '"' && c != '\\') {
      i++;
      continue;
    }
    sl_buf_append(b, p + run, i - run);
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t elen = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        /* Control characters, and each byte of invalid UTF-8, so that the
         * output is always valid UTF-8 JSON. */
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hexdigits[c >> 4];
        esc[5] = hexdigits[c & 15];
        elen = 6;
    }
    sl_buf_append(b, esc, elen);
    i++;
    run = i;
  }
  sl_buf_append(b, p + run, n - run);
  sl_buf_putc(b, '"');
}

/* Writes d as digits with at most 8 decimals when such a short decimal is
 * exactly what d holds, which is most doubles in data (prices, scores,
 * coordinates); returns the length, or 0 to leave d to printf.  The test
 * is exact: m and 10^k are exact doubles, so m / 10^k rounds the decimal
 * m.10^-k just as strtod will.  The range keeps the output identical to
 * printf's %.15g, which turns to exponents below 1e-4 and from 1e15. */
static int short_decimal(char *out, double d) {
  static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
  double a = fabs(d);
  if (!(a >= 1e-4 && a < 1e15)) return 0;
  for (int k = 0; k <= 8; k++) {
    double sc = a * p10[k];
    /* At most 15 digits: any such decimal survives a trip through a
     * double (DBL_DIG), so it is the one %.15g would print. */
    if (sc >= 1e15) return 0;
    uint64_t m = (uint64_t)(sc + 0.5);
    if ((double)m / p10[k] != a) continue;
    char tmp[32], *e = tmp + sizeof tmp, *p = e;
    int digits = 0;
    do {
      *--p = (char)('0' + m % 10);
      m /= 10;
      if (++digits == k) *--p = '.';
    } while (m || digits <= k);
    if (*p == '.') *--p = '0';
    if (d < 0) *--p = '-';
    int n = (int)(e - p);
    memcpy(out, p, (size_t)n);
    return n;
  }
  return 0;
}

void sl_buf_json_double(sl_buf *b, double d) {
  if (!isfinite(d)) {
    sl_buf_append(b, "null", 4);
    return;
  }
  char fast[32];
  int fn = short_decimal(fast, d);
  if (fn) {
    sl_buf_append(b, fast, (size_t)fn);
    return;
  }
  /* The shortest of 15, 16 or 17 significant digits that reads back as the
   * same double; 17 always does. */
  char tmp[40];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (prec == 17 || strtod(tmp, NULL) == d) break;
  }
  sl_buf_append(b, tmp, (size_t)n);
}

void sl_buf_int64(sl_buf *b, int64_t v) {
  char tmp[24];
  char *e = tmp + sizeof tmp, *p = e;
  /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  sl_buf_append(b, p, (size_t)(e - p));
}

const char *sl_buf_text(sl_buf *b) {
  if (!b->oom && b->len) {
    sl_buf_putc(b, 0);
    b->len -= !b->oom;
  }
  if (b->oom) return sl_strerror(SL_ENOMEM);
  return b->len ? b->ptr : "";
}

char *sl_buf_steal(sl_buf *b, size_t *len) {
  char *p = b->ptr;
  size_t n = b->len;
  /* Partial contents after a failed append are worse than none. */
  if (b->oom) {
    free(p);
    p = NULL;
    n = 0;
  }
  b->ptr = NULL;
  b->len = 0;
  b->cap = 0;
  b->oom = 0;
  if (len) *len = n;
  return p;
}
