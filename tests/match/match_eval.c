/* The matching core's evaluation driver: reads a CSV file with an id
 * column, trains a model on the file itself (u from random pairs, m and the
 * prior by EM over the candidate pairs, term frequencies), then runs it in
 * streaming order, each record compared with the records indexed before it
 * and then indexed, and writes every record's entity as JSON Lines
 * {"id": ..., "entity": ...}.  A JSON summary (EM report, counts, timings,
 * index bytes per record) goes to stderr.
 *
 *   match_eval --in F.csv --out E.jsonl [--id id] [--source source] [--link-only]
 *              [--threshold 0.99] [--cap 1000] [--random-pairs 1000000] [--seed 1]
 *              [--id-rule COL] [--preset person|company] [--field COL:KIND ...]
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
 * --dep A:B:LB:LA declares that compared field A at a level <= LA (default
 * 0) makes field B's level LB (default 0) likelier among non-matches (a
 * shared address, a shared birth date: twins); its ratio is estimated from
 * the pairs of records with A equal and two different valid IDs.
 * --field COL:KIND normalises a column before matching (sl_match_prep: KIND
 * is cn_name, cn_id, uscc, date, phone, address, company or text) and adds
 * its parts as columns COL.PART (name.pinyin, id_no.valid, addr.county ...)
 * that --compare, --block and --id-rule can name.  --preset person|company
 * is the configuration for Chinese residents (name, gender, birth, id_no,
 * phone, addr) or companies (name, uscc, legal_rep, phone, addr, est_date):
 * the fields, comparisons, blocking rules and the ID rule listed in
 * presets[] below, what the sl.match step's Lua configuration will say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "match.h"

#define MAX_COLS 64
#define MAX_RULES 16
#define MAX_PARTS 4

typedef struct rule {
  int ncol;
  int col[MAX_PARTS];
  int prefix[MAX_PARTS];  /* code points kept, 0: all */
} rule;

typedef struct opts {
  const char *in, *out, *id_col, *source_col, *id_rule_col;
  int link_only;
  double threshold;
  uint32_t cap;
  long random_pairs;
  unsigned long seed;
  sl_match_field field[SL_MATCH_MAX_FIELDS];
  const char *field_col[SL_MATCH_MAX_FIELDS];
  int nfields;
  const char *rule_text[MAX_RULES];
  int nrules;
  const char *dep_text[SL_MATCH_MAX_DEPS];
  int ndeps;
  const char *prep_col[SL_MATCH_MAX_FIELDS];
  sl_match_kind prep_kind[SL_MATCH_MAX_FIELDS];
  int nprep;
} opts;

/* The file, its columns and its records: values point into the file's bytes. */
typedef struct table {
  char *text;
  int ncols;
  char *col[MAX_COLS];
  size_t nrec;
  sl_match_str *cell;     /* nrec * ncols */
  sl_buf arena;           /* the prepared values (--field) */
} table;

