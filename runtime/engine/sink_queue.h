/* The sink queue's runtime-internal side (the public one is
 * sluice/sink_queue.h): a seam for the deterministic simulation
 * (tests/faults/sim/), which owns the clock.  Nothing in a run calls it. */
#ifndef SLUICE_ENGINE_SINK_QUEUE_H
#define SLUICE_ENGINE_SINK_QUEUE_H

#include "sluice/sink_queue.h"

/* Ends q's back-off now, as if its timer had fired (the group in flight is
 * written again, or ops->resume is called): the simulation's scheduler,
 * not the wall clock, decides when a pause is over.  1 if q was backing
 * off, 0 if not (nothing happens). */
int sl__sink_queue_expire(sl_sink_queue *q);
/* Whether q is backing off (its retry timer runs). */
int sl__sink_queue_backing_off(const sl_sink_queue *q);

#endif
