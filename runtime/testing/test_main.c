/* `sluice test [PATH...]`: finds the test files, runs their cases, prints
 * one line per case (and the diff of a failure), a summary, JUnit XML for
 * CI, and with --coverage the lines of the pipelines' Lua that ran. */
#include <dirent.h>
#include <ftw.h>
#include <getopt.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sluice/clock.h"
#include "sluice/log.h"
#include "testing/testing.h"

static const char test_help[] =
    "usage: sluice test [options] [PATH...]\n"
    "\n"
    "Runs the test files of pipelines: NAME_test.lua beside NAME.lua returns\n"
    "test.suite { cases = {...} } (require \"sluice.test\"; docs/testing-pipelines.md).\n"
    "Each case loads the pipeline as `sluice run` does, with in-memory sources that\n"
    "give the case's input records and in-memory sinks that keep what reaches them\n"
    "(the dead-letter sink too): no Kafka nor PostgreSQL is needed.  A PATH is a test\n"
    "file, a pipeline (its NAME_test.lua), or a folder (every *_test.lua in it, at any\n"
    "depth, folders whose name starts with '.' left out); none: the current folder.\n"
    "\n"
    "options:\n"
    "  --format text|junit   text (default), or JUnit XML on standard output (the\n"
    "                        lines of text then go to standard error)\n"
    "  --junit FILE          write JUnit XML to FILE as well\n"
    "  --run TEXT            only the cases whose name contains TEXT\n"
    "  --coverage            after the cases, the lines of each Lua file in the\n"
    "                        pipelines' folders that ran, of those that can run\n"
    "  --coverage-out FILE   write that coverage as LCOV to FILE (genhtml reads it)\n"
    "  --workers N           worker threads per pipeline (default 1)\n"
    "  --log-level LEVEL     the pipelines' log on standard error (default error)\n"
    "\n"
    "exit status: 0 every case passed, 1 a case failed, 2 an invalid test file or usage,\n"
    "130 stopped by SIGINT or SIGTERM (the case running is reported as interrupted)\n";

typedef struct result {
  char *file, *name, *why;
  sl_test_verdict verdict;
  int invalid;                /* the file itself: not a case */
  int64_t ms;
} result;

typedef struct runner {
  FILE *text;                 /* where the lines of text go */
  const char *run_filter;
  sl_test_opts opts;
  result *results;
  size_t n, cap;
  char **dirs;                /* the folders of the pipelines run (coverage) */
  size_t ndirs;
  size_t lost;                /* results that could not be kept (out of memory) */
} runner;

/* ---- results ---- */

static void add_result(runner *r, const char *file, const char *name, sl_test_verdict v, int invalid,
                       int64_t ms, const char *why) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 32;
    result *g = realloc(r->results, cap * sizeof *g);
    if (!g) {
      r->lost++;
      return;
    }
    r->results = g;
    r->cap = cap;
  }
  /* A result kept without its file name could not be reported: counted as
   * lost, it fails the run rather than passing it. */
  char *f = strdup(file);
  if (!f) {
    r->lost++;
    return;
  }
  r->results[r->n++] = (result){f, name ? strdup(name) : NULL, why && *why ? strdup(why) : NULL,
                                v, invalid, ms};
}

static void print_indented(FILE *f, const char *text) {
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    fprintf(f, "      %.*s\n", (int)n, p);
    p = nl ? nl + 1 : p + n;
  }
}

/* ---- one test file ---- */

static void remember_dir(runner *r, const char *pipeline) {
  char real[PATH_MAX];
  if (!realpath(pipeline, real)) return;
  char *slash = strrchr(real, '/');
  if (slash) *slash = 0;
  for (size_t i = 0; i < r->ndirs; i++)
    if (strcmp(r->dirs[i], real) == 0) return;
  char **g = realloc(r->dirs, (r->ndirs + 2) * sizeof *g);
  if (!g) return;
  r->dirs = g;
  r->dirs[r->ndirs] = NULL;
  char *dir = strdup(real);
  if (!dir) return;   /* only coverage's file list misses it */
  r->dirs[r->ndirs++] = dir;
  r->dirs[r->ndirs] = NULL;
}

