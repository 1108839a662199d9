/* pg.cdc: change data capture from PostgreSQL by logical replication
 * (pgoutput) over libpq's replication protocol, on the loop.
 *
 * First start (no checkpoint): CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT
 * on the replication connection; with snapshot = true a second connection
 * reads every table of the publication in a REPEATABLE READ transaction
 * that uses the exported snapshot (a cursor, one batch per FETCH, paused
 * by backpressure), as records with op "r".  The snapshot and the slot's
 * consistent point are the same moment, so the stream that follows starts
 * exactly where the snapshot ends.  Then START_REPLICATION streams changes:
 *
 *   {"op":"c"|"u"|"d"|"t", "table":"schema.name", "lsn":"0/16B3748",
 *    "commit_time":"...Z", "xid":..., "before":{...}, "after":{...}}
 *
 * (before only where the server sends an old image: the key columns when a
 * key changed or on delete, or the whole row with REPLICA IDENTITY FULL.)
 *
 * A batch's checkpoint is the end LSN of the last transaction it completes.
 * A batch ends at a commit: a transaction's changes go out only once its
 * commit was read (or, for a transaction larger than 4 batches, in pieces),
 * since a restart from the checkpoint sends an unfinished one again whole,
 * and a sink that had its first part would apply that part twice.
 * Only once the sinks acknowledged a batch does that LSN go to the server
 * as the flush position (standby status update), so the slot never lets go
 * of a change that is not durable downstream.  A restart resumes from the
 * checkpoint: changes after it may come again, none is lost.  Status
 * updates go out every status_interval and when the server asks; when
 * nothing is in flight the position of the server's keepalive is confirmed
 * too, so an idle source does not hold back WAL.  Interrupting the initial
 * snapshot means taking it again on the next start (the slot is made anew).
 * The snapshot itself is in pg_cdc_snapshot.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_cdc.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

/* ---- helpers ---- */

static int64_t pg_now_us(void) { return (sl_now_ms() - 946684800000LL) * 1000; }

void pg_cdc_finish(pg_cdc *s) {
  if (s->finished) return;
  s->finished = 1;
  uv_timer_stop(&s->retry);
  if (s->snap_open) pg_conn_close(&s->snap);
  /* The replication connection stays open until destroy: acknowledgements
   * of the batches still in flight are sent as status updates. */
  if (!s->streaming) pg_conn_close(&s->repl);
  pg_conn_stream_read(&s->repl, 0);
  sl_source_finished(s->st);
}

static int idle(const pg_cdc *s) {
  return s->emitted == s->acked && !s->in_txn && (!s->cur || sl_batch_count(s->cur) == 0);
}

static void send_status(pg_cdc *s, int reply) {
  if (!s->streaming || s->repl.state != PGC_STREAM) return;
  if (idle(s) && s->idle_lsn > s->flushed) s->flushed = s->idle_lsn;
  char m[34];
  m[0] = 'r';
  pg_put_be64(m + 1, s->received > s->flushed ? s->received : s->flushed);   /* written */
  pg_put_be64(m + 9, s->flushed);     /* flushed: what the sinks made durable */
  pg_put_be64(m + 17, s->flushed);    /* applied */
  pg_put_be64(m + 25, (uint64_t)pg_now_us());
  m[33] = (char)reply;
  SL_CRASH_POINT("pg.cdc.before_feedback");
  if (PQputCopyData(s->repl.pq, m, sizeof m) != 1) {
    pg_conn_fail(&s->repl, PQerrorMessage(s->repl.pq));
    return;
  }
  pg_conn_flush(&s->repl);
  SL_CRASH_POINT("pg.cdc.after_feedback");
}

static void on_status_timer(uv_timer_t *t) {
  pg_cdc *s = t->data;
  send_status(s, 0);
  if (s->streaming) {
    int64_t bytes = 0, ms = 0;
    pg_cdc_lag(s->st, &bytes, &ms);
    char a[24], b[24];
    pg_lsn_format(s->flushed, a);
    pg_lsn_format(s->server_end, b);
    sl_log_debug(sl_stage_name(s->st), "confirmed %s, server at %s: lag %lld bytes, %lld ms; %llu changes",
                 a, b, (long long)bytes, (long long)ms, (unsigned long long)s->changes);
  }
}

