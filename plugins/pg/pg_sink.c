/* pg.sink: writes records into a PostgreSQL table, effectively once.
 *
 * The workers have encoded every record as a COPY text row (pg_copy.c).
 * The sink takes the batches queued for it (consecutive ones together, up
 * to transaction_rows) into one transaction on its own connection:
 *
 *   insert:  BEGIN; COPY target (cols) FROM STDIN; <checkpoints>; COMMIT
 *   upsert:  BEGIN; COPY pg_temp.sluice_stage (cols) FROM STDIN;
 *            INSERT INTO target SELECT DISTINCT ON (key) ... ORDER BY key,
 *              sluice_seq DESC ON CONFLICT (key) DO UPDATE ...
 *              WHERE (old values) IS DISTINCT FROM (new values);
 *            <checkpoints>; COMMIT
 *
 * Upsert first tries the insert's way inside a savepoint (COPY straight
 * into the target): that succeeds only if every key is new and appears
 * once, and then the table holds exactly what the upsert would have made,
 * at twice the speed (measured: bench/pg_run).  A unique violation rolls
 * back to the savepoint and the rows go the staging way; while keys keep
 * existing (a stream of updates), the first way is skipped for a while.
 *
 * <checkpoints> upserts each source's position into sluice.checkpoints, so
 * the rows and the position commit together; a source resumes from there
 * (checkpoint_load), which makes kill -9 and restarts exactly-once.  A
 * sink beside other sinks is not resumed from: it stores its positions
 * under "<source>#<sink>" (ckpt_source), for its own lost COMMITs only.  In
 * upsert mode the last record of a key wins; with newer_by, the record with
 * the greatest value of that column does (see build): records of one key
 * that come through different partitions or topics arrive in no set order.
 *
 * Order: one connection, one transaction at a time, batches taken in the
 * order they were written (the flow hands them over in each source's
 * order); a transaction that fails or whose COMMIT is in doubt is done
 * again before any later batch.  So rows, and the positions stored with
 * them, never go backwards.
 *
 * Bad rows (a data exception or a constraint: SQLSTATE 22xxx, 23xxx) do not
 * stop the pipeline: the transaction is rolled back and done again with a
 * savepoint per range of rows, halving the ranges that fail until each bad
 * row is alone; those go to the dead-letter sink with the server's reason
 * (sl_sink_send_rejects), and once they are durable there the rest commit
 * with the checkpoints, still in one transaction, left open meanwhile.
 * Committing first would lose them to a crash before the dead-letter sink
 * made them durable: the restart resumes past them.
 *
 * Connection errors keep the batches queued (the in-flight bound then
 * pauses the sources) and reconnect with a backoff from 100 ms to
 * retry_max; a statement whose connection shows no sign of life for
 * answer_timeout is such an error (pg_conn.c), and the next connection
 * ends the old session if the server still runs it.  A COMMIT whose answer was lost is checked on reconnect: if
 * sluice.checkpoints holds the transaction's positions it committed, and
 * the batches are acknowledged without being written again; a transaction
 * of sources without positions stores a token of its own for that
 * (add_tx_token).
 *
 * Several tables (tables = { ... }, route = "field"): the pgcopy_routed
 * codec tags each row with its table's index; a transaction copies (and
 * merges) each table with rows in turn, each with its own statements and
 * staging table (pg_sink_tables.c, pg_sink_sql.c), then stores the
 * checkpoints and commits: every table and the positions together.  The
 * single-table form is a list of one table, with untagged rows.
 *
 * The queue, the pauses and the in-order acknowledgement are the sink
 * queue's (sluice/sink_queue.h): its group of batches is the transaction. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg.h"
#include "pg_sink_sql.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

typedef enum step {
  S_IDLE = 0,
  S_STAGE,          /* creating the staging table (upsert), once per connection */
  S_VERIFY,         /* did the COMMIT whose answer was lost happen? */
  S_BEGIN,
  S_FAST_SAVEPOINT, /* several tables: SAVEPOINT sluice_fast before a later table's fast way */
  S_FAST_COPY,      /* upsert: COPY into the target inside savepoint sluice_fast */
  S_FAST_UNDO,      /* ROLLBACK TO SAVEPOINT sluice_fast: the staging way then */
  S_COPY,
  S_MERGE,
  S_DEAD_LETTERS,   /* bisected: the transaction waits for its dead letters */
  S_CKPT,
  S_COMMIT,
  S_ROLLBACK,
  B_BEGIN,          /* bisecting: a transaction with a savepoint per range */
  B_SAVEPOINT,
  B_COPY,
  B_MERGE,          /* upsert: merge, empty the staging table, release */
  B_MERGE_MORE,     /* upsert, more tables follow in the range: merge, empty the staging table */
  B_RELEASE,        /* insert: release */
  B_ROLLBACK_TO
} step;

typedef struct range {
  uint32_t lo, hi;
} range;

typedef struct source_cp {
  const char *source;     /* the stage's name: lives as long as the pipeline */
  sl_buf cp;
} source_cp;

