/* A pipeline's life (runtime-internal): load (load.c), then build, run and
 * tear down (pipeline.c); sl_pipeline_main (engine.h) is that sequence. */
#ifndef SLUICE_ENGINE_PIPELINE_H
#define SLUICE_ENGINE_PIPELINE_H

#include "engine/engine.h"

/* Evaluates o->file into p: settings, stages with their options, the
 * dead-letter sink, the state folder's name.  0, or a negative SL_E* with
 * the reason in err (which may be empty for out of memory). */
int sl__pipeline_load(sl_pipeline *p, const sl_run_opts *o, sl_buf *err);
/* sluice test's `at` and `to`: keeps steps[first .. last] only, so that
 * records go in at steps[first] and leave after steps[last]; the stateful
 * steps' lanes are found again.  0, or a negative SL_E* with the reason in
 * err. */
int sl__pipeline_keep_steps(sl_pipeline *p, int first, int last, sl_buf *err);
/* Frees what loading made, and p itself (after the teardown of a run). */
void sl__pipeline_unload(sl_pipeline *p);

#endif
