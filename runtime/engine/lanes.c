/* The lanes of a pipeline's stateful steps: one thread each, with a queue
 * of batches the flow fills in each source's order.  For a batch the lane
 * calls the step's apply for every record still going on, in order, then
 * batch_end, and hands the batch back; for a batch the lane made itself
 * (lane_input.c: no records, no position) it calls tick or finish instead.
 * Only this thread calls the step between its init and destroy, so the
 * step's state needs no lock.  A record the step fails joins the batch's
 * dead letters, with the reason.  What the step outputs for a batch is
 * bounded as on a worker: max_inflight_records per call, limits.memory_mb
 * per batch (records and the arena they are made in). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/lanes.h"
#include "engine/stage.h"
#include "sluice/log.h"

typedef struct lane {
  struct sl_lanes *ls;
  sl_stage *stage;
  pthread_t thread;
  int started;
  sl_batch *head, *tail;  /* queued batches, guarded by ls->mu */
} lane;

struct sl_lanes {
  sl_pipeline *p;
  int n;
  lane *l;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sl_lanes_done_fn done;
  int stop;
};

/* A growing list of records, for one batch. */
typedef struct rec_list {
  sl_record **v;
  size_t n, cap;
} rec_list;

static int list_push(rec_list *l, sl_record *rec) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 256;
    sl_record **v = realloc(l->v, cap * sizeof *v);
    if (!v) return SL_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = rec;
  return 0;
}

/* The step's output while apply, batch_end, tick or finish runs. */
typedef struct lane_out {
  sl_step_out out;        /* first: apply is given &out */
  rec_list next;
  size_t from;            /* where the current call's output begins */
  uint64_t fanout;        /* max_inflight_records for one record's output (a hook
                             without a record has none: UINT64_MAX) */
  uint64_t per_batch;     /* limits.memory_mb: the batch's records, kept and emitted */
  uint64_t refused;       /* emits refused for the batch */
  char why[200];          /* why the last one was */
} lane_out;

static int lane_emit(sl_step_out *out, sl_record *rec) {
  lane_out *lo = (lane_out *)out;
  uint64_t made = lo->next.n - lo->from;
  if (made >= lo->fanout || lo->next.n >= lo->per_batch) {
    if (made >= lo->fanout)
      snprintf(lo->why, sizeof lo->why, "stateful step emitted more than %llu records for one call, "
               "the fan-out limit (max_inflight_records)", (unsigned long long)lo->fanout);
    else
      snprintf(lo->why, sizeof lo->why, "stateful step output more than the %llu records for a batch "
               "that limits.memory_mb allows", (unsigned long long)lo->per_batch);
    lo->refused++;
    return SL_ETOOBIG;
  }
  return list_push(&lo->next, rec);
}

/* The list as an arena array of the batch (what the next phase takes). */
static sl_record **to_arena(sl_batch *b, sl_record **v, size_t n) {
  if (!n) return NULL;
  sl_record **a = sl_arena_alloc(&b->arena, n * sizeof *a);
  if (a) memcpy(a, v, n * sizeof *a);
  return a;
}

/* While the step runs, what it makes for the batch (records, their
 * fields) may take the batch's arena to limit: limits.memory_mb, as for a
 * Lua step on a worker.  Lifted between calls, so that failures can still
 * be recorded.  The arena's refusal, if any, once the call is over. */
static void call_begin(sl_batch *b, size_t limit) {
  b->arena.refused = 0;
  b->arena.limit = limit;
}

static int call_end(sl_batch *b) {
  int refused = b->arena.refused;
  b->arena.limit = 0;
  b->arena.refused = 0;
  return refused;
}

/* One record through apply: it stays in lo->next with what the step
 * emitted after it, or goes to dead (failed) or nowhere (dropped).  The
 * arena is rewound if the call went past the memory limit: the record is
 * then a dead letter with its raw bytes only.  SL_ENOMEM if a list cannot
 * grow. */
