/* engine/tap.c without the HTTP server: which records a tap samples (one
 * in every N, counted across calls; a where), what a line holds (stage,
 * metadata, projection), the limit, and that a full queue drops samples
 * and says so once there is room again. */
#include <stdatomic.h>

#include "core/secrets.h"
#include "engine/tap.h"
#include "sluice/record.h"
#include "test.h"

typedef struct fixture {
  uv_loop_t loop;
  sl_pipeline p;
  sl_stage st;
  sl_arena a;
  sl_record *recs[64];
  int n;
  int wakes;
} fixture;

static void wake(void *arg) { ((fixture *)arg)->wakes++; }

static void setup(fixture *f, int nrecs, size_t pad) {
  memset(f, 0, sizeof *f);
  uv_loop_init(&f->loop);
  f->p.loop = &f->loop;
  f->st.name = "step.1";
  f->st.p = &f->p;
  sl_arena_init(&f->a);
  char json[1024];
  char fill[512];
  memset(fill, 'x', pad);
  fill[pad] = 0;
  for (int i = 0; i < nrecs; i++) {
    int n = snprintf(json, sizeof json, "{\"id\":%d,\"name\":\"n%d\",\"pad\":\"%s\"}", i, i, fill);
    f->recs[i] = sl_record_from_json(&f->a, json, (size_t)n);
    f->recs[i]->meta.offset = 100 + i;
    f->recs[i]->meta.origin = (sl_str){"in.jsonl", 8};
  }
  f->n = nrecs;
}

static void teardown(fixture *f) {
  uv_run(&f->loop, UV_RUN_NOWAIT);   /* the taps' timers close */
  sl__taps_free(&f->p);
  uv_loop_close(&f->loop);
  sl_arena_free(&f->a);
}

/* The lines taken, as one string (NUL-terminated, static). */
static const char *take(sl_tap *t, int *complete) {
  static char out[SL_TAP_QUEUE + 4096];
  sl_buf b = SL_BUF_INIT;
  int c = sl__tap_take(t, &b);
  if (complete) *complete = c;
  snprintf(out, sizeof out, "%.*s", (int)b.len, b.ptr ? b.ptr : "");
  sl_buf_free(&b);
  return out;
}

static int count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
  return n;
}

TEST(nothing_attached_costs_a_load) {
  fixture f;
  setup(&f, 4, 1);
  ASSERT_EQ(sl__tap_on(&f.p), 0);
  sl__tap_records(&f.p, &f.st, f.recs, 4);   /* no tap: nothing happens */
  teardown(&f);
}

TEST(one_in_every_n_across_calls) {
  fixture f;
  setup(&f, 10, 1);
  sl_tap_opts o = {.every = 3};
  sl_tap *t;
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t), 0);
  ASSERT_EQ(sl__tap_on(&f.p), 1);
  sl__tap_records(&f.p, &f.st, f.recs, 4);       /* ids 0..3: 0 and 3 */
  sl__tap_records(&f.p, &f.st, f.recs + 4, 6);   /* ids 4..9: 6 and 9 */
  const char *got = take(t, NULL);
  ASSERT_EQ(count(got, "\n"), 4);
  ASSERT(strstr(got, "\"record\":{\"id\":0,") && strstr(got, "\"id\":3,") &&
         strstr(got, "\"id\":6,") && strstr(got, "\"id\":9,"));
  ASSERT(strstr(got, "{\"stage\":\"step.1\",\"time\":\""));
  ASSERT(strstr(got, "\"origin\":\"in.jsonl\",\"offset\":103,"));
  sl__tap_detach(t);
  ASSERT_EQ(sl__tap_on(&f.p), 0);
  teardown(&f);
}

TEST(another_stage_is_not_seen) {
  fixture f;
  setup(&f, 3, 1);
  sl_stage other = {.name = "other", .p = &f.p};
  sl_tap_opts o = {.every = 1};
  sl_tap *t;
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t), 0);
  sl__tap_records(&f.p, &other, f.recs, 3);
  ASSERT_STR_EQ(take(t, NULL), "");
  sl__tap_detach(t);
  teardown(&f);
}

