/* kafka.source: a consumer in a consumer group, at least once.
 *
 * Delivery: enable.auto.offset.store is off, so librdkafka commits (every
 * commit_interval, and on revoke and close) only offsets this source has
 * stored, and it stores a partition's offset only when the engine acks the
 * batch that read it, i.e. once every record of that batch and of every
 * earlier one is durable in every sink (or dead-lettered).  A crash then
 * loses nothing: what was read but not committed is read again, which is
 * the "at least once".
 *
 * Batches: one rd_kafka_consume_batch_queue call (timeout 0, up to the
 * pipeline's batch_size messages) makes one batch.  Payloads are copied
 * into the batch's arena, so the librdkafka messages are freed at once.
 * A batch's checkpoint is, per partition it holds, the offset after its
 * last message there, with the assignment epoch of the partition: an ack
 * that arrives after the partition was revoked (it moved to another
 * consumer) is dropped, since that consumer now owns its offsets.
 *
 * Backpressure: pause() first stops consuming and leaves what librdkafka
 * prefetched in its queue; the engine usually resumes within a few
 * batches.  Only if the pause lasts SOFT_PAUSE_MS do the partitions get
 * paused in librdkafka (rd_kafka_pause_partitions), which drops the
 * prefetched messages and refetches them on resume: doing that on every
 * short pause would refetch the same data over and over.  While paused in
 * librdkafka, the queue is served as usual (nothing comes out of paused
 * partitions), so rebalances and errors are handled and
 * max.poll.interval.ms is never exceeded.
 *
 * Rebalances: a revoked partition (another member joined, or this one is
 * leaving) is handed over cleanly.  librdkafka waits for the application
 * to call incremental_unassign, so the source first pauses the revoked
 * partitions, lets the batches already emitted finish (their acks store
 * the offsets), commits, and only then unassigns: the new owner starts
 * exactly where this one stopped, without duplicates.  If the batches do
 * not finish within REVOKE_WAIT_MS (a stuck sink), it unassigns anyway;
 * acks arriving after that are dropped (each checkpoint entry carries the
 * assignment epoch of its partition) and the new owner reads those
 * records again.  Lost partitions (the group moved on without us) are
 * unassigned at once, without a commit.
 *
 * Fetch wake-ups (librdkafka 2.0): once the prefetch queue holds
 * queued.min.messages, librdkafka stops fetching and its broker thread
 * looks again only when something wakes it, at the latest after a second.
 * A pipeline slower than the fetcher (the usual case) would then stall for
 * most of every second unless the queue held a second's worth of messages
 * (hundreds of MB).  So when the source has drained half the queue since
 * it last looked and the queue is below half the threshold, it sends the
 * partition leaders a cheap request (ListOffsets through
 * rd_kafka_offsets_for_times, on the thread pool since it blocks); serving
 * it wakes the broker threads, which then fetch again.  librdkafka 2.1 has
 * fetch.queue.backoff.ms for this; where it exists it is set and the
 * wake-ups are off.
 *
 * Shutdown: stop() pauses everything and emits nothing more.  Once the
 * last emitted batch is acked, the final commit and rd_kafka_consumer_close
 * (both block on the network) run on the libuv thread pool, and
 * sl_source_finished is called when they are done: the engine keeps the
 * loop running until then, so the last offsets are committed before the
 * process exits.  destroy only closes what a failed start left open.
 *
 * Exactly-once (the pipeline says exactly_once = true): the source stores
 * and commits no offsets.  The transactional kafka.sink commits, in the
 * transaction that holds a batch's records, the batch's offsets
 * (kafka_source_positions, kafka_pos_add_offsets) for this consumer's group
 * (kafka_source_group_metadata); the source reads with
 * isolation.level=read_committed and only counts acks, for its hand-over
 * on revoke and its shutdown.  A revoke waits for the transaction holding
 * the batches in flight to commit (EOS_REVOKE_WAIT_MS at most). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kafka_offsets.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

/* How long a backpressure pause may last before the partitions are paused
 * in librdkafka. */
#define SOFT_PAUSE_MS 500
/* After this long without a first assignment, say why it may take longer. */
#define JOIN_PATIENCE_MS 5000
/* How often the queue is polled when no event wakes us. */
#define POLL_EVERY_MS 100
/* Batches emitted per wake-up before yielding to the rest of the loop. */
#define ROUNDS_PER_WAKE 4
/* How long a revoke waits for the batches in flight (see Rebalances). */
#define REVOKE_WAIT_MS 10000
/* Under exactly_once: a transaction normally commits within its
 * commit_interval; past this the sink finds the partition gone and exits
 * without committing (a restart then reads its records again). */
#define EOS_REVOKE_WAIT_MS 60000

typedef struct ksrc_cfg {
  char *brokers;
  char **topics;
  char *pattern;
  char *group;
  char *format;
  char **columns;
  char *delimiter;
  char *start;
  char **librdkafka;
  int64_t commit_interval_ms;
} ksrc_cfg;

