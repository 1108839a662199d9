/* Sources: batches out, acknowledgements back.
 *
 * A source fills a batch with records allocated from the batch's arena,
 * sets the position it may resume from, and emits it.  Once every record
 * of the batch is durable downstream (or dropped), the runtime calls the
 * source's ack callback with that checkpoint, batches in emission order:
 * only then may the source commit the position.  Loop thread only. */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/record.h"
#include "sluice/stage.h"

typedef struct sl_batch sl_batch;

/* Where a source may resume from: opaque to the runtime, given back to the
 * source in order once every record of the batch is durable downstream. */
typedef struct sl_checkpoint {
  int64_t a, b, c;
  int ref;                /* a Lua registry reference (Lua sources), else 0 */
  void *data;             /* more, in the batch's arena: valid until ack returns */
} sl_checkpoint;

/* A new empty batch, its records allocated from its arena. */
sl_batch *sl_batch_new(sl_stage *source);
sl_arena *sl_batch_arena(sl_batch *b);
/* Appends a record slot (zeroed, meta.partition = -1, offset = -1); NULL on
 * ENOMEM.  The pointer is valid until the next sl_batch_add on the batch. */
sl_record *sl_batch_add(sl_batch *b);
uint32_t sl_batch_count(const sl_batch *b);
sl_record *sl_batch_record(sl_batch *b, uint32_t i);
/* Removes the last record appended. */
void sl_batch_pop(sl_batch *b);
void sl_batch_set_checkpoint(sl_batch *b, const sl_checkpoint *cp);
/* Hands the batch to the pipeline (ownership moves).  May call the source's
 * pause callback before it returns. */
void sl_source_emit(sl_stage *source, sl_batch *b);
/* Frees a batch that was never emitted. */
void sl_batch_discard(sl_batch *b);
/* Whether the source is paused (backpressure or shutdown). */
int sl_source_paused(const sl_stage *source);
/* The source will emit nothing more. */
void sl_source_finished(sl_stage *source);

#endif
