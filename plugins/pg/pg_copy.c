/* The pgcopy codec: a record as one row of COPY's text format, with the
 * sink's columns in order.  The workers run it, so the loop thread only
 * streams bytes.
 *
 * Values: a missing field and JSON null are \N; strings as they are;
 * numbers and booleans as their text (true/false, which boolean columns
 * take); objects as JSON text (json and jsonb columns); arrays as JSON text,
 * or as an array literal {...} when the column is a PostgreSQL array.
 * Backslash, tab, newline and carriage return are escaped as COPY wants. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

typedef struct copy_ctx {
  pg_copy_col *cols;
  int ncols;
  size_t *lens;
} copy_ctx;

void *pg_copy_ctx_new(pg_copy_col *cols, int ncols) {
  copy_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cols = cols;
  c->ncols = ncols;
  c->lens = calloc((size_t)ncols + 1, sizeof *c->lens);
  if (!c->lens) {
    free(c);
    return NULL;
  }
  for (int i = 0; i < ncols; i++) c->lens[i] = strlen(cols[i].name);
  return c;
}

static void copy_ctx_free(void *ctx) {
  copy_ctx *c = ctx;
  if (!c) return;
  for (int i = 0; i < c->ncols; i++) free(c->cols[i].name);
  free(c->cols);
  free(c->lens);
  free(c);
}

void pg_copy_escape(sl_buf *b, const char *p, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    char e;
    switch (p[i]) {
      case '\\': e = '\\'; break;
      case '\t': e = 't'; break;
      case '\n': e = 'n'; break;
      case '\r': e = 'r'; break;
      default: continue;
    }
    sl_buf_append(b, p + start, i - start);
    sl_buf_putc(b, '\\');
    sl_buf_putc(b, e);
    start = i + 1;
  }
  sl_buf_append(b, p + start, n - start);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static unsigned hex4(const char *p) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) v = v << 4 | (unsigned)hexval(p[i]);
  return v;
}

static void put_utf8(sl_buf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) {
    u[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    u[0] = (char)(0xC0 | cp >> 6);
    u[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | cp >> 12);
    u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | cp >> 18);
    u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  sl_buf_append(b, u, n);
}

/* Decodes a validated JSON string literal (quotes included) into b. */
static void json_unescape(sl_buf *b, const char *p, size_t n) {
  const char *end = p + n - 1;
  for (p++; p < end; p++) {
    if (*p != '\\') {
      const char *q = p;
      while (q < end && *q != '\\') q++;
      sl_buf_append(b, p, (size_t)(q - p));
      p = q - 1;
      continue;
    }
    p++;
    switch (*p) {
      case 'n': sl_buf_putc(b, '\n'); break;
      case 't': sl_buf_putc(b, '\t'); break;
      case 'r': sl_buf_putc(b, '\r'); break;
      case 'b': sl_buf_putc(b, '\b'); break;
      case 'f': sl_buf_putc(b, '\f'); break;
      case 'u': {
        unsigned cp = hex4(p + 1);
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && p + 6 < end && p[1] == '\\' && p[2] == 'u') {
          unsigned lo = hex4(p + 3);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        }
        put_utf8(b, cp);
        break;
      }
      default: sl_buf_putc(b, *p); break;   /* " \ / */
    }
  }
}

/* An element of an array literal: quoted, with " and \ escaped. */
static void put_array_string(sl_buf *b, const char *p, size_t n) {
  sl_buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '"' || p[i] == '\\') sl_buf_putc(b, '\\');
    sl_buf_putc(b, p[i]);
  }
  sl_buf_putc(b, '"');
}

static void put_array_literal(sl_buf *b, const sl_value *v) {
  sl_buf_putc(b, '{');
  for (uint32_t i = 0; i < v->n; i++) {
    const sl_value *e = &v->u.items[i];
    if (i) sl_buf_putc(b, ',');
    switch ((sl_type)e->type) {
      case SL_T_NULL: sl_buf_puts(b, "NULL"); break;
      case SL_T_BOOL: sl_buf_puts(b, e->u.b ? "t" : "f"); break;
      case SL_T_INT: sl_buf_int64(b, e->u.i); break;
      case SL_T_DOUBLE: sl_buf_json_double(b, e->u.d); break;
      case SL_T_STRING: put_array_string(b, e->u.s.ptr, e->u.s.len); break;
      case SL_T_ARRAY: put_array_literal(b, e); break;
      default: {
        sl_buf t = SL_BUF_INIT;
        sl_json_encode_value(&t, e);
        put_array_string(b, t.ptr ? t.ptr : "", t.len);
        sl_buf_free(&t);
      }
    }
  }
  sl_buf_putc(b, '}');
}

