/* The sink queue (sluice/sink_queue.h): a sink's queue, its group in
 * flight, retries with back-off and completion in arrival order. */
#include "engine/sink_queue.h"

#include <stdio.h>
#include <string.h>

#include "sluice/errors.h"
#include "sluice/log.h"

static void on_timer(uv_timer_t *t);

int sl_sink_queue_init(sl_sink_queue *q, sl_stage *st, const sl_sink_queue_ops *ops, void *ctx,
                       const sl_sink_queue_cfg *cfg) {
  memset(q, 0, sizeof *q);
  q->st = st;
  q->ops = ops;
  q->ctx = ctx;
  if (cfg) q->cfg = *cfg;
  if (q->cfg.backoff_initial_ms <= 0) q->cfg.backoff_initial_ms = 100;
  if (q->cfg.backoff_max_ms <= 0) q->cfg.backoff_max_ms = 10000;
  if (q->cfg.backoff_max_ms < q->cfg.backoff_initial_ms)
    q->cfg.backoff_max_ms = q->cfg.backoff_initial_ms;
  if (uv_timer_init(sl_stage_loop(st), &q->timer)) return SL_ENOMEM;
  q->timer.data = q;
  q->timer_open = 1;
  return 0;
}

void sl_sink_queue_close(sl_sink_queue *q) {
  if (q->timer_open) uv_close((uv_handle_t *)&q->timer, NULL);
  q->timer_open = 0;
}

static int backing_off(const sl_sink_queue *q) {
  return q->timer_open && uv_is_active((const uv_handle_t *)&q->timer);
}

int sl__sink_queue_backing_off(const sl_sink_queue *q) { return backing_off(q); }

static void check_flushed(sl_sink_queue *q) {
  if (q->flushing && !q->group && !q->qhead) {
    q->flushing = 0;
    sl_stage_flushed(q->st);
  }
}

void sl_sink_queue_kick(sl_sink_queue *q) {
  if (q->group) return;
  if (!q->qhead) {
    check_flushed(q);
    return;
  }
  if (backing_off(q)) return;
  if (q->ops->ready && !q->ops->ready(q->ctx)) return;
  /* As many queued batches as the limits allow, and at least one. */
  sl_sink_batch *first = q->qhead, *last = NULL;
  uint32_t n = 0;
  uint64_t recs = 0;
  while (q->qhead && (!q->cfg.max_batches || n < q->cfg.max_batches) &&
         (n == 0 || !q->cfg.max_records || recs + q->qhead->n <= q->cfg.max_records)) {
    last = q->qhead;
    q->qhead = last->next;
    n++;
    recs += last->n;
  }
  if (!q->qhead) q->qtail = NULL;
  last->next = NULL;
  q->queued_records -= recs;
  q->group = first;
  q->group_n = n;
  q->group_records = recs;
  q->ops->write(q->ctx, first, n);
}

void sl_sink_queue_push(sl_sink_queue *q, sl_sink_batch *sb) {
  sb->next = NULL;
  if (q->broken) {
    sl_sink_failed(sb, q->broken_why);
    return;
  }
  if (q->qtail) q->qtail->next = sb;
  else q->qhead = sb;
  q->qtail = sb;
  q->queued_records += sb->n;
  sl_sink_queue_kick(q);
}

void sl_sink_queue_flush(sl_sink_queue *q) {
  q->flushing = 1;
  check_flushed(q);
}

/* The group is durable: acknowledge its batches in order, then go on. */
static void group_done(sl_sink_queue *q) {
  sl_sink_batch *sb = q->group;
  q->group = NULL;
  q->group_n = 0;
  q->group_records = 0;
  q->backoff_ms = 0;
  /* sl_sink_done may free a batch: take each next pointer first. */
  while (sb) {
    sl_sink_batch *next = sb->next;
    sl_sink_done(sb);
    sb = next;
  }
  sl_sink_queue_kick(q);
}

/* For good: the group, everything queued and everything pushed later fail
 * with why; nothing of them is acknowledged. */
static void fail_all(sl_sink_queue *q, const char *why) {
  snprintf(q->broken_why, sizeof q->broken_why, "%s", why ? why : "the write failed");
  q->broken = 1;
  if (q->timer_open) uv_timer_stop(&q->timer);
  sl_sink_batch *sb = q->group;
  sl_sink_batch *last = sb;
  while (last && last->next) last = last->next;
  if (last) last->next = q->qhead;
  else sb = q->qhead;
  q->group = q->qhead = q->qtail = NULL;
  q->group_n = 0;
  q->group_records = q->queued_records = 0;
  while (sb) {
    sl_sink_batch *next = sb->next;
    sl_sink_failed(sb, q->broken_why);
    sb = next;
  }
  check_flushed(q);
}

void sl_sink_queue_retry(sl_sink_queue *q, const char *why) {
  int64_t ms = q->backoff_ms ? q->backoff_ms * 2 : q->cfg.backoff_initial_ms;
  if (ms > q->cfg.backoff_max_ms) ms = q->cfg.backoff_max_ms;
  q->backoff_ms = ms;
  sl_log_error(sl_stage_name(q->st), "%s; retrying in %lld ms", why ? why : "the write failed",
               (long long)ms);
  uv_timer_start(&q->timer, on_timer, (uint64_t)ms, 0);
}

void sl_sink_queue_written(sl_sink_queue *q, int err, const char *why) {
  if (!err) group_done(q);
  else if (q->ops->permanent && q->ops->permanent(q->ctx, err)) fail_all(q, why);
  else sl_sink_queue_retry(q, why);
}

static void on_timer(uv_timer_t *t) {
  sl_sink_queue *q = t->data;
  if (q->group) {
    q->ops->write(q->ctx, q->group, q->group_n);
    return;
  }
  if (q->ops->resume) q->ops->resume(q->ctx);
  sl_sink_queue_kick(q);
}

int sl__sink_queue_expire(sl_sink_queue *q) {
  if (!backing_off(q)) return 0;
  uv_timer_stop(&q->timer);
  on_timer(&q->timer);
  return 1;
}

sl_sink_batch *sl_sink_queue_group(const sl_sink_queue *q) { return q->group; }

uint64_t sl_sink_queue_records(const sl_sink_queue *q) {
  return q->group_records + q->queued_records;
}

int64_t sl_sink_queue_backoff_ms(const sl_sink_queue *q) { return q->backoff_ms; }