TEST(fields_where_and_limit) {
  fixture f;
  setup(&f, 10, 1);
  sl_tap_opts o = {.every = 1, .limit = 2, .nfields = 2, .fields = {"name", "nope"},
                   .where_field = "name", .where_value = "n7"};
  sl_tap *t;
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t), 0);
  sl__tap_records(&f.p, &f.st, f.recs, 10);
  int complete = 0;
  const char *got = take(t, &complete);
  ASSERT_EQ(count(got, "\n"), 1);
  ASSERT(strstr(got, "\"record\":{\"name\":\"n7\"}}\n"));
  ASSERT_EQ(complete, 0);
  sl__tap_records(&f.p, &f.st, f.recs, 10);     /* n7 again: the second line, the limit */
  sl__tap_records(&f.p, &f.st, f.recs, 10);     /* past the limit: nothing */
  got = take(t, &complete);
  ASSERT_EQ(count(got, "\n"), 1);
  ASSERT_EQ(complete, 1);
  sl__tap_detach(t);
  teardown(&f);
}

TEST(where_a_number) {
  fixture f;
  setup(&f, 10, 1);
  sl_tap_opts o = {.every = 1, .where_field = "id", .where_value = "4"};
  sl_tap *t;
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t), 0);
  sl__tap_records(&f.p, &f.st, f.recs, 10);
  const char *got = take(t, NULL);
  ASSERT_EQ(count(got, "\n"), 1);
  ASSERT(strstr(got, "\"record\":{\"id\":4,"));
  sl__tap_detach(t);
  teardown(&f);
}

TEST(a_full_queue_drops_and_says_so) {
  fixture f;
  setup(&f, 64, 500);                            /* lines of some 600 bytes */
  sl_tap_opts o = {.every = 1};
  sl_tap *t;
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t), 0);
  int offered = 0;
  for (int i = 0; i < 20; i++) {                 /* 1280 lines, far over 256 KiB */
    sl__tap_records(&f.p, &f.st, f.recs, 64);
    offered += 64;
  }
  const char *got = take(t, NULL);
  int lines = count(got, "{\"stage\"");
  const char *notice = strstr(got, "{\"dropped\":");
  ASSERT(notice != NULL);
  ASSERT(strlen(got) < SL_TAP_QUEUE + 64);
  ASSERT_EQ(lines + atoi(notice + 11), offered);
  /* Room again: nothing lost since, no notice. */
  sl__tap_records(&f.p, &f.st, f.recs, 1);
  got = take(t, NULL);
  ASSERT_EQ(count(got, "{\"stage\""), 1);
  ASSERT(!strstr(got, "dropped"));
  sl__tap_detach(t);
  teardown(&f);
}

TEST(at_most_four) {
  fixture f;
  setup(&f, 1, 1);
  sl_tap_opts o = {.every = 1};
  sl_tap *t[SL_TAP_MAX + 1];
  for (int i = 0; i < SL_TAP_MAX; i++) ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t[i]), 0);
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t[SL_TAP_MAX]), SL_EAGAIN);
  ASSERT_EQ(atomic_load(&f.st.taps), SL_TAP_MAX);
  for (int i = 0; i < SL_TAP_MAX; i++) sl__tap_detach(t[i]);
  ASSERT_EQ(atomic_load(&f.st.taps), 0);
  teardown(&f);
}

TEST(env_values_are_redacted) {
  fixture f;
  setup(&f, 1, 1);
  sl__secret_add("TAP_UNIT_SECRET", "n0");   /* too short to hide: stays */
  sl__secret_add("TAP_UNIT_PATH", "in.jsonl");
  sl_tap_opts o = {.every = 1};
  sl_tap *t;
  ASSERT_EQ(sl__tap_attach(&f.p, &f.st, &o, wake, &f, &t), 0);
  sl__tap_records(&f.p, &f.st, f.recs, 1);
  const char *got = take(t, NULL);
  ASSERT(strstr(got, "\"origin\":\"<from env TAP_UNIT_PATH>\""));
  sl__tap_detach(t);
  teardown(&f);
}

RUN_TESTS(nothing_attached_costs_a_load, one_in_every_n_across_calls, another_stage_is_not_seen,
          fields_where_and_limit, where_a_number, a_full_queue_drops_and_says_so, at_most_four,
          env_values_are_redacted)
