/* PostgreSQL values in text format, as JSON.  pg.cdc gets every column as
 * text (pgoutput); its records should look like the rows pg.source and the
 * initial snapshot read with row_to_json, so numbers, booleans, json and
 * timestamps are written the way row_to_json writes them. */
#include <string.h>

#include "pg.h"

/* Type OIDs (pg_type.dat): stable across versions. */
enum {
  OID_BOOL = 16,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_OID = 26,
  OID_JSON = 114,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_TIMESTAMP = 1114,
  OID_TIMESTAMPTZ = 1184,
  OID_NUMERIC = 1700,
  OID_JSONB = 3802
};

/* JSON's number grammar: NaN and Infinity are not numbers there. */
static int is_json_number(const char *p, size_t n) {
  size_t i = 0;
  if (i < n && p[i] == '-') i++;
  if (i >= n || p[i] < '0' || p[i] > '9') return 0;
  if (p[i] == '0') i++;
  else
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  if (i < n && p[i] == '.') {
    i++;
    if (i >= n || p[i] < '0' || p[i] > '9') return 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    if (i >= n || p[i] < '0' || p[i] > '9') return 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
  }
  return i == n;
}

/* "2026-01-02 03:04:05.5+08" (DateStyle ISO) → "2026-01-02T03:04:05.5+08:00". */
static void put_timestamp(sl_buf *out, const char *v, size_t n, int tz) {
  char t[80];
  if (n < 19 || n > 60 || v[10] != ' ' || memchr(v, 'B', n)) {   /* infinity, BC dates */
    sl_buf_json_string(out, v, n);
    return;
  }
  memcpy(t, v, n);
  t[10] = 'T';
  size_t len = n;
  if (tz) {
    /* The offset is the last "+hh", "+hh:mm" or "+hh:mm:ss" after the time. */
    size_t k = len;
    while (k > 19 && t[k - 1] != '+' && t[k - 1] != '-') k--;
    if (k > 19 && len - k == 2) {
      t[len++] = ':';
      t[len++] = '0';
      t[len++] = '0';
    }
  }
  sl_buf_json_string(out, t, len);
}

void pg_value_json(sl_buf *out, uint32_t oid, const char *v, size_t n) {
  switch (oid) {
    case OID_BOOL:
      sl_buf_puts(out, n && v[0] == 't' ? "true" : "false");
      return;
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
      if (is_json_number(v, n)) sl_buf_append(out, v, n);
      else sl_buf_json_string(out, v, n);
      return;
    case OID_JSON:
    case OID_JSONB:
      /* Valid JSON already (the server checked it); it may hold newlines,
       * which a JSON Lines record must not: they are only whitespace
       * outside strings, and inside strings JSON escapes them. */
      for (size_t i = 0; i < n; i++) sl_buf_putc(out, v[i] == '\n' || v[i] == '\r' ? ' ' : v[i]);
      return;
    case OID_TIMESTAMP:
      put_timestamp(out, v, n, 0);
      return;
    case OID_TIMESTAMPTZ:
      put_timestamp(out, v, n, 1);
      return;
    default:
      sl_buf_json_string(out, v, n);
  }
}