int pg_cdc_lag(sl_stage *st, int64_t *bytes, int64_t *ms) {
  if (sl_stage_plugin(st) != &pg_cdc_plugin) return SL_EINVAL;
  pg_cdc *s = sl_stage_priv(st);
  *bytes = s->server_end > s->flushed ? (int64_t)(s->server_end - s->flushed) : 0;
  /* Age of the newest durable change while more waits to be confirmed. */
  if (*bytes > 0 && s->acked_time) *ms = (pg_now_us() - s->acked_time) / 1000;
  else *ms = 0;
  if (*ms < 0) *ms = 0;
  return 0;
}

/* ---- checkpoints: {"lsn":"0/16B3748"} or, during the snapshot, {"snapshot":"..."} ---- */

static int pg_cdc_checkpoint_encode(sl_stage *st, const sl_checkpoint *cp, sl_buf *out) {
  (void)st;
  char l[24];
  pg_lsn_format((uint64_t)cp->a, l);
  sl_buf_printf(out, "{\"%s\":\"%s\"", CP_PHASE(cp->b) == PHASE_SNAPSHOT ? "snapshot" : "lsn", l);
  if (CP_PIECE(cp->b)) sl_buf_printf(out, ",\"piece\":%lld", (long long)CP_PIECE(cp->b));
  sl_buf_putc(out, '}');
  return out->oom ? SL_ENOMEM : 0;
}

static void pg_cdc_ack(sl_stage *st, const sl_checkpoint *cp) {
  pg_cdc *s = sl_stage_priv(st);
  s->acked++;
  sl_buf b = SL_BUF_INIT;
  SL_CRASH_POINT("pg.cdc.before_position_save");
  if (pg_cdc_checkpoint_encode(st, cp, &b) == 0) sl_state_save(st, b.ptr, b.len);
  SL_CRASH_POINT("pg.cdc.after_position_save");
  sl_buf_free(&b);
  if (CP_PHASE(cp->b) != PHASE_STREAM) return;
  if ((uint64_t)cp->a > s->flushed) {
    s->flushed = (uint64_t)cp->a;
    if (cp->c) s->acked_time = cp->c;
  }
  send_status(s, 0);
}

/* ---- batches ---- */

static sl_batch *cur_batch(pg_cdc *s) {
  if (!s->cur) s->cur = sl_batch_new(s->st);
  if (!s->cur) sl_stage_fatal(s->st, "out of memory");
  return s->cur;
}

int pg_cdc_add_record(pg_cdc *s, const char *origin, size_t olen, int64_t offset) {
  sl_batch *b = cur_batch(s);
  if (!b) return SL_ENOMEM;
  if (s->line.oom) {
    sl_stage_fatal(s->st, "out of memory");
    return SL_ENOMEM;
  }
  sl_arena *a = sl_batch_arena(b);
  sl_record *rec = sl_batch_add(b);
  char *raw = rec ? sl_arena_memdup(a, s->line.ptr, s->line.len) : NULL;
  char *org = rec ? sl_arena_memdup(a, origin, olen) : NULL;
  if (!raw || !org) {
    sl_stage_fatal(s->st, "out of memory");
    return SL_ENOMEM;
  }
  rec->raw.ptr = raw;
  rec->raw.len = s->line.len;
  rec->codec = &sl_codec_jsonl;
  rec->meta.origin.ptr = org;
  rec->meta.origin.len = olen;
  rec->meta.offset = offset;
  rec->meta.arrival_ms = sl_now_ms();
  return 0;
}

void pg_cdc_emit(pg_cdc *s, uint64_t lsn, int phase, int64_t time) {
  if (!s->cur || !sl_batch_count(s->cur)) return;
  sl_checkpoint cp = {.a = (int64_t)lsn, .b = phase, .c = time};
  /* A piece of an open transaction: numbered, so that no two batches in a
   * row carry the same checkpoint. */
  if (phase == PHASE_STREAM && sl_batch_count(s->cur) > s->cur_done) cp.b |= ++s->piece << 8;
  sl_batch_set_checkpoint(s->cur, &cp);
  sl_batch *b = s->cur;
  s->cur = NULL;
  s->emitted++;
  s->cur_done = 0;
  sl_source_emit(s->st, b);
}

/* Emits the transactions read in full; the changes of the one still open
 * are dropped: the stream starts again at cp_lsn, which sends it whole. */
static void emit_complete(pg_cdc *s) {
  while (s->cur && sl_batch_count(s->cur) > s->cur_done) sl_batch_pop(s->cur);
  pg_cdc_emit(s, s->cp_lsn, PHASE_STREAM, s->cp_time);
}

/* ---- the stream ---- */

