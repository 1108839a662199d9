/* The simulation's command line (docs/internals/simulation.md):
 *
 *   sim --seeds 10000          seeds 1..10000; a figure: line; each failing
 *                              seed with the command that replays it
 *   sim --seed 4711 --verbose  one seed, its configuration and schedule
 *   sim --from 20001 --seeds 5000
 *   sim --known-holes ...      also the faults of known, unfixed holes
 *   sim --check-replay ...     each seed twice: the same schedule, step for step
 *   sim --expect-failure ...   passes when some seed fails (the mutant builds,
 *                              sim_mutant1 and 2, with a bug planted in flow.c)
 *
 * Exit 0 when every seed held every invariant (or, with --expect-failure,
 * when one did not), 1 otherwise, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "sluice/log.h"

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A seed run twice takes the same schedule: the replay of a failure is
 * the failure.  1 if so. */
static int same_twice(uint64_t seed, int known_holes) {
  sim_seed(seed, 0, known_holes, 1);
  uint64_t hash = sim.trace_hash, steps = sim.steps;
  sim_seed(seed, 0, known_holes, 1);
  if (sim.trace_hash == hash && sim.steps == steps) return 1;
  printf("seed %llu took another schedule the second time (%llu steps, then %llu)\n",
         (unsigned long long)seed, (unsigned long long)steps, (unsigned long long)sim.steps);
  return 0;
}

/* A seed broke an invariant: its replay line goes out at once, inside the
 * step that broke it, in case what follows does not survive the bug (a
 * batch freed while a sink holds it).  --expect-failure: the planted bug
 * was caught, and the process ends here, before it runs on over a heap the
 * bug broke (AddressSanitizer would say so, rightly). */
static uint64_t first_seed;
static double t0;
static const char *argv0;
static int known_holes, expect_failure, reported;

static void report_failure(void) {
  if (++reported > 10) return;   /* the first ten are enough to read */
  printf("seed %llu FAILED: %s\n", (unsigned long long)sim.seed, sim.failure);
  printf("replay: %s --seed %llu%s --verbose\n", argv0, (unsigned long long)sim.seed,
         known_holes ? " --known-holes" : "");
  if (expect_failure) {
    printf("figure: simulation of a planted bug: caught by seed %llu (%llu tried), %.1f s\n",
           (unsigned long long)sim.seed, (unsigned long long)(sim.seed - first_seed + 1),
           seconds() - t0);
    fflush(stdout);
    _exit(0);
  }
  fflush(stdout);
}

static int usage(void) {
  fprintf(stderr, "usage: sim [--seeds N] [--from S] [--seed S] [--verbose] [--expect-failure] [--known-holes]\n"
                  "           [--check-replay]\n");
  return 2;
}

int main(int argc, char **argv) {
  uint64_t from = 1, count = 1000, one = 0;
  int verbose = 0, check_replay = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--seeds") && i + 1 < argc) count = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--from") && i + 1 < argc) from = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--seed") && i + 1 < argc) one = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--verbose")) verbose++;
    else if (!strcmp(a, "--expect-failure")) expect_failure = 1;
    else if (!strcmp(a, "--known-holes")) known_holes = 1;
    else if (!strcmp(a, "--check-replay")) check_replay = 1;
    else return usage();
  }
  if (one) {
    from = one;
    count = 1;
  }
  /* The engine's own log lines (retries, lost batches) only in a replay. */
  sl_log_setup(verbose ? SL_LOG_DEBUG : SL_LOG_OFF, SL_LOG_TEXT, 2);
  t0 = seconds();
  first_seed = from;
  argv0 = argv[0];
  if (!check_replay) sim_at_failure = report_failure;
  uint64_t ran = 0, steps = 0, records = 0, faults = 0, crashes = 0, errors = 0, runs = 0, failed = 0;
  for (uint64_t seed = from; seed < from + count; seed++) {
    if (check_replay) {
      if (!same_twice(seed, known_holes)) failed++;
      ran++;
      continue;
    }
    int rc = sim_seed(seed, verbose, known_holes, 0);
    ran++;
    steps += sim.steps;
    faults += sim.faults;
    errors += sim.errors;
    crashes += sim.crashes;
    runs += (uint64_t)sim.run + 1;
    for (int i = 0; i < sim.cfg.nsources; i++) records += (uint64_t)sim.cfg.records[i];
    if (rc) failed++;
  }
  if (check_replay) {
    printf("figure: simulation replays: %llu seeds run twice, %llu differed, %.1f s\n",
           (unsigned long long)ran, (unsigned long long)failed, seconds() - t0);
    return failed ? 1 : 0;
  }
  if (expect_failure) {
    printf("expected some seed to fail, every one passed: the planted bug went unseen\n");
    return 1;
  }
  printf("figure: simulation: %llu seeds, %llu steps, %llu records, %llu runs (restarts included), "
         "%llu faults injected (%llu crashes; stops, failures for good, lost outcomes) and %llu errors "
         "retried, %llu failing seeds, %.1f s\n",
         (unsigned long long)ran, (unsigned long long)steps, (unsigned long long)records,
         (unsigned long long)runs, (unsigned long long)faults, (unsigned long long)crashes,
         (unsigned long long)errors,
         (unsigned long long)failed,
         seconds() - t0);
  return failed ? 1 : 0;
}
