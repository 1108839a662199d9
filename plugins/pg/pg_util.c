/* What the PostgreSQL plugins share that is not I/O on the loop: connection
 * parameters, quoted identifiers, what a SQLSTATE means for a retry, LSN text, and the
 * blocking helpers that init and checkpoint_load use before the loop runs. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "sluice/log.h"

/* Run on every session: identifiers resolve only when schema-qualified (a
 * table in a schema the user may create cannot shadow ours), and values are
 * read and written in one time zone and date style whatever the server's
 * defaults are. */
static const char *const SESSION_SQL =
    "SET search_path = ''; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
    "SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3";

char *pg_buf_cstr(sl_buf *b) {
  sl_buf_putc(b, 0);
  return sl_buf_steal(b, NULL);
}

void pg_buf_nul(sl_buf *b) {
  sl_buf_putc(b, 0);
  if (!b->oom) b->len--;
}

/* ---- connection strings ---- */

void pg_conn_params(const char *dsn, const char *app, int replication, const char **kw,
                    const char **val) {
  int i = 0;
  /* Defaults the DSN may override: it comes after them (expand_dbname). */
  kw[i] = "application_name";      val[i++] = app;
  kw[i] = "connect_timeout";       val[i++] = "10";
  /* A connection cut without a reset (a cable, a firewall) is noticed in
   * about 25 s rather than after the kernel's two hours. */
  kw[i] = "keepalives";            val[i++] = "1";
  kw[i] = "keepalives_idle";       val[i++] = "10";
  kw[i] = "keepalives_interval";   val[i++] = "5";
  kw[i] = "keepalives_count";      val[i++] = "3";
  kw[i] = "tcp_user_timeout";      val[i++] = "30000";
  kw[i] = "dbname";                val[i++] = dsn;
  if (replication) {
    kw[i] = "replication";         val[i++] = "database";
  }
  kw[i] = NULL;
  val[i] = NULL;
}

PGconn *pg_connect_blocking(sl_stage *st, const char *dsn, const char *redacted) {
  const char *kw[16], *val[16];
  pg_conn_params(dsn, "sluice", 0, kw, val);
  PGconn *c = PQconnectdbParams(kw, val, 1);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    sl_buf why = SL_BUF_INIT;
    pg_dsn_scrub(&why, m, strcspn(m, "\n"), dsn, redacted);
    sl_log_error(sl_stage_name(st), "cannot connect to PostgreSQL (%s): %.*s", redacted,
                 (int)why.len, why.ptr ? why.ptr : "");
    sl_buf_free(&why);
    PQfinish(c);
    return NULL;
  }
  PGresult *r = PQexec(c, SESSION_SQL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    const char *m = PQresultErrorMessage(r);
    sl_log_error(sl_stage_name(st), "cannot set up the session (%s): %.*s", redacted,
                 (int)strcspn(m, "\n"), m);
    PQclear(r);
    PQfinish(c);
    return NULL;
  }
  PQclear(r);
  return c;
}

const char *pg_session_sql(void) { return SESSION_SQL; }

/* ---- identifiers ---- */

char *pg_quote_ident(PGconn *c, const char *name) {
  char *q = PQescapeIdentifier(c, name, strlen(name));
  if (!q) return NULL;
  char *s = strdup(q);
  PQfreemem(q);
  return s;
}

char *pg_qualified_name(PGconn *c, const char *name) {
  const char *dot = strchr(name, '.');
  if (!*name || (dot && (dot == name || !dot[1] || strchr(dot + 1, '.')))) return NULL;
  char *schema = dot ? strndup(name, (size_t)(dot - name)) : strdup("public");
  char *qs = schema ? pg_quote_ident(c, schema) : NULL;
  char *qt = pg_quote_ident(c, dot ? dot + 1 : name);
  free(schema);
  char *out = NULL;
  if (qs && qt) {
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "%s.%s", qs, qt);
    out = pg_buf_cstr(&b);
  }
  free(qs);
  free(qt);
  return out;
}

/* ---- errors ---- */

pg_err_class pg_classify(PGconn *c, const PGresult *r) {
  if (!c || PQstatus(c) == CONNECTION_BAD) return PG_ERR_CONNECTION;
  const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  /* libpq's own errors ("server closed the connection unexpectedly") have
   * no SQLSTATE: the connection is what failed. */
  if (!s || strlen(s) != 5) return PG_ERR_CONNECTION;
  if (!strncmp(s, "08", 2) || !strcmp(s, "57P01") || !strcmp(s, "57P02") ||
      !strcmp(s, "57P03") || !strcmp(s, "53300") || !strcmp(s, "25006"))
    return PG_ERR_CONNECTION;
  if (!strncmp(s, "40", 2) || !strcmp(s, "55P03") || !strncmp(s, "53", 2) ||
      !strcmp(s, "57014"))
    return PG_ERR_TRANSIENT;
  /* Data exceptions, integrity constraints, and a row too big for an index. */
  if (!strncmp(s, "22", 2) || !strncmp(s, "23", 2) || !strcmp(s, "54000")) return PG_ERR_DATA;
  return PG_ERR_OTHER;
}

/* The column a COPY error names in its context: "COPY t, line 1, column age: "abc"". */
static int context_column(const char *ctx, const char **p, size_t *n) {
  const char *c = ctx ? strstr(ctx, ", column ") : NULL;
  if (!c) return 0;
  c += 9;
  size_t len = strcspn(c, ":\n");
  if (!len) return 0;
  *p = c;
  *n = len;
  return 1;
}

