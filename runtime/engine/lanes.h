/* Lanes (runtime-internal): one thread per stateful step (sluice/stateful.h)
 * that runs the step for whole batches, one at a time, in the order it is
 * given them; the flow gives them in each source's order.  It sits beneath
 * the flow, beside the workers: a batch goes back through the done callback
 * given to sl__lanes_start, called on the lane's thread. */
#ifndef SLUICE_ENGINE_LANES_H
#define SLUICE_ENGINE_LANES_H

#include "engine/engine.h"

/* Called on a lane's thread with each batch it is done with; it must hand
 * the batch to the loop thread (which then calls sl__flow_processed). */
typedef void (*sl_lanes_done_fn)(sl_pipeline *p, sl_batch *b);

/* Starts one lane per p->lane_step; none (and p->lanes NULL) without
 * stateful steps. */
int sl__lanes_start(sl_pipeline *p, sl_lanes_done_fn done, sl_buf *err);
/* Queues b (phase 2j + 1) on lane j. */
void sl__lanes_submit(sl_lanes *l, sl_batch *b);
/* Lets each lane finish the batch it is in, then joins them. */
void sl__lanes_stop(sl_lanes *l);
/* Runs stateful step st over the batch's live records on the calling
 * thread, as a lane does: what the lanes run, and what a test may call. */
void sl__lane_run(sl_stage *st, sl_batch *b);

#endif
