/* The dead-letter envelope: one JSON line per failed record. */
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "test.h"
#include "record_test.h"

/* One arena for the whole run: it stays reachable, and tests only add. */
static sl_arena arena;

/* The envelope is one line of valid JSON: check that before comparing. */
static int one_json_line(const sl_buf *b) {
  if (b->len == 0 || b->ptr[b->len - 1] != '\n') return 0;
  if (memchr(b->ptr, '\n', b->len - 1)) return 0;
  sl_value v;
  const char *why;
  return sl_json_parse(b->ptr, b->len - 1, &arena, &v, &why) == 0 && v.type == SL_T_OBJECT;
}

TEST(decode_failure_from_a_file) {
  sl_record rec;
  const char *raw = "{\"id\":1,}";
  rec_init(&rec, raw, strlen(raw));
  rec.meta.origin = SL_STR_LIT("/data/in.jsonl");
  rec.meta.offset = 120;
  rec.meta.line = 7;
  ASSERT_EQ(sl_record_decode(&rec, &arena), SL_EPARSE);
  sl_buf b = SL_BUF_INIT;
  sl_envelope_encode(&b, &rec, "people", 1795788000123);
  const char *want =
      "{\"time\":\"2026-11-27T14:00:00.123Z\",\"pipeline\":\"people\",\"stage\":\"decode\","
      "\"error\":\"invalid JSON at byte 8: expected a string (object key), got '}'\","
      "\"source\":{\"origin\":\"/data/in.jsonl\",\"offset\":120,\"line\":7},"
      "\"raw\":\"{\\\"id\\\":1,}\"}\n";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  ASSERT(one_json_line(&b));
  sl_buf_free(&b);
}

TEST(step_failure_from_kafka) {
  sl_record rec;
  const char *raw = "{\n \"name\": \"\xE5\xBC\xA0\",\"n\":1}";
  rec_init(&rec, raw, strlen(raw));
  rec.meta.origin = SL_STR_LIT("hr.people");
  rec.meta.partition = 3;
  rec.meta.offset = 0;
  rec.meta.key = SL_STR_LIT("k-1");
  rec.meta.department = SL_STR_LIT("hr");
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  sl_value v = {.type = SL_T_STRING, .u.s = SL_STR_LIT("bad\n")};
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("n"), &v), 0);
  sl_record_fail(&rec, &arena, "validate", "n: \"bad\"");
  sl_buf b = SL_BUF_INIT;
  sl_envelope_encode(&b, &rec, "p", 0);
  const char *want =
      "{\"time\":\"1970-01-01T00:00:00.000Z\",\"pipeline\":\"p\",\"stage\":\"validate\","
      "\"error\":\"n: \\\"bad\\\"\","
      "\"source\":{\"origin\":\"hr.people\",\"partition\":3,\"offset\":0,\"key\":\"k-1\","
      "\"department\":\"hr\"},"
      "\"record\":{\"name\":\"\xE5\xBC\xA0\",\"n\":\"bad\\n\"},"
      "\"raw\":\"{\\n \\\"name\\\": \\\"\xE5\xBC\xA0\\\",\\\"n\\\":1}\"}\n";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  ASSERT(one_json_line(&b));
  sl_buf_free(&b);
}

TEST(binary_raw_and_key_go_base64) {
  sl_record rec;
  rec_init(&rec, "\xff\xfe" "ab", 4);
  rec.meta.key = (sl_str){"\xff", 1};
  ASSERT_EQ(sl_record_decode(&rec, &arena), SL_EPARSE);
  sl_buf b = SL_BUF_INIT;
  sl_envelope_encode(&b, &rec, NULL, -1);
  /* Before 1970 the milliseconds still count forward. */
  const char *want =
      "{\"time\":\"1969-12-31T23:59:59.999Z\",\"pipeline\":null,\"stage\":\"decode\","
      "\"error\":\"invalid JSON at byte 0: expected a value, got byte 0xff\","
      "\"source\":{\"key_base64\":\"/w==\"},\"raw_base64\":\"//5hYg==\"}\n";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  ASSERT(one_json_line(&b));
  sl_buf_free(&b);
}

TEST(base64_padding) {
  static const struct {
    const char *in, *out;
  } cases[] = {
    {"\xff", "/w=="},
    {"\xff\xfe", "//4="},
    {"\xff\xfe\xfd", "//79"},
    {"\xff\xfe\xfd\xfc", "//79/A=="},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_record rec;
    rec_init(&rec, cases[i].in, strlen(cases[i].in));
    rec.codec = NULL;
    sl_buf b = SL_BUF_INIT;
    sl_envelope_encode(&b, &rec, "p", 0);
    char want[64];
    snprintf(want, sizeof want, "\"raw_base64\":\"%s\"}\n", cases[i].out);
    ASSERT(b.len > strlen(want));
    ASSERT_MEM_EQ(b.ptr + b.len - strlen(want), strlen(want), want, strlen(want));
    sl_buf_free(&b);
  }
}

TEST(record_built_in_code) {
  /* No raw bytes and no source: the envelope still is valid JSON. */
  sl_record rec;
  rec_init_with(&rec, NULL, NULL, 0);
  sl_value v = {.type = SL_T_INT, .u.i = 5};
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("x"), &v), 0);
  sl_record_fail(&rec, &arena, "lua", "boom");
  sl_buf b = SL_BUF_INIT;
  sl_envelope_encode(&b, &rec, "p", 1000);
  const char *want =
      "{\"time\":\"1970-01-01T00:00:01.000Z\",\"pipeline\":\"p\",\"stage\":\"lua\","
      "\"error\":\"boom\",\"source\":{},\"record\":{\"x\":5}}\n";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  ASSERT(one_json_line(&b));
  sl_buf_free(&b);
}

RUN_TESTS(decode_failure_from_a_file, step_failure_from_kafka, binary_raw_and_key_go_base64,
          base64_padding, record_built_in_code)
