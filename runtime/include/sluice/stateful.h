/* Stateful steps: a step that keeps state across records (an index, running
 * counts, open windows) and sees every record in its source's order.
 *
 * A step plugin becomes stateful by pointing sl_plugin.stateful at an
 * sl_stateful table (it then has no worker_init nor process).  The pipeline
 * splits its steps there: the workers run the steps before it on many
 * batches at once; the stage's lane, one thread of its own, takes each
 * source's batches in the order the source emitted them and calls apply for
 * their records in order; the workers then run the steps after it, each
 * sink's `where` and the encoding.  A batch is acknowledged only once the
 * lane and every sink are done with it, so the in-flight bounds, the
 * acknowledgement order and the dead letters work as for any step.
 *
 * Threads: init, restore and destroy run on the loop thread; apply,
 * batch_end, tick and finish on the lane's thread, one call at a time.
 * Between init and destroy only the lane touches the stage's private state
 * (sl_stage_priv): it needs no lock, and nothing else may read it.
 *
 * Bounds: what the step outputs for one batch is bounded as a step's on a
 * worker.  sl_step_emit returns SL_ETOOBIG past max_inflight_records
 * records for one apply (one record's fan-out) or past what
 * limits.memory_mb allows for the batch (the only bound of tick, finish
 * and batch_end, which have no record to fan out);
 * while a hook runs, the batch's arena may grow by at most
 * limits.memory_mb (an allocation past it returns NULL, and a record whose
 * apply went past it is a dead letter with its raw bytes only).
 *
 * Restart.  A source resumes from its last acknowledged checkpoint, so after
 * a crash the records after it come again (at least once).  The contract is
 * the stage's:
 *   1. restore rebuilds the state from where the stage's results are
 *      durable (the sink's tables, a file the sink wrote), not from a
 *      snapshot of its own, so that state and checkpoints cannot disagree;
 *   2. apply is idempotent by record identity (department + feed + source
 *      id, a key field, a Kafka offset): a record that comes again replaces
 *      its earlier version or is recognised as seen, and changes nothing
 *      else.
 * Records of different sources interleave in an order that may differ from
 * one run to the next; each source's own order is kept. */
#ifndef SLUICE_STATEFUL_H
#define SLUICE_STATEFUL_H

#include "sluice/record.h"
#include "sluice/stage.h"
#include "sluice/step.h"

typedef struct sl_stateful {
  /* Optional.  Loop thread, after every stage's init and before any source
   * starts (sinks are open: it may read their tables; it may block).  0, or
   * a negative SL_E* after logging why: the pipeline does not start. */
  int (*restore)(sl_stage *st);
  /* Lane thread: one record, in its source's order.  Like a step's process:
   * SL_STEP_KEEP, SL_STEP_DROP, or a negative SL_E* after sl_step_fail (the
   * record goes to the dead-letter sink with the reason; the state should
   * be as if it never came).  Extra records go out with sl_step_emit. */
  int (*apply)(sl_stage *st, sl_step_out *out, sl_record *rec);
  /* Optional.  Lane thread: each record of the batch that a step before
   * sent to the dead-letter sink (rec->error says why), after the batch's
   * records are applied and before batch_end, so that a stage that
   * measures its input sees what did not reach it (sl_step_source(out)
   * says where it came from).  It must not change the record nor emit. */
  void (*dead)(sl_stage *st, sl_step_out *out, const sl_record *rec);
  /* Optional.  Lane thread, after the last record of each batch (also of a
   * batch with no record left): records emitted here (closed windows, say)
   * follow the batch's records. */
  void (*batch_end)(sl_stage *st, sl_step_out *out);
  /* Optional.  Lane thread, every interval set by sl_stateful_tick (from
   * init), between batches: time-driven output (a window that closes with
   * no record arriving).  now_ms is the wall clock (Unix ms) when the tick
   * was due.  Records emitted here go out in a batch of the lane's own,
   * which carries no source position, through the steps after this one,
   * the sinks' `where` and encoding, dead letters and acknowledgement like
   * any batch (its acknowledgement moves no checkpoint).  One tick at a
   * time: a tick due while the last one's batch is in flight is skipped,
   * so work out what is due from now_ms.  No tick after finish, nor once
   * the pipeline stops. */
  void (*tick)(sl_stage *st, sl_step_out *out, int64_t now_ms);
  /* Optional.  Lane thread, once, when every source has ended (a file read
   * to its end, a bounded query done) and every batch before is applied:
   * end-of-input results (each record's final entity, the last windows).
   * "Applied" means acknowledged: every batch's output is durable before.
   * Records emitted here go out, like tick's, in a batch of the lane's own;
   * the pipeline stops once it is durable in every sink.  Not called on a
   * stop (a signal, a reload, a fatal error): the input has not ended then,
   * and a restart rebuilds the state.  Once per input: when its batch is
   * acknowledged, <state folder>/<step>.lane.json says so, and a start whose
   * input ends again without a new record does not call finish again. */
  void (*finish)(sl_stage *st, sl_step_out *out);
} sl_stateful;

/* From init: call the stage's tick every interval_ms (0: never). */
void sl_stateful_tick(sl_stage *st, int64_t interval_ms);

/* The source whose batch the record of this call came from: a stateful
 * stage keeps per-source state with it (sl_stage_name).  In tick and
 * finish, and for records a stateful step before emitted there, it is the
 * lane's own source, a stage named "<step>.lane". */
sl_stage *sl_step_source(sl_step_out *out);

#endif
