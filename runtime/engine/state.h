/* Stage state (runtime-internal): the checkpoint files of a pipeline's
 * stages.  state.c sits beneath the flow: it tells it what happened through
 * the pipeline's sl_state_hooks and calls nothing above. */
#ifndef SLUICE_ENGINE_STATE_H
#define SLUICE_ENGINE_STATE_H

#include "engine/engine.h"

struct sl_state_hooks {
  /* A write holding acknowledged records (sl_ack.held) is done: they are
   * no longer in flight. */
  void (*released)(sl_pipeline *p, uint64_t records);
  /* A write finished and no other is waiting (the end may have come). */
  void (*settled)(sl_pipeline *p);
  /* A write failed (p->exit_code is set): stop the pipeline. */
  void (*failed)(sl_pipeline *p);
};

int sl__state_open(sl_stage *st);
/* The path of the stage's state file (after sl__state_open), else its name. */
const char *sl__state_path(const sl_stage *st);
void sl__state_close(sl_stage *st);
/* Writes every pending state file now (shutdown). */
void sl__state_flush_all(sl_pipeline *p);
/* Writes the stage's state file now, on the calling thread (the loop
 * thread waits for the fsync): for a save that must be durable before
 * anything else can move.  0, SL_EAGAIN if a save of the stage is under
 * way, SL_EIO (logged). */
int sl__state_write_now(sl_stage *st, const char *data, size_t len);
/* --reset-checkpoint: moves the stage's state file aside (and forgets a
 * checkpoint its sink stored), so that it starts from the beginning. */
int sl__state_reset(sl_stage *st);

#endif
