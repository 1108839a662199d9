/* sluice test --coverage: which lines of the pipelines' Lua ran.
 *
 * Every Lua state made while the tests run starts with a line hook
 * (sl_lua_set_line_hook): the workers' and lanes' states, the loop
 * thread's, the file's evaluation.  The hook counts, per chunk, each line
 * as Lua reports it (a line is reported when the interpreter enters it, so
 * the counts are entries, not instructions).
 *
 * The lines that can run are read from each file's bytecode: the file is
 * compiled in a plain state and dumped (lua_dump), and the dump's line
 * table walked for every function, nested ones included, as Lua 5.4's
 * collectvalidlines does for activelines: every instruction's line but a
 * vararg function's first (VARARGPREP).  Two kinds of instruction never
 * run as a line of their own and are left out: each function's last, the
 * `return` the compiler adds at its end (so a function that always returns
 * before its `end` is fully covered), and the `return` after a tail call.
 * The instruction bytes are read as little-endian 32-bit words, as the
 * dump writes them on the machines sluice builds for.  Branch coverage is by lines: an `if` whose
 * branches are on lines of their own shows the one never taken as a line
 * that did not run. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing/testing.h"

typedef struct cov_file {
  char *source;               /* the chunk name without '@' */
  uint64_t *hits;             /* per line, [0] unused */
  int nlines;
  struct cov_file *next;
} cov_file;

static pthread_mutex_t cov_mu = PTHREAD_MUTEX_INITIALIZER;
static cov_file *cov_files;

/* ---- counting ---- */

static cov_file *file_of(const char *source) {
  for (cov_file *f = cov_files; f; f = f->next)
    if (strcmp(f->source, source) == 0) return f;
  cov_file *f = calloc(1, sizeof *f);
  if (!f || !(f->source = strdup(source))) {
    free(f);
    return NULL;
  }
  f->next = cov_files;
  cov_files = f;
  return f;
}

static void count(cov_file *f, int line) {
  if (line >= f->nlines) {
    int n = line + 64;
    uint64_t *h = realloc(f->hits, (size_t)n * sizeof *h);
    if (!h) return;
    memset(h + f->nlines, 0, (size_t)(n - f->nlines) * sizeof *h);
    f->hits = h;
    f->nlines = n;
  }
  f->hits[line]++;
}

static void line_hook(lua_State *L, lua_Debug *ar) {
  if (!lua_getinfo(L, "S", ar) || ar->source[0] != '@' || ar->currentline <= 0) return;
  pthread_mutex_lock(&cov_mu);
  cov_file *f = file_of(ar->source + 1);
  if (f) count(f, ar->currentline);
  pthread_mutex_unlock(&cov_mu);
}

void sl__coverage_start(void) { sl_lua_set_line_hook(line_hook); }

void sl__coverage_stop(void) {
  sl_lua_set_line_hook(NULL);
  pthread_mutex_lock(&cov_mu);
  while (cov_files) {
    cov_file *f = cov_files;
    cov_files = f->next;
    free(f->source);
    free(f->hits);
    free(f);
  }
  pthread_mutex_unlock(&cov_mu);
}

/* ---- the lines that can run: Lua 5.4's dump format (ldump.c) ---- */

typedef struct dump_reader {
  const unsigned char *p, *end;
  int bad;
} dump_reader;

static unsigned char rd_byte(dump_reader *r) {
  if (r->p >= r->end) {
    r->bad = 1;
    return 0;
  }
  return *r->p++;
}

static void rd_skip(dump_reader *r, size_t n) {
  if ((size_t)(r->end - r->p) < n) {
    r->bad = 1;
    r->p = r->end;
    return;
  }
  r->p += n;
}

/* dumpSize: 7 bits a byte, most significant first, the last byte marked. */
static size_t rd_size(dump_reader *r) {
  size_t x = 0;
  unsigned char b;
  do {
    b = rd_byte(r);
    x = (x << 7) | (b & 0x7f);
  } while (!(b & 0x80) && !r->bad);
  return x;
}

static void rd_string(dump_reader *r) {
  size_t n = rd_size(r);
  if (n) rd_skip(r, n - 1);
}

typedef struct line_set {
  unsigned char *can;         /* per line: 1 can run */
  int n;
} line_set;

static void mark(line_set *s, int line) {
  if (line <= 0) return;
  if (line >= s->n) {
    int n = line + 64;
    unsigned char *c = realloc(s->can, (size_t)n);
    if (!c) return;
    memset(c + s->n, 0, (size_t)(n - s->n));
    s->can = c;
    s->n = n;
  }
  s->can[line] = 1;
}

/* lopcodes.h: the return after a tail call never runs (the callee's
 * return is the function's), so its line is not one that can run. */
#define OP_TAILCALL 69

/* One function and, first, the functions nested in it (the dump puts
 * them before the line table). */
