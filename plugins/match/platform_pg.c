/* sl_match_platform_load, sl_match_platform_load_entities,
 * sl_match_platform_load_decisions and sl_match_platform_max_seq: a
 * domain's members (entities, decisions, the greatest row seq) read back from PostgreSQL with one COPY ... TO
 * STDOUT in text format, each row split and unescaped in
 * place in libpq's buffer and handed to the caller.  No row is copied: the
 * server's COPY and the network are the cost (bench/match_restore measures
 * it against psql's \copy of the same query). */
#include "platform_pg.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 8

/* One kind of rows read back: the table, its columns, and how a row
 * (nfields values) reaches the caller. */
typedef struct copy_spec {
  const char *table;
  const char *cols;
  const char *order;   /* an ORDER BY clause's terms, or NULL */
  const char *const *record;   /* dept, feed, src_id: read the members of this record's entity (members_of) instead */
  int nfields;
  int (*row)(void *ctx, const sl_match_str *v, long long row_no, char *err, size_t errlen);
  void *ctx;
} copy_spec;

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  /* One line: libpq's messages end with a newline and may hold several. */
  for (char *p = err; *p; p++)
    if (*p == '\n' || *p == '\r') {
      if (p[1] == 0) *p = 0;
      else *p = ' ';
    }
}

/* A libpq result's message, or what the connection says. */
static const char *pq_message(PGconn *c, const PGresult *r) {
  const char *m = r ? PQresultErrorMessage(r) : NULL;
  if (!m || !*m) m = PQerrorMessage(c);
  return m && *m ? m : "unknown error";
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

size_t sl_match_copy_unescape(char *p, size_t n) {
  char *bs = memchr(p, '\\', n);
  if (!bs) return n;
  size_t i = (size_t)(bs - p), o = i;
  while (i < n) {
    char ch = p[i++];
    if (ch != '\\' || i == n) {
      p[o++] = ch;
      continue;
    }
    char e = p[i++];
    switch (e) {
      case 'b': p[o++] = '\b'; break;
      case 'f': p[o++] = '\f'; break;
      case 'n': p[o++] = '\n'; break;
      case 'r': p[o++] = '\r'; break;
      case 't': p[o++] = '\t'; break;
      case 'v': p[o++] = '\v'; break;
      case 'x': {
        int v = 0, k = 0, h;
        while (k < 2 && i < n && (h = hexval(p[i])) >= 0) {
          v = v * 16 + h;
          i++;
          k++;
        }
        p[o++] = k ? (char)v : 'x';
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', k = 1;
          while (k < 3 && i < n && p[i] >= '0' && p[i] <= '7') {
            v = v * 8 + (p[i++] - '0');
            k++;
          }
          p[o++] = (char)v;
        } else {
          p[o++] = e;   /* \\ and any other escaped character: itself */
        }
    }
  }
  return o;
}

/* Splits one COPY text row (without its newline) into nfields values,
 * decoded in place.  SL_EPARSE if it has another number of fields. */
static int split_row(char *row, size_t n, sl_match_str *v, int nfields) {
  size_t start = 0;
  int f = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && row[i] != '\t') continue;
    if (f == nfields) return SL_EPARSE;
    char *p = row + start;
    size_t len = i - start;
    if (len == 2 && p[0] == '\\' && p[1] == 'N') {
      v[f] = (sl_match_str){NULL, 0};
    } else {
      len = sl_match_copy_unescape(p, len);
      v[f] = (sl_match_str){p, (uint32_t)len};
    }
    f++;
    start = i + 1;
  }
  return f == nfields ? 0 : SL_EPARSE;
}

static int valid_domain(const char *d) {
  if (!d || !*d || strlen(d) > 63) return 0;
  for (const char *c = d; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || *c == '_' || (c != d && *c >= '0' && *c <= '9'))) return 0;
  return 1;
}

/* Whether <domain>.<table> exists: to_regclass is NULL for a missing
 * schema or table, where COPY would fail with a less direct message. */
static int table_exists(PGconn *c, const char *domain, const char *table, char *err,
                        size_t errlen) {
  const char *v[2] = {domain, table};
  PGresult *r = PQexecParams(c, "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL",
                             2, NULL, v, NULL, NULL, 0);
  int rc;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    set_err(err, errlen, "restore of domain '%s': %s", domain, pq_message(c, r));
    rc = SL_EIO;
  } else if (PQgetvalue(r, 0, 0)[0] != 't') {
    set_err(err, errlen,
            "restore of domain '%s': the platform database has no table %s.%s (create the "
            "schema with platform.ddl(\"%s\"), or run the pipeline once with platform.sinks)",
            domain, domain, table, domain);
    rc = SL_ENOENT;
  } else {
    rc = 0;
  }
  PQclear(r);
  return rc;
}

