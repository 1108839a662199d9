/* A feed's declared update schedule: when its deliveries are due.
 *
 * Written as people write them in a catalog, or as cron:
 *
 *   daily by 02:00            every day at 02:00
 *   hourly by :30             every hour at half past
 *   every 15 min, every 2 h   fixed intervals, aligned to midnight when they
 *                             divide a day, else to the Unix epoch
 *   weekly on mon by 09:00    one weekday
 *   workdays by 18:00         Monday to Friday
 *   monthly on 1 by 06:00     one day of the month (a month without it: its last day)
 *   0 2 * * *                 a 5-field cron: minute hour day-of-month month day-of-week
 *                             (*, lists, ranges, steps; day of week 0-7, 0 and 7 Sunday;
 *                             restricted day fields: either matches, as cron does)
 *
 * Words are case-insensitive.  Times are wall-clock times of a zone with a
 * fixed UTC offset (the catalog's).  A deadline is an instant (Unix ms). */
#ifndef SLUICE_QUALITY_SCHEDULE_H
#define SLUICE_QUALITY_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_schedule {
  int32_t offset_s;          /* the zone, seconds east of UTC */
  int64_t interval_ms;       /* "every": the interval; 0 otherwise */
  int64_t align_ms;          /* "every": deadlines are align + k * interval (UTC ms) */
  /* Otherwise a set of minutes, hours, days of the month, months and days
   * of the week, as cron's; last_day: "monthly on 31" takes a shorter
   * month's last day. */
  uint64_t minutes;          /* bit m: minute m (0-59) */
  uint32_t hours;            /* bit h (0-23) */
  uint32_t mdays;            /* bit d (1-31) */
  uint16_t months;           /* bit m (1-12) */
  uint8_t wdays;             /* bit w (0 Sunday - 6) */
  uint8_t mday_any, wday_any;   /* the field was * */
  uint8_t last_day;          /* the day of the month, when it is past a month's end: its last day */
} sl_schedule;

/* 0, or -1 with a one-line reason in err (room errcap). */
int sl_schedule_parse(const char *text, int32_t utc_offset_s, sl_schedule *out, char *err, size_t errcap);
/* The first deadline strictly after t_ms; INT64_MAX when there is none
 * within five years (a schedule of February 30th). */
int64_t sl_schedule_next(const sl_schedule *s, int64_t t_ms);
/* The last deadline at or before t_ms; INT64_MIN when none within five years. */
int64_t sl_schedule_prev(const sl_schedule *s, int64_t t_ms);

#endif