static int apply_one(sl_stage *st, lane_out *lo, sl_record *rec, rec_list *dead, size_t limit) {
  const sl_stateful *sf = st->plugin->stateful;
  sl_batch *b = lo->out.batch;
  if (list_push(&lo->next, rec)) return SL_ENOMEM;
  lo->from = lo->next.n;
  sl_arena_pos pos = sl_arena_tell(&b->arena);
  lo->why[0] = 0;
  uint64_t refused = lo->refused;
  call_begin(b, limit);
  int rc = sf->apply(st, &lo->out, rec);
  int over = call_end(b);
  const char *why = NULL;
  if (over) {
    sl_arena_rewind(&b->arena, &pos);
    rec->fields = NULL;
    rec->nfields = rec->capfields = 0;
    lo->next.n = lo->from;   /* what it emitted pointed into the rewound arena */
    snprintf(lo->why, sizeof lo->why, over == SL_ARENA_NO_MEMORY ? "out of memory for the step's output"
             : "stateful step output exceeded limits.memory_mb (%zu MiB for the records and fields "
               "made for a batch)", st->p->set.limits.memory_bytes >> 20);
    why = lo->why;
    rc = SL_ENOMEM;
  } else if (rc < 0 && lo->refused > refused) {
    why = lo->why;   /* the step passed on the refusal of sl_step_emit */
  }
  if (rc == SL_STEP_KEEP) return 0;
  size_t at = lo->from - 1;
  memmove(&lo->next.v[at], &lo->next.v[at + 1], (lo->next.n - at - 1) * sizeof *lo->next.v);
  lo->next.n--;
  if (rc == SL_STEP_DROP) {
    b->dropped++;
    return 0;
  }
  if (over) lo->next.n = at;
  /* Past the limit, a reason the step gave was in the rewound arena; a
   * refused sl_step_emit is said whatever reason the step gave. */
  if (over || rec->state != SL_REC_FAILED) {
    sl_record_fail(rec, &b->arena, st->name, why ? why : sl_strerror(rc));
  } else if (why) {
    char both[400];
    snprintf(both, sizeof both, "%s (%s)", rec->error, why);
    sl_record_fail(rec, &b->arena, st->name, both);
  }
  return list_push(dead, rec);
}

/* A call with no record (batch_end, tick, finish): what it emits goes
 * out after the batch's records.  Past the memory limit its output is
 * cut where the arena refused; that is logged, as nothing else can carry
 * it. */
static void call_hook(sl_stage *st, lane_out *lo, sl_lane_made what, size_t limit) {
  const sl_stateful *sf = st->plugin->stateful;
  sl_batch *b = lo->out.batch;
  const char *hook = what == SL_MADE_TICK ? "tick" : what == SL_MADE_FINISH ? "finish" : "batch_end";
  lo->from = lo->next.n;
  /* No record fans out here: only the batch's bound (limits.memory_mb)
   * holds, so that finish can emit a whole input's results. */
  lo->fanout = UINT64_MAX;
  uint64_t refused = lo->refused;
  call_begin(b, limit);
  if (what == SL_MADE_TICK) sf->tick(st, &lo->out, b->made_ms);
  else if (what == SL_MADE_FINISH) sf->finish(st, &lo->out);
  else sf->batch_end(st, &lo->out);
  int over = call_end(b);
  if (over)
    sl_log_error(st->name, "%s: its output went past limits.memory_mb (%zu MiB for what a batch makes): "
                 "what it emitted after that was not made", hook, st->p->set.limits.memory_bytes >> 20);
  if (lo->refused > refused)
    sl_log_error(st->name, "%s: %llu records refused (SL_ETOOBIG): %s", hook,
                 (unsigned long long)(lo->refused - refused), lo->why);
}

