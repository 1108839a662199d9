/* Stateful steps in the flow (runtime/engine/flow.c, lanes.c,
 * lane_input.c), without I/O (engine_test.h): one stateful step (or two)
 * between the "workers" phase before it and the one after.  The fake step
 * logs every record it is applied to, emits one record after each source's
 * first, drops offset 2 and fails offset 3; the phase before fails offset
 * 5.  Its tick emits one record (offset 200 + the tick's time in seconds),
 * its finish two (300, 301).  The tests play the workers and the lane by
 * hand, in a chosen order, and drive time by calling sl__lane_tick with the
 * time they choose; the last one runs the real lane thread with four worker
 * threads that finish in any order. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/lane_input.h"
#include "sluice/clock.h"
#include "engine/lanes.h"
#include "engine/stage.h"
#include "engine_test.h"

#define LOG_MAX 4096

static struct {
  sl_stage stage, stage2;   /* stage2: a second stateful step after the first */
  sl_stage *steps[2];
  int lane_step[2];
  sl_batch *unlaned[ET_SOURCES][2];
  /* tick and finish calls: the stage (1 or 2) and the time, in order */
  int hook_stage[LOG_MAX];
  int64_t hook_ms[LOG_MAX];
  int nhooks, finishes;
  int emit_in_finish;       /* records finish emits (default 2) */
  int emit_rc[LOG_MAX];     /* what sl_step_emit returned in finish */
  sl_record made[LOG_MAX];  /* what tick and finish emit (not in an arena) */
  int nmade;
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

static sl_record *made_record(int64_t offset) {
  sl_record *r = &sf.made[sf.nmade++ % LOG_MAX];
  *r = (sl_record){.meta = {.partition = -1, .offset = offset}};
  return r;
}

static void fake_tick(sl_stage *st, sl_step_out *out, int64_t now_ms) {
  if (sf.nhooks < LOG_MAX) {
    sf.hook_stage[sf.nhooks] = st == &sf.stage ? 1 : 2;
    sf.hook_ms[sf.nhooks++] = now_ms;
  }
  sl_step_emit(out, made_record(200 + now_ms / 1000));
}

static void fake_finish(sl_stage *st, sl_step_out *out) {
  sf.finishes++;
  if (sf.nhooks < LOG_MAX) {
    sf.hook_stage[sf.nhooks] = st == &sf.stage ? 1 : 2;
    sf.hook_ms[sf.nhooks++] = -1;
  }
  for (int i = 0; i < sf.emit_in_finish && i < LOG_MAX; i++)
    sf.emit_rc[i] = sl_step_emit(out, made_record(300 + i));
}

static const sl_stateful fake_stateful = {.apply = fake_apply, .batch_end = fake_batch_end,
                                          .tick = fake_tick, .finish = fake_finish};
static const sl_plugin fake_plugin = {.kind = SL_STEP, .name = "test.stateful",
                                      .stateful = &fake_stateful};

/* et_setup plus nlanes stateful steps (1 or 2) as the pipeline's steps. */
static void setup_lanes(int nsources, int nsinks, int nlanes) {
  et_setup(nsources, nsinks);
  memset(&sf, 0, sizeof sf);
  sf.emit_in_finish = 2;
  sl_pipeline *p = &et.p;
  sf.stage = (sl_stage){.plugin = &fake_plugin, .kind = SL_STEP, .name = "stateful", .p = p};
  sf.stage2 = (sl_stage){.plugin = &fake_plugin, .kind = SL_STEP, .name = "stateful2", .p = p};
  sf.steps[0] = &sf.stage;
  sf.steps[1] = &sf.stage2;
  sf.lane_step[1] = 1;
  p->steps = sf.steps;
  p->nsteps = nlanes;
  p->lane_step = sf.lane_step;
  p->nlanes = nlanes;
  for (int i = 0; i < nsources; i++) et.src[i].st.unlaned = sf.unlaned[i];
}

static void setup(int nsources, int nsinks) { setup_lanes(nsources, nsinks, 1); }

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

/* Plays whatever phase b is in, and hands it back to the flow.  With two
 * lanes, phase 2 (between them) passes every record on. */