static void rd_function(dump_reader *r, line_set *s, int depth) {
  if (depth > 200) {
    r->bad = 1;
    return;
  }
  rd_string(r);                                   /* source */
  int linedefined = (int)rd_size(r);
  rd_size(r);                                     /* lastlinedefined */
  rd_byte(r);                                     /* numparams */
  int is_vararg = rd_byte(r);
  rd_byte(r);                                     /* maxstacksize */
  size_t ncode = rd_size(r);
  const unsigned char *code = r->p;
  rd_skip(r, ncode * 4);
  size_t nk = rd_size(r);
  for (size_t i = 0; i < nk && !r->bad; i++) {
    unsigned char tt = rd_byte(r);
    if (tt == 0x13 || tt == 0x03) rd_skip(r, 8);  /* float, integer */
    else if (tt == 0x04 || tt == 0x14) rd_string(r);
  }
  size_t nup = rd_size(r);
  rd_skip(r, nup * 3);
  size_t np = rd_size(r);
  for (size_t i = 0; i < np && !r->bad; i++) rd_function(r, s, depth + 1);
  size_t nli = rd_size(r);
  const unsigned char *li = r->p;
  rd_skip(r, nli);
  size_t nabs = rd_size(r);
  size_t *abs_pc = calloc(nabs + 1, sizeof *abs_pc);
  int *abs_line = calloc(nabs + 1, sizeof *abs_line);
  for (size_t i = 0; i < nabs && !r->bad && abs_pc && abs_line; i++) {
    abs_pc[i] = rd_size(r);
    abs_line[i] = (int)rd_size(r);
  }
  if (!r->bad && abs_pc && abs_line) {
    /* The lines of every instruction, as luaG_getfuncline gives them. */
    int line = linedefined;
    size_t k = 0;
    int *lines = calloc(nli + 1, sizeof *lines);
    for (size_t pc = 0; lines && pc < nli; pc++) {
      if (k < nabs && abs_pc[k] == pc) line = abs_line[k++];
      else line += (signed char)li[pc];
      lines[pc] = line;
    }
    if (lines && nli && nli == ncode) {
      for (size_t pc = is_vararg ? 1 : 0; pc + 1 < nli; pc++)
        if (!pc || (code[4 * (pc - 1)] & 0x7f) != OP_TAILCALL) mark(s, lines[pc]);
    }
    free(lines);
  }
  free(abs_pc);
  free(abs_line);
  size_t nloc = rd_size(r);
  for (size_t i = 0; i < nloc && !r->bad; i++) {
    rd_string(r);
    rd_size(r);
    rd_size(r);
  }
  size_t nupn = rd_size(r);
  for (size_t i = 0; i < nupn && !r->bad; i++) rd_string(r);
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  sl_buf_append(ud, p, n);
  return 0;
}

/* The lines of path that can run; -1 when it does not compile. */
static int executable_lines(const char *path, line_set *s) {
  lua_State *L = luaL_newstate();
  if (!L) return -1;
  sl_buf b = SL_BUF_INIT;
  int rc = -1;
  if (luaL_loadfilex(L, path, "t") == LUA_OK && lua_dump(L, dump_writer, &b, 0) == 0 && !b.oom) {
    /* The header: signature, version, format, LUAC_DATA, three sizes,
     * LUAC_INT, LUAC_NUM; then the main function's upvalue count. */
    dump_reader r = {(const unsigned char *)b.ptr, (const unsigned char *)b.ptr + b.len, 0};
    /* Lua 5.4, format 0, 4-byte instructions, 8-byte integers and floats. */
    static const unsigned char head[] = {0x1b, 'L', 'u', 'a', 0x54, 0};
    if (b.len < 32 || memcmp(b.ptr, head, sizeof head) || b.ptr[12] != 4 || b.ptr[13] != 8 || b.ptr[14] != 8)
      r.bad = 1;
    rd_skip(&r, 4 + 1 + 1 + 6 + 3 + 8 + 8 + 1);
    rd_function(&r, s, 0);
    rc = r.bad ? -1 : 0;
  }
  sl_buf_free(&b);
  lua_close(L);
  return rc;
}

/* ---- the report ---- */

static int under(const char *path, const char *const *dirs) {
  size_t n = strlen(path);
  if (n > 9 && strcmp(path + n - 9, "_test.lua") == 0) return 0;
  for (; dirs && *dirs; dirs++) {
    size_t d = strlen(*dirs);
    if (strncmp(path, *dirs, d) == 0 && path[d] == '/') return 1;
  }
  return 0;
}

typedef struct cov_row {
  char path[PATH_MAX];
  uint64_t *hits;             /* merged over every chunk name of the file */
  int nlines;
} cov_row;

static int cmp_rows(const void *a, const void *b) {
  return strcmp(((const cov_row *)a)->path, ((const cov_row *)b)->path);
}