static void change(pg_cdc *s, const pgo_msg *m, const char *end) {
  pgo_relation *rel = pgo_relation_find(&s->rels, m->relid);
  const char *op = m->kind == 'I' ? "c" : m->kind == 'U' ? "u" : "d";
  char lsn[24], t[64];
  pg_lsn_format(s->txn_lsn, lsn);
  pg_time_format(s->txn_time, t);
  sl_buf *b = &s->line;
  b->len = 0;
  sl_buf_printf(b, "{\"op\":\"%s\",\"table\":", op);
  sl_buf_json_string(b, rel->qualified, strlen(rel->qualified));
  sl_buf_printf(b, ",\"lsn\":\"%s\",\"commit_time\":\"%s\",\"xid\":%u", lsn, t, s->txn_xid);
  int bad = 0;
  if (m->old_tuple) {
    sl_buf_puts(b, ",\"before\":");
    bad |= pgo_tuple_json(rel, m->old_tuple, end, m->old_kind == 'K', b);
  }
  if (m->new_tuple) {
    sl_buf_puts(b, ",\"after\":");
    bad |= pgo_tuple_json(rel, m->new_tuple, end, 0, b);
  }
  sl_buf_putc(b, '}');
  if (bad) {
    pg_conn_fail(&s->repl, "malformed tuple in a pgoutput message");
    return;
  }
  s->changes++;
  pg_cdc_add_record(s, rel->qualified, strlen(rel->qualified), (int64_t)s->txn_lsn);
}

static void truncated(pg_cdc *s, const pgo_msg *m) {
  char lsn[24], t[64];
  pg_lsn_format(s->txn_lsn, lsn);
  pg_time_format(s->txn_time, t);
  for (uint32_t i = 0; i < m->nrels; i++) {
    pgo_relation *rel = pgo_relation_find(&s->rels, pg_be32(m->rels + 4 * i));
    const char *name = rel ? rel->qualified : "?";
    sl_buf *b = &s->line;
    b->len = 0;
    sl_buf_puts(b, "{\"op\":\"t\",\"table\":");
    sl_buf_json_string(b, name, strlen(name));
    sl_buf_printf(b, ",\"lsn\":\"%s\",\"commit_time\":\"%s\",\"xid\":%u}", lsn, t, s->txn_xid);
    s->changes++;
    pg_cdc_add_record(s, name, strlen(name), (int64_t)s->txn_lsn);
  }
}

static void xlog_data(pg_cdc *s, const char *p, size_t n) {
  pgo_msg m;
  const char *why = NULL;
  if (pgo_parse(p, n, &s->rels, &m, &why)) {
    pg_conn_fail(&s->repl, why);
    return;
  }
  switch (m.kind) {
    case 'B':
      s->in_txn = 1;
      s->txn_lsn = m.lsn;
      s->txn_time = m.commit_time;
      s->txn_xid = m.xid;
      break;
    case 'C':
      s->in_txn = 0;
      s->cp_lsn = m.end_lsn;
      s->cp_time = m.commit_time;
      if (m.end_lsn > s->received) s->received = m.end_lsn;
      /* A transaction with nothing for us leaves nothing to acknowledge. */
      if (idle(s) && m.end_lsn > s->idle_lsn) s->idle_lsn = m.end_lsn;
      s->cur_done = s->cur ? sl_batch_count(s->cur) : 0;
      if (s->cur && sl_batch_count(s->cur) >= sl_stage_batch_size(s->st))
        pg_cdc_emit(s, s->cp_lsn, PHASE_STREAM, s->cp_time);
      break;
    case 'I':
    case 'U':
    case 'D':
      change(s, &m, p + n);
      break;
    case 'T':
      truncated(s, &m);
      break;
    default:
      break;
  }
  /* A transaction larger than 4 batches goes out in pieces; their
   * checkpoint stays at the last complete transaction, with the piece's
   * number (a sink's lost-COMMIT check tells two transactions apart by
   * their checkpoints). */
  if (s->cur && sl_batch_count(s->cur) >= 4 * sl_stage_batch_size(s->st))
    pg_cdc_emit(s, s->cp_lsn, PHASE_STREAM, s->cp_time);
}

static void message(pg_cdc *s, const char *p, size_t n) {
  if (n >= 25 && p[0] == 'w') {
    uint64_t wal_end = pg_be64(p + 9);
    if (wal_end > s->server_end) s->server_end = wal_end;
    xlog_data(s, p + 25, n - 25);
  } else if (n >= 18 && p[0] == 'k') {
    uint64_t wal_end = pg_be64(p + 1);
    if (wal_end > s->server_end) s->server_end = wal_end;
    /* Everything before the keepalive's position was sent to us, and
     * with nothing in flight all of it is durable: confirm it. */
    if (idle(s) && wal_end > s->idle_lsn) s->idle_lsn = wal_end;
    if (p[17]) send_status(s, 0);
  }
}