typedef struct ksrc {
  kafka_client kc;        /* first: librdkafka's opaque */
  ksrc_cfg *cfg;
  const sl_codec *codec;
  void *cctx;
  kafka_uv uv;
  rd_kafka_message_t **msgs;
  uint32_t batch_size;

  kafka_positions pos;    /* topics, partitions, the batch being built */

  /* fetch wake-ups (see above) */
  int wakeups;            /* needed: this librdkafka lacks fetch.queue.backoff.ms */
  int64_t queued_min;     /* the effective queued.min.messages */
  int64_t since_wakeup;   /* messages consumed since the last wake-up */
  int waking;             /* a wake-up runs on the thread pool */
  uv_work_t wake_req;
  rd_kafka_topic_partition_list_t *wake_list;
  uint64_t nwakeups;

  /* a revoke waiting for the batches in flight (see Rebalances) */
  rd_kafka_topic_partition_list_t *revoking;
  uint64_t revoke_after;  /* done once acked reaches this */
  int64_t revoke_since;

  /* metrics (admin endpoint) */
  sl_metric *m_lag;       /* gauge {topic, partition}: messages behind the end */
  sl_metric *m_late;      /* counter: acks dropped because their partition moved */
  int64_t lag_at;         /* when the lag was last computed (mono ms) */

  /* joining the group (see note_join_wait) */
  int64_t started_at;     /* mono ms */
  int joined;             /* the group gave a first assignment (maybe empty) */
  int join_warned;
  int64_t session_timeout_ms;

  int soft_paused;        /* pause() called: not consuming */
  int64_t paused_at;
  int hard_paused;        /* the assignment is paused in librdkafka */
  int started, stopping, closing, closed, finished;
  int consumer_closed;    /* rd_kafka_consumer_close returned */
  int eos;                /* exactly_once: the sink commits the offsets */
  int64_t revoke_wait_ms;
  uint64_t emitted, acked, late_acks, discarded;
  uv_work_t close_req;
  rd_kafka_resp_err_t commit_err, close_err;
} ksrc;

/* ---- partitions ---- */

/* "t[0,1] u[3]" for a log line (truncated when long). */
static void describe(const rd_kafka_topic_partition_list_t *l, char *out, size_t n) {
  size_t used = 0;
  out[0] = 0;
  for (int i = 0; i < l->cnt && used + 32 < n; i++) {
    const rd_kafka_topic_partition_t *e = &l->elems[i];
    int same = i > 0 && strcmp(l->elems[i - 1].topic, e->topic) == 0;
    int last = i + 1 == l->cnt || strcmp(l->elems[i + 1].topic, e->topic) != 0;
    used += (size_t)snprintf(out + used, n - used, "%s%s%s%d%s", same ? "," : (i ? " " : ""),
                             same ? "" : e->topic, same ? "" : "[", e->partition, last ? "]" : "");
  }
  if (used + 32 >= n && n > 4) strcpy(out + n - 5, "...");
}

/* ---- pause in librdkafka ---- */

