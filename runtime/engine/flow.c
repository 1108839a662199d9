/* The loop thread's part of the flow: batches emitted by sources, handed to
 * p->submit (the workers, and between their phases the lane of each
 * stateful step, in each source's order), given to the sinks in each
 * source's order,
 * acknowledged back to the source in order, and freed.  In-flight records and
 * bytes are bounded: past the bound every source is paused, and resumed once
 * it drains to 3/4.  The flow knows neither the workers nor the state files:
 * the pipeline wires them to it (p->submit, sl__flow_state_hooks). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/flow.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

/* SETTLED: a batch every sink made durable; HELD_BACK: a batch whose data
 * waits for its dead letters (dlq_first).  The simulation's mutant builds
 * (tests/faults/sim/, never a release) plant a bug here that it must catch:
 * SL_SIM_MUTANT 1 acknowledges a batch while one sink still writes it, 2
 * lets a batch's data go before its dead letters are durable. */
#if defined(SL_SIM_MUTANT) && SL_SIM_MUTANT == 1
#define SETTLED(b) ((b)->pending <= 1)
#else
#define SETTLED(b) ((b)->pending == 0)
#endif
#if defined(SL_SIM_MUTANT) && SL_SIM_MUTANT == 2
#define HELD_BACK(b) 0
#else
#define HELD_BACK(b) ((b)->deferred)
#endif

struct sl_reject {
  uint32_t index;
  int sent;               /* already handed to the dead-letter sink */
  const char *reason;
  struct sl_reject *next;
};

/* A dead-letter batch made on the loop thread from the records a sink
 * rejected; durable, when set, is called at its sl_sink_done. */
typedef struct late_batch {
  sl_sink_batch sb;       /* first: sl_sink_done is given &sb */
  void (*durable)(void *arg);
  void *arg;
} late_batch;

/* ---- backpressure ---- */

static int over_limit(const sl_pipeline *p) {
  return p->inflight_records >= p->set.max_inflight_records ||
         p->inflight_bytes >= p->set.max_inflight_bytes;
}

static int below_resume(const sl_pipeline *p) {
  return p->inflight_records <= p->set.max_inflight_records / 4 * 3 &&
         p->inflight_bytes <= p->set.max_inflight_bytes / 4 * 3;
}

static void pause_sources(sl_pipeline *p) {
  p->flow_paused = 1;
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *s = p->sources[i];
    if (!s->paused && !s->finished) {
      s->paused = 1;
      if (s->plugin->pause) s->plugin->pause(s);
    }
  }
}

static void resume_sources(sl_pipeline *p) {
  p->flow_paused = 0;
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *s = p->sources[i];
    if (s->paused && !s->finished && !s->stopping) {
      s->paused = 0;
      if (s->plugin->resume) s->plugin->resume(s);
    }
  }
}

void sl__flow_release_records(sl_pipeline *p, uint64_t n) {
  p->inflight_records -= n;
  if (p->flow_paused && below_resume(p)) resume_sources(p);
}

/* ---- emit ---- */

/* A source's department and feed options: for the records that carry none. */
static void stamp_feed(const sl_stage *src, sl_batch *b) {
  sl_str d = {src->department, src->department ? strlen(src->department) : 0};
  sl_str f = {src->feed, src->feed ? strlen(src->feed) : 0};
  for (uint32_t i = 0; i < b->n; i++) {
    sl_meta *m = &b->recs[i].meta;
    if (d.len && !m->department.len) m->department = d;
    if (f.len && !m->feed.len) m->feed = f;
  }
}

