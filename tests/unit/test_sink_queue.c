/* The sink queue (runtime/engine/sink_queue.c) under a fake sink on a real
 * loop (engine_test.h's pipeline): groups within the limits, in arrival
 * order, one in flight at a time; retries of the same group after a
 * back-off of 1 ms; a permanent error fails everything; flush. */
#include "engine_test.h"
#include "sluice/sink_queue.h"

static struct {
  sl_sink_queue q;
  uint32_t group_n[ET_MAX];       /* per write call: the group's size */
  sl_sink_batch *group_first[ET_MAX];
  int nwrites;
  int sync_err;                   /* non-zero: write fails at once with it */
  int sync_err_times;             /* ... this many times */
  int resumes;
} fk;

static void fk_write(void *ctx, sl_sink_batch *first, uint32_t n) {
  (void)ctx;
  uint32_t count = 0;
  for (sl_sink_batch *s = first; s; s = s->next) count++;
  if (count != n) fprintf(stderr, "group of %u batches said %u\n", count, n);
  if (fk.nwrites < ET_MAX) {
    fk.group_n[fk.nwrites] = n;
    fk.group_first[fk.nwrites] = first;
  }
  fk.nwrites++;
  if (fk.sync_err_times > 0) {
    fk.sync_err_times--;
    sl_sink_queue_written(&fk.q, fk.sync_err, "writing fake failed");
  }
}

/* Errors at or below -100 are permanent. */
static int fk_permanent(void *ctx, int err) {
  (void)ctx;
  return err <= -100;
}

static void fk_resume(void *ctx) {
  (void)ctx;
  fk.resumes++;
}

static const sl_sink_queue_ops fk_ops = {
    .write = fk_write,
    .permanent = fk_permanent,
    .resume = fk_resume,
};

static int fk_plugin_write(sl_stage *st, sl_sink_batch *sb) {
  (void)st;
  sl_sink_queue_push(&fk.q, sb);
  return 0;
}
static void fk_plugin_flush(sl_stage *st) {
  (void)st;
  sl_sink_queue_flush(&fk.q);
}
static const sl_plugin fk_plugin = {
    .kind = SL_SINK,
    .name = "fake.sink",
    .write = fk_plugin_write,
    .flush = fk_plugin_flush,
};

/* One source, one data sink (the fake), the dead-letter sink. */
static void setup(uint32_t max_batches, uint64_t max_records) {
  et_setup(1, 1);
  memset(&fk, 0, sizeof fk);
  et.sink[0].st.plugin = &fk_plugin;
  sl_sink_queue_cfg cfg = {.max_batches = max_batches, .max_records = max_records,
                           .backoff_initial_ms = 1, .backoff_max_ms = 1};
  if (sl_sink_queue_init(&fk.q, &et.sink[0].st, &fk_ops, NULL, &cfg))
    fprintf(stderr, "sl_sink_queue_init failed\n");
}

static void teardown(void) {
  sl_sink_queue_close(&fk.q);
  et_teardown();
}

static sl_batch *emit(uint32_t n) {
  sl_batch *b = et_emit(0, n);
  et_process(b);
  return b;
}

/* Runs the loop until the timer wrote the group again. */
static void wait_rewrite(int nwrites) {
  while (fk.nwrites < nwrites && uv_run(&et.loop, UV_RUN_ONCE)) {
  }
}

/* The first batch goes out alone; what queues meanwhile is the next
 * group; batches are acknowledged group by group, in arrival order. */
TEST(groups_complete_in_arrival_order) {
  setup(0, 0);
  emit(2);
  ASSERT_EQ(fk.nwrites, 1);
  ASSERT_EQ(fk.group_n[0], 1);
  emit(2);
  emit(2);
  ASSERT_EQ(fk.nwrites, 1);   /* one group in flight at a time */
  ASSERT_EQ(sl_sink_queue_records(&fk.q), 6);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(fk.nwrites, 2);
  ASSERT_EQ(fk.group_n[1], 2);
  ASSERT_EQ(fk.group_first[1]->batch->cp.a, 1);
  ASSERT_EQ(fk.group_first[1]->next->batch->cp.a, 2);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(et.src[0].nacked, 3);
  for (int i = 0; i < 3; i++) ASSERT_EQ(et.src[0].acked[i], i);
  ASSERT_EQ(et.sink[0].st.records_done, 6);
  ASSERT_EQ(sl_sink_queue_records(&fk.q), 0);
  ASSERT(sl_sink_queue_group(&fk.q) == NULL);
  teardown();
}

/* A group takes at most max_batches batches, and at most max_records
 * records unless one batch alone has more. */
