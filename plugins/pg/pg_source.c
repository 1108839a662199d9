/* pg.source: reads a table (or a query) incrementally, polling on a
 * watermark.  Each poll is
 *
 *   SELECT row_to_json(q)::text, q.wm::text..., q.key::text...
 *   FROM <table or (query)> q
 *   WHERE (q.wm..., q.key...) > ($1, ...)   -- not on the first poll
 *   ORDER BY q.wm..., q.key... LIMIT batch_size
 *
 * The row comparison is what makes the key a tie-breaker: rows that share
 * a watermark value are read in key order across polls, none skipped and
 * none twice.  A full batch polls again at once (unless paused); a short
 * one waits `every`.  Values are bound, never spliced.
 *
 * A record is the row as row_to_json writes it (numbers, booleans, nested
 * json, timestamps in ISO 8601), kept as its JSON text and decoded lazily
 * like a jsonl line.  The checkpoint is the (watermark, key) of a batch's
 * last row as text; it is saved once the sinks acknowledged the batch (or
 * stored by a pg.sink with the data). */
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

typedef struct pg_source_cfg {
  char *dsn;
  char *table;
  char *query;
  char **watermark;
  char **key;
  int64_t every_ms;
  int64_t retry_max_ms;
} pg_source_cfg;

typedef struct pg_source {
  sl_stage *st;
  pg_source_cfg *cfg;
  pg_conn conn;
  int connected;
  int nord;                 /* watermark and key columns */
  char *sql_first;          /* without a position */
  char *sql_next;           /* after a position: $1..$nord */
  char *origin;             /* meta.origin of records */
  char **pos;               /* the last row read: nord text values, or NULL */
  int querying;
  sl_batch *batch;          /* being filled from the current result */
  int full;                 /* the last poll returned batch_size rows */
  int err;
  sl_buf err_reason;
  pg_err_class err_class;
  uv_timer_t timer;
  int timer_open;
  int64_t backoff_ms;
  int stopping, finished;
  uint64_t rows;
} pg_source;

static void poll_now(pg_source *s);

/* ---- checkpoints: {"watermark":["..."],"key":["..."]} ---- */

static void encode_position(pg_source *s, char **pos, sl_buf *b) {
  int nwm = 0;
  while (s->cfg->watermark[nwm]) nwm++;
  sl_buf_puts(b, "{\"watermark\":[");
  for (int i = 0; i < s->nord; i++) {
    if (i == nwm) sl_buf_puts(b, "],\"key\":[");
    else if (i) sl_buf_putc(b, ',');
    sl_buf_json_string(b, pos[i], strlen(pos[i]));
  }
  sl_buf_puts(b, nwm == s->nord ? "],\"key\":[]}" : "]}");
}

static int pg_source_checkpoint_encode(sl_stage *st, const sl_checkpoint *cp, sl_buf *out) {
  (void)st;
  if (!cp->data) return SL_ENOENT;
  sl_buf_puts(out, cp->data);
  return out->oom ? SL_ENOMEM : 0;
}

static void pg_source_ack(sl_stage *st, const sl_checkpoint *cp) {
  if (!cp->data) return;
  SL_CRASH_POINT("pg.source.before_position_save");
  sl_state_save(st, cp->data, strlen(cp->data));
  SL_CRASH_POINT("pg.source.after_position_save");
}

