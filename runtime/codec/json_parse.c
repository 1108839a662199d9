/* The JSON reader: one strict RFC 8259 scanner behind three entry points.
 *
 * - sl__json_decode_object (the jsonl codec's decode, the hot path): one
 *   pass over a record that validates all of it but builds only the
 *   top-level members, each value left as an SL_T_JSON span of the input.
 * - sl_json_parse: a whole value tree, strings copied into the arena.
 * - sl_json_materialize: a tree for one SL_T_JSON span, strings pointing
 *   into the span where they have no escapes.
 *
 * Errors say what was expected and at which byte (counted from 0 at the
 * start of the text), so that a dead-letter reason leads straight to the
 * fault.  The scanner is iterative where it only validates (its nesting
 * stack is a byte array), and the tree builder recursive under the same
 * depth limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_int.h"
#include "sluice/errors.h"
#include "sluice/text.h"

/* Bytes inside a string literal: 0 ordinary, 1 '"', 2 '\\', 3 a control
 * character (must be escaped), 4 the lead of a multi-byte UTF-8 sequence. */
static const unsigned char str_class[256] = {
  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
  0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
  4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

typedef const unsigned char *cursor;

typedef struct jscan {
  cursor base;          /* start of the text: message positions count from here */
  cursor end;
  sl_arena *a;
  const char **why;
  int err;
  int copy;             /* the tree builder copies every string into the arena */
  /* The tree builder keeps the members of open containers here until the
   * container closes and gets an array of exactly the right size. */
  sl_member *stack;
  size_t nstack, capstack;
} jscan;

/* ---- errors ---- */

static void set_why(jscan *s, const char *msg, size_t n, const char *fallback) {
  char *m = sl_arena_strndup(s->a, msg, n);
  *s->why = m ? m : fallback;
}

static cursor fail(jscan *s, cursor at, int err, const char *what) {
  char msg[200];
  size_t pos = (size_t)(at - s->base);
  int n = err == SL_EUTF8
              ? snprintf(msg, sizeof msg, "invalid UTF-8 at byte %zu", pos)
              : snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", pos, what);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  set_why(s, msg, (size_t)n, err == SL_EUTF8 ? "invalid UTF-8" : "invalid JSON");
  s->err = err;
  return NULL;
}

/* Like fail, naming what was found instead: "expected ':' after object
 * key, got '='". */
static cursor fail_got(jscan *s, cursor at, const char *what) {
  char got[160];
  if (at >= s->end)
    snprintf(got, sizeof got, "%s, got the end of the text", what);
  else if (*at > 0x20 && *at < 0x7f)
    snprintf(got, sizeof got, "%s, got '%c'", what, *at);
  else
    snprintf(got, sizeof got, "%s, got byte 0x%02x", what, *at);
  return fail(s, at, SL_EPARSE, got);
}

/* ---- tokens ---- */

static inline cursor skip_ws(cursor p, cursor end) {
  /* Compact JSON has no whitespace: one test settles the common case. */
  while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static inline int is_digit(unsigned c) {
  return c - '0' < 10u;
}

static int hex4(cursor p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if (is_digit(c))
      d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
      d = (c | 0x20) - 'a' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

/* p is at a backslash inside a string; returns the byte after the escape. */
static cursor scan_escape(jscan *s, cursor p) {
  cursor end = s->end;
  if (end - p < 2) return fail(s, p, SL_EPARSE, "unterminated string");
  switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      return p + 2;
    case 'u':
      break;
    default:
      return fail(s, p, SL_EPARSE, "invalid escape in string");
  }
  unsigned hi, lo;
  if (end - p < 6 || hex4(p + 2, &hi))
    return fail(s, p, SL_EPARSE, "\\u escape needs four hex digits");
  if (hi < 0xD800 || hi > 0xDFFF) return p + 6;
  /* A surrogate is only half a character: a high one must be followed by a
   * low one, or the string cannot be turned into UTF-8. */
  if (hi >= 0xDC00)
    return fail(s, p, SL_EPARSE, "lone low surrogate in \\u escape");
  if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) ||
      lo < 0xDC00 || lo > 0xDFFF)
    return fail(s, p, SL_EPARSE, "high surrogate in \\u escape not followed by a low one");
  return p + 12;
}

