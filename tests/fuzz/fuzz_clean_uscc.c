/* Unified social credit codes and organisation codes: an accepted code
 * parses back to itself, and its embedded organisation code is valid. */
#include "fuzz_clean.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  sl_uscc u;
  sl_clean_why why = {{0}};
  if (sl_uscc_parse(s, size, &u, &why) == 0) {
    CHECK(strlen(u.code) == 18);
    CHECK(sl_uscc_check(u.code) == u.code[17]);
    char org[10];
    CHECK(sl_org_code_parse(u.org_code, 9, org, &why) == 0);
    sl_uscc again;
    CHECK(sl_uscc_parse(u.code, 18, &again, &why) == 0);
    CHECK(!strcmp(again.code, u.code));
  } else {
    CHECK_WHY(why);
  }
  char org[10];
  memset(&why, 0, sizeof why);
  if (sl_org_code_parse(s, size, org, &why) == 0) {
    char again[10];
    CHECK(sl_org_code_parse(org, 9, again, &why) == 0);
    CHECK(!strcmp(again, org));
  } else {
    CHECK_WHY(why);
  }
  return 0;
}
