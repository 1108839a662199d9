/* The flow (runtime-internal), on the loop thread: batches emitted by the
 * sources go to p->submit, come back processed, are handed to the sinks in
 * each source's order and acknowledged to the source in that order; the
 * in-flight bounds pause and resume the sources; the run ends once every
 * source finished and every batch settled.  Plugins enter it through
 * sl_source_emit, sl_sink_done, sl_sink_failed... (sluice/plugin.h). */
#ifndef SLUICE_ENGINE_FLOW_H
#define SLUICE_ENGINE_FLOW_H

#include "engine/engine.h"
#include "engine/state.h"

/* What a checkpoint write tells the flow (p->state_hooks). */
extern const sl_state_hooks sl__flow_state_hooks;

void sl__flow_emit(sl_pipeline *p, sl_stage *src, sl_batch *b);
/* Called on the loop thread for batches a phase finished (the workers or
 * a stateful stage's lane), in any order: each source's batches enter each
 * lane, and then the sinks, in emission order. */
void sl__flow_processed(sl_pipeline *p, sl_batch *b);
/* Starts the sinks' flush, or ends the loop (uv_stop), once everything is
 * drained; a no-op before. */
void sl__flow_check_end(sl_pipeline *p);
/* Records whose checkpoint became durable: no longer in flight. */
void sl__flow_release_records(sl_pipeline *p, uint64_t n);
/* Stops the sources; the run ends once what is in flight is durable. */
void sl__flow_drain(sl_pipeline *p);

#endif
