/* A matching configuration: the record fields read and how each is
 * prepared, the comparisons, the blocking rules, the ID rule, the
 * thresholds; the presets for Chinese residents and companies; and the
 * preparation of one record's values into columns and blocking keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

void sl_match_config_init(sl_match_config *c) {
  memset(c, 0, sizeof *c);
  c->id_col = -1;
  c->link = 0.99;
  c->review = 0.80;
  c->block_cap = 1000;
}

void sl_match_config_free(sl_match_config *c) {
  for (int i = 0; i < c->ninputs; i++) free(c->input[i]);
  for (int i = 0; i < c->ncols; i++) free(c->col[i]);
  for (int i = 0; i < c->nfields; i++) free((char *)c->field[i].name);
  sl_match_config_clear_blocks(c);
  free(c->id_rule);
  sl_match_config_clear_deps(c);
  sl_match_config_init(c);
}

static int input_of(const sl_match_config *c, const char *name) {
  for (int i = 0; i < c->ninputs; i++)
    if (!strcmp(c->input[i], name)) return i;
  return -1;
}

int sl_match_config_input(sl_match_config *c, const char *name, sl_match_kind kind) {
  int i = input_of(c, name);
  if (i < 0) {
    if (c->ninputs == SL_MATCH_MAX_INPUTS) return SL_ETOOBIG;
    i = c->ninputs;
    if (!(c->input[i] = strdup(name))) return SL_ENOMEM;
    c->ninputs++;
  }
  c->kind[i] = kind;
  c->finished = 0;
  return 0;
}

int sl_match_level_parse(const char *text, sl_match_level *out) {
  static const struct {
    const char *p;
    sl_match_test t;
    int arg;              /* takes a number */
  } kinds[] = {
    {"exact", SL_MT_EXACT, 0},   {"jw", SL_MT_JW, 1},           {"dlhead", SL_MT_OSA_HEAD, 1},
    {"dl", SL_MT_OSA, 1},
    {"jac", SL_MT_JACCARD, 1},   {"abs", SL_MT_NUM_ABS, 1},     {"rel", SL_MT_NUM_REL, 1},
    {"days", SL_MT_DATE_DAYS, 1}, {"swap", SL_MT_DATE_SWAP, 0}, {"pinyin", SL_MT_PINYIN, 0},
    {"company", SL_MT_COMPANY, 1}, {"address", SL_MT_ADDRESS, 1},
  };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    size_t n = strlen(kinds[k].p);
    if (strncmp(text, kinds[k].p, n)) continue;
    const char *rest = text + n;
    char *end = (char *)rest;
    double arg = 0;
    if (kinds[k].arg) {
      arg = strtod(rest, &end);
      if (end == rest) return SL_EINVAL;
    }
    if (*end) return SL_EINVAL;
    out->test = kinds[k].t;
    out->arg = arg;
    return 0;
  }
  return SL_EINVAL;
}

int sl_match_config_compare(sl_match_config *c, const char *column, const char *const *levels,
                            int nlevels, int tf, sl_buf *err) {
  int f = 0;
  while (f < c->nfields && strcmp(c->field[f].name, column)) f++;
  if (f == SL_MATCH_MAX_FIELDS) {
    sl_buf_printf(err, "compare: more than %d fields", SL_MATCH_MAX_FIELDS);
    return SL_ETOOBIG;
  }
  if (nlevels < 1 || nlevels > SL_MATCH_MAX_LEVELS) {
    sl_buf_printf(err, "compare.%s: 1 to %d levels, not %d", column, SL_MATCH_MAX_LEVELS, nlevels);
    return SL_EINVAL;
  }
  sl_match_field nf = {.nlevels = nlevels, .tf = tf};
  for (int l = 0; l < nlevels; l++)
    if (sl_match_level_parse(levels[l], &nf.level[l])) {
      sl_buf_printf(err,
                    "compare.%s: unknown level '%s' (exact, jwX, dlN, dlheadK, jacX, absX, relX, daysN, swap, "
                    "pinyin, companyX, addressX)",
                    column, levels[l]);
      return SL_EINVAL;
    }
  if (!(nf.name = strdup(column))) return SL_ENOMEM;
  if (f < c->nfields) free((char *)c->field[f].name);
  else c->nfields++;
  c->field[f] = nf;
  c->finished = 0;
  return 0;
}

