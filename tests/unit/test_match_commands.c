/* The sl.match step's commands and checks: `sluice train` (model written,
 * EM converges, the same seed gives the same file), `sluice explain` (its
 * numbers are the matcher's sl_match_explain for the same pair; the SVG is
 * well-formed XML with one bar per field), `sluice check` (a model that
 * does not fit, a missing one: rejected with the pipeline's file and line
 * and the model's), and the error of a streaming step without a model.
 * Each runs on a pipeline and a seeded sample written to a temporary
 * folder; the commands' standard output and the log are read back from
 * files. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/pipeline.h"
#include "engine/stage.h"
#include "sluice/log.h"
#include "match_step.h"
#include "test.h"

static const sl_option no_options[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};
static const sl_plugin fake_source = {.abi = SL_PLUGIN_ABI, .kind = SL_SOURCE, .name = "fake.source", .options = no_options};
static const sl_plugin fake_sink = {.abi = SL_PLUGIN_ABI, .kind = SL_SINK, .name = "fake.sink", .options = no_options};
extern const sl_plugin match_plugin;
extern const sl_lua_lib match_lua_lib;
static const sl_plugin *const plugins[] = {&fake_source, &fake_sink, &match_plugin, NULL};
static const sl_lua_lib *const libs[] = {&match_lua_lib, NULL};

static char dir[64];

static void path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void write_text(const char *name, const char *text) {
  char p[256];
  path(p, sizeof p, name);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
}

/* The whole of a file, NUL-terminated (free it); NULL if absent. */
static char *slurp(const char *p) {
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  sl_buf b = SL_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&b, chunk, n);
  fclose(f);
  sl_buf_putc(&b, 0);
  return sl_buf_steal(&b, NULL);
}

static const char pipeline_fmt[] =
    "local sl = require \"sluice\"\n"
    "return sl.pipeline {\n"
    "  name    = \"cmds\",\n"
    "  sources = { sl.fake.source {} },\n"
    "  steps   = {\n"
    "    sl.match { domain = \"person\", identity = { id = \"id\" },\n"
    "               compare = { name = { \"exact\", \"jw0.8\" }, dob = { %s }, phone = { \"exact\" } },\n"
    "               block = { \"dob\", \"name\" }, %s },\n"
    "  },\n"
    "  sinks   = { sl.fake.sink {} },\n"
    "  dlq     = sl.fake.sink {},\n"
    "}\n";

static void write_pipeline(const char *name, const char *dob_levels, const char *model) {
  char text[2048];
  snprintf(text, sizeof text, pipeline_fmt, dob_levels, model);
  write_text(name, text);
}

/* 600 people, 2 or 3 records each, some with a typo in the name or
 * another phone: a sample EM can learn from (seeded, the same each run). */
