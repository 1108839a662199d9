/* What the cleansing primitives share: reasons and UTF-8 stepping. */
#include <stdarg.h>
#include <stdio.h>

#include "clean.h"
#include "sluice/text.h"

int sl__why(sl_clean_why *why, int err, const char *fmt, ...) {
  if (why) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof why->msg, fmt, ap);
    va_end(ap);
  }
  return err;
}

void sl__utf8_put(sl_buf *b, uint32_t cp) {
  char t[4];
  size_t k;
  if (cp < 0x80) {
    t[0] = (char)cp;
    k = 1;
  } else if (cp < 0x800) {
    t[0] = (char)(0xC0 | (cp >> 6));
    t[1] = (char)(0x80 | (cp & 0x3F));
    k = 2;
  } else if (cp < 0x10000) {
    t[0] = (char)(0xE0 | (cp >> 12));
    t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[2] = (char)(0x80 | (cp & 0x3F));
    k = 3;
  } else {
    t[0] = (char)(0xF0 | (cp >> 18));
    t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    t[3] = (char)(0x80 | (cp & 0x3F));
    k = 4;
  }
  sl_buf_append(b, t, k);
}