int sl_match_config_block(sl_match_config *c, const char *text, sl_buf *err) {
  if (c->nblocks == SL_MATCH_MAX_BLOCKS) {
    sl_buf_printf(err, "block: more than %d rules", SL_MATCH_MAX_BLOCKS);
    return SL_ETOOBIG;
  }
  if (!*text) {
    sl_buf_puts(err, "block: an empty rule");
    return SL_EINVAL;
  }
  sl_match_block *b = &c->block[c->nblocks];
  memset(b, 0, sizeof *b);
  if (!(b->text = strdup(text))) return SL_ENOMEM;
  c->nblocks++;
  c->finished = 0;
  return 0;
}

void sl_match_config_clear_blocks(sl_match_config *c) {
  for (int i = 0; i < c->nblocks; i++) free(c->block[i].text);
  c->nblocks = 0;
  c->finished = 0;
}

int sl_match_config_id_rule(sl_match_config *c, const char *column) {
  free(c->id_rule);
  c->id_rule = column ? strdup(column) : NULL;
  c->finished = 0;
  return column && !c->id_rule ? SL_ENOMEM : 0;
}

int sl_match_config_dep(sl_match_config *c, const char *text, sl_buf *err) {
  if (c->ndeps == SL_MATCH_MAX_DEPS) {
    sl_buf_printf(err, "dep: more than %d dependences", SL_MATCH_MAX_DEPS);
    return SL_ETOOBIG;
  }
  const char *c1 = strchr(text, ':');
  if (!c1 || c1 == text || !c1[1] || c1[1] == ':') {
    sl_buf_printf(err, "dep '%s': want A:B[:LB[:LA]] (compared fields, levels)", text);
    return SL_EINVAL;
  }
  const char *c2 = strchr(c1 + 1, ':'), *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
  int d = c->ndeps;
  c->dep_a[d] = strndup(text, (size_t)(c1 - text));
  c->dep_b[d] = strndup(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1));
  c->dep_lb[d] = c2 ? atoi(c2 + 1) : 0;
  c->dep_la[d] = c3 ? atoi(c3 + 1) : 0;
  if (!c->dep_a[d] || !c->dep_b[d]) {
    free(c->dep_a[d]);
    free(c->dep_b[d]);
    return SL_ENOMEM;
  }
  c->ndeps++;
  c->finished = 0;
  return 0;
}

void sl_match_config_clear_deps(sl_match_config *c) {
  for (int d = 0; d < c->ndeps; d++) {
    free(c->dep_a[d]);
    free(c->dep_b[d]);
  }
  c->ndeps = 0;
  c->finished = 0;
}

int sl_match_config_is_id_field(const sl_match_config *c, int f) {
  if (!c->id_rule) return 0;
  size_t stem = strcspn(c->id_rule, ".");
  const char *col = c->field[f].name;
  return !strncmp(col, c->id_rule, stem) && (!col[stem] || col[stem] == '.');
}

void sl_match_config_model(const sl_match_config *c, sl_match_model *mo) {
  sl_match_model_init(mo, c->field, c->nfields);
  mo->ndeps = c->ndeps;
  for (int d = 0; d < c->ndeps; d++)
    mo->dep[d] = (sl_match_dep){.a = c->dep_fa[d], .la = c->dep_la[d], .b = c->dep_fb[d], .lb = c->dep_lb[d],
                                .ratio = 1.0};
  if (c->id_rule)
    for (int f = 0; f < c->nfields; f++)
      if (!sl_match_config_is_id_field(c, f)) mo->m_from_known |= 1u << f;
}

int sl_match_config_column(const sl_match_config *c, const char *name) {
  for (int i = 0; i < c->ncols; i++)
    if (!strcmp(c->col[i], name)) return i;
  return -1;
}

/* ---- presets ---- */

typedef struct preset_compare {
  const char *col;
  const char *levels[SL_MATCH_MAX_LEVELS + 1];
  int tf;
} preset_compare;

