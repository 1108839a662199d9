/* The flow's acknowledgement (runtime/engine/flow.c), driven without I/O
 * (engine_test.h): each source is acknowledged in its own emission order,
 * only once every sink made a batch durable, however the workers and the
 * sinks finish; a sink that fails for good stops the acknowledgement of
 * its source there. */
#include "engine_test.h"

/* Two sources, two sinks; the workers finish out of order and the sinks
 * complete out of order and independently of each other. */
TEST(acks_follow_each_sources_order) {
  et_setup(2, 2);
  sl_batch *a0 = et_emit(0, 4), *a1 = et_emit(0, 4), *a2 = et_emit(0, 2);
  sl_batch *b0 = et_emit(1, 3), *b1 = et_emit(1, 3);
  ASSERT_EQ(et.nsubmitted, 5);
  ASSERT_EQ(et.p.inflight_records, 16);

  /* a1 is processed first: it waits for a0, as the sinks must see a
   * source's batches in its order. */
  et_process(a1);
  ASSERT_EQ(et.sink[0].nwrites, 0);
  et_process(b1);
  et_process(a0);
  et_process(b0);
  et_process(a2);
  ASSERT_EQ(et.sink[0].nwrites, 5);
  ASSERT_EQ(et.sink[1].nwrites, 5);
  /* Per sink: a0 a1, then b0 b1, then a2 (the order of dispatch). */
  for (int k = 0; k < 2; k++) {
    ASSERT_EQ(et.sink[k].writes[0]->batch, a0);
    ASSERT_EQ(et.sink[k].writes[1]->batch, a1);
    ASSERT_EQ(et.sink[k].writes[2]->batch, b0);
    ASSERT_EQ(et.sink[k].writes[3]->batch, b1);
    ASSERT_EQ(et.sink[k].writes[4]->batch, a2);
  }
  ASSERT_EQ(et.sink[2].nwrites, 0);   /* no dead letters */

  /* Sink 1 finishes everything, latest first: nothing is acked, sink 0
   * has not finished anything. */
  for (int i = 4; i >= 0; i--) et_done(1, i);
  ASSERT_EQ(et.src[0].nacked, 0);
  ASSERT_EQ(et.src[1].nacked, 0);
  /* Sink 0 finishes a2 and a1: a0 still holds source 0 back. */
  et_done(0, 4);
  et_done(0, 1);
  ASSERT_EQ(et.src[0].nacked, 0);
  /* b1 then b0: source 1 is acked, in order, whatever source 0 waits for. */
  et_done(0, 3);
  ASSERT_EQ(et.src[1].nacked, 0);
  et_done(0, 2);
  ASSERT_EQ(et.src[1].nacked, 2);
  ASSERT_EQ(et.src[1].acked[0], 0);
  ASSERT_EQ(et.src[1].acked[1], 1);
  ASSERT_EQ(et.src[0].nacked, 0);
  /* a0: all three of source 0, in order. */
  et_done(0, 0);
  ASSERT_EQ(et.src[0].nacked, 3);
  for (int i = 0; i < 3; i++) ASSERT_EQ(et.src[0].acked[i], i);
  ASSERT_EQ(et.p.inflight_records, 0);
  ASSERT_EQ(et.p.inflight_bytes, 0);
  ASSERT_EQ(et.src[0].st.records_acked, 10);
  ASSERT_EQ(et.src[1].st.records_acked, 6);
  ASSERT(et.src[0].st.head == NULL);
  ASSERT(et.src[1].st.head == NULL);
  et_teardown();
}

/* sl_sink_failed: the batch and every later one of its source are neither
 * acknowledged nor (if not yet dispatched) written; the pipeline drains
 * with exit code 1; the other source goes on being acknowledged. */
TEST(failed_sink_stops_acks_of_its_source) {
  et_setup(2, 2);
  sl_batch *a0 = et_emit(0, 4), *a1 = et_emit(0, 4), *a2 = et_emit(0, 4);
  sl_batch *b0 = et_emit(1, 2);
  et_process(a0);
  et_process(a1);
  et_process(b0);
  ASSERT_EQ(et.sink[0].nwrites, 3);
  et_done(1, 0);                 /* a0 durable in sink 1 */
  sl_sink_failed(et.sink[0].writes[1], "disk on fire");   /* a1 fails in sink 0 */
  ASSERT_EQ(et.p.exit_code, 1);
  ASSERT_EQ(et.p.run, SL_RUN_DRAINING);
  ASSERT_EQ(et.src[0].stops, 1);
  ASSERT_EQ(et.src[1].stops, 1);
  ASSERT(a1->lost != NULL);
  ASSERT(a2->lost != NULL);
  /* a0 is earlier than the failed batch: acked once both sinks have it. */
  et_done(0, 0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(et.src[0].acked[0], 0);
  /* a1 settles in sink 1 without an ack; a2, processed after the failure,
   * is not written anywhere and not acked. */
  et_done(1, 1);
  et_process(a2);
  ASSERT_EQ(et.sink[0].nwrites, 3);
  ASSERT_EQ(et.sink[1].nwrites, 3);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT(et.src[0].st.head == NULL);
  /* Source 1 is still acknowledged. */
  et_done(0, 2);
  et_done(1, 2);
  ASSERT_EQ(et.src[1].nacked, 1);
  ASSERT_EQ(et.src[1].acked[0], 0);
  et_teardown();
}

/* A write that returns an error rejects the batch's records for that sink:
 * they go to the dead-letter sink, and the batch is acked once that is
 * durable too. */
TEST(write_error_sends_records_to_dead_letters) {
  et_setup(1, 2);
  et.sink[1].fail_write = 1;
  et_emit(0, 3);
  et_process(et.submitted[0]);
  ASSERT_EQ(et.sink[0].nwrites, 1);
  ASSERT_EQ(et.sink[2].nwrites, 1);
  ASSERT_EQ(et.sink[2].writes[0]->n, 3);
  et_done(0, 0);
  ASSERT_EQ(et.src[0].nacked, 0);
  et_done(2, 0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(et.sink[1].st.records_failed, 3);
  ASSERT_EQ(et.p.exit_code, 0);
  et_teardown();
}

RUN_TESTS(acks_follow_each_sources_order, failed_sink_stops_acks_of_its_source,
          write_error_sends_records_to_dead_letters)
