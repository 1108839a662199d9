/* Resident ID numbers: never crash; an accepted number is 18 characters
 * with a right check character, and parses back to itself. */
#include "fuzz_clean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  sl_cn_id id;
  sl_clean_why why = {{0}};
  int32_t today = (int32_t)sl_days_from_civil(2024, 6, 1);
  if (sl_cn_id_parse(s, size, today, &id, &why)) {
    CHECK_WHY(why);
    return 0;
  }
  CHECK(strlen(id.id) == 18);
  CHECK(sl_cn_id_check(id.id) == id.id[17]);
  CHECK(id.sex == 'M' || id.sex == 'F');
  sl_cn_id again;
  CHECK(sl_cn_id_parse(id.id, 18, today, &again, &why) == 0);
  CHECK(!strcmp(again.id, id.id) && !strcmp(again.birth, id.birth) &&
        !strcmp(again.division, id.division) && again.sex == id.sex && !again.upgraded);
  return 0;
}