/* The pipeline the suite at idx tests: its `pipeline`, relative to the
 * test file, else the test file's name without _test. */
static char *pipeline_of(lua_State *L, int idx, const char *file) {
  sl_buf b = SL_BUF_INIT;
  const char *slash = strrchr(file, '/');
  size_t dirlen = slash ? (size_t)(slash - file) + 1 : 0;
  lua_getfield(L, idx, "pipeline");
  if (lua_isstring(L, -1)) {
    const char *p = lua_tostring(L, -1);
    if (p[0] == '/') sl_buf_puts(&b, p);
    else sl_buf_printf(&b, "%.*s%s", (int)dirlen, file, p);
  } else {
    size_t n = strlen(file);
    sl_buf_printf(&b, "%.*s.lua", (int)(n - 9), file);   /* NAME_test.lua → NAME.lua */
  }
  lua_pop(L, 1);
  return sl_buf_steal(&b, NULL);
}

/* test.suite as the test file calls it: the Lua one (upvalue 1) given the
 * place of the call in the test file ("file_test.lua:2: "), which a Lua
 * function called as `return test.suite {...}`, a tail call, could not
 * know. */
static int suite_where(lua_State *L) {
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  sl__lua_where(L);
  lua_call(L, 2, 1);
  return 1;
}

/* require "sluice.test", with its suite wrapped by suite_where: the module.
 * Run protected: naming the module and making the closure allocate. */
static int open_test_module(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "sluice.test");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "suite");
  lua_pushcclosure(L, suite_where, 1);
  lua_setfield(L, -2, "suite");
  return 1;
}

static sl_lua *runner_state(const char *file, sl_buf *err) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  const char *lua_dir = getenv("SLUICE_LUA_DIR");
  const char *search[] = {dir, lua_dir && *lua_dir ? lua_dir : SLUICE_LUA_DIR, NULL};
  sl_lua_limits lim = {.memory_bytes = (size_t)512 << 20, .call_ms = 60000};
  sl_lua_grants none = {0};
  sl_lua *s = sl_lua_new(&lim, &none, search);
  if (!s) {
    sl_buf_puts(err, "out of memory");
    return NULL;
  }
  sl_config_ctx ctx = {.pipeline_dir = dir, .search_path = search};
  lua_State *L = sl_lua_state(s);
  if (sl_config_open(L, &ctx, err)) {
    sl_lua_free(s);
    return NULL;
  }
  lua_pushcfunction(L, open_test_module);   /* a light function: allocates nothing */
  if (sl_lua_pcall(s, 0, 1, err, NULL)) {
    sl_lua_free(s);
    return NULL;
  }
  return s;
}

