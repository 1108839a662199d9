/* The deterministic simulation of the flow (docs/internals/simulation.md).
 *
 * One seed is one world: a configuration drawn from the seed (sources,
 * sinks of two kinds, stateful phases, bounds, fault rates) and a schedule
 * drawn from the same PRNG.  The engine's own code moves the records
 * (flow.c: emit, dispatch in order, acknowledgement, bounds, dead letters,
 * drain; batch.c; sink_queue.c: groups, retries, permanent errors, flush);
 * the simulation plays everything around it, on one thread:
 *
 *   - sources (sim_stages.c) that read positions 0..n-1 of an in-memory
 *     log, save their checkpoint from ack as sl_state_save does (holding the
 *     records until the "file" is written, an event of its own), pause and
 *     stop when told;
 *   - "workers" and "lanes" (sim_run.c) that process batches through
 *     p->submit: the workers in any order, each lane in the order given;
 *   - sinks: "queue" sinks on the real sink queue (a group written when the
 *     scheduler says, failing, retrying, committing with an unknown outcome,
 *     breaking for good, losing their connection while idle), and "reorder"
 *     sinks that finish their batches in any order (as kafka.sink does
 *     without exactly_once);
 *   - crashes (the run is dropped at a random step: only what a sink
 *     committed and the checkpoints written survive), SIGTERM, restarts.
 *
 * Checked after every step and at the end of each seed: see sim_run.c. */
#ifndef SLUICE_SIM_H
#define SLUICE_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "engine/batch.h"
#include "engine/flow.h"
#include "engine/sink_queue.h"

#define SIM_SOURCES 3
#define SIM_SINKS 3            /* data sinks; the dead-letter sink comes after them */
#define SIM_RECORDS 200        /* at most, per source */
#define SIM_LANES 2
#define SIM_PENDING 4096       /* batches a reorder sink or the workers may hold */

/* ---- the PRNG: splitmix64, one stream per seed ---- */

static inline uint64_t sim_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

typedef enum sim_sink_kind {
  SIM_QUEUE,     /* on sl_sink_queue: one group in flight, retries, in order */
  SIM_REORDER    /* each batch finished on its own, in any order */
} sim_sink_kind;

/* What the seed chose: fixed for every run of the seed. */
typedef struct sim_cfg {
  int nsources, nsinks, nlanes;
  int records[SIM_SOURCES];
  uint32_t batch_size;
  uint64_t max_inflight;
  int exactly_once;            /* one queue sink commits the positions with the data */
  sim_sink_kind kind[SIM_SINKS + 1];
  uint32_t max_batches[SIM_SINKS + 1];
  uint64_t max_records[SIM_SINKS + 1];
  /* Per record (from its position alone, so every run agrees), in %. */
  int pct_drop, pct_dead, pct_reject;
  /* Per event, in %. */
  int pct_retry, pct_unknown, pct_inline, pct_sync_error;
  int faulty_runs;             /* runs that may crash, stop or break for good */
} sim_cfg;

/* What survives a crash, and the figures. */
typedef struct sim_world {
  uint64_t seed, rng;
  sim_cfg cfg;
  int verbose;
  int hash_trace;              /* fold the schedule into trace_hash (--check-replay) */
  uint64_t trace_hash;
  int known_holes;             /* inject the faults of known, unfixed holes too */
  /* Copies durable in each sink (the dead-letter sink last), in total and
   * in the current run. */
  uint8_t total[SIM_SINKS + 1][SIM_SOURCES][SIM_RECORDS];
  uint8_t now[SIM_SINKS + 1][SIM_SOURCES][SIM_RECORDS];
  /* Records a data sink turned away (rejected, or refused with its whole
   * batch): for them the dead-letter sink stands in for it. */
  uint8_t away_total[SIM_SINKS][SIM_SOURCES][SIM_RECORDS];
  uint8_t away_now[SIM_SINKS][SIM_SOURCES][SIM_RECORDS];
  int64_t saved[SIM_SOURCES];            /* the checkpoint files: next position to read */
  int64_t stored[SIM_SOURCES];           /* exactly_once: what the sink committed */
  int has_stored[SIM_SOURCES];
  int run;                               /* 0, 1, ...: restarts so far */
  uint64_t steps, faults;      /* crashes, SIGTERMs, failures for good, lost outcomes */
  uint64_t errors;             /* errors retrying heals: failed writes, lost connections */
  uint64_t crashes;            /* among the faults */
  char failure[512];
} sim_world;