static void drain(pg_cdc *s) {
  while (s->repl.state == PGC_STREAM) {
    if (sl_source_paused(s->st) || s->stopping) {
      pg_conn_stream_read(&s->repl, 0);
      break;
    }
    char *buf = NULL;
    int n = PQgetCopyData(s->repl.pq, &buf, 1);
    if (n == 0) break;
    if (n == -1) {
      /* The server ended the stream: its result says why. */
      PGresult *r = PQgetResult(s->repl.pq);
      sl_buf why = SL_BUF_INIT;
      pg_error_reason(r, &why);
      PQclear(r);
      pg_conn_fail(&s->repl, why.ptr ? why.ptr : "the server ended replication");
      sl_buf_free(&why);
      return;
    }
    if (n < 0) {
      pg_conn_fail(&s->repl, PQerrorMessage(s->repl.pq));
      return;
    }
    message(s, buf, (size_t)n);
    PQfreemem(buf);
  }
  /* Caught up (or paused): the transactions read go on now; one still open
   * waits for the rest of it. */
  if (s->stopping) emit_complete(s);
  else if (s->repl.state == PGC_STREAM && !s->in_txn) pg_cdc_emit(s, s->cp_lsn, PHASE_STREAM, s->cp_time);
}

static void on_readable(pg_conn *c) {
  pg_cdc *s = c->owner;
  if (!PQconsumeInput(c->pq)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  drain(s);
}

/* ---- the replication connection ---- */

void pg_cdc_start_replication(pg_cdc *s) {
  char lsn[24];
  pg_lsn_format(s->start_lsn, lsn);
  sl_buf b = SL_BUF_INIT;
  /* The publication list is a string literal holding a quoted identifier. */
  sl_buf_printf(&b, "START_REPLICATION SLOT %s LOGICAL %s (proto_version '1', publication_names '\"",
                s->cfg->slot, lsn);
  for (const char *p = s->cfg->publication; *p; p++) {
    if (*p == '"') sl_buf_puts(&b, "\"\"");
    else if (*p == '\'') sl_buf_puts(&b, "''");
    else sl_buf_putc(&b, *p);
  }
  sl_buf_puts(&b, "\"')");
  char *sql = pg_buf_cstr(&b);
  if (!sql) {
    sl_stage_fatal(s->st, "out of memory");
    return;
  }
  sl_log_info(sl_stage_name(s->st), "streaming changes of publication %s from slot %s at %s",
              s->cfg->publication, s->cfg->slot, lsn);
  s->rstep = R_START;
  s->err = 0;
  pg_conn_send(&s->repl, sql);
  free(sql);
}

static void retry_later(pg_cdc *s, const char *what, const char *why) {
  s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 100;
  if (s->backoff_ms > s->cfg->retry_max_ms) s->backoff_ms = s->cfg->retry_max_ms;
  sl_log_error(sl_stage_name(s->st), "%s (%s): %s; retrying in %lld ms", what, s->repl.label, why,
               (long long)s->backoff_ms);
}

static void on_retry(uv_timer_t *t) {
  pg_cdc *s = t->data;
  if (!s->stopping) pg_conn_connect(&s->repl);
}

static void repl_connected(pg_conn *c) {
  pg_cdc *s = c->owner;
  if (s->stopping) {
    pg_cdc_finish(s);
    return;
  }
  if (s->backoff_ms) sl_log_info(sl_stage_name(s->st), "connected to PostgreSQL (%s)", c->label);
  s->rstep = R_IDENTIFY;
  s->err = 0;
  pg_conn_send(c, "IDENTIFY_SYSTEM");
}

static void repl_result(pg_conn *c, PGresult *r) {
  pg_cdc *s = c->owner;
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COPY_BOTH) {
    s->streaming = 1;
    s->backoff_ms = 0;
    s->in_txn = 0;
    pg_conn_stream(c);
    if (s->stopping) {
      pg_cdc_finish(s);
      return;
    }
    if (sl_source_paused(s->st)) pg_conn_stream_read(c, 0);
    uv_timer_start(&s->status, on_status_timer, (uint64_t)s->cfg->status_ms,
                   (uint64_t)s->cfg->status_ms);
    return;
  }
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    if (!s->err) {
      s->err = 1;
      s->err_reason.len = 0;
      pg_error_reason(r, &s->err_reason);
    }
    return;
  }
  if (s->rstep == R_IDENTIFY && PQntuples(r) == 1 && PQnfields(r) >= 3) {
    uint64_t pos;
    if (pg_lsn_parse(PQgetvalue(r, 0, 2), &pos) == 0 && pos > s->server_end) s->server_end = pos;
  } else if (s->rstep == R_CREATE && PQntuples(r) == 1 && PQnfields(r) >= 3) {
    /* slot_name, consistent_point, snapshot_name, output_plugin */
    pg_lsn_parse(PQgetvalue(r, 0, 1), &s->consistent_lsn);
    snprintf(s->snapshot_name, sizeof s->snapshot_name, "%s", PQgetvalue(r, 0, 2));
  }
}

