/* GET /tap: a stream of the records leaving one stage, as NDJSON lines
 * (`sluice tap`).  The engine's tap (engine/tap.c) samples them on the
 * workers into a bounded queue; this file drains that queue into the
 * connection, one piece at a time, whenever the piece before is written:
 * a client that reads slowly makes the queue fill and samples drop (the
 * stream says how many with a {"dropped":N} line), never the pipeline
 * wait.  The stream ends at the limit, when the client leaves or has not
 * taken a piece for STALL_MS, or when the pipeline stops (or drains for a
 * reload).
 *
 * Query: stage=NAME (default: the first sink), rate=R (a fraction in
 * (0, 1], "0.01" or "1/100": one record in every round(1/R); default 1),
 * fields=a,b (keep those fields only), where=FIELD=VALUE (only records
 * whose field holds that value; the rate then counts those), limit=N (end
 * after N lines). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_routes.h"
#include "engine/tap.h"

/* A client that has not taken a piece for this long is cut off: a tap it
 * holds is one of the few there may be. */
#define STALL_MS 30000

typedef struct tap_conn {
  sl_tap *tap;
  sl_http_later *l;
  sl_buf out;
  uv_loop_t *loop;
  uint64_t sent_at;           /* when the piece being written was sent (uv_now) */
} tap_conn;

static void tap_conn_free(tap_conn *tc) {
  sl__tap_detach(tc->tap);
  sl_buf_free(&tc->out);
  free(tc);
}

/* Sends what the tap holds, unless a piece is still being written (for
 * more than STALL_MS: the stream is cut). */
static void pump(void *arg) {
  tap_conn *tc = arg;
  if (sl_http_stream_busy(tc->l)) {
    if (uv_now(tc->loop) - tc->sent_at <= STALL_MS) return;
    sl_http_stream_end(tc->l, NULL, 0);
    tap_conn_free(tc);
    return;
  }
  tc->out.len = 0;
  int complete = sl__tap_take(tc->tap, &tc->out);
  if (complete) {
    sl_http_stream_end(tc->l, tc->out.ptr, tc->out.len);
    tap_conn_free(tc);
    return;
  }
  if (tc->out.len && sl_http_stream_send(tc->l, tc->out.ptr, tc->out.len) == 0)
    tc->sent_at = uv_now(tc->loop);
}

/* The pipeline stops: what is left goes out with the stream's end. */
static void on_stopping(void *arg) {
  tap_conn *tc = arg;
  tc->out.len = 0;
  sl__tap_take(tc->tap, &tc->out);
  sl_http_stream_end(tc->l, tc->out.ptr, tc->out.len);
  tap_conn_free(tc);
}

static void on_gone(void *arg) { tap_conn_free(arg); }

/* ---- the query ---- */

static int hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes p[0..n) (%XX, '+' for a space) into out, NUL-terminated.
 * 0, or -1 for a bad escape or a NUL. */
static int url_decode(const char *p, size_t n, sl_buf *out) {
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)p[i];
    if (c == '+') c = ' ';
    else if (c == '%') {
      if (i + 2 >= n) return -1;
      int h = hex(p[i + 1]), l = hex(p[i + 2]);
      if (h < 0 || l < 0) return -1;
      c = h * 16 + l;
      i += 2;
    }
    if (!c) return -1;
    sl_buf_putc(out, (char)c);
  }
  sl_buf_putc(out, 0);
  return out->oom ? -1 : 0;
}

typedef struct tap_query {
  sl_buf stage, rate, fields, where, limit;   /* decoded, NUL-terminated; ptr NULL if absent */
} tap_query;

static void query_free(tap_query *q) {
  sl_buf_free(&q->stage);
  sl_buf_free(&q->rate);
  sl_buf_free(&q->fields);
  sl_buf_free(&q->where);
  sl_buf_free(&q->limit);
}

/* Splits the query string into q.  NULL, or what is wrong. */
static const char *query_parse(const char *s, tap_query *q) {
  while (s && *s) {
    const char *end = strchr(s, '&');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : s + n;
    size_t vn = (size_t)(s + n - v);
    sl_buf *to = kn == 5 && !memcmp(s, "stage", 5)    ? &q->stage
               : kn == 4 && !memcmp(s, "rate", 4)     ? &q->rate
               : kn == 6 && !memcmp(s, "fields", 6)   ? &q->fields
               : kn == 5 && !memcmp(s, "where", 5)    ? &q->where
               : kn == 5 && !memcmp(s, "limit", 5)    ? &q->limit
                                                      : NULL;
    if (!to && kn) return "unknown parameter: the tap takes stage, rate, fields, where and limit";
    if (to && (to->ptr || url_decode(v, vn, to))) return "a parameter is repeated or badly escaped";
    s = end ? end + 1 : NULL;
  }
  return NULL;
}

