/* The dead-letter envelope: one JSON line that says when, where and why a
 * record failed, with the record itself, so that it can be inspected and
 * replayed without the source at hand. */
#include <string.h>
#include <time.h>

#include "core/secrets.h"
#include "sluice/codec.h"
#include "sluice/text.h"

static void put_time(sl_buf *b, int64_t now_ms) {
  /* Floor division: times before 1970 still get milliseconds in 0..999. */
  int64_t secs = now_ms / 1000, ms = now_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs--;
  }
  time_t t = (time_t)secs;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) {
    sl_buf_append(b, "null", 4);
    return;
  }
  sl_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

static void put_cstr(sl_buf *b, const char *s) {
  if (s)
    sl_buf_json_string(b, s, strlen(s));
  else
    sl_buf_append(b, "null", 4);
}

/* A reason as a JSON string with the secrets read through sl.env shown as
 * <from env NAME>: a step's error may quote one (a key, a password). */
static void put_redacted(sl_buf *b, const char *s) {
  if (!s) {
    put_cstr(b, s);
    return;
  }
  sl_buf shown = SL_BUF_INIT;
  sl__secret_redact(&shown, s, strlen(s));
  if (shown.oom) sl_buf_json_string(b, "(the reason, unprintable: out of memory)", 40);
  else sl_buf_json_string(b, shown.ptr ? shown.ptr : "", shown.len);
  sl_buf_free(&shown);
}

static void put_base64(sl_buf *b, const unsigned char *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  sl_buf_putc(b, '"');
  if (sl_buf_reserve(b, (n + 2) / 3 * 4 + 1)) return;
  char *d = b->ptr + b->len;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
    *d++ = tab[v >> 18];
    *d++ = tab[v >> 12 & 63];
    *d++ = tab[v >> 6 & 63];
    *d++ = tab[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
    *d++ = tab[v >> 18];
    *d++ = tab[v >> 12 & 63];
    *d++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
    *d++ = '=';
  }
  b->len = (size_t)(d - b->ptr);
  sl_buf_putc(b, '"');
}

/* Starts a member of an object whose members are all optional. */
static void put_name(sl_buf *b, int *first, const char *name, const char *suffix) {
  if (!*first) sl_buf_putc(b, ',');
  *first = 0;
  sl_buf_printf(b, "\"%s%s\":", name, suffix);
}

/* Bytes that are text go out as a JSON string under name, others as base64
 * under name_base64: escaping invalid UTF-8 would not read back as the same
 * bytes. */
static void put_bytes(sl_buf *b, int *first, const char *name, sl_str s) {
  if (sl_utf8_check(s.ptr, s.len) == s.len) {
    put_name(b, first, name, "");
    sl_buf_json_string(b, s.ptr, s.len);
  } else {
    put_name(b, first, name, "_base64");
    put_base64(b, (const unsigned char *)s.ptr, s.len);
  }
}

static void put_source(sl_buf *b, const sl_meta *m) {
  int first = 1;
  sl_buf_append(b, ",\"source\":{", 11);
  if (m->origin.ptr) {
    put_name(b, &first, "origin", "");
    sl_buf_json_string(b, m->origin.ptr, m->origin.len);
  }
  if (m->partition >= 0) {
    put_name(b, &first, "partition", "");
    sl_buf_int64(b, m->partition);
  }
  if (m->offset >= 0) {
    put_name(b, &first, "offset", "");
    sl_buf_int64(b, m->offset);
  }
  if (m->line > 0) {
    put_name(b, &first, "line", "");
    sl_buf_int64(b, m->line);
  }
  if (m->key.ptr) put_bytes(b, &first, "key", m->key);
  if (m->id.ptr) put_bytes(b, &first, "id", m->id);
  if (m->department.ptr) put_bytes(b, &first, "department", m->department);
  if (m->feed.ptr) put_bytes(b, &first, "feed", m->feed);
  sl_buf_putc(b, '}');
}

void sl_envelope_encode(sl_buf *b, const sl_record *rec, const char *pipeline,
                        int64_t now_ms) {
  sl_buf_append(b, "{\"time\":", 8);
  put_time(b, now_ms);
  sl_buf_append(b, ",\"pipeline\":", 12);
  put_cstr(b, pipeline);
  sl_buf_append(b, ",\"stage\":", 9);
  put_cstr(b, rec->error_stage);
  sl_buf_append(b, ",\"error\":", 9);
  put_redacted(b, rec->error);
  put_source(b, &rec->meta);
  /* Fields exist only for a record that decoded: one that failed decoding
   * has none, and its raw bytes say it all. */
  if (rec->fields) {
    sl_buf_append(b, ",\"record\":", 10);
    sl_json_encode_record(b, rec);
  }
  if (rec->raw.ptr) {
    int first = 0;
    put_bytes(b, &first, "raw", rec->raw);
  }
  sl_buf_append(b, "}\n", 2);
}