typedef struct pg_sink {
  sl_stage *st;
  pg_sink_cfg *cfg;
  const sl_codec *codec;            /* pgcopy, or pgcopy_routed for several tables */
  void *cctx;
  pg_conn conn;
  int connected;
  int stage_ready;

  /* The tables, their SQL built once at init (pg_sink_sql.c): one, or
   * several routed by a field (rows tagged with the table's index). */
  pg_sink_table *tabs;
  int ntabs;
  int multi;
  char *stage_sql;                  /* every upsert table's staging table, or NULL */
  int tab;                          /* the table being written */
  uint64_t tx_tables;               /* the tables with rows in the transaction (bits) */
  uint64_t range_tables;            /* bisecting: those with rows in the current range */

  sl_sink_queue q;                  /* the queue, retries, acknowledgement */
  sl_sink_batch *tx;                /* the queue's group: the current transaction */
  uint32_t tx_n;                    /* its rows */
  int64_t tx_started_ms;
  source_cp *cps;                   /* the positions it commits, one per source */
  int ncps, capcps;
  int ckpt_i;
  step step;
  int unknown_commit;               /* COMMIT sent, its answer lost */
  int verified;                     /* S_VERIFY: every position matched so far */
  int resumes;                      /* the sources resume from what it stores */
  sl_buf ckpt_key;                  /* the source column of the current command */
  char tx_key[96];                  /* "#tx#<sink>": see add_tx_token */

  /* COPY feed: rows [feed_row, feed_hi) of the transaction, flattened */
  sl_sink_batch *feed_sb;
  uint32_t feed_base;               /* flattened index of feed_sb's row 0 */
  size_t feed_off, feed_end;        /* bytes of feed_sb still to send */
  uint32_t feed_hi;
  int feed_tag;                     /* several tables: only the rows of this table, else -1 */
  uint32_t feed_row, feed_row_end;  /* several tables: rows of feed_sb still to look at */
  char *feed_scratch;               /* several tables: a table's rows gathered for a message */

  /* bisecting */
  int bisect;
  range *stack;
  int nstack, capstack;
  range cur;
  char **bad;                       /* per flattened row: why it failed, or NULL */
  uint32_t nbad;
  /* per flattened row: handed to the dead-letter sink; unlike bad, kept
   * when the transaction is done again, so a row is not sent twice */
  unsigned char *sent;
  int dl_wait;                      /* dead-letter batches not durable yet */
  int dl_lost;                      /* some failed for good: roll back, fail */

  /* the error of the current command, if any */
  int err;
  char err_state[6];
  pg_err_class err_class;
  sl_buf err_reason;
  step after_rollback;              /* B_BEGIN (bisect) or S_IDLE (retry later) */

  char retry_why[600];              /* a failed transaction, logged once rolled back */
  uint64_t committed_rows, rejected_rows, transactions, reconnects;
  int fast;                         /* the current table tries the fast way */
  uint64_t fast_hits;
} pg_sink;

static void start_tx(pg_sink *k);

static void lost_connection(pg_sink *k, const char *why);

/* A failure to send is reported through `broken`, except on a connection
 * that is not idle, which would be a bug here: start afresh then too. */
static void run_sql(pg_sink *k, step s, const char *sql) {
  k->step = s;
  k->err = 0;
  if (pg_conn_send(&k->conn, sql) == SL_EINVAL) {
    pg_conn_close(&k->conn);
    lost_connection(k, "the connection was not ready for a command");
  }
}

static void send_params(pg_sink *k, step s, const char *sql, int n, const char *const *v) {
  k->step = s;
  k->err = 0;
  if (pg_conn_send_params(&k->conn, sql, n, v) == SL_EINVAL) {
    pg_conn_close(&k->conn);
    lost_connection(k, "the connection was not ready for a command");
  }
}

/* ---- the transaction's rows ---- */

static void clear_bad(pg_sink *k) {
  if (k->bad)
    for (uint32_t i = 0; i < k->tx_n; i++) free(k->bad[i]);
  free(k->bad);
  k->bad = NULL;
  k->nbad = 0;
  k->nstack = 0;
  k->bisect = 0;
}

static size_t row_start(const sl_sink_batch *sb, uint32_t i) { return i ? sb->ends[i - 1] : 0; }

/* Positions the feed on rows [lo, hi) of the transaction: all of them
 * (tag -1), or those of table tag (several tables). */
static void feed_range(pg_sink *k, uint32_t lo, uint32_t hi, int tag) {
  uint32_t base = 0;
  sl_sink_batch *sb = k->tx;
  while (sb && base + sb->n <= lo) {
    base += sb->n;
    sb = sb->next;
  }
  k->feed_sb = sb;
  k->feed_base = base;
  k->feed_hi = hi;
  k->feed_tag = tag;
  if (sb) {
    uint32_t end = hi - base < sb->n ? hi - base : sb->n;
    k->feed_off = row_start(sb, lo - base);
    k->feed_end = row_start(sb, end);
    k->feed_row = lo - base;
    k->feed_row_end = end;
  }
}

/* Messages of at most 1 MiB: rows may straddle them (COPY allows it). */
#define FEED_MAX ((size_t)1 << 20)

/* Several tables: the next rows of table feed_tag, without their tag
 * bytes, gathered into feed_scratch (the rows of a table are interleaved
 * with the others' in the batches); a row larger than the scratch goes as
 * it is. */
static void copy_next_tagged(pg_sink *k, const char **p, size_t *n) {
  size_t len = 0;
  while (k->feed_sb) {
    sl_sink_batch *sb = k->feed_sb;
    while (k->feed_row < k->feed_row_end) {
      uint32_t i = k->feed_row;
      size_t s = row_start(sb, i), e = sb->ends[i];
      if (e == s || (unsigned char)sb->bytes.ptr[s] != (unsigned)k->feed_tag) {
        k->feed_row++;
        continue;
      }
      size_t m = e - s - 1;
      if (len + m > FEED_MAX) {
        if (len) goto out;   /* this row starts the next message */
        k->feed_row++;
        *p = sb->bytes.ptr + s + 1;
        *n = m;
        return;
      }
      memcpy(k->feed_scratch + len, sb->bytes.ptr + s + 1, m);
      len += m;
      k->feed_row++;
    }
    k->feed_base += sb->n;
    k->feed_sb = sb->next;
    if (!k->feed_sb || k->feed_base >= k->feed_hi) {
      k->feed_sb = NULL;
      break;
    }
    k->feed_row = 0;
    k->feed_row_end = k->feed_hi - k->feed_base < k->feed_sb->n ? k->feed_hi - k->feed_base
                                                                 : k->feed_sb->n;
  }
out:
  *p = len ? k->feed_scratch : NULL;
  *n = len;
}

/* The tables with rows among rows [lo, hi) of the transaction, as bits. */
static uint64_t tables_in(pg_sink *k, uint32_t lo, uint32_t hi) {
  if (!k->multi) return lo < hi ? 1 : 0;
  uint64_t m = 0;
  uint32_t base = 0;
  for (sl_sink_batch *sb = k->tx; sb && base < hi; base += sb->n, sb = sb->next)
    for (uint32_t i = lo > base ? lo - base : 0; i < sb->n && base + i < hi; i++) {
      size_t s = row_start(sb, i);
      if (sb->ends[i] > s) m |= (uint64_t)1 << (unsigned char)sb->bytes.ptr[s];
    }
  return m;
}