void sl__flow_emit(sl_pipeline *p, sl_stage *src, sl_batch *b) {
  if (src->department || src->feed) stamp_feed(src, b);
  b->seq = src->next_seq++;
  b->bytes = b->arena.reserved + (size_t)b->cap * sizeof(sl_record);
  if (src->tail) src->tail->next = b;
  else src->head = b;
  src->tail = b;
  if (!src->undispatched) src->undispatched = b;
  /* A source's batch enters every lane; one a lane made (phase 2j + 1)
   * only the lanes after it. */
  for (int j = (b->phase + 1) / 2; j < p->nlanes; j++)
    if (!src->unlaned[j]) src->unlaned[j] = b;
  if (b->n && p->first_input && !src->lane_of) p->first_input(p);
  src->records_in += b->n;
  p->inflight_records += b->n;
  p->inflight_bytes += b->bytes;
  p->submit(p, b);
  if (!p->flow_paused && over_limit(p)) pause_sources(p);
}

void sl_source_emit(sl_stage *source, sl_batch *b) {
  sl__flow_emit(source->p, source, b);
}

void sl_source_finished(sl_stage *source) {
  if (source->finished) return;
  source->finished = 1;
  sl_log_debug(source->name, "finished after %llu records", (unsigned long long)source->records_in);
  sl__flow_check_end(source->p);
}

/* ---- acknowledgement ---- */

/* Frees the acknowledged batches at the head of src's list and tells the
 * source, in order: a checkpoint never passes a batch still in flight. */
static void release_acked(sl_pipeline *p, sl_stage *src) {
  int released = 0;
  while (src->head && src->head->dispatched && SETTLED(src->head)) {
    sl_batch *b = src->head;
    src->head = b->next;
    if (!src->head) src->tail = NULL;
    /* A checkpoint the source saves in ack is durable only once its file is
     * written: until then its records still count as in flight (the state
     * file releases them), so a crash never replays more than the bound. */
    sl_ack ack = {.records = b->n};
    if (src->plugin->ack && !b->lost) {
      SL_CRASH_POINT("engine.flow.before_ack");
      src->ack = &ack;
      src->plugin->ack(src, &b->cp);
      src->ack = NULL;
      SL_CRASH_POINT("engine.flow.after_ack");
    }
    if (!ack.held) p->inflight_records -= b->n;
    src->records_acked += b->n;
    p->inflight_bytes -= b->bytes;
    sl__batch_free(b);
    released = 1;
  }
  if (released && p->flow_paused && below_resume(p)) resume_sources(p);
  if (released) sl__flow_check_end(p);
}

/* Hands the non-empty sink batches from..to-1 of b to their sinks; each
 * counts in b->pending until its sl_sink_done. */
static void write_range(sl_pipeline *p, sl_batch *b, int from, int to) {
  for (int i = from; i < to; i++)
    if (b->sbs[i].n) b->pending++;
  for (int i = from; i < to; i++) {
    sl_sink_batch *sb = &b->sbs[i];
    if (!sb->n) continue;
    sl_stage *sink = p->sinks[i];
    sink->records_in += sb->n;
    int rc = sink->plugin->write(sink, sb);
    if (rc) {
      sl_log_error(sink->name, "write failed: %s", sl_strerror(rc));
      for (uint32_t k = 0; k < sb->n; k++) sl_sink_reject(sb, k, sl_strerror(rc));
      sl_sink_done(sb);
    }
  }
}

/* A batch with a record that could be neither written nor dead-lettered:
 * it and every later batch of its source are not acknowledged, and those
 * not yet dispatched are not written either (so that no checkpoint, in a
 * state file or committed with a sink's data, passes the record).  The
 * pipeline stops with exit code 1; the next start reads them again. */
static void stop_unwritten(sl_pipeline *p, sl_batch *b, const char *why, int logged) {
  sl_stage *src = b->source;
  if (!b->lost) b->lost = why;
  for (sl_batch *x = b->next; x; x = x->next)
    if (!x->lost) x->lost = "an earlier batch of its source was not written";
  if (src->lost) return;
  src->lost = 1;
  if (!logged)
    sl_log_error(src->name, "a batch of %u records cannot be written (%s); stopping without "
                 "acknowledging it: the next start reads it again", b->n, b->lost);
  p->exit_code = 1;
  sl__flow_drain(p);
}