static void die(const char *msg, const char *arg) {
  fprintf(stderr, "match_eval: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  exit(2);
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

/* Normalises the --field columns in place and appends their parts as
 * columns "COL.PART"; the new values live in one arena. */
static void prep_table(table *t, const opts *o) {
  int extra = 0;
  const char *const *names[SL_MATCH_MAX_FIELDS];
  int nparts[SL_MATCH_MAX_FIELDS], src[SL_MATCH_MAX_FIELDS];
  for (int f = 0; f < o->nprep; f++) {
    src[f] = col_of(t, o->prep_col[f]);
    nparts[f] = sl_match_kind_parts(o->prep_kind[f], &names[f]);
    extra += nparts[f] - 1;
  }
  if (t->ncols + extra > MAX_COLS) die("too many columns with the --field parts", NULL);
  int nc = t->ncols + extra;
  sl_match_str *cell = malloc(t->nrec * (size_t)nc * sizeof *cell);
  uint64_t *off = malloc(t->nrec * (size_t)nc * sizeof *off);
  if (!cell || !off) die("out of memory", NULL);
  for (size_t i = 0; i < t->nrec; i++)
    memcpy(cell + i * (size_t)nc, t->cell + i * (size_t)t->ncols, (size_t)t->ncols * sizeof *cell);
  sl_buf arena = SL_BUF_INIT, part[SL_MATCH_MAX_PARTS];
  sl_match_prep_scratch sc = {0};
  for (int p = 0; p < SL_MATCH_MAX_PARTS; p++) part[p] = (sl_buf)SL_BUF_INIT;
  int at = t->ncols;
  for (int f = 0; f < o->nprep; f++) {
    for (int p = 1; p < nparts[f]; p++) {
      char name[128];
      snprintf(name, sizeof name, "%s.%s", o->prep_col[f], names[f][p]);
      t->col[at + p - 1] = strdup(name);
    }
    for (size_t i = 0; i < t->nrec; i++) {
      sl_match_str v = cell[i * (size_t)nc + src[f]];
      for (int p = 0; p < nparts[f]; p++) part[p].len = 0;
      sl_match_prep(o->prep_kind[f], v.p, v.n, part, &sc);
      for (int p = 0; p < nparts[f]; p++) {
        int c = p ? at + p - 1 : src[f];
        off[i * (size_t)nc + c] = (uint64_t)arena.len << 32 | part[p].len;
        sl_buf_append(&arena, part[p].ptr, part[p].len);
      }
    }
    at += nparts[f] - 1;
  }
  /* Pointers once the arena no longer moves. */
  for (int f = 0, c0 = t->ncols; f < o->nprep; c0 += nparts[f] - 1, f++)
    for (size_t i = 0; i < t->nrec; i++)
      for (int p = 0; p < nparts[f]; p++) {
        int c = p ? c0 + p - 1 : src[f];
        uint64_t x = off[i * (size_t)nc + c];
        cell[i * (size_t)nc + c] = (sl_match_str){arena.ptr ? arena.ptr + (x >> 32) : "", (uint32_t)x};
      }
  for (int p = 0; p < SL_MATCH_MAX_PARTS; p++) sl_buf_free(&part[p]);
  sl_match_prep_scratch_free(&sc);
  free(off);
  free(t->cell);
  t->cell = cell;
  t->ncols = nc;
  t->arena = arena;       /* the values point into it */
}

/* ---- options ---- */

static void parse_compare(opts *o, char *spec) {
  if (o->nfields == SL_MATCH_MAX_FIELDS) die("too many --compare", spec);
  sl_match_field *f = &o->field[o->nfields];
  char *col = strtok(spec, ":"), *levels = strtok(NULL, ":"), *flag = strtok(NULL, ":");
  if (!col || !levels) die("--compare wants COL:LEVELS[:tf]", spec);
  f->name = col;
  f->tf = flag && !strcmp(flag, "tf");
  for (char *l = strtok(levels, ","); l; l = strtok(NULL, ",")) {
    if (f->nlevels == SL_MATCH_MAX_LEVELS) die("too many levels", col);
    static const struct { const char *p; sl_match_test t; } kinds[] = {
      {"exact", SL_MT_EXACT}, {"jw", SL_MT_JW}, {"dlhead", SL_MT_OSA_HEAD}, {"dl", SL_MT_OSA},
      {"jac", SL_MT_JACCARD},
      {"abs", SL_MT_NUM_ABS}, {"rel", SL_MT_NUM_REL}, {"days", SL_MT_DATE_DAYS},
      {"swap", SL_MT_DATE_SWAP}, {"pinyin", SL_MT_PINYIN}, {"company", SL_MT_COMPANY},
      {"address", SL_MT_ADDRESS},
    };
    size_t k = 0;
    for (; k < sizeof kinds / sizeof kinds[0]; k++)
      if (!strncmp(l, kinds[k].p, strlen(kinds[k].p))) break;
    if (k == sizeof kinds / sizeof kinds[0]) die("unknown level", l);
    sl_match_level *lv = &f->level[f->nlevels++];
    lv->test = kinds[k].t;
    lv->arg = atof(l + strlen(kinds[k].p));
  }
  o->field_col[o->nfields++] = col;
}

static void parse_rule(const table *t, const char *text, rule *r) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  r->ncol = 0;
  for (char *part = strtok(buf, "+"); part; part = strtok(NULL, "+")) {
    if (r->ncol == MAX_PARTS) die("too many columns in a rule", text);
    char *slash = strchr(part, '/');
    r->prefix[r->ncol] = slash ? atoi(slash + 1) : 0;
    if (slash) *slash = 0;
    r->col[r->ncol++] = col_of(t, part);
  }
}

/* ---- keys ---- */

/* The bytes of the first n code points of v. */
static uint32_t prefix_len(sl_match_str v, int n) {
  if (!n) return v.n;
  uint32_t i = 0;
  for (int k = 0; k < n && i < v.n; k++) {
    i++;
    while (i < v.n && ((unsigned char)v.p[i] & 0xC0) == 0x80) i++;
  }
  return i;
}

/* Fills keys[0..) for record row; returns how many. */
static size_t record_keys(const rule *rules, int nrules, const sl_match_str *row, uint64_t *keys) {
  size_t k = 0;
  for (int r = 0; r < nrules; r++) {
    char buf[1024];
    size_t n = 0;
    int ok = 1;
    for (int c = 0; c < rules[r].ncol && ok; c++) {
      sl_match_str v = row[rules[r].col[c]];
      uint32_t l = prefix_len(v, rules[r].prefix[c]);
      if (!l || n + l + 1 > sizeof buf) ok = 0;
      else {
        memcpy(buf + n, v.p, l);
        n += l;
        buf[n++] = 0x1F;
      }
    }
    if (ok) keys[k++] = sl_match_key((uint32_t)r, buf, n);
  }
  return k;
}

/* ---- the run ---- */

typedef struct run {
  opts *o;
  table *t;
  rule rules[MAX_RULES];
  int fcol[SL_MATCH_MAX_FIELDS];
  int source_col, idrule_col;
  sl_match_model model;
  sl_match_scratch sc;
  uint64_t *keys;         /* nrec * nrules */
  uint8_t *nkeys;
} run;

static void values(const run *r, size_t i, sl_match_str *v) {
  const sl_match_str *row = r->t->cell + i * (size_t)r->t->ncols;
  for (int f = 0; f < r->o->nfields; f++) v[f] = row[r->fcol[f]];
}

static int same_source(const run *r, size_t i, size_t j) {
  if (r->source_col < 0) return 0;
  const sl_match_str *a = r->t->cell + i * (size_t)r->t->ncols + r->source_col;
  const sl_match_str *b = r->t->cell + j * (size_t)r->t->ncols + r->source_col;
  return a->n == b->n && !memcmp(a->p, b->p, a->n);
}

static sl_match_rule id_rule(const run *r, size_t i, size_t j) {
  if (r->idrule_col < 0) return SL_MATCH_SCORE;
  return sl_match_id_rule(r->t->cell[i * (size_t)r->t->ncols + r->idrule_col],
                          r->t->cell[j * (size_t)r->t->ncols + r->idrule_col]);
}

/* Calls fn for each record and each of its candidates among the records
 * before it, through a fresh index: the training pass and the streaming
 * pass see the same pairs. */
typedef void (*pair_fn)(run *r, size_t i, size_t j, void *ud);

static sl_match_index_stats for_each_candidate(run *r, pair_fn fn, void *ud) {
  sl_match_index *ix = sl_match_index_new(r->o->cap);
  sl_match_cands c = {0};
  if (!ix) die("out of memory", NULL);
  for (size_t i = 0; i < r->t->nrec; i++) {
    const uint64_t *k = r->keys + i * (size_t)r->o->nrules;
    if (sl_match_cands_collect(&c, ix, k, r->nkeys[i], (uint32_t)i)) die("out of memory", NULL);
    for (size_t x = 0; x < c.n; x++) fn(r, i, c.ids[x], ud);
    for (size_t x = 0; x < r->nkeys[i]; x++)
      if (sl_match_index_add(ix, k[x], (uint32_t)i)) die("out of memory", NULL);
  }
  sl_match_index_stats st;
  sl_match_index_stats_get(ix, &st);
  sl_match_index_free(ix);
  sl_match_cands_free(&c);
  return st;
}

/* The candidate pairs for EM, by what the ID rule says of them. */
typedef struct train_sets {
  sl_match_patterns score, must, cannot;
} train_sets;

static void train_pair(run *r, size_t i, size_t j, void *ud);

static void train_candidate(run *r, size_t i, size_t j, void *ud) {
  train_sets *ts = ud;
  sl_match_rule d = id_rule(r, i, j);
  train_pair(r, i, j, d == SL_MATCH_MUST ? &ts->must : d == SL_MATCH_CANNOT ? &ts->cannot : &ts->score);
}

static void train_pair(run *r, size_t i, size_t j, void *ud) {
  if (r->o->link_only && same_source(r, i, j)) return;
  sl_match_str a[SL_MATCH_MAX_FIELDS], b[SL_MATCH_MAX_FIELDS];
  int8_t g[SL_MATCH_MAX_FIELDS];
  values(r, i, a);
  values(r, j, b);
  sl_match_gamma(&r->model, a, b, g, &r->sc);
  if (sl_match_patterns_add(ud, g, r->model.nfields)) die("out of memory", NULL);
}

/* A record's links are made strongest first once all its candidates are
 * scored: when a record without an ID could join two clusters that may
 * not be joined (different valid IDs), it joins the one it matches best. */
typedef struct link {
  uint32_t j;
  double w;
} link;

typedef struct stream {
  sl_match_uf uf;
  uint64_t pairs, links, cannot, refused;
  size_t cur;             /* the record whose links are pending */
  link *pend;
  size_t npend, cappend;
} stream;

static int by_weight_desc(const void *x, const void *y) {
  double a = ((const link *)x)->w, b = ((const link *)y)->w;
  return a < b ? 1 : a > b ? -1 : (int)((const link *)x)->j - (int)((const link *)y)->j;
}

static void flush_links(stream *s) {
  if (!s->npend) return;
  qsort(s->pend, s->npend, sizeof *s->pend, by_weight_desc);
  for (size_t x = 0; x < s->npend; x++) {
    s->links++;
    if (sl_match_uf_union(&s->uf, (uint32_t)s->cur, s->pend[x].j) == SL_ESTATE) s->refused++;
  }
  s->npend = 0;
}

static void stream_pair(run *r, size_t i, size_t j, void *ud) {
  stream *s = ud;
  if (r->o->link_only && same_source(r, i, j)) return;
  if (i != s->cur) flush_links(s);
  s->cur = i;
  s->pairs++;
  sl_match_rule d = id_rule(r, i, j);
  if (d == SL_MATCH_CANNOT) {
    if (!sl_match_uf_cannot(&s->uf, (uint32_t)i, (uint32_t)j)) s->cannot++;
    return;
  }
  double w = 1e300;       /* the same valid ID: first */
  if (d == SL_MATCH_SCORE) {
    sl_match_str a[SL_MATCH_MAX_FIELDS], b[SL_MATCH_MAX_FIELDS];
    int8_t g[SL_MATCH_MAX_FIELDS];
    values(r, i, a);
    values(r, j, b);
    sl_match_gamma(&r->model, a, b, g, &r->sc);
    w = sl_match_weight(&r->model, g, a, NULL);
    if (sl_match_probability(w) < r->o->threshold) return;
  }
  if (s->npend == s->cappend) {
    s->cappend = s->cappend ? 2 * s->cappend : 64;
    s->pend = realloc(s->pend, s->cappend * sizeof *s->pend);
    if (!s->pend) die("out of memory", NULL);
  }
  s->pend[s->npend++] = (link){(uint32_t)j, w};
}

/* ---- dependences (--dep) ---- */

static int field_of(const opts *o, const char *name, size_t n) {
  for (int f = 0; f < o->nfields; f++)
    if (strlen(o->field_col[f]) == n && !strncmp(o->field_col[f], name, n)) return f;
  die("--dep names a field that is not compared", name);
  return -1;
}

static void parse_deps(run *r) {
  for (int d = 0; d < r->o->ndeps; d++) {
    const char *t = r->o->dep_text[d], *c1 = strchr(t, ':');
    if (!c1) die("--dep wants A:B[:LB[:LA]]", t);
    const char *c2 = strchr(c1 + 1, ':');
    sl_match_dep *x = &r->model.dep[d];
    x->a = field_of(r->o, t, (size_t)(c1 - t));
    x->b = field_of(r->o, c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1));
    x->lb = c2 ? atoi(c2 + 1) : 0;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    x->la = c3 ? atoi(c3 + 1) : 0;
    if (x->lb > r->o->field[x->b].nlevels || x->la > r->o->field[x->a].nlevels) die("--dep level out of range", t);
  }
  r->model.ndeps = r->o->ndeps;
}

