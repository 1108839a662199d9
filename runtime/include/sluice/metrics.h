/* Metrics of a stage, exported on the admin endpoint's /metrics as
 * sluice_<name>{pipeline="...",stage="..."[,label="value"...]}.
 *
 * Two ways: a family the runtime keeps (sl_stage_metric, then add or set;
 * safe from any thread, each update takes a lock, so update per batch, not
 * per record), or counters the plugin keeps itself, say per worker without
 * locks, and reports from its collect callback when /metrics is read. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdint.h>

#include "sluice/stage.h"

typedef struct sl_metric sl_metric;
typedef struct sl_collector sl_collector;
typedef enum sl_metric_kind { SL_COUNTER = 1, SL_GAUGE, SL_HISTOGRAM } sl_metric_kind;

/* labels is NULL or a NULL-terminated list of label names; each update
 * gives values for them in the same order (NULL when there are none). */
sl_metric *sl_stage_metric(sl_stage *st, sl_metric_kind kind, const char *name,
                           const char *help, const char *const *labels);
void sl_metric_add(sl_metric *m, const char *const *values, int64_t delta);
void sl_metric_set(sl_metric *m, const char *const *values, int64_t value);

/* In a plugin's collect callback: one sample of a family (series with the
 * same labels add up). */
void sl_collect(sl_collector *c, sl_metric_kind kind, const char *name, const char *help,
                const char *const *labels, const char *const *values, int64_t value);
/* The same with a value that is not whole (a ratio, seconds). */
void sl_collect_double(sl_collector *c, sl_metric_kind kind, const char *name, const char *help,
                       const char *const *labels, const char *const *values, double value);
/* One series of a histogram family: nb buckets with upper bounds le[]
 * (ascending; +Inf comes last by itself) and their counts, not cumulative
 * (counts[nb] is the +Inf bucket's), and the sum of the observations.
 * Exposed as <name>_bucket{le=...} (cumulative), <name>_sum, <name>_count. */
void sl_collect_histogram(sl_collector *c, const char *name, const char *help,
                          const char *const *labels, const char *const *values, const double *le,
                          const int64_t *counts, int nb, double sum);

#endif
