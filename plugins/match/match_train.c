/* `sluice train PIPELINE.lua SAMPLE [--out MODEL]`: trains the model of a
 * pipeline's sl.match step on a sample file, without labels (u from random
 * pairs, m and the prior by EM over the blocking rules' candidate pairs:
 * sl_match_train), writes the model file the step loads, and reports how
 * EM converged.  docs/matching.md, "Training". */
#define _DEFAULT_SOURCE   /* madvise */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "match_step.h"
#include "sluice/clock.h"
#include "sluice/codec.h"

const char match_train_help[] =
    "usage: sluice train PIPELINE.lua SAMPLE [--out MODEL] [--step NAME] [--seed N]\n"
    "                    [--random-pairs N] [--max-iter N] [--format csv|jsonl]\n"
    "\n"
    "Trains the model of the pipeline's sl.match step (the one --step names) on SAMPLE,\n"
    "CSV with a header or JSON Lines with the fields the step reads: u from random pairs,\n"
    "m and the prior by EM over the candidate pairs of its blocking rules, without labels.\n"
    "Writes the model to MODEL (default: the step's model option) and reports EM's\n"
    "convergence and each field's m and u.  The same sample and seed give the same model.\n"
    "\n"
    "options:\n"
    "  --out MODEL           where to write the model (default: the step's `model`)\n"
    "  --seed N              seed of the random pairs (default 1)\n"
    "  --random-pairs N      random pairs for u (default 1000000)\n"
    "  --max-iter N          EM iterations at most (default 200)\n"
    "  --format FORMAT       csv or jsonl (default: from SAMPLE's name, .csv is CSV)\n"
    "exit status: 0 trained, 1 failed, 2 usage or invalid pipeline\n";

/* Progress on standard error, per phase: a bar on a terminal, else a line
 * a tenth. */
typedef struct progress {
  int tty;
  int64_t t0;
  const char *phase;
  int last;               /* per mille (tty) or tenth shown; -1 none yet */
} progress;

static void progress_show(progress *pg, const char *phase, uint64_t done, uint64_t total) {
  if (pg->phase != phase && (!pg->phase || strcmp(pg->phase, phase))) {
    pg->phase = phase;
    pg->last = -1;
  }
  int permille = total ? (int)(done * 1000 / total) : 1000;
  double secs = (double)(sl_mono_ms() - pg->t0) / 1000.0;
  if (pg->tty) {
    if (pg->last >= 0 && permille / 5 == pg->last / 5 && done < total) return;
    pg->last = permille;
    int w = 30, fill = permille * w / 1000;
    fprintf(stderr, "\r%-16s [%.*s%*s] %3d%%  %llu/%llu  %.1f s", phase, fill, "##############################",
            w - fill, "", permille / 10, (unsigned long long)done, (unsigned long long)total, secs);
    if (done >= total) fputc('\n', stderr);
  } else {
    int tenth = permille / 100;
    if (tenth == pg->last) return;
    pg->last = tenth;
    fprintf(stderr, "train: %s %d%% (%llu of %llu) at %.1f s\n", phase, tenth * 10, (unsigned long long)done,
            (unsigned long long)total, secs);
  }
}

static void on_train_progress(void *ud, const char *phase, uint64_t done, uint64_t total) {
  progress_show(ud, phase, done, total);
}

/* The sample, mapped read-only (the pages are the file's: no copy). */
typedef struct mapped {
  const char *p;
  size_t n;
} mapped;

static int map_file(const char *path, mapped *m) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  struct stat sb;
  int rc = fstat(fd, &sb);
  m->n = rc ? 0 : (size_t)sb.st_size;
  m->p = "";
  if (!rc && m->n) {
    void *p = mmap(NULL, m->n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) rc = -1;
    else {
      m->p = p;
      madvise(p, m->n, MADV_SEQUENTIAL);
    }
  }
  close(fd);
  return rc;
}

