/* kafka.sink's transactions, under exactly_once = true.
 *
 * The producer has a transactional.id (one per process: a restart with the
 * same id aborts what the crashed process left open, at once).  Sink
 * batches go to the sink queue (sluice/sink_queue.h), and a transaction is
 * the queue's group: up to max_records records (half the pipeline's
 * max_inflight_records, so that the sources keep reading while it
 * commits), formed once that many are queued or the first of them has
 * waited commit_interval (or on flush).  Writing a group: begin_transaction
 * (local), produce its records, wait on the loop for every delivery
 * report, then on the libuv thread pool send each source's offsets (the
 * batches' checkpoints, kafka_pos_add_offsets, with the consumer's group
 * metadata taken now) and commit.  The commit's success is
 * sl_sink_queue_written: the queue makes every batch of the group done
 * (sl_sink_done) in order, so the sources' acks, the output and the
 * offsets all follow the commit.  A crash before it leaves an open
 * transaction that read_committed consumers never see, and offsets that
 * were never committed: the records are read and written again, once.
 *
 * Blocking calls run on the thread pool (init, send offsets + commit,
 * abort), one at a time; meanwhile the loop neither polls nor produces on
 * this client (new batches queue), and nothing is outstanding, so the
 * flush inside commit and abort serves no delivery report off the loop.
 *
 * Failures.  A message whose delivery report failed fails the
 * transaction: what is still queued is purged (its reports come back at
 * once), and once every report is in, so that each message's own error
 * is known, the transaction is aborted.  librdkafka 2.0 holds back
 * messages of a partition behind a refused batch until the transaction
 * ends: what is still out after PURGE_AFTER_MS is purged too.  (Aborting
 * with them outstanding hung in abort_transaction until the transaction
 * timed out.)  The abort is then a retryable error for the queue: after
 * its back-off the same group goes again, in a new transaction.  A record is to
 * blame when Kafka refused its message for what it is (too large,
 * invalid, a topic it cannot have); since Kafka refuses whole record
 * batches, every message of a refused batch becomes a suspect, and on the
 * next try each suspect is produced alone (after every earlier report, and
 * nothing after it until its own): one that fails alone is rejected to the
 * dead-letter sink and never produced again, the others commit.  That is a
 * round trip per suspect; a batch.size below the topic's max.message.bytes
 * keeps the suspects to the oversized messages.  (Testing suspects in
 * halving groups took fewer round trips but many more aborts in a row,
 * and librdkafka 2.0.2 hung in abort_transaction after a few of those.)
 * Failures nobody is to blame for (a broker down past the transaction
 * timeout, the group fencing an old generation, a commit that failed) are
 * retried the same way.  A call that failed retriably (init, commit, abort)
 * is run again after the queue's back-off (BACKOFF_MIN_MS doubling up to
 * BACKOFF_MAX_MS); a commit resumes.  Fatal errors (fenced by another
 * producer with the same transactional.id) exit without acknowledging
 * anything.
 *
 * A rebalance: the source's revoke waits until the batches in flight are
 * acknowledged, i.e. committed here.  If a transaction still holds records
 * of a partition handed over since (the wait timed out), committing would
 * write them twice; the process exits instead, and what it held is read
 * again by the new owners.
 *
 * Layering: this file sits beneath kafka_sink.c and calls it only through
 * tx->ops (ktx_ops); offsets come from kafka_offsets.c and the sources'
 * positions (kafka_source_positions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_sink.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

enum { TXOP_NONE = 0, TXOP_INIT, TXOP_COMMIT, TXOP_ABORT };

#define INIT_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000
#define DEFAULT_INTERVAL_MS 100
#define PURGE_AFTER_MS 1000

static const char *op_name(int op) {
  return op == TXOP_INIT ? "init_transactions" : op == TXOP_COMMIT ? "commit_transaction"
                                                                   : "abort_transaction";
}

static void start_op(ksink *k, int op);
static void on_timer(uv_timer_t *t);

/* ---- set-up ---- */