static void set_paused(ksrc *ks, int pause) {
  rd_kafka_topic_partition_list_t *l = NULL;
  if (rd_kafka_assignment(ks->kc.rk, &l) == RD_KAFKA_RESP_ERR_NO_ERROR && l) {
    if (l->cnt) {
      if (pause) rd_kafka_pause_partitions(ks->kc.rk, l);
      else rd_kafka_resume_partitions(ks->kc.rk, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
  }
  /* Partitions being handed over stay paused. */
  if (!pause && ks->revoking) rd_kafka_pause_partitions(ks->kc.rk, ks->revoking);
  ks->hard_paused = pause;
}

/* ---- rebalances ---- */

static void set_epochs_zero(ksrc *ks, const rd_kafka_topic_partition_list_t *parts) {
  for (int i = 0; i < parts->cnt; i++) {
    int t = kafka_pos_topic(&ks->pos, parts->elems[i].topic);
    kpart *p = t >= 0 ? kafka_pos_part(&ks->pos, t, parts->elems[i].partition, 0) : NULL;
    if (p) p->epoch = 0;
  }
}

static void unassign(ksrc *ks, rd_kafka_topic_partition_list_t *parts) {
  rd_kafka_t *rk = ks->kc.rk;
  set_epochs_zero(ks, parts);
  if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
    rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
    if (e) {
      sl_log_error(sl_stage_name(ks->kc.st), "cannot give up partitions: %s", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
  } else {
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, NULL);
    if (err)
      sl_log_error(sl_stage_name(ks->kc.st), "cannot give up partitions: %s", rd_kafka_err2str(err));
  }
}

/* The batches in flight when the revoke came are acked (or it waited
 * long enough): commit what they stored and let the partitions go. */
static void finish_revoke(ksrc *ks, int timed_out) {
  rd_kafka_topic_partition_list_t *parts = ks->revoking;
  ks->revoking = NULL;
  if (timed_out)
    sl_log_warn(sl_stage_name(ks->kc.st),
                "handing over %d partition%s after %d ms with batches still in flight: their "
                "records will be read again by the new owner",
                parts->cnt, parts->cnt == 1 ? "" : "s", (int)ks->revoke_wait_ms);
  /* Without waiting: the commit goes out before the unassign, in order. */
  if (!ks->eos) rd_kafka_commit(ks->kc.rk, NULL, 1);
  unassign(ks, parts);
  rd_kafka_topic_partition_list_destroy(parts);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
  ksrc *ks = opaque;
  const char *name = sl_stage_name(ks->kc.st);
  int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  char what[512];
  describe(parts, what, sizeof what);
  rd_kafka_error_t *e = NULL;
  rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (!ks->joined && ks->join_warned)
      sl_log_info(name, "joined group %s after %.1f s", ks->cfg->group,
                  (double)(sl_mono_ms() - ks->started_at) / 1000);
    ks->joined = 1;
    /* Cooperative rebalances call this in every round, often with nothing. */
    if (parts->cnt)
      sl_log_info(name, "assigned %d partition%s: %s", parts->cnt, parts->cnt == 1 ? "" : "s", what);
    else
      sl_log_debug(name, "rebalance: no new partitions");
    kafka_client_alive(&ks->kc);
    for (int i = 0; i < parts->cnt; i++) {
      int t = kafka_pos_topic(&ks->pos, parts->elems[i].topic);
      kpart *p = t >= 0 ? kafka_pos_part(&ks->pos, t, parts->elems[i].partition, 1) : NULL;
      if (p) p->epoch = ++ks->pos.epoch_seq;
    }
    if (cooperative) e = rd_kafka_incremental_assign(rk, parts);
    else rerr = rd_kafka_assign(rk, parts);
    /* Partitions assigned while paused (or stopping) start paused; others
     * start resumed, also one this consumer paused when it last let it go
     * (a pause outlives an assignment).  Nothing is fetched for them yet,
     * so this throws nothing away. */
    if (ks->hard_paused || ks->stopping) rd_kafka_pause_partitions(rk, parts);
    else if (parts->cnt) rd_kafka_resume_partitions(rk, parts);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    int lost = rd_kafka_assignment_lost(rk);
    sl_log_info(name, "%s %d partition%s: %s%s", lost ? "lost" : "revoked", parts->cnt,
                parts->cnt == 1 ? "" : "s", what,
                lost ? " (the group moved on without us; uncommitted records will be read again)" : "");
    if (ks->revoking) finish_revoke(ks, 0);   /* cannot happen; never leave one behind */
    if (lost || ks->kc.off_loop || ks->acked == ks->emitted) {
      /* Lost: nothing to commit.  Closing (off the loop): every batch is
       * acked and committed already.  Nothing in flight: go now. */
      if (!lost && !ks->kc.off_loop && !ks->eos) rd_kafka_commit(rk, NULL, 1);
      unassign(ks, parts);
    } else {
      /* Hand over once the batches in flight are done (see Rebalances). */
      rd_kafka_pause_partitions(rk, parts);
      ks->revoking = rd_kafka_topic_partition_list_copy(parts);
      ks->revoke_after = ks->emitted;
      ks->revoke_since = sl_mono_ms();
    }
    return;
  } else {
    sl_log_error(name, "consumer group rebalance failed: %s; dropping the assignment",
                 rd_kafka_err2str(err));
    for (int i = 0; i < ks->pos.nparts; i++) ks->pos.parts[i].epoch = 0;
    rerr = rd_kafka_assign(rk, NULL);
  }
  if (e) {
    sl_log_error(name, "cannot apply the rebalance: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else if (rerr) {
    sl_log_error(name, "cannot apply the rebalance: %s", rd_kafka_err2str(rerr));
  }
}

/* ---- batches ---- */

static int same_name(const char *a, const char *b) { return strcmp(a, b) == 0; }

/* Message headers into meta.headers; the CloudEvents binary-mode
 * attributes into meta; a structured-mode content type picks its codec. */
static int take_headers(sl_arena *a, rd_kafka_message_t *m, sl_record *rec) {
  rd_kafka_headers_t *h = NULL;
  if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h) return 0;
  size_t cnt = rd_kafka_header_cnt(h);
  if (!cnt) return 0;
  sl_member *hs = sl_arena_alloc(a, cnt * sizeof *hs);
  if (!hs) return SL_ENOMEM;
  uint32_t k = 0;
  const char *name;
  const void *val;
  size_t size;
  for (size_t idx = 0; k < cnt && rd_kafka_header_get_all(h, idx, &name, &val, &size) == 0; idx++) {
    sl_member *e = &hs[k++];
    size_t nlen = strlen(name);
    e->name.ptr = sl_arena_strndup(a, name, nlen);
    e->name.len = nlen;
    memset(&e->value, 0, sizeof e->value);
    if (!val) {
      e->value.type = SL_T_NULL;
      continue;
    }
    char *v = sl_arena_strndup(a, val, size);
    if (!e->name.ptr || !v) return SL_ENOMEM;
    e->value.type = SL_T_STRING;
    e->value.u.s = (sl_str){v, size};
    if (name[0] == 'c' && name[1] == 'e' && name[2] == '_') {
      if (same_name(name, "ce_id")) rec->meta.id = e->value.u.s;
      else if (same_name(name, "ce_source")) rec->meta.department = e->value.u.s;
      else if (same_name(name, "ce_type")) rec->meta.feed = e->value.u.s;
      else if (same_name(name, "ce_time")) {
        int64_t t;
        if (sl_parse_time_ms(v, size, &t) == 0) rec->meta.event_time_ms = t;
      }
    } else if (strcasecmp(name, "content-type") == 0 && kafka_ce_is_structured(v, size)) {
      rec->codec = &kafka_ce_structured_codec;
      rec->codec_ctx = NULL;
    }
  }
  rec->meta.headers = hs;
  rec->meta.nheaders = k;
  return 0;
}

static void log_message_error(ksrc *ks, rd_kafka_message_t *m) {
  const char *name = sl_stage_name(ks->kc.st);
  const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
  /* An error message's payload is librdkafka's text for it, len bytes. */
  char buf[256];
  snprintf(buf, sizeof buf, "%.*s", m->payload ? (int)(m->len < 255 ? m->len : 255) : 0,
           m->payload ? (const char *)m->payload : "");
  /* A subscribed topic that does not exist (yet) comes back here every
   * metadata refresh: say it once a minute, like other repeated errors. */
  int64_t now = sl_mono_ms();
  if ((int)m->err == ks->kc.last_err && now - ks->kc.last_err_ms < 60000) {
    sl_log_debug(name, "%s [%d]: %s: %s", topic, (int)m->partition, rd_kafka_err2str(m->err), buf);
    return;
  }
  ks->kc.last_err = (int)m->err;
  ks->kc.last_err_ms = now;
  sl_log_warn(name, "%s [%d]: %s: %s", topic, (int)m->partition, rd_kafka_err2str(m->err), buf);
}

static int fill_record(ksrc *ks, sl_arena *a, rd_kafka_message_t *m, sl_record *rec, int topic,
                       int64_t now) {
  rec->codec = ks->codec;
  rec->codec_ctx = ks->cctx;
  rec->meta.origin = (sl_str){ks->pos.topics[topic].name, ks->pos.topics[topic].len};
  rec->meta.partition = m->partition;
  rec->meta.offset = m->offset;
  rec->meta.arrival_ms = now;
  rd_kafka_timestamp_type_t tt;
  int64_t ts = rd_kafka_message_timestamp(m, &tt);
  if (ts > 0) rec->meta.event_time_ms = rec->meta.published_ms = ts;
  if (m->key) {
    char *k = sl_arena_strndup(a, m->key, m->key_len);
    if (!k) return SL_ENOMEM;
    rec->meta.key = (sl_str){k, m->key_len};
  }
  if (take_headers(a, m, rec)) return SL_ENOMEM;
  size_t len = m->len;
  const char *p = m->payload;
  if (!p) {
    rec->raw = (sl_str){"", 0};
    sl_record_fail(rec, a, "decode", "the message has no value (a tombstone)");
    return 0;
  }
  /* A CSV row ends at its last field: a line terminator a producer left
   * on it would otherwise be part of that field. */
  if (ks->codec == &sl_codec_csv && rec->codec == ks->codec) {
    if (len && p[len - 1] == '\n') len--;
    if (len && p[len - 1] == '\r') len--;
  }
  char *raw = sl_arena_strndup(a, p, len);
  if (!raw) return SL_ENOMEM;
  rec->raw = (sl_str){raw, len};
  return 0;
}

/* Makes one batch of msgs[0..n) and emits it; frees the messages. */
static void emit_batch(ksrc *ks, ssize_t n) {
  sl_stage *st = ks->kc.st;
  sl_batch *b = sl_batch_new(st);
  int oom = !b;
  int64_t now = sl_now_ms();
  ks->pos.ncps = 0;
  for (ssize_t i = 0; i < n && !oom; i++) {
    rd_kafka_message_t *m = ks->msgs[i];
    if (m->err) {
      log_message_error(ks, m);
      continue;
    }
    kafka_client_alive(&ks->kc);
    int t = kafka_pos_topic(&ks->pos, rd_kafka_topic_name(m->rkt));
    kcp *c = t >= 0 ? kafka_pos_track(&ks->pos, t, m->partition) : NULL;
    sl_record *rec = c ? sl_batch_add(b) : NULL;
    if (!rec || fill_record(ks, sl_batch_arena(b), m, rec, t, now)) {
      oom = 1;
      break;
    }
    if (m->offset + 1 > c->next) c->next = m->offset + 1;
  }
  for (ssize_t i = 0; i < n; i++) rd_kafka_message_destroy(ks->msgs[i]);
  if (oom) {
    /* Nothing of this batch is stored as done: a restart reads it again. */
    if (b) sl_batch_discard(b);
    sl_stage_fatal(st, "out of memory reading from Kafka");
    return;
  }
  if (sl_batch_count(b) == 0) {
    sl_batch_discard(b);
    return;
  }
  kcp *cps = sl_arena_alloc(sl_batch_arena(b), (size_t)ks->pos.ncps * sizeof *cps);
  if (!cps) {
    sl_batch_discard(b);
    sl_stage_fatal(st, "out of memory reading from Kafka");
    return;
  }
  for (int i = 0; i < ks->pos.ncps; i++) {
    cps[i] = ks->pos.cps[i];
    cps[i].epoch = kafka_pos_epoch(&ks->pos, cps[i].topic, cps[i].partition);
  }
  sl_checkpoint cp = {.a = ks->pos.ncps, .b = 0, .c = 0, .ref = 0, .data = cps};
  sl_batch_set_checkpoint(b, &cp);
  ks->emitted++;
  sl_source_emit(st, b);
}

static void discard(ksrc *ks, ssize_t n) {
  for (ssize_t i = 0; i < n; i++) {
    if (!ks->msgs[i]->err) ks->discarded++;
    rd_kafka_message_destroy(ks->msgs[i]);
  }
}

/* ---- fetch wake-ups ---- */

static void wake_work(uv_work_t *req) {
  ksrc *ks = req->data;
  /* Timestamp -1 asks for the end offsets: one ListOffsets per leader. */
  rd_kafka_offsets_for_times(ks->kc.rk, ks->wake_list, 1000);
}

static void finish_if_idle(ksrc *ks);

static void after_wake(uv_work_t *req, int status) {
  ksrc *ks = req->data;
  (void)status;
  rd_kafka_topic_partition_list_destroy(ks->wake_list);
  ks->wake_list = NULL;
  ks->waking = 0;
  finish_if_idle(ks);
}

static void maybe_wake_fetcher(ksrc *ks) {
  if (!ks->wakeups || ks->waking || ks->stopping || ks->closing || ks->soft_paused) return;
  if (ks->since_wakeup < ks->queued_min / 2) return;
  if ((int64_t)rd_kafka_queue_length(ks->uv.q) >= ks->queued_min / 2) return;
  rd_kafka_topic_partition_list_t *l = NULL;
  if (rd_kafka_assignment(ks->kc.rk, &l) || !l) return;
  if (l->cnt == 0) {
    rd_kafka_topic_partition_list_destroy(l);
    return;
  }
  for (int i = 0; i < l->cnt; i++) l->elems[i].offset = -1;
  ks->wake_list = l;
  ks->wake_req.data = ks;
  ks->since_wakeup = 0;
  if (uv_queue_work(sl_stage_loop(ks->kc.st), &ks->wake_req, wake_work, after_wake)) {
    rd_kafka_topic_partition_list_destroy(l);
    ks->wake_list = NULL;
    return;
  }
  ks->waking = 1;
  ks->nwakeups++;
}

/* Consumer lag per assigned partition: the end of the partition as the
 * last fetch saw it, minus the next offset to consume.  Both are cached by
 * librdkafka: nothing here waits on the network. */
static void update_lag(ksrc *ks) {
  int64_t now = sl_mono_ms();
  if (!ks->m_lag || now - ks->lag_at < 1000) return;
  ks->lag_at = now;
  rd_kafka_topic_partition_list_t *l = NULL;
  if (rd_kafka_assignment(ks->kc.rk, &l) || !l) return;
  if (l->cnt && rd_kafka_position(ks->kc.rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < l->cnt; i++) {
      int64_t lo = -1, hi = -1;
      const rd_kafka_topic_partition_t *e = &l->elems[i];
      if (rd_kafka_get_watermark_offsets(ks->kc.rk, e->topic, e->partition, &lo, &hi) || hi < 0 ||
          e->offset < 0)
        continue;
      char part[16];
      snprintf(part, sizeof part, "%d", (int)e->partition);
      const char *labels[] = {e->topic, part};
      sl_metric_set(ks->m_lag, labels, hi > e->offset ? hi - e->offset : 0);
    }
  }
  rd_kafka_topic_partition_list_destroy(l);
}

/* A consumer that restarts after a crash waits for the group: the
 * coordinator holds the rebalance until the dead member's session times out
 * (45 s by default), and nothing is read meanwhile.  Said once, so that the
 * silence is not taken for a hang. */
static void note_join_wait(ksrc *ks) {
  /* Unreachable brokers are reported by error_cb. */
  if (ks->joined || ks->join_warned || ks->kc.all_down ||
      sl_mono_ms() - ks->started_at < JOIN_PATIENCE_MS)
    return;
  ks->join_warned = 1;
  sl_log_info(sl_stage_name(ks->kc.st),
              "still waiting for partitions of group %s after %d s: the group waits for its "
              "members to rejoin, probably for a previous member (a crashed or killed run) "
              "whose session has to time out first (session.timeout.ms = %lld)",
              ks->cfg->group, JOIN_PATIENCE_MS / 1000, (long long)ks->session_timeout_ms);
}

/* The queue is readable, the timer fired, or more is left from last time. */
static void serve(void *arg) {
  ksrc *ks = arg;
  if (ks->closing || ks->finished) return;
  note_join_wait(ks);
  if (ks->revoking && sl_mono_ms() - ks->revoke_since >= ks->revoke_wait_ms) finish_revoke(ks, 1);
  update_lag(ks);
  if (ks->soft_paused && !ks->hard_paused && !ks->stopping) {
    if (sl_mono_ms() - ks->paused_at < SOFT_PAUSE_MS) return;
    sl_log_debug(sl_stage_name(ks->kc.st), "paused for %d ms: pausing the partitions in librdkafka",
                 SOFT_PAUSE_MS);
    set_paused(ks, 1);
  }
  for (int round = 0; round < ROUNDS_PER_WAKE; round++) {
    /* Paused or stopping, this still serves rebalances and errors;
     * paused partitions yield no messages. */
    ssize_t n = rd_kafka_consume_batch_queue(ks->uv.q, 0, ks->msgs, ks->batch_size);
    if (n < 0) {
      sl_log_error(sl_stage_name(ks->kc.st), "consuming failed: %s",
                   rd_kafka_err2str(rd_kafka_last_error()));
      return;
    }
    if (n == 0) return;
    /* After stop nothing more is emitted; those offsets are not stored,
     * so the records are read again on the next start. */
    if (ks->stopping) discard(ks, n);
    else emit_batch(ks, n);
    ks->since_wakeup += n;
    maybe_wake_fetcher(ks);
    if (ks->closing || ks->finished) return;
    if ((uint32_t)n < ks->batch_size) return;
    if (ks->soft_paused && !ks->hard_paused) return;
  }
  kafka_uv_again(&ks->uv);
}

/* ---- plugin callbacks ---- */

static void on_fatal(kafka_client *kc, const char *reason) {
  sl_stage_fatal(kc->st, "%s", reason);
}

static int ksrc_init(sl_stage *st) {
  ksrc *ks = sl_stage_priv(st);
  ksrc_cfg *cfg = sl_stage_config(st);
  const char *name = sl_stage_name(st);
  ks->cfg = cfg;
  ks->kc.st = st;
  ks->kc.brokers = cfg->brokers;
  ks->kc.on_fatal = on_fatal;
  ks->eos = sl_pipeline_exactly_once(sl_stage_pipeline(st));
  ks->revoke_wait_ms = ks->eos ? EOS_REVOKE_WAIT_MS : REVOKE_WAIT_MS;
  if ((!cfg->topics || !cfg->topics[0]) && !cfg->pattern) {
    sl_log_error(name, "%s: kafka.source needs topics = {...} or pattern = \"^...\"", sl_stage_where(st));
    return SL_EOPTION;
  }
  if (cfg->pattern && cfg->pattern[0] != '^') {
    sl_log_error(name, "%s: pattern must start with '^' (a regular expression over topic names), got \"%s\"",
                 sl_stage_where(st), cfg->pattern);
    return SL_EOPTION;
  }
  ks->codec = sl_codec_find(cfg->format);
  if (!ks->codec) {
    sl_log_error(name, "%s: unknown format '%s'", sl_stage_where(st), cfg->format);
    return SL_EOPTION;
  }
  if (ks->codec != &sl_codec_csv && cfg->columns) {
    sl_log_error(name, "%s: columns is for format = \"csv\"", sl_stage_where(st));
    return SL_EOPTION;
  }
  sl_codec_opts co = {.delimiter = cfg->delimiter && cfg->delimiter[0] ? cfg->delimiter[0] : ',',
                      .header = cfg->columns != NULL,
                      .columns = NULL,
                      .max_record = 0};
  ks->cctx = ks->codec->ctx_new ? ks->codec->ctx_new(&co) : NULL;
  if (!ks->cctx && ks->codec->ctx_new) {
    sl_log_error(name, "%s: invalid CSV delimiter", sl_stage_where(st));
    return SL_EOPTION;
  }
  if (cfg->columns) {
    /* Kafka messages carry no header row: the columns play its part. */
    sl_buf h = SL_BUF_INIT;
    for (char **c = cfg->columns; *c; c++) {
      if (c != cfg->columns) sl_buf_putc(&h, co.delimiter);
      sl_buf_putc(&h, '"');
      for (const char *q = *c; *q; q++) {
        if (*q == '"') sl_buf_putc(&h, '"');
        sl_buf_putc(&h, *q);
      }
      sl_buf_putc(&h, '"');
    }
    const char *why = NULL;
    int rc = h.oom ? SL_ENOMEM : ks->codec->take_header(ks->cctx, h.ptr ? h.ptr : "", h.len, &why);
    sl_buf_free(&h);
    if (rc) {
      sl_log_error(name, "%s: columns: %s", sl_stage_where(st), why ? why : sl_strerror(rc));
      return SL_EOPTION;
    }
  }
  static const char *const lag_labels[] = {"topic", "partition", NULL};
  ks->m_lag = sl_stage_metric(st, SL_GAUGE, "kafka_consumer_lag",
                              "Messages between the next one to consume and the end of the partition.",
                              lag_labels);
  ks->m_late = sl_stage_metric(st, SL_COUNTER, "kafka_late_acks_total",
                               "Batches acknowledged after their partition moved to another consumer "
                               "(their records are read again there).",
                               NULL);
  ks->batch_size = sl_stage_batch_size(st);
  ks->msgs = calloc(ks->batch_size, sizeof *ks->msgs);
  if (!ks->msgs) return SL_ENOMEM;

  char interval[32];
  snprintf(interval, sizeof interval, "%lld", (long long)(cfg->commit_interval_ms > 0 ? cfg->commit_interval_ms : 5000));
  char client_id[300];
  snprintf(client_id, sizeof client_id, "sluice.%s", name);
  const char *defaults[] = {
      "client.id", client_id,
      "partition.assignment.strategy", "cooperative-sticky",
      /* Prefetch: enough to keep the workers fed, small enough that memory
       * stays flat with a large backlog (the default is 64 MiB). */
      "queued.max.messages.kbytes", "32768",
      "queued.min.messages", "50000",
      NULL};
  const char *forced[] = {
      "group.id", cfg->group,
      "enable.auto.commit", ks->eos ? "false" : "true",
      "auto.commit.interval.ms", interval,
      "enable.auto.offset.store", "false",
      "enable.partition.eof", "false",
      "auto.offset.reset", cfg->start,
      /* Only committed transactions: also what librdkafka defaults to, so
       * forced only under exactly_once (last: otherwise NULL ends the list). */
      ks->eos ? "isolation.level" : NULL, "read_committed",
      NULL};
  rd_kafka_conf_t *conf = kafka_conf_new(&ks->kc, defaults, cfg->librdkafka, NULL, forced);
  if (!conf) return SL_EOPTION;
  rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  char v[64];
  size_t vlen = sizeof v;
  ks->queued_min = rd_kafka_conf_get(conf, "queued.min.messages", v, &vlen) == RD_KAFKA_CONF_OK
                       ? strtoll(v, NULL, 10) : 100000;
  vlen = sizeof v;
  ks->session_timeout_ms = rd_kafka_conf_get(conf, "session.timeout.ms", v, &vlen) == RD_KAFKA_CONF_OK
                               ? strtoll(v, NULL, 10) : 45000;
  /* librdkafka >= 2.1 backs off a full prefetch queue for this long
   * instead of a second; 2.0 needs the wake-ups. */
  vlen = sizeof v;
  if (rd_kafka_conf_get(conf, "fetch.queue.backoff.ms", v, &vlen) == RD_KAFKA_CONF_OK) {
    int user_set = 0;
    for (char **p = cfg->librdkafka; p && *p; p += 2) user_set |= strcmp(p[0], "fetch.queue.backoff.ms") == 0;
    if (!user_set) rd_kafka_conf_set(conf, "fetch.queue.backoff.ms", "10", NULL, 0);
  } else {
    ks->wakeups = 1;
  }
  char err[512];
  ks->kc.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!ks->kc.rk) {
    rd_kafka_conf_destroy(conf);
    sl_log_error(name, "%s: cannot create the Kafka consumer: %s", sl_stage_where(st), err);
    return SL_EOPTION;
  }
  /* One queue for messages, rebalances and errors: the consumer queue. */
  rd_kafka_poll_set_consumer(ks->kc.rk);
  return 0;
}

