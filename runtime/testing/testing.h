/* sluice test (runtime-internal): pipelines run with in-memory sources and
 * sinks against the cases of a test file (docs/testing-pipelines.md,
 * docs/internals/testing.md).
 *
 *   test_main.c      the command: finding test files, the report, JUnit XML
 *   test_case.c      one case: the pipeline loaded, its stages replaced, run,
 *                    what came out handed to lua/sluice/test.lua to compare
 *   test_stages.c    the in-memory source and sink
 *   test_coverage.c  --coverage: the line hook, the executable lines of each
 *                    file (from its bytecode), the report and LCOV */
#ifndef SLUICE_TESTING_H
#define SLUICE_TESTING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"

/* ---- test_stages.c ---- */

/* One input record: its JSON text and what a transport would have said. */
typedef struct sl_test_rec {
  char *json;
  size_t len;
  char *department, *feed, *key, *id;   /* NULL when not given */
  int64_t time_ms;                      /* event time, 0 if not given */
} sl_test_rec;

/* What a source gives: its records, in order. */
typedef struct sl_test_input {
  sl_test_rec *recs;
  size_t n, cap;
} sl_test_input;

/* What a sink got: each record's JSON text, and its per-record options as
 * one JSON object ({} when the sink has none). */
typedef struct sl_test_output {
  char *name;
  sl_buf *recs, *attrs;
  size_t n, cap;
} sl_test_output;

/* Puts an in-memory source in place of st, reading in (borrowed: it must
 * outlive the run), and an in-memory sink collecting into out. */
int sl__test_source_swap(sl_stage *st, sl_test_input *in);
int sl__test_sink_swap(sl_stage *st, sl_test_output *out);
void sl__test_rec_free(sl_test_rec *r);
void sl__test_input_free(sl_test_input *in);
void sl__test_output_free(sl_test_output *out);

/* ---- test_case.c ---- */

typedef struct sl_test_opts {
  int workers;                /* 0: 1 */
  const char *state_root;     /* a temporary folder of the run's */
  int interrupted;            /* set by a case: SIGINT or SIGTERM stopped its pipeline */
} sl_test_opts;

/* What one case came to. */
typedef enum sl_test_verdict { SL_TEST_PASS = 0, SL_TEST_FAIL, SL_TEST_SKIP } sl_test_verdict;

/* Runs case number i (1-based) of the suite on the stack top of L (the
 * runner's state, where lua/sluice/test.lua is loaded as `test`, at
 * index test_idx), against the pipeline file.  The verdict; why in
 * *why (lines: the diff, or the reason the case could not run). */
sl_test_verdict sl__test_case_run(sl_lua *runner, int suite_idx, int test_idx, int i,
                                  const char *pipeline, sl_test_opts *o, sl_buf *why);

/* ---- test_coverage.c ---- */

/* Starts counting the lines that run in every Lua state made from now on. */
void sl__coverage_start(void);
/* Prints, for each file under one of the dirs (NULL-terminated) whose
 * name does not end in _test.lua, the lines that ran of those that can,
 * and writes LCOV to lcov_path if not NULL.  0, or -1 when lcov_path
 * could not be written. */
int sl__coverage_report(const char *const *dirs, FILE *out, const char *lcov_path);
void sl__coverage_stop(void);

/* ---- test_main.c ---- */
int sl__test_main(int argc, char **argv);

#endif