int kafka_txn_configure(ksink *k, rd_kafka_conf_t *conf) {
  sl_stage *st = k->kc.st;
  char buf[600];
  const char *id = k->cfg->transactional_id;
  if (!id || !*id) {
    char host[256];
    if (gethostname(host, sizeof host)) strcpy(host, "localhost");
    host[sizeof host - 1] = 0;
    snprintf(buf, sizeof buf, "sluice.%s.%s.%s", sl_pipeline_name(sl_stage_pipeline(st)), sl_stage_name(st),
             host);
    id = buf;
  }
  free(k->tx.id);
  k->tx.id = strdup(id);
  if (!k->tx.id) return SL_ENOMEM;
  char err[256];
  if (rd_kafka_conf_set(conf, "transactional.id", k->tx.id, err, sizeof err) != RD_KAFKA_CONF_OK) {
    sl_log_error(sl_stage_name(st), "%s: transactional_id: %s", sl_stage_where(st), err);
    return SL_EOPTION;
  }
  return 0;
}

static void txn_write(void *ctx, sl_sink_batch *first, uint32_t n);
static int txn_ready(void *ctx);
static void txn_resume(void *ctx);

static const sl_sink_queue_ops queue_ops = {
    .write = txn_write,
    .permanent = NULL,   /* fatal errors exit instead */
    .ready = txn_ready,
    .resume = txn_resume,
};

int kafka_txn_start(ksink *k, const ktx_ops *ops) {
  sl_stage *st = k->kc.st;
  ktx *tx = &k->tx;
  tx->ops = ops;
  uint64_t half = sl_pipeline_max_inflight_records(sl_stage_pipeline(st)) / 2;
  tx->max_records = half > sl_stage_batch_size(st) ? half : sl_stage_batch_size(st);
  tx->interval_ms = k->cfg->commit_interval_ms > 0 ? k->cfg->commit_interval_ms : DEFAULT_INTERVAL_MS;
  static const char *const labels[] = {"outcome", NULL};
  tx->m_tx = sl_stage_metric(st, SL_COUNTER, "kafka_transactions_total",
                             "Transactions of an exactly_once kafka.sink, by outcome (committed, aborted).",
                             labels);
  sl_sink_queue_cfg qc = {.max_records = tx->max_records,
                          .backoff_initial_ms = BACKOFF_MIN_MS,
                          .backoff_max_ms = BACKOFF_MAX_MS};
  int rc = sl_sink_queue_init(&tx->q, st, &queue_ops, k, &qc);
  if (rc) return rc;
  if (uv_timer_init(sl_stage_loop(st), &tx->timer)) return SL_EIO;
  tx->timer.data = k;
  tx->timer_open = 1;
  tx->state = TX_INIT;
  sl_log_info(sl_stage_name(st), "exactly-once: transactional.id \"%s\", transactions of up to %llu records "
              "or %lld ms", tx->id, (unsigned long long)tx->max_records, (long long)tx->interval_ms);
  /* init_transactions once the loop runs: from here, a pipeline that
   * fails to start would tear the client down under the thread pool. */
  uv_timer_start(&tx->timer, on_timer, 0, 0);
  return 0;
}

/* ---- the thread pool's calls ---- */

static void op_work(uv_work_t *req) {
  ksink *k = req->data;
  ktx *tx = &k->tx;
  rd_kafka_t *rk = k->kc.rk;
  rd_kafka_error_t *e = NULL;
  if (tx->op == TXOP_INIT) {
    e = rd_kafka_init_transactions(rk, INIT_TIMEOUT_MS);
  } else if (tx->op == TXOP_COMMIT) {
    /* A retried commit resumes: offsets already sent are not sent again
     * (the transaction has them; and after a commit that timed out,
     * sending is no longer allowed). */
    SL_CRASH_POINT("kafka.sink.txn.before_send_offsets");
    e = kafka_offsets_send(&tx->offs, rk);
    if (!e) SL_CRASH_POINT("kafka.sink.txn.before_commit");
    if (!e) e = rd_kafka_commit_transaction(rk, -1);
    if (!e) SL_CRASH_POINT("kafka.sink.txn.after_commit");
  } else {
    e = rd_kafka_abort_transaction(rk, -1);
  }
  tx->err = e;
  __atomic_store_n(&tx->work_busy, 0, __ATOMIC_RELEASE);
}