/* The position to start after, from the saved checkpoint. */
static int load_position(pg_source *s) {
  sl_buf b = SL_BUF_INIT;
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  int rc = pg_checkpoint_load(s->st, &b, &a, &v);
  if (rc) {
    sl_arena_free(&a);
    sl_buf_free(&b);
    return rc == SL_ENOENT ? 0 : rc;
  }
  const sl_value *wm = pg_json_member(&v, "watermark");
  const sl_value *key = pg_json_member(&v, "key");
  int nwm = 0;
  while (s->cfg->watermark[nwm]) nwm++;
  if (!wm || !key || wm->type != SL_T_ARRAY || key->type != SL_T_ARRAY ||
      (int)(wm->n + key->n) != s->nord || (int)wm->n != nwm) {
    rc = sl_state_corrupt(s->st, "it holds %.*s, not {\"watermark\": [%d strings], \"key\": [%d strings]} "
                          "for this source's watermark and key", (int)(b.len > 300 ? 300 : b.len),
                          b.ptr, nwm, s->nord - nwm);
    sl_arena_free(&a);
    sl_buf_free(&b);
    return rc;
  }
  s->pos = calloc((size_t)s->nord, sizeof *s->pos);
  for (int i = 0; s->pos && i < s->nord; i++) {
    const sl_value *e = i < nwm ? &wm->u.items[i] : &key->u.items[i - nwm];
    if (e->type != SL_T_STRING) {
      rc = sl_state_corrupt(s->st, "position %d must be a string, got %s", i + 1, sl_type_name(e->type));
      break;
    }
    s->pos[i] = strndup(e->u.s.ptr, e->u.s.len);
  }
  if (!rc) sl_log_info(sl_stage_name(s->st), "resuming after %.*s", (int)b.len, b.ptr);
  sl_arena_free(&a);
  sl_buf_free(&b);
  return s->pos ? rc : SL_ENOMEM;
}

/* ---- polling ---- */

static void on_timer(uv_timer_t *t) {
  pg_source *s = t->data;
  if (!s->connected) pg_conn_connect(&s->conn);
  else poll_now(s);
}

static void finish(pg_source *s) {
  if (s->finished) return;
  s->finished = 1;
  uv_timer_stop(&s->timer);
  pg_conn_close(&s->conn);
  s->connected = 0;
  sl_source_finished(s->st);
}

static void schedule(pg_source *s, int64_t ms) {
  if (s->stopping) {
    finish(s);
    return;
  }
  uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
}

static void poll_now(pg_source *s) {
  if (s->querying || !s->connected || s->finished) return;
  if (s->stopping) {
    finish(s);
    return;
  }
  if (sl_source_paused(s->st)) return;   /* resume polls */
  uv_timer_stop(&s->timer);
  s->querying = 1;
  s->err = 0;
  s->batch = NULL;
  if (s->pos) pg_conn_send_params(&s->conn, s->sql_next, s->nord, (const char *const *)s->pos);
  else pg_conn_send(&s->conn, s->sql_first);
}

static void on_result(pg_conn *c, PGresult *r) {
  pg_source *s = c->owner;
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    if (!s->err) {
      s->err = 1;
      s->err_class = pg_classify(c->pq, r);
      s->err_reason.len = 0;
      pg_error_reason(r, &s->err_reason);
    }
    return;
  }
  int n = PQntuples(r);
  s->full = n >= (int)sl_stage_batch_size(s->st);
  if (!n || s->stopping) return;
  sl_batch *b = sl_batch_new(s->st);
  if (!b) {
    sl_stage_fatal(s->st, "out of memory");
    return;
  }
  sl_arena *a = sl_batch_arena(b);
  int64_t now = sl_now_ms();
  size_t olen = strlen(s->origin);
  for (int i = 0; i < n; i++) {
    sl_record *rec = sl_batch_add(b);
    char *raw = rec ? sl_arena_memdup(a, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0)) : NULL;
    if (!raw) {
      sl_batch_discard(b);
      sl_stage_fatal(s->st, "out of memory");
      return;
    }
    rec->raw.ptr = raw;
    rec->raw.len = (size_t)PQgetlength(r, i, 0);
    rec->codec = &sl_codec_jsonl;
    rec->meta.origin.ptr = s->origin;
    rec->meta.origin.len = olen;
    rec->meta.offset = (int64_t)(s->rows + (uint64_t)i);
    rec->meta.arrival_ms = now;
  }
  /* The last row's position: where the next poll starts and what the
   * batch's checkpoint says. */
  char **pos = calloc((size_t)s->nord, sizeof *pos);
  for (int j = 0; pos && j < s->nord; j++) {
    pos[j] = strndup(PQgetvalue(r, n - 1, j + 1), (size_t)PQgetlength(r, n - 1, j + 1));
    if (!pos[j]) {
      for (int k = 0; k < j; k++) free(pos[k]);
      free(pos);
      pos = NULL;
    }
  }
  sl_buf cpb = SL_BUF_INIT;
  if (pos) encode_position(s, pos, &cpb);
  char *cpt = pos && !cpb.oom ? sl_arena_strndup(a, cpb.ptr, cpb.len) : NULL;
  sl_buf_free(&cpb);
  if (!cpt) {
    sl_batch_discard(b);
    sl_stage_fatal(s->st, "out of memory");
    return;
  }
  if (s->pos)
    for (int j = 0; j < s->nord; j++) free(s->pos[j]);
  free(s->pos);
  s->pos = pos;
  sl_checkpoint cp = {.data = cpt};
  sl_batch_set_checkpoint(b, &cp);
  s->rows += (uint64_t)n;
  s->batch = b;
}