#define STR_(x) #x
#define STR(x) STR_(x)
/* The limit in messages, from the one definition. */
#define TOO_DEEP "nesting deeper than " STR(SL_JSON_MAX_DEPTH) " levels"

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Eight bytes at p: flags (the high bit of a byte) every '"', '\\', byte
 * below 0x20 or byte above 0x7f.  A borrow can only flag bytes above a real
 * match, so the lowest flag is exact. */
static inline uint64_t special_bytes(cursor p) {
  uint64_t x;
  memcpy(&x, p, 8);
  uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
  return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((x - ONES * 0x20) & ~x) | x) & HIGHS;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SL_LITTLE_ENDIAN 1
#else
#define SL_LITTLE_ENDIAN 0
#endif

/* Skips the run of valid multi-byte UTF-8 characters at p (p[0] >= 0x80);
 * returns where it ends, which is p itself when p is not valid UTF-8.  A
 * leaf function, so that calling it is cheap: CJK text is such runs. */
static cursor utf8_run(cursor p, cursor end) {
  do {
    /* Most CJK characters are three bytes with a lead of E1..EC, where any
     * two continuation bytes are valid: test those first. */
    if (end - p >= 3 && p[0] - 0xE1u <= 0xECu - 0xE1u && (p[1] & 0xC0) == 0x80 &&
        (p[2] & 0xC0) == 0x80) {
      p += 3;
      continue;
    }
    size_t k = sl_utf8_seq(p, (size_t)(end - p));
    if (!k) break;
    p += k;
  } while (p < end && *p >= 0x80);
  return p;
}

/* The whole string scanner, from p inside the string opened at start:
 * escapes, UTF-8 and errors. */
static cursor scan_string_slow(jscan *s, cursor start, cursor p, int *esc) {
  cursor end = s->end;
  for (;;) {
    if (end - p >= 8) {
      uint64_t m = special_bytes(p);
      if (!m) {
        p += 8;
        continue;
      }
      if (SL_LITTLE_ENDIAN)
        p += __builtin_ctzll(m) >> 3;
      else
        while (str_class[*p] == 0) p++;
    } else {
      while (p < end && str_class[*p] == 0) p++;
      if (p >= end) return fail(s, start, SL_EPARSE, "unterminated string");
    }
    unsigned c = *p;
    if (c == '"') return p + 1;
    if (c == '\\') {
      *esc = 1;
      p = scan_escape(s, p);
      if (!p) return NULL;
    } else if (c < 0x20) {
      return fail(s, p, SL_EPARSE, "control character in string (it must be escaped)");
    } else {
      cursor q = utf8_run(p, end);
      if (q == p) return fail(s, p, SL_EUTF8, NULL);
      p = q;
    }
  }
}

/* p is at the opening quote; returns the byte after the closing one and
 * sets *esc when the literal holds a backslash.  Strings are most of a
 * record: plain text, ASCII or not, stays in this inline loop, and escapes,
 * errors and the last bytes of the text go to scan_string_slow. */
static inline cursor scan_string(jscan *s, cursor p, int *esc) {
  cursor start = p++, end = s->end;
  if (SL_LITTLE_ENDIAN) {
    while (end - p >= 8) {
      uint64_t m = special_bytes(p);
      if (!m) {
        p += 8;
        continue;
      }
      p += __builtin_ctzll(m) >> 3;
      if (*p == '"') return p + 1;
      if (*p < 0x80) break;
      cursor q = utf8_run(p, end);
      if (q == p) break;
      p = q;
    }
  }
  return scan_string_slow(s, start, p, esc);
}

/* p is at '-' or a digit. */
static cursor scan_number(jscan *s, cursor p) {
  cursor end = s->end;
  if (*p == '-') {
    p++;
    if (p == end || !is_digit(*p)) return fail(s, p, SL_EPARSE, "expected a digit after '-'");
  }
  if (*p == '0') {
    p++;
    if (p < end && is_digit(*p)) return fail(s, p - 1, SL_EPARSE, "number with a leading zero");
  } else {
    while (p < end && is_digit(*p)) p++;
  }
  if (p < end && *p == '.') {
    p++;
    if (p == end || !is_digit(*p)) return fail(s, p, SL_EPARSE, "expected a digit after '.'");
    while (p < end && is_digit(*p)) p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || !is_digit(*p))
      return fail(s, p, SL_EPARSE, "expected a digit in the exponent");
    while (p < end && is_digit(*p)) p++;
  }
  return p;
}

