/* A small test harness: TEST(name) defines a test, main() runs the list given
 * by RUN_TESTS(...).  Every assertion prints both operands when it fails. */
#ifndef SLUICE_TEST_H
#define SLUICE_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static const char *test_current;

#define TEST(name) static void name(void)

#define TEST_FAIL_AT(...)                                              \
  do {                                                                 \
    fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, test_current);  \
    fprintf(stderr, __VA_ARGS__);                                      \
    fputc('\n', stderr);                                               \
    test_failures++;                                                   \
  } while (0)

#define ASSERT(cond)                                                   \
  do {                                                                 \
    if (!(cond)) { TEST_FAIL_AT("assertion failed: %s", #cond); return; } \
  } while (0)

#define ASSERT_EQ(a, b)                                                \
  do {                                                                 \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                      \
    if (a_ != b_) {                                                    \
      TEST_FAIL_AT("%s == %s: %" PRId64 " != %" PRId64, #a, #b, a_, b_); \
      return;                                                          \
    }                                                                  \
  } while (0)

#define ASSERT_DBL_EQ(a, b)                                            \
  do {                                                                 \
    double a_ = (a), b_ = (b);                                         \
    if (a_ != b_) {                                                    \
      TEST_FAIL_AT("%s == %s: %.17g != %.17g", #a, #b, a_, b_);        \
      return;                                                          \
    }                                                                  \
  } while (0)

/* Doubles that agree within eps. */
#define ASSERT_NEAR(a, b, eps)                                         \
  do {                                                                 \
    double a_ = (a), b_ = (b);                                         \
    if (!(fabs(a_ - b_) <= (eps))) {                                   \
      TEST_FAIL_AT("%s ~ %s: %.17g != %.17g", #a, #b, a_, b_);         \
      return;                                                          \
    }                                                                  \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                            \
  do {                                                                 \
    const char *a_ = (a), *b_ = (b);                                   \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                           \
      TEST_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b,               \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");            \
      return;                                                          \
    }                                                                  \
  } while (0)

/* Compares n bytes that need not be NUL-terminated. */
#define ASSERT_MEM_EQ(a, alen, b, blen)                                \
  do {                                                                 \
    const char *a_ = (const char *)(a), *b_ = (const char *)(b);       \
    size_t al_ = (alen), bl_ = (blen);                                 \
    if (al_ != bl_ || memcmp(a_, b_, al_) != 0) {                      \
      TEST_FAIL_AT("%s == %s: \"%.*s\" != \"%.*s\"", #a, #b,           \
                   (int)al_, a_, (int)bl_, b_);                        \
      return;                                                          \
    }                                                                  \
  } while (0)

#define RUN_TESTS(...)                                                 \
  int main(void) {                                                     \
    void (*tests_[])(void) = {__VA_ARGS__};                            \
    const char *names_ = #__VA_ARGS__;                                 \
    size_t n_ = sizeof tests_ / sizeof tests_[0];                      \
    char name_[128];                                                   \
    for (size_t i_ = 0; i_ < n_; i_++) {                               \
      size_t k_ = 0;                                                   \
      while (*names_ == ' ' || *names_ == ',') names_++;               \
      while (*names_ && *names_ != ',' && k_ + 1 < sizeof name_)       \
        name_[k_++] = *names_++;                                       \
      name_[k_] = 0;                                                   \
      test_current = name_;                                            \
      int before_ = test_failures;                                     \
      tests_[i_]();                                                    \
      printf("%s %s\n", test_failures == before_ ? "ok  " : "FAIL", name_); \
    }                                                                  \
    printf("%d failed\n", test_failures);                              \
    return test_failures ? 1 : 0;                                      \
  }

#endif
