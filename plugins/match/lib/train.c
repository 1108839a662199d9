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