static void repl_done(pg_conn *c) {
  pg_cdc *s = c->owner;
  if (s->err) {
    s->err = 0;
    const char *why = s->err_reason.ptr ? s->err_reason.ptr : "failed";
    if (s->rstep == R_CREATE) {
      sl_stage_fatal(s->st, "cannot create replication slot %s: %s", s->cfg->slot, why);
      pg_cdc_finish(s);
      return;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why);
    pg_conn_close(c);
    s->streaming = 0;
    retry_later(s, s->rstep == R_START ? "cannot start replication" : "replication failed", msg);
    uv_timer_start(&s->retry, on_retry, (uint64_t)s->backoff_ms, 0);
    return;
  }
  if (s->stopping) {
    pg_cdc_finish(s);
    return;
  }
  switch (s->rstep) {
    case R_IDENTIFY:
      if (s->need_create) {
        s->rstep = R_CREATE;
        char sql[160];
        /* EXPORT_SNAPSHOT: the snapshot lives while this session stays idle. */
        snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput %s", s->cfg->slot,
                 s->do_snapshot ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
        pg_conn_send(c, sql);
        return;
      }
      pg_cdc_start_replication(s);
      return;
    case R_CREATE: {
      s->need_create = 0;
      s->start_lsn = s->consistent_lsn;
      s->cp_lsn = s->consistent_lsn;
      char l[24];
      pg_lsn_format(s->consistent_lsn, l);
      sl_log_info(sl_stage_name(s->st), "created replication slot %s at %s", s->cfg->slot, l);
      if (!s->do_snapshot) {
        pg_cdc_start_replication(s);
        return;
      }
      pg_cdc_snapshot_begin(s);
      return;
    }
    default:
      return;
  }
}

static void repl_broken(pg_conn *c, const char *why) {
  pg_cdc *s = c->owner;
  uv_timer_stop(&s->status);
  if (s->stopping) {
    s->streaming = 0;
    pg_cdc_finish(s);
    return;
  }
  if (!s->snapshot_done && s->do_snapshot) {
    sl_stage_fatal(s->st, "the replication connection was lost during the initial snapshot (%s); "
                   "start again to take the snapshot anew", why);
    pg_cdc_finish(s);
    return;
  }
  int was = s->streaming;
  s->streaming = 0;
  /* What was read in full goes on; the stream starts again after it. */
  emit_complete(s);
  s->in_txn = 0;
  if (s->cp_lsn > s->start_lsn) s->start_lsn = s->cp_lsn;
  if (s->stopping) {
    pg_cdc_finish(s);
    return;
  }
  retry_later(s, was ? "lost the replication connection" : "cannot connect for replication", why);
  uv_timer_start(&s->retry, on_retry, (uint64_t)s->backoff_ms, 0);
}

static const pg_conn_ops repl_ops = {
    .connected = repl_connected,
    .result = repl_result,
    .done = repl_done,
    .broken = repl_broken,
    .copy_next = NULL,
    .readable = on_readable,
};

/* ---- init: decide where to start (blocking, before the loop) ---- */

static int valid_slot(const char *s) {
  size_t n = strlen(s);
  if (!n || n > 63) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
  return 1;
}

/* The saved position: {"lsn":"X/Y"} in the stream (with "piece": N after
 * a piece of a large transaction), {"snapshot":"X/Y"} during the initial
 * snapshot; anything else is refused, naming it. */
