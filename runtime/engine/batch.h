/* Batches (runtime-internal): the parts of sl_batch and sl_sink_batch the
 * engine uses beyond the public accessors of sluice/plugin.h.  Nothing here
 * calls another engine module. */
#ifndef SLUICE_ENGINE_BATCH_H
#define SLUICE_ENGINE_BATCH_H

#include "engine/engine.h"

/* Frees b, its records, its arena and its sink batches' buffers. */
void sl__batch_free(sl_batch *b);
/* A dead-letter record for rec: its raw bytes are the envelope (JSON).
 * NULL on ENOMEM. */
sl_record *sl__dlq_record(sl_pipeline *p, sl_arena *a, const sl_record *rec);
/* Why a dead letter was lost: env is what sl__dlq_record made (NULL: out of
 * memory), rc what adding it to the dead-letter sink's batch returned. */
const char *sl__dlq_lost_reason(const sl_record *env, int rc);
/* Encodes rec with the sink's codec into sb (decoding first when needed). */
int sl__sink_batch_add(sl_stage *sink, sl_sink_batch *sb, sl_arena *a, sl_record *rec,
                       uint32_t cap, const char **why);
/* Appends b to a queue linked through qnext (the workers' queue, the
 * list of batches they finished).  The caller holds the queue's lock. */
static inline void sl__batch_enqueue(sl_batch **head, sl_batch **tail, sl_batch *b) {
  b->qnext = NULL;
  if (*tail) (*tail)->qnext = b;
  else *head = b;
  *tail = b;
}

#endif