static void run_file(runner *r, const char *file) {
  sl_buf err = SL_BUF_INIT;
  sl_lua *s = runner_state(file, &err);
  lua_State *L = s ? sl_lua_state(s) : NULL;
  int test_idx = L ? lua_gettop(L) : 0;
  if (s && !sl_lua_dofile(s, file, 1, &err)) {
    lua_getfield(L, -1, "is_sluice_test");
    int ok = lua_istable(L, -2) && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!ok) sl_buf_printf(&err, "%s: a test file returns test.suite { cases = {...} } "
                                 "(local test = require \"sluice.test\")", file);
  }
  if (err.len || err.oom || !s) {
    fprintf(r->text, "ERROR %s\n", file);
    print_indented(r->text, sl_buf_text(&err));
    add_result(r, file, NULL, SL_TEST_FAIL, 1, 0, sl_buf_text(&err));
    sl_buf_free(&err);
    sl_lua_free(s);
    return;
  }
  int suite_idx = lua_gettop(L);
  char *pipeline = pipeline_of(L, suite_idx, file);
  if (!pipeline) {
    fprintf(r->text, "ERROR %s: out of memory\n", file);
    add_result(r, file, NULL, SL_TEST_FAIL, 1, 0, "out of memory");
    sl_lua_free(s);
    return;
  }
  remember_dir(r, pipeline);
  lua_getfield(L, suite_idx, "cases");
  lua_Integer ncases = luaL_len(L, -1);
  lua_pop(L, 1);
  for (lua_Integer i = 1; i <= ncases && !r->opts.interrupted; i++) {
    lua_getfield(L, suite_idx, "cases");
    lua_geti(L, -1, i);
    lua_getfield(L, -1, "name");
    char *name = strdup(lua_tostring(L, -1));
    lua_pop(L, 3);
    if (!name) {
      fprintf(r->text, "ERROR %s: case %lld: out of memory\n", file, (long long)i);
      add_result(r, file, NULL, SL_TEST_FAIL, 1, 0, "out of memory");
      continue;
    }
    if (r->run_filter && !strstr(name, r->run_filter)) {
      free(name);
      continue;
    }
    sl_buf why = SL_BUF_INIT;
    int64_t t0 = sl_mono_ms();
    sl_test_verdict v = sl__test_case_run(s, suite_idx, test_idx, (int)i, pipeline, &r->opts, &why);
    int64_t ms = sl_mono_ms() - t0;
    static const char *const tags[] = {"ok   ", "FAIL ", "skip "};
    fprintf(r->text, "%s %s: %s (%lld ms)\n", tags[v], file, name, (long long)ms);
    if (v != SL_TEST_PASS) print_indented(r->text, sl_buf_text(&why));
    fflush(r->text);
    add_result(r, file, name, v, 0, ms, sl_buf_text(&why));
    sl_buf_free(&why);
    free(name);
  }
  free(pipeline);
  sl_lua_free(s);
}

/* ---- finding test files ---- */

typedef struct file_list {
  char **v;
  size_t n, cap;
  int oom;                    /* a file could not be listed: the run fails */
} file_list;

static void push_file(file_list *l, const char *path) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char **g = realloc(l->v, cap * sizeof *g);
    if (!g) {
      l->oom = 1;
      return;
    }
    l->v = g;
    l->cap = cap;
  }
  if ((l->v[l->n] = strdup(path))) l->n++;
  else l->oom = 1;
}

static int is_test_file(const char *name) {
  size_t n = strlen(name);
  return n > 9 && strcmp(name + n - 9, "_test.lua") == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void find_in(const char *dir, file_list *out, int depth) {
  DIR *d = opendir(dir);
  if (!d || depth > 32) {
    if (d) closedir(d);
    return;
  }
  file_list here = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", strcmp(dir, ".") ? dir : ".", e->d_name);
    struct stat sb;
    if (stat(path, &sb)) continue;
    if (S_ISDIR(sb.st_mode) || is_test_file(e->d_name)) push_file(&here, path);
  }
  closedir(d);
  if (here.n) qsort(here.v, here.n, sizeof *here.v, cmp_str);
  for (size_t i = 0; i < here.n; i++) {
    struct stat sb;
    if (!stat(here.v[i], &sb) && S_ISDIR(sb.st_mode)) find_in(here.v[i], out, depth + 1);
    else push_file(out, here.v[i][0] == '.' && here.v[i][1] == '/' ? here.v[i] + 2 : here.v[i]);
    free(here.v[i]);
  }
  free(here.v);
}

/* The test files a PATH stands for; -1 when it is none. */
static int find_tests(const char *path, file_list *out) {
  struct stat sb;
  if (stat(path, &sb)) {
    fprintf(stderr, "sluice: test: %s: no such file or folder\n", path);
    return -1;
  }
  if (S_ISDIR(sb.st_mode)) {
    size_t before = out->n;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0;
    find_in(dir, out, 0);
    if (out->n == before) fprintf(stderr, "sluice: test: %s: no *_test.lua file in it\n", path);
    return 0;
  }
  if (is_test_file(path)) {
    push_file(out, path);
    return 0;
  }
  size_t n = strlen(path);
  if (n > 4 && strcmp(path + n - 4, ".lua") == 0) {
    char test[PATH_MAX];
    snprintf(test, sizeof test, "%.*s_test.lua", (int)(n - 4), path);
    if (!stat(test, &sb)) {
      push_file(out, test);
      return 0;
    }
    fprintf(stderr, "sluice: test: %s has no tests beside it (%s)\n", path, test);
    return -1;
  }
  fprintf(stderr, "sluice: test: %s: not a test file (NAME_test.lua), a pipeline or a folder\n", path);
  return -1;
}

