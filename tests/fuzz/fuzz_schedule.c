/* Fuzzes the schedule parser (plugins/quality/lib/schedule.c): any text
 * parses or is refused with a reason; a schedule that parses keeps
 * prev(t) <= t < next(t), and its deadlines are fixed points of prev
 * (prev(next(t)) == next(t), next(prev(t) - 1) == prev(t)), and nothing lies
 * between prev and next, at instants the input's first bytes pick. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char text[200];
  if (size < 9) return 0;
  int64_t t;
  memcpy(&t, data, 8);
  t %= (int64_t)4e12;   /* within +-126 years of 1970 */
  int32_t off = (int32_t)(data[8] % 29) * 1800 - 14 * 3600;
  size_t n = size - 9 < sizeof text - 1 ? size - 9 : sizeof text - 1;
  memcpy(text, data + 9, n);
  text[n] = 0;
  sl_schedule s;
  char err[160] = "";
  if (sl_schedule_parse(text, off, &s, err, sizeof err)) {
    CHECK(err[0] != 0);
    return 0;
  }
  int64_t nx = sl_schedule_next(&s, t), pv = sl_schedule_prev(&s, t);
  CHECK(nx > t);
  CHECK(pv <= t);
  if (nx != INT64_MAX) CHECK(sl_schedule_prev(&s, nx) == nx);
  if (pv != INT64_MIN) CHECK(sl_schedule_next(&s, pv) > t || sl_schedule_next(&s, pv) == nx);
  /* No deadline between prev and next: each is found again from just
   * before / just after the other (within the five years searched). */
  if (pv != INT64_MIN) CHECK(sl_schedule_next(&s, pv - 1) == pv);
  if (pv != INT64_MIN && nx != INT64_MAX && nx - pv < (int64_t)4 * 365 * 86400000) {
    CHECK(sl_schedule_prev(&s, nx - 1) == pv);
    CHECK(sl_schedule_next(&s, pv) == nx);
  }
  return 0;
}
