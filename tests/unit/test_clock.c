/* sluice/clock.h: RFC 3339 times (sl_parse_time_ms, which the Kafka
 * source's CloudEvents `time` and sl.match's `time` field read), round
 * trips through sl_format_time_ms, durations and sizes. */
#include <string.h>

#include "sluice/clock.h"
#include "test.h"

static int64_t parse(const char *s) {
  int64_t ms = -42;
  return sl_parse_time_ms(s, strlen(s), &ms) ? -1 : ms;
}

TEST(rfc3339_times) {
  ASSERT_EQ(parse("1970-01-01T00:00:00Z"), 0);
  ASSERT_EQ(parse("2026-12-01T10:00:00Z"), 1796119200000LL);
  ASSERT_EQ(parse("2026-12-01T18:00:00+08:00"), 1796119200000LL);
  ASSERT_EQ(parse("2026-12-01 10:00:00.5z"), 1796119200500LL);
  ASSERT_EQ(parse("2026-12-01T10:00:00.123456Z"), 1796119200123LL);
  ASSERT_EQ(parse("2026-12-01T05:30:00-04:30"), 1796119200000LL);
  ASSERT_EQ(parse("1969-12-31T23:59:59Z"), -1000);   /* before 1970, not the error */
  ASSERT_EQ(parse("2016-12-31T23:59:60Z"), parse("2016-12-31T23:59:59Z"));
  /* Malformed: no zone, a bad field, trailing bytes, a date alone. */
  ASSERT_EQ(parse("2026-12-01T10:00:00"), -1);
  ASSERT_EQ(parse("2026-13-01T10:00:00Z"), -1);
  ASSERT_EQ(parse("2026-02-30T10:00:00Z"), -1);
  ASSERT_EQ(parse("2026-12-01T24:00:00Z"), -1);
  ASSERT_EQ(parse("2026-12-01T10:00:00Zx"), -1);
  ASSERT_EQ(parse("2026-12-01T10:00:00.Z"), -1);
  ASSERT_EQ(parse("2026-12-01T10:00:00+0800"), -1);
  ASSERT_EQ(parse("2026-12-01"), -1);
  ASSERT_EQ(parse(""), -1);
}

TEST(format_then_parse_round_trips) {
  static const int64_t times[] = {0, 1796119200123LL, 951782400999LL, 4102444799000LL};
  for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
    char out[SL_TIME_MS_LEN];
    sl_format_time_ms(out, sizeof out, times[i]);
    ASSERT_EQ(parse(out), times[i]);
  }
}

TEST(durations_and_sizes) {
  ASSERT_EQ(sl_parse_duration_ms("250ms"), 250);
  ASSERT_EQ(sl_parse_duration_ms("2m"), 120000);
  ASSERT_EQ(sl_parse_duration_ms("-1s"), -1);
  ASSERT_EQ(sl_parse_size("16MiB"), 16 * 1024 * 1024);
  ASSERT_EQ(sl_parse_size("lots"), -1);
}

RUN_TESTS(rfc3339_times, format_then_parse_round_trips, durations_and_sizes)