/* The first table of mask after table `after`, or ntabs. */
static int next_table_in(const pg_sink *k, uint64_t mask, int after) {
  for (int t = after + 1; t < k->ntabs; t++)
    if (mask >> t & 1) return t;
  return k->ntabs;
}

static void copy_next(pg_conn *c, const char **p, size_t *n) {
  pg_sink *k = c->owner;
  if (k->feed_tag >= 0) {
    copy_next_tagged(k, p, n);
    return;
  }
  const size_t max = FEED_MAX;
  while (k->feed_sb) {
    sl_sink_batch *sb = k->feed_sb;
    if (k->feed_off < k->feed_end) {
      size_t len = k->feed_end - k->feed_off;
      if (len > max) len = max;
      *p = sb->bytes.ptr + k->feed_off;
      *n = len;
      k->feed_off += len;
      return;
    }
    k->feed_base += sb->n;
    k->feed_sb = sb->next;
    if (!k->feed_sb || k->feed_base >= k->feed_hi) {
      k->feed_sb = NULL;
      break;
    }
    sb = k->feed_sb;
    uint32_t end = k->feed_hi - k->feed_base < sb->n ? k->feed_hi - k->feed_base : sb->n;
    k->feed_off = 0;
    k->feed_end = row_start(sb, end);
  }
  *p = NULL;
  *n = 0;
}

/* ---- acknowledging ---- */

/* The transaction committed; its rejected rows went to the dead-letter
 * sink before (send_dead_letters). */
static void forget_tx(pg_sink *k);

static void ack_tx(pg_sink *k) {
  sl_log_debug(sl_stage_name(k->st), "committed %u rows (%u rejected) in %lld ms", k->tx_n, k->nbad,
               (long long)(sl_mono_ms() - k->tx_started_ms));
  k->committed_rows += k->tx_n - k->nbad;
  k->rejected_rows += k->nbad;
  k->transactions++;
  forget_tx(k);
  sl_sink_queue_written(&k->q, 0, NULL);
}

/* The dead letters of the transaction's bad rows failed for good: it was
 * rolled back, and its batches fail (the pipeline is stopping; they are
 * read again on the next start).  Committing would store positions past
 * the lost dead letters. */
static void fail_tx(pg_sink *k) {
  sl_log_error(sl_stage_name(k->st), "the dead letters of its bad rows were lost: the transaction of "
               "%u rows (%u bad) was rolled back and is read again on the next start",
               k->tx_n, k->nbad);
  forget_tx(k);
  sl_sink_queue_written(&k->q, SL_EIO, "the dead letters of its bad rows were lost; "
                        "the transaction was rolled back");
}

static int dead_letters_were_lost(void *ctx, int err) {
  (void)err;
  return ((pg_sink *)ctx)->dl_lost;
}

static void forget_tx(pg_sink *k) {
  clear_bad(k);
  free(k->sent);
  k->sent = NULL;
  k->tx = NULL;
  k->tx_n = 0;
  for (int i = 0; i < k->ncps; i++) sl_buf_free(&k->cps[i].cp);
  k->ncps = 0;
  k->step = S_IDLE;
  k->unknown_commit = 0;
}

/* ---- the steps ---- */

/* The row of sluice.checkpoints a source's position goes to.  The sink the
 * sources resume from (the pipeline's only one) uses the source's name;
 * a sink beside others uses "<source>#<sink>": its positions only settle
 * its own COMMITs whose answer was lost, and a position another sink
 * stored must not pass for its own. */
static const char *ckpt_source(pg_sink *k, const char *source) {
  if (k->resumes) return source;
  k->ckpt_key.len = 0;
  sl_buf_printf(&k->ckpt_key, "%s#%s", source, sl_stage_name(k->st));
  pg_buf_nul(&k->ckpt_key);
  return k->ckpt_key.oom ? source : k->ckpt_key.ptr;
}

static void checkpoints_or_commit(pg_sink *k) {
  if (k->ckpt_i < k->ncps) {
    source_cp *c = &k->cps[k->ckpt_i++];
    const char *v[3] = {sl_pipeline_name(sl_stage_pipeline(k->st)), ckpt_source(k, c->source),
                        c->cp.ptr};
    SL_CRASH_POINT("pg.sink.before_checkpoint");
    send_params(k, S_CKPT, pg_sink_ckpt_sql, 3, v);
    return;
  }
  SL_CRASH_POINT("pg.sink.before_commit");
  run_sql(k, S_COMMIT, "COMMIT");
  /* The COMMIT is on its way and its answer not back: the case of a lost
   * answer, which the restart settles from sluice.checkpoints. */
  SL_CRASH_POINT("pg.sink.after_commit_sent");
}

static void commit_tx(pg_sink *k) {
  k->ckpt_i = 0;
  checkpoints_or_commit(k);
}

/* Whether the current table tries the fast way (upsert, not skipping it). */
static int try_fast(pg_sink *k) {
  pg_sink_table *t = &k->tabs[k->tab];
  if (!t->upsert) return 0;
  if (t->fast_skip) {
    t->fast_skip--;
    return 0;
  }
  return 1;
}

/* The current table's rows: COPY (straight into it on the fast way). */
static void copy_table(pg_sink *k) {
  if (k->tab >= k->ntabs) {
    commit_tx(k);
    return;
  }
  pg_sink_table *t = &k->tabs[k->tab];
  feed_range(k, 0, k->tx_n, k->multi ? k->tab : -1);
  SL_CRASH_POINT("pg.sink.before_copy");
  run_sql(k, k->fast ? S_FAST_COPY : S_COPY, k->fast ? t->sql.fast_copy : t->sql.copy);
}

/* The next table with rows, or the checkpoints and COMMIT. */
static void next_table(pg_sink *k) {
  k->tab = next_table_in(k, k->tx_tables, k->tab);
  if (k->tab >= k->ntabs) {
    commit_tx(k);
    return;
  }
  k->fast = try_fast(k);
  if (k->fast) run_sql(k, S_FAST_SAVEPOINT, "SAVEPOINT sluice_fast");
  else copy_table(k);
}

