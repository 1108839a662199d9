/* Training on a sample, without labels: u from random pairs, term
 * frequencies, m and lambda by EM over the candidate pairs the blocking
 * rules give (with the pairs the ID rule decides counted as known), then
 * the prior of a random pair.  docs/internals/match-core.md, "Estimation". */
#define _DEFAULT_SOURCE   /* erand48 */
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

void sl_match_sample_init(sl_match_sample *s, const sl_match_config *c) {
  memset(s, 0, sizeof *s);
  sl_match_store_init(&s->st, c);
}

void sl_match_sample_free(sl_match_sample *s) {
  sl_match_store_free(&s->st);
  free(s->keys);
  free(s->nkeys);
  free(s->group);
  memset(s, 0, sizeof *s);
}

int sl_match_sample_add(sl_match_sample *s, const sl_match_prepared *p, uint32_t group) {
  if (s->st.n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *k = realloc(s->keys, cap * SL_MATCH_MAX_BLOCKS * sizeof *k);
    if (k) s->keys = k;
    uint8_t *nk = realloc(s->nkeys, cap);
    if (nk) s->nkeys = nk;
    uint32_t *g = realloc(s->group, cap * sizeof *g);
    if (g) s->group = g;
    if (!k || !nk || !g) return SL_ENOMEM;
    s->cap = cap;
  }
  size_t i = s->st.n;
  if (sl_match_store_add(&s->st, p->col, NULL, 0) < 0) return SL_ENOMEM;
  memcpy(s->keys + i * SL_MATCH_MAX_BLOCKS, p->key, (size_t)p->nkeys * sizeof *p->key);
  s->nkeys[i] = (uint8_t)p->nkeys;
  s->group[i] = group;
  return 0;
}

/* Every 65536 steps of a phase, and at its end. */
static void progress(const sl_match_train_opts *o, const char *phase, uint64_t done, uint64_t total) {
  if (o && o->progress && (done == total || (done & 0xFFFF) == 0)) o->progress(o->progress_ud, phase, done, total);
}

typedef struct trainer {
  sl_match_model *mo;
  const sl_match_config *c;
  const sl_match_sample *s;
  sl_match_scratch sc;
} trainer;

static int add_pair(trainer *t, size_t i, size_t j, sl_match_patterns *to) {
  sl_match_str a[SL_MATCH_MAX_FIELDS], b[SL_MATCH_MAX_FIELDS];
  int8_t g[SL_MATCH_MAX_FIELDS];
  sl_match_store_fields(&t->s->st, t->c, i, a);
  sl_match_store_fields(&t->s->st, t->c, j, b);
  sl_match_gamma(t->mo, a, b, g, &t->sc);
  return sl_match_patterns_add(to, g, t->mo->nfields);
}

static sl_match_rule id_rule(trainer *t, size_t i, size_t j) {
  if (t->c->id_col < 0) return SL_MATCH_SCORE;
  sl_match_str a[SL_MATCH_MAX_COLS], b[SL_MATCH_MAX_COLS];
  sl_match_store_get(&t->s->st, i, t->c->ncols, a, NULL, 0);
  sl_match_store_get(&t->s->st, j, t->c->ncols, b, NULL, 0);
  return sl_match_id_rule(a[t->c->id_col], b[t->c->id_col]);
}

typedef struct keyed {
  uint64_t h;
  uint32_t i;
} keyed;

static int by_key(const void *x, const void *y) {
  const keyed *a = x, *b = y;
  return a->h < b->h ? -1 : a->h > b->h ? 1 : (a->i > b->i) - (a->i < b->i);
}

/* Whether two valid IDs are one edit apart before their check characters:
 * a mistyped digit with a check character that fits (one in eleven for a
 * resident ID, or recomputed by a system) makes one person look like two,
 * so such pairs are not taken as known non-matches. */
static int ids_near(sl_match_str a, sl_match_str b) {
  return a.n && b.n && sl_match_osa(a.p, a.n - 1, b.p, b.n - 1) <= 1;
}

/* Each dependence's ratio from the sample's known non-matches (two valid
 * IDs more than one edit apart) whose field A is equal: the share of them
 * with field B at level LB.  At most 64 records of one value are paired.
 * (A dependence of the ID's own field, about IDs one edit apart — twins
 * registered together — keeps the near pairs.) */
static int estimate_deps(trainer *t) {
  const sl_match_config *c = t->c;
  const sl_match_sample *s = t->s;
  size_t n = s->st.n;
  if (c->id_col < 0 || !t->mo->ndeps || !n) return 0;
  keyed *k = malloc(n * sizeof *k);
  if (!k) return SL_ENOMEM;
  sl_match_str fa[SL_MATCH_MAX_FIELDS], fb[SL_MATCH_MAX_FIELDS];
  sl_match_str ca[SL_MATCH_MAX_COLS], cb[SL_MATCH_MAX_COLS];
  for (int d = 0; d < t->mo->ndeps; d++) {
    const sl_match_dep *x = &t->mo->dep[d];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      sl_match_store_get(&s->st, i, c->ncols, ca, NULL, 0);
      sl_match_store_fields(&s->st, c, i, fa);
      sl_match_str v = fa[x->a];
      if (v.n && ca[c->id_col].n) k[m++] = (keyed){sl_match_key(0, v.p, v.n), (uint32_t)i};
    }
    qsort(k, m, sizeof *k, by_key);
    uint64_t agree = 0, pairs = 0;
    int own = sl_match_config_is_id_field(c, x->b);
    for (size_t b = 0, e; b < m; b = e) {
      for (e = b + 1; e < m && k[e].h == k[b].h; e++) {}
      size_t end = e - b > 64 ? b + 64 : e;
      for (size_t p = b; p < end; p++)
        for (size_t q = p + 1; q < end; q++) {
          sl_match_store_get(&s->st, k[p].i, c->ncols, ca, NULL, 0);
          sl_match_store_get(&s->st, k[q].i, c->ncols, cb, NULL, 0);
          sl_match_str ia = ca[c->id_col], ib = cb[c->id_col];
          if (sl_match_id_rule(ia, ib) != SL_MATCH_CANNOT || (!own && ids_near(ia, ib))) continue;
          sl_match_store_fields(&s->st, c, k[p].i, fa);
          sl_match_store_fields(&s->st, c, k[q].i, fb);
          int l = sl_match_level_of(&c->field[x->b], fa[x->b], fb[x->b], &t->sc);
          if (l < 0) continue;
          pairs++;
          agree += l == x->lb;
        }
    }
    sl_match_dep_estimate(t->mo, d, agree, pairs);
  }
  free(k);
  return 0;
}