typedef struct preset {
  const char *name;
  const char *inputs[SL_MATCH_MAX_INPUTS][2];   /* field, kind */
  const char *id_rule;
  preset_compare compare[SL_MATCH_MAX_FIELDS];
  const char *block[SL_MATCH_MAX_BLOCKS];
  const char *dep[SL_MATCH_MAX_DEPS];
} preset;

/* What a careful user configures from knowledge of Chinese records, not of
 * a generator.  Valid IDs decide; for companies the organisation code
 * inside a credit code or an old taxpayer number is that ID.  An invalid
 * ID is still compared on its characters (a mistyped digit is one edit). */
static const preset presets[] = {
  {"person",
   {{"name", "cn_name"}, {"gender", "gender"}, {"birth", "date"}, {"id_no", "cn_id"},
    {"phone", "phone"}, {"addr", "address"}},
   "id_no.valid",
   {{"name", {"exact", "pinyin", "dl1"}, 1},
    {"gender", {"exact"}, 0},
    {"birth", {"exact", "swap", "dl1"}, 0},
    {"id_no", {"exact", "dlhead14", "dl1"}, 0},
    {"phone", {"exact"}, 1},
    {"addr", {"exact", "address0.9", "address0.7", "address0"}, 0}},
   {"id_no.valid", "id_no", "name.surname_pinyin+birth", "phone", "id_no.region+birth",
    "name.pinyin+addr.county", "name.given+birth"},
   /* One address (a household, a dormitory): a shared birth date (twins),
    * a shared phone, a name one character apart (siblings) say less; a
    * shared birth date makes IDs that differ in the sequence code likelier
    * (twins registered together). */
   {"addr:birth:0:1", "addr:phone:0:1", "addr:name:2:1", "birth:id_no:2"}},
  {"company",
   {{"name", "company"}, {"uscc", "uscc"}, {"legal_rep", "cn_name"}, {"phone", "phone"},
    {"addr", "address"}, {"est_date", "date"}},
   "uscc.org",
   {{"name", {"exact", "company0.99", "company0.9"}, 0},
    {"uscc.body", {"exact", "dl1"}, 0},
    {"legal_rep", {"exact", "pinyin", "dl1"}, 1},
    {"phone", {"exact"}, 1},
    {"addr", {"exact", "address0.9", "address0.7", "address0"}, 0},
    {"est_date", {"exact", "swap", "dl1"}, 0}},
   {"uscc.org", "uscc.body", "name.core", "phone", "legal_rep+addr.county", "name.core/4+addr.city"},
   {NULL}},
};

int sl_match_config_preset(sl_match_config *c, const char *name, sl_buf *err) {
  const preset *p = NULL;
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
    if (!strcmp(presets[i].name, name)) p = &presets[i];
  if (!p) {
    sl_buf_printf(err, "preset: unknown '%s' (person, company)", name);
    return SL_EINVAL;
  }
  int rc = 0;
  for (int i = 0; !rc && i < SL_MATCH_MAX_INPUTS && p->inputs[i][0]; i++) {
    sl_match_kind k;
    sl_match_kind_parse(p->inputs[i][1], &k);
    rc = sl_match_config_input(c, p->inputs[i][0], k);
  }
  for (int i = 0; !rc && i < SL_MATCH_MAX_FIELDS && p->compare[i].col; i++) {
    int n = 0;
    while (p->compare[i].levels[n]) n++;
    rc = sl_match_config_compare(c, p->compare[i].col, p->compare[i].levels, n, p->compare[i].tf, err);
  }
  for (int i = 0; !rc && i < SL_MATCH_MAX_BLOCKS && p->block[i]; i++)
    rc = sl_match_config_block(c, p->block[i], err);
  if (!rc) rc = sl_match_config_id_rule(c, p->id_rule);
  for (int i = 0; !rc && i < SL_MATCH_MAX_DEPS && p->dep[i]; i++) rc = sl_match_config_dep(c, p->dep[i], err);
  return rc;
}

/* ---- resolving names ---- */

/* A name without a dot that is no input's becomes an input taken as it is. */
static int want_input(sl_match_config *c, const char *name) {
  if (strchr(name, '.') || input_of(c, name) >= 0) return 0;
  return sl_match_config_input(c, name, (sl_match_kind)0);
}

