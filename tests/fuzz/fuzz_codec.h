/* What both codec fuzzers share: a JSON value comparison, and framing a
 * whole input two ways. */
#ifndef SLUICE_FUZZ_CODEC_H
#define SLUICE_FUZZ_CODEC_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/codec.h"
#include "sluice/errors.h"
#include "fuzz.h"

static inline int values_equal(const sl_value *a, const sl_value *b);

/* Numbers compare by value: 3.0 is written "3" and reads back as an int. */
static inline int numbers_equal(const sl_value *a, const sl_value *b) {
  if (a->type == SL_T_INT && b->type == SL_T_INT) return a->u.i == b->u.i;
  double x = a->type == SL_T_INT ? (double)a->u.i : a->u.d;
  double y = b->type == SL_T_INT ? (double)b->u.i : b->u.d;
  if (a->type == SL_T_INT && b->type == SL_T_DOUBLE) return (double)a->u.i == y;
  return x == y && signbit(x) == signbit(y);
}

static inline int values_equal(const sl_value *a, const sl_value *b) {
  int anum = a->type == SL_T_INT || a->type == SL_T_DOUBLE;
  int bnum = b->type == SL_T_INT || b->type == SL_T_DOUBLE;
  /* A number too large for a double is written as null: the one loss. */
  if (a->type == SL_T_DOUBLE && !isfinite(a->u.d))
    return b->type == SL_T_NULL || (b->type == SL_T_DOUBLE && b->u.d == a->u.d);
  if (anum && bnum) return numbers_equal(a, b);
  if (a->type != b->type) return 0;
  switch (a->type) {
    case SL_T_NULL: return 1;
    case SL_T_BOOL: return a->u.b == b->u.b;
    case SL_T_STRING:
      return a->u.s.len == b->u.s.len && !memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len);
    case SL_T_ARRAY:
      if (a->n != b->n) return 0;
      for (uint32_t i = 0; i < a->n; i++)
        if (!values_equal(&a->u.items[i], &b->u.items[i])) return 0;
      return 1;
    case SL_T_OBJECT:
      if (a->n != b->n) return 0;
      for (uint32_t i = 0; i < a->n; i++) {
        const sl_member *x = &a->u.members[i], *y = &b->u.members[i];
        if (x->name.len != y->name.len || memcmp(x->name.ptr, y->name.ptr, x->name.len))
          return 0;
        if (!values_equal(&x->value, &y->value)) return 0;
      }
      return 1;
  }
  return 0;
}

/* Two JSON texts that must both parse and mean the same. */
static inline void check_same_json(sl_arena *a, const char *p, size_t n, const char *q, size_t m) {
  sl_value x, y;
  const char *why;
  CHECK(sl_json_parse(p, n, a, &x, &why) == 0);
  CHECK(sl_json_parse(q, m, a, &y, &why) == 0);
  CHECK(values_equal(&x, &y));
}

typedef struct framed {
  size_t off, len;      /* len 0: no record (skipped bytes) */
  int toobig;
} framed;

/* Frames all of data with at_eof set, checking the frame contract; returns
 * the number of entries written to out (at most cap). */
static inline size_t frame_whole(const sl_codec *c, void *ctx, const char *data, size_t n,
                          framed *out, size_t cap) {
  size_t pos = 0, k = 0;
  while (k < cap) {
    size_t len = 0, used = 0;
    int err = c->frame(ctx, data + pos, n - pos, 1, &len, &used);
    if (err == SL_EAGAIN) {
      CHECK(pos == n);
      break;
    }
    CHECK(err == SL_OK || err == SL_ETOOBIG);
    CHECK(used >= 1 && used <= n - pos);
    CHECK(err == SL_ETOOBIG || len <= used);
    out[k].off = pos;
    out[k].len = err == SL_OK ? len : 0;
    out[k].toobig = err == SL_ETOOBIG;
    k++;
    pos += used;
  }
  return k;
}

/* Frames data as a source would, reading it in uneven chunks, and checks
 * that it finds the same records and the same oversized ones. */
static inline void check_chunked(const sl_codec *c, const sl_codec_opts *o, const char *data, size_t n,
                          const framed *whole, size_t nwhole, uint32_t seed) {
  void *ctx = c->ctx_new(o);
  CHECK(ctx);
  size_t start = 0, avail = 0, k = 0;
  for (;;) {
    size_t len = 0, used = 0;
    int eof = avail == n;
    int err = c->frame(ctx, data + start, avail - start, eof, &len, &used);
    if (err == SL_EAGAIN) {
      if (eof) break;
      seed = seed * 1103515245u + 12345u;
      avail += 1 + (seed >> 16) % 17;
      if (avail > n) avail = n;
      continue;
    }
    CHECK(used >= 1 && used <= avail - start);
    if (err == SL_ETOOBIG || len > 0) {
      /* Skip the whole-buffer entries that were no record. */
      while (k < nwhole && !whole[k].toobig && whole[k].len == 0) k++;
      CHECK(k < nwhole);
      CHECK((err == SL_ETOOBIG) == whole[k].toobig);
      if (err == SL_OK) {
        CHECK(whole[k].off == start && whole[k].len == len);
      }
      k++;
    }
    start += used;
  }
  while (k < nwhole && !whole[k].toobig && whole[k].len == 0) k++;
  CHECK(k == nwhole);
  c->ctx_free(ctx);
}

#endif