/* Bisecting: the current table's rows of the range, or the release. */
static void bisect_table(pg_sink *k) {
  if (k->tab >= k->ntabs) {
    run_sql(k, B_RELEASE, "RELEASE SAVEPOINT sluice_try");
    return;
  }
  feed_range(k, k->cur.lo, k->cur.hi, k->multi ? k->tab : -1);
  run_sql(k, B_COPY, k->tabs[k->tab].sql.copy);
}

/* Bisecting, the current table copied: merge it (upsert), then the next
 * table; the last one releases the savepoint with its merge. */
static void bisect_copied(pg_sink *k) {
  pg_sink_table *t = &k->tabs[k->tab];
  int next = next_table_in(k, k->range_tables, k->tab);
  if (t->upsert) {
    if (next >= k->ntabs) run_sql(k, B_MERGE, t->sql.bisect_merge);
    else run_sql(k, B_MERGE_MORE, t->sql.bisect_merge_keep);
    return;
  }
  if (next >= k->ntabs) {
    run_sql(k, B_RELEASE, "RELEASE SAVEPOINT sluice_try");
    return;
  }
  k->tab = next;
  bisect_table(k);
}

static void rollback(pg_sink *k, step after);

static void dead_letters_durable(void *arg) {
  pg_sink *k = arg;
  k->dl_wait--;
  /* A callback of an attempt whose connection was lost finds another step. */
  if (k->dl_wait != 0 || k->step != S_DEAD_LETTERS) return;
  for (sl_sink_batch *sb = k->tx; sb; sb = sb->next)
    if (sl_sink_batch_lost(sb)) k->dl_lost = 1;
  if (k->dl_lost) rollback(k, S_IDLE);
  else commit_tx(k);
}

/* The bad rows are known: they go to the dead-letter sink, and the
 * transaction, which stores the sources' positions past them, commits only
 * once they are durable there.  Committing first would lose them to a
 * crash in between: the restart resumes after them.  The transaction stays
 * open meanwhile (the loop goes on; only this sink waits).  Rows sent by an
 * earlier attempt of the same transaction are not sent again. */
static void send_dead_letters(pg_sink *k) {
  if (!k->sent) k->sent = calloc(k->tx_n ? k->tx_n : 1, 1);
  if (!k->sent) {
    sl_stage_fatal(k->st, "out of memory sending the bad rows to the dead-letter sink");
    return;
  }
  k->step = S_DEAD_LETTERS;
  k->dl_wait++;   /* held while sending: a dead-letter sink may finish inside write */
  uint32_t idx = 0, n = 0;
  for (sl_sink_batch *sb = k->tx; sb; sb = sb->next) {
    int any = 0;
    for (uint32_t i = 0; i < sb->n; i++, idx++)
      if (k->bad[idx] && !k->sent[idx]) {
        sl_sink_reject(sb, i, k->bad[idx]);
        k->sent[idx] = 1;
        any = 1;
        n++;
      }
    if (any && sl_sink_send_rejects(sb, dead_letters_durable, k) == 0) k->dl_wait++;
  }
  if (n)
    sl_log_debug(sl_stage_name(k->st), "committing once %u dead letters are durable", n);
  dead_letters_durable(k);   /* drops the hold */
}

static void bisect_next(pg_sink *k) {
  if (!k->nstack) {
    send_dead_letters(k);
    return;
  }
  k->cur = k->stack[--k->nstack];
  run_sql(k, B_SAVEPOINT, "SAVEPOINT sluice_try");
}

static int push_range(pg_sink *k, uint32_t lo, uint32_t hi) {
  if (lo >= hi) return 0;
  if (k->nstack == k->capstack) {
    int cap = k->capstack ? k->capstack * 2 : 64;
    range *s = realloc(k->stack, (size_t)cap * sizeof *s);
    if (!s) return SL_ENOMEM;
    k->stack = s;
    k->capstack = cap;
  }
  k->stack[k->nstack++] = (range){lo, hi};
  return 0;
}

/* Splits a failed range, or marks its one row bad. */
static int split_range(pg_sink *k) {
  range r = k->cur;
  if (r.hi - r.lo == 1) {
    if (!k->bad[r.lo]) {
      k->bad[r.lo] = strdup(k->err_reason.ptr ? k->err_reason.ptr : "rejected by PostgreSQL");
      k->nbad++;
    }
    return 0;
  }
  uint32_t mid = r.lo + (r.hi - r.lo) / 2;
  /* Right half first: the stack pops the left one next, so rows are tried
   * in their order and, in upsert mode, the last record of a key wins. */
  if (push_range(k, mid, r.hi) || push_range(k, r.lo, mid)) return SL_ENOMEM;
  return 0;
}

static void start_bisect(pg_sink *k) {
  clear_bad(k);
  k->bad = calloc(k->tx_n ? k->tx_n : 1, sizeof *k->bad);
  if (!k->bad) {
    sl_stage_fatal(k->st, "out of memory isolating bad rows");
    return;
  }
  k->bisect = 1;
  uint32_t mid = k->tx_n / 2;
  if (k->tx_n == 1) push_range(k, 0, 1);
  else if (push_range(k, mid, k->tx_n) || push_range(k, 0, mid)) {
    sl_stage_fatal(k->st, "out of memory isolating bad rows");
    return;
  }
  sl_log_info(sl_stage_name(k->st), "a transaction of %u rows failed (%s); isolating the bad rows",
              k->tx_n, k->err_reason.ptr ? k->err_reason.ptr : "");
  /* Deferred constraints would only fail at COMMIT, outside any savepoint. */
  run_sql(k, B_BEGIN, "BEGIN; SET CONSTRAINTS ALL IMMEDIATE");
}

static void lost_connection(pg_sink *k, const char *why) {
  int was = k->connected;
  k->reconnects++;
  if (k->step == S_COMMIT) k->unknown_commit = 1;
  k->connected = 0;
  k->stage_ready = 0;
  k->step = S_IDLE;
  if (k->tx && !k->unknown_commit) clear_bad(k);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s PostgreSQL (%s): %s; %s%u rows wait",
           was ? "lost the connection to" : "cannot connect to", k->conn.label, why,
           k->unknown_commit ? "the last COMMIT's outcome is unknown; " : "",
           (unsigned)sl_sink_queue_records(&k->q));
  /* After the pause: the transaction again (write_tx), or reconnect_idle. */
  sl_sink_queue_retry(&k->q, msg);
}