/* Hands the data sinks the source's batches whose turn has come, in
 * dispatch order: a batch whose dead letters are not durable yet
 * (deferred) holds back every later batch of its source too.  Were a later
 * batch let through, its records could commit before the earlier ones and,
 * in an upsert, an older record would overwrite a newer one. */
static void write_in_order(sl_pipeline *p, sl_stage *src) {
  int to = p->dlq_first ? p->nsinks - 1 : p->nsinks;   /* the dead letters went first */
  while (src->unwritten && src->unwritten->dispatched && !HELD_BACK(src->unwritten)) {
    sl_batch *b = src->unwritten;
    src->unwritten = b->next;
    if (!b->lost) write_range(p, b, 0, to);   /* a lost batch only lets go of its hold */
    if (--b->pending == 0) release_acked(p, src);   /* the hold dispatch took */
  }
}

static void dispatch(sl_pipeline *p, sl_batch *b) {
  b->dispatched = 1;
  sl_stage *src = b->source;
  /* Held until write_in_order has handed the batch to every sink: a sink
   * may finish at once, and a batch waiting its turn must not be freed. */
  b->pending = 1;
  if (b->lost || !b->sbs || src->lost)
    stop_unwritten(p, b, b->sbs ? "an earlier batch of its source was not written" : "out of memory", 0);
  /* Batches are dispatched in order: with none waiting, b is next.  Set
   * before the dead letters go out: a dead-letter sink that finishes
   * inside write lets b's data go (write_in_order), and b must be in line
   * then, or its data would be written a second time below. */
  if (!src->unwritten) src->unwritten = b;
  int dlq = p->nsinks - 1;
  if (!b->lost && p->dlq_first && b->sbs[dlq].n) {
    /* The data sink commits the source's position with the records: once
     * it has, a restart starts after this batch, so the batch's dead
     * letters must be durable first.  sl_sink_done of the dead-letter
     * batch lets the data through (write_in_order). */
    b->deferred = 1;
    write_range(p, b, dlq, dlq + 1);
  }
  write_in_order(p, src);
}

/* Hands lane j the source's batches that finished the phase before it, in
 * emission order: a batch done early waits for its predecessors, so the
 * stateful stage sees each source's records in the order they were read. */
static void feed_lane(sl_pipeline *p, sl_stage *src, int j) {
  sl_batch *b;
  while ((b = src->unlaned[j]) && b->phase == 2 * j && b->phase_done) {
    src->unlaned[j] = b->next;
    b->phase++;
    b->phase_done = 0;
    p->submit(p, b);
  }
}

/* A phase before the last is done with b: the workers, before lane j (in
 * order), or lane j, before the workers again (in any order). */
static void next_phase(sl_pipeline *p, sl_batch *b) {
  b->phase_done = 1;
  if (b->phase % 2 == 0) {
    feed_lane(p, b->source, b->phase / 2);
    return;
  }
  b->phase++;
  b->phase_done = 0;
  p->submit(p, b);
}

void sl__flow_processed(sl_pipeline *p, sl_batch *b) {
  if (b->phase < 2 * p->nlanes) {
    next_phase(p, b);
    return;
  }
  /* Processing grew the arena and filled sink buffers: account for it. */
  size_t bytes = b->arena.reserved + (size_t)b->cap * sizeof(sl_record);
  for (int i = 0; b->sbs && i < p->nsinks; i++) bytes += b->sbs[i].bytes.cap;
  if (bytes > b->bytes) {
    p->inflight_bytes += bytes - b->bytes;
    b->bytes = bytes;
  }
  b->processed = 1;
  p->records_dropped += b->dropped;
  sl_stage *src = b->source;
  while (src->undispatched && src->undispatched->processed) {
    sl_batch *d = src->undispatched;
    src->undispatched = d->next;
    dispatch(p, d);
  }
}

/* ---- dead letters ---- */