static int build_columns(sl_match_config *c) {
  for (int i = 0; i < c->ncols; i++) free(c->col[i]);
  c->ncols = 0;
  for (int i = 0; i < c->ninputs; i++) {
    const char *const *names = NULL;
    int n = c->kind[i] ? sl_match_kind_parts(c->kind[i], &names) : 1;
    for (int p = 0; p < n; p++) {
      if (c->ncols == SL_MATCH_MAX_COLS) return SL_ETOOBIG;
      size_t len = strlen(c->input[i]) + (p ? strlen(names[p]) + 1 : 0) + 1;
      char *s = malloc(len);
      if (!s) return SL_ENOMEM;
      strcpy(s, c->input[i]);
      if (p) {
        strcat(s, ".");
        strcat(s, names[p]);
      }
      c->col[c->ncols] = s;
      c->col_input[c->ncols] = (int8_t)i;
      c->col_part[c->ncols] = (int8_t)p;
      c->ncols++;
    }
  }
  return 0;
}

static int resolve(const sl_match_config *c, const char *name, const char *what, sl_buf *err) {
  int col = sl_match_config_column(c, name);
  if (col < 0) {
    sl_buf_printf(err, "%s: no column '%s' (columns:", what, name);
    for (int i = 0; i < c->ncols; i++) sl_buf_printf(err, " %s", c->col[i]);
    sl_buf_puts(err, ")");
  }
  return col;
}

int sl_match_config_finish(sl_match_config *c, sl_buf *err) {
  int rc = 0;
  char part[256];
  for (int f = 0; !rc && f < c->nfields; f++) rc = want_input(c, c->field[f].name);
  for (int b = 0; !rc && b < c->nblocks; b++) {
    const char *s = c->block[b].text;
    while (!rc && *s) {
      size_t n = strcspn(s, "+/");
      snprintf(part, sizeof part, "%.*s", (int)n, s);
      rc = want_input(c, part);
      s += n;
      if (*s == '/') s += strcspn(s, "+");
      if (*s == '+') s++;
    }
  }
  if (!rc && c->id_rule) rc = want_input(c, c->id_rule);
  if (!rc) rc = build_columns(c);
  if (rc) {
    sl_buf_printf(err, "more than %d fields or columns", SL_MATCH_MAX_INPUTS);
    return rc;
  }
  if (!c->nfields) {
    sl_buf_puts(err, "compare: no field is compared");
    return SL_EINVAL;
  }
  if (!c->nblocks) {
    sl_buf_puts(err, "block: no blocking rule");
    return SL_EINVAL;
  }
  memset(c->stored, 0, sizeof c->stored);
  for (int i = 0; i < c->ncols; i++) {
    const char *dot = strrchr(c->col[i], '.');
    if (c->col_part[i] == 0 || (dot && !strcmp(dot, ".valid"))) c->stored[i] = 1;
  }
  for (int f = 0; f < c->nfields; f++) {
    if ((c->field_col[f] = resolve(c, c->field[f].name, "compare", err)) < 0) return SL_EINVAL;
    c->stored[c->field_col[f]] = 1;
  }
  for (int b = 0; b < c->nblocks; b++) {
    sl_match_block *r = &c->block[b];
    const char *s = r->text;
    r->ncol = 0;
    while (*s) {
      if (r->ncol == SL_MATCH_BLOCK_PARTS) {
        sl_buf_printf(err, "block '%s': more than %d columns", r->text, SL_MATCH_BLOCK_PARTS);
        return SL_EINVAL;
      }
      size_t n = strcspn(s, "+/");
      snprintf(part, sizeof part, "%.*s", (int)n, s);
      if ((r->col[r->ncol] = resolve(c, part, "block", err)) < 0) return SL_EINVAL;
      s += n;
      r->prefix[r->ncol] = 0;
      if (*s == '/') {
        char *end;
        long v = strtol(s + 1, &end, 10);
        if (end == s + 1 || v <= 0 || (*end && *end != '+')) {
          sl_buf_printf(err, "block '%s': /N wants a number of characters", r->text);
          return SL_EINVAL;
        }
        r->prefix[r->ncol] = (int)v;
        s = end;
      }
      r->ncol++;
      if (*s == '+') s++;
    }
  }
  c->id_col = -1;
  if (c->id_rule) {
    if ((c->id_col = resolve(c, c->id_rule, "id_rule", err)) < 0) return SL_EINVAL;
    c->stored[c->id_col] = 1;
  }
  for (int d = 0; d < c->ndeps; d++) {
    int fa = -1, fb = -1;
    for (int f = 0; f < c->nfields; f++) {
      if (!strcmp(c->field[f].name, c->dep_a[d])) fa = f;
      if (!strcmp(c->field[f].name, c->dep_b[d])) fb = f;
    }
    if (fa < 0 || fb < 0 || fa == fb) {
      sl_buf_printf(err, "dep '%s:%s': both must be compared fields, and two of them", c->dep_a[d], c->dep_b[d]);
      return SL_EINVAL;
    }
    if (c->dep_lb[d] < 0 || c->dep_lb[d] > c->field[fb].nlevels || c->dep_la[d] < 0 ||
        c->dep_la[d] > c->field[fa].nlevels) {
      sl_buf_printf(err, "dep '%s:%s:%d:%d': a level beyond the fields' levels (%s has 0..%d, %s 0..%d)",
                    c->dep_a[d], c->dep_b[d], c->dep_lb[d], c->dep_la[d], c->dep_b[d], c->field[fb].nlevels,
                    c->dep_a[d], c->field[fa].nlevels);
      return SL_EINVAL;
    }
    c->dep_fa[d] = fa;
    c->dep_fb[d] = fb;
  }
  if (!(c->link > 0 && c->link <= 1 && c->review >= 0 && c->review <= c->link)) {
    sl_buf_printf(err, "thresholds: want 0 <= review (%g) <= link (%g) <= 1, link > 0", c->review, c->link);
    return SL_EINVAL;
  }
  c->finished = 1;
  return 0;
}

