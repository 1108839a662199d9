/* One seed of the simulation: its configuration, the runs of its pipeline
 * (each may crash, stop or break; the next restarts from what survived),
 * the scheduler that picks which ready event happens next, and the
 * invariants:
 *
 *   after every step
 *     - a source is acknowledged in emission order, and only for records
 *       durable in every sink they go to, or dead letters (sim_stages.c);
 *     - the in-flight count is what is on the sources' lists plus what
 *       checkpoint writes hold, and stays below max_inflight_records plus
 *       one batch; past the bound every source is paused;
 *     - each lane sees each source's batches in emission order;
 *   at the end of a run: nothing in flight; a run that ended with exit 0
 *     and was not stopped acknowledged everything it read;
 *   at the end of the seed: every record durable in every sink it goes to
 *     (or a dead letter), none lost; with exactly_once, no record twice in
 *     the sink; a run that has nothing left to do but has not ended is a
 *     stall. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sluice/log.h"

sim_world sim;
sim_pipe live;
void (*sim_at_failure)(void);

uint64_t sim_rand(void) { return sim_mix(sim.rng++); }

int sim_chance(int pct) { return pct > 0 && (int)(sim_rand() % 100) < pct; }

void sim_trace(const char *fmt, ...) {
  if (!sim.verbose && !sim.hash_trace) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(line, sizeof line, "run %d step %llu: ", sim.run, (unsigned long long)sim.steps);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (sim.verbose) puts(line);
  for (const char *c = line; *c; c++) sim.trace_hash = (sim.trace_hash ^ (uint8_t)*c) * 0x100000001b3ull;
}

void sim_fail(const char *fmt, ...) {
  if (sim.failure[0]) return;
  va_list ap;
  va_start(ap, fmt);
  int n = snprintf(sim.failure, sizeof sim.failure, "run %d step %llu: ", sim.run,
                   (unsigned long long)sim.steps);
  vsnprintf(sim.failure + n, sizeof sim.failure - (size_t)n, fmt, ap);
  va_end(ap);
  sim_trace("FAILED: %s", sim.failure);
  if (sim_at_failure) sim_at_failure();
}

/* ---- the configuration and each record's route ---- */

static int pick(int n) { return (int)(sim_rand() % (uint64_t)n); }

static void choose_config(void) {
  sim_cfg *c = &sim.cfg;
  c->exactly_once = sim_chance(30);
  c->nsources = 1 + pick(SIM_SOURCES);
  c->nsinks = c->exactly_once ? 1 : 1 + pick(SIM_SINKS);
  c->nlanes = sim_chance(30) ? 1 + pick(SIM_LANES) : 0;
  for (int i = 0; i < c->nsources; i++) c->records[i] = pick(SIM_RECORDS / 4 * 3 + 1);
  c->batch_size = 1 + (uint32_t)pick(8);
  c->max_inflight = 1 + (uint64_t)pick(40);
  for (int k = 0; k <= c->nsinks; k++) {
    c->kind[k] = sim_chance(50) ? SIM_QUEUE : SIM_REORDER;
    c->max_batches[k] = (uint32_t)pick(4);
    c->max_records[k] = sim_chance(30) ? 0 : 1 + (uint64_t)pick(20);
  }
  if (c->exactly_once) c->kind[0] = SIM_QUEUE;   /* the sink that commits positions */
  c->pct_drop = pick(10);
  c->pct_dead = pick(10);
  c->pct_reject = pick(15);
  c->pct_retry = pick(30);
  c->pct_unknown = pick(15);
  c->pct_inline = pick(30);
  c->pct_sync_error = pick(5);
  c->faulty_runs = 1 + pick(4);
}

sim_route sim_route_of(int src, int64_t pos) {
  const sim_cfg *c = &sim.cfg;
  uint64_t h = sim_mix(sim.seed * 0x100000001b3ull ^ (uint64_t)src << 40 ^ (uint64_t)pos);
  sim_route r = {.fate = SIM_ROUTED, .mask = 0, .rejected_by = -1};
  int f = (int)(h % 100);
  if (f < c->pct_drop) r.fate = SIM_DROPPED;
  else if (f < c->pct_drop + c->pct_dead) r.fate = SIM_DEAD;
  if (r.fate != SIM_ROUTED) return r;
  r.mask = (unsigned)(h >> 8) & ((1u << c->nsinks) - 1);
  if (!r.mask && (h >> 20) % 8) r.mask = 1u << ((h >> 24) % (uint64_t)c->nsinks);   /* mostly somewhere */
  if (c->exactly_once) r.mask = 1;
  int k = (int)((h >> 40) % (uint64_t)c->nsinks);
  if ((int)((h >> 32) % 100) < c->pct_reject && (r.mask >> k & 1)) r.rejected_by = k;
  return r;
}

