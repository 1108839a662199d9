/* sl_buf: growth, formatting, JSON strings and numbers. */
#include <math.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/errors.h"
#include "test.h"

TEST(append_grows) {
  sl_buf b = SL_BUF_INIT;
  for (int i = 0; i < 1000; i++) sl_buf_append(&b, "abc", 3);
  sl_buf_putc(&b, '!');
  sl_buf_puts(&b, "xy");
  ASSERT_EQ(b.len, 3003);
  ASSERT(b.cap >= b.len);
  ASSERT_MEM_EQ(b.ptr + 2997, 6, "abc!xy", 6);
  ASSERT_EQ(b.oom, 0);
  sl_buf_free(&b);
  ASSERT(b.ptr == NULL);
  ASSERT_EQ(b.len, 0);
}

TEST(printf_grows) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "%d-%s", 42, "x");
  ASSERT_MEM_EQ(b.ptr, b.len, "42-x", 4);
  char big[500];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = 0;
  sl_buf_printf(&b, "[%s]", big);
  ASSERT_EQ(b.len, 4 + 2 + 499);
  ASSERT_EQ(b.ptr[4], '[');
  ASSERT_EQ(b.ptr[b.len - 1], ']');
  sl_buf_free(&b);
}

TEST(reserve_failure_sets_oom) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, "ok");
  ASSERT_EQ(sl_buf_reserve(&b, SIZE_MAX), SL_ENOMEM);
  ASSERT_EQ(b.oom, 1);
  /* Later appends are no-ops, and steal refuses partial contents. */
  sl_buf_puts(&b, "more");
  ASSERT_EQ(b.len, 2);
  size_t len = 99;
  char *p = sl_buf_steal(&b, &len);
  ASSERT(p == NULL);
  ASSERT_EQ(len, 0);
  ASSERT_EQ(b.oom, 0);
}

TEST(steal_takes_ownership) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, "hello");
  size_t len = 0;
  char *p = sl_buf_steal(&b, &len);
  ASSERT_MEM_EQ(p, len, "hello", 5);
  ASSERT(b.ptr == NULL);
  ASSERT_EQ(b.len, 0);
  ASSERT_EQ(b.cap, 0);
  free(p);
}

static const struct {
  const char *in;
  size_t n;
  const char *out;
} json_strings[] = {
  {"", 0, "\"\""},
  {"plain", 5, "\"plain\""},
  {"q\"b\\s/", 6, "\"q\\\"b\\\\s/\""},
  {"\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""},
  {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""},
  {"a\0b", 3, "\"a\\u0000b\""},
  /* Valid multi-byte UTF-8 passes through. */
  {"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80", 9, "\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\""},
  /* Each byte of invalid UTF-8 becomes \u00XX. */
  {"\xff", 1, "\"\\u00ff\""},
  {"a\xC3(", 3, "\"a\\u00c3(\""},
  {"\xC0\xAF", 2, "\"\\u00c0\\u00af\""},                 /* overlong */
  {"\xED\xA0\x80", 3, "\"\\u00ed\\u00a0\\u0080\""},      /* a surrogate */
  {"\xF4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\""},  /* above U+10FFFF */
  {"\xE4\xB8", 2, "\"\\u00e4\\u00b8\""},                 /* cut short */
  {"\x80x", 2, "\"\\u0080x\""},                          /* stray continuation */
};

TEST(json_string_escapes) {
  for (size_t i = 0; i < sizeof json_strings / sizeof json_strings[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_buf_json_string(&b, json_strings[i].in, json_strings[i].n);
    ASSERT_MEM_EQ(b.ptr, b.len, json_strings[i].out, strlen(json_strings[i].out));
    sl_buf_free(&b);
  }
}

static const struct {
  double d;
  const char *out;
} doubles[] = {
  {0.1, "0.1"},
  {3.0, "3"},
  {-2.5, "-2.5"},
  {1e20, "1e+20"},
  {1e-7, "1e-07"},
  {0.30000000000000004, "0.30000000000000004"},
  {1.0 / 3, "0.3333333333333333"},
  {5e-324, "4.94065645841247e-324"},
  {1.7976931348623157e308, "1.7976931348623157e+308"},
  {-0.0, "-0"},
  {123456789012345680.0, "1.2345678901234568e+17"},
  /* Short decimals take a fast path that must print what printf would. */
  {87.5, "87.5"},
  {-0.3, "-0.3"},
  {0.0001, "0.0001"},
  {0.00012, "0.00012"},
  {12.3456789, "12.3456789"},
  {123456789012345.0, "123456789012345"},
  {1e15, "1e+15"},
  {0.5e-4, "5e-05"},
};

TEST(json_double_shortest_round_trip) {
  for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_buf_json_double(&b, doubles[i].d);
    ASSERT_MEM_EQ(b.ptr, b.len, doubles[i].out, strlen(doubles[i].out));
    sl_buf_putc(&b, 0);
    ASSERT_DBL_EQ(strtod(b.ptr, NULL), doubles[i].d);
    sl_buf_free(&b);
  }
}

TEST(json_double_not_finite_is_null) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_json_double(&b, NAN);
  sl_buf_json_double(&b, INFINITY);
  sl_buf_json_double(&b, -INFINITY);
  ASSERT_MEM_EQ(b.ptr, b.len, "nullnullnull", 12);
  sl_buf_free(&b);
}

TEST(int64_limits) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_int64(&b, INT64_MIN);
  sl_buf_putc(&b, ' ');
  sl_buf_int64(&b, INT64_MAX);
  sl_buf_putc(&b, ' ');
  sl_buf_int64(&b, 0);
  sl_buf_putc(&b, ' ');
  sl_buf_int64(&b, -7);
  const char *want = "-9223372036854775808 9223372036854775807 0 -7";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  sl_buf_free(&b);
}

RUN_TESTS(append_grows, printf_grows, reserve_failure_sets_oom, steal_takes_ownership,
          json_string_escapes, json_double_shortest_round_trip,
          json_double_not_finite_is_null, int64_limits)
