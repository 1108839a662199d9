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
typedef enum sl_metric_kind { SL_COUNTER = 1, SL_GAUGE } sl_metric_kind;

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

#endif
