/* The JSON writer: value trees and records to JSON text.
 *
 * SL_T_JSON spans are already validated JSON and go out as they came in,
 * which is what makes an untouched field cost nothing.  The output never
 * holds a newline, so a record always fits on one JSON Lines line. */
#include <string.h>

#include "codec/codec_int.h"

void sl__put_one_line(sl_buf *b, const char *p, size_t n) {
  if (n == 0) return;
  if (!memchr(p, '\n', n) && !memchr(p, '\r', n)) {
    sl_buf_append(b, p, n);
    return;
  }
  if (sl_buf_reserve(b, n)) return;
  char *d = b->ptr + b->len;
  for (size_t i = 0; i < n; i++) d[i] = p[i] == '\n' || p[i] == '\r' ? ' ' : p[i];
  b->len += n;
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
        if (i) sl_buf_putc(b, ',');
        const sl_member *m = &v->u.members[i];
        sl_buf_json_string(b, m->name.ptr, m->name.len);
        sl_buf_putc(b, ':');
        sl_json_encode_value(b, &m->value);
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
  sl_buf_putc(b, '{');
  for (uint32_t i = 0; i < rec->nfields; i++) {
    const sl_member *m = &rec->fields[i];
    if (i) sl_buf_putc(b, ',');
    sl_buf_json_string(b, m->name.ptr, m->name.len);
    sl_buf_putc(b, ':');
    sl_json_encode_value(b, &m->value);
  }
  sl_buf_putc(b, '}');
}