typedef struct keyed {
  uint64_t h;
  uint32_t i;
} keyed;

static int by_key(const void *x, const void *y) {
  const keyed *a = x, *b = y;
  return a->h < b->h ? -1 : a->h > b->h ? 1 : (a->i > b->i) - (a->i < b->i);
}

/* Whether compared field f is the ID rule's own: COL or COL.PART when the
 * rule is on COL.PART (id_no for id_no.valid), or the rule's column. */
static int is_id_field(const opts *o, int f) {
  if (!o->id_rule_col) return 0;
  size_t stem = strcspn(o->id_rule_col, ".");
  const char *c = o->field_col[f];
  return !strncmp(c, o->id_rule_col, stem) && (!c[stem] || c[stem] == '.');
}

/* Whether two valid IDs are one edit apart before their check
 * characters: a mistyped digit with a check character that fits (one in
 * eleven for a resident ID, the check recomputed by a system) makes one
 * person look like two, so such pairs are not taken as known non-matches. */
static int ids_near(const run *r, size_t i, size_t j) {
  sl_match_str a = r->t->cell[i * (size_t)r->t->ncols + r->idrule_col];
  sl_match_str b = r->t->cell[j * (size_t)r->t->ncols + r->idrule_col];
  return sl_match_osa(a.p, a.n - 1, b.p, b.n - 1) <= 1;
}

