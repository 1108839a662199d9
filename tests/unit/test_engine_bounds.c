/* The flow's in-flight bounds and pause/resume (runtime/engine/flow.c),
 * driven without I/O (engine_test.h): past max_inflight_records or
 * max_inflight_bytes every running source is paused once; below 3/4 of
 * both it is resumed once; a finished or stopping source is left alone;
 * records an ack holds (a checkpoint being written) stay in flight. */
#include "engine_test.h"

/* Acks the oldest batch of source s: every sink finishes it. */
static void settle_first(int s) {
  sl_batch *b = et.src[s].st.head;
  for (int k = 0; k < et.p.nsinks; k++)
    for (int i = 0; i < et.sink[k].nwrites; i++)
      if (et.sink[k].writes[i] && et.sink[k].writes[i]->batch == b) {
        sl_sink_batch *sb = et.sink[k].writes[i];
        et.sink[k].writes[i] = NULL;
        sl_sink_done(sb);
      }
}

TEST(records_bound_pauses_and_resumes) {
  et_setup(2, 1);
  et.p.set.max_inflight_records = 16;   /* resume at 12 or below */
  et_emit(0, 4);
  et_emit(1, 4);
  et_emit(0, 4);
  ASSERT_EQ(et.src[0].pauses, 0);
  ASSERT_EQ(et.src[1].pauses, 0);
  ASSERT(!sl_source_paused(&et.src[0].st));
  et_emit(1, 4);                        /* 16 in flight: at the bound */
  ASSERT_EQ(et.p.inflight_records, 16);
  ASSERT_EQ(et.src[0].pauses, 1);
  ASSERT_EQ(et.src[1].pauses, 1);
  ASSERT(sl_source_paused(&et.src[0].st));
  ASSERT(sl_source_paused(&et.src[1].st));
  /* A source may still emit what it had read: no second pause. */
  et_emit(0, 2);
  ASSERT_EQ(et.src[0].pauses, 1);
  for (int i = 0; i < et.nsubmitted; i++) et_process(et.submitted[i]);
  settle_first(0);                      /* 14 left: over 12, still paused */
  ASSERT_EQ(et.p.inflight_records, 14);
  ASSERT_EQ(et.src[0].resumes, 0);
  settle_first(1);                      /* 10: resumed, each once */
  ASSERT_EQ(et.p.inflight_records, 10);
  ASSERT_EQ(et.src[0].resumes, 1);
  ASSERT_EQ(et.src[1].resumes, 1);
  ASSERT(!sl_source_paused(&et.src[0].st));
  settle_first(0);
  ASSERT_EQ(et.src[0].resumes, 1);
  et_teardown();
}

TEST(bytes_bound_pauses_and_resumes) {
  et_setup(1, 1);
  et_emit(0, 4);
  uint64_t one = et.p.inflight_bytes;   /* what one batch of 4 accounts */
  ASSERT(one > 0);
  et.p.set.max_inflight_bytes = 4 * one;
  et_emit(0, 4);
  et_emit(0, 4);
  ASSERT_EQ(et.src[0].pauses, 0);
  et_emit(0, 4);
  ASSERT_EQ(et.src[0].pauses, 1);
  /* Processing grows a batch's arena (the sink batches): its bytes grow
   * with it.  The source is resumed by the settle that brings the bytes to
   * 3/4 of the bound, not before. */
  for (int i = 0; i < et.nsubmitted; i++) et_process(et.submitted[i]);
  ASSERT(et.p.inflight_bytes > 4 * one);
  uint64_t resume_at = et.p.set.max_inflight_bytes / 4 * 3;
  int settled = 0;
  while (et.src[0].st.head && et.p.inflight_bytes > resume_at) {
    ASSERT_EQ(et.src[0].resumes, 0);
    settle_first(0);
    settled++;
  }
  ASSERT(et.p.inflight_bytes <= resume_at);
  ASSERT_EQ(et.src[0].resumes, 1);
  ASSERT(settled >= 1);
  et_teardown();
}

TEST(finished_and_stopping_sources_are_left_alone) {
  et_setup(2, 1);
  et.p.set.max_inflight_records = 8;
  sl_source_finished(&et.src[1].st);
  et_emit(0, 4);
  et_emit(0, 4);
  ASSERT_EQ(et.src[0].pauses, 1);
  ASSERT_EQ(et.src[1].pauses, 0);
  sl__flow_drain(&et.p);
  ASSERT_EQ(et.src[0].stops, 1);
  ASSERT_EQ(et.src[1].stops, 0);        /* finished already */
  ASSERT(sl_source_paused(&et.src[0].st));
  for (int i = 0; i < et.nsubmitted; i++) et_process(et.submitted[i]);
  settle_first(0);
  settle_first(0);
  ASSERT_EQ(et.p.inflight_records, 0);
  ASSERT_EQ(et.src[0].resumes, 0);
  ASSERT(sl_source_paused(&et.src[0].st));
  et_teardown();
}

/* An ack whose checkpoint is being saved (sl_ack.held) keeps its records in
 * flight, and the source paused, until the state file says it is written. */
TEST(held_ack_keeps_records_in_flight) {
  et_setup(1, 1);
  et.p.set.max_inflight_records = 8;
  et.src[0].hold_acks = 1;
  et_emit(0, 4);
  et_emit(0, 4);
  ASSERT_EQ(et.src[0].pauses, 1);
  for (int i = 0; i < et.nsubmitted; i++) et_process(et.submitted[i]);
  settle_first(0);
  ASSERT_EQ(et.src[0].nacked, 1);
  ASSERT_EQ(et.p.inflight_records, 8);
  ASSERT_EQ(et.src[0].resumes, 0);
  ASSERT(et.src[0].st.ack == NULL);     /* only while ack runs */
  et.p.state_hooks->released(&et.p, 4);   /* the checkpoint file is written */
  ASSERT_EQ(et.p.inflight_records, 4);
  ASSERT_EQ(et.src[0].resumes, 1);
  et_teardown();
}

RUN_TESTS(records_bound_pauses_and_resumes, bytes_bound_pauses_and_resumes,
          finished_and_stopping_sources_are_left_alone, held_ack_keeps_records_in_flight)