static void rollback(pg_sink *k, step after) {
  k->after_rollback = after;
  run_sql(k, S_ROLLBACK, "ROLLBACK");
}

/* The current command failed: what now depends on the error and the step. */
static void on_error(pg_sink *k) {
  const char *why = k->err_reason.ptr ? k->err_reason.ptr : "query failed";
  if (k->err_class == PG_ERR_CONNECTION) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why);
    pg_conn_close(&k->conn);
    lost_connection(k, msg);
    return;
  }
  step s = k->step;
  if (s == S_FAST_COPY && k->err_class == PG_ERR_DATA) {
    const char *state = k->err_state;
    if (!strcmp(state, "23505")) {
      /* A key exists or repeats: the staging way, and not this way for
       * the next few transactions (more each time it fails in a row). */
      pg_sink_table *t = &k->tabs[k->tab];
      t->fast_backoff = t->fast_backoff ? (t->fast_backoff < 64 ? t->fast_backoff * 2 : 64) : 1;
      t->fast_skip = t->fast_backoff;
      run_sql(k, S_FAST_UNDO, "ROLLBACK TO SAVEPOINT sluice_fast");
      return;
    }
  }
  if (k->err_class == PG_ERR_DATA) {
    if (s == S_COPY || s == S_MERGE || s == S_COMMIT || s == S_FAST_COPY) {
      rollback(k, B_BEGIN);
      return;
    }
    if (s == B_COPY || s == B_MERGE || s == B_MERGE_MORE || s == B_RELEASE) {
      run_sql(k, B_ROLLBACK_TO, "ROLLBACK TO SAVEPOINT sluice_try");
      return;
    }
  }
  if (s == S_STAGE) {
    sl_log_error(sl_stage_name(k->st), "cannot create the staging table: %s", why);
    pg_conn_close(&k->conn);
    lost_connection(k, why);
    return;
  }
  if (s == S_ROLLBACK || s == S_VERIFY) {
    /* Nothing sensible is left on this connection: start afresh. */
    char msg[512];
    snprintf(msg, sizeof msg, "%s", why);
    pg_conn_close(&k->conn);
    lost_connection(k, msg);
    return;
  }
  /* Logged with the pause once rolled back, when the pause starts. */
  snprintf(k->retry_why, sizeof k->retry_why, "a transaction of %u rows failed: %s", k->tx_n, why);
  rollback(k, S_IDLE);
}

static void on_result(pg_conn *c, PGresult *r) {
  pg_sink *k = c->owner;
  ExecStatusType s = PQresultStatus(r);
  if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR) {
    if (k->err) return;   /* the first error says why */
    k->err = 1;
    k->err_class = pg_classify(c->pq, r);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(k->err_state, sizeof k->err_state, "%s", state ? state : "");
    k->err_reason.len = 0;
    pg_error_reason(r, &k->err_reason);
    if (!strcmp(k->err_state, "23502")) {
      /* A field that is null or absent is copied as NULL: a newcomer
       * expects the column's DEFAULT, which COPY applies only to columns
       * it is not given. */
      const char *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
      sl_buf_printf(&k->err_reason,
                    "; hint: column %s is NOT NULL; a null (or missing) field is written as NULL, "
                    "column defaults do not apply: drop the column from `columns` or set a value "
                    "in a step", col ? col : "(unknown)");
    }
    return;
  }
  if (k->step == S_VERIFY && s == PGRES_TUPLES_OK) {
    source_cp *cp = &k->cps[k->ckpt_i - 1];
    int same = PQntuples(r) == 1 && cp->cp.ptr && strcmp(PQgetvalue(r, 0, 0), cp->cp.ptr) == 0;
    if (!same) k->verified = 0;
  }
}

static void verify_next(pg_sink *k) {
  if (k->ckpt_i < k->ncps) {
    source_cp *c = &k->cps[k->ckpt_i++];
    const char *v[2] = {sl_pipeline_name(sl_stage_pipeline(k->st)), ckpt_source(k, c->source)};
    send_params(k, S_VERIFY, pg_sink_ckpt_get_sql, 2, v);
    return;
  }
  if (k->verified) {
    sl_log_info(sl_stage_name(k->st), "the transaction whose COMMIT answer was lost did commit; "
                "acknowledging its %u rows without writing them again", k->tx_n);
    ack_tx(k);
    return;
  }
  sl_log_info(sl_stage_name(k->st), "the transaction whose COMMIT answer was lost did not commit; "
              "writing its %u rows again", k->tx_n);
  k->unknown_commit = 0;
  start_tx(k);
}

/* After a (re)connection: the staging table, then the lost COMMIT, then on. */
static void resume_work(pg_sink *k) {
  if (k->stage_sql && !k->stage_ready) {
    run_sql(k, S_STAGE, k->stage_sql);
    return;
  }
  if (k->tx && k->unknown_commit) {
    k->ckpt_i = 0;
    k->verified = 1;
    verify_next(k);
    return;
  }
  if (k->tx) start_tx(k);
  else sl_sink_queue_kick(&k->q);
}

