/* Dates: an accepted date is ISO 8601 that parses back to itself, in
 * each input mode and output shape. */
#include "fuzz_clean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  /* The first byte picks the input mode, the output shape and the zone. */
  static const char *const zones[] = {"Asia/Shanghai", "UTC", "America/New_York", "+05:45"};
  sl_clean_why why = {{0}};
  sl_date_opts o = {sl_tz_get(zones[data[0] >> 4 & 3], &why), (sl_date_input)(data[0] & 3),
                    (sl_date_output)(data[0] >> 2 & 3) % 3};
  CHECK(o.tz);
  sl_date d, e;
  if (sl_date_parse((const char *)data + 1, size - 1, &o, &d, &why)) {
    CHECK_WHY(why);
    return 0;
  }
  CHECK(d.year >= 1 && d.year <= 9999);
  CHECK(d.day >= 1 && d.day <= sl_days_in_month(d.year, d.month));
  sl_date_opts again = {o.tz, SL_DATE_AUTO, o.output};
  if (sl_date_parse(d.iso, strlen(d.iso), &again, &e, &why)) {
    fprintf(stderr, "output %s does not parse: %s\n", d.iso, why.msg);
    abort();
  }
  if (strcmp(e.iso, d.iso)) {
    fprintf(stderr, "output %s parses as %s\n", d.iso, e.iso);
    abort();
  }
  return 0;
}
