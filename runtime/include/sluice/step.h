/* Steps: one record in, zero or more out, on worker threads.
 *
 * A step plugin's process callback sees one record at a time through an
 * sl_step_out, which belongs to the worker that runs it: nothing here
 * locks, and nothing here may be kept past the call. */
#ifndef SLUICE_STEP_H
#define SLUICE_STEP_H

#include "sluice/arena.h"
#include "sluice/record.h"

typedef struct sl_step_out sl_step_out;

/* Results of a step's process callback. */
#define SL_STEP_KEEP 0        /* pass the record on */
#define SL_STEP_DROP 1        /* drop it (counts as done) */

const char *sl_step_stage_name(sl_step_out *out);
/* The arena of the record's batch: where changed values and new records go. */
sl_arena *sl_step_arena(sl_step_out *out);
/* Adds a record after the current one; rec must live in the step's arena.
 * 0, SL_ENOMEM, or SL_ETOOBIG past the records that a batch may hold
 * (limits.memory_mb). */
int sl_step_emit(sl_step_out *out, sl_record *rec);
/* Marks the current record failed with reason (copied). */
void sl_step_fail(sl_step_out *out, sl_record *rec, const char *reason);

#endif
