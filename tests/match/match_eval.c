/* The matching library's evaluation driver: reads a CSV file with an id
 * column, trains a model on the file itself (or loads one), runs the
 * records through the streaming matcher (plugins/match/lib/matcher.h) in
 * file order and writes every record's entity as JSON Lines
 * {"id": ..., "entity": ...}, the entity being the id of its cluster's
 * first record.  A JSON summary (model, EM report, counts, timings, index
 * bytes per record) goes to stderr.  Everything but the CSV and the
 * command line is the library's: this is a thin driver.
 *
 *   match_eval --in F.csv --out E.jsonl [--id id] [--source source] [--link-only]
 *              [--threshold 0.99] [--cap 1000] [--random-pairs 1000000] [--seed 1]
 *              [--id-rule COL] [--preset person|company] [--field COL:KIND ...]
 *              [--model M.json | --model-out M.json] [--batch-pairs P.tsv] [--time-from N]
 *              --compare COL:LEVELS[:tf] ...  --block COL[/N][+COL[/N]...] ...
 *              [--dep A:B[:LB[:LA]] ...]
 *
 * LEVELS is a comma list tried in order: exact, jwX (Jaro-Winkler >= X),
 * dlN (Damerau-Levenshtein <= N), dlheadK (one edit within the first K
 * code points, the rest equal), jacX (2-gram Jaccard >= X), absX, relX
 * (numbers), daysN, swap (dates), pinyin, companyX, addressX.  A blocking
 * rule is columns joined by +, each maybe cut to its first N code points;
 * a record with an empty part has no key under that rule.
 * --link-only compares only records of different sources (linkage of two
 * files); --id-rule names a column of validated identifiers: equal ones
 * link, different ones never do.
 * --field COL:KIND normalises a column before matching (sl_match_prep: KIND
 * is cn_name, cn_id, uscc, date, gender, phone, address, company or text)
 * and adds its parts as columns COL.PART (name.pinyin, id_no.valid,
 * addr.county ...) that --compare, --block and --id-rule can name.
 * --preset person|company is the library's configuration for Chinese
 * residents (name, gender, birth, id_no, phone, addr) or companies (name,
 * uscc, legal_rep, phone, addr, est_date), what sl.match { preset = ... }
 * uses.  --model-out writes the trained model; --model loads one instead
 * of training.  --batch-pairs writes, for the batch definition of the
 * clusters (tests/match/test_step_shuffle.py), every pair of records that
 * share a block, scored without streaming: "i<TAB>j<TAB>rule<TAB>p" with
 * rule must, cannot or score (record numbers in file order), after a line
 * "#id<TAB>i<TAB>value" for each record with a value in the ID rule's
 * column.  --time-from N also reports the streaming rate of the records
 * after the first N (with N already indexed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matcher.h"

#define MAX_COLS 64

/* The file, its columns and its records: values point into the file's bytes. */
typedef struct table {
  char *text;
  int ncols;
  char *col[MAX_COLS];
  size_t nrec;
  sl_match_str *cell;     /* nrec * ncols */
} table;

