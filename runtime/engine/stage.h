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

#endif