static void count(ktx *tx, const char *outcome) {
  const char *v[] = {outcome};
  if (tx->m_tx) sl_metric_add(tx->m_tx, v, 1);
}

/* The commit went through: the queue makes the group's batches done, in
 * order (a write that sl_sink_done leads to may begin the next one). */
static void committed(ksink *k) {
  ktx *tx = &k->tx;
  SL_CRASH_POINT("kafka.sink.txn.before_ack");
  kafka_offsets_clear(&tx->offs);
  count(tx, "committed");
  for (sl_sink_batch *sb = tx->group; sb; sb = sb->next) {
    kbatch *kb = sb->sink_data;
    k->delivered += sb->n - kb->ndone;
    k->open_batches--;
  }
  tx->group = tx->cur = NULL;
  tx->state = TX_READY;
  sl_sink_queue_written(&tx->q, 0, NULL);
}

/* The abort went through: after the queue's back-off the same group goes
 * again, in the same order (rejected records and suspects keep their
 * state). */
static void aborted(ksink *k) {
  ktx *tx = &k->tx;
  kafka_offsets_clear(&tx->offs);
  count(tx, "aborted");
  uint64_t n = 0;
  uint32_t suspects = 0;
  for (sl_sink_batch *sb = tx->group; sb; sb = sb->next) {
    kbatch *kb = sb->sink_data;
    n += kb->next;
    kb->next = 0;
    kb->outstanding = 0;
    for (uint32_t i = 0; i < sb->n; i++) suspects += kb->rs[i] == R_SUSPECT;
  }
  tx->cur = NULL;
  k->outstanding = 0;
  k->blocked = 0;
  tx->failed = tx->trying = tx->purge_armed = 0;
  tx->state = TX_READY;
  char why[700];
  if (suspects)
    snprintf(why, sizeof why, "aborted a transaction (%s); producing its %llu records again, %u of them one by one",
             tx->why, (unsigned long long)n, suspects);
  else
    snprintf(why, sizeof why, "aborted a transaction (%s); producing its %llu records again", tx->why,
             (unsigned long long)n);
  sl_sink_queue_written(&tx->q, SL_EIO, why);
}

static void after_op(uv_work_t *req, int status) {
  ksink *k = req->data;
  ktx *tx = &k->tx;
  const char *name = sl_stage_name(k->kc.st);
  int op = tx->op;
  rd_kafka_error_t *e = tx->err;
  tx->err = NULL;
  tx->op = TXOP_NONE;
  tx->op_running = 0;
  k->kc.off_loop = 0;
  (void)status;
  if (!e) {
    if (op == TXOP_INIT) {
      tx->state = TX_READY;
      sl_log_info(name, "transactions ready (transactional.id \"%s\")", tx->id);
      sl_sink_queue_kick(&tx->q);
    } else if (op == TXOP_COMMIT) {
      committed(k);
    } else {
      aborted(k);
    }
    tx->ops->check_flushed(k);
    return;
  }
  char why[600];
  snprintf(why, sizeof why, "%s: %s", op_name(op), rd_kafka_error_string(e));
  int fatal = rd_kafka_error_is_fatal(e), abort_it = rd_kafka_error_txn_requires_abort(e),
      retry = rd_kafka_error_is_retriable(e);
  rd_kafka_error_destroy(e);
  if (fatal) {
    tx->ops->fatal(k, why);
    return;
  }
  if (op == TXOP_COMMIT && abort_it) {
    /* Nothing is outstanding (a commit starts only then). */
    tx->state = TX_OPEN;
    kafka_txn_produce_failed(k, why);
    kafka_txn_progress(k);
    return;
  }
  if (retry) {
    if (op == TXOP_INIT && k->flushing && k->open_batches == 0) {
      /* Stopping, with nothing to write: no need to wait for the brokers. */
      tx->ops->check_flushed(k);
      return;
    }
    if (op == TXOP_INIT) {
      sl_sink_queue_retry(&tx->q, why);   /* txn_resume runs it again */
    } else {
      /* The group stays in flight: the queue writes it again after its
       * back-off, and txn_write runs this call again (a commit resumes). */
      tx->state = TX_BUSY;
      tx->pending_op = op;
      sl_sink_queue_written(&tx->q, SL_EIO, why);
    }
    return;
  }
  /* librdkafka: errors neither retriable nor abortable are to be treated
   * as fatal. */
  tx->ops->fatal(k, why);
}

