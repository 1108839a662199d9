/* The prepared values of records in one growing buffer: per record, each
 * stored column and extra string as a 1- or 2-byte length then its bytes,
 * found through one 8-byte offset.  No pointer and no allocation per
 * record: what the 512-bytes-a-record budget leaves room for. */
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

#define MAX_VALUE 16383

void sl_match_store_init(sl_match_store *s, const sl_match_config *c) {
  memset(s, 0, sizeof *s);
  for (int i = 0; i < c->ncols; i++)
    if (c->stored[i]) s->stored_col[s->nstored++] = (uint8_t)i;
}

void sl_match_store_free(sl_match_store *s) {
  sl_buf_free(&s->bytes);
  free(s->off);
  memset(s, 0, sizeof *s);
}

static void put(sl_buf *b, sl_match_str v) {
  uint32_t n = v.n > MAX_VALUE ? MAX_VALUE : v.n;
  if (n > MAX_VALUE) n = MAX_VALUE;
  /* Do not cut a code point in two. */
  while (n < v.n && n && ((unsigned char)v.p[n] & 0xC0) == 0x80) n--;
  if (n < 128) sl_buf_putc(b, (char)n);
  else {
    sl_buf_putc(b, (char)(0x80 | (n >> 8)));
    sl_buf_putc(b, (char)(n & 0xFF));
  }
  sl_buf_append(b, v.p, n);
}

int64_t sl_match_store_add(sl_match_store *s, const sl_match_str *col, const sl_match_str *extra,
                           int nextra) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *o = realloc(s->off, cap * sizeof *o);
    if (!o) return SL_ENOMEM;
    s->off = o;
    s->cap = cap;
  }
  size_t at = s->bytes.len;
  for (int i = 0; i < s->nstored; i++) put(&s->bytes, col[s->stored_col[i]]);
  for (int i = 0; i < nextra; i++) put(&s->bytes, extra[i]);
  if (s->bytes.oom) return SL_ENOMEM;
  s->off[s->n] = at;
  return (int64_t)s->n++;
}

static const unsigned char *get(const unsigned char *p, sl_match_str *v) {
  uint32_t n = *p++;
  if (n & 0x80) n = (n & 0x7F) << 8 | *p++;
  *v = (sl_match_str){n ? (const char *)p : "", n};
  return p + n;
}

void sl_match_store_get(const sl_match_store *s, size_t i, int ncols, sl_match_str *col,
                        sl_match_str *extra, int nextra) {
  const unsigned char *p = (const unsigned char *)s->bytes.ptr + s->off[i];
  for (int c = 0; c < ncols; c++) col[c] = (sl_match_str){"", 0};
  for (int k = 0; k < s->nstored; k++) p = get(p, &col[s->stored_col[k]]);
  for (int k = 0; k < nextra; k++) p = get(p, &extra[k]);
}

void sl_match_store_fields(const sl_match_store *s, const sl_match_config *c, size_t i,
                           sl_match_str *v) {
  sl_match_str col[SL_MATCH_MAX_COLS];
  sl_match_store_get(s, i, c->ncols, col, NULL, 0);
  for (int f = 0; f < c->nfields; f++) v[f] = col[c->field_col[f]];
}
