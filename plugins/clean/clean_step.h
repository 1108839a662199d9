/* The clean step: what other parts of sluice use of it. */
#ifndef SLUICE_CLEAN_STEP_H
#define SLUICE_CLEAN_STEP_H

#include <stdint.h>

#include "sluice/plugin.h"

extern const sl_plugin clean_plugin;

/* One counter line: how often a rule (or the field as a whole, rule "*")
 * gave each outcome, for records of one department and feed ("" when the
 * source does not say). */
typedef struct sl_clean_count {
  sl_str department, feed;
  const char *field;
  const char *rule;
  uint64_t n[4];          /* indexed by sl_outcome */
} sl_clean_count;

/* Calls cb for every (department, feed, field, rule) the stage has counted,
 * merging the workers' counters (each worker counts on its own, without
 * locks; this reads them as they are).  Loop thread; st must be a clean
 * step.  The per-feed validity metrics read them. */
void sl_clean_stats(sl_stage *st, void (*cb)(void *ud, const sl_clean_count *c), void *ud);

#endif
