/* `sluice explain PIPELINE.lua REC_A [REC_B] [--svg FILE]`: why two records
 * would or would not be linked under a pipeline's sl.match step and its
 * model: the comparison vector, each field's level, m, u, weight and
 * term-frequency adjustment, the running total, the match weight and
 * probability and the decision against the step's thresholds (or the ID
 * rule's).  For one record: its prepared values and blocking keys, what it
 * is compared on.  docs/matching.md, "Reading explain". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "match_step.h"
#include "platform_pg.h"

const char match_explain_help[] =
    "usage: sluice explain PIPELINE.lua REC_A REC_B [--svg FILE] [--step NAME]\n"
    "       sluice explain PIPELINE.lua REC [--step NAME]\n"
    "       sluice explain PIPELINE.lua --member DEPT/FEED/SRC_ID [--svg FILE] [--step NAME]\n"
    "\n"
    "REC_A and REC_B are JSON objects with the fields the sl.match step reads, inline\n"
    "or @file.json.  Prints the comparison vector and, per field, the level, m, u, the\n"
    "weight log2(m/u), the term-frequency adjustment and the running total from the\n"
    "prior; then the match weight, the probability and the decision against the step's\n"
    "link and review thresholds (or the ID rule's).  The model is the step's `model` file.\n"
    "With one record: its prepared values and blocking keys (which entity it would join\n"
    "depends on the records a run has seen, which the model does not hold).\n"
    "With --member: why a record is in its entity, read from the step's platform tables\n"
    "(its `platform` conninfo): the record against every other member, strongest first,\n"
    "then the whole comparison with the strongest.\n"
    "\n"
    "options:\n"
    "  --svg FILE            also draw the weights as a waterfall chart (SVG)\n"
    "  --member ID           a record of the platform's members table, as dept/feed/src_id\n"
    "exit status: 0 explained, 1 failed, 2 usage or invalid input\n";

/* Colours only on a terminal. */
typedef struct style {
  const char *bold, *green, *red, *dim, *off;
} style;

static const style plain = {"", "", "", "", ""};
static const style ansi = {"\033[1m", "\033[32m", "\033[31m", "\033[2m", "\033[0m"};

/* Columns a UTF-8 text takes on a terminal: CJK and full-width forms two. */
static int display_width(const char *s, size_t n) {
  int w = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    unsigned cp;
    size_t k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (i + k > n) k = n - i;
    cp = k == 1 ? c : k == 2 ? (c & 0x1Fu) : k == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (size_t j = 1; j < k; j++) cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3Fu);
    w += (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                 (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0x20000 && cp <= 0x3FFFD)
             ? 2
             : 1;
    i += k;
  }
  return w;
}

/* Prints s cut to width columns and padded to them. */
static void cell(const char *s, size_t n, int width) {
  size_t end = 0;
  int w = 0;
  while (end < n) {
    size_t k = 1;
    while (end + k < n && ((unsigned char)s[end + k] & 0xC0) == 0x80) k++;
    int cw = display_width(s + end, k);
    if (w + cw > width - (end + k < n ? 1 : 0)) break;
    w += cw;
    end += k;
  }
  fwrite(s, 1, end, stdout);
  if (end < n) {
    fputs("…", stdout);
    w++;
  }
  printf("%*s", width - w, "");
}