void sl__lane_run(sl_stage *st, sl_batch *b) {
  const sl_stateful *sf = st->plugin->stateful;
  /* A lost batch is neither written nor acknowledged: it is read again on
   * the next start, so the state must not take it now. */
  if (b->lost) return;
  const sl_pipeline *p = st->p;
  lane_out lo = {.out = {st, b, lane_emit},
                 .fanout = p->set.max_inflight_records,
                 .per_batch = sl__step_records_bound(p)};
  size_t budget = p->set.limits.memory_bytes;
  size_t limit = budget ? b->arena.reserved + budget : 0;
  rec_list dead = {0};
  int oom = 0;
  for (uint32_t i = 0; i < b->ndead && !oom; i++) oom = list_push(&dead, b->dead[i]);
  for (uint32_t i = 0; i < b->nlive && !oom; i++) oom = apply_one(st, &lo, b->live[i], &dead, limit);
  for (uint32_t i = 0; i < b->ndead && !oom && sf->dead; i++) sf->dead(st, &lo.out, b->dead[i]);
  /* A batch this lane made has no record of its own: it is there for its
   * hook.  Every other batch ends with batch_end. */
  if (!oom && b->source == st->lane_src) {
    if ((b->made == SL_MADE_TICK && sf->tick) || (b->made == SL_MADE_FINISH && sf->finish))
      call_hook(st, &lo, b->made, limit);
  } else if (!oom && sf->batch_end) {
    call_hook(st, &lo, SL_MADE_NONE, limit);
  }
  b->live = to_arena(b, lo.next.v, lo.next.n);
  b->nlive = (uint32_t)lo.next.n;
  b->dead = to_arena(b, dead.v, dead.n);
  b->ndead = (uint32_t)dead.n;
  if (oom || (lo.next.n && !b->live) || (dead.n && !b->dead)) {
    b->lost = "out of memory in a stateful step";
    b->nlive = b->ndead = 0;
  }
  free(lo.next.v);
  free(dead.v);
}

static void *lane_main(void *arg) {
  lane *ln = arg;
  struct sl_lanes *ls = ln->ls;
  pthread_mutex_lock(&ls->mu);
  for (;;) {
    while (!ln->head && !ls->stop) pthread_cond_wait(&ls->cv, &ls->mu);
    if (!ln->head) break;
    sl_batch *b = ln->head;
    ln->head = b->qnext;
    if (!ln->head) ln->tail = NULL;
    pthread_mutex_unlock(&ls->mu);

    sl__lane_run(ln->stage, b);

    ls->done(ls->p, b);
    pthread_mutex_lock(&ls->mu);
  }
  pthread_mutex_unlock(&ls->mu);
  return NULL;
}

int sl__lanes_start(sl_pipeline *p, sl_lanes_done_fn done, sl_buf *err) {
  if (!p->nlanes) return 0;
  struct sl_lanes *ls = calloc(1, sizeof *ls);
  if (!ls) return SL_ENOMEM;
  ls->l = calloc((size_t)p->nlanes, sizeof *ls->l);
  if (!ls->l) {
    free(ls);
    return SL_ENOMEM;
  }
  ls->p = p;
  ls->done = done;
  ls->n = p->nlanes;
  pthread_mutex_init(&ls->mu, NULL);
  pthread_cond_init(&ls->cv, NULL);
  p->lanes = ls;
  for (int j = 0; j < ls->n; j++) {
    lane *ln = &ls->l[j];
    ln->ls = ls;
    ln->stage = p->steps[p->lane_step[j]];
    if (pthread_create(&ln->thread, NULL, lane_main, ln)) {
      sl_buf_printf(err, "%s: cannot start the thread of %s", ln->stage->where, ln->stage->name);
      return SL_ENOMEM;
    }
    ln->started = 1;
  }
  return 0;
}

void sl__lanes_submit(sl_lanes *ls, sl_batch *b) {
  lane *ln = &ls->l[b->phase / 2];
  pthread_mutex_lock(&ls->mu);
  sl__batch_enqueue(&ln->head, &ln->tail, b);
  /* One condition for every lane: wake them all, the one with work runs. */
  pthread_cond_broadcast(&ls->cv);
  pthread_mutex_unlock(&ls->mu);
}

void sl__lanes_stop(sl_lanes *ls) {
  if (!ls) return;
  pthread_mutex_lock(&ls->mu);
  ls->stop = 1;
  pthread_cond_broadcast(&ls->cv);
  pthread_mutex_unlock(&ls->mu);
  for (int j = 0; j < ls->n; j++)
    if (ls->l[j].started) pthread_join(ls->l[j].thread, NULL);
  pthread_mutex_destroy(&ls->mu);
  pthread_cond_destroy(&ls->cv);
  free(ls->l);
  free(ls);
}