static int ksrc_start(sl_stage *st) {
  ksrc *ks = sl_stage_priv(st);
  ksrc_cfg *cfg = ks->cfg;
  int n = 0;
  for (char **t = cfg->topics; t && *t; t++) n++;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n + 1);
  for (char **t = cfg->topics; t && *t; t++)
    rd_kafka_topic_partition_list_add(l, *t, RD_KAFKA_PARTITION_UA);
  if (cfg->pattern) rd_kafka_topic_partition_list_add(l, cfg->pattern, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(ks->kc.rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    sl_log_error(sl_stage_name(st), "cannot subscribe: %s", rd_kafka_err2str(err));
    return SL_EINVAL;
  }
  rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(ks->kc.rk);
  if (!q) return SL_EINVAL;
  int rc = kafka_uv_start(&ks->uv, sl_stage_loop(st), q, POLL_EVERY_MS, serve, ks);
  if (rc) return rc;
  ks->started = 1;
  ks->started_at = sl_mono_ms();
  sl_log_info(sl_stage_name(st), "consuming %s%s%s as group %s from %s (new groups start at the %s); "
              "joining group %s and waiting for partition assignment",
              cfg->topics && cfg->topics[0] ? cfg->topics[0] : "", cfg->topics && cfg->topics[0] && cfg->topics[1] ? ", ..." : "",
              cfg->pattern ? cfg->pattern : "", cfg->group, cfg->brokers,
              strcmp(cfg->start, "earliest") == 0 ? "earliest offset" : "latest offset", cfg->group);
  return 0;
}