/* ---- JUnit XML ---- */

static void xml_text(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
      case '&': fputs("&amp;", f); break;
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '"': fputs("&quot;", f); break;
      case '\n': case '\t': fputc(*p, f); break;
      default:
        /* Control characters are not allowed in XML 1.0. */
        fputc(*p < 0x20 ? '?' : *p, f);
    }
  }
}

static void first_line(FILE *f, const char *s) {
  const char *nl = s ? strchr(s, '\n') : NULL;
  if (!nl) {
    xml_text(f, s);
    return;
  }
  char *line = strndup(s, (size_t)(nl - s));
  xml_text(f, line);
  free(line);
}

static void write_junit(const runner *r, FILE *f) {
  size_t fails = 0, errors = 0, skips = 0, tests = 0;
  int64_t ms = 0;
  for (size_t i = 0; i < r->n; i++) {
    tests++;
    ms += r->results[i].ms;
    if (r->results[i].invalid) errors++;
    else if (r->results[i].verdict == SL_TEST_FAIL) fails++;
    else if (r->results[i].verdict == SL_TEST_SKIP) skips++;
  }
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<testsuites name=\"sluice test\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
          tests, fails, errors, skips, ms / 1000.0);
  for (size_t i = 0; i < r->n;) {
    size_t j = i;
    size_t t = 0, fl = 0, er = 0, sk = 0;
    int64_t sms = 0;
    for (; j < r->n && strcmp(r->results[j].file, r->results[i].file) == 0; j++) {
      t++;
      sms += r->results[j].ms;
      fl += !r->results[j].invalid && r->results[j].verdict == SL_TEST_FAIL;
      er += r->results[j].invalid;
      sk += r->results[j].verdict == SL_TEST_SKIP;
    }
    fputs("  <testsuite name=\"", f);
    xml_text(f, r->results[i].file);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n", t, fl, er, sk,
            sms / 1000.0);
    for (; i < j; i++) {
      const result *res = &r->results[i];
      fputs("    <testcase classname=\"", f);
      xml_text(f, res->file);
      fputs("\" name=\"", f);
      xml_text(f, res->name ? res->name : "(the test file)");
      fprintf(f, "\" time=\"%.3f\"", res->ms / 1000.0);
      if (res->verdict == SL_TEST_PASS) {
        fputs("/>\n", f);
        continue;
      }
      const char *tag = res->invalid ? "error" : res->verdict == SL_TEST_SKIP ? "skipped" : "failure";
      fprintf(f, ">\n      <%s message=\"", tag);
      first_line(f, res->why);
      fputs("\">", f);
      xml_text(f, res->why);
      fprintf(f, "</%s>\n    </testcase>\n", tag);
    }
    fputs("  </testsuite>\n", f);
  }
  fputs("</testsuites>\n", f);
}