int sl_match_train(sl_match_model *mo, const sl_match_config *c, const sl_match_sample *s,
                   const sl_match_train_opts *o, sl_match_train_report *rep) {
  trainer t = {.mo = mo, .c = c, .s = s};
  sl_match_patterns rnd = {0}, score = {0}, must = {0}, cannot = {0};
  sl_match_index *ix = NULL;
  sl_match_cands cands = {0};
  int rc = 0;
  size_t n = s->st.n;
  long pairs = o && o->random_pairs > 0 ? o->random_pairs : 1000000;
  unsigned long seed = o ? o->seed : 1;
  memset(rep, 0, sizeof *rep);

  /* u from random pairs (erand48 seeded as srand48 would be). */
  unsigned short x[3] = {0x330E, (unsigned short)(seed & 0xFFFF), (unsigned short)((seed >> 16) & 0xFFFF)};
  for (long k = 0; !rc && k < pairs && n > 1; k++) {
    size_t i = (size_t)(erand48(x) * (double)n), j = (size_t)(erand48(x) * (double)n);
    progress(o, "random pairs", (uint64_t)k + 1, (uint64_t)pairs);
    if (i == j || (c->link_only && s->group[i] == s->group[j])) continue;
    rc = add_pair(&t, i, j, &rnd);
  }
  if (rc) goto done;
  sl_match_estimate_u(mo, &rnd);

  /* Term frequencies of the sample. */
  sl_match_str v[SL_MATCH_MAX_FIELDS];
  for (size_t i = 0; !rc && i < n; i++) {
    progress(o, "frequencies", i + 1, n);
    sl_match_store_fields(&s->st, c, i, v);
    for (int f = 0; !rc && f < c->nfields; f++)
      if (c->field[f].tf) rc = sl_match_tf_add(&mo->tf[f], v[f].p, v[f].n);
  }
  if (!rc) rc = estimate_deps(&t);
  if (rc) goto done;

  /* The candidate pairs, each record against those before it. */
  if (!(ix = sl_match_index_new(c->block_cap))) {
    rc = SL_ENOMEM;
    goto done;
  }
  for (size_t i = 0; !rc && i < n; i++) {
    progress(o, "candidate pairs", i + 1, n);
    const uint64_t *k = s->keys + i * SL_MATCH_MAX_BLOCKS;
    rc = sl_match_cands_collect(&cands, ix, k, s->nkeys[i], (uint32_t)i);
    for (size_t y = 0; !rc && y < cands.n; y++) {
      size_t j = cands.ids[y];
      if (c->link_only && s->group[i] == s->group[j]) continue;
      sl_match_rule d = id_rule(&t, i, j);
      rc = add_pair(&t, i, j, d == SL_MATCH_MUST ? &must : d == SL_MATCH_CANNOT ? &cannot : &score);
    }
    for (size_t y = 0; !rc && y < s->nkeys[i]; y++) rc = sl_match_index_add(ix, k[y], (uint32_t)i);
  }
  if (rc) goto done;

  mo->lambda = 0.5;
  progress(o, "EM", 0, 1);
  sl_match_em_known(mo, &score, &must, &cannot, o && o->max_iter ? o->max_iter : 200,
                    o && o->tol > 0 ? o->tol : 1e-6, &rep->em);
  uint64_t ncand = score.c.total + must.c.total + cannot.c.total;
  /* Pairs there are: all of them, or those across groups when linking
   * (groups beyond two counted as "not the first record's"). */
  double all = (double)n * (double)(n ? n - 1 : 0) / 2.0;
  if (c->link_only) {
    size_t na = 0;
    for (size_t i = 0; i < n; i++) na += s->group[i] == s->group[0];
    all = (double)na * (double)(n - na);
  }
  sl_match_prior_from_candidates(mo, ncand, all);
  progress(o, "EM", 1, 1);
  rep->candidate_pairs = ncand;
  rep->must = must.c.total;
  rep->cannot = cannot.c.total;
  rep->random_pairs = rnd.c.total;
  rep->patterns = score.c.used;
  rep->all_pairs = all;

done:
  sl_match_index_free(ix);
  sl_match_cands_free(&cands);
  sl_match_patterns_free(&rnd);
  sl_match_patterns_free(&score);
  sl_match_patterns_free(&must);
  sl_match_patterns_free(&cannot);
  sl_match_scratch_free(&t.sc);
  return rc;
}
