/* The batches a lane makes itself, on the loop thread.  Every stateful
 * step gets a source of its own (p->lane_src[j], named "<step>.lane")
 * whose batches hold no record and no position and start at the step's
 * lane (phase 2j + 1): a tick batch every interval the step asked for
 * (sl_stateful_tick), and a finish batch once, at the end of input.  The
 * lane calls tick or finish for them (lanes.c); through that source the
 * flow orders, bounds, dispatches and acknowledges them like any batch, so
 * what tick and finish emit goes through the steps after the lane, the
 * sinks' `where` and encoding, dead letters and acknowledgement.  The
 * acknowledgement moves no checkpoint: there is none.
 *
 * One tick batch at a time per lane: a tick that comes while the last one
 * is in flight is skipped (the next one is given the time), so a slow sink
 * cannot pile them up.  Ticks stop at finish, and when the pipeline stops.
 *
 * Finish, once per input.  Finish is called when every source has ended
 * and every batch is acknowledged (so also applied), never on a stop (a
 * signal, a reload, a fatal error).  When its batch is acknowledged the
 * lane source saves "done" in its state file (<step>.lane.json).  A later
 * run whose input ends again without a new record does not call finish
 * again: its output is durable already.  The first batch with records of a
 * run writes "pending" there first, synchronously, so that no source
 * checkpoint can pass a new record while the file still says "done". */
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/flow.h"
#include "engine/lane_input.h"
#include "engine/state.h"
#include "sluice/clock.h"
#include "sluice/log.h"

#define FINISH_DONE "{\"finish\":\"done\"}\n"
#define FINISH_PENDING "{\"finish\":\"pending\"}\n"

typedef struct tick_timer {
  uv_timer_t t;
  sl_pipeline *p;
  int lane;
  int running;
} tick_timer;

struct sl_lane_input {
  tick_timer *timers;     /* one per lane (initialised when its step ticks) */
  int *done_before;       /* per lane: its state file said "done" at start */
};

static const sl_stateful *stateful_of(sl_pipeline *p, int j) {
  return p->steps[p->lane_step[j]]->plugin->stateful;
}

/* The lane source's ack: the finish batch is durable everywhere. */
static void lane_ack(sl_stage *src, const sl_checkpoint *cp) {
  if (cp->a != SL_MADE_FINISH || !src->p->state_dir) return;
  sl_state_save(src, FINISH_DONE, strlen(FINISH_DONE));
}

static const sl_plugin lane_source_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "lane",
    .doc = "The batches a stateful step's lane makes (tick, finish): no records, no position.",
    .ack = lane_ack,
};

/* p->first_input: new input follows the last finish; say so before any
 * checkpoint can move past it. */
static void input_after_finish(sl_pipeline *p) {
  p->first_input = NULL;
  for (int j = 0; j < p->nlanes; j++) {
    if (!p->lane_input->done_before[j]) continue;
    p->lane_input->done_before[j] = 0;
    sl__state_write_now(p->lane_src[j], FINISH_PENDING, strlen(FINISH_PENDING));
  }
}

static void on_tick(uv_timer_t *t) {
  tick_timer *tt = t->data;
  sl__lane_tick(tt->p, tt->lane, sl_now_ms());
}

static void stop_ticks(sl_pipeline *p, int j) {
  tick_timer *tt = p->lane_input ? &p->lane_input->timers[j] : NULL;
  if (tt && tt->running) {
    uv_timer_stop(&tt->t);
    tt->running = 0;
  }
}

/* Reads the finish marker of lane j: 1 if the last finish was not
 * followed by new input, 0 if it was or there is none; SL_ESTATE (the
 * reason in err) for a marker that is neither: a guess would call finish
 * again (its output twice) or not at all. */
static int finish_done_before(sl_pipeline *p, int j, sl_buf *err) {
  if (!p->state_dir || !stateful_of(p, j)->finish) return 0;
  sl_stage *src = p->lane_src[j];
  sl_buf b = SL_BUF_INIT;
  int rc = sl_state_load(src, &b);
  int done = rc == 0 && b.len == strlen(FINISH_DONE) && memcmp(b.ptr, FINISH_DONE, b.len) == 0;
  int pending = rc == 0 && b.len == strlen(FINISH_PENDING) && memcmp(b.ptr, FINISH_PENDING, b.len) == 0;
  if (rc == 0 && !done && !pending) {
    sl_buf_printf(err, "%s: unusable state: it holds \"%.*s\", not %.*s nor %.*s. Not starting, since a "
                  "guess would call %s's finish again or not at all. Delete the file to have finish "
                  "called at the next end of input (what it emits may come twice); or restore it",
                  sl__state_path(src), (int)(b.len > 100 ? 100 : b.len), b.ptr ? b.ptr : "",
                  (int)strlen(FINISH_DONE) - 1, FINISH_DONE, (int)strlen(FINISH_PENDING) - 1,
                  FINISH_PENDING, p->steps[p->lane_step[j]]->name);
    rc = SL_ESTATE;
  } else if (rc && rc != SL_ENOENT) {
    sl_buf_printf(err, "%s: unusable state: cannot read it: %s", sl__state_path(src),
                  sl_strerror(rc));
    rc = rc == SL_ENOMEM ? rc : SL_ESTATE;
  } else {
    rc = done;
  }
  sl_buf_free(&b);
  return rc;
}