static void ksrc_pause(sl_stage *st) {
  ksrc *ks = sl_stage_priv(st);
  if (ks->closing || ks->soft_paused) return;
  ks->soft_paused = 1;
  ks->paused_at = sl_mono_ms();
}

static void ksrc_resume(sl_stage *st) {
  ksrc *ks = sl_stage_priv(st);
  if (ks->closing || ks->stopping) return;
  ks->soft_paused = 0;
  if (ks->hard_paused) set_paused(ks, 0);
  /* Not from here: resume runs inside the engine's acknowledgement. */
  kafka_uv_again(&ks->uv);
}

static void close_work(uv_work_t *req) {
  ksrc *ks = req->data;
  /* Every emitted batch is acked and its offsets stored: commit them and
   * wait for the broker, then leave the group so that the partitions move
   * at once rather than after session.timeout.ms. */
  if (!ks->eos) SL_CRASH_POINT("kafka.source.before_final_commit");
  ks->commit_err = ks->eos ? RD_KAFKA_RESP_ERR__NO_OFFSET : rd_kafka_commit(ks->kc.rk, NULL, 0);
  if (!ks->eos) SL_CRASH_POINT("kafka.source.after_final_commit");
  ks->close_err = rd_kafka_consumer_close(ks->kc.rk);
  ks->consumer_closed = 1;
}

