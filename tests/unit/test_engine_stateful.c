/* Stateful steps in the flow (runtime/engine/flow.c, lanes.c), without I/O
 * (engine_test.h): one stateful step between the "workers" phase before it
 * and the one after.  The fake step logs every record it is applied to,
 * emits one record after each source's first, drops offset 2 and fails
 * offset 3; the phase before fails offset 5.  The first tests play the
 * workers and the lane by hand, in a chosen order; the last runs the real
 * lane thread with four worker threads that finish in any order. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "engine/lanes.h"
#include "engine/stage.h"
#include "engine_test.h"

#define LOG_MAX 4096

static struct {
  sl_stage stage;
  sl_stage *steps[1];
  int lane_step[1];
  sl_batch *unlaned[ET_SOURCES][1];
  /* What apply saw, in order: source index, checkpoint, record offset. */
  int log_src[LOG_MAX];
  int64_t log_cp[LOG_MAX], log_off[LOG_MAX];
  int nlog;
  atomic_int inside;        /* apply calls under way: never more than one */
  int overlaps;
  int batch_ends;
} sf;

static int fake_apply(sl_stage *st, sl_step_out *out, sl_record *rec) {
  (void)st;
  if (atomic_fetch_add(&sf.inside, 1) != 0) sf.overlaps++;
  sl_stage *src = sl_step_source(out);
  if (sf.nlog < LOG_MAX) {
    sf.log_src[sf.nlog] = src->index;
    sf.log_cp[sf.nlog] = sl_batch_checkpoint(out->batch)->a;
    sf.log_off[sf.nlog] = rec->meta.offset;
    sf.nlog++;
  }
  int rc = SL_STEP_KEEP;
  if (rec->meta.offset == 0 && sl_batch_checkpoint(out->batch)->a == 0) {
    /* What the stage makes follows the record: the steps after see it. */
    sl_record *extra = sl_arena_alloc(sl_step_arena(out), sizeof *extra);
    *extra = (sl_record){.meta = rec->meta};
    extra->meta.offset = 100;
    sl_step_emit(out, extra);
  } else if (rec->meta.offset == 2) {
    rc = SL_STEP_DROP;
  } else if (rec->meta.offset == 3) {
    sl_step_fail(out, rec, "offset 3 is refused");
    rc = SL_EINVAL;
  }
  atomic_fetch_sub(&sf.inside, 1);
  return rc;
}

static void fake_batch_end(sl_stage *st, sl_step_out *out) {
  (void)st;
  (void)out;
  sf.batch_ends++;
}

static const sl_stateful fake_stateful = {.apply = fake_apply, .batch_end = fake_batch_end};
static const sl_plugin fake_plugin = {.kind = SL_STEP, .name = "test.stateful",
                                      .stateful = &fake_stateful};

/* et_setup plus the stateful step as the pipeline's only step. */
static void setup(int nsources, int nsinks) {
  et_setup(nsources, nsinks);
  memset(&sf, 0, sizeof sf);
  sl_pipeline *p = &et.p;
  sf.stage = (sl_stage){.plugin = &fake_plugin, .kind = SL_STEP, .name = "stateful", .p = p};
  sf.steps[0] = &sf.stage;
  p->steps = sf.steps;
  p->nsteps = 1;
  p->lane_step = sf.lane_step;
  p->nlanes = 1;
  for (int i = 0; i < nsources; i++) et.src[i].st.unlaned = sf.unlaned[i];
}

/* The phase before the step: every record goes on but offset 5, which fails. */
static void before(sl_batch *b) {
  b->live = sl_arena_alloc(&b->arena, b->n * sizeof *b->live);
  b->dead = sl_arena_alloc(&b->arena, b->n * sizeof *b->dead);
  for (uint32_t i = 0; i < b->n; i++) {
    sl_record *rec = &b->recs[i];
    if (rec->meta.offset == 5) {
      sl_record_fail(rec, &b->arena, "before", "offset 5 is refused");
      b->dead[b->ndead++] = rec;
    } else {
      b->live[b->nlive++] = rec;
    }
  }
}

/* The phase after: what goes on to every data sink, the dead to the
 * dead-letter sink (as records: the fake sinks have no codec). */