/* Each dependence's ratio from the pairs of records whose field A is
 * equal and whose valid IDs differ by more than one edit (known
 * non-matches): the share of them with field B at level LB.  At most 64
 * records of a value are paired. */
static void estimate_deps(run *r) {
  if (r->idrule_col < 0) return;
  keyed *k = malloc(r->t->nrec * sizeof *k);
  if (!k) die("out of memory", NULL);
  for (int d = 0; d < r->model.ndeps; d++) {
    const sl_match_dep *x = &r->model.dep[d];
    size_t n = 0;
    for (size_t i = 0; i < r->t->nrec; i++) {
      const sl_match_str *row = r->t->cell + i * (size_t)r->t->ncols;
      sl_match_str v = row[r->fcol[x->a]];
      if (v.n && row[r->idrule_col].n) k[n++] = (keyed){sl_match_key(0, v.p, v.n), (uint32_t)i};
    }
    qsort(k, n, sizeof *k, by_key);
    uint64_t agree = 0, pairs = 0;
    int own = is_id_field(r->o, x->b);
    for (size_t s = 0, e; s < n; s = e) {
      for (e = s + 1; e < n && k[e].h == k[s].h; e++) {}
      size_t end = e - s > 64 ? s + 64 : e;
      for (size_t p = s; p < end; p++)
        for (size_t q = p + 1; q < end; q++) {
          /* (Not for a dependence of the ID's own field, which is about
           * IDs one edit apart: twins registered together.) */
          if (id_rule(r, k[p].i, k[q].i) != SL_MATCH_CANNOT || (!own && ids_near(r, k[p].i, k[q].i))) continue;
          sl_match_str a[SL_MATCH_MAX_FIELDS], b[SL_MATCH_MAX_FIELDS];
          values(r, k[p].i, a);
          values(r, k[q].i, b);
          int l = sl_match_level_of(&r->o->field[x->b], a[x->b], b[x->b], &r->sc);
          if (l < 0) continue;
          pairs++;
          agree += l == x->lb;
        }
    }
    sl_match_dep_estimate(&r->model, d, agree, pairs);
  }
  free(k);
}