static void on_done(pg_conn *c) {
  pg_source *s = c->owner;
  s->querying = 0;
  if (s->err) {
    s->err = 0;
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
    if (s->backoff_ms > s->cfg->retry_max_ms) s->backoff_ms = s->cfg->retry_max_ms;
    sl_log_error(sl_stage_name(s->st), "poll failed: %s; retrying in %lld ms",
                 s->err_reason.ptr ? s->err_reason.ptr : "", (long long)s->backoff_ms);
    if (s->err_class == PG_ERR_CONNECTION) {
      pg_conn_close(&s->conn);
      s->connected = 0;
    }
    schedule(s, s->backoff_ms);
    return;
  }
  s->backoff_ms = 0;
  sl_batch *b = s->batch;
  s->batch = NULL;
  if (b) sl_source_emit(s->st, b);   /* may pause us */
  if (s->stopping) {
    finish(s);
    return;
  }
  if (s->full) {
    poll_now(s);   /* more is waiting, unless paused (resume polls then) */
    return;
  }
  schedule(s, s->cfg->every_ms);
}

static void on_connected(pg_conn *c) {
  pg_source *s = c->owner;
  if (s->backoff_ms) sl_log_info(sl_stage_name(s->st), "connected to PostgreSQL (%s)", c->label);
  s->connected = 1;
  poll_now(s);
}

static void on_broken(pg_conn *c, const char *why) {
  pg_source *s = c->owner;
  int was = s->connected;
  s->connected = 0;
  s->querying = 0;
  if (s->batch) {
    sl_batch_discard(s->batch);
    s->batch = NULL;
  }
  if (s->stopping) {
    finish(s);
    return;
  }
  s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
  if (s->backoff_ms > s->cfg->retry_max_ms) s->backoff_ms = s->cfg->retry_max_ms;
  sl_log_error(sl_stage_name(s->st), "%s PostgreSQL (%s): %s; retrying in %lld ms",
               was ? "lost the connection to" : "cannot connect to", c->label, why,
               (long long)s->backoff_ms);
  uv_timer_start(&s->timer, on_timer, (uint64_t)s->backoff_ms, 0);
}

static const pg_conn_ops source_ops = {
    .connected = on_connected,
    .result = on_result,
    .done = on_done,
    .broken = on_broken,
    .copy_next = NULL,
    .readable = NULL,
};

/* ---- init ---- */

