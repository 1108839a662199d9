/* The flow's dispatch order (runtime/engine/flow.c): each sink gets a
 * source's batches in dispatch order, also when dead letters must be durable
 * before the data (dlq_first), and the source is acknowledged in order; the
 * records a sink rejects reach the dead-letter sink once, also when the sink
 * sends them before it is done (sl_sink_send_rejects).
 *
 * The pipeline is built by hand with fake sinks that record what they were
 * given and finish only when the test says so; batches are put on the
 * source's list the way sl__flow_emit does, without the workers. */
#include "engine/batch.h"
#include "engine/flow.h"
#include "test.h"

#define MAXLOG 32

/* What the fake stages saw, in order. */
static struct {
  sl_sink_batch *data[MAXLOG];
  int ndata;
  sl_sink_batch *dlq[MAXLOG];
  int ndlq;
  int64_t acked[MAXLOG];
  int nacked;
  int data_at_once;     /* the data sink finishes inside write */
  int dlq_at_once;      /* the dead-letter sink finishes inside write */
} seen;

static int data_write(sl_stage *st, sl_sink_batch *sb) {
  (void)st;
  seen.data[seen.ndata++] = sb;
  if (seen.data_at_once) sl_sink_done(sb);
  return 0;
}

static int dlq_write(sl_stage *st, sl_sink_batch *sb) {
  (void)st;
  seen.dlq[seen.ndlq++] = sb;
  if (seen.dlq_at_once) sl_sink_done(sb);
  return 0;
}

static void src_ack(sl_stage *st, const sl_checkpoint *cp) {
  (void)st;
  seen.acked[seen.nacked++] = cp->a;
}

static const sl_plugin src_plugin = {.kind = SL_SOURCE, .name = "test.source", .ack = src_ack};
static const sl_plugin data_plugin = {.kind = SL_SINK, .name = "test.sink", .write = data_write};
static const sl_plugin dlq_plugin = {.kind = SL_SINK, .name = "test.dlq", .write = dlq_write};

static sl_pipeline p;
static sl_stage src, data, dlq;
static sl_stage *sources[1], *sinks[2];

static void setup(int dlq_first) {
  memset(&seen, 0, sizeof seen);
  memset(&p, 0, sizeof p);
  memset(&src, 0, sizeof src);
  memset(&data, 0, sizeof data);
  memset(&dlq, 0, sizeof dlq);
  p.name = "test";
  p.set.batch_size = 4;
  p.set.max_inflight_records = 1000000;
  p.set.max_inflight_bytes = (uint64_t)1 << 40;
  p.dlq_first = dlq_first;
  src = (sl_stage){.plugin = &src_plugin, .kind = SL_SOURCE, .name = "src", .p = &p};
  data = (sl_stage){.plugin = &data_plugin, .kind = SL_SINK, .name = "data", .p = &p};
  dlq = (sl_stage){.plugin = &dlq_plugin, .kind = SL_SINK, .name = "dlq", .p = &p, .index = 1,
                   .is_dlq = 1};
  sources[0] = &src;
  sinks[0] = &data;
  sinks[1] = &dlq;
  p.sources = sources;
  p.nsources = 1;
  p.sinks = sinks;
  p.nsinks = 2;
}

/* A batch of `records` records of which `dead` went to the dead-letter
 * sink, processed by the "workers" and put on the source's list. */