static void print_model(const run *r, FILE *f) {
  fprintf(f, "  \"model\": {\"lambda\": %.6g, \"fields\": [", r->model.lambda);
  for (int x = 0; x < r->model.nfields; x++) {
    fprintf(f, "%s\n    {\"field\": \"%s\", \"levels\": [", x ? "," : "", r->model.field[x].name);
    for (int l = 0; l <= r->model.field[x].nlevels; l++) {
      sl_buf name = SL_BUF_INIT;
      sl_match_level_name(&r->model.field[x], l, &name);
      fprintf(f, "%s{\"level\": \"%.*s\", \"m\": %.4g, \"u\": %.4g}", l ? ", " : "",
              (int)name.len, name.ptr, r->model.m[x][l], r->model.u[x][l]);
      sl_buf_free(&name);
    }
    fprintf(f, "]}");
  }
  fprintf(f, "],\n    \"deps\": [");
  for (int d = 0; d < r->model.ndeps; d++) {
    const sl_match_dep *x = &r->model.dep[d];
    fprintf(f, "%s{\"a\": \"%s\", \"b\": \"%s\", \"lb\": %d, \"la\": %d, \"agree\": %llu, \"pairs\": %llu, "
            "\"ratio\": %.4g}", d ? ", " : "", r->model.field[x->a].name, r->model.field[x->b].name, x->lb, x->la,
            (unsigned long long)x->agree, (unsigned long long)x->pairs, x->ratio);
  }
  fprintf(f, "]},\n");
}

