/* Schedules: every written form, its next and previous deadlines at and
 * around them, month ends, leap years, cron, the zone, and the errors. */
#include "schedule.h"
#include "sluice/clock.h"
#include "test.h"

#define CN (8 * 3600)

/* Unix ms of a wall-clock time in the zone off seconds east of UTC. */
static int64_t at(int y, int mo, int d, int h, int mi, int off) {
  return (sl_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 - off) * 1000LL;
}

static sl_schedule parse(const char *text, int off) {
  sl_schedule s;
  char err[200];
  if (sl_schedule_parse(text, off, &s, err, sizeof err)) fprintf(stderr, "parse '%s': %s\n", text, err);
  return s;
}

TEST(daily) {
  sl_schedule s = parse("daily by 02:00", CN);
  ASSERT_EQ(sl_schedule_next(&s, at(2026, 11, 5, 10, 0, CN)), at(2026, 11, 6, 2, 0, CN));
  ASSERT_EQ(sl_schedule_next(&s, at(2026, 11, 5, 1, 59, CN)), at(2026, 11, 5, 2, 0, CN));
  /* Strictly after: at a deadline, the next one. */
  ASSERT_EQ(sl_schedule_next(&s, at(2026, 11, 5, 2, 0, CN)), at(2026, 11, 6, 2, 0, CN));
  ASSERT_EQ(sl_schedule_next(&s, at(2026, 11, 5, 2, 0, CN) - 1), at(2026, 11, 5, 2, 0, CN));
  /* At or before: at a deadline, itself. */
  ASSERT_EQ(sl_schedule_prev(&s, at(2026, 11, 5, 2, 0, CN)), at(2026, 11, 5, 2, 0, CN));
  ASSERT_EQ(sl_schedule_prev(&s, at(2026, 11, 5, 1, 59, CN)), at(2026, 11, 4, 2, 0, CN));
  /* Across a year's end, in UTC too. */
  sl_schedule u = parse("DAILY  BY 23:30", 0);
  ASSERT_EQ(sl_schedule_next(&u, at(2026, 12, 31, 23, 31, 0)), at(2027, 1, 1, 23, 30, 0));
}

TEST(hourly_and_every) {
  sl_schedule h = parse("hourly by :30", CN);
  ASSERT_EQ(sl_schedule_next(&h, at(2026, 11, 5, 10, 30, CN)), at(2026, 11, 5, 11, 30, CN));
  ASSERT_EQ(sl_schedule_prev(&h, at(2026, 11, 5, 10, 29, CN)), at(2026, 11, 5, 9, 30, CN));
  /* 15 minutes divides a day: aligned to the zone's midnight. */
  sl_schedule q = parse("every 15 min", CN);
  ASSERT_EQ(sl_schedule_next(&q, at(2026, 11, 5, 10, 7, CN)), at(2026, 11, 5, 10, 15, CN));
  ASSERT_EQ(sl_schedule_prev(&q, at(2026, 11, 5, 10, 15, CN)), at(2026, 11, 5, 10, 15, CN));
  /* 5 hours does not divide a day in... it does not: aligned to the epoch. */
  sl_schedule f = parse("every 7 h", CN);
  ASSERT_EQ(sl_schedule_next(&f, 0), 7 * 3600000LL);
  sl_schedule two = parse("every 2 hours", CN);
  ASSERT_EQ(sl_schedule_next(&two, at(2026, 11, 5, 0, 0, CN)), at(2026, 11, 5, 2, 0, CN));
}

TEST(weekly_and_workdays) {
  /* 2026-11-05 is a Thursday. */
  sl_schedule w = parse("weekly on mon by 09:00", CN);
  ASSERT_EQ(sl_schedule_next(&w, at(2026, 11, 5, 12, 0, CN)), at(2026, 11, 9, 9, 0, CN));
  ASSERT_EQ(sl_schedule_prev(&w, at(2026, 11, 5, 12, 0, CN)), at(2026, 11, 2, 9, 0, CN));
  sl_schedule w2 = parse("weekly on Friday by 17:00", CN);
  ASSERT_EQ(sl_schedule_next(&w2, at(2026, 11, 5, 12, 0, CN)), at(2026, 11, 6, 17, 0, CN));
  sl_schedule wd = parse("workdays by 18:00", CN);
  ASSERT_EQ(sl_schedule_next(&wd, at(2026, 11, 6, 18, 0, CN)), at(2026, 11, 9, 18, 0, CN));
  ASSERT_EQ(sl_schedule_prev(&wd, at(2026, 11, 8, 12, 0, CN)), at(2026, 11, 6, 18, 0, CN));
}

TEST(monthly_and_month_ends) {
  sl_schedule m = parse("monthly on 1 by 06:00", CN);
  ASSERT_EQ(sl_schedule_next(&m, at(2026, 11, 5, 0, 0, CN)), at(2026, 12, 1, 6, 0, CN));
  ASSERT_EQ(sl_schedule_next(&m, at(2026, 12, 5, 0, 0, CN)), at(2027, 1, 1, 6, 0, CN));
  /* The 31st: a shorter month's last day. */
  sl_schedule e = parse("monthly on 31 by 12:00", CN);
  ASSERT_EQ(sl_schedule_next(&e, at(2026, 11, 5, 0, 0, CN)), at(2026, 11, 30, 12, 0, CN));
  ASSERT_EQ(sl_schedule_next(&e, at(2027, 2, 1, 0, 0, CN)), at(2027, 2, 28, 12, 0, CN));
  ASSERT_EQ(sl_schedule_next(&e, at(2028, 2, 1, 0, 0, CN)), at(2028, 2, 29, 12, 0, CN));
  ASSERT_EQ(sl_schedule_next(&e, at(2026, 12, 1, 0, 0, CN)), at(2026, 12, 31, 12, 0, CN));
  sl_schedule e30 = parse("monthly on 30 by 12:00", CN);
  ASSERT_EQ(sl_schedule_next(&e30, at(2026, 12, 30, 12, 0, CN)), at(2027, 1, 30, 12, 0, CN));
  ASSERT_EQ(sl_schedule_prev(&e30, at(2027, 3, 1, 0, 0, CN)), at(2027, 2, 28, 12, 0, CN));
}