static _Noreturn void die(const char *msg, const char *arg) {
  fprintf(stderr, "match_eval: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  exit(2);
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- CSV: RFC 4180 fields, unquoted in place ---- */

/* Parses one field at *p, unquoting it in place, and moves *p past it. */
static void csv_field(char **p, sl_match_str *out) {
  char *s = *p, *w = s, *start = s;
  if (*s == '"') {
    s++;
    for (;;) {
      if (!*s) break;
      if (*s == '"') {
        if (s[1] == '"') {
          *w++ = '"';
          s += 2;
          continue;
        }
        s++;
        break;
      }
      *w++ = *s++;
    }
  } else {
    while (*s && *s != ',' && *s != '\n' && *s != '\r') *w++ = *s++;
    w = s;
  }
  out->p = start;
  out->n = (uint32_t)(w - start);
  while (*s && *s != ',' && *s != '\n') s++;
  if (*s == ',') s++;
  *p = s;
}

static void read_table(const char *path, table *t) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  t->text = malloc((size_t)len + 1);
  if (!t->text || fread(t->text, 1, (size_t)len, f) != (size_t)len) die("cannot read", path);
  t->text[len] = 0;
  fclose(f);
  char *p = t->text;
  sl_match_str v;
  t->ncols = 0;
  while (*p && *p != '\n') {
    csv_field(&p, &v);
    if (t->ncols == MAX_COLS) die("too many columns", path);
    t->col[t->ncols++] = strndup(v.p, v.n);
  }
  if (*p == '\n') p++;
  size_t cap = 1024;
  t->cell = malloc(cap * (size_t)t->ncols * sizeof *t->cell);
  t->nrec = 0;
  while (*p) {
    if (*p == '\n' || *p == '\r') {
      p++;
      continue;
    }
    if (t->nrec == cap) {
      cap *= 2;
      t->cell = realloc(t->cell, cap * (size_t)t->ncols * sizeof *t->cell);
      if (!t->cell) die("out of memory", NULL);
    }
    sl_match_str *row = t->cell + t->nrec * (size_t)t->ncols;
    int c = 0;
    while (*p && *p != '\n') {
      sl_match_str x;
      csv_field(&p, &x);
      if (c < t->ncols) row[c++] = x;
    }
    for (; c < t->ncols; c++) row[c] = (sl_match_str){"", 0};
    if (*p == '\n') p++;
    t->nrec++;
  }
}

static int col_of(const table *t, const char *name) {
  for (int c = 0; c < t->ncols; c++)
    if (!strcmp(t->col[c], name)) return c;
  die("no such column", name);
  return -1;
}

/* ---- options ---- */

typedef struct opts {
  const char *in, *out, *id_col, *source_col, *model_in, *model_out, *batch_pairs;
  long time_from;         /* --time-from N: also time the records after the first N */
  double threshold;
  long cap;
  sl_match_train_opts train;
  sl_match_config cfg;
} opts;

static void check(int rc, sl_buf *err, const char *what) {
  if (!rc) return;
  sl_buf_putc(err, 0);
  die(err->ptr ? err->ptr : sl_strerror(rc), what);
}

static void parse_compare(opts *o, const char *spec) {
  char *s = strdup(spec), *save = NULL;
  char *col = strtok_r(s, ":", &save), *levels = strtok_r(NULL, ":", &save),
       *flag = strtok_r(NULL, ":", &save);
  if (!col || !levels) die("--compare wants COL:LEVELS[:tf]", spec);
  const char *lv[SL_MATCH_MAX_LEVELS + 1];
  int n = 0;
  for (char *l = strtok_r(levels, ",", &save); l; l = strtok_r(NULL, ",", &save)) {
    if (n == SL_MATCH_MAX_LEVELS + 1) die("too many levels", col);
    lv[n++] = l;
  }
  sl_buf err = SL_BUF_INIT;
  check(sl_match_config_compare(&o->cfg, col, lv, n, flag && !strcmp(flag, "tf"), &err), &err, spec);
  free(s);
}

static void parse_field(opts *o, const char *spec) {
  const char *colon = strchr(spec, ':');
  sl_match_kind k;
  if (!colon || sl_match_kind_parse(colon + 1, &k)) die("--field wants COL:KIND", spec);
  char *col = strndup(spec, (size_t)(colon - spec));
  if (sl_match_config_input(&o->cfg, col, k)) die("too many --field", spec);
  free(col);
}

static void parse_opt(opts *o, const char *a, const char *v) {
  sl_buf err = SL_BUF_INIT;
  if (!strcmp(a, "--in")) o->in = v;
  else if (!strcmp(a, "--out")) o->out = v;
  else if (!strcmp(a, "--id")) o->id_col = v;
  else if (!strcmp(a, "--source")) o->source_col = v;
  else if (!strcmp(a, "--id-rule")) sl_match_config_id_rule(&o->cfg, v);
  else if (!strcmp(a, "--threshold")) o->cfg.link = o->cfg.review = atof(v);
  else if (!strcmp(a, "--cap")) o->cfg.block_cap = (uint32_t)atol(v);
  else if (!strcmp(a, "--random-pairs")) o->train.random_pairs = atol(v);
  else if (!strcmp(a, "--seed")) o->train.seed = strtoul(v, NULL, 10);
  else if (!strcmp(a, "--model")) o->model_in = v;
  else if (!strcmp(a, "--model-out")) o->model_out = v;
  else if (!strcmp(a, "--batch-pairs")) o->batch_pairs = v;
  else if (!strcmp(a, "--time-from")) o->time_from = atol(v);
  else if (!strcmp(a, "--compare")) parse_compare(o, v);
  else if (!strcmp(a, "--field")) parse_field(o, v);
  else if (!strcmp(a, "--preset")) check(sl_match_config_preset(&o->cfg, v, &err), &err, v);
  else if (!strcmp(a, "--block")) check(sl_match_config_block(&o->cfg, v, &err), &err, v);
  else if (!strcmp(a, "--dep")) check(sl_match_config_dep(&o->cfg, v, &err), &err, v);
  else die("unknown option", a);
  sl_buf_free(&err);
}

/* ---- the batch definition's pairs ---- */

/* Every pair of records sharing a key (blocks within the cap), each once,
 * scored with the model: no index, no streaming, no clusters. */
static void batch_pairs(const opts *o, const table *t, sl_match_str *const *inputs,
                        const sl_match_model *mo, const char *path) {
  const sl_match_config *c = &o->cfg;
  size_t n = t->nrec;
  typedef struct { uint64_t key; uint32_t rec; } entry;
  entry *e = malloc(n * SL_MATCH_MAX_BLOCKS * sizeof *e);
  sl_match_str *vals = malloc(n * SL_MATCH_MAX_FIELDS * sizeof *vals);
  sl_match_str *ids = malloc(n * sizeof *ids);
  sl_match_sample s;
  sl_match_sample_init(&s, c);
  sl_match_prepared p = {0};
  size_t ne = 0;
  if (!e || !vals || !ids) die("out of memory", NULL);
  for (size_t i = 0; i < n; i++) {
    sl_match_prepare(c, inputs[i], &p);
    for (int k = 0; k < p.nkeys; k++) e[ne++] = (entry){p.key[k], (uint32_t)i};
    if (sl_match_sample_add(&s, &p, 0)) die("out of memory", NULL);
  }
  for (size_t i = 0; i < n; i++) {
    sl_match_store_fields(&s.st, c, i, vals + i * SL_MATCH_MAX_FIELDS);
    sl_match_str col[SL_MATCH_MAX_COLS];
    sl_match_store_get(&s.st, i, c->ncols, col, NULL, 0);
    ids[i] = c->id_col >= 0 ? col[c->id_col] : (sl_match_str){"", 0};
  }
  /* Sort the entries by key (insertion order kept within a key by rec). */
  for (size_t gap = ne / 2; gap; gap /= 2)   /* shell sort: no comparator closure needed */
    for (size_t i = gap; i < ne; i++)
      for (size_t j = i; j >= gap && (e[j - gap].key > e[j].key ||
                                      (e[j - gap].key == e[j].key && e[j - gap].rec > e[j].rec)); j -= gap) {
        entry x = e[j];
        e[j] = e[j - gap];
        e[j - gap] = x;
      }
  FILE *f = fopen(path, "w");
  if (!f) die("cannot write", path);
  for (size_t i = 0; i < n; i++)
    if (ids[i].n) fprintf(f, "#id\t%zu\t%.*s\n", i, (int)ids[i].n, ids[i].p);
  sl_match_counts seen = {0};
  sl_match_scratch sc = {0};
  for (size_t a = 0; a < ne;) {
    size_t b = a;
    while (b < ne && e[b].key == e[a].key) b++;
    if (!c->block_cap || b - a < c->block_cap)
      for (size_t x = a; x < b; x++)
        for (size_t y = a; y < x; y++) {
          uint32_t i = e[y].rec, j = e[x].rec;
          uint64_t pk = ((uint64_t)i << 32 | j) + 1;
          if (sl_match_counts_get(&seen, pk)) continue;
          sl_match_counts_add(&seen, pk, 1);
          sl_match_rule r = sl_match_id_rule(ids[i], ids[j]);
          double pr = 1;
          if (r == SL_MATCH_SCORE) {
            int8_t g[SL_MATCH_MAX_FIELDS];
            sl_match_gamma(mo, vals + j * SL_MATCH_MAX_FIELDS, vals + i * SL_MATCH_MAX_FIELDS, g, &sc);
            pr = sl_match_probability(sl_match_weight(mo, g, vals + j * SL_MATCH_MAX_FIELDS, NULL));
          }
          fprintf(f, "%u\t%u\t%s\t%.17g\n", i, j,
                  r == SL_MATCH_MUST ? "must" : r == SL_MATCH_CANNOT ? "cannot" : "score", pr);
        }
    a = b;
  }
  fclose(f);
  sl_match_counts_free(&seen);
  sl_match_scratch_free(&sc);
  sl_match_prepared_free(&p);
  sl_match_sample_free(&s);
  free(e);
  free(vals);
  free(ids);
}

static void print_model(const sl_match_model *mo, FILE *f) {
  fprintf(f, "  \"model\": {\"lambda\": %.6g, \"fields\": [", mo->lambda);
  for (int x = 0; x < mo->nfields; x++) {
    fprintf(f, "%s\n    {\"field\": \"%s\", \"levels\": [", x ? "," : "", mo->field[x].name);
    for (int l = 0; l <= mo->field[x].nlevels; l++) {
      sl_buf name = SL_BUF_INIT;
      sl_match_level_name(&mo->field[x], l, &name);
      fprintf(f, "%s{\"level\": \"%.*s\", \"m\": %.4g, \"u\": %.4g}", l ? ", " : "",
              (int)name.len, name.ptr, mo->m[x][l], mo->u[x][l]);
      sl_buf_free(&name);
    }
    fprintf(f, "]}");
  }
  fprintf(f, "]},\n");
}

int main(int argc, char **argv) {
  opts o = {.id_col = "id", .train = {.random_pairs = 1000000, .seed = 1}};
  sl_match_config_init(&o.cfg);
  o.cfg.link = o.cfg.review = 0.99;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--link-only")) o.cfg.link_only = 1;
    else if (i + 1 == argc) die("missing value for", argv[i]);
    else parse_opt(&o, argv[i], argv[i + 1]), i++;
  }
  if (!o.in || !o.out || !o.cfg.nfields || !o.cfg.nblocks)
    die("--in, --out, --compare and --block are required", NULL);
  sl_buf err = SL_BUF_INIT;
  check(sl_match_config_finish(&o.cfg, &err), &err, "configuration");
  const sl_match_config *c = &o.cfg;

  table t = {0};
  read_table(o.in, &t);
  int idc = col_of(&t, o.id_col), srcc = o.source_col ? col_of(&t, o.source_col) : -1;
  int incol[SL_MATCH_MAX_INPUTS];
  for (int i = 0; i < c->ninputs; i++) incol[i] = col_of(&t, c->input[i]);
  /* Each record's inputs, in the configuration's order. */
  sl_match_str **inputs = malloc(t.nrec * sizeof *inputs);
  sl_match_str *inbuf = malloc(t.nrec * (size_t)(c->ninputs ? c->ninputs : 1) * sizeof *inbuf);
  if (!inputs || !inbuf) die("out of memory", NULL);
  for (size_t r = 0; r < t.nrec; r++) {
    inputs[r] = inbuf + r * (size_t)c->ninputs;
    for (int i = 0; i < c->ninputs; i++) inputs[r][i] = t.cell[r * (size_t)t.ncols + incol[i]];
  }
  /* The source of a record is its group (--link-only): the first record's
   * source is group 0, any other 1, as the count of pairs assumes. */
  sl_match_str src0 = srcc >= 0 && t.nrec ? t.cell[srcc] : (sl_match_str){"", 0};

  sl_match_model mo;
  sl_match_config_model(c, &mo);
  sl_match_train_report rep = {0};
  double tp = now(), t0 = tp, tp1 = tp;
  if (o.model_in) {
    check(sl_match_model_read(&mo, o.model_in, &err), &err, o.model_in);
    tp1 = t0 = now();
  } else {
    /* Training on the file itself. */
    sl_match_sample s;
    sl_match_sample_init(&s, c);
    sl_match_prepared p = {0};
    for (size_t r = 0; r < t.nrec; r++) {
      sl_match_prepare(c, inputs[r], &p);
      sl_match_str sv = srcc >= 0 ? t.cell[r * (size_t)t.ncols + srcc] : src0;
      uint32_t g = sv.n == src0.n && !memcmp(sv.p, src0.p, sv.n) ? 0 : 1;
      if (sl_match_sample_add(&s, &p, g)) die("out of memory", NULL);
    }
    tp1 = t0 = now();
    if (sl_match_train(&mo, c, &s, &o.train, &rep)) die("out of memory", NULL);
    sl_match_prepared_free(&p);
    sl_match_sample_free(&s);
  }
  if (o.model_out) check(sl_match_model_write(&mo, o.model_out, &err), &err, o.model_out);
  double t1 = now();
  if (o.batch_pairs) batch_pairs(&o, &t, inputs, &mo, o.batch_pairs);

  /* Streaming: each record against those indexed before it, then indexed. */
  double ts = now();
  sl_match *m = sl_match_new(c, &mo);
  if (!m) die("out of memory", NULL);
  sl_match_result res;
  double tf0 = ts, cf0 = cpu_now();
  for (size_t r = 0; r < t.nrec; r++) {
    if (o.time_from && r == (size_t)o.time_from) {
      tf0 = now();
      cf0 = cpu_now();
    }
    sl_match_str sv = srcc >= 0 ? t.cell[r * (size_t)t.ncols + srcc] : src0;
    int other = !(sv.n == src0.n && !memcmp(sv.p, src0.p, sv.n));
    sl_match_in in = {.dept = {other ? "1" : "0", 1}, .feed = {"", 0},
                      .src_id = t.cell[r * (size_t)t.ncols + idc], .value = inputs[r]};
    if (sl_match_add(m, &in, &res)) die("out of memory", NULL);
  }
  double t2 = now(), c2 = cpu_now();

  /* The entity of a record: the id of its cluster's first record. */
  sl_match_counts first = {0};
  FILE *out = fopen(o.out, "w");
  if (!out) die("cannot write", o.out);
  sl_buf line = SL_BUF_INIT;
  for (size_t r = 0; r < t.nrec; r++) {
    if (!sl_match_live(m, (uint32_t)r)) continue;   /* superseded: its update says where the record is */
    uint64_t e = sl_match_entity(m, (uint32_t)r);
    if (!sl_match_counts_get(&first, e)) sl_match_counts_add(&first, e, r + 1);
    sl_match_str id = t.cell[r * (size_t)t.ncols + idc];
    sl_match_str ent = t.cell[(sl_match_counts_get(&first, e) - 1) * (size_t)t.ncols + idc];
    line.len = 0;
    sl_buf_puts(&line, "{\"id\":");
    sl_buf_json_string(&line, id.p, id.n);
    sl_buf_puts(&line, ",\"entity\":");
    sl_buf_json_string(&line, ent.p, ent.n);
    sl_buf_puts(&line, "}\n");
    fwrite(line.ptr, 1, line.len, out);
  }
  fclose(out);

  sl_match_stats st;
  sl_match_stats_get(m, &st);
  fprintf(stderr, "{\n");
  print_model(sl_match_get_model(m), stderr);
  fprintf(stderr,
          "  \"em\": {\"iterations\": %d, \"converged\": %d, \"max_change\": %.3g, \"loglik\": %.6g, "
          "\"candidates_lambda\": %.6g, \"candidate_pairs\": %llu, \"must\": %llu, \"cannot\": %llu, "
          "\"patterns\": %zu, \"random_pairs\": %llu, \"loaded\": %d},\n",
          rep.em.iterations, o.model_in ? 1 : rep.em.converged, rep.em.max_change, rep.em.loglik,
          rep.em.lambda, (unsigned long long)rep.candidate_pairs, (unsigned long long)rep.must,
          (unsigned long long)rep.cannot, rep.patterns, (unsigned long long)rep.random_pairs,
          o.model_in != NULL);
  fprintf(stderr,
          "  \"records\": %zu, \"pairs_scored\": %llu, \"links\": %llu, \"cannot_links\": %llu, "
          "\"refused_unions\": %llu, \"entities\": %zu,\n",
          t.nrec, (unsigned long long)st.pairs, (unsigned long long)st.links,
          (unsigned long long)st.cannot, (unsigned long long)st.refused, first.used);
  fprintf(stderr,
          "  \"index\": {\"keys\": %llu, \"postings\": %llu, \"capped_blocks\": %llu, "
          "\"capped_hits\": %llu, \"bytes\": %llu, \"bytes_per_record\": %.1f},\n"
          "  \"matcher_bytes_per_record\": %.1f,\n",
          (unsigned long long)st.index.keys, (unsigned long long)st.index.postings,
          (unsigned long long)st.index.capped_blocks, (unsigned long long)st.index.capped_hits,
          (unsigned long long)st.index.bytes, t.nrec ? (double)st.index.bytes / (double)t.nrec : 0.0,
          t.nrec ? (double)st.bytes / (double)t.nrec : 0.0);
  if (o.time_from && (size_t)o.time_from < t.nrec)
    fprintf(stderr, "  \"records_per_s_after_%ld\": %.0f, \"records_per_cpu_s_after\": %.0f,\n", o.time_from,
            (double)(t.nrec - (size_t)o.time_from) / (t2 - tf0),
            (double)(t.nrec - (size_t)o.time_from) / (c2 - cf0));
  fprintf(stderr, "  \"prep_s\": %.3f, \"train_s\": %.3f, \"stream_s\": %.3f, \"stream_records_per_s\": %.0f\n}\n",
          tp1 - tp, t1 - t0, t2 - ts, (t2 > ts) ? (double)t.nrec / (t2 - ts) : 0.0);

  sl_buf_free(&line);
  sl_buf_free(&err);
  sl_match_counts_free(&first);
  sl_match_free(m);
  sl_match_config_free(&o.cfg);
  free(inputs);
  free(inbuf);
  for (int k = 0; k < t.ncols; k++) free(t.col[k]);
  free(t.cell);
  free(t.text);
  return 0;
}