static void put_double(sl_buf *b, double d) {
  if (isnan(d)) sl_buf_puts(b, "NaN");
  else if (isinf(d)) sl_buf_puts(b, d > 0 ? "Infinity" : "-Infinity");
  else sl_buf_json_double(b, d);
}

static int put_value(sl_buf *out, const sl_value *v, const pg_copy_col *col, const char **why) {
  if (!v) {
    sl_buf_puts(out, "\\N");
    return 0;
  }
  sl_buf t = SL_BUF_INIT;
  switch ((sl_type)v->type) {
    case SL_T_NULL: sl_buf_puts(out, "\\N"); break;
    case SL_T_BOOL: sl_buf_puts(out, v->u.b ? "true" : "false"); break;
    case SL_T_INT: sl_buf_int64(out, v->u.i); break;
    case SL_T_DOUBLE: put_double(out, v->u.d); break;
    case SL_T_STRING: pg_copy_escape(out, v->u.s.ptr, v->u.s.len); break;
    case SL_T_ARRAY:
      if (col->is_array) put_array_literal(&t, v);
      else sl_json_encode_value(&t, v);
      pg_copy_escape(out, t.ptr ? t.ptr : "", t.len);
      break;
    case SL_T_OBJECT:
      sl_json_encode_value(&t, v);
      pg_copy_escape(out, t.ptr ? t.ptr : "", t.len);
      break;
    case SL_T_JSON: {
      const char *p = v->u.s.ptr;
      size_t n = v->u.s.len;
      if (!n) {
        sl_buf_puts(out, "\\N");
      } else if (p[0] == '"') {
        if (v->flags & SL_VF_PLAIN_STRING) {
          pg_copy_escape(out, p + 1, n - 2);
        } else {
          json_unescape(&t, p, n);
          pg_copy_escape(out, t.ptr ? t.ptr : "", t.len);
        }
      } else if (p[0] == 'n') {
        sl_buf_puts(out, "\\N");
      } else if (p[0] == '[' && col->is_array) {
        sl_arena a;
        sl_arena_init(&a);
        sl_value tree;
        if (sl_json_parse(p, n, &a, &tree, why) != 0) {
          sl_arena_free(&a);
          return SL_EPARSE;
        }
        put_array_literal(&t, &tree);
        sl_arena_free(&a);
        pg_copy_escape(out, t.ptr ? t.ptr : "", t.len);
      } else {
        /* Numbers, true/false, objects and arrays as their JSON text. */
        pg_copy_escape(out, p, n);
      }
      break;
    }
  }
  int oom = t.oom;
  sl_buf_free(&t);
  if (oom) {
    *why = "out of memory";
    return SL_ENOMEM;
  }
  return 0;
}

static int copy_encode(void *ctx, const sl_record *rec, sl_buf *out, const char **why) {
  copy_ctx *c = ctx;
  if (rec->state == SL_REC_FAILED) {
    *why = "a failed record goes to the dead-letter sink";
    return SL_EINVAL;
  }
  size_t mark = out->len;
  sl_record *r = (sl_record *)rec;   /* lookups do not change the record */
  for (int i = 0; i < c->ncols; i++) {
    if (i) sl_buf_putc(out, '\t');
    const sl_value *v = r->fields ? sl_record_get(r, c->cols[i].name, c->lens[i]) : NULL;
    int rc = put_value(out, v, &c->cols[i], why);
    if (rc) {
      out->len = mark;
      return rc;
    }
  }
  sl_buf_putc(out, '\n');
  if (out->oom) {
    out->len = mark;
    *why = "out of memory";
    return SL_ENOMEM;
  }
  return 0;
}

const sl_codec pg_copy_codec = {
    .name = "pgcopy",
    .ctx_new = NULL,
    .ctx_free = copy_ctx_free,
    .frame = NULL,
    .take_header = NULL,
    .decode = NULL,
    .encode = copy_encode,
    .write_header = NULL,
};