/* ---- the "workers" and the lanes (p->submit) ---- */

static void submit(sl_pipeline *p, sl_batch *b) {
  (void)p;
  if (b->phase % 2 == 0) {
    live.work[live.nwork++] = b;
    return;
  }
  int j = b->phase / 2;
  live.lane[j][live.nlane[j]++] = b;
}

/* The last phase: every record to the sinks its route names, a dead
 * letter, or dropped, as process_batch (workers.c) leaves a batch. */
static void fill_sink_batches(sl_pipeline *p, sl_batch *b) {
  int dlq = p->nsinks - 1;
  b->sbs = sl_arena_alloc(&b->arena, (size_t)p->nsinks * sizeof *b->sbs);
  memset(b->sbs, 0, (size_t)p->nsinks * sizeof *b->sbs);
  for (int k = 0; k < p->nsinks; k++) {
    b->sbs[k].batch = b;
    b->sbs[k].sink = p->sinks[k];
  }
  const char *why = NULL;
  for (uint32_t i = 0; i < b->n; i++) {
    sl_record *rec = &b->recs[i];
    sim_route r = sim_route_of(b->source->index, rec->meta.offset);
    if (r.fate == SIM_DROPPED) {
      b->dropped++;
    } else if (r.fate == SIM_DEAD) {
      sl_record_fail(rec, &b->arena, "sim.step", "sim: the step failed");
      sl_record *env = sl__dlq_record(p, &b->arena, rec);
      if (!env || sl__sink_batch_add(p->sinks[dlq], &b->sbs[dlq], &b->arena, env, b->n, &why))
        sim_fail("cannot make a dead letter: %s", why ? why : "out of memory");
    } else {
      for (int k = 0; k < dlq; k++)
        if ((r.mask >> k & 1) && sl__sink_batch_add(p->sinks[k], &b->sbs[k], &b->arena, rec, b->n, &why))
          sim_fail("cannot add a record for %s: %s", p->sinks[k]->name, why ? why : "?");
    }
  }
}

static void work(int i) {
  sl_pipeline *p = &live.p;
  sl_batch *b = live.work[i];
  live.work[i] = live.work[--live.nwork];
  sim_trace("worker: batch %llu of %s, phase %d", (unsigned long long)b->seq, b->source->name,
            b->phase);
  if (b->phase == 2 * p->nlanes) {
    fill_sink_batches(p, b);
    if (live.breakable && sim_chance(1)) {
      sim.faults++;
      sim_trace("worker: batch %llu of %s cannot be written whole", (unsigned long long)b->seq,
                b->source->name);
      b->lost = "sim: out of memory";
    }
  }
  sl__flow_processed(p, b);
}

static void lane_runs(int j) {
  sl_batch *b = live.lane[j][0];
  memmove(live.lane[j], live.lane[j] + 1, (size_t)--live.nlane[j] * sizeof *live.lane[j]);
  int s = b->source->index;
  sim_trace("lane %d: batch %llu of %s", j, (unsigned long long)b->seq, b->source->name);
  if (b->seq != live.lane_seq[j][s])
    sim_fail("lane %d got batch %llu of %s, expected %llu (emission order)", j,
             (unsigned long long)b->seq, b->source->name, (unsigned long long)live.lane_seq[j][s]);
  live.lane_seq[j][s] = b->seq + 1;
  sl__flow_processed(&live.p, b);
}

/* ---- the scheduler ---- */

typedef enum ev_kind {
  EV_EMIT, EV_FINISH, EV_WORK, EV_LANE, EV_GROUP, EV_TIMER, EV_DROP, EV_DONE, EV_STATE
} ev_kind;
static const char *const ev_names[] = {"emit", "finish", "work", "lane", "group", "timer",
                                       "drop", "done", "state"};

