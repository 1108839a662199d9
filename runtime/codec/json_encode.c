/* The JSON writer: value trees and records to JSON text.
 *
 * SL_T_JSON spans are already validated JSON and go out as they came in,
 * which is what makes an untouched field cost nothing.  The output never
 * holds a newline, so a record always fits on one JSON Lines line. */
#include <stdint.h>
#include <string.h>

#include "codec/codec_int.h"

/* sl_buf_reserve with its common case, "there is room", kept inline. */
static inline int reserve(sl_buf *b, size_t n) {
  if (!b->oom && n <= b->cap - b->len) return 0;
  return sl_buf_reserve(b, n);
}

void sl__put_one_line(sl_buf *b, const char *p, size_t n) {
  if (n == 0 || reserve(b, n)) return;
  char *d = b->ptr + b->len;
  b->len += n;
  memcpy(d, p, n);
  /* Look eight bytes at a time for any byte below 0x0e (CR, LF and a few
   * others); only words that have one are fixed byte by byte. */
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    memcpy(&x, d + i, 8);
    if (((x - ones * 0x0e) & ~x & highs) == 0) continue;
    for (size_t k = i; k < i + 8; k++)
      if (d[k] == '\n' || d[k] == '\r') d[k] = ' ';
  }
  for (; i < n; i++)
    if (d[i] == '\n' || d[i] == '\r') d[i] = ' ';
}

/* A member name that needs no escaping (the usual case) is copied in one
 * go, its quotes and colon with it; others go through sl_buf_json_string. */
static void put_member_name(sl_buf *b, sl_str name, int comma) {
  const unsigned char *p = (const unsigned char *)name.ptr;
  size_t i = 0;
  while (i < name.len && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') i++;
  if (i < name.len) {
    if (comma) sl_buf_putc(b, ',');
    sl_buf_json_string(b, name.ptr, name.len);
    sl_buf_putc(b, ':');
    return;
  }
  if (reserve(b, name.len + 4)) return;
  char *d = b->ptr + b->len;
  if (comma) *d++ = ',';
  *d++ = '"';
  if (name.len) memcpy(d, name.ptr, name.len);
  d += name.len;
  *d++ = '"';
  *d++ = ':';
  b->len = (size_t)(d - b->ptr);
}

void sl_json_encode_value(sl_buf *b, const sl_value *v) {
  switch ((sl_type)v->type) {
    case SL_T_NULL:
      sl_buf_append(b, "null", 4);
      return;
    case SL_T_BOOL:
      if (v->u.b)
        sl_buf_append(b, "true", 4);
      else
        sl_buf_append(b, "false", 5);
      return;
    case SL_T_INT:
      sl_buf_int64(b, v->u.i);
      return;
    case SL_T_DOUBLE:
      sl_buf_json_double(b, v->u.d);
      return;
    case SL_T_STRING:
      sl_buf_json_string(b, v->u.s.ptr, v->u.s.len);
      return;
    case SL_T_ARRAY:
      sl_buf_putc(b, '[');
      for (uint32_t i = 0; i < v->n; i++) {
        if (i) sl_buf_putc(b, ',');
        sl_json_encode_value(b, &v->u.items[i]);
      }
      sl_buf_putc(b, ']');
      return;
    case SL_T_OBJECT:
      sl_buf_putc(b, '{');
      for (uint32_t i = 0; i < v->n; i++) {
        put_member_name(b, v->u.members[i].name, i > 0);
        sl_json_encode_value(b, &v->u.members[i].value);
      }
      sl_buf_putc(b, '}');
      return;
    case SL_T_JSON:
      /* An empty span is not JSON; null keeps the output valid. */
      if (v->u.s.len == 0)
        sl_buf_append(b, "null", 4);
      else
        sl__put_one_line(b, v->u.s.ptr, v->u.s.len);
      return;
  }
  sl_buf_append(b, "null", 4);
}

void sl_json_encode_record(sl_buf *b, const sl_record *rec) {
  /* Room for the usual record up front: names, spans and punctuation. */
  size_t need = 2;
  for (uint32_t i = 0; i < rec->nfields; i++)
    need += rec->fields[i].name.len + 4 +
            (rec->fields[i].value.type == SL_T_JSON ? rec->fields[i].value.u.s.len : 24);
  reserve(b, need);
  sl_buf_putc(b, '{');
  for (uint32_t i = 0; i < rec->nfields; i++) {
    put_member_name(b, rec->fields[i].name, i > 0);
    sl_json_encode_value(b, &rec->fields[i].value);
  }
  sl_buf_putc(b, '}');
}
