/* A pipeline built by hand for the engine's unit tests: two fake sources,
 * two fake data sinks and a fake dead-letter sink, defined here, with no
 * I/O.  Batches the sources emit go to the test (p.submit), which plays the
 * workers: it "processes" a batch (every record for every data sink) when
 * it chooses, in any order.  The fake sinks keep what they were given and
 * finish only when the test says so, and the fake sources log their acks,
 * pauses, resumes and stops.
 *
 *   et_setup(2, 2);
 *   sl_batch *b = et_emit(0, 4);     source 0 emits 4 records
 *   et_process(b);                   the "workers" are done with it
 *   et_done(0, 0);                   sink 0 finishes its first write
 */
#ifndef SLUICE_ENGINE_TEST_H
#define SLUICE_ENGINE_TEST_H

#include <uv.h>

#include "engine/batch.h"
#include "engine/flow.h"
#include "test.h"

#define ET_MAX 64
#define ET_SOURCES 2
#define ET_SINKS 2   /* data sinks; the dead-letter sink comes after them */

typedef struct et_source {
  sl_stage st;
  int64_t next_cp;          /* the checkpoint of the next batch: 0, 1, 2... */
  int64_t acked[ET_MAX];    /* checkpoints acknowledged, in order */
  int nacked;
  int pauses, resumes, stops;
  int hold_acks;            /* ack takes the records, as a state save does */
  int finish_on_stop;       /* stop calls sl_source_finished at once */
} et_source;

typedef struct et_sink {
  sl_stage st;
  sl_sink_batch *writes[ET_MAX];   /* in the order write was called */
  int nwrites;
  int fail_write;           /* write returns SL_EIO */
  int flushes;              /* flush calls; the test calls sl_stage_flushed */
} et_sink;

static struct {
  sl_pipeline p;
  et_source src[ET_SOURCES];
  et_sink sink[ET_SINKS + 1];
  sl_stage *sources[ET_SOURCES], *sinks[ET_SINKS + 1];
  sl_batch *submitted[ET_MAX];     /* what the "workers" were given */
  int nsubmitted;
  uv_loop_t loop;
} et;

static inline et_source *et_src_of(sl_stage *st) { return (et_source *)st; }
static inline et_sink *et_sink_of(sl_stage *st) { return (et_sink *)st; }

static void et_ack(sl_stage *st, const sl_checkpoint *cp) {
  et_source *s = et_src_of(st);
  if (s->nacked < ET_MAX) s->acked[s->nacked++] = cp->a;
  /* What sl_state_save does when called from ack. */
  if (s->hold_acks && st->ack) st->ack->held = 1;
}
static void et_pause(sl_stage *st) { et_src_of(st)->pauses++; }
static void et_resume(sl_stage *st) { et_src_of(st)->resumes++; }
static void et_stop(sl_stage *st) {
  et_src_of(st)->stops++;
  if (et_src_of(st)->finish_on_stop) sl_source_finished(st);
}

static int et_write(sl_stage *st, sl_sink_batch *sb) {
  et_sink *k = et_sink_of(st);
  if (k->fail_write) return SL_EIO;
  if (k->nwrites < ET_MAX) k->writes[k->nwrites++] = sb;
  return 0;
}

static void et_flush(sl_stage *st) { et_sink_of(st)->flushes++; }

static const sl_plugin et_source_plugin = {
    .kind = SL_SOURCE,
    .name = "test.source",
    .ack = et_ack,
    .pause = et_pause,
    .resume = et_resume,
    .stop = et_stop,
};
static const sl_plugin et_sink_plugin = {
    .kind = SL_SINK,
    .name = "test.sink",
    .write = et_write,
    .flush = et_flush,
};

static void et_submit(sl_pipeline *p, sl_batch *b) {
  (void)p;
  if (et.nsubmitted < ET_MAX) et.submitted[et.nsubmitted++] = b;
}

/* A running pipeline of nsources sources and nsinks data sinks (and the
 * dead-letter sink), with bounds far away; a test narrows them. */
static inline void et_setup(int nsources, int nsinks) {
  memset(&et, 0, sizeof et);
  sl_pipeline *p = &et.p;
  p->name = "test";
  p->set.batch_size = 4;
  p->set.max_inflight_records = 1000000;
  p->set.max_inflight_bytes = (uint64_t)1 << 40;
  p->submit = et_submit;
  p->state_hooks = &sl__flow_state_hooks;
  uv_loop_init(&et.loop);
  p->loop = &et.loop;
  static char names[ET_SOURCES + ET_SINKS + 1][16];
  for (int i = 0; i < nsources; i++) {
    snprintf(names[i], sizeof names[i], "src%d", i);
    et.src[i].st = (sl_stage){.plugin = &et_source_plugin, .kind = SL_SOURCE, .name = names[i],
                              .index = i, .p = p};
    et.sources[i] = &et.src[i].st;
  }
  for (int i = 0; i <= nsinks; i++) {
    snprintf(names[ET_SOURCES + i], sizeof names[0], i < nsinks ? "sink%d" : "dlq", i);
    et.sink[i].st = (sl_stage){.plugin = &et_sink_plugin, .kind = SL_SINK,
                               .name = names[ET_SOURCES + i], .index = i, .p = p,
                               .is_dlq = i == nsinks, .flushed = 0};
    et.sinks[i] = &et.sink[i].st;
  }
  p->sources = et.sources;
  p->nsources = nsources;
  p->sinks = et.sinks;
  p->nsinks = nsinks + 1;
  p->run = SL_RUN_RUNNING;
}

/* Closes the loop; frees batches a test left in flight. */
static inline void et_teardown(void) {
  for (int i = 0; i < et.p.nsources; i++) {
    sl_batch *b = et.src[i].st.head;
    while (b) {
      sl_batch *next = b->next;
      sl__batch_free(b);
      b = next;
    }
  }
  uv_run(&et.loop, UV_RUN_DEFAULT);
  uv_loop_close(&et.loop);
}

/* Source s emits a batch of n records, as a source plugin does. */
static inline sl_batch *et_emit(int s, uint32_t n) {
  sl_stage *st = &et.src[s].st;
  sl_batch *b = sl_batch_new(st);
  for (uint32_t i = 0; i < n; i++) {
    sl_record *r = sl_batch_add(b);
    r->meta.offset = (int64_t)i;
  }
  sl_checkpoint cp = {.a = et.src[s].next_cp++};
  sl_batch_set_checkpoint(b, &cp);
  sl_source_emit(st, b);
  return b;
}

/* The "workers" are done with b: every record goes to every data sink. */
static inline void et_process(sl_batch *b) {
  sl_pipeline *p = &et.p;
  b->sbs = sl_arena_alloc(&b->arena, (size_t)p->nsinks * sizeof *b->sbs);
  memset(b->sbs, 0, (size_t)p->nsinks * sizeof *b->sbs);
  for (int k = 0; k < p->nsinks; k++) {
    b->sbs[k].batch = b;
    b->sbs[k].sink = p->sinks[k];
    for (uint32_t i = 0; k < p->nsinks - 1 && i < b->n; i++) {
      const char *why = NULL;
      sl__sink_batch_add(p->sinks[k], &b->sbs[k], &b->arena, &b->recs[i], b->n, &why);
    }
  }
  sl__flow_processed(p, b);
}

/* Sink k's i-th write becomes durable. */
static inline void et_done(int k, int i) { sl_sink_done(et.sink[k].writes[i]); }

#endif
