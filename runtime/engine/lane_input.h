/* The batches a lane makes itself (runtime-internal), on the loop thread:
 * tick and finish of the stateful steps (sluice/stateful.h).  It sits above
 * the flow (it emits through it) and beside the pipeline, which wires
 * p->lanes_at_end and p->first_input to it. */
#ifndef SLUICE_ENGINE_LANE_INPUT_H
#define SLUICE_ENGINE_LANE_INPUT_H

#include "engine/engine.h"

/* After the stages' init (tick intervals are set there): one source per
 * lane (p->lane_src), each lane's finish marker read, the tick timers
 * started on p->loop, the hooks wired.  0, or SL_ENOMEM or SL_ESTATE (a
 * finish marker that is neither done nor pending) with err set.
 * Nothing to do without stateful steps. */
int sl__lane_input_start(sl_pipeline *p, sl_buf *err);
/* A tick for lane j at now_ms (Unix ms): what each lane's timer calls; a
 * test calls it to drive time.  Skipped while the lane's last tick batch is
 * in flight, after finish, and once the pipeline is stopping. */
void sl__lane_tick(sl_pipeline *p, int j, int64_t now_ms);
/* p->lanes_at_end: at the end of input emits each lane's finish batch in
 * lane order, each once the batches of the lanes before are acknowledged;
 * on a stop, stops the ticks.  1 once no lane batch is in flight. */
int sl__lanes_at_end(sl_pipeline *p, int input_ended);
/* Closes the tick timers (before the loop's handles are walked). */
void sl__lane_input_stop(sl_pipeline *p);
/* After the loop is closed: the lane sources, their batches still in
 * flight, the timers' memory. */
void sl__lane_input_free(sl_pipeline *p);

#endif
