/* What every fuzzer shares: a check that aborts, so that libFuzzer stops and
 * keeps the input that caused it. */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                          \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      abort();                                                            \
    }                                                                     \
  } while (0)

#endif