static void unmap_file(mapped *m) {
  if (m->n) munmap((void *)m->p, m->n);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads every record of the sample, prepares it and adds it to s.  The
 * records read, or -1 with err. */
static long read_sample(const sl_match_config *c, const char *path, const char *format, sl_match_sample *s,
                        progress *pg, sl_buf *err) {
  sl_buf tmp = SL_BUF_INIT;
  mapped data;
  if (map_file(path, &data)) {
    sl_buf_printf(err, "%s: cannot read: %s", path, strerror(errno));
    return -1;
  }
  if (!format) format = ends_with(path, ".csv") ? "csv" : "jsonl";
  const sl_codec *codec = sl_codec_find(format);
  sl_codec_opts co = {.header = 1};
  void *ctx = codec ? codec->ctx_new(&co) : NULL;
  if (!ctx) {
    sl_buf_printf(err, "--format %s: csv or jsonl", format);
    unmap_file(&data);
    return -1;
  }
  sl_match_prepared prep = {0};
  sl_arena a;
  sl_arena_init(&a);
  long n = 0, line = 0, skipped = 0;
  int header = codec->take_header != NULL;
  size_t at = 0;
  while (at < data.n) {
    size_t len = 0, used = 0;
    int rc = codec->frame(ctx, data.p + at, data.n - at, 1, &len, &used);
    if (rc != SL_OK || !used) break;
    const char *p = data.p + at;
    at += used;
    line++;
    if (!len) continue;
    const char *why = NULL;
    if (header) {
      if (codec->take_header(ctx, p, len, &why)) {
        sl_buf_printf(err, "%s:1: header: %s", path, why ? why : "invalid");
        n = -1;
        break;
      }
      header = 0;
      continue;
    }
    sl_arena_reset(&a);
    sl_record rec = {.raw = {p, len}, .codec = codec, .codec_ctx = ctx};
    if (codec->decode(ctx, &rec, &a, &why)) {
      skipped++;
      continue;
    }
    sl_match_str vals[SL_MATCH_MAX_INPUTS];
    int bad = 0;
    for (int i = 0; i < c->ninputs; i++) bad |= match_field_text(&rec, &a, c->input[i], &tmp, &vals[i]) != 0;
    if (bad) {
      skipped++;
      continue;
    }
    sl_match_prepare(c, vals, &prep);
    if (sl_match_sample_add(s, &prep, 0)) {
      sl_buf_puts(err, "out of memory");
      n = -1;
      break;
    }
    n++;
    if ((n & 4095) == 0) progress_show(pg, "reading", at, data.n);
  }
  if (n >= 0) {
    progress_show(pg, "reading", data.n, data.n);
    if (skipped) fprintf(stderr, "train: %ld records skipped (not an object, or a field of the wrong type)\n", skipped);
  }
  sl_arena_free(&a);
  sl_match_prepared_free(&prep);
  codec->ctx_free(ctx);
  unmap_file(&data);
  sl_buf_free(&tmp);
  return n;
}

static void print_report(const sl_match_config *c, const sl_match_model *mo, const sl_match_train_report *r,
                         long records, int64_t ms) {
  printf("trained on %ld records in %.1f s\n", records, (double)ms / 1000.0);
  printf("  random pairs (u)     %llu\n", (unsigned long long)r->random_pairs);
  printf("  candidate pairs (m)  %llu (%llu known by the ID rule to match, %llu not to)\n",
         (unsigned long long)r->candidate_pairs, (unsigned long long)r->must, (unsigned long long)r->cannot);
  printf("  EM                   %s after %d iterations, max change %.3g, log-likelihood %.6g\n",
         r->em.converged ? "converged" : "did NOT converge", r->em.iterations, r->em.max_change, r->em.loglik);
  printf("  lambda               %.6g among candidates; prior of a random pair %.6g\n", r->em.lambda, mo->lambda);
  printf("\n  %-16s %-22s %10s %10s %8s\n", "field", "level", "m", "u", "log2 m/u");
  for (int f = 0; f < mo->nfields; f++) {
    const sl_match_field *fd = &c->field[f];
    for (int l = 0; l <= fd->nlevels; l++) {
      sl_buf name = SL_BUF_INIT;
      sl_match_level_name(fd, l, &name);
      double m = mo->m[f][l], u = mo->u[f][l];
      printf("  %-16s %-22.*s %10.4g %10.4g %8.2f\n", l ? "" : fd->name, (int)name.len, name.ptr ? name.ptr : "",
             m, u, m > 0 && u > 0 ? log2(m / u) : 0.0);
      sl_buf_free(&name);
    }
  }
}

static int parse_long(const char *opt, const char *v, long *out) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*end || n < 0) {
    fprintf(stderr, "sluice: train: %s needs a number, got '%s'\n", opt, v);
    return -1;
  }
  *out = n;
  return 0;
}