static int load_checkpoint(pg_cdc *s, uint64_t *lsn, int *phase) {
  sl_buf b = SL_BUF_INIT;
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  int rc = pg_checkpoint_load(s->st, &b, &a, &v);
  if (rc) goto done;
  const char *key = "lsn";
  const sl_value *e = pg_json_member(&v, key);
  *phase = PHASE_STREAM;
  if (!e) {
    key = "snapshot";
    e = pg_json_member(&v, key);
    *phase = PHASE_SNAPSHOT;
  }
  const sl_value *piece = *phase == PHASE_STREAM ? pg_json_member(&v, "piece") : NULL;
  if (!e || v.n != 1u + (piece != NULL)) {
    rc = sl_state_corrupt(s->st, "it holds %.*s, not {\"lsn\": \"X/Y\"} nor {\"snapshot\": \"X/Y\"}",
                          (int)(b.len > 300 ? 300 : b.len), b.ptr);
  } else if (piece && (piece->type != SL_T_INT || piece->u.i < 1)) {
    rc = sl_state_corrupt(s->st, "\"piece\" must be a whole number >= 1, got %s",
                          piece->type == SL_T_INT ? "a smaller one" : sl_type_name(piece->type));
  } else if (e->type != SL_T_STRING) {
    rc = sl_state_corrupt(s->st, "\"%s\" must be a string \"X/Y\", got %s", key, sl_type_name(e->type));
  } else {
    char val[32];
    snprintf(val, sizeof val, "%.*s", (int)e->u.s.len, e->u.s.ptr);
    if (e->u.s.len >= sizeof val || pg_lsn_parse(val, lsn))
      rc = sl_state_corrupt(s->st, "\"%s\" is \"%.*s\", not a position X/Y (two hexadecimal numbers)",
                            key, (int)(e->u.s.len > 64 ? 64 : e->u.s.len), e->u.s.ptr);
  }
  if (!rc && piece) s->piece = piece->u.i;   /* the pieces sent again count on */
done:
  sl_arena_free(&a);
  sl_buf_free(&b);
  return rc;
}

