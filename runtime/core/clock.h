/* Clocks and time formatting (runtime-internal). */
#ifndef SLUICE_CORE_CLOCK_H
#define SLUICE_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, Unix milliseconds. */
int64_t sl_now_ms(void);
/* Monotonic clock, milliseconds; only differences mean anything. */
int64_t sl_mono_ms(void);
/* RFC 3339 UTC with milliseconds: "2026-11-27T14:00:00.123Z" (24 bytes + NUL). */
void sl_format_time_ms(char *out, size_t n, int64_t unix_ms);

/* "250ms", "5s", "2m", "1h", or a bare number of milliseconds → ms.
 * -1 when malformed. */
int64_t sl_parse_duration_ms(const char *s);
/* "512", "64KiB", "16MiB", "1GiB", "10MB" → bytes; -1 when malformed. */
int64_t sl_parse_size(const char *s);

#endif