static void after_close(uv_work_t *req, int status) {
  ksrc *ks = req->data;
  const char *name = sl_stage_name(ks->kc.st);
  ks->kc.off_loop = 0;
  ks->closed = 1;
  (void)status;
  if (ks->commit_err && ks->commit_err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    sl_log_warn(name, "final offset commit failed: %s (the records since the last commit will be read again)",
                rd_kafka_err2str(ks->commit_err));
  else if (ks->eos)
    sl_log_info(name, "left group %s (its offsets were committed with the sink's transactions)", ks->cfg->group);
  else
    sl_log_info(name, "committed the final offsets and left group %s", ks->cfg->group);
  if (ks->close_err) sl_log_warn(name, "closing the consumer: %s", rd_kafka_err2str(ks->close_err));
  if (ks->late_acks || ks->discarded)
    sl_log_info(name, "%llu batch acks came after their partitions moved; %llu messages read after stop were left for the next start",
                (unsigned long long)ks->late_acks, (unsigned long long)ks->discarded);
  sl_log_debug(name, "%llu fetch wake-ups", (unsigned long long)ks->nwakeups);
  finish_if_idle(ks);
}

/* Finished once closed and no wake-up still uses the client: the loop
 * may end right after, and destroy frees the client. */
static void finish_if_idle(ksrc *ks) {
  if (!ks->closed || ks->waking || ks->finished) return;
  ks->finished = 1;
  sl_source_finished(ks->kc.st);
}

static void begin_close(ksrc *ks) {
  if (ks->closing) return;
  if (ks->revoking) finish_revoke(ks, 0);
  ks->closing = 1;
  kafka_uv_stop(&ks->uv);
  ks->close_req.data = ks;
  ks->kc.off_loop = 1;
  if (uv_queue_work(sl_stage_loop(ks->kc.st), &ks->close_req, close_work, after_close)) {
    /* No thread pool: destroy will close it, after the loop. */
    ks->kc.off_loop = 0;
    ks->closed = 1;
    finish_if_idle(ks);
  }
}

static void ksrc_stop(sl_stage *st) {
  ksrc *ks = sl_stage_priv(st);
  if (ks->stopping) return;
  ks->stopping = 1;
  if (ks->kc.rk && !ks->hard_paused) set_paused(ks, 1);
  if (ks->acked == ks->emitted) begin_close(ks);
}

/* At least once: the batch is durable downstream, so librdkafka may commit
 * its offsets. */
static void store_offsets(ksrc *ks, const sl_checkpoint *cp) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)cp->a);
  int stale = kafka_pos_add_offsets(&ks->pos, cp, l);
  ks->late_acks += (uint64_t)stale;
  if (stale && ks->m_late) sl_metric_add(ks->m_late, NULL, stale);
  if (l->cnt && !ks->closing) {
    SL_CRASH_POINT("kafka.source.before_offsets_store");
    rd_kafka_offsets_store(ks->kc.rk, l);
    SL_CRASH_POINT("kafka.source.after_offsets_store");
    for (int i = 0; i < l->cnt; i++) {
      rd_kafka_resp_err_t pe = l->elems[i].err;
      /* __STATE: revoked in a rebalance we have not served yet. */
      if (pe && pe != RD_KAFKA_RESP_ERR__STATE)
        sl_log_warn(sl_stage_name(ks->kc.st), "cannot store the offset of %s [%d]: %s", l->elems[i].topic,
                    (int)l->elems[i].partition, rd_kafka_err2str(pe));
    }
  }
  rd_kafka_topic_partition_list_destroy(l);
}

