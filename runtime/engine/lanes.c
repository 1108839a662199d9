/* The lanes of a pipeline's stateful steps: one thread each, with a queue
 * of batches the flow fills in each source's order.  For a batch the lane
 * calls the step's apply for every record still going on, in order, then
 * batch_end, and hands the batch back.  Only this thread calls the step
 * between its init and destroy, so the step's state needs no lock.  A
 * record the step fails joins the batch's dead letters, with the reason. */
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

/* The step's output while apply or batch_end runs. */
typedef struct lane_out {
  sl_step_out out;        /* first: apply is given &out */
  rec_list next;
  size_t from;            /* where the current record's output begins */
  uint64_t fanout;        /* max_inflight_records: more could never be in flight */
} lane_out;

static int lane_emit(sl_step_out *out, sl_record *rec) {
  lane_out *lo = (lane_out *)out;
  if (lo->next.n - lo->from >= lo->fanout) return SL_ETOOBIG;
  return list_push(&lo->next, rec);
}

/* The list as an arena array of the batch (what the next phase takes). */
static sl_record **to_arena(sl_batch *b, sl_record **v, size_t n) {
  if (!n) return NULL;
  sl_record **a = sl_arena_alloc(&b->arena, n * sizeof *a);
  if (a) memcpy(a, v, n * sizeof *a);
  return a;
}

void sl__lane_run(sl_stage *st, sl_batch *b) {
  const sl_stateful *sf = st->plugin->stateful;
  /* A lost batch is neither written nor acknowledged: it is read again on
   * the next start, so the state must not take it now. */
  if (b->lost) return;
  lane_out lo = {.out = {st, b, lane_emit},
                 .fanout = st->p->set.max_inflight_records};
  rec_list dead = {0};
  int oom = 0;
  for (uint32_t i = 0; i < b->ndead && !oom; i++) oom = list_push(&dead, b->dead[i]);
  for (uint32_t i = 0; i < b->nlive && !oom; i++) {
    sl_record *rec = b->live[i];
    /* rec keeps its place; records the step emits follow it. */
    lo.from = lo.next.n;
    if (list_push(&lo.next, rec)) {
      oom = 1;
      break;
    }
    lo.from = lo.next.n;
    int rc = sf->apply(st, &lo.out, rec);
    if (rc == SL_STEP_KEEP) continue;
    size_t at = lo.from - 1;
    memmove(&lo.next.v[at], &lo.next.v[at + 1], (lo.next.n - at - 1) * sizeof *lo.next.v);
    lo.next.n--;
    if (rc == SL_STEP_DROP) {
      b->dropped++;
      continue;
    }
    if (rec->state != SL_REC_FAILED) sl_record_fail(rec, &b->arena, st->name, sl_strerror(rc));
    oom = list_push(&dead, rec);
  }
  if (!oom && sf->batch_end) {
    lo.from = lo.next.n;
    sf->batch_end(st, &lo.out);
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