/* ---- one record ---- */

void sl_match_prepared_free(sl_match_prepared *p) {
  for (int i = 0; i < SL_MATCH_MAX_COLS; i++) sl_buf_free(&p->part[i]);
  sl_match_prep_scratch_free(&p->sc);
}

/* The bytes of the first n code points of v (all of it when n is 0). */
static uint32_t prefix_len(sl_match_str v, int n) {
  if (!n) return v.n;
  uint32_t i = 0;
  for (int k = 0; k < n && i < v.n; k++) {
    i++;
    while (i < v.n && ((unsigned char)v.p[i] & 0xC0) == 0x80) i++;
  }
  return i;
}

static void record_keys(const sl_match_config *c, sl_match_prepared *p) {
  p->nkeys = 0;
  for (int r = 0; r < c->nblocks; r++) {
    const sl_match_block *b = &c->block[r];
    char buf[1024];
    size_t n = 0;
    int ok = 1;
    for (int k = 0; k < b->ncol && ok; k++) {
      sl_match_str v = p->col[b->col[k]];
      uint32_t l = prefix_len(v, b->prefix[k]);
      if (!l || n + l + 1 > sizeof buf) ok = 0;
      else {
        memcpy(buf + n, v.p, l);
        n += l;
        buf[n++] = 0x1F;
      }
    }
    if (ok) p->key[p->nkeys++] = sl_match_key((uint32_t)r, buf, n);
  }
}

void sl_match_prepare(const sl_match_config *c, const sl_match_str *inputs, sl_match_prepared *p) {
  for (int i = 0; i < c->ncols; i++) p->part[i].len = 0;
  int col = 0;
  for (int i = 0; i < c->ninputs; i++) {
    int n = 1;
    if (c->kind[i]) {
      const char *const *names;
      n = sl_match_kind_parts(c->kind[i], &names);
      sl_match_prep(c->kind[i], inputs[i].p, inputs[i].n, &p->part[col], &p->sc);
    } else if (inputs[i].n) {
      sl_buf_append(&p->part[col], inputs[i].p, inputs[i].n);
    }
    col += n;
  }
  for (int i = 0; i < c->ncols; i++)
    p->col[i] = p->part[i].oom || !p->part[i].len ? (sl_match_str){"", 0}
                                                  : (sl_match_str){p->part[i].ptr, (uint32_t)p->part[i].len};
  record_keys(c, p);
}
