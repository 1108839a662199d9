/* Clocks, timestamps and the units of durations and sizes.
 *
 * The same parsers read SL_OPT_DURATION and SL_OPT_SIZE options, so a
 * plugin that takes such a value from elsewhere (a Lua table, a broker
 * setting) reads it the way a pipeline file does. */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, Unix milliseconds: for timestamps a person or another system reads. */
int64_t sl_now_ms(void);
/* Monotonic clock, milliseconds; only differences mean anything: for
 * timeouts and back-off, which a wall clock step must not shorten. */
int64_t sl_mono_ms(void);

/* Room sl_format_time_ms needs, NUL included. */
#define SL_TIME_MS_LEN 25
/* RFC 3339 UTC with milliseconds: "2026-11-27T14:00:00.123Z" (24 bytes
 * + NUL: n should be at least SL_TIME_MS_LEN; a shorter out is cut). */
void sl_format_time_ms(char *out, size_t n, int64_t unix_ms);
/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (m
 * 1..12; negative before 1970): for turning a parsed date into Unix time. */
int64_t sl_days_from_civil(int64_t y, int m, int d);
/* Its inverse: the date of day z (days from 1970-01-01). */
void sl_civil_from_days(int64_t z, int *y, int *m, int *d);

/* RFC 3339 "2026-05-01T12:34:56.789Z" or "...+08:00" (a space for the T
 * allowed, fractions to the millisecond) → Unix ms in *ms; 0, or -1 when
 * malformed. */
int sl_parse_time_ms(const char *p, size_t n, int64_t *ms);

/* "250ms", "5s", "2m", "1h", or a bare number of milliseconds → ms.
 * -1 when malformed or negative. */
int64_t sl_parse_duration_ms(const char *s);
/* "512", "64KiB", "16MiB", "1GiB", "10MB" (and "k", "M", "G" as KiB, MiB,
 * GiB) → bytes; -1 when malformed or negative. */
int64_t sl_parse_size(const char *s);

#endif
