/* pg.cdc: what its two files share (plugin-internal).
 *
 *   pg_cdc.c           the source: the replication connection, the stream,
 *                      checkpoints and acknowledgements, init
 *   pg_cdc_snapshot.c  the initial snapshot on a second connection
 *
 * The snapshot is a phase the source starts (pg_cdc_snapshot_begin) and
 * drives on resume; it hands its rows to the source's batches and, at its
 * end, starts the stream. */
#ifndef SLUICE_PLUGIN_PG_CDC_H
#define SLUICE_PLUGIN_PG_CDC_H

#include "pg.h"

typedef struct pg_cdc_cfg {
  char *dsn;
  char *slot;
  char *publication;
  int snapshot;
  int64_t status_ms;
  int64_t retry_max_ms;
} pg_cdc_cfg;

typedef enum repl_step {
  R_NONE = 0,
  R_IDENTIFY,
  R_CREATE,
  R_START,
} repl_step;

typedef enum snap_step {
  N_NONE = 0,
  N_BEGIN,
  N_DECLARE,
  N_FETCH,
  N_CLOSE,
  N_COMMIT
} snap_step;

/* What a checkpoint says (cp.b). */
#define PHASE_STREAM 0
#define PHASE_SNAPSHOT 1
/* A checkpoint's b: the phase in the low 8 bits, above them the piece
 * number of a transaction emitted in pieces (0 at a commit). */
#define CP_PHASE(b) ((int)((b) & 0xff))
#define CP_PIECE(b) ((b) >> 8)

typedef struct pg_cdc {
  sl_stage *st;
  pg_cdc_cfg *cfg;
  pg_conn repl;
  pg_conn snap;
  int snap_open;
  repl_step rstep;
  snap_step nstep;
  int err;
  sl_buf err_reason;

  int need_create;              /* make the slot (first start) */
  int do_snapshot;
  uint64_t start_lsn;           /* where START_REPLICATION begins */
  uint64_t consistent_lsn;
  char snapshot_name[128];
  char **tables;                /* quoted, qualified: the snapshot's tables */
  char **table_names;           /* "schema.name" for records */
  int ntables, table_i;
  uint32_t fetched;             /* rows of the last FETCH */
  int snapshot_done;

  int streaming;
  pgo_relations rels;
  sl_batch *cur;
  uint32_t cur_done;            /* records of cur from transactions read in full */
  int64_t piece;                /* pieces of a large transaction emitted: their checkpoints
                                 * differ, which a sink's lost-COMMIT check relies on */
  int in_txn;
  uint64_t txn_lsn;
  int64_t txn_time;
  uint32_t txn_xid;
  uint64_t cp_lsn;              /* end of the last transaction read in full */
  int64_t cp_time;
  uint64_t received;            /* the furthest WAL position received */
  uint64_t server_end;          /* the server's WAL end, as last told */
  uint64_t flushed;             /* confirmed to the server */
  uint64_t idle_lsn;            /* a keepalive's position with nothing in flight */
  uint64_t emitted, acked;      /* batches */
  int64_t acked_time;           /* commit time of the newest acknowledged transaction */

  uv_timer_t status;            /* status updates (heartbeat) */
  uv_timer_t retry;
  int timers_open;
  int64_t backoff_ms;
  int stopping, finished;
  sl_buf line;
  uint64_t changes;
} pg_cdc;

/* ---- pg_cdc.c: the source, for the snapshot ---- */

/* Stops reading and tells the engine the source is done (once). */
void pg_cdc_finish(pg_cdc *s);
/* Adds s->line as a record of the current batch; 0 or SL_ENOMEM (fatal
 * already reported). */
int pg_cdc_add_record(pg_cdc *s, const char *origin, size_t olen, int64_t offset);
/* Emits the current batch, if any, with the checkpoint (lsn, phase, time). */
void pg_cdc_emit(pg_cdc *s, uint64_t lsn, int phase, int64_t time);
/* START_REPLICATION from s->start_lsn. */
void pg_cdc_start_replication(pg_cdc *s);

/* ---- pg_cdc_snapshot.c ---- */

/* The snapshot connection (not yet connected); 0 or SL_ENOMEM. */
int pg_cdc_snapshot_init(pg_cdc *s);
/* Takes the snapshot the slot just exported (s->snapshot_name). */
void pg_cdc_snapshot_begin(pg_cdc *s);
/* Fetches the next batch if the snapshot waits for one (after a pause). */
void pg_cdc_snapshot_resume(pg_cdc *s);

#endif
