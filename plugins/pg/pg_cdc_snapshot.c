/* pg.cdc's initial snapshot: on a second connection, every table of the
 * publication read in a REPEATABLE READ transaction that uses the snapshot
 * the replication slot exported, through a cursor (one batch per FETCH,
 * paused by backpressure), as records with op "r".  When the last table is
 * read, the stream starts where the snapshot ends (pg_cdc.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pg_cdc.h"
#include "sluice/log.h"

static void snap_send(pg_cdc *s, snap_step n, const char *sql) {
  s->nstep = n;
  s->err = 0;
  pg_conn_send(&s->snap, sql);
}

static void snap_fetch(pg_cdc *s) {
  if (s->nstep != N_NONE || !s->snap_open) return;
  if (s->stopping) {
    pg_cdc_finish(s);
    return;
  }
  if (sl_source_paused(s->st)) return;   /* resume fetches */
  char sql[64];
  snprintf(sql, sizeof sql, "FETCH %u FROM sluice_snap", sl_stage_batch_size(s->st));
  snap_send(s, N_FETCH, sql);
}

static void snapshot_step(pg_cdc *s) {
  if (s->table_i >= s->ntables) {
    snap_send(s, N_COMMIT, "COMMIT");
    return;
  }
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "DECLARE sluice_snap NO SCROLL CURSOR FOR SELECT row_to_json(t)::text FROM %s t",
                s->tables[s->table_i]);
  char *sql = pg_buf_cstr(&b);
  if (!sql) {
    sl_stage_fatal(s->st, "out of memory");
    return;
  }
  sl_log_info(sl_stage_name(s->st), "snapshot of %s", s->table_names[s->table_i]);
  snap_send(s, N_DECLARE, sql);
  free(sql);
}

static void snap_connected(pg_conn *c) {
  pg_cdc *s = c->owner;
  char sql[256];
  snprintf(sql, sizeof sql,
           "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '%s'",
           s->snapshot_name);
  snap_send(s, N_BEGIN, sql);
}

static void snap_result(pg_conn *c, PGresult *r) {
  pg_cdc *s = c->owner;
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    if (!s->err) {
      s->err = 1;
      s->err_reason.len = 0;
      pg_error_reason(r, &s->err_reason);
    }
    return;
  }
  if (s->nstep != N_FETCH || st != PGRES_TUPLES_OK) return;
  int n = PQntuples(r);
  s->fetched = (uint32_t)n;
  const char *name = s->table_names[s->table_i];
  size_t nl = strlen(name);
  char lsn[24];
  pg_lsn_format(s->consistent_lsn, lsn);
  for (int i = 0; i < n; i++) {
    sl_buf *b = &s->line;
    b->len = 0;
    sl_buf_puts(b, "{\"op\":\"r\",\"table\":");
    sl_buf_json_string(b, name, nl);
    sl_buf_printf(b, ",\"lsn\":\"%s\",\"after\":", lsn);
    /* row_to_json's text may hold newlines only as whitespace of json columns. */
    const char *v = PQgetvalue(r, i, 0);
    size_t vl = (size_t)PQgetlength(r, i, 0);
    for (size_t k = 0; k < vl; k++) sl_buf_putc(b, v[k] == '\n' || v[k] == '\r' ? ' ' : v[k]);
    sl_buf_putc(b, '}');
    if (pg_cdc_add_record(s, name, nl, (int64_t)s->consistent_lsn)) return;
  }
}

static void snap_done(pg_conn *c) {
  pg_cdc *s = c->owner;
  snap_step n = s->nstep;
  s->nstep = N_NONE;
  if (s->stopping) {
    /* Rows fetched after stop are not emitted: the next start takes the
     * snapshot again anyway. */
    pg_cdc_finish(s);
    return;
  }
  if (s->err) {
    sl_stage_fatal(s->st, "the initial snapshot failed: %s; start again to take it anew",
                   s->err_reason.ptr ? s->err_reason.ptr : "");
    pg_cdc_finish(s);
    return;
  }
  switch (n) {
    case N_BEGIN:
      snapshot_step(s);
      return;
    case N_DECLARE:
      snap_fetch(s);
      return;
    case N_FETCH:
      pg_cdc_emit(s, s->consistent_lsn, PHASE_SNAPSHOT, 0);
      if (s->fetched < sl_stage_batch_size(s->st)) {
        snap_send(s, N_CLOSE, "CLOSE sluice_snap");
        return;
      }
      snap_fetch(s);
      return;
    case N_CLOSE:
      s->table_i++;
      if (s->stopping) {
        pg_cdc_finish(s);
        return;
      }
      snapshot_step(s);
      return;
    case N_COMMIT:
      sl_log_info(sl_stage_name(s->st), "snapshot done: %d tables", s->ntables);
      pg_conn_close(&s->snap);
      s->snap_open = 0;
      s->snapshot_done = 1;
      if (s->stopping) {
        pg_cdc_finish(s);
        return;
      }
      pg_cdc_start_replication(s);
      return;
    default:
      return;
  }
}

static void snap_broken(pg_conn *c, const char *why) {
  pg_cdc *s = c->owner;
  s->snap_open = 0;
  sl_stage_fatal(s->st, "the snapshot connection failed (%s): %s; start again to take it anew",
                 c->label, why);
  pg_cdc_finish(s);
}

static const pg_conn_ops snap_ops = {
    .connected = snap_connected,
    .result = snap_result,
    .done = snap_done,
    .broken = snap_broken,
    .copy_next = NULL,
    .readable = NULL,
};

void pg_cdc_snapshot_begin(pg_cdc *s) {
  for (const char *p = s->snapshot_name; *p; p++)
    if (!isxdigit((unsigned char)*p) && *p != '-') {
      sl_stage_fatal(s->st, "unexpected snapshot name from the server");
      pg_cdc_finish(s);
      return;
    }
  s->snap_open = 1;
  pg_conn_connect(&s->snap);
}

void pg_cdc_snapshot_resume(pg_cdc *s) {
  if (s->snap_open && s->nstep == N_NONE && s->table_i < s->ntables) snap_fetch(s);
}

int pg_cdc_snapshot_init(pg_cdc *s) {
  pg_cdc_cfg *cfg = s->cfg;
  return pg_conn_init(&s->snap, s->st, cfg->dsn, 0, &snap_ops, s);
}
