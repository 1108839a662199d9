/* The restore loader's COPY text decoding (platform_pg.c): every escape
 * COPY TO writes, and the ones it may, decoded in place.  The loader
 * against a server is tests/integration/test_match_platform_load.py. */
#include <string.h>

#include "platform_pg.h"
#include "test.h"

static size_t dec(char *buf, const char *in) {
  size_t n = strlen(in);
  memcpy(buf, in, n + 1);
  return sl_match_copy_unescape(buf, n);
}

TEST(plain_text_is_left_alone) {
  char b[64];
  size_t n = dec(b, "张三 plain");
  ASSERT_MEM_EQ(b, n, "张三 plain", strlen("张三 plain"));
}

TEST(control_characters_and_backslash) {
  char b[64];
  size_t n = dec(b, "a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh");
  ASSERT_MEM_EQ(b, n, "a\tb\nc\rd\\e\bf\fg\vh", 15);
}

TEST(json_escapes_survive) {
  /* jsonb text {"n": "a\"b\\c"} as COPY writes it: each backslash doubled. */
  char b[64];
  size_t n = dec(b, "{\"n\": \"a\\\\\"b\\\\\\\\c\"}");
  const char *want = "{\"n\": \"a\\\"b\\\\c\"}";
  ASSERT_MEM_EQ(b, n, want, strlen(want));
}

TEST(octal_and_hex) {
  char b[64];
  size_t n = dec(b, "\\101\\x42\\7\\x4");
  ASSERT_MEM_EQ(b, n, "AB\a\x04", 4);
}

TEST(other_escaped_characters_are_themselves) {
  char b[64];
  size_t n = dec(b, "\\.\\q\\");
  ASSERT_MEM_EQ(b, n, ".q\\", 3);
}

RUN_TESTS(plain_text_is_left_alone, control_characters_and_backslash, json_escapes_survive,
          octal_and_hex, other_escaped_characters_are_themselves)
