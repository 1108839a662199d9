/* The admin HTTP endpoint of a pipeline (runtime-internal). */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include "engine/engine.h"

/* Serves p->admin_listen on p's loop.  0, or SL_EIO (logged). */
int sl__admin_start(sl_pipeline *p);
void sl__admin_stop(sl_pipeline *p);

#endif