static void after(sl_batch *b) {
  sl_pipeline *p = &et.p;
  b->sbs = sl_arena_alloc(&b->arena, (size_t)p->nsinks * sizeof *b->sbs);
  memset(b->sbs, 0, (size_t)p->nsinks * sizeof *b->sbs);
  for (int k = 0; k < p->nsinks; k++) {
    b->sbs[k].batch = b;
    b->sbs[k].sink = p->sinks[k];
    int dlq = k == p->nsinks - 1;
    uint32_t n = dlq ? b->ndead : b->nlive;
    for (uint32_t i = 0; i < n; i++) {
      const char *why = NULL;
      sl__sink_batch_add(p->sinks[k], &b->sbs[k], &b->arena, dlq ? b->dead[i] : b->live[i], n, &why);
    }
  }
}

/* Plays whatever phase b is in, and hands it back to the flow. */
static void play(sl_batch *b) {
  if (b->phase == 0) before(b);
  else if (b->phase == 1) sl__lane_run(&sf.stage, b);
  else after(b);
  sl__flow_processed(&et.p, b);
}

static int submitted_from(int from, sl_batch *b) {
  for (int i = from; i < et.nsubmitted; i++)
    if (et.submitted[i] == b) return i;
  return -1;
}

/* The workers finish the phase before out of order and across sources; the
 * lane is given each source's batches in emission order, each batch once
 * its predecessors of the same source are through. */
TEST(lane_gets_each_sources_batches_in_order) {
  setup(2, 1);
  sl_batch *a0 = et_emit(0, 4), *a1 = et_emit(0, 4), *a2 = et_emit(0, 4);
  sl_batch *b0 = et_emit(1, 2), *b1 = et_emit(1, 2);
  ASSERT_EQ(et.nsubmitted, 5);
  int mark = et.nsubmitted;
  play(a2);
  play(b1);
  play(a1);
  ASSERT_EQ(et.nsubmitted, mark);     /* a0 and b0 hold their sources back */
  play(b0);
  ASSERT_EQ(et.nsubmitted, mark + 2);
  ASSERT(submitted_from(mark, b0) == mark && submitted_from(mark, b1) == mark + 1);
  ASSERT_EQ(b0->phase, 1);
  ASSERT_EQ(a1->phase, 0);
  play(a0);
  ASSERT_EQ(et.nsubmitted, mark + 5);
  ASSERT_EQ(submitted_from(mark, a0), mark + 2);
  ASSERT_EQ(submitted_from(mark, a1), mark + 3);
  ASSERT_EQ(submitted_from(mark, a2), mark + 4);
  /* The lane, in the order it was given them. */
  for (int i = mark; i < mark + 5; i++) play(et.submitted[i]);
  ASSERT_EQ(sf.batch_ends, 5);
  /* apply saw each source's records in order: checkpoint, then offset. */
  int64_t last[2] = {-1, -1};
  for (int i = 0; i < sf.nlog; i++) {
    int64_t at = sf.log_cp[i] * 1000 + sf.log_off[i];
    ASSERT(at > last[sf.log_src[i]]);
    last[sf.log_src[i]] = at;
  }
  /* Offset 5 failed before the step: it never reached it. */
  for (int i = 0; i < sf.nlog; i++) ASSERT(sf.log_off[i] != 5);
  et_teardown();
}

/* The phase after the step sees its output (the emitted record, not the
 * dropped or failed ones); the failed record goes to the dead-letter sink
 * with the stage and reason; the batch is acknowledged once every sink is
 * done, and only then do the in-flight records go down. */
