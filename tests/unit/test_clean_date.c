/* Dates and times to ISO 8601, in Asia/Shanghai unless said otherwise;
 * every output parses back to itself. */
#include "clean.h"
#include "test.h"

static const struct {
  const char *in;
  sl_date_input input;
  sl_date_output output;
  const char *tz;
  const char *out_or_why;
  int ok;
} cases[] = {
    {"2020-01-02", 0, 0, NULL, "2020-01-02", 1},
    {"2020/1/2", 0, 0, NULL, "2020-01-02", 1},
    {"2020.01.02", 0, 0, NULL, "2020-01-02", 1},
    {"20200102", 0, 0, NULL, "2020-01-02", 1},
    {"2020年1月2日", 0, 0, NULL, "2020-01-02", 1},
    {"2020年01月02号", 0, 0, NULL, "2020-01-02", 1},
    {"２０２０年１月２日", 0, 0, NULL, "2020-01-02", 1},
    {"二〇二〇年一月二日", 0, 0, NULL, "2020-01-02", 1},
    {"二〇二〇年十二月三十一日", 0, 0, NULL, "2020-12-31", 1},
    {"一九九九年十月二十日", 0, 0, NULL, "1999-10-20", 1},
    {"二零零八年八月八日", 0, 0, NULL, "2008-08-08", 1},
    {"2020年1月2日 15时30分", 0, 0, NULL, "2020-01-02T15:30:00+08:00", 1},
    {"2020年1月2日15:30:05", 0, 0, NULL, "2020-01-02T15:30:05+08:00", 1},
    {"2020-01-02T03:04:05", 0, 0, NULL, "2020-01-02T03:04:05+08:00", 1},
    {"2020-01-02 03:04:05.5", 0, 0, NULL, "2020-01-02T03:04:05.500+08:00", 1},
    {"2020-01-02T03:04:05Z", 0, 0, NULL, "2020-01-02T11:04:05+08:00", 1},
    {"2020-01-01T20:00:00-05:00", 0, 0, NULL, "2020-01-02T09:00:00+08:00", 1},
    {"2020-01-02T03:04:05+0800", 0, 0, NULL, "2020-01-02T03:04:05+08:00", 1},
    {"2020-01-02T03:04:05Z", 0, 0, "UTC", "2020-01-02T03:04:05+00:00", 1},
    {"2020-01-02T03:04:05", 0, 0, "Europe/London", "2020-01-02T03:04:05+00:00", 1},
    {"2020-07-02T03:04:05", 0, 0, "Europe/London", "2020-07-02T03:04:05+01:00", 1},
    /* A wall time the clocks skipped moves forward by the gap (fuzzer find:
     * it came out as 02:24-05:00, which reads back as 03:24-04:00). */
    {"41343.1", SL_DATE_SERIAL, 0, "America/New_York", "2013-03-10T03:24:00-04:00", 1},
    {"2021-03-14 02:30", 0, 0, "America/New_York", "2021-03-14T03:30:00-04:00", 1},
    {"2021-11-07 01:30", 0, 0, "America/New_York", "2021-11-07T01:30:00-04:00", 1},
    /* China kept daylight saving time from 1986 to 1991. */
    {"1988-06-01 12:00", 0, 0, NULL, "1988-06-01T12:00:00+09:00", 1},
    /* Epoch seconds and milliseconds, spreadsheet serial numbers. */
    {"1577934245", 0, 0, NULL, "2020-01-02T11:04:05+08:00", 1},
    {"1577934245123", 0, 0, NULL, "2020-01-02T11:04:05.123+08:00", 1},
    {"1577934245.5", 0, 0, NULL, "2020-01-02T11:04:05.500+08:00", 1},
    {"0", SL_DATE_EPOCH, 0, NULL, "1970-01-01T08:00:00+08:00", 1},
    {"43832", 0, 0, NULL, "2020-01-02", 1},
    {"43832.5", 0, 0, NULL, "2020-01-02T12:00:00+08:00", 1},
    {"1", 0, 0, NULL, "1900-01-01", 1},
    {"59", 0, 0, NULL, "1900-02-28", 1},
    {"61", 0, 0, NULL, "1900-03-01", 1},
    {"60", 0, 0, NULL, "1900-02-29, which did not exist", 0},
    {"20200102", SL_DATE_SERIAL, 0, NULL, "out of range", 0},
    {"43832", SL_DATE_EPOCH, 0, NULL, "1970-01-01T20:10:32+08:00", 1},
    /* Output shapes. */
    {"2020-01-02T23:30:00Z", 0, SL_DATE_OUT_DATE, NULL, "2020-01-03", 1},
    {"2020-01-02", 0, SL_DATE_OUT_DATETIME, NULL, "2020-01-02T00:00:00+08:00", 1},
    /* Leap days and impossible dates. */
    {"2020-02-29", 0, 0, NULL, "2020-02-29", 1},
    {"2000-02-29", 0, 0, NULL, "2000-02-29", 1},
    {"2021-02-29", 0, 0, NULL, "impossible date 2021-02-29", 0},
    {"1900-02-29", 0, 0, NULL, "impossible date 1900-02-29", 0},
    {"2020-04-31", 0, 0, NULL, "impossible date 2020-04-31", 0},
    {"2020-13-01", 0, 0, NULL, "impossible date", 0},
    {"20210229", 0, 0, NULL, "impossible date 2021-02-29", 0},
    {"2020-01-02T24:00:00", 0, 0, NULL, "impossible time", 0},
    {"2020-01-02T12:60", 0, 0, NULL, "impossible time", 0},
    {"二〇二〇年二月三十日", 0, 0, NULL, "impossible date 2020-02-30", 0},
    {"20/1/2", 0, 0, NULL, "four-digit year", 0},
    {"2020-01", 0, 0, NULL, "not a date", 0},
    {"2020-01-02 foo", 0, 0, NULL, "unexpected character", 0},
    {"123456789", 0, 0, NULL, "not a date", 0},
    {"", 0, 0, NULL, "is empty", 0},
};