typedef struct sim_event {
  ev_kind kind;
  int a, b;
  int weight;
} sim_event;

static sim_event *events;
static int nevents;

static void offer(ev_kind kind, int a, int b, int weight) {
  events[nevents++] = (sim_event){kind, a, b, weight};
}

/* Everything that may happen next. */
static void collect(void) {
  const sim_cfg *c = &sim.cfg;
  nevents = 0;
  for (int i = 0; i < c->nsources; i++) {
    sim_source *s = &live.src[i];
    if (!s->st.finished) {
      if (s->st.stopping || s->next == c->records[i]) offer(EV_FINISH, i, 0, 10);
      else if (!s->paused) offer(EV_EMIT, i, 0, 10);
    }
    if (s->busy) offer(EV_STATE, i, 0, 10);
  }
  for (int i = 0; i < live.nwork; i++) offer(EV_WORK, i, 0, 10);
  for (int j = 0; j < c->nlanes; j++)
    if (live.nlane[j]) offer(EV_LANE, j, 0, 10);
  for (int k = 0; k <= c->nsinks; k++) {
    sim_sink *s = &live.sink[k];
    if (s->kind == SIM_REORDER) {
      for (int i = 0; i < s->npending; i++) offer(EV_DONE, k, i, 10);
      continue;
    }
    if (s->group && !s->waiting_rejects && !sl__sink_queue_backing_off(&s->q)) offer(EV_GROUP, k, 0, 10);
    if (sl__sink_queue_backing_off(&s->q)) offer(EV_TIMER, k, 0, 10);
    else if (!s->group && s->connected && s->drops < 2) offer(EV_DROP, k, 0, 1);
  }
}

static void happen(const sim_event *e) {
  switch (e->kind) {
  case EV_EMIT: sim_source_emit(&live.src[e->a]); break;
  case EV_FINISH:
    sim_trace("%s finished at %lld", live.src[e->a].st.name, (long long)live.src[e->a].next);
    sl_source_finished(&live.src[e->a].st);
    break;
  case EV_WORK: work(e->a); break;
  case EV_LANE: lane_runs(e->a); break;
  case EV_GROUP: sim_queue_group_ends(&live.sink[e->a]); break;
  case EV_TIMER:
    sim_trace("%s: pause over", live.sink[e->a].st.name);
    sl__sink_queue_expire(&live.sink[e->a].q);
    break;
  case EV_DROP: sim_queue_drop(&live.sink[e->a]); break;
  case EV_DONE: sim_reorder_done(&live.sink[e->a], e->b); break;
  case EV_STATE: sim_source_state_written(&live.src[e->a]); break;
  }
}

static const sim_event *choose(void) {
  int total = 0;
  for (int i = 0; i < nevents; i++) total += events[i].weight;
  int r = pick(total);
  for (int i = 0; i < nevents; i++) {
    if (r < events[i].weight) return &events[i];
    r -= events[i].weight;
  }
  return &events[nevents - 1];
}

/* ---- invariants ---- */

static void check_step(void) {
  const sim_cfg *c = &sim.cfg;
  sl_pipeline *p = &live.p;
  uint64_t listed = 0;
  for (int i = 0; i < c->nsources; i++) {
    sim_source *s = &live.src[i];
    for (sl_batch *b = s->st.head; b; b = b->next) {
      listed += b->n;
      if (b->pending < 0)
        sim_fail("batch %llu of %s: %d sink batches pending", (unsigned long long)b->seq, s->st.name,
                 b->pending);
    }
    listed += s->held_latest + s->held_writing;
    if (s->paused != s->st.paused)
      sim_fail("%s: the flow says paused=%d, the source heard paused=%d", s->st.name, s->st.paused,
               s->paused);
  }
  if (p->inflight_records != listed)
    sim_fail("in-flight records counted %llu, on the lists and in checkpoint writes %llu",
             (unsigned long long)p->inflight_records, (unsigned long long)listed);
  if (p->inflight_records >= c->max_inflight + c->batch_size)
    sim_fail("%llu records in flight, bound %llu (+ one batch of %u)",
             (unsigned long long)p->inflight_records, (unsigned long long)c->max_inflight,
             c->batch_size);
  if (p->inflight_records >= c->max_inflight)
    for (int i = 0; i < c->nsources; i++)
      if (!live.src[i].st.finished && !live.src[i].paused)
        sim_fail("%llu records in flight (bound %llu) and %s is not paused",
                 (unsigned long long)p->inflight_records, (unsigned long long)c->max_inflight,
                 live.src[i].st.name);
}