TEST(steps_after_see_the_output_and_failures_are_dead_letters) {
  setup(1, 1);
  sl_batch *b = et_emit(0, 6);
  ASSERT_EQ(et.p.inflight_records, 6);
  play(b);                     /* before: offset 5 fails */
  play(et.submitted[1]);       /* the lane */
  ASSERT_EQ(b->phase, 2);
  ASSERT_EQ(b->nlive, 4);      /* 0, the emitted 100, 1, 4; 2 dropped, 3 failed */
  play(et.submitted[2]);       /* after */
  ASSERT_EQ(et.sink[0].nwrites, 1);
  sl_sink_batch *sb = et.sink[0].writes[0];
  ASSERT_EQ(sb->n, 4);
  int64_t want[4] = {0, 100, 1, 4};
  for (int i = 0; i < 4; i++) ASSERT_EQ(sb->recs[i]->meta.offset, want[i]);
  ASSERT_EQ(b->dropped, 1);
  ASSERT_EQ(et.sink[1].nwrites, 1);
  sl_sink_batch *dl = et.sink[1].writes[0];
  ASSERT_EQ(dl->n, 2);
  ASSERT_EQ(dl->recs[0]->meta.offset, 5);
  ASSERT_STR_EQ(dl->recs[0]->error_stage, "before");
  ASSERT_EQ(dl->recs[1]->meta.offset, 3);
  ASSERT_STR_EQ(dl->recs[1]->error_stage, "stateful");
  ASSERT_STR_EQ(dl->recs[1]->error, "offset 3 is refused");
  et_done(0, 0);
  ASSERT_EQ(et.src[0].nacked, 0);
  ASSERT_EQ(et.p.inflight_records, 6);
  et_done(1, 0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(et.p.inflight_records, 0);
  ASSERT_EQ(et.p.inflight_bytes, 0);
  et_teardown();
}

/* A batch waiting for the lane still counts in flight: the sources pause
 * at the bound and resume only once batches are acknowledged; a stop
 * drains what is at the lane and after it before the sinks flush. */
TEST(bounds_and_drain_hold_across_the_lane) {
  setup(1, 1);
  et.p.set.max_inflight_records = 8;
  et.src[0].finish_on_stop = 1;
  sl_batch *b0 = et_emit(0, 4), *b1 = et_emit(0, 4);
  ASSERT_EQ(et.src[0].pauses, 1);
  play(b0);
  play(b1);
  play(et.submitted[2]);        /* b0 through the lane; b1 waits in its queue */
  sl__flow_drain(&et.p);
  ASSERT_EQ(et.src[0].stops, 1);
  ASSERT_EQ(et.p.run, SL_RUN_DRAINING);
  play(et.submitted[3]);        /* b1 through the lane */
  play(et.submitted[4]);        /* after, b0 */
  play(et.submitted[5]);        /* after, b1 */
  ASSERT_EQ(et.sink[0].nwrites, 2);
  et_done(0, 0);
  et_done(1, 0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(et.p.run, SL_RUN_DRAINING);
  et_done(0, 1);
  et_done(1, 1);
  ASSERT_EQ(et.src[0].nacked, 2);
  ASSERT_EQ(et.p.inflight_records, 0);
  ASSERT_EQ(et.p.run, SL_RUN_FLUSHING);
  ASSERT_EQ(et.sink[0].flushes, 1);
  et_teardown();
}

/* ---- the real lane with worker threads ---- */

#define NBATCH 60
#define NWORKERS 4

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work_cv, done_cv;
  sl_batch *work[NBATCH * 2];
  int nwork;
  sl_batch *done_head, *done_tail;
  int stop;
  unsigned seed;
} tw;

static void *test_worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  pthread_mutex_lock(&tw.mu);
  for (;;) {
    while (!tw.nwork && !tw.stop) pthread_cond_wait(&tw.work_cv, &tw.mu);
    if (!tw.nwork) break;
    /* Any batch of the queue: the workers finish in no particular order. */
    int i = (int)(rand_r(&seed) % (unsigned)tw.nwork);
    sl_batch *b = tw.work[i];
    tw.work[i] = tw.work[--tw.nwork];
    pthread_mutex_unlock(&tw.mu);
    if (b->phase == 0) before(b);
    else after(b);
    pthread_mutex_lock(&tw.mu);
    sl__batch_enqueue(&tw.done_head, &tw.done_tail, b);
    pthread_cond_signal(&tw.done_cv);
  }
  pthread_mutex_unlock(&tw.mu);
  return NULL;
}

static void lane_done(sl_pipeline *p, sl_batch *b) {
  (void)p;
  pthread_mutex_lock(&tw.mu);
  sl__batch_enqueue(&tw.done_head, &tw.done_tail, b);
  pthread_cond_signal(&tw.done_cv);
  pthread_mutex_unlock(&tw.mu);
}