/* ---- pgcopy_routed: one codec for a sink writing several tables ----
 *
 * A record goes to the table whose route equals the value of its route
 * field: it is encoded as one byte, the table's index, then the row in
 * that table's columns.  A record no table takes is a dead letter
 * (others = "dlq") or encoded as nothing (others = "ignore"): pg.sink
 * skips empty rows. */

typedef struct routed_ctx {
  char *field;
  size_t field_len;
  int n;
  char **routes;
  copy_ctx **tables;
  int others_dlq;
} routed_ctx;

static void routed_ctx_free(void *ctx) {
  routed_ctx *r = ctx;
  if (!r) return;
  for (int i = 0; i < r->n; i++) {
    free(r->routes[i]);
    copy_ctx_free(r->tables[i]);
  }
  free(r->routes);
  free(r->tables);
  free(r->field);
  free(r);
}

void *pg_copy_routed_new(const char *field, char *const *routes, void *const *tables, int n,
                         int others_dlq) {
  routed_ctx *r = calloc(1, sizeof *r);
  if (!r) {
    for (int i = 0; i < n; i++) copy_ctx_free(tables[i]);
    return NULL;
  }
  r->field = strdup(field);
  r->field_len = strlen(field);
  r->routes = calloc((size_t)n, sizeof *r->routes);
  r->tables = calloc((size_t)n, sizeof *r->tables);
  r->others_dlq = others_dlq;
  int ok = r->field && r->routes && r->tables && n <= PG_COPY_MAX_TABLES;
  for (int i = 0; ok && i < n; i++) {
    r->routes[i] = strdup(routes[i]);
    if (!r->routes[i]) ok = 0;
  }
  if (!ok) {
    for (int i = 0; i < n; i++) copy_ctx_free(tables[i]);
    if (r->routes)
      for (int i = 0; i < n; i++) free(r->routes[i]);
    free(r->routes);
    free(r->tables);
    free(r->field);
    free(r);
    return NULL;
  }
  r->n = n;
  for (int i = 0; i < n; i++) r->tables[i] = tables[i];   /* owned from here */
  return r;
}

/* The table of rec: its index, or -1. */
static int route_of(const routed_ctx *r, sl_record *rec, sl_buf *tmp) {
  const sl_value *v = rec->fields ? sl_record_get(rec, r->field, r->field_len) : NULL;
  if (!v) return -1;
  const char *p = NULL;
  size_t n = 0;
  if (v->type == SL_T_STRING) {
    p = v->u.s.ptr;
    n = v->u.s.len;
  } else if (v->type == SL_T_JSON && v->u.s.len >= 2 && v->u.s.ptr[0] == '"') {
    if (v->flags & SL_VF_PLAIN_STRING) {
      p = v->u.s.ptr + 1;
      n = v->u.s.len - 2;
    } else {
      json_unescape(tmp, v->u.s.ptr, v->u.s.len);
      p = tmp->ptr ? tmp->ptr : "";
      n = tmp->len;
    }
  } else {
    return -1;
  }
  for (int i = 0; i < r->n; i++)
    if (strlen(r->routes[i]) == n && memcmp(r->routes[i], p, n) == 0) return i;
  return -1;
}

static int routed_encode(void *ctx, const sl_record *rec, sl_buf *out, const char **why) {
  routed_ctx *r = ctx;
  if (rec->state == SL_REC_FAILED) {
    *why = "a failed record goes to the dead-letter sink";
    return SL_EINVAL;
  }
  sl_buf tmp = SL_BUF_INIT;
  int t = route_of(r, (sl_record *)rec, &tmp);
  sl_buf_free(&tmp);
  if (t < 0) {
    if (!r->others_dlq) return 0;
    *why = "no table of the sink takes this record: its route field is missing or matches "
           "no table's route (others = \"dlq\")";
    return SL_EINVAL;
  }
  size_t mark = out->len;
  sl_buf_putc(out, (char)t);
  int rc = copy_encode(r->tables[t], rec, out, why);
  if (rc) out->len = mark;
  return rc;
}

const sl_codec pg_copy_routed_codec = {
    .name = "pgcopy_routed",
    .ctx_new = NULL,
    .ctx_free = routed_ctx_free,
    .frame = NULL,
    .take_header = NULL,
    .decode = NULL,
    .encode = routed_encode,
    .write_header = NULL,
};
