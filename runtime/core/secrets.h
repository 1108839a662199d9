/* Values that must not show in sluice's own messages (runtime-internal):
 * what a pipeline read with sl.env.  Such a value may be a password or a
 * DSN, and sluice cannot tell, so log lines, check errors and /status show
 * "<from env NAME>" in its place.  Safe from any thread. */
#ifndef SLUICE_CORE_SECRETS_H
#define SLUICE_CORE_SECRETS_H

#include <stddef.h>

#include "sluice/buf.h"

/* Shorter values are not hidden: they are too common in ordinary text
 * ("1", "csv") to cut out, and too short to be a credential. */
#define SL_SECRET_MIN 4

/* Remembers value as read from the environment variable name (for the
 * life of the process; the same pair twice is kept once). */
void sl__secret_add(const char *name, const char *value);
/* Appends s (n bytes) to out with every remembered value replaced.  A value
 * that begins or ends with a letter or digit is replaced only where that
 * end is not next to another letter or digit ("1000" stays in "21000").
 * Returns how many were replaced. */
int sl__secret_redact(sl_buf *out, const char *s, size_t n);

#endif