void sl_sink_reject(sl_sink_batch *sb, uint32_t i, const char *reason) {
  sl_arena *a = &sb->batch->arena;
  struct sl_reject *r = sl_arena_alloc(a, sizeof *r);
  if (!r) {
    stop_unwritten(sb->sink->p, sb->batch, "out of memory recording a rejected record", 0);
    return;
  }
  r->index = i;
  r->sent = 0;
  r->reason = sl_arena_strndup(a, reason, strlen(reason));
  r->next = NULL;
  /* Appended, so that dead letters keep the order of the records. */
  struct sl_reject **tail = &sb->rejects;
  while (*tail) tail = &(*tail)->next;
  *tail = r;
}

/* Sends the records a sink rejected, and not sent yet, to the dead-letter
 * sink as a batch of their own that the source's batch waits for.  Returns
 * 0 when that batch was written (durable, if set, is called at its
 * sl_sink_done), else a negative SL_E* (nothing to send, or lost: logged). */
static int send_rejects(sl_pipeline *p, sl_sink_batch *sb, void (*durable)(void *), void *arg) {
  sl_batch *b = sb->batch;
  sl_stage *dlq = p->sinks[p->nsinks - 1];
  uint32_t n = 0;
  for (struct sl_reject *r = sb->rejects; r; r = r->next)
    if (!r->sent) n++;
  if (!n) return SL_ENOENT;
  if (sb->sink == dlq) {
    for (struct sl_reject *r = sb->rejects; r; r = r->next) {
      if (r->sent) continue;
      r->sent = 1;
      sl_record *rec = sb->recs[r->index];
      sl_log_error(dlq->name, "the dead-letter sink failed (%s); record lost: %.*s",
                   r->reason, (int)(rec->raw.len > 512 ? 512 : rec->raw.len), rec->raw.ptr);
    }
    return SL_EIO;
  }
  late_batch *l = sl_arena_alloc(&b->arena, sizeof *l);
  if (!l) {
    sl_log_error(dlq->name, "out of memory making a dead-letter batch; %u records lost", n);
    return SL_ENOMEM;
  }
  memset(l, 0, sizeof *l);
  l->durable = durable;
  l->arg = arg;
  sl_sink_batch *late = &l->sb;
  late->batch = b;
  late->sink = dlq;
  late->late = 1;
  for (struct sl_reject *r = sb->rejects; r; r = r->next) {
    if (r->sent) continue;
    r->sent = 1;
    sl_record *rec = sb->recs[r->index];
    sl_record_fail(rec, &b->arena, sb->sink->name, r->reason);
    sl_record *env = sl__dlq_record(p, &b->arena, rec);
    const char *why = NULL;
    int rc = env ? sl__sink_batch_add(dlq, late, &b->arena, env, n, &why) : SL_ENOMEM;
    if (rc) stop_unwritten(p, b, sl__dlq_lost_reason(env, rc), 0);
  }
  if (!late->n) {
    sl_buf_free(&late->bytes);
    return SL_ENOMEM;
  }
  b->pending++;
  dlq->records_in += late->n;
  int rc = dlq->plugin->write(dlq, late);
  if (rc) {
    sl_log_error(dlq->name, "dead-letter write failed: %s; %u records lost", sl_strerror(rc), late->n);
    sl_buf_free(&late->bytes);
    b->pending--;
    return rc;
  }
  return 0;
}

int sl_sink_send_rejects(sl_sink_batch *sb, void (*durable)(void *arg), void *arg) {
  return send_rejects(sb->sink->p, sb, durable, arg);
}

void sl_sink_done(sl_sink_batch *sb) {
  sl_pipeline *p = sb->sink->p;
  sl_batch *b = sb->batch;
  uint32_t rejected = 0;
  for (struct sl_reject *r = sb->rejects; r; r = r->next) rejected++;
  sb->sink->records_failed += rejected;
  sb->sink->records_done += sb->n - rejected;
  send_rejects(p, sb, NULL, NULL);
  void (*durable)(void *) = NULL;
  void *arg = NULL;
  if (sb->late) {
    late_batch *l = (late_batch *)sb;
    durable = l->durable;
    arg = l->arg;
    sl_buf_free(&sb->bytes);
  }
  if (b->deferred && sb == &b->sbs[p->nsinks - 1]) {
    b->deferred = 0;   /* the dead letters are durable: now the data */
    write_in_order(p, b->source);
  }
  b->pending--;
  if (b->pending == 0) release_acked(p, b->source);
  /* Last: b may be freed by now, and the callback may write again. */
  if (durable) durable(arg);
}

