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

/* How many records the steps may output for one batch: a batch's records
 * are listed twice while a step runs (what goes in, what comes out), and
 * those lists count against limits.memory_mb as what the steps make does.
 * UINT64_MAX without a memory limit.  The workers and the lanes both
 * bound a step's output by it (SL_ETOOBIG). */
uint64_t sl__step_records_bound(const sl_pipeline *p);

#endif