static int build_sql(pg_source *s, PGconn *c) {
  pg_source_cfg *cfg = s->cfg;
  sl_buf from = SL_BUF_INIT, cols = SL_BUF_INIT, ord = SL_BUF_INIT, params = SL_BUF_INIT,
         sql = SL_BUF_INIT;
  int rc = SL_ENOMEM;
  if (cfg->table) {
    char *t = pg_qualified_name(c, cfg->table);
    if (!t) {
      sl_log_error(sl_stage_name(s->st), "%s: '%s' is not a table name", sl_stage_where(s->st),
                   cfg->table);
      return SL_EOPTION;
    }
    sl_buf_puts(&from, t);
    s->origin = t;
  } else {
    /* The pipeline author's query, as written: it is code, not a value. */
    sl_buf_printf(&from, "(%s)", cfg->query);
    s->origin = strdup("query");
  }
  char **lists[2] = {cfg->watermark, cfg->key};
  int n = 0;
  for (int l = 0; l < 2; l++)
    for (int i = 0; lists[l] && lists[l][i]; i++, n++) {
      char *q = pg_quote_ident(c, lists[l][i]);
      if (!q) goto done;
      sl_buf_printf(&cols, ", q.%s::text", q);
      sl_buf_printf(&ord, "%sq.%s", n ? ", " : "", q);
      sl_buf_printf(&params, "%s$%d", n ? ", " : "", n + 1);
      free(q);
    }
  s->nord = n;
  pg_buf_nul(&from);
  pg_buf_nul(&cols);
  pg_buf_nul(&ord);
  pg_buf_nul(&params);
  if (from.oom || cols.oom || ord.oom || params.oom) goto done;
  uint32_t limit = sl_stage_batch_size(s->st);
  /* Rows whose watermark or key is NULL would never compare greater: the
   * first poll leaves them out too, so that no position holds a NULL. */
  sl_buf_printf(&sql, "SELECT row_to_json(q)::text%s FROM %s q WHERE (%s) IS NOT NULL ORDER BY %s LIMIT %u",
                cols.ptr, from.ptr, ord.ptr, ord.ptr, limit);
  s->sql_first = pg_buf_cstr(&sql);
  sl_buf_printf(&sql, "SELECT row_to_json(q)::text%s FROM %s q WHERE (%s) > (%s) ORDER BY %s LIMIT %u",
                cols.ptr, from.ptr, ord.ptr, params.ptr, ord.ptr, limit);
  s->sql_next = pg_buf_cstr(&sql);
  if (!s->sql_first || !s->sql_next || !s->origin) goto done;

  /* Check the query now (and the columns' existence): a mistake is an
   * error at start, not a retry loop.  PREPARE plans it without running it. */
  PGresult *r = PQprepare(c, "", s->sql_next, s->nord, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    sl_buf why = SL_BUF_INIT;
    pg_error_reason(r, &why);
    sl_log_error(sl_stage_name(s->st), "%s: the poll query is not valid: %s", sl_stage_where(s->st),
                 why.ptr ? why.ptr : "");
    sl_buf_free(&why);
    PQclear(r);
    rc = SL_EOPTION;
    goto done;
  }
  PQclear(r);
  sl_log_debug(sl_stage_name(s->st), "poll: %s", s->sql_next);
  rc = 0;
done:
  sl_buf_free(&from);
  sl_buf_free(&cols);
  sl_buf_free(&ord);
  sl_buf_free(&params);
  sl_buf_free(&sql);
  return rc;
}

static int pg_source_init(sl_stage *st) {
  pg_source *s = sl_stage_priv(st);
  pg_source_cfg *cfg = sl_stage_config(st);
  s->st = st;
  s->cfg = cfg;
  if (!cfg->table == !cfg->query) {
    sl_log_error(sl_stage_name(st), "%s: give either table or query", sl_stage_where(st));
    return SL_EOPTION;
  }
  if (!cfg->watermark || !cfg->watermark[0]) {
    sl_log_error(sl_stage_name(st), "%s: watermark needs at least one column", sl_stage_where(st));
    return SL_EOPTION;
  }
  if (cfg->every_ms < 1) cfg->every_ms = 1;
  if (cfg->retry_max_ms < 100) cfg->retry_max_ms = 100;
  if (uv_timer_init(sl_stage_loop(st), &s->timer)) return SL_ENOMEM;
  s->timer.data = s;
  s->timer_open = 1;
  if (pg_conn_init(&s->conn, st, cfg->dsn, 0, &source_ops, s)) return SL_ENOMEM;
  PGconn *c = pg_connect_blocking(st, cfg->dsn, s->conn.label);
  if (!c) return SL_EIO;
  int rc = build_sql(s, c);
  PQfinish(c);
  if (rc) return rc;
  return load_position(s);
}

