/* A fixed wall clock (runtime-internal), for `sluice test`: a case that
 * says `now` sees that time from sl_now_ms (arrival times, dead-letter
 * envelopes, sl.now_ms, the windows of sl.quality), so its expected
 * output does not depend on the day it runs.  The monotonic clock is left
 * alone: timeouts still work. */
#ifndef SLUICE_CORE_CLOCK_FIX_H
#define SLUICE_CORE_CLOCK_FIX_H

#include <stdint.h>

/* From now on sl_now_ms returns unix_ms; INT64_MIN gives the real clock back. */
void sl__clock_fix(int64_t unix_ms);

#endif
