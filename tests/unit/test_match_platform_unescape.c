/* The restore loader's COPY text decoding (platform_pg.c): every escape
 * COPY TO writes, and the ones it may, decoded in place.  The loader
 * against a server is tests/integration/test_match_platform_load.py. */
#include <string.h>

#include "platform_pg.h"
#include "test.h"

typedef struct unescape_case {
  const char *what, *in, *out;
  size_t out_len;
} unescape_case;

#define CASE(what, in, out) {what, in, out, sizeof(out) - 1}

static const unescape_case cases[] = {
    CASE("plain text is left alone", "张三 plain", "张三 plain"),
    CASE("control characters and backslash", "a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh",
         "a\tb\nc\rd\\e\bf\fg\vh"),
    /* jsonb text {"n": "a\"b\\c"} as COPY writes it: each backslash doubled. */
    CASE("JSON escapes survive", "{\"n\": \"a\\\\\"b\\\\\\\\c\"}", "{\"n\": \"a\\\"b\\\\c\"}"),
    CASE("octal and hex", "\\101\\x42\\7\\x4", "AB\a\x04"),
    CASE("other escaped characters are themselves; a last lone backslash stays", "\\.\\q\\",
         ".q\\"),
};

TEST(copy_text_escapes_decode) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char b[128];
    size_t n = strlen(cases[i].in);
    memcpy(b, cases[i].in, n + 1);
    n = sl_match_copy_unescape(b, n);
    if (n != cases[i].out_len || memcmp(b, cases[i].out, n) != 0)
      fprintf(stderr, "case: %s\n", cases[i].what);
    ASSERT_MEM_EQ(b, n, cases[i].out, cases[i].out_len);
  }
}

RUN_TESTS(copy_text_escapes_decode)