extern sim_world sim;

uint64_t sim_rand(void);
/* 1 with probability pct %. */
int sim_chance(int pct);
/* A line of the schedule (--verbose). */
void sim_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The first broken invariant ends the seed (and calls sim_at_failure, if
 * set, at once). */
void sim_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern void (*sim_at_failure)(void);

/* ---- what a record's position decides (sim_run.c) ---- */

typedef enum sim_fate { SIM_DROPPED, SIM_DEAD, SIM_ROUTED } sim_fate;
typedef struct sim_route {
  sim_fate fate;
  unsigned mask;               /* SIM_ROUTED: the data sinks it goes to */
  int rejected_by;             /* the data sink that rejects it, or -1 */
} sim_route;
sim_route sim_route_of(int src, int64_t pos);

/* ---- the stages (sim_stages.c) ---- */

typedef struct sim_emitted { int64_t from, to; } sim_emitted;

typedef struct sim_source {
  sl_stage st;                 /* first: the flow gives &st */
  int64_t next;                /* next position to read */
  int paused;                  /* as the flow said */
  sim_emitted *emitted;        /* every batch emitted this run, in order */
  int nemitted, nacked;
  /* The checkpoint file, as state.c keeps it: a write on the way
   * (writing), the latest value (dirty) waiting for it. */
  int busy, dirty;
  int64_t latest, writing;
  uint64_t held_latest, held_writing;
} sim_source;

typedef struct sim_sink {
  sl_stage st;                 /* first */
  sim_sink_kind kind;
  int k;                       /* index in p->sinks */
  /* SIM_QUEUE */
  sl_sink_queue q;
  sl_sink_batch *group;        /* handed to ops->write, not yet ended */
  uint32_t group_n;
  int connected;
  int drops;                   /* connections lost this run */
  int waiting_rejects;         /* exactly_once: dead letters not durable yet */
  /* SIM_REORDER */
  sl_sink_batch **pending;
  int npending;
  int flushing;
} sim_sink;

/* One run of the pipeline: what a crash throws away. */
typedef struct sim_pipe {
  sl_pipeline p;
  uv_loop_t loop;
  sim_source src[SIM_SOURCES];
  sim_sink sink[SIM_SINKS + 1];
  sl_stage *sources[SIM_SOURCES], *sinks[SIM_SINKS + 1];
  sl_batch *unlaned[SIM_SOURCES][SIM_LANES];
  sl_batch **work;             /* submitted to the "workers" (even phases) */
  int nwork;
  sl_batch **lane[SIM_LANES];  /* submitted to lane j, in order */
  int nlane[SIM_LANES];
  uint64_t lane_seq[SIM_LANES][SIM_SOURCES];   /* next seq lane j must see */
  int faulty;                  /* this run may crash or stop */
  int breakable;               /* ... and its sinks, workers, checkpoint writes fail for good */
} sim_pipe;

extern sim_pipe live;   /* the run under way */

void sim_stages_setup(sim_pipe *sp);
void sim_stages_teardown(sim_pipe *sp);
/* Events the stages offer, for the scheduler. */
void sim_source_emit(sim_source *s);
void sim_source_state_written(sim_source *s);
void sim_queue_group_ends(sim_sink *k);
void sim_queue_drop(sim_sink *k);
void sim_reorder_done(sim_sink *k, int i);
/* A batch's records, or its dead letters, made durable by sink k. */
void sim_durable(int k, const sl_sink_batch *sb);
/* Record i of sb is turned away by its (data) sink: a dead letter. */
void sim_turned_away(const sl_sink_batch *sb, uint32_t i);
/* Whether the record is where it must be, in this run (now) or ever. */
int sim_delivered(int src, int64_t pos, int now);

/* ---- one seed (sim_run.c) ---- */

/* Runs the seed to its end; 0 if every invariant held.  hash_trace: the
 * schedule is folded into sim.trace_hash (FNV-1a), to compare two runs. */
int sim_seed(uint64_t seed, int verbose, int known_holes, int hash_trace);

#endif
