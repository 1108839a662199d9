/* Taps (runtime-internal): copies of the records leaving a stage, sampled
 * on the worker threads into a bounded queue that the loop thread drains
 * (`sluice tap`, the admin endpoint's /tap).
 *
 * What leaves a stage: for a source, its records once decoded (those that
 * failed to decode are dead letters, not output); for a step, what it
 * output (a stateful step's output is seen by the phase after its lane);
 * for a sink, the records it is given (past its `where`; the dead-letter
 * sink's are the envelopes).
 *
 * Without a tap the workers pay one relaxed atomic load per batch and
 * phase (sl__tap_on).  With one, a record is copied only when sampled,
 * encoded as one JSON line into its tap's queue (at most SL_TAP_QUEUE
 * bytes): when that is full the sample is dropped and counted, never
 * waited for; the loop thread takes the queue every SL_TAP_FLUSH_MS.
 * Values read with sl.env are redacted from the lines. */
#ifndef SLUICE_ENGINE_TAP_H
#define SLUICE_ENGINE_TAP_H

#include <stdatomic.h>

#include "engine/engine.h"

#define SL_TAP_MAX 4
#define SL_TAP_QUEUE (256 * 1024)
/* How often the loop thread takes a tap's queue, in ms. */
#define SL_TAP_FLUSH_MS 50
#define SL_TAP_MAX_FIELDS 32

typedef struct sl_tap sl_tap;

typedef struct sl_tap_opts {
  uint64_t every;             /* keep one record in every `every` (1: all) */
  uint64_t limit;             /* stop after that many lines (0: no limit) */
  int nfields;                /* project the record on these fields (0: all) */
  const char *fields[SL_TAP_MAX_FIELDS];
  /* Only records whose field where_field holds where_value (a string with
   * that text, or a number, true, false or null written so); sampling
   * then counts those records only.  NULL: every record. */
  const char *where_field, *where_value;
} sl_tap_opts;

/* Attaches a tap to st (loop thread).  wake(arg) is called on the loop
 * thread every SL_TAP_FLUSH_MS, to take what waits (sl__tap_take).  0, or
 * SL_EAGAIN (SL_TAP_MAX attached already), SL_ENOMEM. */
int sl__tap_attach(sl_pipeline *p, sl_stage *st, const sl_tap_opts *o, void (*wake)(void *arg),
                   void *arg, sl_tap **out);
/* Moves the lines waiting into out, a {"dropped":N} line after them when
 * samples were lost since the last take.  1 once the limit is reached and
 * every line taken: the tap is complete. */
int sl__tap_take(sl_tap *t, sl_buf *out);
/* Detaches and frees t (loop thread): no worker touches it afterwards. */
void sl__tap_detach(sl_tap *t);
/* After the workers stopped and every tap was detached. */
void sl__taps_free(sl_pipeline *p);

/* Whether any tap is attached: one relaxed load, for the workers to ask
 * once per batch. */
static inline int sl__tap_on(const sl_pipeline *p) {
  return atomic_load_explicit(&p->ntaps, memory_order_relaxed) != 0;
}
/* The records recs[0..n) leave st (worker thread, owning their batch). */
void sl__tap_records(sl_pipeline *p, sl_stage *st, sl_record *const *recs, size_t n);

#endif