static void pg_source_destroy(sl_stage *st) {
  pg_source *s = sl_stage_priv(st);
  if (s->batch) sl_batch_discard(s->batch);
  s->batch = NULL;
  if (s->conn.dsn) pg_conn_destroy(&s->conn);
  if (s->timer_open) uv_close((uv_handle_t *)&s->timer, NULL);
  s->timer_open = 0;
  if (s->pos)
    for (int j = 0; j < s->nord; j++) free(s->pos[j]);
  free(s->pos);
  free(s->sql_first);
  free(s->sql_next);
  free(s->origin);
  sl_buf_free(&s->err_reason);
}

static int pg_source_start(sl_stage *st) {
  pg_source *s = sl_stage_priv(st);
  pg_conn_connect(&s->conn);
  return 0;
}

static void pg_source_pause(sl_stage *st) { (void)st; /* on_done does not poll on */ }

static void pg_source_resume(sl_stage *st) {
  pg_source *s = sl_stage_priv(st);
  /* Polls were skipped while paused: poll now unless one is in flight or
   * the timer is waiting out `every` after a short batch. */
  if (!uv_is_active((uv_handle_t *)&s->timer)) poll_now(s);
}

static void pg_source_stop(sl_stage *st) {
  pg_source *s = sl_stage_priv(st);
  s->stopping = 1;
  /* A poll in flight finishes first; its rows are not emitted. */
  if (!s->querying) finish(s);
}

static const sl_option pg_source_options[] = {
    {"dsn", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(pg_source_cfg, dsn), "libpq connection string or URI (the password is never logged).", NULL},
    {"table", SL_OPT_STR, NULL, 0, offsetof(pg_source_cfg, table), "Table to read: \"table\" (schema public) or \"schema.table\" (or give query).", NULL},
    {"query", SL_OPT_STR, NULL, 0, offsetof(pg_source_cfg, query), "A SELECT to read from instead of a table; it must return the watermark and key columns.", NULL},
    {"watermark", SL_OPT_STRLIST, NULL, SL_REQUIRED, offsetof(pg_source_cfg, watermark), "Column(s) that only grow for new and changed rows (updated_at, a sequence).", NULL},
    {"key", SL_OPT_STRLIST, NULL, 0, offsetof(pg_source_cfg, key), "Unique column(s) that order rows sharing a watermark value.", NULL},
    {"every", SL_OPT_DURATION, "5s", 0, offsetof(pg_source_cfg, every_ms), "Pause between polls once caught up.", NULL},
    {"retry_max", SL_OPT_DURATION, "10s", 0, offsetof(pg_source_cfg, retry_max_ms), "Longest pause between attempts when PostgreSQL fails.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin pg_source_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "pg.source",
    .doc = "Reads new and changed rows of a PostgreSQL table by polling on a watermark column.",
    .options = pg_source_options,
    .config_size = sizeof(pg_source_cfg),
    .priv_size = sizeof(pg_source),
    .init = pg_source_init,
    .destroy = pg_source_destroy,
    .start = pg_source_start,
    .pause = pg_source_pause,
    .resume = pg_source_resume,
    .stop = pg_source_stop,
    .ack = pg_source_ack,
    .checkpoint_encode = pg_source_checkpoint_encode,
};