/* A run that reached its end: nothing in flight; with exit 0 and no stop,
 * everything read was acknowledged. 1 if the seed is complete. */
static int check_run_end(void) {
  const sim_cfg *c = &sim.cfg;
  sl_pipeline *p = &live.p;
  if (p->inflight_records || p->inflight_bytes)
    sim_fail("the run ended with %llu records and %llu bytes in flight",
             (unsigned long long)p->inflight_records, (unsigned long long)p->inflight_bytes);
  int complete = p->exit_code == 0;
  for (int i = 0; i < c->nsources; i++) {
    sim_source *s = &live.src[i];
    if (s->next != c->records[i]) complete = 0;
    if (p->exit_code == 0 && s->nacked != s->nemitted)
      sim_fail("%s: exit 0 but %d of its %d batches were not acknowledged", s->st.name,
               s->nemitted - s->nacked, s->nemitted);
  }
  return complete;
}

static void check_seed_end(void) {
  const sim_cfg *c = &sim.cfg;
  for (int s = 0; s < c->nsources; s++)
    for (int64_t pos = 0; pos < c->records[s]; pos++) {
      if (!sim_delivered(s, pos, 0))
        sim_fail("src%d position %lld lost: not durable in every sink it goes to (nor a durable "
                 "dead letter)", s, (long long)pos);
      if (c->exactly_once && sim.total[0][s][pos] > 1)
        sim_fail("src%d position %lld is %d times in sink0 (exactly_once)", s, (long long)pos,
                 sim.total[0][s][pos]);
    }
}

/* ---- runs ---- */

static uint64_t steps_bound(void) {
  uint64_t records = 0;
  for (int i = 0; i < sim.cfg.nsources; i++) records += (uint64_t)sim.cfg.records[i];
  return 8 * (records + 10) * (uint64_t)(4 + sim.cfg.nsinks + sim.cfg.nlanes);
}

static void setup_run(void) {
  const sim_cfg *c = &sim.cfg;
  memset(&live, 0, sizeof live);
  memset(sim.now, 0, sizeof sim.now);
  memset(sim.away_now, 0, sizeof sim.away_now);
  sl_pipeline *p = &live.p;
  uv_loop_init(&live.loop);
  p->name = "sim";
  p->loop = &live.loop;
  p->set.batch_size = c->batch_size;
  p->set.max_inflight_records = c->max_inflight;
  p->set.max_inflight_bytes = (uint64_t)1 << 40;
  p->submit = submit;
  p->state_hooks = &sl__flow_state_hooks;
  p->nlanes = c->nlanes;
  p->dlq_first = c->exactly_once;
  live.work = calloc(SIM_PENDING, sizeof *live.work);
  for (int j = 0; j < SIM_LANES; j++) live.lane[j] = calloc(SIM_PENDING, sizeof *live.lane[j]);
  sim_stages_setup(&live);
  p->sources = live.sources;
  p->nsources = c->nsources;
  p->sinks = live.sinks;
  p->nsinks = c->nsinks + 1;
  p->run = SL_RUN_RUNNING;
  live.faulty = sim.run < c->faulty_runs;
  live.breakable = live.faulty && sim_chance(40);
}

static void teardown_run(void) {
  sim_stages_teardown(&live);
  uv_run(&live.loop, UV_RUN_DEFAULT);   /* after the flow's uv_stop: clears it */
  uv_run(&live.loop, UV_RUN_DEFAULT);   /* the close callbacks */
  if (uv_loop_close(&live.loop)) sim_fail("the loop still has handles open after the run");
  free(live.work);
  for (int j = 0; j < SIM_LANES; j++) free(live.lane[j]);
}

