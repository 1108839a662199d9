/* Phone numbers: an accepted number's E.164 and display forms parse back
 * to the same number. */
#include "fuzz_clean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  sl_cn_phone p, q;
  sl_clean_why why = {{0}};
  /* The first byte chooses whether a default area code applies. */
  const char *area = size && (data[0] & 1) ? "0756" : NULL;
  if (sl_cn_phone_parse(s, size, area, &p, &why)) {
    CHECK_WHY(why);
    return 0;
  }
  CHECK(!strncmp(p.e164, "+86", 3));
  CHECK(sl_cn_phone_parse(p.e164, strlen(p.e164), NULL, &q, &why) == 0);
  CHECK(!strcmp(q.e164, p.e164) && !strcmp(q.display, p.display));
  CHECK(sl_cn_phone_parse(p.display, strlen(p.display), NULL, &q, &why) == 0);
  CHECK(!strcmp(q.e164, p.e164));
  return 0;
}