static void write_sample(void) {
  char p[256];
  path(p, sizeof p, "sample.jsonl");
  FILE *f = fopen(p, "w");
  unsigned s = 12345;
  static const char *given[] = {"wei", "fang", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong"};
  static const char *family[] = {"wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou",
                                 "xu", "sun", "ma", "zhu", "hu", "guo", "he", "gao", "lin", "luo"};
  long id = 0;
  for (int person = 0; person < 600; person++) {
    s = s * 1103515245u + 12345u;
    const char *fam = family[(s >> 8) % 20], *giv = given[(s >> 16) % 10];
    int year = 1950 + (int)((s >> 4) % 60), month = 1 + (int)((s >> 12) % 12), day = 1 + (int)((s >> 20) % 28);
    long phone = 13000000000L + (long)((s >> 3) % 999999937u);
    int copies = 2 + (int)((s >> 24) % 2);
    for (int k = 0; k < copies; k++) {
      s = s * 1103515245u + 12345u;
      char name[64];
      snprintf(name, sizeof name, "%s %s%s", fam, giv, (s >> 10) % 7 == 0 ? "g" : "");
      long ph = (s >> 14) % 5 == 0 ? phone + 1 + (long)(s % 1000) : phone;
      fprintf(f, "{\"id\":\"r%ld\",\"name\":\"%s\",\"dob\":\"%04d-%02d-%02d\",\"phone\":\"%ld\"}\n", ++id, name, year,
              month, day, ph);
    }
  }
  fclose(f);
}

/* Runs `sluice NAME PIPELINE args...` with its standard output and the log
 * going to files; the exit code. */
static int command(const char *name, const char *pipeline, const char *const *args, const char *out_file) {
  char pp[256], op[256], lp[256];
  path(pp, sizeof pp, pipeline);
  path(op, sizeof op, out_file);
  path(lp, sizeof lp, "log.txt");
  char *argv[16] = {(char *)name};
  int argc = 1;
  for (; args && args[argc - 1]; argc++) argv[argc] = (char *)args[argc - 1];
  fflush(stdout);
  int saved = dup(1), saved_err = dup(2), fd = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int lfd = open(lp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fd, 1);
  dup2(lfd, 2);
  sl_log_setup(SL_LOG_WARN, SL_LOG_TEXT, 2);
  sl_run_opts o = {.file = pp, .check_only = 1};
  int rc = strcmp(name, "check") == 0 ? sl_pipeline_main(&o) : sl_pipeline_command(&o, name, NULL, argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(saved, 1);
  dup2(saved_err, 2);
  close(saved);
  close(saved_err);
  close(fd);
  close(lfd);
  return rc;
}

static char *file_text(const char *name) {
  char p[256];
  path(p, sizeof p, name);
  return slurp(p);
}

TEST(train_writes_a_model_that_converges_and_the_same_seed_gives_the_same_file) {
  write_pipeline("p.lua", "\"exact\"", "model = \"model.json\"");
  char sample[256];
  path(sample, sizeof sample, "sample.jsonl");
  const char *a1[] = {sample, "--random-pairs", "50000", "--seed", "7", NULL};
  ASSERT_EQ(command("train", "p.lua", a1, "train.txt"), 0);
  char *report = file_text("train.txt"), *m1 = file_text("model.json");
  ASSERT(report && m1);
  if (!strstr(report, "trained on 1") || !strstr(report, "converged after")) TEST_FAIL_AT("report:\n%s", report);
  ASSERT(strstr(report, "model written to"));
  const char *a2[] = {sample, "--random-pairs", "50000", "--seed", "7", "--out", "again.json", NULL};
  char again[256];
  path(again, sizeof again, "again.json");
  /* --out is relative to where sluice runs: give it the folder. */
  a2[6] = again;
  ASSERT_EQ(command("train", "p.lua", a2, "train2.txt"), 0);
  char *m2 = slurp(again);
  ASSERT(m2);
  ASSERT_STR_EQ(m1, m2);
  const char *a3[] = {sample, "--random-pairs", "50000", "--seed", "8", "--out", again, NULL};
  ASSERT_EQ(command("train", "p.lua", a3, "train3.txt"), 0);
  char *m3 = slurp(again);
  ASSERT(m3 && strcmp(m1, m3) != 0);   /* another seed, other random pairs */
  free(report);
  free(m1);
  free(m2);
  free(m3);
}

/* The number after label on the line that starts with it. */
static double number_after(const char *text, const char *label) {
  const char *p = strstr(text, label);
  return p ? strtod(p + strlen(label), NULL) : NAN;
}

/* The sample as CSV (the same values, as strings): the same model. */
TEST(train_reads_csv_as_it_reads_json_lines) {
  char jp[256], cp[256], model[256];
  path(jp, sizeof jp, "sample.jsonl");
  path(cp, sizeof cp, "sample.csv");
  path(model, sizeof model, "from-csv.json");
  FILE *in = fopen(jp, "r"), *out = fopen(cp, "w");
  ASSERT(in && out);
  fputs("id,name,dob,phone\n", out);
  char line[512], id[32], name[64], dob[32], phone[32];
  while (fgets(line, sizeof line, in))
    if (sscanf(line, "{\"id\":\"%31[^\"]\",\"name\":\"%63[^\"]\",\"dob\":\"%31[^\"]\",\"phone\":\"%31[^\"]\"}", id, name,
               dob, phone) == 4)
      fprintf(out, "%s,%s,%s,%s\n", id, name, dob, phone);
  fclose(in);
  fclose(out);
  const char *args[] = {cp, "--random-pairs", "50000", "--seed", "7", "--out", model, NULL};
  ASSERT_EQ(command("train", "p.lua", args, "train-csv.txt"), 0);
  char *a = file_text("model.json"), *b = slurp(model);
  ASSERT(a && b);
  ASSERT_STR_EQ(a, b);
  free(a);
  free(b);
}

TEST(explain_gives_the_matchers_numbers_and_a_waterfall) {
  static const char *ra = "{\"id\":\"a\",\"name\":\"wang wei\",\"dob\":\"1980-01-02\",\"phone\":\"13000000001\"}";
  static const char *rb = "{\"id\":\"b\",\"name\":\"wang weig\",\"dob\":\"1980-01-02\",\"phone\":\"13900000000\"}";
  char svg[256];
  path(svg, sizeof svg, "w.svg");
  const char *args[] = {ra, rb, "--svg", svg, NULL};
  ASSERT_EQ(command("explain", "p.lua", args, "explain.txt"), 0);
  char *out = file_text("explain.txt");
  ASSERT(out);

  /* The matcher's own explanation of the same pair. */
  sl_pipeline *p = calloc(1, sizeof *p);
  char pp[256];
  path(pp, sizeof pp, "p.lua");
  sl_run_opts o = {.file = pp, .check_only = 1};
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(sl__pipeline_load(p, &o, &err), 0);
  sl_match_config c;
  const char *model;
  ASSERT_EQ(match_step_setup(p->steps[0], &c, &model, &err), 0);
  sl_match_model mo;
  sl_match_model_init(&mo, c.field, c.nfields);
  ASSERT_EQ(sl_match_model_read(&mo, model, &err), 0);
  sl_match *m = sl_match_new(&c, &mo);
  sl_match_str va[3] = {{"wang wei", 8}, {"1980-01-02", 10}, {"13000000001", 11}};
  sl_match_str vb[3] = {{"wang weig", 9}, {"1980-01-02", 10}, {"13900000000", 11}};
  /* The inputs in the configuration's order. */
  sl_match_str ia[SL_MATCH_MAX_INPUTS], ib[SL_MATCH_MAX_INPUTS];
  static const char *names[3] = {"name", "dob", "phone"};
  for (int i = 0; i < c.ninputs; i++)
    for (int k = 0; k < 3; k++)
      if (!strcmp(c.input[i], names[k])) ia[i] = va[k], ib[i] = vb[k];
  sl_match_in in_a = {.dept = {"d", 1}, .feed = {"f", 1}, .src_id = {"a", 1}, .value = ia};
  sl_match_in in_b = {.dept = {"d", 1}, .feed = {"f", 1}, .src_id = {"b", 1}, .value = ib};
  sl_match_result r;
  ASSERT_EQ(sl_match_add(m, &in_a, &r), 0);
  uint32_t sa = r.slot;
  ASSERT_EQ(sl_match_add(m, &in_b, &r), 0);
  sl_match_explanation e;
  sl_match_explain(m, sa, r.slot, &e);

  ASSERT_NEAR(number_after(out, "match weight "), e.weight, 0.005);
  ASSERT_NEAR(number_after(out, "(prior)"), e.prior, 0.005);
  double total = e.prior;
  for (int f = 0; f < e.nfields; f++) {
    /* "name  A  B  level  m  u  weight  tf  dep  total": the last four numbers. */
    char label[64];
    snprintf(label, sizeof label, "\n%s ", c.field[f].name);
    const char *line = strstr(out, label);
    ASSERT(line);
    const char *eol = strchr(line + 1, '\n');
    const char *q = eol;
    double v[4];
    for (int k = 3; k >= 0; k--) {
      while (q > line && q[-1] == ' ') q--;
      while (q > line && q[-1] != ' ') q--;
      v[k] = strtod(q, NULL);
    }
    total += e.term[f].weight + e.term[f].tf_adjust + e.term[f].dep_adjust;
    ASSERT_NEAR(v[0], e.term[f].weight, 0.005);
    ASSERT_NEAR(v[1], e.term[f].tf_adjust, 0.005);
    ASSERT_NEAR(v[2], e.term[f].dep_adjust, 0.005);
    ASSERT_NEAR(v[3], total, 0.005);
  }
  ASSERT(strstr(out, "decision"));
  sl_match_free(m);
  sl_match_config_free(&c);
  sl_buf_free(&err);
  sl__pipeline_unload(p);

  /* The SVG: well-formed, one bar per field (and the prior and the final). */
  char cmd[512];
  snprintf(cmd, sizeof cmd,
           "python3 -c \"import sys, xml.etree.ElementTree as E; t = E.parse(sys.argv[1]); "
           "r = [x for x in t.iter('{http://www.w3.org/2000/svg}rect') if x.get('class') == 'field']; "
           "sys.exit(0 if len(r) == int(sys.argv[2]) else 1)\" %s %d",
           svg, e.nfields);
  ASSERT_EQ(system(cmd), 0);
  free(out);
}

TEST(explain_of_one_record_shows_its_blocking_keys) {
  const char *args[] = {"{\"id\":\"a\",\"name\":\"wang wei\",\"dob\":\"1980-01-02\"}", NULL};
  ASSERT_EQ(command("explain", "p.lua", args, "one.txt"), 0);
  char *out = file_text("one.txt");
  ASSERT(out);
  if (!strstr(out, "blocking keys") || !strstr(out, "1980-01-02") || !strstr(out, "does not hold"))
    TEST_FAIL_AT("output:\n%s", out);
  free(out);
}

TEST(check_rejects_a_model_that_does_not_fit_with_file_line_and_field) {
  /* The model has dob with one level (exact); this configuration two. */
  write_pipeline("misfit.lua", "\"exact\", \"swap\"", "model = \"model.json\"");
  ASSERT_EQ(command("check", "misfit.lua", NULL, "check.txt"), 2);
  char *log = file_text("log.txt");
  ASSERT(log);
  if (!strstr(log, "misfit.lua:6: model: ") || !strstr(log, "model.json:") || !strstr(log, "field 'dob'"))
    TEST_FAIL_AT("log:\n%s", log);
  free(log);
}

TEST(check_rejects_a_missing_model_file) {
  write_pipeline("missing.lua", "\"exact\"", "model = \"absent.json\"");
  ASSERT_EQ(command("check", "missing.lua", NULL, "check.txt"), 2);
  char *log = file_text("log.txt");
  ASSERT(log);
  if (!strstr(log, "missing.lua:6: model: ") || !strstr(log, "absent.json")) TEST_FAIL_AT("log:\n%s", log);
  free(log);
}

TEST(a_streaming_step_without_a_model_is_an_error_pointing_to_train) {
  write_pipeline("nomodel.lua", "\"exact\"", "link = 0.99");
  ASSERT_EQ(command("check", "nomodel.lua", NULL, "check.txt"), 2);
  char *log = file_text("log.txt");
  ASSERT(log);
  if (!strstr(log, "nomodel.lua:6: model: required") || !strstr(log, "sluice train")) TEST_FAIL_AT("log:\n%s", log);
  free(log);
  write_pipeline("final.lua", "\"exact\"", "final = true");   /* a batch job may train on its input */
  ASSERT_EQ(command("check", "final.lua", NULL, "check.txt"), 0);
}

static void setup(void) {
  sl__registry_init(plugins, libs);
  snprintf(dir, sizeof dir, "/tmp/sluice-match-cmds-XXXXXX");
  if (!mkdtemp(dir)) abort();
  write_sample();
}

#define main tests_main
RUN_TESTS(train_writes_a_model_that_converges_and_the_same_seed_gives_the_same_file,
          train_reads_csv_as_it_reads_json_lines,
          explain_gives_the_matchers_numbers_and_a_waterfall, explain_of_one_record_shows_its_blocking_keys,
          check_rejects_a_model_that_does_not_fit_with_file_line_and_field, check_rejects_a_missing_model_file,
          a_streaming_step_without_a_model_is_an_error_pointing_to_train)
#undef main

int main(void) {
  setup();
  int rc = tests_main();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (!rc && system(cmd)) rc = 1;
  return rc;
}
