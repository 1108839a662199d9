/* Text: any bytes, any flags.  Repaired output is valid UTF-8, and the
 * clean text is a fixed point: cleaning it again changes nothing.  The
 * name keys and masks run on it too. */
#include "fuzz_clean.h"

static sl_text_scratch sc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned flags = data[0] & 0x1F;
  const char *s = (const char *)data + 1;
  size -= 1;
  const char *out;
  size_t len;
  sl_clean_why why = {{0}};
  int rc = sl_text_clean(flags, s, size, &sc, &out, &len, NULL, &why);
  if (rc < 0) {
    CHECK(!(flags & SL_TEXT_REPAIR));
    CHECK_WHY(why);
    return 0;
  }
  char *copy = malloc(len + 1);
  CHECK(copy);
  memcpy(copy, out, len);
  const char *out2;
  size_t len2;
  CHECK(sl_text_clean(flags, copy, len, &sc, &out2, &len2, NULL, &why) == 0);
  CHECK(len2 == len && !memcmp(out2, copy, len));
  sl_buf b = SL_BUF_INIT;
  sl_pinyin_key(copy, len, &b);
  b.len = 0;
  sl_bigram_key(copy, len, &b);
  b.len = 0;
  sl_mask(copy, len, 3, 4, "*", &b);
  sl_buf_free(&b);
  free(copy);
  return 0;
}
