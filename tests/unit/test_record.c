/* Records: decoding on demand, field get/set/unset, failing. */
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "test.h"
#include "record_test.h"

/* One arena for the whole run: it stays reachable, and tests only add. */
static sl_arena arena;

static sl_value int_value(int64_t i) {
  sl_value v = {.type = SL_T_INT, .u.i = i};
  return v;
}

TEST(decode_sets_state_once) {
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1}");
  ASSERT_EQ(rec.state, SL_REC_RAW);
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(rec.state, SL_REC_DECODED);
  sl_member *f = rec.fields;
  /* A second call does nothing. */
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT(rec.fields == f);
}

TEST(decode_failure_fails_record) {
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1,}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), SL_EPARSE);
  ASSERT_EQ(rec.state, SL_REC_FAILED);
  ASSERT_STR_EQ(rec.error_stage, "decode");
  ASSERT_STR_EQ(rec.error, "invalid JSON at byte 7: expected a string (object key), got '}'");
  /* No half-decoded fields are left behind. */
  ASSERT(rec.fields == NULL);
  ASSERT_EQ(rec.nfields, 0);
  /* Decoding again does not replace the reason. */
  ASSERT(sl_record_decode(&rec, &arena) < 0);
  ASSERT_STR_EQ(rec.error_stage, "decode");
}

TEST(record_without_codec) {
  sl_record rec;
  memset(&rec, 0, sizeof rec);
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(rec.state, SL_REC_DECODED);
  ASSERT(sl_record_get(&rec, "x", 1) == NULL);
}

TEST(get_returns_last_duplicate) {
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1,\"b\":2,\"a\":3,\"\":4}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  sl_value *v = sl_record_get(&rec, "a", 1);
  ASSERT_MEM_EQ(v->u.s.ptr, v->u.s.len, "3", 1);
  v = sl_record_get(&rec, "", 0);
  ASSERT_MEM_EQ(v->u.s.ptr, v->u.s.len, "4", 1);
  ASSERT(sl_record_get(&rec, "ab", 2) == NULL);
  ASSERT(sl_record_get(&rec, "A", 1) == NULL);
}

TEST(set_replaces_in_place_and_drops_duplicates) {
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1,\"b\":2,\"a\":3,\"c\":4}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  sl_value v = int_value(9);
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("a"), &v), 0);
  ASSERT_EQ(rec.state, SL_REC_CHANGED);
  ASSERT_EQ(rec.nfields, 3);
  /* The name stays where its last occurrence was. */
  ASSERT_MEM_EQ(rec.fields[0].name.ptr, rec.fields[0].name.len, "b", 1);
  ASSERT_MEM_EQ(rec.fields[1].name.ptr, rec.fields[1].name.len, "a", 1);
  ASSERT_EQ(rec.fields[1].value.type, SL_T_INT);
  ASSERT_EQ(rec.fields[1].value.u.i, 9);
  ASSERT_MEM_EQ(rec.fields[2].name.ptr, rec.fields[2].name.len, "c", 1);
}

TEST(set_appends_and_grows) {
  sl_record rec;
  rec_init_str(&rec, "{}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  char names[100][8];
  for (int i = 0; i < 100; i++) {
    int n = snprintf(names[i], sizeof names[i], "f%d", i);
    sl_value v = int_value(i);
    ASSERT_EQ(sl_record_set(&rec, &arena, (sl_str){names[i], (size_t)n}, &v), 0);
  }
  ASSERT_EQ(rec.nfields, 100);
  ASSERT(rec.capfields >= 100);
  for (int i = 0; i < 100; i++) {
    sl_value *v = sl_record_get(&rec, names[i], strlen(names[i]));
    ASSERT(v != NULL);
    ASSERT_EQ(v->u.i, i);
  }
}

TEST(set_decodes_a_raw_record_first) {
  sl_record rec;
  rec_init_str(&rec, "{\"keep\":true}");
  sl_value v = int_value(1);
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("new"), &v), 0);
  ASSERT_EQ(rec.state, SL_REC_CHANGED);
  ASSERT_EQ(rec.nfields, 2);
  ASSERT(sl_record_get(&rec, "keep", 4) != NULL);
  /* ...and reports a record that does not decode. */
  rec_init_str(&rec, "nope");
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("new"), &v), SL_EPARSE);
  ASSERT_EQ(rec.state, SL_REC_FAILED);
}

TEST(unset_removes_every_occurrence) {
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1,\"b\":2,\"a\":3}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  sl_record_unset(&rec, "zz", 2);
  ASSERT_EQ(rec.state, SL_REC_DECODED);   /* nothing removed, nothing changed */
  sl_record_unset(&rec, "a", 1);
  ASSERT_EQ(rec.state, SL_REC_CHANGED);
  ASSERT_EQ(rec.nfields, 1);
  ASSERT(sl_record_get(&rec, "a", 1) == NULL);
  ASSERT(sl_record_get(&rec, "b", 1) != NULL);
}

TEST(fail_copies_and_stays_failed) {
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1}");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  char reason[32] = "bad id";
  char stage[32] = "validate";
  sl_record_fail(&rec, &arena, stage, reason);
  reason[0] = stage[0] = 'X';
  ASSERT_EQ(rec.state, SL_REC_FAILED);
  ASSERT_STR_EQ(rec.error, "bad id");
  ASSERT_STR_EQ(rec.error_stage, "validate");
  /* A failed record stays failed when a field is set, and keeps its fields. */
  sl_value v = int_value(1);
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("b"), &v), 0);
  ASSERT_EQ(rec.state, SL_REC_FAILED);
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(rec.nfields, 2);
  sl_record_fail(&rec, &arena, NULL, NULL);
  ASSERT_STR_EQ(rec.error, "unknown error");
  ASSERT_STR_EQ(rec.error_stage, "unknown");
}

TEST(failed_in_a_step_before_decoding) {
  /* A step may fail a record it never read; the envelope still wants its
   * fields, and the reason must survive decoding. */
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1}");
  sl_record_fail(&rec, &arena, "route", "no route");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(rec.nfields, 1);
  ASSERT_EQ(rec.state, SL_REC_FAILED);
  ASSERT_STR_EQ(rec.error, "no route");
}

TEST(type_names) {
  ASSERT_STR_EQ(sl_type_name(SL_T_NULL), "null");
  ASSERT_STR_EQ(sl_type_name(SL_T_BOOL), "bool");
  ASSERT_STR_EQ(sl_type_name(SL_T_INT), "int");
  ASSERT_STR_EQ(sl_type_name(SL_T_DOUBLE), "double");
  ASSERT_STR_EQ(sl_type_name(SL_T_STRING), "string");
  ASSERT_STR_EQ(sl_type_name(SL_T_ARRAY), "array");
  ASSERT_STR_EQ(sl_type_name(SL_T_OBJECT), "object");
  ASSERT_STR_EQ(sl_type_name(SL_T_JSON), "json");
  ASSERT_STR_EQ(sl_type_name((sl_type)99), "unknown");
}

RUN_TESTS(decode_sets_state_once, decode_failure_fails_record, record_without_codec,
          get_returns_last_duplicate, set_replaces_in_place_and_drops_duplicates,
          set_appends_and_grows, set_decodes_a_raw_record_first,
          unset_removes_every_occurrence, fail_copies_and_stays_failed,
          failed_in_a_step_before_decoding, type_names)