static int plan(pg_cdc *s, PGconn *c) {
  pg_cdc_cfg *cfg = s->cfg;
  const char *name = sl_stage_name(s->st);
  const char *v[1] = {cfg->publication};
  PGresult *r = pg_exec_params(s->st, c, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", 1, v);
  if (!r) return SL_EIO;
  int have = PQntuples(r) == 1;
  PQclear(r);
  if (!have) {
    sl_log_error(name, "%s: publication \"%s\" does not exist in this database "
                 "(CREATE PUBLICATION %s FOR TABLE ...; see docs/postgres.md)",
                 sl_stage_where(s->st), cfg->publication, cfg->publication);
    return SL_EOPTION;
  }
  const char *vs[1] = {cfg->slot};
  r = pg_exec_params(s->st, c,
                     "SELECT plugin, database = current_database(), active, "
                     "coalesce(to_jsonb(s) ->> 'wal_status', '') = 'lost' "   /* PG 13+ */
                     "FROM pg_catalog.pg_replication_slots s WHERE slot_name = $1",
                     1, vs);
  if (!r) return SL_EIO;
  int slot = PQntuples(r) == 1;
  if (slot && (strcmp(PQgetvalue(r, 0, 0), "pgoutput") != 0 || PQgetvalue(r, 0, 1)[0] != 't')) {
    sl_log_error(name, "%s: replication slot %s exists but is not a pgoutput slot of this database",
                 sl_stage_where(s->st), cfg->slot);
    PQclear(r);
    return SL_EOPTION;
  }
  int active = slot && PQgetvalue(r, 0, 2)[0] == 't';
  int lost = slot && PQgetvalue(r, 0, 3)[0] == 't';
  PQclear(r);

  uint64_t lsn = 0;
  int phase = PHASE_STREAM;
  int rc = load_checkpoint(s, &lsn, &phase);
  if (rc && rc != SL_ENOENT) return rc;
  int have_cp = rc == 0;
  char l[24];
  pg_lsn_format(lsn, l);
  if (have_cp && phase == PHASE_STREAM) {
    if (!slot) {
      return sl_state_corrupt(s->st, "it is at %s, but replication slot %s is gone, and with it the "
                              "changes since (a reset starts again with a snapshot)", l, cfg->slot);
    }
    if (lost) {
      return sl_state_corrupt(s->st, "replication slot %s has lost WAL (max_slot_wal_keep_size): the "
                              "changes since the checkpoint at %s are gone (a reset starts again with a "
                              "snapshot)", cfg->slot, l);
    }
    r = pg_exec_params(s->st, c, "SELECT pg_catalog.pg_current_wal_lsn()::text", 0, NULL);
    if (!r) return SL_EIO;
    uint64_t end = 0;
    int bad_end = pg_lsn_parse(PQgetvalue(r, 0, 0), &end);
    PQclear(r);
    /* A position the server has not written yet was edited, or belongs to
     * another cluster: streaming from it would skip every change before it. */
    if (!bad_end && lsn > end) {
      char e[24];
      pg_lsn_format(end, e);
      return sl_state_corrupt(s->st, "it is at %s, past the end of the server's WAL (%s): it was edited "
                              "or belongs to another server, and streaming from it would skip the "
                              "changes before it", l, e);
    }
    s->start_lsn = lsn;
    s->cp_lsn = lsn;
    s->flushed = 0;
    s->snapshot_done = 1;
    sl_log_info(name, "resuming from the checkpoint at %s", l);
    return 0;
  }
  if (!cfg->snapshot) {
    s->snapshot_done = 1;
    if (slot) {
      s->start_lsn = 0;   /* the slot's confirmed position */
      return 0;
    }
    s->need_create = 1;
    return 0;
  }
  if (slot) {
    /* No checkpoint of the stream: the snapshot was never finished (or
     * never started).  Its slot cannot be reused for a new snapshot. */
    if (active) {
      sl_log_error(name, "%s: replication slot %s is in use by another process", sl_stage_where(s->st),
                   cfg->slot);
      return SL_EOPTION;
    }
    sl_log_warn(name, "replication slot %s exists but no snapshot through it finished here; "
                "dropping it to take the snapshot again", cfg->slot);
    r = pg_exec_params(s->st, c, "SELECT pg_catalog.pg_drop_replication_slot($1)", 1, vs);
    if (!r) return SL_EIO;
    PQclear(r);
  }
  s->need_create = 1;
  s->do_snapshot = 1;
  r = pg_exec_params(s->st, c,
                     "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables "
                     "WHERE pubname = $1 ORDER BY 1, 2",
                     1, v);
  if (!r) return SL_EIO;
  int n = PQntuples(r);
  s->tables = calloc((size_t)n + 1, sizeof *s->tables);
  s->table_names = calloc((size_t)n + 1, sizeof *s->table_names);
  if (!s->tables || !s->table_names) {
    PQclear(r);
    return SL_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    char *qs = pg_quote_ident(c, PQgetvalue(r, i, 0));
    char *qt = pg_quote_ident(c, PQgetvalue(r, i, 1));
    sl_buf b = SL_BUF_INIT;
    if (qs && qt) sl_buf_printf(&b, "%s.%s", qs, qt);
    s->tables[i] = pg_buf_cstr(&b);
    sl_buf_printf(&b, "%s.%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    s->table_names[i] = pg_buf_cstr(&b);
    free(qs);
    free(qt);
    s->ntables = i + 1;
    if (!s->tables[i] || !s->table_names[i]) {
      PQclear(r);
      return SL_ENOMEM;
    }
  }
  PQclear(r);
  return 0;
}

static int pg_cdc_init(sl_stage *st) {
  pg_cdc *s = sl_stage_priv(st);
  pg_cdc_cfg *cfg = sl_stage_config(st);
  s->st = st;
  s->cfg = cfg;
  if (!valid_slot(cfg->slot)) {
    sl_log_error(sl_stage_name(st), "%s: slot must be 1 to 63 of a-z, 0-9 and _, got \"%s\"",
                 sl_stage_where(st), cfg->slot);
    return SL_EOPTION;
  }
  if (cfg->status_ms < 100) cfg->status_ms = 100;
  if (cfg->retry_max_ms < 100) cfg->retry_max_ms = 100;
  if (uv_timer_init(sl_stage_loop(st), &s->status) || uv_timer_init(sl_stage_loop(st), &s->retry))
    return SL_ENOMEM;
  s->status.data = s->retry.data = s;
  s->timers_open = 1;
  if (pg_conn_init(&s->repl, st, cfg->dsn, 1, &repl_ops, s) ||
      pg_cdc_snapshot_init(s))
    return SL_ENOMEM;
  PGconn *c = pg_connect_blocking(st, cfg->dsn, s->repl.label);
  if (!c) return SL_EIO;
  int rc = plan(s, c);
  PQfinish(c);
  return rc;
}

static void pg_cdc_destroy(sl_stage *st) {
  pg_cdc *s = sl_stage_priv(st);
  if (s->repl.state == PGC_STREAM) send_status(s, 0);   /* the last acknowledgements */
  if (s->cur) sl_batch_discard(s->cur);
  s->cur = NULL;
  if (s->repl.dsn) pg_conn_destroy(&s->repl);
  if (s->snap.dsn) pg_conn_destroy(&s->snap);
  if (s->timers_open) {
    uv_close((uv_handle_t *)&s->status, NULL);
    uv_close((uv_handle_t *)&s->retry, NULL);
  }
  s->timers_open = 0;
  pgo_relations_free(&s->rels);
  for (int i = 0; i < s->ntables; i++) {
    free(s->tables[i]);
    free(s->table_names[i]);
  }
  free(s->tables);
  free(s->table_names);
  sl_buf_free(&s->line);
  sl_buf_free(&s->err_reason);
}

static int pg_cdc_start(sl_stage *st) {
  pg_cdc *s = sl_stage_priv(st);
  pg_conn_connect(&s->repl);
  return 0;
}

static void pg_cdc_pause(sl_stage *st) {
  pg_cdc *s = sl_stage_priv(st);
  /* Not reading lets TCP hold the server back; status updates still go
   * out on the timer, so wal_sender_timeout does not end the session. */
  pg_conn_stream_read(&s->repl, 0);
}

static void pg_cdc_resume(sl_stage *st) {
  pg_cdc *s = sl_stage_priv(st);
  if (s->finished) return;
  if (s->streaming && s->repl.state == PGC_STREAM) {
    pg_conn_stream_read(&s->repl, 1);
    drain(s);   /* libpq may hold messages already read */
    return;
  }
  pg_cdc_snapshot_resume(s);
}

static void pg_cdc_stop(sl_stage *st) {
  pg_cdc *s = sl_stage_priv(st);
  s->stopping = 1;
  if (s->streaming) {
    pg_conn_stream_read(&s->repl, 0);
    emit_complete(s);
    pg_cdc_finish(s);
    return;
  }
  /* A command or a connection attempt in flight finishes first and sees
   * `stopping`; otherwise (a retry waits, the snapshot waits for resume)
   * there is nothing to wait for. */
  int busy = (s->repl.state != PGC_CLOSED && s->repl.state != PGC_IDLE) ||
             (s->snap_open && s->nstep != N_NONE);
  if (!busy || uv_is_active((uv_handle_t *)&s->retry)) pg_cdc_finish(s);
}

/* /metrics: the replication lag, for the platform's sharing metrics. */
static void pg_cdc_collect(sl_stage *st, sl_collector *c) {
  pg_cdc *s = sl_stage_priv(st);
  int64_t bytes = 0, ms = 0;
  pg_cdc_lag(st, &bytes, &ms);
  sl_collect(c, SL_GAUGE, "pg_cdc_lag_bytes",
             "WAL bytes between the server's end and the position the sinks made durable.", NULL,
             NULL, bytes);
  sl_collect(c, SL_GAUGE, "pg_cdc_lag_milliseconds",
             "Age of the newest durable change while more waits to be confirmed (0 when caught up).",
             NULL, NULL, ms);
  sl_collect(c, SL_GAUGE, "pg_cdc_confirmed_lsn",
             "The flush position last confirmed to the server (an LSN as a number).", NULL, NULL,
             (int64_t)s->flushed);
  sl_collect(c, SL_COUNTER, "pg_cdc_changes_total", "Changes read from the replication stream.",
             NULL, NULL, (int64_t)s->changes);
}

static const sl_option pg_cdc_options[] = {
    {"dsn", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(pg_cdc_cfg, dsn), "libpq connection string or URI of a role with REPLICATION (the password is never logged).", NULL},
    {"slot", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(pg_cdc_cfg, slot), "Logical replication slot (a-z, 0-9, _), created on first start.", NULL},
    {"publication", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(pg_cdc_cfg, publication), "Publication naming the tables to capture.", NULL},
    {"snapshot", SL_OPT_BOOL, "true", 0, offsetof(pg_cdc_cfg, snapshot), "First read the tables' current rows (op \"r\"), consistent with the stream.", NULL},
    {"status_interval", SL_OPT_DURATION, "10s", 0, offsetof(pg_cdc_cfg, status_ms), "How often to confirm the flushed position to the server (heartbeat).", NULL},
    {"retry_max", SL_OPT_DURATION, "10s", 0, offsetof(pg_cdc_cfg, retry_max_ms), "Longest pause between reconnection attempts.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin pg_cdc_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "pg.cdc",
    .doc = "Streams inserts, updates and deletes of PostgreSQL tables by logical replication (pgoutput).",
    .options = pg_cdc_options,
    .config_size = sizeof(pg_cdc_cfg),
    .priv_size = sizeof(pg_cdc),
    .init = pg_cdc_init,
    .destroy = pg_cdc_destroy,
    .start = pg_cdc_start,
    .pause = pg_cdc_pause,
    .resume = pg_cdc_resume,
    .stop = pg_cdc_stop,
    .ack = pg_cdc_ack,
    .checkpoint_encode = pg_cdc_checkpoint_encode,
    .collect = pg_cdc_collect,
};
