/* Event-time windows of the quality step: an hour, a day or a calendar
 * month, aligned in the catalog's zone (a fixed UTC offset). */
#ifndef SLUICE_QUALITY_WINDOW_H
#define SLUICE_QUALITY_WINDOW_H

#include <stddef.h>
#include <stdint.h>

typedef enum qw_period { QW_HOUR = 0, QW_DAY, QW_MONTH, QW_NPERIODS } qw_period;

extern const char *const qw_period_names[QW_NPERIODS];

/* The period named s ("hour", "day", "month"), or -1. */
int qw_period_of(const char *s);
/* The start (Unix ms) of the window of period p that holds t, in the zone
 * off_s seconds east of UTC. */
int64_t qw_start(qw_period p, int64_t t_ms, int32_t off_s);
/* The start of the window after the one that starts at start_ms. */
int64_t qw_next(qw_period p, int64_t start_ms, int32_t off_s);
/* The window's name in its zone: "2026-11", "2026-11-05", "2026-11-05T08". */
void qw_label(qw_period p, int64_t start_ms, int32_t off_s, char *out, size_t cap);

#endif