static void on_done(pg_conn *c) {
  pg_sink *k = c->owner;
  if (k->err) {
    on_error(k);
    return;
  }
  step s = k->step;
  k->step = S_IDLE;   /* the next command, if any, sets it again */
  switch (s) {
    case S_STAGE:
      k->stage_ready = 1;
      resume_work(k);
      return;
    case S_VERIFY:
      verify_next(k);
      return;
    case S_BEGIN:
    case S_FAST_SAVEPOINT:
      copy_table(k);
      return;
    case S_FAST_COPY:
      k->fast_hits++;
      k->tabs[k->tab].fast_backoff = 0;
      next_table(k);
      return;
    case S_FAST_UNDO:
      k->fast = 0;
      copy_table(k);
      return;
    case S_COPY:
      SL_CRASH_POINT("pg.sink.after_copy");
      if (k->tabs[k->tab].upsert) {
        run_sql(k, S_MERGE, k->tabs[k->tab].sql.merge);
        return;
      }
      /* fall through */
    case S_MERGE:
      next_table(k);
      return;
    case S_CKPT:
      SL_CRASH_POINT("pg.sink.after_checkpoint");
      checkpoints_or_commit(k);
      return;
    case S_COMMIT:
      SL_CRASH_POINT("pg.sink.after_commit");
      ack_tx(k);
      return;
    case S_ROLLBACK:
      if (k->dl_lost) fail_tx(k);
      else if (k->after_rollback == B_BEGIN) start_bisect(k);
      else sl_sink_queue_retry(&k->q, k->retry_why);
      return;
    case B_BEGIN:
      bisect_next(k);
      return;
    case B_SAVEPOINT:
      k->range_tables = tables_in(k, k->cur.lo, k->cur.hi);
      k->tab = next_table_in(k, k->range_tables, -1);
      bisect_table(k);
      return;
    case B_COPY:
      bisect_copied(k);
      return;
    case B_MERGE_MORE:
      k->tab = next_table_in(k, k->range_tables, k->tab);
      bisect_table(k);
      return;
    case B_MERGE:
    case B_RELEASE:
      bisect_next(k);
      return;
    case B_ROLLBACK_TO:
      if (split_range(k)) {
        sl_stage_fatal(k->st, "out of memory isolating bad rows");
        return;
      }
      bisect_next(k);
      return;
    case S_DEAD_LETTERS:   /* no command is sent while waiting */
    case S_IDLE:
      return;
  }
}

static void on_connected(pg_conn *c) {
  pg_sink *k = c->owner;
  if (sl_sink_queue_backoff_ms(&k->q))
    sl_log_info(sl_stage_name(k->st), "connected to PostgreSQL (%s)", c->label);
  k->connected = 1;
  k->step = S_IDLE;
  resume_work(k);
}

static void on_broken(pg_conn *c, const char *why) {
  pg_sink *k = c->owner;
  lost_connection(k, why);
}

static const pg_conn_ops sink_ops = {
    .connected = on_connected,
    .result = on_result,
    .done = on_done,
    .broken = on_broken,
    .copy_next = copy_next,
    .readable = NULL,
};

/* ---- transactions ---- */

static int add_checkpoint(pg_sink *k, sl_sink_batch *sb) {
  const char *source = NULL;
  sl_buf b = SL_BUF_INIT;
  int rc = sl_sink_batch_checkpoint(sb, &source, &b);
  if (rc) {
    sl_buf_free(&b);
    return rc == SL_ENOENT ? 0 : rc;
  }
  sl_buf_putc(&b, 0);
  if (b.oom) return SL_ENOMEM;
  /* Checkpoints are stored as text without the trailing newline. */
  while (b.len > 1 && (b.ptr[b.len - 2] == '\n' || b.ptr[b.len - 2] == '\r')) {
    b.ptr[b.len - 2] = 0;
    b.len--;
  }
  for (int i = 0; i < k->ncps; i++)
    if (strcmp(k->cps[i].source, source) == 0) {
      /* A later batch of the same source: its position wins. */
      sl_buf_free(&k->cps[i].cp);
      k->cps[i].cp = b;
      return 0;
    }
  if (k->ncps == k->capcps) {
    int cap = k->capcps ? k->capcps * 2 : 4;
    source_cp *n = realloc(k->cps, (size_t)cap * sizeof *n);
    if (!n) {
      sl_buf_free(&b);
      return SL_ENOMEM;
    }
    k->cps = n;
    k->capcps = cap;
  }
  k->cps[k->ncps].source = source;
  k->cps[k->ncps].cp = b;
  k->ncps++;
  return 0;
}

/* A transaction none of whose sources keeps a position (kafka.source,
 * generate) still writes one row of sluice.checkpoints, under
 * "#tx#<sink>", whose value no other transaction had: a COMMIT whose
 * answer was lost is then settled by reading it back, as a position would
 * settle it, instead of writing the rows again.  One position is enough
 * with several sources: the transaction committed all or nothing. */
static int add_tx_token(pg_sink *k) {
  static uint64_t seq;
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "tx %lld-%ld-%llu", (long long)sl_now_ms(), (long)getpid(),
                (unsigned long long)++seq);
  sl_buf_putc(&b, 0);
  if (b.oom) {
    sl_buf_free(&b);
    return SL_ENOMEM;
  }
  if (k->ncps == k->capcps) {
    source_cp *n = realloc(k->cps, 4 * sizeof *n);
    if (!n) {
      sl_buf_free(&b);
      return SL_ENOMEM;
    }
    k->cps = n;
    k->capcps = 4;
  }
  k->cps[0].source = k->tx_key;
  k->cps[0].cp = b;
  k->ncps = 1;
  return 0;
}

static void start_tx(pg_sink *k) {
  clear_bad(k);
  k->unknown_commit = 0;
  k->tx_started_ms = sl_mono_ms();
  k->tx_tables = tables_in(k, 0, k->tx_n);
  k->tab = next_table_in(k, k->tx_tables, -1);
  k->fast = k->tab < k->ntabs && try_fast(k);
  run_sql(k, S_BEGIN, k->fast ? "BEGIN; SAVEPOINT sluice_fast" : "BEGIN");
}

/* The queue's group, up to tx_rows rows, becomes the transaction; the same
 * group comes again after a pause (its positions are taken once). */
static void write_tx(void *ctx, sl_sink_batch *first, uint32_t n) {
  pg_sink *k = ctx;
  (void)n;
  if (k->tx != first) {
    for (int i = 0; i < k->ncps; i++) sl_buf_free(&k->cps[i].cp);
    k->ncps = 0;
    k->tx = first;
    k->tx_n = 0;
    for (sl_sink_batch *sb = first; sb; sb = sb->next) {
      k->tx_n += sb->n;
      if (add_checkpoint(k, sb)) {
        sl_stage_fatal(k->st, "out of memory encoding a checkpoint");
        return;
      }
    }
    if (!k->ncps && add_tx_token(k)) {
      sl_stage_fatal(k->st, "out of memory making a transaction token");
      return;
    }
  }
  /* Reconnected, resume_work starts it. */
  if (!k->connected) {
    pg_conn_connect(&k->conn);
    return;
  }
  start_tx(k);
}

/* A new group only on a connection at rest. */
static int ready_for_tx(void *ctx) {
  const pg_sink *k = ctx;
  return k->connected && k->step == S_IDLE;
}