static sl_stage *new_lane_source(sl_pipeline *p, int j) {
  sl_stage *step = p->steps[p->lane_step[j]];
  sl_stage *src = calloc(1, sizeof *src);
  if (!src) return NULL;
  src->plugin = &lane_source_plugin;
  src->kind = SL_SOURCE;
  src->p = p;
  src->index = j;
  src->lane_of = j + 1;
  src->where = step->where;
  size_t n = strlen(step->name);
  src->name = malloc(n + sizeof ".lane");
  src->unlaned = calloc((size_t)p->nlanes, sizeof *src->unlaned);
  if (!src->name || !src->unlaned) {
    free(src->name);
    free(src->unlaned);
    free(src);
    return NULL;
  }
  memcpy(src->name, step->name, n);
  memcpy(src->name + n, ".lane", sizeof ".lane");
  step->lane_src = src;
  return src;
}

int sl__lane_input_start(sl_pipeline *p, sl_buf *err) {
  if (!p->nlanes) return 0;
  struct sl_lane_input *li = calloc(1, sizeof *li);
  p->lane_src = calloc((size_t)p->nlanes, sizeof *p->lane_src);
  if (!li || !p->lane_src) {
    free(li);
    sl_buf_puts(err, "out of memory starting the lanes");
    return SL_ENOMEM;
  }
  p->lane_input = li;
  li->timers = calloc((size_t)p->nlanes, sizeof *li->timers);
  li->done_before = calloc((size_t)p->nlanes, sizeof *li->done_before);
  if (!li->timers || !li->done_before) {
    sl_buf_puts(err, "out of memory starting the lanes");
    return SL_ENOMEM;
  }
  for (int j = 0; j < p->nlanes; j++) {
    if (!(p->lane_src[j] = new_lane_source(p, j))) {
      sl_buf_puts(err, "out of memory starting the lanes");
      return SL_ENOMEM;
    }
    int done = finish_done_before(p, j, err);
    if (done < 0) return done;
    li->done_before[j] = done;
    if (done) p->first_input = input_after_finish;
  }
  p->lanes_at_end = sl__lanes_at_end;
  for (int j = 0; j < p->nlanes; j++) {
    sl_stage *step = p->steps[p->lane_step[j]];
    if (!step->tick_ms) continue;
    if (!stateful_of(p, j)->tick) {
      sl_log_warn(step->name, "sl_stateful_tick was called, but the step has no tick: no ticks");
      continue;
    }
    tick_timer *tt = &li->timers[j];
    tt->p = p;
    tt->lane = j;
    uv_timer_init(p->loop, &tt->t);
    tt->t.data = tt;
    uv_timer_start(&tt->t, on_tick, (uint64_t)step->tick_ms, (uint64_t)step->tick_ms);
    tt->running = 1;
  }
  return 0;
}

/* A batch of lane j's own, with nothing in it, emitted into the flow at
 * the lane's phase. */
static void emit_made(sl_pipeline *p, int j, sl_lane_made what, int64_t now_ms) {
  sl_stage *src = p->lane_src[j];
  sl_batch *b = sl_batch_new(src);
  if (!b) {
    sl_log_error(src->name, "out of memory making a %s batch", what == SL_MADE_TICK ? "tick" : "finish");
    return;
  }
  free(b->recs);   /* it holds no record of its own */
  b->recs = NULL;
  b->cap = 0;
  b->phase = 2 * j + 1;
  b->made = what;
  b->made_ms = now_ms;
  sl_checkpoint cp = {.a = what};
  sl_batch_set_checkpoint(b, &cp);
  sl__flow_emit(p, src, b);
}

void sl__lane_tick(sl_pipeline *p, int j, int64_t now_ms) {
  sl_stage *src = p->lane_src[j];
  if (p->run != SL_RUN_RUNNING || src->finished) {
    stop_ticks(p, j);
    return;
  }
  if (src->head) return;   /* the last tick's batch is still in flight */
  emit_made(p, j, SL_MADE_TICK, now_ms);
}

int sl__lanes_at_end(sl_pipeline *p, int input_ended) {
  for (int j = 0; j < p->nlanes; j++) {
    sl_stage *src = p->lane_src[j];
    if (!src->finished) {
      stop_ticks(p, j);
      src->finished = 1;
      /* The lanes before j are through (else this loop returned): what
       * their finish emitted has passed this lane too. */
      sl_stage *step = p->steps[p->lane_step[j]];
      if (input_ended && stateful_of(p, j)->finish) {
        if (p->lane_input->done_before[j]) {
          sl_log_info(step->name, "the input ended with no new record since finish last ran: "
                      "finish is not called again");
        } else {
          sl_log_debug(step->name, "the input ended: finish");
          emit_made(p, j, SL_MADE_FINISH, 0);
        }
      }
    }
    if (src->head) return 0;
  }
  return 1;
}

void sl__lane_input_stop(sl_pipeline *p) {
  struct sl_lane_input *li = p->lane_input;
  for (int j = 0; li && j < p->nlanes; j++) {
    tick_timer *tt = &li->timers[j];
    stop_ticks(p, j);
    if (tt->p && !uv_is_closing((uv_handle_t *)&tt->t)) uv_close((uv_handle_t *)&tt->t, NULL);
  }
}

void sl__lane_input_free(sl_pipeline *p) {
  for (int j = 0; p->lane_src && j < p->nlanes; j++) {
    sl_stage *src = p->lane_src[j];
    if (!src) continue;
    for (sl_batch *b = src->head, *next; b; b = next) {
      next = b->next;
      sl__batch_free(b);
    }
    sl__state_close(src);
    free(src->unlaned);
    free(src->name);
    free(src);
  }
  free(p->lane_src);
  p->lane_src = NULL;
  if (p->lane_input) {
    free(p->lane_input->timers);
    free(p->lane_input->done_before);
    free(p->lane_input);
    p->lane_input = NULL;
  }
}