/* "0.01" or "1/100" → keep one record in every *every.  NULL, or why not. */
static const char *parse_rate(const char *s, uint64_t *every) {
  char *end;
  double r;
  if (!strncmp(s, "1/", 2)) {
    double d = strtod(s + 2, &end);
    r = d > 0 ? 1.0 / d : -1;
  } else {
    r = strtod(s, &end);
  }
  if (*end || !(r > 0 && r <= 1)) return "rate must be a fraction in (0, 1]: 0.01 or 1/100";
  double n = floor(1.0 / r + 0.5);
  *every = n < 1 ? 1 : n > 1e15 ? (uint64_t)1e15 : (uint64_t)n;
  return NULL;
}

static const char *parse_limit(const char *s, uint64_t *limit) {
  char *end;
  unsigned long long n = strtoull(s, &end, 10);
  if (*end || !*s || *s == '-') return "limit must be a whole number of records (0: none)";
  *limit = n;
  return NULL;
}

/* Splits "a,b" into o->fields; they point into fields, which stays. */
static const char *parse_fields(char *fields, sl_tap_opts *o) {
  for (char *f = strtok(fields, ","); f; f = strtok(NULL, ",")) {
    if (o->nfields == SL_TAP_MAX_FIELDS) return "fields: at most 32 names";
    o->fields[o->nfields++] = f;
  }
  return NULL;
}

/* "FIELD=VALUE" into o's where (pointing into where, which stays). */
static const char *parse_where(char *where, sl_tap_opts *o) {
  char *eq = strchr(where, '=');
  if (!eq || eq == where) return "where must be FIELD=VALUE";
  *eq = 0;
  o->where_field = where;
  o->where_value = eq + 1;
  return NULL;
}

/* The stage named, among sources, steps and sinks; the first sink when no
 * name is given. */
static sl_stage *find_stage(sl_pipeline *p, const char *name) {
  if (!name) return p->nsinks ? p->sinks[0] : NULL;
  sl_stage **lists[3] = {p->sources, p->steps, p->sinks};
  int counts[3] = {p->nsources, p->nsteps, p->nsinks};
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < counts[l]; i++)
      if (!strcmp(lists[l][i]->name, name)) return lists[l][i];
  return NULL;
}

static void list_stages(sl_pipeline *p, sl_buf *b) {
  sl_stage **lists[3] = {p->sources, p->steps, p->sinks};
  int counts[3] = {p->nsources, p->nsteps, p->nsinks};
  const char *sep = "";
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < counts[l]; i++, sep = ", ") sl_buf_printf(b, "%s%s", sep, lists[l][i]->name);
  sl_buf_putc(b, '\n');
}

/* Reads the query into o and *st.  0, or an HTTP status with the reason in r. */
static int read_query(sl_pipeline *p, const char *query, tap_query *q, sl_tap_opts *o,
                      sl_stage **st, sl_http_resp *r) {
  const char *bad = query_parse(query, q);
  o->every = 1;
  if (!bad && q->rate.ptr) bad = parse_rate(q->rate.ptr, &o->every);
  if (!bad && q->limit.ptr) bad = parse_limit(q->limit.ptr, &o->limit);
  if (!bad && q->fields.ptr) bad = parse_fields(q->fields.ptr, o);
  if (!bad && q->where.ptr) bad = parse_where(q->where.ptr, o);
  if (bad) {
    sl_buf_printf(&r->body, "%s\n", bad);
    return 400;
  }
  *st = find_stage(p, q->stage.ptr);
  if (!*st) {
    sl_buf_puts(&r->body, "no such stage; the stages are: ");
    list_stages(p, &r->body);
    return 404;
  }
  return 0;
}

void sl__admin_tap(sl_pipeline *p, const sl_http_req *req, sl_http_resp *r) {
  if (strcmp(req->method, "GET") != 0) {
    r->status = 405;
    sl_buf_puts(&r->body, "tap with GET /tap\n");
    return;
  }
  tap_query q = {SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT, SL_BUF_INIT};
  sl_tap_opts o = {0};
  sl_stage *st = NULL;
  int status = read_query(p, req->query, &q, &o, &st, r);
  if (status) {
    r->status = status;
    query_free(&q);
    return;
  }
  if (p->run != SL_RUN_RUNNING) {
    r->status = 503;
    sl_buf_puts(&r->body, "the pipeline is not running\n");
    query_free(&q);
    return;
  }
  tap_conn *tc = calloc(1, sizeof *tc);
  int rc = tc ? sl__tap_attach(p, st, &o, pump, tc, &tc->tap) : SL_ENOMEM;
  query_free(&q);
  if (rc) {
    free(tc);
    r->status = 503;
    if (rc == SL_EAGAIN) r->headers = "Retry-After: 1\r\n";
    sl_buf_printf(&r->body, rc == SL_EAGAIN ? "at most %d taps at once\n" : "out of memory\n",
                  SL_TAP_MAX);
    return;
  }
  sl_http_later_cbs cbs = {.ready = pump, .gone = on_gone, .stopping = on_stopping};
  tc->l = sl_http_defer(req, 0, &cbs, tc);
  if (!tc->l) {
    sl__tap_detach(tc->tap);
    free(tc);
    r->status = 503;
    sl_buf_puts(&r->body, "out of memory\n");
    return;
  }
  tc->loop = p->loop;
  tc->sent_at = uv_now(p->loop);
  sl_http_stream_start(tc->l, "application/x-ndjson");
}