/* The pause after losing an idle connection is over. */
static void reconnect_idle(void *ctx) {
  pg_sink *k = ctx;
  if (!k->connected) pg_conn_connect(&k->conn);
}

static const sl_sink_queue_ops pg_sink_queue_ops = {
    .write = write_tx,
    .permanent = dead_letters_were_lost,   /* every other error is retried */
    .ready = ready_for_tx,
    .resume = reconnect_idle,
};

/* ---- callbacks ---- */

static int pg_sink_write(sl_stage *st, sl_sink_batch *sb) {
  pg_sink *k = sl_stage_priv(st);
  sl_sink_queue_push(&k->q, sb);
  return 0;
}

static void pg_sink_flush(sl_stage *st) {
  pg_sink *k = sl_stage_priv(st);
  sl_sink_queue_flush(&k->q);
}

/* setup_sql: statements run once at start, before the table is read, so
 * that they may create it.  One simple query: its statements run in one
 * transaction.  Making them idempotent (IF NOT EXISTS) is the pipeline's
 * part: they run at every start. */
static int run_setup_sql(sl_stage *st, PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType s = PQresultStatus(r);
  int rc = 0;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
    sl_buf why = SL_BUF_INIT;
    pg_error_reason(r, &why);
    sl_log_error(sl_stage_name(st), "%s: setup_sql failed: %s", sl_stage_where(st),
                 why.ptr ? why.ptr : "query failed");
    sl_buf_free(&why);
    rc = SL_EIO;
  }
  PQclear(r);
  return rc;
}

/* Each table's statements (and staging table), then the codec: pgcopy
 * for one table, pgcopy_routed over the tables' contexts for several. */
static int build_tables(pg_sink *k, PGconn *c) {
  sl_buf stage = SL_BUF_INIT;
  for (int i = 0; i < k->ntabs; i++) {
    pg_sink_table *t = &k->tabs[i];
    int rc = pg_sink_sql_build(k->st, &t->cfg, t->upsert, c, k->conn.label, t->stage, &t->sql,
                               &t->cctx);
    if (rc) {
      sl_buf_free(&stage);
      return rc;
    }
    if (t->upsert) sl_buf_printf(&stage, "%s%s", stage.len ? "; " : "", t->sql.stage);
  }
  if (stage.len) {
    k->stage_sql = pg_buf_cstr(&stage);
    if (!k->stage_sql) return SL_ENOMEM;
  }
  sl_buf_free(&stage);
  if (!k->multi) {
    k->codec = &pg_copy_codec;
    k->cctx = k->tabs[0].cctx;
    k->tabs[0].cctx = NULL;
    return 0;
  }
  char *routes[PG_COPY_MAX_TABLES];
  void *ctxs[PG_COPY_MAX_TABLES];
  for (int i = 0; i < k->ntabs; i++) {
    routes[i] = k->tabs[i].route;
    ctxs[i] = k->tabs[i].cctx;
    k->tabs[i].cctx = NULL;   /* the router's now, whatever happens */
  }
  k->codec = &pg_copy_routed_codec;
  k->cctx = pg_copy_routed_new(k->cfg->route, routes, ctxs, k->ntabs,
                               strcmp(k->cfg->others, "dlq") == 0);
  return k->cctx ? 0 : SL_ENOMEM;
}

static int pg_sink_init(sl_stage *st) {
  pg_sink *k = sl_stage_priv(st);
  pg_sink_cfg *cfg = sl_stage_config(st);
  k->st = st;
  k->cfg = cfg;
  k->feed_tag = -1;
  int rc = pg_sink_tables_parse(st, cfg, &k->tabs, &k->ntabs);
  if (rc) return rc;
  k->multi = cfg->tables != LUA_NOREF;
  if (k->multi && !(k->feed_scratch = malloc(FEED_MAX))) return SL_ENOMEM;
  if (cfg->tx_rows < 1) cfg->tx_rows = 1;
  if (cfg->retry_max_ms < 100) cfg->retry_max_ms = 100;
  sl_sink_queue_cfg qc = {.max_records = (uint64_t)cfg->tx_rows, .backoff_initial_ms = 100,
                          .backoff_max_ms = cfg->retry_max_ms};
  if (sl_sink_queue_init(&k->q, st, &pg_sink_queue_ops, k, &qc)) return SL_ENOMEM;
  if (pg_conn_init(&k->conn, st, cfg->dsn, 0, &sink_ops, k)) return SL_ENOMEM;
  snprintf(k->tx_key, sizeof k->tx_key, "#tx#%s", sl_stage_name(st));
  k->conn.answer_timeout_ms = cfg->answer_timeout_ms;

  /* Blocking is fine here: init runs before the loop. */
  PGconn *c = pg_connect_blocking(st, cfg->dsn, k->conn.label);
  if (!c) return SL_EIO;
  rc = cfg->setup_sql ? run_setup_sql(st, c, cfg->setup_sql) : 0;
  if (!rc) rc = build_tables(k, c);
  if (!rc) rc = pg_ensure_checkpoint_table(st, c);
  PQfinish(c);
  if (rc) return rc;
  sl_sink_set_codec(st, k->codec, k->cctx);
  /* Connect now: the handles start working when the loop runs. */
  pg_conn_connect(&k->conn);
  return 0;
}

static void pg_sink_destroy(sl_stage *st) {
  pg_sink *k = sl_stage_priv(st);
  if (k->conn.dsn) pg_conn_destroy(&k->conn);
  sl_sink_queue_close(&k->q);
  if (k->cctx) k->codec->ctx_free(k->cctx);
  k->cctx = NULL;
  for (int i = 0; i < k->ntabs; i++)
    if (k->tabs[i].cctx) pg_copy_codec.ctx_free(k->tabs[i].cctx);
  pg_sink_tables_free(k->tabs, k->ntabs);
  k->tabs = NULL;
  k->ntabs = 0;
  free(k->stage_sql);
  free(k->feed_scratch);
  clear_bad(k);
  free(k->stack);
  free(k->sent);
  for (int i = 0; i < k->ncps; i++) sl_buf_free(&k->cps[i].cp);
  free(k->cps);
  sl_buf_free(&k->err_reason);
  sl_buf_free(&k->ckpt_key);
  if (k->transactions)
    sl_log_debug(sl_stage_name(st), "%llu rows in %llu transactions (%llu all new keys, copied straight in)",
                 (unsigned long long)k->committed_rows, (unsigned long long)k->transactions,
                 (unsigned long long)k->fast_hits);
}

