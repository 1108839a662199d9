/* The sink queue: what every sink needs between sl_plugin.write and
 * sl_sink_done, written once.
 *
 * A sink embeds an sl_sink_queue in its private data, hands every batch it
 * is given to sl_sink_queue_push and its flush to sl_sink_queue_flush, and
 * supplies one callback, write, that makes a group of queued batches
 * durable.  The queue owns the rest:
 *
 *   - the queue, in arrival order;
 *   - one group in flight at a time: as many queued batches as the limits
 *     allow (max_batches, max_records), so a sink keeps its gather write or
 *     its multi-batch transaction; what arrives meanwhile waits and goes
 *     out in the next group;
 *   - retries: an error retrying can heal keeps the group and writes the
 *     same batches again after a pause that doubles from backoff_initial_ms
 *     to backoff_max_ms, logged as "<why>; retrying in N ms" under the
 *     stage's name; a success resets it;
 *   - completion in arrival order: sl_sink_done for each batch of a
 *     written group, first to last;
 *   - a permanent error: every batch in flight and queued, and every one
 *     pushed later, is failed (sl_sink_failed with the reason);
 *   - flush: sl_stage_flushed once nothing is queued or in flight;
 *   - close: the retry timer is closed by sl_sink_queue_close (destroy).
 *
 *   static void my_write(void *ctx, sl_sink_batch *first, uint32_t n) {
 *     ... start writing first..(n batches, by next) ...
 *     later: sl_sink_queue_written(&k->q, err, "writing x failed: ...");
 *   }
 *   init:    sl_sink_queue_init(&k->q, st, &my_ops, k, &cfg);
 *   write:   sl_sink_queue_push(&k->q, sb); return 0;
 *   flush:   sl_sink_queue_flush(&k->q);
 *   destroy: sl_sink_queue_close(&k->q);
 *
 * Loop thread only.  The fields are the queue's own: read them through the
 * calls below. */
#ifndef SLUICE_SINK_QUEUE_H
#define SLUICE_SINK_QUEUE_H

#include <stdint.h>
#include <uv.h>

#include "sluice/sink.h"
#include "sluice/stage.h"

typedef struct sl_sink_queue_ops {
  /* Writes a group: n >= 1 batches from first, linked by next (the last's
   * next is NULL), in arrival order.  Ends with sl_sink_queue_written,
   * perhaps before returning.  After a retryable error the same group
   * comes again.  The batches stay the queue's: do not change next. */
  void (*write)(void *ctx, sl_sink_batch *first, uint32_t n);
  /* Whether err (non-zero, as given to sl_sink_queue_written) is one that
   * retrying cannot heal.  NULL: every error is retried. */
  int (*permanent)(void *ctx, int err);
  /* Whether the sink can take a group now (its connection is up).  When it
   * becomes ready it calls sl_sink_queue_kick.  NULL: always ready. */
  int (*ready)(void *ctx);
  /* The pause of an sl_sink_queue_retry made with no group in flight is
   * over (a lost connection to open again).  NULL: nothing to do. */
  void (*resume)(void *ctx);
} sl_sink_queue_ops;

typedef struct sl_sink_queue_cfg {
  uint32_t max_batches;         /* per group; 0: no limit */
  uint64_t max_records;         /* per group, but a group has at least one batch; 0: no limit */
  int64_t backoff_initial_ms;   /* first pause after an error; 0: 100 ms */
  int64_t backoff_max_ms;       /* the longest; 0: 10 s */
} sl_sink_queue_cfg;

typedef struct sl_sink_queue {
  sl_stage *st;
  const sl_sink_queue_ops *ops;
  void *ctx;
  sl_sink_queue_cfg cfg;
  sl_sink_batch *qhead, *qtail;   /* waiting for a group */
  sl_sink_batch *group;           /* in flight (or waiting to be written again) */
  uint32_t group_n;
  uint64_t queued_records;        /* in qhead.. */
  uint64_t group_records;
  int64_t backoff_ms;             /* the last pause; 0 after a success */
  uv_timer_t timer;
  int timer_open;
  int flushing;
  int broken;                     /* failed for good: later batches fail at once */
  char broken_why[512];
} sl_sink_queue;

/* Sets up q for the sink st (in the sink's init: it starts the retry
 * timer's handle).  ops and ctx must outlive q; cfg is copied (NULL: the
 * defaults).  0, or a negative SL_E*. */
int sl_sink_queue_init(sl_sink_queue *q, sl_stage *st, const sl_sink_queue_ops *ops, void *ctx,
                       const sl_sink_queue_cfg *cfg);
/* Closes the timer (in the sink's destroy; harmless if init failed or never
 * ran, as long as q was zeroed). */
void sl_sink_queue_close(sl_sink_queue *q);

/* A batch from sl_plugin.write: queued, and written when its turn comes
 * (perhaps at once, before this returns).  Failed at once after a
 * permanent error. */
void sl_sink_queue_push(sl_sink_queue *q, sl_sink_batch *sb);
/* From sl_plugin.flush: calls sl_stage_flushed once nothing is queued or in
 * flight (perhaps before this returns). */
void sl_sink_queue_flush(sl_sink_queue *q);

/* Ends the group in flight.  err 0: it is durable, and each batch gets
 * sl_sink_done in order.  Otherwise why says what failed ("writing x
 * failed: no space left on device"): for an error ops->permanent calls
 * permanent, everything queued fails with it; else it is logged with the
 * pause and the same group is written again after it. */
void sl_sink_queue_written(sl_sink_queue *q, int err, const char *why);
/* Pauses as after a retryable error, with or without a group in flight
 * (a connection lost while idle): logs why and the pause; after it, the
 * group in flight is written again, or ops->resume is called. */
void sl_sink_queue_retry(sl_sink_queue *q, const char *why);
/* The sink became ready (ops->ready): start the next group if idle. */
void sl_sink_queue_kick(sl_sink_queue *q);

/* The group in flight, or waiting to be written again (NULL if none). */
sl_sink_batch *sl_sink_queue_group(const sl_sink_queue *q);
/* Records waiting: in flight and queued. */
uint64_t sl_sink_queue_records(const sl_sink_queue *q);
/* The pause after the last error; 0 when the last write succeeded. */
int64_t sl_sink_queue_backoff_ms(const sl_sink_queue *q);

#endif
