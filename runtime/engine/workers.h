/* The worker pool (runtime-internal): threads that decode, run the steps
 * and encode for each sink, one whole batch at a time.  It sits beneath the
 * flow: a finished batch goes back through the done callback given to
 * sl__workers_start, called on the worker's thread. */
#ifndef SLUICE_ENGINE_WORKERS_H
#define SLUICE_ENGINE_WORKERS_H

#include "engine/engine.h"

/* Called on a worker thread with each processed batch; it must hand the
 * batch to the loop thread (which then calls sl__flow_processed). */
typedef void (*sl_workers_done_fn)(sl_pipeline *p, sl_batch *b);

int sl__workers_start(sl_pipeline *p, sl_workers_done_fn done, sl_buf *err);
void sl__workers_submit(sl_workers *w, sl_batch *b);
void sl__workers_stop(sl_workers *w);
/* The longest time a worker has been inside one Lua call, in ms (-1 if none
 * is in one), and in *id that worker's number.  Loop thread. */
int64_t sl__workers_longest_call(sl_workers *w, int *id);

#endif