/* p is at 't', 'f' or 'n'. */
static cursor scan_literal(jscan *s, cursor p) {
  const char *lit = *p == 't' ? "true" : *p == 'f' ? "false" : "null";
  size_t n = *p == 'f' ? 5 : 4;
  if ((size_t)(s->end - p) < n || memcmp(p, lit, n) != 0)
    return fail(s, p, SL_EPARSE, "invalid literal (expected true, false or null)");
  return p + n;
}

/* Validates the value at p (no whitespace before it), which `level`
 * containers enclose; returns the byte after it.  Iterative: the open
 * containers are a byte stack, so validation costs no recursion. */
static cursor skip_value(jscan *s, cursor p, int level) {
  cursor end = s->end;
  unsigned char open[SL_JSON_MAX_DEPTH];
  int sp = 0, esc = 0;
  for (;;) {
    /* p is where a value must start. */
    if (p >= end) return fail_got(s, p, "expected a value");
    switch (*p) {
      case '"':
        p = scan_string(s, p, &esc);
        break;
      case '{':
      case '[':
        if (level + sp >= SL_JSON_MAX_DEPTH)
          return fail(s, p, SL_EPARSE, TOO_DEEP);
        open[sp++] = *p;
        p = skip_ws(p + 1, end);
        if (p < end && *p == open[sp - 1] + 2) {  /* '{'+2 is '}', '['+2 is ']' */
          p++;
          sp--;
          break;
        }
        if (open[sp - 1] == '{') goto key;
        continue;
      case '-': case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9':
        p = scan_number(s, p);
        break;
      case 't': case 'f': case 'n':
        p = scan_literal(s, p);
        break;
      default:
        return fail_got(s, p, "expected a value");
    }
    if (!p) return NULL;
    /* A value ended: close every container that ends here too. */
    for (;;) {
      if (sp == 0) return p;
      p = skip_ws(p, end);
      int obj = open[sp - 1] == '{';
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        break;
      }
      if (p < end && *p == open[sp - 1] + 2) {
        p++;
        sp--;
        continue;
      }
      return fail_got(s, p, obj ? "expected ',' or '}' after an object member"
                                : "expected ',' or ']' after an array element");
    }
    if (open[sp - 1] == '[') continue;
  key:
    if (p >= end || *p != '"') return fail_got(s, p, "expected a string (object key)");
    p = scan_string(s, p, &esc);
    if (!p) return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') return fail_got(s, p, "expected ':' after object key");
    p = skip_ws(p + 1, end);
  }
}

/* ---- strings ---- */