/* The configurations for Chinese residents and companies: what a careful
 * user configures from knowledge of the data, not of a generator.  Valid
 * IDs decide (--id-rule), and for companies the organisation code inside a
 * credit code or an old taxpayer number, valid, is that ID; an invalid one
 * is still compared on its characters (one edit away: a mistyped character
 * or check character). */
static const char *const preset_person[] = {
  "--field", "name:cn_name", "--field", "gender:gender", "--field", "birth:date",
  "--field", "id_no:cn_id", "--field", "phone:phone", "--field", "addr:address",
  "--id-rule", "id_no.valid",
  "--compare", "name:exact,pinyin,dl1:tf",
  "--compare", "gender:exact",
  "--compare", "birth:exact,swap,dl1",
  "--compare", "id_no:exact,dlhead14,dl1",
  "--compare", "phone:exact:tf",
  "--compare", "addr:exact,address0.9,address0.7,address0",
  "--block", "id_no.valid", "--block", "id_no", "--block", "name.surname_pinyin+birth",
  "--block", "phone", "--block", "id_no.region+birth", "--block", "name.pinyin+addr.county",
  "--block", "name.given+birth",
  "--dep", "addr:birth:0:1", "--dep", "addr:phone:0:1",
  "--dep", "addr:name:2:1", "--dep", "birth:id_no:2", NULL,
};
static const char *const preset_company[] = {
  "--field", "name:company", "--field", "uscc:uscc", "--field", "legal_rep:cn_name",
  "--field", "phone:phone", "--field", "addr:address", "--field", "est_date:date",
  "--id-rule", "uscc.org",
  "--compare", "name:exact,company0.99,company0.9",
  "--compare", "uscc.body:exact,dl1",
  "--compare", "legal_rep:exact,pinyin,dl1:tf",
  "--compare", "phone:exact:tf",
  "--compare", "addr:exact,address0.9,address0.7,address0",
  "--compare", "est_date:exact,swap,dl1",
  "--block", "uscc.org", "--block", "uscc.body", "--block", "name.core",
  "--block", "phone", "--block", "legal_rep+addr.county", "--block", "name.core/4+addr.city",
  NULL,
};

static void parse_opt(opts *o, const char *a, const char *v);

static void parse_preset(opts *o, const char *name) {
  const char *const *p = !strcmp(name, "person")    ? preset_person
                         : !strcmp(name, "company") ? preset_company
                                                    : NULL;
  if (!p) die("unknown --preset", name);
  for (; *p; p += 2) parse_opt(o, p[0], p[1]);
}

static void parse_field(opts *o, const char *spec) {
  if (o->nprep == SL_MATCH_MAX_FIELDS) die("too many --field", spec);
  const char *colon = strchr(spec, ':');
  if (!colon || sl_match_kind_parse(colon + 1, &o->prep_kind[o->nprep])) die("--field wants COL:KIND", spec);
  o->prep_col[o->nprep++] = strndup(spec, (size_t)(colon - spec));
}

static void parse_opt(opts *o, const char *a, const char *v) {
  if (!strcmp(a, "--in")) o->in = v;
  else if (!strcmp(a, "--out")) o->out = v;
  else if (!strcmp(a, "--id")) o->id_col = v;
  else if (!strcmp(a, "--source")) o->source_col = v;
  else if (!strcmp(a, "--id-rule")) o->id_rule_col = v;
  else if (!strcmp(a, "--threshold")) o->threshold = atof(v);
  else if (!strcmp(a, "--cap")) o->cap = (uint32_t)atol(v);
  else if (!strcmp(a, "--random-pairs")) o->random_pairs = atol(v);
  else if (!strcmp(a, "--seed")) o->seed = strtoul(v, NULL, 10);
  else if (!strcmp(a, "--compare")) parse_compare(o, strdup(v));
  else if (!strcmp(a, "--field")) parse_field(o, v);
  else if (!strcmp(a, "--preset")) parse_preset(o, v);
  else if (!strcmp(a, "--dep")) {
    if (o->ndeps == SL_MATCH_MAX_DEPS) die("too many --dep", v);
    o->dep_text[o->ndeps++] = v;
  } else if (!strcmp(a, "--block")) {
    if (o->nrules == MAX_RULES) die("too many --block", v);
    o->rule_text[o->nrules++] = v;
  } else die("unknown option", a);
}

