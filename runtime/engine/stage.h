/* Stages (runtime-internal): the step API's output, shared by stage.c (the
 * public sl_step_* functions) and the workers that run the steps. */
#ifndef SLUICE_ENGINE_STAGE_H
#define SLUICE_ENGINE_STAGE_H

#include "engine/engine.h"

/* Where a C step's process() puts records: the worker running it fills
 * emit, so that the step API stays in one place and knows no worker. */
struct sl_step_out {
  sl_stage *stage;
  sl_batch *batch;
  int (*emit)(sl_step_out *out, sl_record *rec);
};

/* A Lua state of its own for a thread that runs Lua steps (a worker, a
 * stateful step's lane): sandboxed under the pipeline's limits and grants,
 * the pipeline file evaluated in it (under the load budget, then call_ms
 * for every call), its descriptor left on the stack.  0, or a negative
 * SL_E* with the reason in err (*out may then be set: free it). */
int sl__pipeline_lua_new(sl_pipeline *p, sl_lua **out, sl_buf *err);
void sl__pipeline_lua_free(sl_lua *s);

/* How many records the steps may output for one batch: a batch's records
 * are listed twice while a step runs (what goes in, what comes out), and
 * those lists count against limits.memory_mb as what the steps make does.
 * UINT64_MAX without a memory limit.  The workers and the lanes both
 * bound a step's output by it (SL_ETOOBIG). */
uint64_t sl__step_records_bound(const sl_pipeline *p);

#endif