int match_train_command(sl_stage *st, int argc, char **argv) {
  const char *sample = NULL, *out = NULL, *format = NULL;
  long seed = 1, pairs = 1000000, max_iter = 200;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--out") && v) out = argv[++i];
    else if (!strcmp(argv[i], "--format") && v) format = argv[++i];
    else if (!strcmp(argv[i], "--seed") && v) {
      if (parse_long("--seed", argv[++i], &seed)) return 2;
    } else if (!strcmp(argv[i], "--random-pairs") && v) {
      if (parse_long("--random-pairs", argv[++i], &pairs)) return 2;
    } else if (!strcmp(argv[i], "--max-iter") && v) {
      if (parse_long("--max-iter", argv[++i], &max_iter)) return 2;
    } else if (argv[i][0] != '-' && !sample) sample = argv[i];
    else {
      fprintf(stderr, "sluice: train: unexpected argument '%s'\n\n%s", argv[i], match_train_help);
      return 2;
    }
  }
  if (!sample) {
    fprintf(stderr, "sluice: train needs a SAMPLE file\n\n%s", match_train_help);
    return 2;
  }
  sl_match_config c;
  const char *model = NULL;
  sl_buf err = SL_BUF_INIT;
  if (match_command_setup(st, &c, &model)) return 2;
  if (!out) out = model;
  int code = 1;
  sl_match_sample s;
  sl_match_sample_init(&s, &c);
  sl_match_model mo;
  sl_match_config_model(&c, &mo);
  if (!out) {
    fprintf(stderr, "sluice: train: %s: the step has no `model` option: say where with --out MODEL\n",
            sl_stage_where(st));
    code = 2;
    goto done;
  }
  int64_t t0 = sl_mono_ms();
  progress pg = {.tty = isatty(2), .t0 = t0, .last = -1};
  long n = read_sample(&c, sample, format, &s, &pg, &err);
  if (n < 0) {
    fprintf(stderr, "sluice: train: %s\n", sl_buf_text(&err));
    code = 2;
    goto done;
  }
  if (n < 2) {
    fprintf(stderr, "sluice: train: %s: %ld records; at least 2 are needed\n", sample, n);
    code = 2;
    goto done;
  }
  fprintf(stderr, "train: %ld records read and prepared\n", n);
  sl_match_train_opts o = {.random_pairs = pairs,
                           .seed = (unsigned long)seed,
                           .max_iter = (int)max_iter,
                           .progress = on_train_progress,
                           .progress_ud = &pg};
  sl_match_train_report rep;
  if (sl_match_train(&mo, &c, &s, &o, &rep)) {
    fprintf(stderr, "sluice: train: out of memory\n");
    goto done;
  }
  if (sl_match_model_write(&mo, out, &err)) {
    fprintf(stderr, "sluice: train: %.*s\n", (int)err.len, err.ptr ? err.ptr : "cannot write the model");
    goto done;
  }
  print_report(&c, &mo, &rep, n, sl_mono_ms() - t0);
  printf("\nmodel written to %s\n", out);
  code = 0;
done:
  sl_match_model_free(&mo);
  sl_match_sample_free(&s);
  sl_match_config_free(&c);
  sl_buf_free(&err);
  return code;
}