/* The files under dirs that ran, each once (a file is loaded under
 * several names: relative, absolute), sorted. */
static cov_row *collect_rows(const char *const *dirs, int *nrows) {
  cov_row *rows = NULL;
  int n = 0;
  for (cov_file *f = cov_files; f; f = f->next) {
    char real[PATH_MAX];
    if (!realpath(f->source, real) || !under(real, dirs)) continue;
    cov_row *row = NULL;
    for (int i = 0; i < n && !row; i++)
      if (strcmp(rows[i].path, real) == 0) row = &rows[i];
    if (!row) {
      cov_row *g = realloc(rows, (size_t)(n + 1) * sizeof *g);
      if (!g) break;
      rows = g;
      row = &rows[n++];
      memset(row, 0, sizeof *row);
      snprintf(row->path, sizeof row->path, "%s", real);
    }
    if (f->nlines > row->nlines) {
      uint64_t *h = realloc(row->hits, (size_t)f->nlines * sizeof *h);
      if (!h) continue;
      memset(h + row->nlines, 0, (size_t)(f->nlines - row->nlines) * sizeof *h);
      row->hits = h;
      row->nlines = f->nlines;
    }
    for (int l = 0; l < f->nlines; l++) row->hits[l] += f->hits[l];
  }
  if (n) qsort(rows, (size_t)n, sizeof *rows, cmp_rows);
  *nrows = n;
  return rows;
}

static uint64_t hits_at(const cov_row *row, int line) { return line < row->nlines ? row->hits[line] : 0; }

/* "12-14, 20": the lines that can run and did not. */
static void missed_lines(const cov_row *row, const line_set *s, sl_buf *b) {
  int start = 0, prev = 0;
  for (int l = 1; l <= s->n; l++) {
    int miss = l < s->n && s->can[l] && !hits_at(row, l);
    /* Lines that cannot run (blank, comments) do not break a range. */
    if (l < s->n && !s->can[l]) continue;
    if (miss && !start) start = l;
    if (miss) prev = l;
    if (!miss && start) {
      sl_buf_printf(b, "%s%d", b->len ? ", " : "", start);
      if (prev > start) sl_buf_printf(b, "-%d", prev);
      start = 0;
    }
  }
}

int sl__coverage_report(const char *const *dirs, FILE *out, const char *lcov_path) {
  pthread_mutex_lock(&cov_mu);
  int nrows = 0;
  cov_row *rows = collect_rows(dirs, &nrows);
  pthread_mutex_unlock(&cov_mu);
  FILE *lcov = lcov_path ? fopen(lcov_path, "w") : NULL;
  int rc = lcov_path && !lcov ? -1 : 0;
  if (rc) fprintf(stderr, "sluice: --coverage-out %s: %s\n", lcov_path, strerror(errno));
  char cwd[PATH_MAX];
  size_t cwdlen = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
  fprintf(out, "\ncoverage (lines run of the lines that can run):\n");
  if (!nrows) fprintf(out, "  no Lua file of the pipelines ran\n");
  for (int i = 0; i < nrows; i++) {
    cov_row *row = &rows[i];
    line_set s = {0};
    const char *shown = row->path;
    if (cwdlen && strncmp(shown, cwd, cwdlen) == 0 && shown[cwdlen] == '/') shown += cwdlen + 1;
    if (executable_lines(row->path, &s)) {
      fprintf(out, "  %s: cannot be read again to count its lines\n", shown);
      free(s.can);
      continue;
    }
    int total = 0, hit = 0;
    for (int l = 1; l < s.n; l++)
      if (s.can[l]) {
        total++;
        hit += hits_at(row, l) > 0;
      }
    sl_buf miss = SL_BUF_INIT;
    missed_lines(row, &s, &miss);
    fprintf(out, "  %-40s %4d/%-4d %5.1f%%%s%.*s\n", shown, hit, total,
            total ? 100.0 * hit / total : 100.0, miss.len ? "  not run: " : "", (int)miss.len,
            miss.ptr ? miss.ptr : "");
    sl_buf_free(&miss);
    if (lcov) {
      fprintf(lcov, "TN:\nSF:%s\n", row->path);
      for (int l = 1; l < s.n; l++)
        if (s.can[l]) fprintf(lcov, "DA:%d,%llu\n", l, (unsigned long long)hits_at(row, l));
      fprintf(lcov, "LF:%d\nLH:%d\nend_of_record\n", total, hit);
    }
    free(s.can);
  }
  for (int i = 0; i < nrows; i++) free(rows[i].hits);
  free(rows);
  if (lcov && fclose(lcov)) {
    fprintf(stderr, "sluice: --coverage-out %s: %s\n", lcov_path, strerror(errno));
    rc = -1;
  }
  return rc;
}