static sl_batch *emit(uint32_t records, uint32_t dead) {
  sl_batch *b = sl_batch_new(&src);
  for (uint32_t i = 0; i < records; i++) sl_batch_add(b);
  b->seq = src.next_seq++;
  b->cp.a = (int64_t)b->seq;
  if (src.tail) src.tail->next = b;
  else src.head = b;
  src.tail = b;
  if (!src.undispatched) src.undispatched = b;
  p.inflight_records += b->n;
  b->sbs = sl_arena_alloc(&b->arena, 2 * sizeof *b->sbs);
  memset(b->sbs, 0, 2 * sizeof *b->sbs);
  for (int i = 0; i < 2; i++) {
    b->sbs[i].batch = b;
    b->sbs[i].sink = sinks[i];
  }
  b->sbs[0].n = records - dead;
  b->sbs[1].n = dead;
  b->sbs[0].recs = sl_arena_alloc(&b->arena, records * sizeof *b->sbs[0].recs);
  for (uint32_t i = 0; i < records - dead; i++) b->sbs[0].recs[i] = &b->recs[i];
  return b;
}

static int durable_calls;
static void on_durable(void *arg) {
  (void)arg;
  durable_calls++;
}

static uint64_t seq_of(sl_sink_batch *sb) { return sb->batch->seq; }

TEST(later_batch_waits_for_earlier_dead_letters) {
  setup(1);
  sl_batch *b0 = emit(4, 1), *b1 = emit(4, 0), *b2 = emit(4, 2);
  sl__flow_processed(&p, b0);
  sl__flow_processed(&p, b1);
  sl__flow_processed(&p, b2);
  /* Only the dead letters go out: batch 1 has none, but must not pass
   * batch 0, whose records wait for theirs. */
  ASSERT_EQ(seen.ndata, 0);
  ASSERT_EQ(seen.ndlq, 2);
  ASSERT_EQ(seq_of(seen.dlq[0]), 0);
  ASSERT_EQ(seq_of(seen.dlq[1]), 2);
  /* Batch 2's dead letters being durable first changes nothing. */
  sl_sink_done(seen.dlq[1]);
  ASSERT_EQ(seen.ndata, 0);
  sl_sink_done(seen.dlq[0]);
  ASSERT_EQ(seen.ndata, 3);
  ASSERT_EQ(seq_of(seen.data[0]), 0);
  ASSERT_EQ(seq_of(seen.data[1]), 1);
  ASSERT_EQ(seq_of(seen.data[2]), 2);
  ASSERT_EQ(seen.nacked, 0);
  for (int i = 0; i < 3; i++) sl_sink_done(seen.data[i]);
  ASSERT_EQ(seen.nacked, 3);
  for (int i = 0; i < 3; i++) ASSERT_EQ(seen.acked[i], i);
  ASSERT(src.head == NULL);
  ASSERT_EQ(p.inflight_records, 0);
}

TEST(batch_after_a_written_one_goes_at_once) {
  setup(1);
  sl_batch *b0 = emit(4, 1);
  sl__flow_processed(&p, b0);
  sl_sink_done(seen.dlq[0]);
  ASSERT_EQ(seen.ndata, 1);
  sl_batch *b1 = emit(4, 0);
  sl__flow_processed(&p, b1);
  ASSERT_EQ(seen.ndata, 2);
  ASSERT_EQ(seq_of(seen.data[1]), 1);
  sl_sink_done(seen.data[0]);
  sl_sink_done(seen.data[1]);
  ASSERT_EQ(seen.nacked, 2);
  ASSERT(src.head == NULL);
}

/* A sink that finishes inside write must not let a waiting batch be
 * acknowledged (and freed) before it was written. */
TEST(sink_finishing_at_once_keeps_order) {
  setup(1);
  seen.data_at_once = 1;
  sl_batch *b0 = emit(4, 1), *b1 = emit(4, 0), *b2 = emit(3, 0);
  sl__flow_processed(&p, b0);
  sl__flow_processed(&p, b1);
  sl__flow_processed(&p, b2);
  ASSERT_EQ(seen.ndata, 0);
  ASSERT_EQ(seen.nacked, 0);
  sl_sink_done(seen.dlq[0]);
  ASSERT_EQ(seen.ndata, 3);
  ASSERT_EQ(seen.nacked, 3);
  for (int i = 0; i < 3; i++) ASSERT_EQ(seen.acked[i], i);
  ASSERT(src.head == NULL);
}

