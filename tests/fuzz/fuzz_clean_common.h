/* What the cleansing fuzzers share: an abort that keeps the input, and the
 * idempotence check every primitive must pass (its output, parsed again,
 * comes back unchanged). */
#ifndef SLUICE_FUZZ_CLEAN_COMMON_H
#define SLUICE_FUZZ_CLEAN_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"

#define CHECK(c)                                                          \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
      abort();                                                            \
    }                                                                     \
  } while (0)

/* The reason is one non-empty line. */
#define CHECK_WHY(w)                                                     \
  CHECK((w).msg[0] != 0 && strchr((w).msg, '\n') == NULL)

#endif