TEST(cron) {
  sl_schedule c = parse("0 2 * * *", CN);
  ASSERT_EQ(sl_schedule_next(&c, at(2026, 11, 5, 10, 0, CN)), at(2026, 11, 6, 2, 0, CN));
  sl_schedule q = parse("*/20 9-17 * * 1-5", CN);
  ASSERT_EQ(sl_schedule_next(&q, at(2026, 11, 5, 17, 40, CN)), at(2026, 11, 6, 9, 0, CN));
  ASSERT_EQ(sl_schedule_next(&q, at(2026, 11, 6, 9, 0, CN)), at(2026, 11, 6, 9, 20, CN));
  ASSERT_EQ(sl_schedule_next(&q, at(2026, 11, 6, 17, 40, CN)), at(2026, 11, 9, 9, 0, CN));
  /* 7 is Sunday; day of the month and of the week both restricted: either. */
  sl_schedule sun = parse("30 8 * * 7", CN);
  ASSERT_EQ(sl_schedule_next(&sun, at(2026, 11, 5, 0, 0, CN)), at(2026, 11, 8, 8, 30, CN));
  sl_schedule either = parse("0 0 13 * 5", CN);
  ASSERT_EQ(sl_schedule_next(&either, at(2026, 11, 5, 0, 0, CN)), at(2026, 11, 6, 0, 0, CN));
  ASSERT_EQ(sl_schedule_next(&either, at(2026, 11, 12, 0, 0, CN)), at(2026, 11, 13, 0, 0, CN));
  sl_schedule list = parse("15,45 6 1,15 1,7 *", 0);
  ASSERT_EQ(sl_schedule_next(&list, at(2026, 11, 5, 0, 0, 0)), at(2027, 1, 1, 6, 15, 0));
  ASSERT_EQ(sl_schedule_prev(&list, at(2027, 1, 1, 6, 44, 0)), at(2027, 1, 1, 6, 15, 0));
  sl_schedule from = parse("5/20 * * * *", 0);
  ASSERT_EQ(sl_schedule_next(&from, at(2026, 11, 5, 0, 6, 0)), at(2026, 11, 5, 0, 25, 0));
  /* February 30th never comes. */
  sl_schedule never = parse("0 0 30 2 *", 0);
  ASSERT_EQ(sl_schedule_next(&never, at(2026, 1, 1, 0, 0, 0)), INT64_MAX);
  ASSERT_EQ(sl_schedule_prev(&never, at(2026, 1, 1, 0, 0, 0)), INT64_MIN);
}

TEST(invariants) {
  static const char *const forms[] = {"daily by 02:00", "hourly by :05", "every 15 min", "every 7 h",
                                      "weekly on sun by 23:59", "workdays by 08:30", "monthly on 31 by 00:00",
                                      "*/7 */5 * * *", "0 0 29 2 *"};
  for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
    sl_schedule s = parse(forms[i], CN);
    for (int64_t t = at(2027, 12, 20, 0, 0, CN); t < at(2028, 3, 10, 0, 0, CN); t += 3600000LL * 7 + 123457) {
      int64_t n = sl_schedule_next(&s, t), p = sl_schedule_prev(&s, t);
      if (!(p <= t && t < n) || sl_schedule_prev(&s, n) != n || sl_schedule_next(&s, p) <= t ||
          sl_schedule_prev(&s, n - 1) != p) {
        TEST_FAIL_AT("%s at %lld: prev %lld next %lld", forms[i], (long long)t, (long long)p, (long long)n);
        return;
      }
    }
  }
}

TEST(errors) {
  static const struct {
    const char *text, *says;
  } bad[] = {
      {"daily by 25:00", "hour must be 0-23"},
      {"daily by 02:61", "minute must be 0-59"},
      {"daily at 02:00", "expected \"by HH:MM\""},
      {"hourly by :60", "hourly by :MM"},
      {"every 0 min", "1 to 10000"},
      {"every 5 days", "unknown unit 'days'"},
      {"weekly on someday by 09:00", "day of the week"},
      {"monthly on 32 by 06:00", "1-31"},
      {"0 25 * * *", "hour field '25'"},
      {"0 2 * *", "five fields"},
      /* Numbers past int are refused, not wrapped into range. */
      {"4294967296 * * * *", "minute field '4294967296'"},
      {"1/2147483647 * * * *", "minute field '1/2147483647'"},
      {"0 0 * * -1", "day of the week field '-1'"},
      {"0 0 1- * *", "day of the month field '1-'"},
      {"0 0 * * 1/0", "day of the week field '1/0'"},
      {"whenever", "unknown schedule"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sl_schedule s;
    char err[200] = "";
    if (sl_schedule_parse(bad[i].text, CN, &s, err, sizeof err) != -1 || !strstr(err, bad[i].says)) {
      TEST_FAIL_AT("'%s': expected an error saying \"%s\", got \"%s\"", bad[i].text, bad[i].says, err);
      return;
    }
  }
}

RUN_TESTS(daily, hourly_and_every, weekly_and_workdays, monthly_and_month_ends, cron, invariants, errors)