TEST(date_table) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_clean_why why = {{0}};
    sl_date_opts o = {NULL, cases[i].input, cases[i].output};
    if (cases[i].tz) {
      o.tz = sl_tz_get(cases[i].tz, &why);
      ASSERT(o.tz);
    }
    sl_date d;
    int rc = sl_date_parse(cases[i].in, strlen(cases[i].in), &o, &d, &why);
    if (!cases[i].ok) {
      if (rc == 0 || !strstr(why.msg, cases[i].out_or_why))
        TEST_FAIL_AT("%s: rc %d (%s), why \"%s\", want \"%s\"", cases[i].in, rc, rc ? "" : d.iso, why.msg,
                     cases[i].out_or_why);
      continue;
    }
    if (rc) {
      TEST_FAIL_AT("%s: rejected: %s", cases[i].in, why.msg);
      continue;
    }
    ASSERT_STR_EQ(d.iso, cases[i].out_or_why);
    /* Idempotent: the ISO text reads back as itself (a time keeps its offset). */
    sl_date_opts again = {o.tz, SL_DATE_AUTO, o.output};
    sl_date e;
    ASSERT_EQ(sl_date_parse(d.iso, strlen(d.iso), &again, &e, &why), 0);
    ASSERT_STR_EQ(e.iso, d.iso);
  }
}

TEST(civil_days) {
  ASSERT_EQ(sl_days_from_civil(1970, 1, 1), 0);
  ASSERT_EQ(sl_days_from_civil(2000, 3, 1), 11017);
  ASSERT_EQ(sl_days_from_civil(1899, 12, 30), -25569);
  for (int64_t z = -800000; z < 800000; z += 997) {
    int y, m, d;
    sl_civil_from_days(z, &y, &m, &d);
    ASSERT_EQ(sl_days_from_civil(y, m, d), z);
  }
  ASSERT_EQ(sl_days_in_month(2024, 2), 29);
  ASSERT_EQ(sl_days_in_month(2100, 2), 28);
  ASSERT_EQ(sl_days_in_month(2000, 2), 29);
}

TEST(time_zones) {
  sl_clean_why why = {{0}};
  ASSERT(sl_tz_get("Asia/Shanghai", &why) == sl_tz_get("Asia/Shanghai", &why));   /* loaded once */
  const sl_tz *sh = sl_tz_get("Asia/Shanghai", &why);
  ASSERT_EQ(sl_tz_offset_utc(sh, 1577934245), 8 * 3600);
  ASSERT_EQ(sl_tz_offset_utc(sh, 4102444800LL), 8 * 3600);   /* 2100: past the table */
  const sl_tz *fixed = sl_tz_get("-05:30", &why);
  ASSERT(fixed);
  ASSERT_EQ(sl_tz_offset_utc(fixed, 0), -(5 * 3600 + 30 * 60));
  ASSERT(!sl_tz_get("Mars/Olympus", &why));
  ASSERT(strstr(why.msg, "unknown time zone"));
  ASSERT(!sl_tz_get("../etc/passwd", &why));
  /* New York: the 2:30 that does not exist in March takes the offset before. */
  const sl_tz *ny = sl_tz_get("America/New_York", &why);
  ASSERT(ny);
  int64_t gap = sl_days_from_civil(2021, 3, 14) * 86400 + 2 * 3600 + 1800;
  ASSERT_EQ(sl_tz_offset_local(ny, gap), -5 * 3600);
}

RUN_TESTS(date_table, civil_days, time_zones)
