/* Values read with sl.env are cut out of sluice's messages: whole values
 * only, longest first, named when the name is plain. */
#include "core/secrets.h"
#include "test.h"

static char *redact(const char *s) {
  static char out[512];
  sl_buf b = SL_BUF_INIT;
  sl__secret_redact(&b, s, strlen(s));
  snprintf(out, sizeof out, "%.*s", (int)b.len, b.ptr ? b.ptr : "");
  sl_buf_free(&b);
  return out;
}

TEST(nothing_registered_copies) {
  ASSERT_STR_EQ(redact("got \"Canary-0042\""), "got \"Canary-0042\"");
}

TEST(value_shows_as_its_name) {
  sl__secret_add("CANARY", "Canary-0042");
  ASSERT_STR_EQ(redact("got \"Canary-0042\", twice: Canary-0042"),
                "got \"<from env CANARY>\", twice: <from env CANARY>");
  sl__secret_add("CANARY", "Canary-0042");  /* kept once */
  ASSERT_STR_EQ(redact("Canary-0042"), "<from env CANARY>");
}

TEST(short_values_stay) {
  sl__secret_add("WHO", "A");
  sl__secret_add("FMT", "csv");
  ASSERT_STR_EQ(redact("A csv file"), "A csv file");
}

TEST(only_whole_words) {
  sl__secret_add("BATCH", "1000");
  ASSERT_STR_EQ(redact("read 21000 records, then 1000"), "read 21000 records, then <from env BATCH>");
  /* A value that starts or ends with punctuation has no word edge there. */
  sl__secret_add("SEP", "::x9");
  ASSERT_STR_EQ(redact("a::x9"), "a<from env SEP>");
}

TEST(longest_first) {
  sl__secret_add("PW", "hunter22");
  sl__secret_add("DSN", "postgresql://u:hunter22@db/x");
  ASSERT_STR_EQ(redact("cannot connect: postgresql://u:hunter22@db/x (hunter22)"),
                "cannot connect: <from env DSN> (<from env PW>)");
}

TEST(odd_names_show_as_stars) {
  sl__secret_add("a\"b", "quoted-secret");
  ASSERT_STR_EQ(redact("x quoted-secret y"), "x *** y");
}

RUN_TESTS(nothing_registered_copies, value_shows_as_its_name, short_values_stay, only_whole_words,
          longest_first, odd_names_show_as_stars)
