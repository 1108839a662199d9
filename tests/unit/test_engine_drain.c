/* Drain on stop (runtime/engine/flow.c), driven without I/O
 * (engine_test.h) on a libuv loop the test runs: the sources are stopped,
 * every batch in flight is acknowledged (or, after a sink failed, let go
 * unacknowledged and reported) and the sinks are flushed before the flow
 * ends the loop.  One idle callback plays the world: each loop iteration
 * the sources emit, the "workers" finish what was submitted (latest
 * first), every third the sinks finish their writes (latest first), and
 * the test asks
 * for the stop after a set number of batches. */
#include "engine_test.h"

static struct {
  uv_idle_t idle;
  int processed;            /* submitted batches processed so far */
  int done[ET_SINKS + 1];   /* writes finished so far, per sink */
  int emitted, stop_after;
  int fail_at;              /* sink 0 fails its fail_at-th write (1-based); 0: never */
  int ticks;
} w;

static void finish_writes(int k) {
  et_sink *s = &et.sink[k];
  for (int i = s->nwrites - 1; i >= w.done[k]; i--) {
    sl_sink_batch *sb = s->writes[i];
    if (k == 0 && i + 1 == w.fail_at) sl_sink_failed(sb, "disk on fire");
    else sl_sink_done(sb);
  }
  w.done[k] = s->nwrites;
}

static void tick(uv_idle_t *h) {
  (void)h;
  w.ticks++;
  for (int s = 0; s < et.p.nsources; s++) {
    sl_stage *st = &et.src[s].st;
    if (st->finished) continue;
    if (st->stopping) sl_source_finished(st);   /* a stop is answered one turn later */
    else if (!st->paused && w.emitted < w.stop_after) {
      et_emit(s, 3);
      w.emitted++;
    }
  }
  for (int i = et.nsubmitted - 1; i >= w.processed; i--) et_process(et.submitted[i]);
  w.processed = et.nsubmitted;
  /* The sinks are slower than the sources: enough is in flight to pause. */
  if (w.ticks % 3 == 0)
    for (int k = et.p.nsinks - 1; k >= 0; k--) finish_writes(k);
  for (int k = 0; k < et.p.nsinks; k++)
    if (et.sink[k].flushes && !et.sink[k].st.flushed) sl_stage_flushed(&et.sink[k].st);
  if (w.emitted == w.stop_after) sl__flow_drain(&et.p);   /* SIGTERM */
}

static void run_world(int stop_after, int fail_at) {
  memset(&w, 0, sizeof w);
  et_setup(2, 2);
  et.p.set.max_inflight_records = 12;   /* the sources pause on the way */
  w.stop_after = stop_after;
  w.fail_at = fail_at;
  uv_idle_init(&et.loop, &w.idle);
  uv_idle_start(&w.idle, tick);
  uv_run(&et.loop, UV_RUN_DEFAULT);   /* until the flow stops the loop */
  uv_close((uv_handle_t *)&w.idle, NULL);
}

TEST(drain_acks_everything_in_flight) {
  run_world(20, 0);
  ASSERT_EQ(et.p.run, SL_RUN_DONE);
  ASSERT_EQ(w.emitted, 20);
  ASSERT_EQ(et.src[0].nacked + et.src[1].nacked, 20);
  for (int s = 0; s < 2; s++) {
    for (int i = 0; i < et.src[s].nacked; i++) ASSERT_EQ(et.src[s].acked[i], i);
    ASSERT_EQ(et.src[s].stops, 1);
    ASSERT(et.src[s].st.head == NULL);
    ASSERT(et.src[s].pauses >= 1);
    ASSERT(et.src[s].resumes >= 1);
  }
  ASSERT_EQ(et.p.inflight_records, 0);
  ASSERT_EQ(et.p.inflight_bytes, 0);
  for (int k = 0; k < 3; k++) ASSERT_EQ(et.sink[k].flushes, 1);
  ASSERT_EQ(et.p.exit_code, 0);
  et_teardown();
}

/* Sink 0 fails its 5th write: the run still ends, once every batch in
 * flight settled; the failed batch and the later ones of its source are
 * not acked, the earlier ones are. */
TEST(drain_after_a_failed_sink_settles_everything) {
  run_world(20, 5);
  ASSERT_EQ(et.p.run, SL_RUN_DONE);
  ASSERT_EQ(et.p.exit_code, 1);
  ASSERT_EQ(et.p.inflight_records, 0);
  int failed_src = -1;
  for (int s = 0; s < 2; s++) {
    ASSERT(et.src[s].st.head == NULL);
    ASSERT_EQ(et.src[s].stops, 1);
    for (int i = 0; i < et.src[s].nacked; i++) ASSERT_EQ(et.src[s].acked[i], i);
    if (et.src[s].st.lost) failed_src = s;
  }
  ASSERT(failed_src >= 0);
  /* The failed source was acked only up to the failed batch. */
  ASSERT(et.src[failed_src].nacked < (int)et.src[failed_src].next_cp);
  et_teardown();
}

RUN_TESTS(drain_acks_everything_in_flight, drain_after_a_failed_sink_settles_everything)