/* Reads the COPY's rows; the connection is in COPY OUT. */
static int read_rows(PGconn *c, const char *domain, const copy_spec *spec, char *err,
                     size_t errlen) {
  int rc = 0;
  long long row_no = 0;
  for (;;) {
    char *buf = NULL;
    int n = PQgetCopyData(c, &buf, 0);
    if (n == -1) break;   /* the COPY is over: its result says how it went */
    if (n < 0) {
      set_err(err, errlen, "restore of domain '%s': reading %s: %s", domain, spec->table,
              PQerrorMessage(c));
      return SL_EIO;
    }
    row_no++;
    if (rc) {           /* stopped: drain the rest, so the connection ends cleanly */
      PQfreemem(buf);
      continue;
    }
    size_t len = (size_t)n;
    if (len && buf[len - 1] == '\n') len--;
    sl_match_str v[MAX_FIELDS];
    if (split_row(buf, len, v, spec->nfields)) {
      set_err(err, errlen, "restore of domain '%s': row %lld of %s is not %d fields", domain,
              row_no, spec->table, spec->nfields);
      rc = SL_EPARSE;
    } else {
      rc = spec->row(spec->ctx, v, row_no, err, errlen);
    }
    PQfreemem(buf);
  }
  PGresult *r;
  int failed = 0;
  while ((r = PQgetResult(c))) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && !failed) {
      failed = 1;
      if (!rc) set_err(err, errlen, "restore of domain '%s': %s", domain, pq_message(c, r));
    }
    PQclear(r);
  }
  if (!rc && failed) rc = SL_EIO;
  return rc;
}

/* Connects, checks the table, runs the COPY and reads it (see
 * platform_pg.h for what each return means). */
static int load(const char *conninfo, const char *domain, const copy_spec *spec, char *err,
                size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!valid_domain(domain)) {
    set_err(err, errlen, "restore: domain '%s' is not a lower-case SQL identifier",
            domain ? domain : "(null)");
    return SL_EINVAL;
  }
  /* application_name first: the user's connection string may override it. */
  const char *kw[] = {"application_name", "dbname", NULL};
  const char *val[] = {"sluice/match-restore", conninfo ? conninfo : "", NULL};
  PGconn *c = PQconnectdbParams(kw, val, 1);
  int rc = 0;
  PGresult *r = NULL;
  char *ident = NULL, *sql = NULL, *lit[3] = {NULL, NULL, NULL};
  if (!c) {
    set_err(err, errlen, "restore of domain '%s': out of memory connecting", domain);
    return SL_ENOMEM;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    set_err(err, errlen, "restore of domain '%s': cannot connect to the platform database: %s",
            domain, PQerrorMessage(c));
    rc = SL_EIO;
    goto done;
  }
  if (PQsetClientEncoding(c, "UTF8")) {
    set_err(err, errlen, "restore of domain '%s': cannot use UTF-8: %s", domain, PQerrorMessage(c));
    rc = SL_EIO;
    goto done;
  }
  rc = table_exists(c, domain, spec->table, err, errlen);
  if (rc) goto done;
  ident = PQescapeIdentifier(c, domain, strlen(domain));
  const char *order = spec->order ? spec->order : "";
  size_t cap = ident ? 2 * strlen(ident) + strlen(spec->cols) + strlen(spec->table) + strlen(order) + 64 : 0;
  for (int i = 0; spec->record && i < 3 && cap; i++) {
    lit[i] = PQescapeLiteral(c, spec->record[i], strlen(spec->record[i]));
    cap = lit[i] ? cap + strlen(lit[i]) + 128 : 0;
  }
  sql = cap ? malloc(cap) : NULL;
  if (!sql) {
    set_err(err, errlen, "restore of domain '%s': out of memory", domain);
    rc = SL_ENOMEM;
    goto done;
  }
  if (spec->record)
    snprintf(sql, cap,
             "COPY (SELECT %s FROM %s.members_of((SELECT m.entity_id FROM %s.members m WHERE m.dept = %s "
             "AND m.feed = %s AND m.src_id = %s))) TO STDOUT",
             spec->cols, ident, ident, lit[0], lit[1], lit[2]);
  else
    snprintf(sql, cap, "COPY (SELECT %s FROM %s.%s%s%s) TO STDOUT", spec->cols, ident, spec->table,
             *order ? " ORDER BY " : "", order);
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COPY_OUT) {
    set_err(err, errlen, "restore of domain '%s': %s", domain, pq_message(c, r));
    rc = SL_EIO;
    goto done;
  }
  PQclear(r);
  r = NULL;
  rc = read_rows(c, domain, spec, err, errlen);
done:
  PQclear(r);
  free(sql);
  for (int i = 0; i < 3; i++) PQfreemem(lit[i]);
  PQfreemem(ident);
  PQfinish(c);
  return rc;
}

typedef struct member_ctx {
  sl_match_member_fn fn;
  void *ud;
  const char *domain;
} member_ctx;

/* A bigint column's text (NULL: 0 if null_ok) into *out; 0, or -1 if it
 * is not one. */
static int parse_int64(sl_match_str v, int null_ok, int64_t *out) {
  char num[24];
  char *end = NULL;
  *out = 0;
  if (!v.p) return null_ok ? 0 : -1;
  if (v.n == 0 || v.n >= sizeof num) return -1;
  memcpy(num, v.p, v.n);
  num[v.n] = 0;
  errno = 0;
  long long x = strtoll(num, &end, 10);
  if (errno || !end || *end) return -1;
  *out = (int64_t)x;
  return 0;
}

