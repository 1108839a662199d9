/* State that survives restarts: one small file per stage in the pipeline's
 * state folder, replaced atomically.  A source keeps its checkpoint here
 * unless its sink stores it with the data (sluice/sink.h).  Loop thread. */
#ifndef SLUICE_STATE_H
#define SLUICE_STATE_H

#include <stddef.h>

#include "sluice/buf.h"
#include "sluice/stage.h"

/* The saved bytes into out; SL_ENOENT if none. */
int sl_state_load(sl_stage *st, sl_buf *out);
/* Asynchronous and coalescing: only the latest value is written. */
void sl_state_save(sl_stage *st, const char *data, size_t len);
/* For init, when the checkpoint sl_state_load returned cannot be used
 * (what, printf-style: "not JSON", "offset 7 is inside a line"): logs it
 * with the file and how to start over, and returns SL_ESTATE for init to
 * return; the pipeline does not start.  Never guess instead: starting over
 * reads records twice, a wrong position skips or cuts them. */
int sl_state_corrupt(sl_stage *st, const char *what, ...) __attribute__((format(printf, 2, 3)));

#endif