int main(int argc, char **argv) {
  opts o = {.id_col = "id", .threshold = 0.99, .cap = 1000, .random_pairs = 1000000, .seed = 1};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--link-only")) o.link_only = 1;
    else if (i + 1 == argc) die("missing value for", argv[i]);
    else parse_opt(&o, argv[i], argv[i + 1]), i++;
  }
  if (!o.in || !o.out || !o.nfields || !o.nrules) die("--in, --out, --compare and --block are required", NULL);

  table t = {0};
  read_table(o.in, &t);
  double tp = now();
  prep_table(&t, &o);
  double tp1 = now();
  run r = {.o = &o, .t = &t, .source_col = -1, .idrule_col = -1};
  int idc = col_of(&t, o.id_col);
  if (o.source_col) r.source_col = col_of(&t, o.source_col);
  if (o.id_rule_col) r.idrule_col = col_of(&t, o.id_rule_col);
  for (int f = 0; f < o.nfields; f++) r.fcol[f] = col_of(&t, o.field_col[f]);
  for (int x = 0; x < o.nrules; x++) parse_rule(&t, o.rule_text[x], &r.rules[x]);
  sl_match_model_init(&r.model, o.field, o.nfields);
  parse_deps(&r);

  double t0 = now();
  r.keys = malloc(t.nrec * (size_t)o.nrules * sizeof *r.keys);
  r.nkeys = malloc(t.nrec);
  for (size_t i = 0; i < t.nrec; i++)
    r.nkeys[i] = (uint8_t)record_keys(r.rules, o.nrules, t.cell + i * (size_t)t.ncols,
                                      r.keys + i * (size_t)o.nrules);

  /* Training on the file itself: u from random pairs, term frequencies,
   * then m and lambda by EM over the candidate pairs. */
  sl_match_patterns rnd = {0};
  train_sets ts = {0};
  srand48((long)o.seed);
  for (long k = 0; k < o.random_pairs && t.nrec > 1; k++) {
    size_t i = (size_t)(drand48() * (double)t.nrec), j = (size_t)(drand48() * (double)t.nrec);
    if (i == j || (o.link_only && same_source(&r, i, j))) continue;
    train_pair(&r, i, j, &rnd);
  }
  sl_match_estimate_u(&r.model, &rnd);
  sl_match_str v[SL_MATCH_MAX_FIELDS];
  for (size_t i = 0; i < t.nrec; i++) {
    values(&r, i, v);
    for (int f = 0; f < o.nfields; f++)
      if (o.field[f].tf && sl_match_tf_add(&r.model.tf[f], v[f].p, v[f].n)) die("out of memory", NULL);
  }
  estimate_deps(&r);
  for_each_candidate(&r, train_candidate, &ts);
  sl_match_em_report rep;
  r.model.lambda = 0.5;
  /* m from the pairs with the same valid ID, but for the ID's own fields. */
  if (o.id_rule_col)
    for (int f = 0; f < o.nfields; f++)
      if (!is_id_field(&o, f)) r.model.m_from_known |= 1u << f;
  sl_match_em_known(&r.model, &ts.score, &ts.must, &ts.cannot, 200, 1e-6, &rep);
  uint64_t ncand = ts.score.c.total + ts.must.c.total + ts.cannot.c.total;
  /* Pairs there are: all of them, or those across sources when linking
   * (sources beyond two counted as "not the first record's"). */
  double all = (double)t.nrec * (double)(t.nrec - 1) / 2.0;
  if (o.link_only) {
    size_t na = 0;
    for (size_t i = 0; i < t.nrec; i++) na += same_source(&r, 0, i);
    all = (double)na * (double)(t.nrec - na);
  }
  sl_match_prior_from_candidates(&r.model, ncand, all);
  double t1 = now();

  /* Streaming: each record against those indexed before it, then indexed. */
  stream s = {0};
  if (sl_match_uf_grow(&s.uf, t.nrec)) die("out of memory", NULL);
  if (r.idrule_col >= 0)
    for (size_t i = 0; i < t.nrec; i++) {
      sl_match_str idv = t.cell[i * (size_t)t.ncols + r.idrule_col];
      if (idv.n) sl_match_uf_identify(&s.uf, (uint32_t)i, sl_match_key(0, idv.p, idv.n) | 1);
    }
  sl_match_index_stats st = for_each_candidate(&r, stream_pair, &s);
  flush_links(&s);
  double t2 = now();

  /* The entity of a record: the id of its cluster's first record. */
  uint32_t *first = malloc(t.nrec * sizeof *first);
  for (size_t i = 0; i < t.nrec; i++) first[i] = UINT32_MAX;
  FILE *out = fopen(o.out, "w");
  if (!out) die("cannot write", o.out);
  sl_buf line = SL_BUF_INIT;
  for (size_t i = 0; i < t.nrec; i++) {
    uint32_t root = sl_match_uf_find(&s.uf, (uint32_t)i);
    if (first[root] == UINT32_MAX) first[root] = (uint32_t)i;
    sl_match_str id = t.cell[i * (size_t)t.ncols + idc], ent = t.cell[first[root] * (size_t)t.ncols + idc];
    line.len = 0;
    sl_buf_puts(&line, "{\"id\":");
    sl_buf_json_string(&line, id.p, id.n);
    sl_buf_puts(&line, ",\"entity\":");
    sl_buf_json_string(&line, ent.p, ent.n);
    sl_buf_puts(&line, "}\n");
    fwrite(line.ptr, 1, line.len, out);
  }
  fclose(out);

  fprintf(stderr, "{\n");
  print_model(&r, stderr);
  fprintf(stderr,
          "  \"em\": {\"iterations\": %d, \"converged\": %d, \"max_change\": %.3g, \"loglik\": %.6g, "
          "\"candidates_lambda\": %.6g, \"candidate_pairs\": %llu, \"must\": %llu, \"cannot\": %llu, "
          "\"patterns\": %zu, \"random_pairs\": %llu},\n",
          rep.iterations, rep.converged, rep.max_change, rep.loglik, rep.lambda,
          (unsigned long long)ncand, (unsigned long long)ts.must.c.total,
          (unsigned long long)ts.cannot.c.total, ts.score.c.used, (unsigned long long)rnd.c.total);
  fprintf(stderr,
          "  \"records\": %zu, \"pairs_scored\": %llu, \"links\": %llu, \"cannot_links\": %llu, "
          "\"refused_unions\": %llu,\n",
          t.nrec, (unsigned long long)s.pairs, (unsigned long long)s.links,
          (unsigned long long)s.cannot, (unsigned long long)s.refused);
  fprintf(stderr,
          "  \"index\": {\"keys\": %llu, \"postings\": %llu, \"capped_blocks\": %llu, "
          "\"capped_hits\": %llu, \"bytes\": %llu, \"bytes_per_record\": %.1f},\n",
          (unsigned long long)st.keys, (unsigned long long)st.postings,
          (unsigned long long)st.capped_blocks, (unsigned long long)st.capped_hits,
          (unsigned long long)st.bytes, t.nrec ? (double)st.bytes / (double)t.nrec : 0.0);
  fprintf(stderr, "  \"prep_s\": %.3f, \"train_s\": %.3f, \"stream_s\": %.3f, \"stream_records_per_s\": %.0f\n}\n",
          tp1 - tp, t1 - t0, t2 - t1, (t2 > t1) ? (double)t.nrec / (t2 - t1) : 0.0);

  sl_buf_free(&line);
  free(first);
  sl_match_uf_free(&s.uf);
  free(s.pend);
  sl_match_patterns_free(&rnd);
  sl_match_patterns_free(&ts.score);
  sl_match_patterns_free(&ts.must);
  sl_match_patterns_free(&ts.cannot);
  sl_match_model_free(&r.model);
  sl_match_scratch_free(&r.sc);
  free(r.keys);
  free(r.nkeys);
  for (int c = 0; c < t.ncols; c++) free(t.col[c]);
  for (int f = 0; f < o.nfields; f++) free((char *)o.field_col[f]);  /* the strdup'd spec */
  for (int f = 0; f < o.nprep; f++) free((char *)o.prep_col[f]);
  sl_buf_free(&t.arena);
  free(t.cell);
  free(t.text);
  return 0;
}