void sl_sink_failed(sl_sink_batch *sb, const char *why) {
  sl_pipeline *p = sb->sink->p;
  sl_batch *b = sb->batch;
  if (!b->source->lost)
    sl_log_error(sb->sink->name, "%s; stopping the pipeline without acknowledging what is in flight "
                 "(it is read again on the next start)", why);
  stop_unwritten(p, b, why, 1);
  void (*durable)(void *) = NULL;
  void *arg = NULL;
  if (sb->late) {
    late_batch *l = (late_batch *)sb;
    durable = l->durable;   /* told too: sl_sink_batch_lost says how it ended */
    arg = l->arg;
    sl_buf_free(&sb->bytes);
  }
  if (b->deferred && sb == &b->sbs[p->nsinks - 1]) {
    b->deferred = 0;   /* its data is not written now: let the later (lost) batches go */
    write_in_order(p, b->source);
  }
  b->pending--;
  if (b->pending == 0) release_acked(p, b->source);
  /* Last, as in sl_sink_done. */
  if (durable) durable(arg);
}

int sl_sink_batch_lost(const sl_sink_batch *sb) { return sb->batch->lost != NULL; }

/* ---- drain and the end ---- */

/* Every source finished and every batch settled: acknowledged, or let go
 * unacknowledged because it was lost (stop_unwritten).  Then the lanes':
 * at the end of input (not on a stop) each stateful step's finish batch
 * goes out first, and the pipeline ends once it is durable too. */
static int all_drained(sl_pipeline *p) {
  for (int i = 0; i < p->nsources; i++)
    if (!p->sources[i]->finished || p->sources[i]->head) return 0;
  return !p->lanes_at_end || p->lanes_at_end(p, p->run == SL_RUN_RUNNING);
}

void sl_stage_flushed(sl_stage *st) {
  st->flushed = 1;
  sl__flow_check_end(st->p);
}

void sl__flow_drain(sl_pipeline *p) {
  if (p->run != SL_RUN_RUNNING) return;
  p->run = SL_RUN_DRAINING;
  sl__service_draining(p);
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *s = p->sources[i];
    if (!s->finished && !s->stopping) {
      s->stopping = 1;
      if (s->plugin->stop) s->plugin->stop(s);
    }
  }
  sl__flow_check_end(p);
}

void sl__flow_check_end(sl_pipeline *p) {
  if (p->run == SL_RUN_RUNNING || p->run == SL_RUN_DRAINING) {
    if (!all_drained(p)) return;
    p->run = SL_RUN_FLUSHING;
    sl_log_debug(NULL, "all sources drained; flushing sinks");
    for (int i = 0; i < p->nsinks; i++) {
      sl_stage *s = p->sinks[i];
      if (s->plugin->flush) s->plugin->flush(s);
      else s->flushed = 1;
    }
  }
  if (p->run == SL_RUN_FLUSHING) {
    for (int i = 0; i < p->nsinks; i++)
      if (!p->sinks[i]->flushed) return;
    if (p->statefiles_busy) return;
    p->run = SL_RUN_DONE;
    uv_stop(p->loop);
  }
}

void sl_stage_fatal(sl_stage *st, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sl_log_error(st->name, "%s", msg);
  st->p->exit_code = 1;
  sl__flow_drain(st->p);
}

/* ---- what checkpoint writes tell the flow ---- */

static void state_failed(sl_pipeline *p) { sl__flow_drain(p); }

const sl_state_hooks sl__flow_state_hooks = {
    .released = sl__flow_release_records,
    .settled = sl__flow_check_end,
    .failed = state_failed,
};