static size_t put_utf8(char *d, unsigned cp) {
  if (cp < 0x80) {
    d[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    d[0] = (char)(0xC0 | cp >> 6);
    d[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    d[0] = (char)(0xE0 | cp >> 12);
    d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  d[0] = (char)(0xF0 | cp >> 18);
  d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  d[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

size_t sl__json_unescape(char *dst, const char *src, size_t n) {
  char *d = dst;
  const char *p = src, *e = src + n;
  while (p < e) {
    const char *bs = memchr(p, '\\', (size_t)(e - p));
    if (!bs) {
      memcpy(d, p, (size_t)(e - p));
      d += e - p;
      break;
    }
    memcpy(d, p, (size_t)(bs - p));
    d += bs - p;
    p = bs + 2;
    switch (bs[1]) {
      case 'b': *d++ = '\b'; break;
      case 'f': *d++ = '\f'; break;
      case 'n': *d++ = '\n'; break;
      case 'r': *d++ = '\r'; break;
      case 't': *d++ = '\t'; break;
      case 'u': {
        unsigned cp = 0, lo = 0xDC00;  /* validated: hex4 cannot fail here */
        hex4((cursor)p, &cp);
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00) {
          hex4((cursor)p + 2, &lo);
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        d += put_utf8(d, cp);
        break;
      }
      default: *d++ = bs[1];  /* '"', '\\' or '/' */
    }
  }
  return (size_t)(d - dst);
}

/* The string whose literal content is p[0..n): a span of the text when it
 * needs no decoding and the caller did not ask for copies. */
static inline int make_string(jscan *s, cursor p, size_t n, int esc, sl_str *out) {
  if (!esc && !s->copy) {
    out->ptr = (const char *)p;
    out->len = n;
    return 0;
  }
  char *d = sl_arena_alloc(s->a, n + 1);
  if (!d) return SL_ENOMEM;
  size_t len = esc ? sl__json_unescape(d, (const char *)p, n) : (memcpy(d, p, n), n);
  d[len] = 0;
  out->ptr = d;
  out->len = len;
  return 0;
}

int sl__json_put_string_content(sl_buf *b, const sl_value *v) {
  if (v->type == SL_T_STRING) {
    sl_buf_append(b, v->u.s.ptr, v->u.s.len);
    return 0;
  }
  if (v->type != SL_T_JSON || v->u.s.len < 2 || v->u.s.ptr[0] != '"') return SL_ETYPE;
  const char *p = v->u.s.ptr + 1;
  size_t n = v->u.s.len - 2;
  if (v->flags & SL_VF_PLAIN_STRING) {
    sl_buf_append(b, p, n);
    return 0;
  }
  if (n == 0 || sl_buf_reserve(b, n)) return 0;
  b->len += sl__json_unescape(b->ptr + b->len, p, n);
  return 0;
}

/* ---- the jsonl decoder ---- */

#define SL_FIELDS_INITIAL 16

/* Why a record that is not an object was refused: the value's own error if
 * it is not valid JSON, else what kind of value it is. */
static int not_an_object(jscan *s, cursor p) {
  static const char *const kinds[] = {"an array", "a string", "a number", "true", "false", "null"};
  cursor q = skip_value(s, p, 0);
  if (!q) return s->err;
  q = skip_ws(q, s->end);
  if (q != s->end) {
    fail(s, q, SL_EPARSE, "unexpected data after the JSON value");
    return s->err;
  }
  int k = *p == '[' ? 0 : *p == '"' ? 1 : *p == 't' ? 3 : *p == 'f' ? 4 : *p == 'n' ? 5 : 2;
  char msg[64];
  int n = snprintf(msg, sizeof msg, "expected a JSON object, got %s", kinds[k]);
  set_why(s, msg, (size_t)n, "expected a JSON object");
  return SL_EPARSE;
}

int sl__json_decode_object(sl_record *rec, sl_arena *a, const char **why) {
  const char *dummy;
  if (rec->raw.len == 0) {
    *(why ? why : &dummy) = "empty record (no JSON object)";
    return SL_EPARSE;
  }
  jscan s = {
    .base = (cursor)rec->raw.ptr,
    .end = (cursor)rec->raw.ptr + rec->raw.len,
    .a = a,
    .why = why ? why : &dummy,
  };
  cursor end = s.end;
  cursor p = skip_ws(s.base, end);
  if (p == end) {
    *s.why = "empty record (no JSON object)";
    return SL_EPARSE;
  }
  if (end - p >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
    fail(&s, p, SL_EPARSE, "a byte order mark (U+FEFF) is not allowed before the object");
    return s.err;
  }
  if (*p != '{') return not_an_object(&s, p);

  sl_member *f = sl_arena_alloc(a, SL_FIELDS_INITIAL * sizeof *f);
  if (!f) goto oom;
  uint32_t n = 0, cap = SL_FIELDS_INITIAL;
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}') {
    p++;
  } else {
    for (;;) {
      if (p >= end || *p != '"') {
        fail_got(&s, p, "expected a string (object key)");
        return s.err;
      }
      int esc = 0;
      cursor k0 = p;
      p = scan_string(&s, p, &esc);
      if (!p) return s.err;
      if (n == cap) {
        f = sl_arena_grow(a, f, n * sizeof *f, 2 * (size_t)cap * sizeof *f);
        if (!f) goto oom;
        cap *= 2;
      }
      sl_member *m = &f[n];
      if (make_string(&s, k0 + 1, (size_t)(p - k0 - 2), esc, &m->name)) goto oom;
      p = skip_ws(p, end);
      if (p >= end || *p != ':') {
        fail_got(&s, p, "expected ':' after object key");
        return s.err;
      }
      p = skip_ws(p + 1, end);
      cursor v0 = p;
      m->value.flags = 0;
      /* Scalars directly; containers through the validator. */
      unsigned c = p < end ? *p : 0;
      if (c == '"') {
        esc = 0;
        p = scan_string(&s, p, &esc);
        if (!esc) m->value.flags = SL_VF_PLAIN_STRING;
      } else if (is_digit(c) || c == '-') {
        p = scan_number(&s, p);
      } else if (c == 't' || c == 'f' || c == 'n') {
        p = scan_literal(&s, p);
      } else {
        p = skip_value(&s, p, 1);
      }
      if (!p) return s.err;
      m->value.type = SL_T_JSON;
      m->value.n = 0;
      m->value.u.s.ptr = (const char *)v0;
      m->value.u.s.len = (size_t)(p - v0);
      n++;
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p < end && *p == '}') {
        p++;
        break;
      }
      fail_got(&s, p, "expected ',' or '}' after an object member");
      return s.err;
    }
  }
  p = skip_ws(p, end);
  if (p != end) {
    fail(&s, p, SL_EPARSE, "unexpected data after the object");
    return s.err;
  }
  rec->fields = f;
  rec->nfields = n;
  rec->capfields = cap;
  return 0;
oom:
  *s.why = "out of memory";
  return SL_ENOMEM;
}

/* ---- the tree builder ---- */

static int push_member(jscan *s, const sl_member *m) {
  if (s->nstack == s->capstack) {
    size_t cap = s->capstack ? s->capstack * 2 : 64;
    sl_member *st = realloc(s->stack, cap * sizeof *st);
    if (!st) return SL_ENOMEM;
    s->stack = st;
    s->capstack = cap;
  }
  s->stack[s->nstack++] = *m;
  return 0;
}

static cursor oom(jscan *s) {
  *s->why = "out of memory";
  s->err = SL_ENOMEM;
  return NULL;
}

static cursor number_value(jscan *s, cursor p, cursor q, sl_value *out) {
  size_t n = (size_t)(q - p);
  int neg = p[0] == '-', integral = 1;
  for (size_t k = (size_t)neg; k < n; k++)
    if (!is_digit(p[k])) integral = 0;
  /* "-0" is a double: as an integer it would lose its sign. */
  if (integral && !(neg && n == 2 && p[1] == '0')) {
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    size_t k = (size_t)neg;
    for (; k < n; k++) {
      unsigned d = p[k] - '0';
      if (v > (limit - d) / 10) break;
      v = v * 10 + d;
    }
    if (k == n) {
      out->type = SL_T_INT;
      out->u.i = !neg ? (int64_t)v : v == limit ? INT64_MIN : -(int64_t)v;
      return q;
    }
  }
  /* strtod wants a terminated string; it rounds correctly, so a double
   * written with enough digits reads back exactly. */
  char small[64], *tmp = small;
  if (n >= sizeof small && !(tmp = sl_arena_alloc(s->a, n + 1))) return oom(s);
  memcpy(tmp, p, n);
  tmp[n] = 0;
  out->type = SL_T_DOUBLE;
  out->u.d = strtod(tmp, NULL);
  return q;
}

static cursor parse_value(jscan *s, cursor p, sl_value *out, int depth);

/* p is at '{' or '['; depth is the container's own nesting level. */
static cursor parse_container(jscan *s, cursor p, sl_value *out, int depth) {
  cursor end = s->end;
  int obj = *p == '{';
  unsigned char close = (unsigned char)(*p + 2);
  if (depth > SL_JSON_MAX_DEPTH) return fail(s, p, SL_EPARSE, TOO_DEEP);
  size_t mark = s->nstack;
  p = skip_ws(p + 1, end);
  if (p < end && *p == close) {
    p++;
  } else {
    for (;;) {
      sl_member m = {{NULL, 0}, {0}};
      if (obj) {
        if (p >= end || *p != '"') return fail_got(s, p, "expected a string (object key)");
        int esc = 0;
        cursor k0 = p;
        p = scan_string(s, p, &esc);
        if (!p) return NULL;
        if (make_string(s, k0 + 1, (size_t)(p - k0 - 2), esc, &m.name)) return oom(s);
        p = skip_ws(p, end);
        if (p >= end || *p != ':') return fail_got(s, p, "expected ':' after object key");
        p = skip_ws(p + 1, end);
      }
      p = parse_value(s, p, &m.value, depth + 1);
      if (!p) return NULL;
      if (push_member(s, &m)) return oom(s);
      p = skip_ws(p, end);
      if (p < end && *p == ',') {
        p = skip_ws(p + 1, end);
        continue;
      }
      if (p < end && *p == close) {
        p++;
        break;
      }
      return fail_got(s, p, obj ? "expected ',' or '}' after an object member"
                                : "expected ',' or ']' after an array element");
    }
  }
  size_t n = s->nstack - mark;
  if (n > UINT32_MAX) return fail(s, p, SL_EPARSE, "too many elements in a container");
  out->type = obj ? SL_T_OBJECT : SL_T_ARRAY;
  out->flags = 0;
  out->n = (uint32_t)n;
  out->u.members = NULL;
  if (n && obj) {
    sl_member *m = sl_arena_alloc(s->a, n * sizeof *m);
    if (!m) return oom(s);
    memcpy(m, s->stack + mark, n * sizeof *m);
    out->u.members = m;
  } else if (n) {
    sl_value *v = sl_arena_alloc(s->a, n * sizeof *v);
    if (!v) return oom(s);
    for (size_t i = 0; i < n; i++) v[i] = s->stack[mark + i].value;
    out->u.items = v;
  }
  s->nstack = mark;
  return p;
}

static cursor parse_value(jscan *s, cursor p, sl_value *out, int depth) {
  cursor q;
  out->flags = 0;
  out->n = 0;
  if (p >= s->end) return fail_got(s, p, "expected a value");
  switch (*p) {
    case '"': {
      int esc = 0;
      q = scan_string(s, p, &esc);
      if (!q) return NULL;
      out->type = SL_T_STRING;
      if (make_string(s, p + 1, (size_t)(q - p - 2), esc, &out->u.s)) return oom(s);
      return q;
    }
    case '{':
    case '[':
      return parse_container(s, p, out, depth);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      q = scan_number(s, p);
      return q ? number_value(s, p, q, out) : NULL;
    case 't': case 'f': case 'n':
      q = scan_literal(s, p);
      if (!q) return NULL;
      if (*p == 'n') {
        out->type = SL_T_NULL;
      } else {
        out->type = SL_T_BOOL;
        out->u.b = *p == 't';
      }
      return q;
    default:
      return fail_got(s, p, "expected a value");
  }
}

static int parse_text(const char *text, size_t n, sl_arena *a, int copy, sl_value *out,
                      const char **why) {
  const char *dummy;
  /* An empty text may come as a null pointer: never do arithmetic on it. */
  if (n == 0) text = "";
  jscan s = {
    .base = (cursor)text,
    .end = (cursor)text + n,
    .a = a,
    .why = why ? why : &dummy,
    .copy = copy,
  };
  sl_value v;
  cursor p = parse_value(&s, skip_ws(s.base, s.end), &v, 1);
  if (p) {
    p = skip_ws(p, s.end);
    if (p != s.end) p = fail(&s, p, SL_EPARSE, "unexpected data after the JSON value");
  }
  free(s.stack);
  if (!p) return s.err;
  *out = v;
  return 0;
}

int sl_json_parse(const char *p, size_t n, sl_arena *a, sl_value *out, const char **why) {
  return parse_text(p, n, a, 1, out, why);
}

int sl_json_materialize(sl_value *v, sl_arena *a, const char **why) {
  if (v->type != SL_T_JSON) return 0;
  if ((v->flags & SL_VF_PLAIN_STRING) && v->u.s.len >= 2) {
    v->type = SL_T_STRING;
    v->flags = 0;
    v->u.s.ptr += 1;
    v->u.s.len -= 2;
    return 0;
  }
  /* The span lives as long as the record's raw bytes, and so will strings
   * that point into it. */
  return parse_text(v->u.s.ptr, v->u.s.len, a, 0, v, why);
}