/* The columns of a unique violation: "Key (a, b)=(1, 2) already exists." */
static int detail_columns(const char *detail, const char **p, size_t *n) {
  if (!detail || strncmp(detail, "Key (", 5) != 0) return 0;
  const char *end = strstr(detail, ")=(");
  if (!end) return 0;
  *p = detail + 5;
  *n = (size_t)(end - *p);
  return *n > 0;
}

void pg_error_reason(const PGresult *r, sl_buf *out) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!msg && r) msg = PQresultErrorMessage(r);
  const char *col = r ? PQresultErrorField(r, PG_DIAG_COLUMN_NAME) : NULL;
  const char *cons = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
  const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
  const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
  sl_buf_printf(out, "SQLSTATE %s: %.*s", state ? state : "?????",
                (int)strcspn(msg ? msg : "unknown error", "\n"), msg ? msg : "unknown error");
  const char *cp = NULL;
  size_t cn = 0;
  if (col) {
    cp = col;
    cn = strlen(col);
  } else if (!context_column(ctx, &cp, &cn)) {
    detail_columns(detail, &cp, &cn);
  }
  int open = 0;
  if (cp) {
    sl_buf_printf(out, " (column %.*s", (int)cn, cp);
    open = 1;
  }
  if (cons) {
    sl_buf_printf(out, "%sconstraint %s", open ? "; " : " (", cons);
    open = 1;
  }
  if (detail) {
    sl_buf_printf(out, "%s%.*s", open ? "; " : " (", (int)strcspn(detail, "\n"), detail);
    open = 1;
  }
  if (open) sl_buf_putc(out, ')');
  pg_buf_nul(out);
}

/* ---- LSNs ---- */

void pg_lsn_format(uint64_t lsn, char out[24]) {
  snprintf(out, 24, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}

/* Strict: 1 to 8 hexadecimal digits, '/', 1 to 8 more, nothing else (no
 * sign, space or 0x that sscanf would take). */
int pg_lsn_parse(const char *s, uint64_t *lsn) {
  uint64_t part[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    int digits = 0;
    for (; s && isxdigit((unsigned char)*s) && digits < 9; s++, digits++)
      part[i] = part[i] << 4 | (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' : (*s | 0x20) - 'a' + 10);
    if (!s || digits == 0 || digits > 8 || *s != (i == 0 ? '/' : '\0')) return SL_EINVAL;
    s++;
  }
  *lsn = part[0] << 32 | part[1];
  return 0;
}

/* ---- saved checkpoints ---- */

int pg_checkpoint_load(sl_stage *st, sl_buf *b, sl_arena *a, sl_value *v) {
  int rc = sl_state_load(st, b);
  if (rc == SL_ENOENT || rc == SL_ENOMEM) return rc;
  if (rc) return sl_state_corrupt(st, "cannot read it: %s", sl_strerror(rc));
  if (b->len == 0) return sl_state_corrupt(st, "it is empty");
  const char *why = NULL;
  if (sl_json_parse(b->ptr, b->len, a, v, &why))
    return sl_state_corrupt(st, "it is not JSON (%s)", why ? why : "cannot parse it");
  return 0;
}

const sl_value *pg_json_member(const sl_value *obj, const char *name) {
  for (uint32_t i = 0; obj->type == SL_T_OBJECT && i < obj->n; i++)
    if (obj->u.members[i].name.len == strlen(name) &&
        memcmp(obj->u.members[i].name.ptr, name, obj->u.members[i].name.len) == 0)
      return &obj->u.members[i].value;
  return NULL;
}

/* ---- blocking helpers (before the loop) ---- */

PGresult *pg_exec_params(sl_stage *st, PGconn *c, const char *sql, int n,
                         const char *const *values) {
  PGresult *r = PQexecParams(c, sql, n, NULL, values, NULL, NULL, 0);
  ExecStatusType s = PQresultStatus(r);
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return r;
  sl_buf why = SL_BUF_INIT;
  pg_error_reason(r, &why);
  sl_log_error(sl_stage_name(st), "%s", why.ptr ? why.ptr : "query failed");
  sl_buf_free(&why);
  PQclear(r);
  return NULL;
}

int pg_ensure_checkpoint_table(sl_stage *st, PGconn *c) {
  /* Look first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on
   * the database even when the schema exists, and a DBA may have made the
   * table for a role that lacks it. */
  PGresult *r = pg_exec_params(st, c, "SELECT to_regclass('sluice.checkpoints') IS NOT NULL", 0, NULL);
  if (!r) return SL_EIO;
  int have = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (have) return 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    r = PQexec(c,
               "CREATE SCHEMA IF NOT EXISTS sluice; "
               "CREATE TABLE IF NOT EXISTS sluice.checkpoints ("
               "pipeline text NOT NULL, source text NOT NULL, checkpoint text NOT NULL, "
               "updated_at timestamptz NOT NULL DEFAULT now(), "
               "PRIMARY KEY (pipeline, source))");
    ExecStatusType s = PQresultStatus(r);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    /* Two sluice processes creating it at once: one loses the race on the
     * catalog's unique index; the second attempt finds it. */
    int raced = state && (!strcmp(state, "23505") || !strcmp(state, "42P06") || !strcmp(state, "42P07"));
    if (s == PGRES_COMMAND_OK) {
      PQclear(r);
      return 0;
    }
    if (!raced || attempt == 1) {
      sl_buf why = SL_BUF_INIT;
      pg_error_reason(r, &why);
      sl_log_error(sl_stage_name(st), "cannot create the checkpoint table sluice.checkpoints: %s",
                   why.ptr ? why.ptr : "");
      sl_buf_free(&why);
      PQclear(r);
      return SL_EIO;
    }
    PQclear(r);
  }
  return SL_EIO;
}