static void start_op(ksink *k, int op) {
  ktx *tx = &k->tx;
  uv_timer_stop(&tx->timer);
  tx->pending_op = TXOP_NONE;
  tx->op = op;
  tx->op_running = 1;
  tx->err = NULL;
  if (op != TXOP_INIT) tx->state = TX_BUSY;
  k->kc.off_loop = 1;
  tx->req.data = k;
  __atomic_store_n(&tx->work_busy, 1, __ATOMIC_RELEASE);
  if (uv_queue_work(sl_stage_loop(k->kc.st), &tx->req, op_work, after_op)) {
    tx->work_busy = 0;
    tx->op_running = 0;
    k->kc.off_loop = 0;
    tx->ops->fatal(k, "cannot run a transaction call on the thread pool");
  }
}

static void on_timer(uv_timer_t *t) {
  ksink *k = t->data;
  ktx *tx = &k->tx;
  if (tx->state == TX_INIT) {
    if (!tx->op_running) start_op(k, TXOP_INIT);
    return;
  }
  if (tx->state == TX_OPEN && tx->failed) {
    if (k->outstanding) {
      sl_log_debug(sl_stage_name(k->kc.st), "%llu messages of the failed transaction still out: purging them",
                   (unsigned long long)k->outstanding);
      rd_kafka_purge(k->kc.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    return;
  }
  sl_sink_queue_kick(&tx->q);   /* commit_interval is up */
}

/* ---- the queue's callbacks ---- */

/* A group may go once it is full, its first batch has waited
 * commit_interval, or the sink is flushing; until then the timer waits. */
static int txn_ready(void *ctx) {
  ksink *k = ctx;
  ktx *tx = &k->tx;
  if (tx->state != TX_READY || k->fatal || tx->op_running) return 0;
  if (k->flushing || sl_sink_queue_records(&tx->q) >= tx->max_records) return 1;
  int64_t now = sl_now_ms();
  int64_t left = tx->gather_since + tx->interval_ms - now;
  if (left <= 0) return 1;
  if (!uv_is_active((uv_handle_t *)&tx->timer)) uv_timer_start(&tx->timer, on_timer, (uint64_t)left, 0);
  return 0;
}

static void txn_resume(void *ctx) {
  ksink *k = ctx;
  if (k->tx.state == TX_INIT && !k->tx.op_running) start_op(k, TXOP_INIT);
}

/* A transaction for the group; or, when the queue writes it again after a
 * call failed retriably, that call again. */
static void txn_write(void *ctx, sl_sink_batch *first, uint32_t n) {
  ksink *k = ctx;
  ktx *tx = &k->tx;
  tx->group = first;
  /* What the group left queued began to wait now. */
  uint64_t recs = 0;
  for (sl_sink_batch *sb = first; n--; sb = sb->next) recs += sb->n;
  tx->gather_since = sl_sink_queue_records(&tx->q) > recs ? sl_now_ms() : 0;
  uv_timer_stop(&tx->timer);
  if (k->fatal) return;
  if (tx->pending_op) {
    start_op(k, tx->pending_op);
    return;
  }
  SL_CRASH_POINT("kafka.sink.txn.before_begin");
  rd_kafka_error_t *e = rd_kafka_begin_transaction(k->kc.rk);
  if (e) {
    char why[600];
    snprintf(why, sizeof why, "begin_transaction: %s", rd_kafka_error_string(e));
    int fatal = rd_kafka_error_is_fatal(e);
    rd_kafka_error_destroy(e);
    if (fatal) tx->ops->fatal(k, why);
    else sl_sink_queue_written(&tx->q, SL_EIO, why);
    return;
  }
  SL_CRASH_POINT("kafka.sink.txn.after_begin");
  tx->state = TX_OPEN;
  tx->failed = tx->trying = tx->purge_armed = 0;
  tx->cur = first;
  tx->ops->produce_more(k);
}

void kafka_txn_push(ksink *k, sl_sink_batch *sb) {
  if (!k->tx.gather_since) k->tx.gather_since = sl_now_ms();
  sl_sink_queue_push(&k->tx.q, sb);
}

/* ---- the open transaction ---- */

/* The offsets of the transaction's batches, per source; 0, or exits when
 * a batch's partition was handed over (see the top of the file). */
static int build_offsets(ksink *k) {
  ktx *tx = &k->tx;
  kafka_offsets_clear(&tx->offs);
  int stale = 0;
  for (sl_sink_batch *sb = tx->group; sb; sb = sb->next) {
    sl_stage *src = sl_batch_source(sb->batch);
    /* A batch with no input record (one a stateful step's lane made: tick,
     * finish) has no position: its records commit with the transaction,
     * and no offset moves. */
    if (!sl_batch_count(sb->batch) && !kafka_source_positions(src)) continue;
    kafka_offsets_src *o = kafka_offsets_for(&tx->offs, src);
    if (!o) {
      tx->ops->fatal(k, "out of memory");
      return -1;
    }
    if (!o->group) {
      o->group = kafka_source_group_metadata(src);
      if (!o->group) {
        tx->ops->fatal(k, "exactly_once: a batch came from a source that is not a kafka.source");
        return -1;
      }
    }
    stale += kafka_pos_add_offsets(kafka_source_positions(src), sl_batch_checkpoint(sb->batch), o->offsets);
  }
  if (stale) {
    tx->ops->fatal(k, "a transaction holds records of partitions handed over to another consumer before it "
                   "could commit; not committing it");
    return -1;
  }
  return 0;
}

int kafka_txn_may_produce(const ksink *k) {
  const ktx *tx = &k->tx;
  return tx->state == TX_OPEN && !tx->failed && !tx->trying;
}

int kafka_txn_gate(ksink *k, kbatch *kb, uint32_t i) {
  if (kb->rs[i] == R_DONE) return 0;
  /* A suspect goes alone: after every earlier report. */
  if (kb->rs[i] == R_SUSPECT && k->outstanding) return -1;
  return 1;
}

void kafka_txn_produced(ksink *k, kbatch *kb, uint32_t i) {
  if (kb->rs[i] != R_SUSPECT) return;
  kb->rs[i] = R_TRYING;
  k->tx.trying = 1;   /* nothing more until its report */
}

void kafka_txn_rejected(kbatch *kb, uint32_t i) {
  kb->rs[i] = R_DONE;
  kb->ndone++;
}

void kafka_txn_produce_failed(ksink *k, const char *why) {
  ktx *tx = &k->tx;
  if (tx->failed) return;
  tx->failed = 1;
  snprintf(tx->why, sizeof tx->why, "%.500s", why);
  rd_kafka_purge(k->kc.rk, RD_KAFKA_PURGE_F_QUEUE);
}

static void fail_for(ksink *k, const char *fmt, const char *topic, rd_kafka_resp_err_t err) {
  ktx *tx = &k->tx;
  if (tx->failed) return;
  tx->failed = 1;
  snprintf(tx->why, sizeof tx->why, fmt, topic, rd_kafka_err2str(err));
  rd_kafka_purge(k->kc.rk, RD_KAFKA_PURGE_F_QUEUE);
}

/* Whether Kafka refused the message for what it is, rather than for the
 * state of the cluster or the transaction. */
static int to_blame(rd_kafka_resp_err_t err) {
  switch (err) {
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_INVALID_RECORD:
  case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
  case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    return 1;
  default:
    return 0;
  }
}

void kafka_txn_delivered(ksink *k, kbatch *kb, uint32_t i, const rd_kafka_message_t *m) {
  ktx *tx = &k->tx;
  uint8_t *r = &kb->rs[i];
  int purged = m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
  int blame = m->err && !purged && to_blame(m->err);
  if (*r == R_TRYING) tx->trying = 0;
  if (m->err) {
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    if (*r == R_TRYING && blame) {
      /* It failed alone. */
      kafka_txn_rejected(kb, i);
      char why[512];
      snprintf(why, sizeof why, "Kafka did not take the message for topic %s: %s", topic,
               rd_kafka_err2str(m->err));
      tx->ops->reject(k, kb->sb, i, why);
    } else if (*r == R_TRYING || blame) {
      *r = R_SUSPECT;
      if (blame && !tx->warned_suspects) {
        tx->warned_suspects = 1;
        sl_log_warn(sl_stage_name(k->kc.st),
                    "topic %s refused a record batch (%s): its messages go one by one in the next "
                    "transaction (a batch.size below the topic's max.message.bytes avoids this)",
                    topic, rd_kafka_err2str(m->err));
      }
    }
    if (!purged) fail_for(k, "a message for topic %s failed: %s", topic, m->err);
  } else {
    if (*r == R_TRYING) *r = R_NEW;
    kafka_client_alive(&k->kc);
  }
  if (k->outstanding == 0 || k->blocked) tx->ops->produce_more(k);
  kafka_txn_progress(k);
}

void kafka_txn_progress(ksink *k) {
  ktx *tx = &k->tx;
  if (!k->transactional || tx->state != TX_OPEN || tx->op_running || k->fatal) return;
  if (tx->failed) {
    if (k->outstanding == 0) {
      start_op(k, TXOP_ABORT);
    } else if (!tx->purge_armed) {
      /* librdkafka may hold back messages behind a refused batch until the
       * transaction ends: give the reports a moment, then purge those. */
      tx->purge_armed = 1;
      uv_timer_start(&tx->timer, on_timer, PURGE_AFTER_MS, 0);
    }
    return;
  }
  if (tx->cur || k->outstanding) return;   /* the group is not all produced and delivered */
  if (build_offsets(k)) return;
  start_op(k, TXOP_COMMIT);
}

void kafka_txn_flush(ksink *k) { sl_sink_queue_kick(&k->tx.q); }

int kafka_txn_idle(const ksink *k) { return !k->tx.op_running; }

void kafka_txn_destroy(ksink *k) {
  ktx *tx = &k->tx;
  /* A clean run ends with nothing running; a torn-down one may still
   * have a call on the thread pool, which must not outlive the client. */
  while (__atomic_load_n(&tx->work_busy, __ATOMIC_ACQUIRE)) usleep(1000);
  if (tx->timer_open) {
    uv_close((uv_handle_t *)&tx->timer, NULL);
    tx->timer_open = 0;
  }
  sl_sink_queue_close(&tx->q);
  kafka_offsets_clear(&tx->offs);
  if (tx->err) rd_kafka_error_destroy(tx->err);
  tx->err = NULL;
  free(tx->id);
  tx->id = NULL;
}
