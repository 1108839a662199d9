/* Metrics (runtime-internal): the exposition and clean-up. */
#ifndef SLUICE_ENGINE_METRICS_H
#define SLUICE_ENGINE_METRICS_H

#include "engine/engine.h"

/* Appends the Prometheus text exposition of the pipeline's metrics. */
void sl__metrics_expose(sl_pipeline *p, sl_buf *b);
void sl__metrics_free(sl_pipeline *p);

#endif