static void ksrc_ack(sl_stage *st, const sl_checkpoint *cp) {
  ksrc *ks = sl_stage_priv(st);
  ks->acked++;
  /* Under exactly_once the sink committed the offsets in its transaction. */
  if (!ks->eos) store_offsets(ks, cp);
  if (ks->revoking && ks->acked >= ks->revoke_after) finish_revoke(ks, 0);
  if (ks->stopping && ks->acked == ks->emitted) begin_close(ks);
}

/* ---- for the transactional sink (exactly_once) ---- */

rd_kafka_consumer_group_metadata_t *kafka_source_group_metadata(sl_stage *st) {
  if (sl_stage_plugin(st) != &kafka_source_plugin) return NULL;
  ksrc *ks = sl_stage_priv(st);
  return ks->kc.rk ? rd_kafka_consumer_group_metadata(ks->kc.rk) : NULL;
}

const kafka_positions *kafka_source_positions(sl_stage *st) {
  if (sl_stage_plugin(st) != &kafka_source_plugin) return NULL;
  ksrc *ks = sl_stage_priv(st);
  return &ks->pos;
}

static void ksrc_destroy(sl_stage *st) {
  ksrc *ks = sl_stage_priv(st);
  if (ks->kc.rk) {
    /* The loop has ended: blocking is allowed now.  A consumer that was
     * not closed yet (a failed start) leaves its group here. */
    if (!ks->consumer_closed) {
      ks->kc.off_loop = 1;
      rd_kafka_consumer_close(ks->kc.rk);
    }
    kafka_uv_close(&ks->uv);
    rd_kafka_destroy(ks->kc.rk);
    ks->kc.rk = NULL;
  } else {
    kafka_uv_close(&ks->uv);
  }
  if (ks->cctx && ks->codec->ctx_free) ks->codec->ctx_free(ks->cctx);
  ks->cctx = NULL;
  if (ks->revoking) rd_kafka_topic_partition_list_destroy(ks->revoking);
  ks->revoking = NULL;
  kafka_pos_free(&ks->pos);
  free(ks->msgs);
  ks->msgs = NULL;
}

