/* Addresses and division codes: the normalised address normalises to
 * itself, and the rest of the input is kept as it was. */
#include "fuzz_clean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  sl_address a, b;
  sl_buf out = SL_BUF_INIT, again = SL_BUF_INIT;
  sl_clean_why why = {{0}};
  if (sl_address_normalize(s, size, &a, &out, &why) == 0) {
    CHECK(a.found >= 1 && a.found <= 3);
    CHECK(a.rest <= size);
    CHECK(out.len >= size - a.rest && !memcmp(out.ptr + out.len - (size - a.rest), s + a.rest, size - a.rest));
    CHECK(sl_address_normalize(out.ptr, out.len, &b, &again, &why) == 0);
    CHECK(again.len == out.len && !memcmp(again.ptr, out.ptr, out.len));
  } else {
    CHECK_WHY(why);
  }
  sl_division d;
  if (sl_division_find(s, size, &d, &why) == 0) {
    out.len = 0;
    sl_division_full_name(&d, &out);
    CHECK(out.len > 0);
  }
  sl_buf_free(&out);
  sl_buf_free(&again);
  return 0;
}