static int member_row(void *ctx, const sl_match_str *v, long long row_no, char *err,
                      size_t errlen) {
  member_ctx *m = ctx;
  sl_match_member_row r = {v[0], v[1], v[2], v[3], v[4], v[5], 0, 0};
  char num[40];
  char *end = NULL;
  int ok = !parse_int64(v[7], 1, &r.updated_ms);
  if (ok && v[6].p) {
    ok = v[6].n > 0 && v[6].n < sizeof num;
    if (ok) {
      memcpy(num, v[6].p, v[6].n);
      num[v[6].n] = 0;
      r.probability = strtod(num, &end);
      ok = end && *end == 0;
    }
  }
  if (!ok) {
    set_err(err, errlen, "restore of domain '%s': row %lld of members has a probability or time that "
            "does not read", m->domain, row_no);
    return SL_EPARSE;
  }
  return m->fn(m->ud, &r);
}

/* The member rows' columns, as member_row reads them; from members or
 * members_of() (whose entity column is member_entity_id). */
#define MEMBER_COLS(entity)                                 \
  "dept, feed, src_id, " entity ", vals, decision, probability, " \
  "floor(extract(epoch from updated_at) * 1000)::bigint"

int sl_match_platform_load(const char *conninfo, const char *domain, sl_match_member_fn fn,
                           void *ud, char *err, size_t errlen) {
  member_ctx m = {fn, ud, domain};
  copy_spec spec = {"members", MEMBER_COLS("entity_id"), NULL, NULL, 8, member_row, &m};
  return load(conninfo, domain, &spec, err, errlen);
}

int sl_match_platform_load_entity_of(const char *conninfo, const char *domain, const char *dept,
                                     const char *feed, const char *src_id, sl_match_member_fn fn, void *ud,
                                     char *err, size_t errlen) {
  member_ctx m = {fn, ud, domain};
  const char *record[3] = {dept, feed, src_id};
  copy_spec spec = {"members", MEMBER_COLS("member_entity_id"), NULL, record, 8, member_row, &m};
  return load(conninfo, domain, &spec, err, errlen);
}

typedef struct entity_ctx {
  sl_match_entity_fn fn;
  void *ud;
  const char *domain;
} entity_ctx;

static int entity_row(void *ctx, const sl_match_str *v, long long row_no, char *err,
                      size_t errlen) {
  entity_ctx *e = ctx;
  int64_t version;
  if (parse_int64(v[3], 0, &version)) {
    set_err(err, errlen, "restore of domain '%s': row %lld of entities has no version", e->domain,
            row_no);
    return SL_EPARSE;
  }
  return e->fn(e->ud, v[0], v[1], v[2], version);
}

int sl_match_platform_load_entities(const char *conninfo, const char *domain,
                                    sl_match_entity_fn fn, void *ud, char *err, size_t errlen) {
  entity_ctx e = {fn, ud, domain};
  copy_spec spec = {"entities", "entity_id, status, merged_into, version", NULL, NULL, 4, entity_row, &e};
  return load(conninfo, domain, &spec, err, errlen);
}

typedef struct decision_ctx {
  sl_match_decision_fn fn;
  void *ud;
} decision_ctx;

static int decision_row(void *ctx, const sl_match_str *v, long long row_no, char *err,
                        size_t errlen) {
  (void)row_no, (void)err, (void)errlen;
  decision_ctx *d = ctx;
  return d->fn(d->ud, v[0], v[1], v[2]);
}

int sl_match_platform_load_decisions(const char *conninfo, const char *domain,
                                     sl_match_decision_fn fn, void *ud, char *err, size_t errlen) {
  decision_ctx d = {fn, ud};
  copy_spec spec = {"decisions", "a, b, decision", "at NULLS FIRST, decision_id", NULL, 3, decision_row, &d};
  return load(conninfo, domain, &spec, err, errlen);
}

typedef struct max_ctx {
  int64_t max;
  const char *domain, *table;
} max_ctx;

static int max_row(void *ctx, const sl_match_str *v, long long row_no, char *err, size_t errlen) {
  (void)row_no;
  max_ctx *x = ctx;
  int64_t n;
  if (parse_int64(v[0], 1, &n)) {
    set_err(err, errlen, "restore of domain '%s': the greatest seq of %s is not a number", x->domain,
            x->table);
    return SL_EPARSE;
  }
  if (n > x->max) x->max = n;
  return 0;
}

int sl_match_platform_max_seq(const char *conninfo, const char *domain, int64_t *seq, char *err,
                              size_t errlen) {
  static const char *const tables[] = {"members", "decisions"};
  max_ctx x = {0, domain, NULL};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    x.table = tables[i];
    copy_spec spec = {tables[i], "max(seq)", NULL, NULL, 1, max_row, &x};
    int rc = load(conninfo, domain, &spec, err, errlen);
    if (rc) return rc;
  }
  *seq = x.max;
  return 0;
}