static const sl_option ksrc_options[] = {
    {"brokers", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(ksrc_cfg, brokers), "Bootstrap brokers, \"host:port,host:port\".", NULL},
    {"topics", SL_OPT_STRLIST, NULL, 0, offsetof(ksrc_cfg, topics), "Topics to consume (or pattern).", NULL},
    {"pattern", SL_OPT_STR, NULL, 0, offsetof(ksrc_cfg, pattern), "Regular expression over topic names, starting with '^'.", NULL},
    {"group", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(ksrc_cfg, group), "Consumer group id: instances with the same group share the partitions.", NULL},
    {"format", SL_OPT_ENUM, "json", 0, offsetof(ksrc_cfg, format), "Message value format (json: one JSON object per message; jsonl is the same).", "json|jsonl|csv|raw"},
    {"columns", SL_OPT_STRLIST, NULL, 0, offsetof(ksrc_cfg, columns), "csv: field names (default c1, c2, ...).", NULL},
    {"delimiter", SL_OPT_STR, ",", 0, offsetof(ksrc_cfg, delimiter), "csv: field separator.", NULL},
    {"start", SL_OPT_ENUM, "earliest", 0, offsetof(ksrc_cfg, start), "Where a group without committed offsets starts.", "earliest|latest"},
    {"librdkafka", SL_OPT_MAP, NULL, 0, offsetof(ksrc_cfg, librdkafka), "librdkafka settings passed through (TLS, SASL, tuning).", NULL},
    {"commit_interval", SL_OPT_DURATION, "5s", 0, offsetof(ksrc_cfg, commit_interval_ms), "How often stored offsets are committed.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin kafka_source_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "kafka.source",
    .doc = "Consumes Kafka topics in a consumer group; commits offsets once records are durable downstream.",
    .options = ksrc_options,
    .config_size = sizeof(ksrc_cfg),
    .priv_size = sizeof(ksrc),
    .init = ksrc_init,
    .destroy = ksrc_destroy,
    .start = ksrc_start,
    .pause = ksrc_pause,
    .resume = ksrc_resume,
    .stop = ksrc_stop,
    .ack = ksrc_ack,
    .caps = SL_CAN_EXACTLY_ONCE,
};