/* ---- the command ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static int parse_args(int argc, char **argv, runner *r, int *junit_stdout, const char **junit_file,
                      int *coverage, const char **lcov, int *level) {
  static const struct option longopts[] = {
      {"format", required_argument, NULL, 'F'},   {"junit", required_argument, NULL, 'j'},
      {"run", required_argument, NULL, 'r'},      {"coverage", no_argument, NULL, 'c'},
      {"coverage-out", required_argument, NULL, 'o'}, {"workers", required_argument, NULL, 'w'},
      {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case 'F':
        if (strcmp(optarg, "junit") && strcmp(optarg, "text")) {
          fprintf(stderr, "sluice: test: --format text|junit, got '%s'\n", optarg);
          return 2;
        }
        *junit_stdout = strcmp(optarg, "junit") == 0;
        break;
      case 'j': *junit_file = optarg; break;
      case 'r': r->run_filter = optarg; break;
      case 'c': *coverage = 1; break;
      case 'o': *coverage = 1; *lcov = optarg; break;
      case 'w': {
        char *end;
        long n = strtol(optarg, &end, 10);
        if (*end || n < 1 || n > 256) {
          fprintf(stderr, "sluice: test: --workers needs a number from 1 to 256, got '%s'\n", optarg);
          return 2;
        }
        r->opts.workers = (int)n;
        break;
      }
      case 'l':
        if ((*level = sl_log_level_parse(optarg)) < 0) {
          fprintf(stderr, "sluice: test: unknown log level '%s' (debug, info, warn, error, off)\n", optarg);
          return 2;
        }
        break;
      case 'h': fputs(test_help, stdout); return 0;
      default: fputs(test_help, stderr); return 2;
    }
  }
  return -1;
}

int sl__test_main(int argc, char **argv) {
  runner r = {.text = stdout};
  int junit_stdout = 0, coverage = 0, level = SL_LOG_ERROR;
  const char *junit_file = NULL, *lcov = NULL;
  int rc = parse_args(argc, argv, &r, &junit_stdout, &junit_file, &coverage, &lcov, &level);
  if (rc >= 0) return rc;
  if (junit_stdout) r.text = stderr;
  sl_log_setup((sl_log_level)level, SL_LOG_TEXT, 2);
  file_list files = {0};
  int bad_path = 0;
  if (optind == argc) bad_path |= find_tests(".", &files);
  for (int i = optind; i < argc; i++) bad_path |= find_tests(argv[i], &files);
  char tmp[] = "/tmp/sluice-test-XXXXXX";
  if (!mkdtemp(tmp)) {
    perror("sluice: test: a temporary folder");
    return 1;
  }
  r.opts.state_root = tmp;
  if (coverage) sl__coverage_start();
  int64_t t0 = sl_mono_ms();
  for (size_t i = 0; i < files.n && !r.opts.interrupted; i++) run_file(&r, files.v[i]);
  int64_t ms = sl_mono_ms() - t0;
  nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  size_t passed = 0, failed = 0, skipped = 0, invalid = 0;
  for (size_t i = 0; i < r.n; i++) {
    if (r.results[i].invalid) invalid++;
    else if (r.results[i].verdict == SL_TEST_PASS) passed++;
    else if (r.results[i].verdict == SL_TEST_FAIL) failed++;
    else skipped++;
  }
  int cov_rc = coverage ? sl__coverage_report((const char *const *)r.dirs, r.text, lcov) : 0;
  fprintf(r.text, "\n%zu passed, %zu failed", passed, failed);
  if (skipped) fprintf(r.text, ", %zu skipped", skipped);
  if (invalid) fprintf(r.text, ", %zu invalid test file%s", invalid, invalid == 1 ? "" : "s");
  if (r.lost || files.oom)
    fprintf(r.text, ", %s out of memory", files.oom ? "test files not listed:" : "results lost:");
  fprintf(r.text, " (%zu file%s, %.2f s)\n", files.n, files.n == 1 ? "" : "s", ms / 1000.0);
  if (junit_stdout) write_junit(&r, stdout);
  if (junit_file) {
    FILE *f = fopen(junit_file, "w");
    if (f) {
      write_junit(&r, f);
      if (fclose(f)) cov_rc = -1;
    } else {
      fprintf(stderr, "sluice: test: --junit %s: cannot write it\n", junit_file);
      cov_rc = -1;
    }
  }
  if (coverage) sl__coverage_stop();
  rc = r.opts.interrupted ? 130 : invalid || bad_path || (!files.n && !r.n) ? 2
       : failed || r.lost || files.oom ? 1 : cov_rc ? 1 : 0;
  for (size_t i = 0; i < r.n; i++) {
    free(r.results[i].file);
    free(r.results[i].name);
    free(r.results[i].why);
  }
  free(r.results);
  for (size_t i = 0; i < files.n; i++) free(files.v[i]);
  free(files.v);
  for (size_t i = 0; i < r.ndirs; i++) free(r.dirs[i]);
  free(r.dirs);
  return rc;
}