TEST(groups_keep_to_the_limits) {
  setup(2, 0);
  emit(1);
  for (int i = 0; i < 5; i++) emit(1);
  sl_sink_queue_written(&fk.q, 0, NULL);
  sl_sink_queue_written(&fk.q, 0, NULL);
  sl_sink_queue_written(&fk.q, 0, NULL);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(fk.nwrites, 4);
  ASSERT_EQ(fk.group_n[0], 1);
  ASSERT_EQ(fk.group_n[1], 2);
  ASSERT_EQ(fk.group_n[2], 2);
  ASSERT_EQ(fk.group_n[3], 1);
  ASSERT_EQ(et.src[0].nacked, 6);
  teardown();

  setup(0, 5);
  emit(1);
  emit(3);
  emit(2);
  emit(7);   /* more than the limit alone: a group of its own */
  emit(1);
  for (int i = 0; i < 4; i++) sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(fk.nwrites, 4);
  ASSERT_EQ(fk.group_n[0], 1);
  ASSERT_EQ(fk.group_n[1], 2);   /* 3 + 2 */
  ASSERT_EQ(fk.group_n[2], 1);   /* 7 */
  ASSERT_EQ(fk.group_n[3], 1);
  ASSERT_EQ(et.src[0].nacked, 5);
  ASSERT_EQ(et.sink[0].st.records_done, 14);
  teardown();
}

/* A retryable error writes the same group again after the pause; what
 * arrived meanwhile waits for the next group; success resets the pause. */
TEST(retry_writes_the_same_group_again) {
  setup(0, 0);
  emit(2);
  emit(2);   /* queued behind the first */
  sl_sink_queue_written(&fk.q, -5, "writing fake failed: try again");
  ASSERT_EQ(sl_sink_queue_backoff_ms(&fk.q), 1);
  ASSERT_EQ(fk.nwrites, 1);
  emit(2);
  ASSERT_EQ(fk.nwrites, 1);   /* waits for the retried group */
  wait_rewrite(2);
  ASSERT_EQ(fk.nwrites, 2);
  ASSERT(fk.group_first[1] == fk.group_first[0]);
  ASSERT_EQ(fk.group_n[1], 1);
  /* Fails twice more at once, then succeeds on the fourth attempt. */
  fk.sync_err = -5;
  fk.sync_err_times = 1;
  sl_sink_queue_written(&fk.q, -5, "writing fake failed: try again");
  wait_rewrite(4);
  ASSERT_EQ(fk.nwrites, 4);
  ASSERT_EQ(et.src[0].nacked, 0);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(sl_sink_queue_backoff_ms(&fk.q), 0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(fk.nwrites, 5);
  ASSERT_EQ(fk.group_n[4], 2);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(et.src[0].nacked, 3);
  ASSERT_EQ(et.p.exit_code, 0);
  teardown();
}

/* A pause with nothing in flight (a connection lost while idle) calls
 * resume after it, and then writes what queued meanwhile. */
TEST(retry_without_a_group_resumes) {
  setup(0, 0);
  sl_sink_queue_retry(&fk.q, "lost the connection");
  emit(2);
  ASSERT_EQ(fk.nwrites, 0);
  while (fk.resumes == 0 && uv_run(&et.loop, UV_RUN_ONCE)) {
  }
  ASSERT_EQ(fk.resumes, 1);
  ASSERT_EQ(fk.nwrites, 1);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(et.src[0].nacked, 1);
  teardown();
}

/* A permanent error fails the group, everything queued and every later
 * batch; nothing is acknowledged and the pipeline fails. */
TEST(permanent_error_fails_everything) {
  setup(1, 0);
  emit(2);
  emit(2);
  emit(2);
  sl_sink_queue_written(&fk.q, -100, "writing fake failed: bad descriptor");
  ASSERT_EQ(fk.nwrites, 1);
  ASSERT_EQ(et.p.exit_code, 1);
  ASSERT_EQ(et.src[0].nacked, 0);
  ASSERT_EQ(et.sink[0].st.records_done, 0);
  ASSERT_EQ(sl_sink_queue_records(&fk.q), 0);
  ASSERT_EQ(et.p.inflight_records, 0);
  emit(2);
  ASSERT_EQ(fk.nwrites, 1);
  ASSERT_EQ(et.sink[0].st.records_done, 0);
  ASSERT_EQ(et.src[0].nacked, 0);
  teardown();
}

/* Flush waits for the queue to drain; with nothing queued it is at once. */
TEST(flush_drains_the_queue) {
  setup(1, 0);
  emit(1);
  emit(1);
  fk_plugin_flush(&et.sink[0].st);
  ASSERT_EQ(et.sink[0].st.flushed, 0);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(et.sink[0].st.flushed, 0);
  sl_sink_queue_written(&fk.q, 0, NULL);
  ASSERT_EQ(et.sink[0].st.flushed, 1);
  ASSERT_EQ(et.src[0].nacked, 2);
  teardown();

  setup(0, 0);
  fk_plugin_flush(&et.sink[0].st);
  ASSERT_EQ(et.sink[0].st.flushed, 1);
  ASSERT_EQ(fk.nwrites, 0);
  teardown();
}

RUN_TESTS(groups_complete_in_arrival_order, groups_keep_to_the_limits,
          retry_writes_the_same_group_again, retry_without_a_group_resumes,
          permanent_error_fails_everything, flush_drains_the_queue)
