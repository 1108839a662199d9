/* What the cleansing fuzzers share: the library and the check that a reason
 * is one non-empty line. */
#ifndef SLUICE_FUZZ_CLEAN_H
#define SLUICE_FUZZ_CLEAN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "fuzz.h"

/* The reason is one non-empty line. */
#define CHECK_WHY(w)                                                     \
  CHECK((w).msg[0] != 0 && strchr((w).msg, '\n') == NULL)

#endif