/* A record argument: a JSON object, inline or @file. */
static int parse_record(const char *arg, sl_arena *a, sl_record *rec, sl_buf *err) {
  sl_buf text = SL_BUF_INIT;
  if (arg[0] == '@') {
    FILE *f = fopen(arg + 1, "rb");
    if (!f) {
      sl_buf_printf(err, "%s: cannot read", arg + 1);
      return -1;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(&text, chunk, n);
    fclose(f);
  } else sl_buf_puts(&text, arg);
  sl_value v;
  const char *why = NULL;
  char *p = sl_arena_memdup(a, text.ptr ? text.ptr : "", text.len);
  int rc = p ? sl_json_parse(p, text.len, a, &v, &why) : SL_ENOMEM;
  sl_buf_free(&text);
  if (rc || v.type != SL_T_OBJECT) {
    sl_buf_printf(err, "%s: not a JSON object%s%s", arg, why ? ": " : "", why ? why : "");
    return -1;
  }
  memset(rec, 0, sizeof *rec);
  rec->state = SL_REC_CHANGED;
  rec->fields = v.u.members;
  rec->nfields = rec->capfields = v.n;
  return 0;
}

static int read_inputs(const sl_match_config *c, sl_record *rec, sl_arena *a, const char *arg,
                       sl_match_str *vals, sl_buf *err) {
  sl_buf tmp = SL_BUF_INIT;
  int rc = 0;
  for (int i = 0; i < c->ninputs && !rc; i++)
    if (match_field_text(rec, a, c->input[i], &tmp, &vals[i])) {
      sl_buf_printf(err, "%s: field '%s' is not a string or a number", arg, c->input[i]);
      rc = -1;
    }
  sl_buf_free(&tmp);
  return rc;
}

/* The text of column col of a prepared record, for a person. */
static void show_value(sl_match_str v, int width) {
  if (!v.n) cell("(missing)", 9, width);
  else cell(v.p, v.n, width);
}

static void explain_one(const sl_match_config *c, const sl_match_prepared *p, const style *sy) {
  printf("%sOne record: what it is compared on.%s  Which entity it would join depends on the\n"
         "records a run has already seen (the run's state), which the model does not hold:\n"
         "explain it against another record with `sluice explain PIPELINE.lua REC_A REC_B`.\n\n",
         sy->bold, sy->off);
  printf("%sprepared values%s\n", sy->bold, sy->off);
  for (int k = 0; k < c->ncols; k++) {
    printf("  ");
    cell(c->col[k], strlen(c->col[k]), 24);
    sl_match_str v = p->col[k];
    printf("%.*s\n", (int)(v.n ? v.n : 9), v.n ? v.p : "(missing)");
  }
  printf("\n%sblocking keys%s (candidates are the records that share one)\n", sy->bold, sy->off);
  for (int r = 0; r < c->nblocks; r++) {
    const sl_match_block *b = &c->block[r];
    sl_buf key = SL_BUF_INIT;
    int missing = 0;
    for (int k = 0; k < b->ncol; k++) {
      sl_match_str v = p->col[b->col[k]];
      if (!v.n) missing = 1;
      size_t n = v.n;
      if (b->prefix[k] > 0) {   /* the first prefix code points */
        size_t at = 0;
        for (int cp = 0; cp < b->prefix[k] && at < v.n; cp++) {
          at++;
          while (at < v.n && ((unsigned char)v.p[at] & 0xC0) == 0x80) at++;
        }
        n = at;
      }
      if (k) sl_buf_putc(&key, '+');
      sl_buf_append(&key, v.p ? v.p : "", n);
    }
    printf("  ");
    cell(b->text, strlen(b->text), 30);
    if (missing) printf("%s(no key: a part is missing)%s\n", sy->dim, sy->off);
    else printf("%.*s\n", (int)key.len, key.ptr ? key.ptr : "");
    sl_buf_free(&key);
  }
  if (c->id_col >= 0) {
    sl_match_str id = p->col[c->id_col];
    printf("\n%sID rule%s %s: %s%.*s\n", sy->bold, sy->off, c->col[c->id_col],
           id.n ? "" : "no valid identifier", (int)id.n, id.p ? id.p : "");
  }
}

static const char *decision(const sl_match_config *c, const sl_match_explanation *e, const char **why) {
  if (e->rule == SL_MATCH_MUST) {
    *why = "the ID rule: the same valid identifier";
    return "id (linked)";
  }
  if (e->rule == SL_MATCH_CANNOT) {
    *why = "the ID rule: two different valid identifiers never link";
    return "never linked";
  }
  if (e->probability >= c->link) {
    *why = "probability at or above link";
    return "link";
  }
  if (e->probability >= c->review) {
    *why = "probability between review and link";
    return "review";
  }
  *why = "probability below review";
  return "new (not linked)";
}

static void explain_pair(const sl_match_config *c, const sl_match_model *mo, const sl_match_prepared *pa,
                         const sl_match_prepared *pb, const sl_match_explanation *e, const style *sy) {
  printf("%scomparison vector%s [", sy->bold, sy->off);
  for (int f = 0; f < e->nfields; f++) {
    if (e->term[f].level < 0) printf("%s-", f ? ", " : "");
    else printf("%s%d", f ? ", " : "", e->term[f].level);
  }
  printf("]  (level per field, 0 the closest, - missing)\n\n");
  printf("%s", sy->bold);
  cell("field", 5, 12);
  cell("record A", 8, 22);
  cell("record B", 8, 22);
  cell("level", 5, 20);
  printf("%9s %9s %8s %8s %8s %8s%s\n", "m", "u", "weight", "tf adj", "dep adj", "total", sy->off);
  cell("(prior)", 7, 12 + 22 + 22 + 20);
  printf("%9s %9s %8s %8s %8s %8.2f\n", "", "", "", "", "", e->prior);
  double run = e->prior;
  for (int f = 0; f < e->nfields; f++) {
    const sl_match_field *fd = &c->field[f];
    const sl_match_term *t = &e->term[f];
    cell(fd->name, strlen(fd->name), 12);
    show_value(pa->col[c->field_col[f]], 22);
    show_value(pb->col[c->field_col[f]], 22);
    sl_buf name = SL_BUF_INIT;
    sl_match_level_name(fd, t->level, &name);
    cell(name.ptr ? name.ptr : "", name.len, 20);
    sl_buf_free(&name);
    double w = t->weight + t->tf_adjust + t->dep_adjust;
    run += w;
    const char *col = w > 0 ? sy->green : w < 0 ? sy->red : sy->dim;
    if (t->level < 0) printf("%9s %9s ", "", "");
    else printf("%9.3g %9.3g ", mo->m[f][t->level], mo->u[f][t->level]);
    printf("%s%+8.2f%s %8.2f %8.2f %8.2f\n", col, t->weight, sy->off, t->tf_adjust, t->dep_adjust, run);
  }
  const char *why;
  const char *d = decision(c, e, &why);
  printf("\n%smatch weight%s %.2f   %sprobability%s %.9g\n", sy->bold, sy->off, e->weight, sy->bold, sy->off,
         e->probability);
  printf("%sdecision%s     %s%s%s (%s; link >= %g, review >= %g)\n", sy->bold, sy->off, sy->bold, d, sy->off, why,
         c->link, c->review);
}

/* The members of one record's entity, as the platform tables hold them. */
typedef struct member {
  char *ident;            /* dept/feed/src_id */
  char *entity;           /* the entity its row names */
  int decision;
  double probability;
  sl_match_prepared prep;
  sl_match_explanation e; /* the record explained against this member */
} member;

typedef struct members {
  const sl_match_config *c;
  member *v;
  size_t n, cap;
  sl_arena a;
} members;

static int add_member(void *ud, const sl_match_member_row *row) {
  members *ms = ud;
  if (ms->n == ms->cap) {
    size_t cap = ms->cap ? 2 * ms->cap : 16;
    member *v = realloc(ms->v, cap * sizeof *v);
    if (!v) return SL_ENOMEM;
    ms->v = v;
    ms->cap = cap;
  }
  member *m = &ms->v[ms->n];
  memset(m, 0, sizeof *m);
  sl_buf id = SL_BUF_INIT;
  sl_buf_printf(&id, "%.*s/%.*s/%.*s", (int)row->dept.n, row->dept.p, (int)row->feed.n, row->feed.p,
                (int)row->src_id.n, row->src_id.p);
  m->ident = id.ptr ? strndup(id.ptr, id.len) : NULL;
  sl_buf_free(&id);
  m->entity = strndup(row->entity_id.p ? row->entity_id.p : "", row->entity_id.n);
  if (!m->ident || !m->entity) {
    free(m->ident);
    free(m->entity);
    return SL_ENOMEM;
  }
  m->decision = match_decision_parse(row->decision);
  m->probability = row->probability;
  sl_match_str vals[SL_MATCH_MAX_INPUTS];
  sl_arena_reset(&ms->a);
  match_vals_inputs(ms->c, row->vals_json, &ms->a, vals);
  sl_match_prepare(ms->c, vals, &m->prep);
  ms->n++;
  return 0;
}

static int by_probability(const void *x, const void *y) {
  const member *a = x, *b = y;
  double pa = a->e.rule == SL_MATCH_MUST ? 2 : a->e.probability, pb = b->e.rule == SL_MATCH_MUST ? 2 : b->e.probability;
  return pa < pb ? 1 : pa > pb ? -1 : strcmp(a->ident, b->ident);
}

static void write_svg(const sl_match_config *c, const sl_match_explanation *e, const sl_match_prepared *pa,
                      const sl_match_prepared *pb, const char *path, int *code);

/* `--member DEPT/FEED/SRC_ID`: the record against every other member of
 * its entity (members_of), strongest first, then the strongest in full. */
static int explain_member(sl_stage *st, const sl_match_config *c, const sl_match_model *mo, const char *ident,
                          const char *svg, const style *sy) {
  const char *conninfo, *domain;
  match_step_platform(st, &conninfo, &domain);
  if (!conninfo) {
    fprintf(stderr, "sluice: explain: %s: --member reads the platform tables, but the step has no `platform` "
                    "conninfo\n", sl_stage_where(st));
    return 2;
  }
  const char *s1 = strchr(ident, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
  if (!s2 || s2[1] == 0) {
    fprintf(stderr, "sluice: explain: --member '%s': a record is named dept/feed/src_id\n", ident);
    return 2;
  }
  char *dept = strndup(ident, (size_t)(s1 - ident)), *feed = strndup(s1 + 1, (size_t)(s2 - s1 - 1));
  members ms = {.c = c};
  sl_arena_init(&ms.a);
  char err[512] = "";
  int code = 1;
  int rc = dept && feed ? sl_match_platform_load_entity_of(conninfo, domain, dept, feed, s2 + 1, add_member, &ms,
                                                           err, sizeof err)
                        : SL_ENOMEM;
  size_t self = ms.n;
  for (size_t i = 0; i < ms.n; i++)
    if (!strcmp(ms.v[i].ident, ident)) self = i;
  if (rc) {
    fprintf(stderr, "sluice: explain: %s\n", err[0] ? err : sl_strerror(rc));
    goto done;
  }
  if (self == ms.n) {
    fprintf(stderr, "sluice: explain: %s is no member of domain '%s' (no row in %s.members)\n", ident, domain,
            domain);
    goto done;
  }
  /* The record first, the others by their probability against it. */
  member me = ms.v[self];
  ms.v[self] = ms.v[0];
  ms.v[0] = me;
  for (size_t i = 1; i < ms.n; i++) sl_match_explain_cols(c, mo, me.prep.col, ms.v[i].prep.col, &ms.v[i].e);
  qsort(ms.v + 1, ms.n - 1, sizeof *ms.v, by_probability);
  printf("%s%s%s is in entity %s%s%s with %zu other member%s (it came in as %s", sy->bold, ident, sy->off, sy->bold,
         me.entity, sy->off, ms.n - 1, ms.n == 2 ? "" : "s", sl_match_decision_name(me.decision));
  if (me.decision == SL_MATCH_LINK || me.decision == SL_MATCH_REVIEW) printf(", probability %.6g", me.probability);
  printf(")\n\n");
  if (ms.n == 1) {
    printf("it is alone in its entity: nothing links it to another record\n");
    code = 0;
    goto done;
  }
  printf("%s", sy->bold);
  cell("member", 6, 40);
  printf("%12s  %s%s\n", "probability", "decision", sy->off);
  for (size_t i = 1; i < ms.n; i++) {
    const char *why;
    cell(ms.v[i].ident, strlen(ms.v[i].ident), 40);
    if (ms.v[i].e.rule == SL_MATCH_MUST) printf("%12s  ", "(ID rule)");
    else printf("%12.6g  ", ms.v[i].e.probability);
    printf("%s\n", decision(c, &ms.v[i].e, &why));
  }
  printf("\n%sthe strongest link: %s%s\n\n", sy->bold, ms.v[1].ident, sy->off);
  explain_pair(c, mo, &me.prep, &ms.v[1].prep, &ms.v[1].e, sy);
  printf("\nA member need not link to every other: an entity is the records joined by links (and\n"
         "operators' decisions); one strong link to one member is enough.\n");
  code = 0;
  if (svg) write_svg(c, &ms.v[1].e, &me.prep, &ms.v[1].prep, svg, &code);
done:
  for (size_t i = 0; i < ms.n; i++) {
    free(ms.v[i].ident);
    free(ms.v[i].entity);
    sl_match_prepared_free(&ms.v[i].prep);
  }
  free(ms.v);
  sl_arena_free(&ms.a);
  free(dept);
  free(feed);
  return code;
}

/* The waterfall of e into path; *code 1 if it cannot be written. */
static void write_svg(const sl_match_config *c, const sl_match_explanation *e, const sl_match_prepared *pa,
                      const sl_match_prepared *pb, const char *path, int *code) {
  sl_buf out = SL_BUF_INIT;
  match_waterfall_svg(c, e, pa->col, pb->col, &out);
  FILE *f = fopen(path, "wb");
  int bad = !f;
  if (f) {
    bad = fwrite(out.ptr, 1, out.len, f) != out.len;
    bad |= fclose(f) != 0;
  }
  if (bad) {
    fprintf(stderr, "sluice: explain: cannot write %s\n", path);
    *code = 1;
  } else printf("waterfall chart written to %s\n", path);
  sl_buf_free(&out);
}

int match_explain_command(sl_stage *st, int argc, char **argv) {
  const char *recs[2] = {NULL, NULL}, *svg = NULL, *member_id = NULL;
  int nrecs = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--svg") && i + 1 < argc) svg = argv[++i];
    else if (!strcmp(argv[i], "--member") && i + 1 < argc) member_id = argv[++i];
    else if ((argv[i][0] == '{' || argv[i][0] == '@') && nrecs < 2) recs[nrecs++] = argv[i];
    else {
      fprintf(stderr, "sluice: explain: unexpected argument '%s'\n\n%s", argv[i], match_explain_help);
      return 2;
    }
  }
  if (!nrecs == !member_id) {
    fprintf(stderr, "sluice: explain needs one or two records, or --member\n\n%s", match_explain_help);
    return 2;
  }
  if (svg && nrecs == 1) {
    fprintf(stderr, "sluice: explain: --svg draws the weights of a pair: give two records\n");
    return 2;
  }
  sl_match_config c;
  const char *model = NULL;
  sl_buf err = SL_BUF_INIT;
  if (match_command_setup(st, &c, &model)) return 2;
  int code = 2;
  sl_arena a;
  sl_arena_init(&a);
  sl_match_prepared prep[2] = {0};
  sl_match_model mo;
  sl_match_config_model(&c, &mo);
  const style *sy = isatty(1) ? &ansi : &plain;
  for (int r = 0; r < nrecs; r++) {
    sl_record rec;
    sl_match_str vals[SL_MATCH_MAX_INPUTS];
    if (parse_record(recs[r], &a, &rec, &err) || read_inputs(&c, &rec, &a, recs[r], vals, &err)) {
      fprintf(stderr, "sluice: explain: %s\n", sl_buf_text(&err));
      goto done;
    }
    sl_match_prepare(&c, vals, &prep[r]);
  }
  if (nrecs == 1) {
    explain_one(&c, &prep[0], sy);
    code = 0;
    goto done;
  }
  if (!model) {
    fprintf(stderr, "sluice: explain: %s: the step has no `model` file: train one with `sluice train`\n",
            sl_stage_where(st));
    goto done;
  }
  if (sl_match_model_read(&mo, model, &err)) {
    fprintf(stderr, "sluice: explain: %s: model: %s\n", sl_stage_where(st), sl_buf_text(&err));
    goto done;
  }
  if (member_id) {
    code = explain_member(st, &c, &mo, member_id, svg, sy);
    goto done;
  }
  sl_match_explanation e;
  sl_match_explain_cols(&c, &mo, prep[0].col, prep[1].col, &e);
  explain_pair(&c, &mo, &prep[0], &prep[1], &e, sy);
  code = 0;
  if (svg) write_svg(&c, &e, &prep[0], &prep[1], svg, &code);
done:
  sl_match_model_free(&mo);
  sl_match_prepared_free(&prep[0]);
  sl_match_prepared_free(&prep[1]);
  sl_arena_free(&a);
  sl_match_config_free(&c);
  sl_buf_free(&err);
  return code;
}