/* Nothing can happen and the run has not ended: says what waits. */
static void stalled(void) {
  char why[256] = "";
  size_t n = 0;
  for (int i = 0; i < sim.cfg.nsources && n < sizeof why; i++) {
    const sl_stage *st = &live.src[i].st;
    const sl_batch *b = st->head;
    n += (size_t)snprintf(why + n, sizeof why - n, "; %s%s%s at %lld/%d", st->name,
                          st->finished ? " finished" : "", st->paused ? " paused" : "",
                          (long long)live.src[i].next, sim.cfg.records[i]);
    if (b && n < sizeof why)
      n += (size_t)snprintf(why + n, sizeof why - n, ", oldest batch %llu %s, %d sink batches pending",
                            (unsigned long long)b->seq, b->dispatched ? "dispatched" : "not dispatched",
                            b->pending);
  }
  sim_fail("stall: nothing can happen and the run has not ended (state %d, %llu records in flight)%s",
           live.p.run, (unsigned long long)live.p.inflight_records, why);
}

/* One run, to its end, a crash or a failure.  1 if the seed is complete. */
static int run_once(void) {
  setup_run();
  uint64_t bound = steps_bound();
  /* A run takes about a step per record left: crash within that. */
  uint64_t left = 20;
  for (int i = 0; i < sim.cfg.nsources; i++) left += (uint64_t)(sim.cfg.records[i] - live.src[i].next);
  uint64_t crash_at = live.faulty && sim_chance(60) ? 1 + sim_rand() % (2 * left) : 0;
  uint64_t stop_at = live.faulty && sim_chance(25) ? 1 + sim_rand() % (2 * left) : 0;
  int complete = 0;
  sim_trace("start: %d sources at%s%lld %lld %lld", sim.cfg.nsources,
            sim.cfg.exactly_once ? " (stored by the sink) " : " ", (long long)live.src[0].next,
            (long long)live.src[1].next, (long long)live.src[2].next);
  for (uint64_t step = 1; !sim.failure[0]; step++) {
    if (live.p.run == SL_RUN_DONE) {
      sim_trace("end: exit %d", live.p.exit_code);
      complete = check_run_end();
      break;
    }
    if (step == crash_at) {
      sim.faults++;
      sim.crashes++;
      sim_trace("CRASH");
      break;
    }
    if (step == stop_at) {
      sim.faults++;
      sim_trace("SIGTERM");
      sl__flow_drain(&live.p);
    }
    if (step > bound) {
      sim_fail("no end after %llu steps", (unsigned long long)bound);
      break;
    }
    collect();
    if (!nevents) {
      stalled();
      break;
    }
    const sim_event *e = choose();
    if (sim.verbose > 1) sim_trace("event %s %d %d", ev_names[e->kind], e->a, e->b);
    sim.steps++;
    happen(e);
    check_step();
  }
  teardown_run();
  return complete;
}

int sim_seed(uint64_t seed, int verbose, int known_holes, int hash_trace) {
  memset(&sim, 0, sizeof sim);
  sim.seed = seed;
  sim.hash_trace = hash_trace;
  sim.trace_hash = 0xcbf29ce484222325ull;
  sim.known_holes = known_holes;
  sim.rng = seed * 0x9e3779b97f4a7c15ull;
  sim.verbose = verbose;
  if (!events) events = malloc(SIM_PENDING * 4 * sizeof *events);
  choose_config();
  const sim_cfg *c = &sim.cfg;
  if (verbose) {
    printf("seed %llu: %d sources (records", (unsigned long long)seed, c->nsources);
    for (int i = 0; i < c->nsources; i++) printf(" %d", c->records[i]);
    printf("), %d data sinks (", c->nsinks);
    for (int k = 0; k <= c->nsinks; k++)
      printf("%s%s", k == c->nsinks ? "; dlq " : k ? " " : "", c->kind[k] == SIM_QUEUE ? "queue" : "reorder");
    printf("), %d lanes, batch %u, bound %llu%s; %% drop %d dead %d reject %d retry %d unknown %d "
           "inline %d sync-error %d; %d faulty runs\n",
           c->nlanes, c->batch_size, (unsigned long long)c->max_inflight,
           c->exactly_once ? ", exactly_once" : "", c->pct_drop, c->pct_dead, c->pct_reject,
           c->pct_retry, c->pct_unknown, c->pct_inline, c->pct_sync_error, c->faulty_runs);
  }
  for (sim.run = 0; !sim.failure[0]; sim.run++) {
    if (sim.run > c->faulty_runs + 2) {
      sim_fail("not complete after %d runs", sim.run);
      break;
    }
    if (run_once()) {
      check_seed_end();
      break;
    }
  }
  return sim.failure[0] ? 1 : 0;
}