static void threaded_submit(sl_pipeline *p, sl_batch *b) {
  if (b->phase % 2) {
    sl__lanes_submit(p->lanes, b);
    return;
  }
  pthread_mutex_lock(&tw.mu);
  tw.work[tw.nwork++] = b;
  pthread_cond_signal(&tw.work_cv);
  pthread_mutex_unlock(&tw.mu);
}

/* A sink that is done at once. */
static int instant_write(sl_stage *st, sl_sink_batch *sb) {
  (void)st;
  sl_sink_done(sb);
  return 0;
}
static const sl_plugin instant_sink = {.kind = SL_SINK, .name = "test.instant", .write = instant_write,
                                       .flush = et_flush};

TEST(real_lane_with_four_workers_keeps_order_and_never_overlaps) {
  setup(2, 1);
  sl_pipeline *p = &et.p;
  p->submit = threaded_submit;
  p->set.max_inflight_records = 40;
  for (int k = 0; k < p->nsinks; k++) et.sink[k].st.plugin = &instant_sink;
  memset(&tw, 0, sizeof tw);
  pthread_mutex_init(&tw.mu, NULL);
  pthread_cond_init(&tw.work_cv, NULL);
  pthread_cond_init(&tw.done_cv, NULL);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(sl__lanes_start(p, lane_done, &err), 0);
  pthread_t th[NWORKERS];
  for (int i = 0; i < NWORKERS; i++)
    pthread_create(&th[i], NULL, test_worker, (void *)(uintptr_t)(i * 7919 + 1));
  int emitted = 0;
  uint64_t most = 0;
  while (et.src[0].nacked + et.src[1].nacked < NBATCH) {
    for (int s = 0; s < 2 && emitted < NBATCH; s++)
      if (!et.src[s].st.paused) {
        et_emit(s, 6);
        emitted++;
      }
    if (p->inflight_records > most) most = p->inflight_records;
    /* Wait for a phase to finish (bounded: a lost batch fails the test). */
    pthread_mutex_lock(&tw.mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    int rc = 0;
    while (!tw.done_head && rc == 0) rc = pthread_cond_timedwait(&tw.done_cv, &tw.mu, &until);
    sl_batch *b = tw.done_head;
    tw.done_head = tw.done_tail = NULL;
    pthread_mutex_unlock(&tw.mu);
    ASSERT(b != NULL);
    while (b) {
      sl_batch *next = b->qnext;
      sl__flow_processed(p, b);
      b = next;
    }
  }
  pthread_mutex_lock(&tw.mu);
  tw.stop = 1;
  pthread_cond_broadcast(&tw.work_cv);
  pthread_mutex_unlock(&tw.mu);
  for (int i = 0; i < NWORKERS; i++) pthread_join(th[i], NULL);
  sl__lanes_stop(p->lanes);
  ASSERT_EQ(sf.overlaps, 0);
  /* Bounded: the bound plus the batch that crossed it. */
  ASSERT(most <= 40 + 6);
  /* Every record but offset 5 reached the step, each source's in order. */
  ASSERT_EQ(sf.nlog, NBATCH * 5);
  int64_t last[2] = {-1, -1};
  for (int i = 0; i < sf.nlog; i++) {
    int64_t at = sf.log_cp[i] * 1000 + sf.log_off[i];
    ASSERT(at > last[sf.log_src[i]]);
    last[sf.log_src[i]] = at;
  }
  for (int s = 0; s < 2; s++)
    for (int i = 0; i < et.src[s].nacked; i++) ASSERT_EQ(et.src[s].acked[i], i);
  /* Per batch: 0, 1, 4 kept (and 100 after the first), 2 dropped; 3 and 5
   * dead letters. */
  ASSERT_EQ(et.sink[0].st.records_done, (uint64_t)NBATCH * 3 + 2);
  ASSERT_EQ(et.sink[1].st.records_done, (uint64_t)NBATCH * 2);
  ASSERT_EQ(p->inflight_records, 0);
  pthread_mutex_destroy(&tw.mu);
  pthread_cond_destroy(&tw.work_cv);
  pthread_cond_destroy(&tw.done_cv);
  et_teardown();
}

RUN_TESTS(lane_gets_each_sources_batches_in_order,
          steps_after_see_the_output_and_failures_are_dead_letters,
          bounds_and_drain_hold_across_the_lane,
          real_lane_with_four_workers_keeps_order_and_never_overlaps)