static void play(sl_batch *b) {
  if (b->phase == 0) before(b);
  else if (b->phase == 1) sl__lane_run(&sf.stage, b);
  else if (b->phase == 3) sl__lane_run(&sf.stage2, b);
  else if (b->phase == 2 * et.p.nlanes) after(b);
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

/* ---- tick and finish: the batches a lane makes ---- */

/* Starts the lane input (the lane sources, the hooks); no timer unless
 * the test set a step's tick_ms. */
static void start_input(void) {
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(sl__lane_input_start(&et.p, &err), 0);
  sl_buf_free(&err);
}

static void end_input(void) {
  sl__lane_input_stop(&et.p);
  uv_run(&et.loop, UV_RUN_DEFAULT);   /* the timers' close callbacks, state writes */
  sl__lane_input_free(&et.p);
}

/* A tick at the time the test gives: a batch of the lane's own, with no
 * record, goes to the lane (phase 1), which calls tick with that time; what
 * tick emits goes through the phase after to the sinks and is acknowledged
 * without moving any source's checkpoint.  A tick that comes while the
 * last one is in flight is skipped. */
TEST(tick_output_goes_through_the_steps_after_and_is_acked_without_a_checkpoint) {
  setup(1, 1);
  start_input();
  sl_pipeline *p = &et.p;
  sl__lane_tick(p, 0, 7000);
  ASSERT_EQ(et.nsubmitted, 1);
  sl_batch *t = et.submitted[0];
  ASSERT_EQ(t->phase, 1);
  ASSERT_EQ(t->n, 0);
  ASSERT(t->source == p->lane_src[0]);
  ASSERT_STR_EQ(t->source->name, "stateful.lane");
  sl__lane_tick(p, 0, 8000);          /* in flight: skipped */
  ASSERT_EQ(et.nsubmitted, 1);
  play(t);                            /* the lane: tick(7000) */
  ASSERT_EQ(sf.nhooks, 1);
  ASSERT_EQ(sf.hook_ms[0], 7000);
  ASSERT_EQ(sf.batch_ends, 0);        /* a lane's own batch has no batch_end */
  ASSERT_EQ(t->phase, 2);
  play(et.submitted[1]);              /* after: to the sinks */
  ASSERT_EQ(et.sink[0].nwrites, 1);
  ASSERT_EQ(et.sink[0].writes[0]->n, 1);
  ASSERT_EQ(et.sink[0].writes[0]->recs[0]->meta.offset, 207);
  et_done(0, 0);
  ASSERT(p->lane_src[0]->head == NULL);   /* acknowledged and freed */
  ASSERT_EQ(et.src[0].nacked, 0);         /* no source's checkpoint moved */
  ASSERT_EQ(p->inflight_records, 0);
  ASSERT_EQ(p->inflight_bytes, 0);
  sl__lane_tick(p, 0, 9000);              /* the next tick goes again */
  ASSERT_EQ(et.nsubmitted, 3);
  ASSERT_EQ(et.submitted[2]->made, SL_MADE_TICK);
  ASSERT_EQ(et.submitted[2]->made_ms, 9000);
  end_input();
  et_teardown();
}

/* Between a source's batches: the tick batch joins the lane's queue in the
 * order it was made, so tick runs between two batches, never inside one. */
TEST(tick_runs_between_batches_in_the_lanes_order) {
  setup(1, 1);
  start_input();
  sl_batch *b0 = et_emit(0, 2);
  play(b0);                           /* before: b0 to the lane */
  sl__lane_tick(&et.p, 0, 3000);
  sl_batch *b1 = et_emit(0, 2);
  play(b1);
  /* b0, b1 before the lane; to the lane: b0, the tick, b1 */
  ASSERT_EQ(et.nsubmitted, 5);
  ASSERT(et.submitted[1] == b0 && et.submitted[2]->made == SL_MADE_TICK && et.submitted[4] == b1);
  play(et.submitted[1]);
  play(et.submitted[2]);
  play(et.submitted[4]);
  ASSERT_EQ(sf.nlog, 4);
  ASSERT_EQ(sf.nhooks, 1);
  ASSERT_EQ(sf.log_cp[1], 0);         /* b0's records... */
  ASSERT_EQ(sf.log_cp[2], 1);         /* ...then, after the tick, b1's */
  end_input();
  et_teardown();
}

/* The end of input: finish is called once every source has ended and every
 * batch is acknowledged, in a batch of the lane's own whose records reach
 * the sinks after the input's; the pipeline flushes only once that batch is
 * durable. */
TEST(finish_comes_after_every_batch_and_the_end_waits_for_it) {
  setup(1, 1);
  start_input();
  sl_pipeline *p = &et.p;
  sl_batch *b = et_emit(0, 2);
  play(b);
  play(et.submitted[1]);
  play(et.submitted[2]);
  ASSERT_EQ(et.sink[0].nwrites, 1);
  sl_source_finished(&et.src[0].st);
  ASSERT_EQ(sf.finishes, 0);
  ASSERT_EQ(et.nsubmitted, 3);        /* b is not durable yet: no finish batch */
  et_done(0, 0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(et.nsubmitted, 4);
  sl_batch *f = et.submitted[3];
  ASSERT_EQ(f->made, SL_MADE_FINISH);
  ASSERT_EQ(f->phase, 1);
  ASSERT_EQ(p->run, SL_RUN_RUNNING);  /* the end waits for it */
  sl__lane_tick(p, 0, 1000);          /* no tick after finish */
  ASSERT_EQ(et.nsubmitted, 4);
  play(f);
  ASSERT_EQ(sf.finishes, 1);
  play(et.submitted[4]);
  ASSERT_EQ(et.sink[0].nwrites, 2);
  ASSERT_EQ(et.sink[0].writes[1]->n, 2);
  ASSERT_EQ(et.sink[0].writes[1]->recs[0]->meta.offset, 300);
  ASSERT_EQ(et.sink[0].writes[1]->recs[1]->meta.offset, 301);
  ASSERT_EQ(p->run, SL_RUN_RUNNING);
  et_done(0, 1);
  ASSERT_EQ(p->run, SL_RUN_FLUSHING);
  ASSERT_EQ(et.sink[0].flushes, 1);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(sf.finishes, 1);
  end_input();
  et_teardown();
}

/* A stop (a signal, a reload, a fatal error) is not the end of input:
 * what is in flight drains, a tick batch in flight included, but finish is
 * not called and no tick starts. */
TEST(a_stop_drains_without_finish) {
  setup(1, 1);
  start_input();
  sl_pipeline *p = &et.p;
  et.src[0].finish_on_stop = 1;
  sl_batch *b = et_emit(0, 2);
  sl__lane_tick(p, 0, 4000);
  play(b);
  sl__flow_drain(p);
  ASSERT_EQ(p->run, SL_RUN_DRAINING);
  sl__lane_tick(p, 0, 5000);          /* stopping: no tick */
  for (int i = 1; i < et.nsubmitted; i++) play(et.submitted[i]);
  ASSERT_EQ(et.nsubmitted, 5);        /* b, the tick; b and the tick after the lane */
  ASSERT_EQ(sf.nhooks, 1);
  for (int i = 0; i < et.sink[0].nwrites; i++) et_done(0, i);
  ASSERT_EQ(p->run, SL_RUN_FLUSHING);
  ASSERT_EQ(sf.finishes, 0);
  ASSERT_EQ(et.nsubmitted, 5);
  end_input();
  et_teardown();
}

/* Two stateful steps: the first one's finish output is applied by the
 * second, whose finish comes after it; a tick batch of the first lane
 * passes through the second lane's apply. */
TEST(two_lanes_finish_in_order) {
  setup_lanes(1, 1, 2);
  start_input();
  sl_pipeline *p = &et.p;
  sl_source_finished(&et.src[0].st);
  ASSERT_EQ(et.nsubmitted, 1);        /* lane 0's finish, none of lane 1 yet */
  sl_batch *f0 = et.submitted[0];
  ASSERT_EQ(f0->phase, 1);
  play(f0);                           /* lane 0: finish, 300 and 301 */
  play(et.submitted[1]);              /* between the lanes */
  ASSERT_EQ(f0->phase, 3);
  play(et.submitted[2]);              /* lane 1 applies 300 and 301 */
  ASSERT_EQ(sf.nlog, 2);
  ASSERT_EQ(sf.log_off[0], 300);
  play(et.submitted[3]);              /* after */
  ASSERT_EQ(et.nsubmitted, 4);
  et_done(0, 0);
  ASSERT_EQ(et.nsubmitted, 5);        /* now lane 1's finish */
  sl_batch *f1 = et.submitted[4];
  ASSERT_EQ(f1->phase, 3);
  ASSERT(f1->source == p->lane_src[1]);
  play(f1);
  play(et.submitted[5]);
  ASSERT_EQ(sf.finishes, 2);
  ASSERT_EQ(sf.hook_stage[0], 1);
  ASSERT_EQ(sf.hook_stage[1], 2);
  et_done(0, 1);
  ASSERT_EQ(p->run, SL_RUN_FLUSHING);
  end_input();
  et_teardown();
}

/* What a stateful step outputs for one batch is bounded by limits.memory_mb
 * as on a worker: past it sl_step_emit returns SL_ETOOBIG; in apply the
 * record becomes a dead letter that says why. */
static int over_apply(sl_stage *st, sl_step_out *out, sl_record *rec) {
  (void)st;
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) rc = sl_step_emit(out, made_record(400 + i));
  if (rc) {
    sl_step_fail(out, rec, "unused: the lane says why");
    return rc;
  }
  return SL_STEP_KEEP;
}
static const sl_stateful over_stateful = {.apply = over_apply, .finish = fake_finish};
static const sl_plugin over_plugin = {.kind = SL_STEP, .name = "test.over", .stateful = &over_stateful};

TEST(memory_mb_bounds_a_stateful_steps_output) {
  setup(1, 1);
  sf.stage.plugin = &over_plugin;
  /* Room for 8 records per batch: two lists of record pointers. */
  et.p.set.limits.memory_bytes = 8 * 2 * sizeof(sl_record *);
  start_input();
  sl_batch *b = et_emit(0, 2);
  play(b);
  play(et.submitted[1]);              /* 1 + 3 for the first; the second: 1 + 3 = 8 */
  ASSERT_EQ(b->nlive, 8);
  ASSERT_EQ(b->ndead, 0);
  sl_batch *c = et_emit(0, 3);
  play(c);
  play(et.submitted[4]);
  ASSERT_EQ(c->nlive, 8);             /* the third record's third emit is refused */
  ASSERT_EQ(c->ndead, 1);
  ASSERT_EQ(c->dead[0]->meta.offset, 2);
  ASSERT(strstr(c->dead[0]->error, "that limits.memory_mb allows") != NULL);
  ASSERT_STR_EQ(c->dead[0]->error_stage, "stateful");
  /* finish: 10 records wanted, 8 made, the rest refused with SL_ETOOBIG */
  sf.emit_in_finish = 10;
  play(et.submitted[2]);
  play(et.submitted[5]);
  for (int i = 0; i < et.sink[0].nwrites; i++) et_done(0, i);
  for (int i = 0; i < et.sink[1].nwrites; i++) et_done(1, i);
  sl_source_finished(&et.src[0].st);
  sl_batch *f = et.submitted[et.nsubmitted - 1];
  ASSERT_EQ(f->made, SL_MADE_FINISH);
  play(f);
  ASSERT_EQ(f->nlive, 8);
  ASSERT_EQ(sf.emit_rc[7], 0);
  ASSERT_EQ(sf.emit_rc[8], SL_ETOOBIG);
  end_input();
  et_teardown();
}

/* finish has no record to fan out: it may emit more than
 * max_inflight_records (a whole input's results), within memory_mb. */
TEST(finish_is_not_bound_by_the_fan_out_limit) {
  setup(1, 1);
  et.p.set.max_inflight_records = 4;
  sf.emit_in_finish = 10;
  start_input();
  sl_source_finished(&et.src[0].st);
  sl_batch *f = et.submitted[0];
  play(f);
  ASSERT_EQ(f->nlive, 10);
  ASSERT_EQ(sf.emit_rc[9], 0);
  end_input();
  et_teardown();
}

/* The lane's timer wakes it at the interval the step set with
 * sl_stateful_tick: the loop runs until the timer fires (waiting on that
 * event, not sleeping), and the tick batch is made. */
TEST(the_timer_makes_tick_batches) {
  setup(1, 1);
  sl_stateful_tick(&sf.stage, 1);
  start_input();
  int64_t before_ms = sl_now_ms();
  while (et.nsubmitted == 0) uv_run(&et.loop, UV_RUN_ONCE);
  ASSERT_EQ(et.submitted[0]->made, SL_MADE_TICK);
  ASSERT(et.submitted[0]->made_ms >= before_ms);
  end_input();
  et_teardown();
}

/* The finish marker: a run whose input ends with no new record after a
 * finish that was acknowledged does not call finish again; a run with new
 * records does.  Four runs on one state folder: 2 records, none, 3, none. */
static int run_to_end(const char *dir, uint32_t records) {
  setup(1, 1);
  et.p.state_dir = (char *)dir;
  start_input();
  if (records) {
    sl_batch *b = et_emit(0, records);
    play(b);
    play(et.submitted[1]);
    play(et.submitted[2]);
    et_done(0, 0);
  }
  int writes = et.sink[0].nwrites;
  sl_source_finished(&et.src[0].st);
  if (et.nsubmitted && et.submitted[et.nsubmitted - 1]->made == SL_MADE_FINISH) {
    sl_batch *f = et.submitted[et.nsubmitted - 1];
    play(f);                          /* the lane */
    play(f);                          /* after */
    et_done(0, writes);
  }
  int flushing = et.p.run == SL_RUN_FLUSHING;
  int finishes = sf.finishes;
  end_input();                        /* runs the marker's write to its end */
  et_teardown();
  return flushing ? finishes : -1;
}

TEST(finish_is_not_called_again_without_new_input) {
  char dir[] = "/tmp/sluice-test-finish-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  ASSERT_EQ(run_to_end(dir, 2), 1);
  ASSERT_EQ(run_to_end(dir, 0), 0);
  ASSERT_EQ(run_to_end(dir, 3), 1);
  ASSERT_EQ(run_to_end(dir, 0), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/stateful.lane.json", dir);
  FILE *f = fopen(path, "r");
  ASSERT(f != NULL);
  char text[64] = {0};
  ASSERT(fgets(text, sizeof text, f) != NULL);
  fclose(f);
  ASSERT_STR_EQ(text, "{\"finish\":\"done\"}\n");
  unlink(path);
  rmdir(dir);
}

/* A finish marker that is neither done nor pending (edited by hand, cut
 * short) stops the start: SL_ESTATE, the message naming the file, what it
 * holds and how to recover; a guess would call finish twice or never. */
static void marker_refused(const char *dir, const char *text, const char *want) {
  char path[512];
  snprintf(path, sizeof path, "%s/stateful.lane.json", dir);
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
  setup(1, 1);
  et.p.state_dir = (char *)dir;
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(sl__lane_input_start(&et.p, &err), SL_ESTATE);
  sl_buf_putc(&err, 0);
  ASSERT(strstr(err.ptr, path) != NULL);
  ASSERT(strstr(err.ptr, want) != NULL);
  ASSERT(strstr(err.ptr, "Delete the file to have finish called at the next end of input") != NULL);
  sl_buf_free(&err);
  sl__lane_input_stop(&et.p);
  uv_run(&et.loop, UV_RUN_DEFAULT);
  sl__lane_input_free(&et.p);
  et_teardown();
  unlink(path);
}

TEST(a_finish_marker_edited_by_hand_stops_the_start) {
  char dir[] = "/tmp/sluice-test-marker-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  marker_refused(dir, "{\"finish\":\"don", "unusable state: it holds \"{\"finish\":\"don\"");
  marker_refused(dir, "", "unusable state: it holds \"\", not {\"finish\":\"done\"}");
  marker_refused(dir, "{\"finish\": \"done\"}\n", "not {\"finish\":\"done\"} nor {\"finish\":\"pending\"}");
  rmdir(dir);
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
          tick_output_goes_through_the_steps_after_and_is_acked_without_a_checkpoint,
          tick_runs_between_batches_in_the_lanes_order,
          finish_comes_after_every_batch_and_the_end_waits_for_it,
          a_stop_drains_without_finish,
          two_lanes_finish_in_order,
          memory_mb_bounds_a_stateful_steps_output,
          finish_is_not_bound_by_the_fan_out_limit,
          the_timer_makes_tick_batches,
          finish_is_not_called_again_without_new_input,
          a_finish_marker_edited_by_hand_stops_the_start,
          real_lane_with_four_workers_keeps_order_and_never_overlaps)