TEST(without_dlq_first_everything_goes_at_once) {
  setup(0);
  sl_batch *b0 = emit(4, 1), *b1 = emit(4, 0);
  sl__flow_processed(&p, b0);
  sl__flow_processed(&p, b1);
  ASSERT_EQ(seen.ndata, 2);
  ASSERT_EQ(seen.ndlq, 1);
  sl_sink_done(seen.data[1]);
  ASSERT_EQ(seen.nacked, 0);   /* batch 0 first */
  sl_sink_done(seen.data[0]);
  ASSERT_EQ(seen.nacked, 0);
  sl_sink_done(seen.dlq[0]);
  ASSERT_EQ(seen.nacked, 2);
  ASSERT(src.head == NULL);
}

/* A dead-letter sink that finishes inside write, for a batch whose
 * predecessor was already written: the batch's data goes once (found by
 * the simulation, tests/faults/sim: it went twice, into an exactly-once
 * sink, and the batch was never acknowledged). */
TEST(dead_letters_finishing_at_once_write_data_once) {
  setup(1);
  seen.dlq_at_once = 1;
  sl_batch *b0 = emit(4, 0), *b1 = emit(4, 1);
  sl__flow_processed(&p, b0);
  ASSERT_EQ(seen.ndata, 1);
  sl__flow_processed(&p, b1);
  ASSERT_EQ(seen.ndlq, 1);
  ASSERT_EQ(seen.ndata, 2);
  ASSERT_EQ(seq_of(seen.data[1]), 1);
  ASSERT_EQ(b1->pending, 1);
  sl_sink_done(seen.data[0]);
  sl_sink_done(seen.data[1]);
  ASSERT_EQ(seen.nacked, 2);
  ASSERT(src.head == NULL);
  ASSERT_EQ(p.inflight_records, 0);
}

/* A sink that stores the source's position (dlq_first) sends its rejected
 * records to the dead-letter sink before it commits, and hears when they
 * are durable; its sl_sink_done then sends nothing more. */
TEST(rejects_sent_before_done_go_once) {
  setup(1);
  durable_calls = 0;
  sl_batch *b0 = emit(4, 0);
  sl__flow_processed(&p, b0);
  ASSERT_EQ(seen.ndata, 1);
  sl_sink_batch *sb = seen.data[0];
  ASSERT_EQ(sl_sink_send_rejects(sb, on_durable, NULL), SL_ENOENT);   /* nothing rejected */
  sl_sink_reject(sb, 1, "bad row");
  sl_sink_reject(sb, 3, "bad too");
  ASSERT_EQ(sl_sink_send_rejects(sb, on_durable, NULL), 0);
  ASSERT_EQ(seen.ndlq, 1);
  ASSERT_EQ(seen.dlq[0]->n, 2);
  ASSERT(seen.dlq[0]->late);
  ASSERT_EQ(sl_sink_send_rejects(sb, on_durable, NULL), SL_ENOENT);   /* already sent */
  ASSERT_EQ(durable_calls, 0);
  sl_sink_done(seen.dlq[0]);
  ASSERT_EQ(durable_calls, 1);
  ASSERT_EQ(seen.nacked, 0);   /* the data sink has not finished */
  sl_sink_done(sb);
  ASSERT_EQ(seen.ndlq, 1);     /* no second dead letter */
  ASSERT_EQ(seen.nacked, 1);
  ASSERT_EQ(data.records_failed, 2);
  ASSERT_EQ(data.records_done, 2);
  ASSERT(src.head == NULL);
}

RUN_TESTS(rejects_sent_before_done_go_once, dead_letters_finishing_at_once_write_data_once, later_batch_waits_for_earlier_dead_letters, batch_after_a_written_one_goes_at_once,
          sink_finishing_at_once_keeps_order, without_dlq_first_everything_goes_at_once)