/* `sluice check`: what can be seen without connecting. */
static int pg_sink_check(sl_stage *st) {
  pg_sink_cfg *cfg = sl_stage_config(st);
  pg_sink_table *tabs = NULL;
  int n = 0;
  int rc = pg_sink_tables_parse(st, cfg, &tabs, &n);
  pg_sink_tables_free(tabs, n);
  if (rc || cfg->tables != LUA_NOREF) return rc;
  if (strcmp(cfg->mode, "upsert") == 0 && (!cfg->key || !cfg->key[0])) {
    sl_log_error(sl_stage_name(st), "%s: mode = \"upsert\" needs key = { ... }: the columns of a "
                 "unique key of the table, which a newer record replaces", sl_stage_where(st));
    return SL_EOPTION;
  }
  return pg_sink_check_newer_by(st, cfg, cfg->columns);
}

/* Before the sources start: where they should resume (blocking). */
static int pg_sink_checkpoint_load(sl_stage *st, const char *source, sl_buf *out) {
  pg_sink *k = sl_stage_priv(st);
  k->resumes = 1;   /* asked before any batch: it stores under the sources' names */
  PGconn *c = pg_connect_blocking(st, k->cfg->dsn, k->conn.label);
  if (!c) return SL_EIO;
  int rc = pg_ensure_checkpoint_table(st, c);
  if (!rc) {
    const char *v[2] = {sl_pipeline_name(sl_stage_pipeline(st)), source};
    PGresult *r = pg_exec_params(st, c, pg_sink_ckpt_get_sql, 2, v);
    if (!r) rc = SL_EIO;
    else if (PQntuples(r) == 0) rc = SL_ENOENT;
    else sl_buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    if (!rc && out->oom) rc = SL_ENOMEM;
  }
  PQfinish(c);
  return rc;
}

static void pg_sink_collect(sl_stage *st, sl_collector *c) {
  pg_sink *k = sl_stage_priv(st);
  sl_collect(c, SL_COUNTER, "pg_sink_rows_total", "Rows committed by pg.sink.", NULL, NULL,
             (int64_t)k->committed_rows);
  sl_collect(c, SL_COUNTER, "pg_sink_rejected_total",
             "Rows PostgreSQL refused, sent to the dead-letter sink.", NULL, NULL,
             (int64_t)k->rejected_rows);
  sl_collect(c, SL_COUNTER, "pg_sink_transactions_total", "Transactions committed by pg.sink.",
             NULL, NULL, (int64_t)k->transactions);
  sl_collect(c, SL_COUNTER, "pg_sink_connection_failures_total",
             "Failed connection attempts and lost connections.", NULL, NULL, (int64_t)k->reconnects);
}

static const sl_option pg_sink_options[] = {
    {"dsn", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(pg_sink_cfg, dsn), "libpq connection string or URI (the password is never logged).", NULL},
    {"table", SL_OPT_STR, NULL, 0, offsetof(pg_sink_cfg, table), "Target table: \"table\" (schema public) or \"schema.table\", case as written (or tables = { ... }).", NULL},
    {"tables", SL_OPT_LUA, NULL, 0, offsetof(pg_sink_cfg, tables), "Several tables written in one transaction: { { route = \"v\", table = \"s.t\", mode =, key =, columns =, newer_by = }, ... }; a record goes to the table whose route equals its route field.", "table"},
    {"route", SL_OPT_STR, NULL, 0, offsetof(pg_sink_cfg, route), "With tables: the record field whose value picks the table.", NULL},
    {"others", SL_OPT_ENUM, "dlq", 0, offsetof(pg_sink_cfg, others), "With tables: a record no table takes goes to the dead-letter sink (dlq) or is skipped (ignore).", "dlq|ignore"},
    {"mode", SL_OPT_ENUM, "insert", 0, offsetof(pg_sink_cfg, mode), "insert: COPY the rows; upsert: INSERT ... ON CONFLICT (key) DO UPDATE, last record of a key wins.", "insert|upsert"},
    {"key", SL_OPT_STRLIST, NULL, 0, offsetof(pg_sink_cfg, key), "upsert: the columns of a unique key of the table.", NULL},
    {"columns", SL_OPT_STRLIST, NULL, 0, offsetof(pg_sink_cfg, columns), "Columns to write, named like the record's fields (default: every writable column).", NULL},
    {"newer_by", SL_OPT_STR, NULL, 0, offsetof(pg_sink_cfg, newer_by), "upsert: a column (event time, version) that a record must have greater than the stored row to replace it; a null is older than any value, equal keeps the stored row.", NULL},
    {"setup_sql", SL_OPT_STR, NULL, 0, offsetof(pg_sink_cfg, setup_sql), "SQL run once at every start, before the table is read (e.g. CREATE TABLE IF NOT EXISTS): one transaction; make it idempotent.", NULL},
    {"transaction_rows", SL_OPT_INT, "50000", 0, offsetof(pg_sink_cfg, tx_rows), "Most rows of queued batches written in one transaction.", NULL},
    {"retry_max", SL_OPT_DURATION, "10s", 0, offsetof(pg_sink_cfg, retry_max_ms), "Longest pause between attempts when PostgreSQL is unreachable or failing.", NULL},
    {"answer_timeout", SL_OPT_DURATION, "20s", 0, offsetof(pg_sink_cfg, answer_timeout_ms), "A statement whose connection shows no sign of life for this long (a hung server, a network path that holds the connection) is given up: the connection is closed and the transaction done again. 0: wait for ever.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin pg_sink_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "pg.sink",
    .doc = "Writes records into a PostgreSQL table with COPY, insert or upsert, effectively once.",
    .options = pg_sink_options,
    .config_size = sizeof(pg_sink_cfg),
    .priv_size = sizeof(pg_sink),
    .init = pg_sink_init,
    .destroy = pg_sink_destroy,
    .write = pg_sink_write,
    .flush = pg_sink_flush,
    .checkpoint_load = pg_sink_checkpoint_load,
    .check = pg_sink_check,
    .collect = pg_sink_collect,
};
