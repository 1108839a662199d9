/* Sinks: batches in, durability out.
 *
 * A sink receives, in each source's order, the records of one batch that
 * passed its `where`, already encoded by a worker when the sink has a
 * codec.  It calls sl_sink_done once they are durable, after rejecting
 * the ones that failed for good (they go to the dead-letter sink), or
 * sl_sink_failed when nothing of the batch can be made durable.  Nothing is
 * acknowledged upstream before every sink said done.  Loop thread only. */
#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/codec.h"
#include "sluice/record.h"
#include "sluice/source.h"
#include "sluice/stage.h"

/* What a sink receives for one batch. */
typedef struct sl_sink_batch {
  sl_batch *batch;
  sl_stage *sink;
  uint32_t n;             /* records */
  sl_record **recs;       /* the records (borrowed: valid until sl_sink_done) */
  sl_buf bytes;           /* the encoded records, back to back (sinks with a codec) */
  uint32_t *ends;         /* record i is bytes[ends[i-1] .. ends[i]) (ends[-1] = 0) */
  int late;               /* a dead-letter batch made on the loop thread */
  sl_str *attrs;          /* per-record option values: attrs[k * cap + i] (see sl_sink_attr) */
  uint32_t attr_cap;
  void *sink_data;        /* free for the sink's own use */
  struct sl_sink_batch *next;   /* free for the sink's own queues */
  struct sl_reject *rejects;    /* runtime-owned: records rejected with sl_sink_reject */
} sl_sink_batch;

/* Sinks set their codec in init; a sink without one gets records only. */
void sl_sink_set_codec(sl_stage *st, const sl_codec *codec, void *codec_ctx);

/* ---- acknowledging ---- */

/* The write of sb is durable (or failed for the rejected records). */
void sl_sink_done(sl_sink_batch *sb);
/* In place of sl_sink_done: the write of sb failed in a way that retrying
 * cannot heal (the descriptor is closed, the reader went away), and nothing
 * of it is known to be durable.  The pipeline stops with exit code 1,
 * acknowledging neither this batch nor any later one of its source, so the
 * next start reads them again; why (copied) is logged, naming the sink. */
void sl_sink_failed(sl_sink_batch *sb, const char *why);
/* Ends flush: everything the sink buffered is durable. */
void sl_stage_flushed(sl_stage *st);

/* ---- rejecting ---- */

/* Record i of sb failed for good; it goes to the dead-letter sink with the
 * reason when sl_sink_done is called (or sl_sink_send_rejects). */
void sl_sink_reject(sl_sink_batch *sb, uint32_t i, const char *reason);
/* Sends the records of sb rejected so far, and not sent yet, to the
 * dead-letter sink now rather than at sl_sink_done, and calls durable(arg)
 * on the loop thread once they are durable there (or failed for good,
 * which is logged).  A sink that stores its sources' positions with its
 * data (sl_sink_batch_checkpoint) commits them only after durable: were
 * the position stored first, a crash before the dead letters are durable
 * would lose them, as the restart resumes after them.  Returns 0 when
 * durable will be called (perhaps before this returns); a negative SL_E*
 * when there was nothing to send or it could not be sent (logged), and
 * then durable is never called.  durable is called too when the dead
 * letters failed for good: the sink then finds sl_sink_batch_lost true and
 * must fail its batches rather than commit (the pipeline is stopping, and
 * the next start reads them again). */
int sl_sink_send_rejects(sl_sink_batch *sb, void (*durable)(void *arg), void *arg);
/* Nonzero once sb's records will not be acknowledged: a sink (the
 * dead-letter sink included) failed for good on its source batch, and the
 * pipeline is stopping without acknowledging it. */
int sl_sink_batch_lost(const sl_sink_batch *sb);

/* ---- per-record options ---- */

/* The value of the sink's k-th per-record option (SL_RECORD_FN,
 * SL_RECORD_FIELD, SL_RECORD_MAP; k counts them in the option table's
 * order) for record i of sb; ptr NULL when absent (the function returned
 * nil, the field is missing). */
sl_str sl_sink_attr(const sl_sink_batch *sb, int k, uint32_t i);
/* Walks the pairs of an SL_RECORD_MAP value: returns 1 and sets *name and
 * *value (pointing into the value) for the next pair, advancing *rest;
 * 0 at the end.  Start with *rest = the sl_sink_attr() value. */
int sl_attr_pairs_next(sl_str *rest, sl_str *name, sl_str *value);

/* ---- source positions, for sinks that commit them with their data ---- */

/* The position the source of sb's batch will resume from once the batch is
 * durable, encoded by the source's checkpoint_encode, and the source's name.
 * A sink that writes it in the same transaction as the records makes the
 * pipeline effectively-once (see the checkpoint_load callback).  SL_ENOENT
 * if the source cannot encode its checkpoints. */
int sl_sink_batch_checkpoint(const sl_sink_batch *sb, const char **source, sl_buf *out);
/* The batch behind a sink batch: its source and its checkpoint as the
 * source set it (a transactional sink sends these positions itself). */
sl_stage *sl_batch_source(const sl_batch *b);
const sl_checkpoint *sl_batch_checkpoint(const sl_batch *b);

#endif
