/* The streaming matcher: each record, prepared, is looked up by identity
 * (a replay changes nothing, an update supersedes the earlier version),
 * compared with the live records that share a blocking key with it, linked
 * strongest first under the cannot-link constraints, and indexed.
 *
 * Per record (a slot) the matcher keeps the stored columns in the store's
 * arena and a few fixed-size arrays; per cluster root, the entity's id,
 * version and live members.  A superseded version is no candidate, no
 * member and no source of golden values: an update recomputes the entity
 * without it (decide.c), which may split it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t */
#include <xxhash.h>

#include "matcher_state.h"

const char *sl_match_decision_name(int d) {
  static const char *const names[] = {"new", "link", "review", "id"};
  return d >= 0 && d <= SL_MATCH_ID ? names[d] : "?";
}

uint64_t sl_match_hash(const void *p, size_t n) {
  return XXH3_64bits(p, n);
}

sl_match *sl_match_new(const sl_match_config *c, sl_match_model *mo) {
  sl_match *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->c = c;
  m->mo = *mo;
  m->mo.field = c->field;
  sl_match_model_weights(&m->mo);   /* final from here on */
  memset(mo, 0, sizeof *mo);
  sl_match_store_init(&m->st, c);
  for (int i = 0; i < c->ncols; i++)
    if (c->col_part[i] == 0) m->value_col[c->col_input[i]] = i;
  sl_match_golden_columns(c, m->golden_col);
  if (!(m->ix = sl_match_index_new(c->block_cap))) {
    sl_match_free(m);
    return NULL;
  }
  return m;
}

void sl_match_free(sl_match *m) {
  if (!m) return;
  sl_match_model_free(&m->mo);
  sl_match_store_free(&m->st);
  sl_match_index_free(m->ix);
  sl_match_cands_free(&m->cands);
  sl_match_uf_free(&m->uf);
  sl_match_scratch_free(&m->sc);
  sl_match_prepared_free(&m->prep);
  free(m->vhash);
  free(m->time);
  free(m->next);
  free(m->with);
  free(m->prob);
  free(m->dec);
  free(m->flags);
  free(m->gen);
  free(m->group);
  free(m->ent);
  free(m->ver);
  free(m->live);
  free(m->idkey);
  free(m->idslot);
  for (size_t i = 0; i < m->depts.n; i++) free(m->depts.v[i]);
  for (size_t i = 0; i < m->feeds.n; i++) free(m->feeds.v[i]);
  free(m->depts.v);
  free(m->feeds.v);
  free(m->feed);
  free(m->idh);
  free(m->pend);
  free(m->rev);
  free(m->mer);
  free(m->spl);
  sl_match_counts_free(&m->restoring);
  sl_match_constraints_free(&m->cons);
  sl_match_prepared_free(&m->reprep);
  free(m->ring);
  free(m->keys);
  free(m->pairs);
  free(m->roots);
  free(m);
}

const sl_match_model *sl_match_get_model(const sl_match *m) {
  return &m->mo;
}

/* ---- growth ---- */

#define GROW(p, cap) ((tmp = realloc((p), (cap) * sizeof *(p))) ? ((p) = tmp, 0) : 1)

static int grow_slots(sl_match *m) {
  if (m->n < m->cap) return 0;
  size_t cap = m->cap ? m->cap * 2 : 1024;
  void *tmp;
  if (GROW(m->vhash, cap) || GROW(m->time, cap) || GROW(m->next, cap) || GROW(m->with, cap) ||
      GROW(m->prob, cap) || GROW(m->dec, cap) || GROW(m->flags, cap) || GROW(m->gen, cap) ||
      GROW(m->group, cap) || GROW(m->feed, cap) || GROW(m->idh, cap) || GROW(m->ent, cap) || GROW(m->ver, cap) || GROW(m->live, cap))
    return SL_ENOMEM;
  m->cap = cap;
  return 0;
}

int sl__match_push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 32;
    void *p = realloc(*arr, nc * elem);
    if (!p) return SL_ENOMEM;
    *arr = p;
    *cap = nc;
  }
  memcpy((char *)*arr + *n * elem, v, elem);
  (*n)++;
  return 0;
}

/* ---- identities ---- */

uint64_t sl__match_identity_key(sl_match_str d, sl_match_str f, sl_match_str s) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, d.p, d.n);
  XXH3_64bits_update(&st, "\x1F", 1);
  XXH3_64bits_update(&st, f.p, f.n);
  XXH3_64bits_update(&st, "\x1F", 1);
  XXH3_64bits_update(&st, s.p, s.n);
  uint64_t h = XXH3_64bits_digest(&st);
  return h ? h : 1;
}

static int same_str(sl_match_str a, sl_match_str b) {
  return a.n == b.n && (!a.n || !memcmp(a.p, b.p, a.n));
}

static sl_match_str name_of(const name_table *t, uint16_t i, sl_match_str stored) {
  return i == OVERFLOW ? stored : (sl_match_str){t->v[i], (uint32_t)strlen(t->v[i])};
}

/* A slot's department, feed and source id. */
static void extras(const sl_match *m, uint32_t slot, sl_match_str *col, sl_match_str *x) {
  sl_match_store_get(&m->st, slot, m->c->ncols, col, x, EXTRA);
  x[0] = name_of(&m->depts, m->group[slot], x[0]);
  x[1] = name_of(&m->feeds, m->feed[slot], x[1]);
}

/* The table slot of key: where it is, or the empty one it would go to. */
static size_t id_at(const sl_match *m, uint64_t key, sl_match_str d, sl_match_str f, sl_match_str s) {
  size_t mask = m->idcap - 1, i = (size_t)(key * 0x9E3779B97F4A7C15ull >> 17) & mask;
  for (; m->idkey[i]; i = (i + 1) & mask) {
    if (m->idkey[i] != key) continue;
    sl_match_str x[EXTRA], col[SL_MATCH_MAX_COLS];
    extras(m, m->idslot[i], col, x);
    if (same_str(x[0], d) && same_str(x[1], f) && same_str(x[2], s)) break;
  }
  return i;
}

static int id_grow(sl_match *m) {
  if ((m->idused + 1) * 10 <= m->idcap * 7) return 0;
  size_t ncap = m->idcap ? m->idcap * 2 : 1024;
  uint64_t *k = calloc(ncap, sizeof *k);
  uint32_t *s = calloc(ncap, sizeof *s);
  if (!k || !s) {
    free(k);
    free(s);
    return SL_ENOMEM;
  }
  for (size_t i = 0; i < m->idcap; i++) {
    if (!m->idkey[i]) continue;
    size_t j = (size_t)(m->idkey[i] * 0x9E3779B97F4A7C15ull >> 17) & (ncap - 1);
    while (k[j]) j = (j + 1) & (ncap - 1);
    k[j] = m->idkey[i];
    s[j] = m->idslot[i];
  }
  free(m->idkey);
  free(m->idslot);
  m->idkey = k;
  m->idslot = s;
  m->idcap = ncap;
  return 0;
}

uint32_t sl_match_find(const sl_match *m, sl_match_str dept, sl_match_str feed, sl_match_str src_id) {
  if (!m->idcap) return UINT32_MAX;
  size_t i = id_at(m, sl__match_identity_key(dept, feed, src_id), dept, feed, src_id);
  return m->idkey[i] ? m->idslot[i] : UINT32_MAX;
}

uint32_t sl__match_find_key(const sl_match *m, uint64_t key) {
  if (!m->idcap) return UINT32_MAX;
  size_t mask = m->idcap - 1, i = (size_t)(key * 0x9E3779B97F4A7C15ull >> 17) & mask;
  for (; m->idkey[i]; i = (i + 1) & mask)
    if (m->idkey[i] == key) return m->idslot[i];
  return UINT32_MAX;
}

uint64_t sl__match_slot_identity(const sl_match *m, uint32_t slot) {
  sl_match_str x[EXTRA], col[SL_MATCH_MAX_COLS];
  extras(m, slot, col, x);
  return sl__match_identity_key(x[0], x[1], x[2]);
}

uint64_t sl__match_entity_key(sl_match_str dept, sl_match_str feed, sl_match_str src_id, uint64_t seed) {
  char idbuf[1024];
  int n = snprintf(idbuf, sizeof idbuf, "%.*s/%.*s/%.*s", (int)dept.n, dept.p, (int)feed.n, feed.p,
                   (int)src_id.n, src_id.p);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof idbuf) n = sizeof idbuf - 1;
  uint64_t e = XXH3_64bits_withSeed(idbuf, (size_t)n, seed);
  return e ? e : 1;
}

/* The index of name in t, added if new; OVERFLOW past MAX_NAMES. */
static int intern(name_table *t, sl_match_str name, uint16_t *out) {
  for (size_t i = 0; i < t->n; i++)
    if (strlen(t->v[i]) == name.n && !memcmp(t->v[i], name.p, name.n)) {
      *out = (uint16_t)i;
      return 0;
    }
  if (t->n == MAX_NAMES || memchr(name.p, 0, name.n)) {
    *out = OVERFLOW;
    return 0;
  }
  char *s = strndup(name.n ? name.p : "", name.n);
  if (!s || sl__match_push((void **)&t->v, &t->n, &t->cap, sizeof s, &s)) {
    free(s);
    return SL_ENOMEM;
  }
  *out = (uint16_t)(t->n - 1);
  return 0;
}

/* ---- clusters ---- */

uint32_t sl__match_root(sl_match *m, uint32_t x) {
  return sl_match_uf_find(&m->uf, x);
}

static uint32_t root(sl_match *m, uint32_t x) {
  return sl_match_uf_find(&m->uf, x);
}

int sl__match_join(sl_match *m, uint32_t a, uint32_t b) {
  uint32_t ra = root(m, a), rb = root(m, b);
  if (ra == rb) return 0;
  int rc = sl_match_uf_union(&m->uf, a, b);
  if (rc != 1) return rc;
  /* The two rings become one. */
  uint32_t t = m->next[ra];
  m->next[ra] = m->next[rb];
  m->next[rb] = t;
  return 1;
}

/* Links slot s with j; keeps the entities straight: the one with more live
 * members survives (ties: the smaller id), the other is merged into it. */
int sl__match_link(sl_match *m, uint32_t s, uint32_t j) {
  uint32_t ra = root(m, s), rb = root(m, j);
  if (ra == rb) return 0;
  uint64_t ea = m->ent[ra], eb = m->ent[rb];
  uint32_t va = m->ver[ra], vb = m->ver[rb], la = m->live[ra], lb = m->live[rb];
  int rc = sl__match_join(m, s, j);
  if (rc != 1) return rc;
  uint32_t r = root(m, s);
  m->live[r] = la + lb;
  if (!ea || !eb) {       /* a record without an entity joins one */
    m->ent[r] = ea ? ea : eb;
    m->ver[r] = (ea ? va : vb) + 1;
    return 1;
  }
  int a_wins = la > lb || (la == lb && ea < eb);
  m->ent[r] = a_wins ? ea : eb;
  m->ver[r] = (a_wins ? va : vb) + 1;
  sl_match_merge mg = {.survivor = m->ent[r], .absorbed = a_wins ? eb : ea,
                       .absorbed_version = (a_wins ? vb : va) + 1,
                       .absorbed_members = a_wins ? lb : la};
  return sl__match_push((void **)&m->mer, &m->nmer, &m->capmer, sizeof mg, &mg) ? SL_ENOMEM : 1;
}

static int by_weight_desc(const void *x, const void *y) {
  const pending *a = x, *b = y;
  return a->w < b->w ? 1 : a->w > b->w ? -1 : a->j < b->j ? -1 : a->j > b->j;
}

static uint64_t values_hash(const sl_match_config *c, const sl_match_prepared *p) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  for (int i = 0; i < c->ncols; i++)
    if (c->stored[i]) {
      XXH3_64bits_update(&st, &p->col[i].n, sizeof p->col[i].n);
      XXH3_64bits_update(&st, p->col[i].p, p->col[i].n);
    }
  return XXH3_64bits_digest(&st);
}

static void replay_result(sl_match *m, uint32_t s, sl_match_result *res) {
  res->slot = s;
  res->replay = 1;
  res->decision = m->dec[s];
  res->probability = m->prob[s];
  res->with = m->with[s];
  res->entity = m->ent[root(m, s)];
  m->stats.replays++;
}

/* A slot for a record: its values stored, its fixed-size fields set, its
 * cluster identity (a valid ID) given.  0 or SL_ENOMEM. */
static int new_slot(sl_match *m, const sl_match_in *in, const sl_match_prepared *p, uint64_t vh,
                    uint32_t *out) {
  const sl_match_config *c = m->c;
  if (grow_slots(m) || sl_match_uf_grow(&m->uf, m->n + 1)) return SL_ENOMEM;
  uint16_t g, fd;
  if (intern(&m->depts, in->dept, &g) || intern(&m->feeds, in->feed, &fd)) return SL_ENOMEM;
  sl_match_str x[EXTRA] = {g == OVERFLOW ? in->dept : (sl_match_str){"", 0},
                           fd == OVERFLOW ? in->feed : (sl_match_str){"", 0}, in->src_id};
  int64_t si = sl_match_store_add(&m->st, p->col, x, EXTRA);
  if (si < 0) return SL_ENOMEM;
  uint32_t s = (uint32_t)si;
  uint32_t idh = 0;
  if (c->id_col >= 0 && p->col[c->id_col].n) {
    idh = (uint32_t)sl_match_key(0, p->col[c->id_col].p, p->col[c->id_col].n);
    if (!idh) idh = 1;
  }
  m->n++;
  m->vhash[s] = vh;
  m->time[s] = in->time_ms;
  m->next[s] = s;
  m->with[s] = UINT32_MAX;
  m->prob[s] = 0;
  m->dec[s] = SL_MATCH_NEW;
  m->flags[s] = F_LIVE;
  m->gen[s] = 0;
  m->group[s] = g;
  m->feed[s] = fd;
  m->idh[s] = idh;
  m->ent[s] = 0;
  m->ver[s] = 0;
  m->live[s] = 1;
  m->stats.records++;
  if (c->id_col >= 0 && p->col[c->id_col].n)
    sl_match_uf_identify(&m->uf, s, sl_match_key(0, p->col[c->id_col].p, p->col[c->id_col].n) | 1);
  *out = s;
  return 0;
}

int sl_match_add(sl_match *m, const sl_match_in *in, sl_match_result *res) {
  sl_match_prepare(m->c, in->value, &m->prep);
  return sl_match_add_prepared(m, in, &m->prep, res);
}

sl_match_rule sl__match_judge(sl_match *m, const sl_match_str *acol, uint32_t idha, uint32_t j,
                              sl_match_str *colb, double *w) {
  const sl_match_config *c = m->c;
  *w = W_ID;
  /* Two different valid IDs are known without reading the candidate. */
  if (idha && m->idh[j] && idha != m->idh[j]) return SL_MATCH_CANNOT;
  /* One decoding of the candidate's values for the ID rule and the fields. */
  sl_match_store_get(&m->st, j, c->ncols, colb, NULL, 0);
  sl_match_rule d = c->id_col >= 0 ? sl_match_id_rule(acol[c->id_col], colb[c->id_col]) : SL_MATCH_SCORE;
  if (d != SL_MATCH_SCORE) return d;
  sl_match_str a[SL_MATCH_MAX_FIELDS], b[SL_MATCH_MAX_FIELDS];
  int8_t gm[SL_MATCH_MAX_FIELDS];
  for (int f = 0; f < c->nfields; f++) {
    a[f] = acol[c->field_col[f]];
    b[f] = colb[c->field_col[f]];
  }
  sl_match_gamma(&m->mo, a, b, gm, &m->sc);
  *w = sl_match_weight(&m->mo, gm, a, NULL);
  return SL_MATCH_SCORE;
}

/* Whether an update's entity holds together without the earlier version
 * old, so that it need not be recomputed: the new version s links to every
 * other live member (m->pend), and carries the same valid ID (the
 * cluster's identity stays right). */
static int still_holds(sl_match *m, uint32_t old, uint32_t s) {
  if (m->idh[s] != m->idh[old]) return 0;
  uint32_t r = root(m, old), n = 0;
  for (size_t y = 0; y < m->npend; y++) n += root(m, m->pend[y].j) == r;
  return n == m->live[r];
}

int sl_match_add_prepared(sl_match *m, const sl_match_in *in, const sl_match_prepared *p,
                          sl_match_result *res) {
  const sl_match_config *c = m->c;
  memset(res, 0, sizeof *res);
  res->with = UINT32_MAX;
  m->npend = m->nrev = m->nmer = m->nspl = 0;
  uint64_t key = sl__match_identity_key(in->dept, in->feed, in->src_id);
  uint64_t vh = values_hash(c, p);
  if (id_grow(m)) return SL_ENOMEM;
  size_t at = id_at(m, key, in->dept, in->feed, in->src_id);
  uint32_t old = m->idkey[at] ? m->idslot[at] : UINT32_MAX;
  if (old != UINT32_MAX && m->vhash[old] == vh) {
    replay_result(m, old, res);
    return 0;
  }
  /* An older version than the one held (a replay after a restore, or a
   * department's late correction of a correction) does not replace it. */
  if (old != UINT32_MAX && in->time_ms && in->time_ms < m->time[old]) {
    replay_result(m, old, res);
    m->stats.stale++;
    return 0;
  }
  uint32_t s;
  if (new_slot(m, in, p, vh, &s)) return SL_ENOMEM;
  uint16_t g = m->group[s];
  uint32_t idh = m->idh[s];
  uint64_t e0 = 0;          /* an update: the entity the earlier version was in, */
  uint32_t keeper = UINT32_MAX;   /* and a slot of it after recomputing it without that version */
  if (old != UINT32_MAX) {
    /* An update: the earlier version stops being a member, and its entity
     * is recomputed without it (it may have held the entity together) and
     * with the new version, which stays in the entity if it still matches
     * a member: no entity comes apart to merge again. */
    m->flags[old] &= (uint8_t)~F_LIVE;
    m->gen[s] = m->gen[old] < 255 ? (uint8_t)(m->gen[old] + 1) : 255;
    e0 = m->ent[root(m, old)];
    m->live[root(m, old)]--;
    m->stats.updates++;
  } else {
    m->idkey[at] = key;
    m->idused++;
  }
  m->idslot[at] = s;
  res->slot = s;
  res->updated = old != UINT32_MAX;
  if (m->cons.n && sl__match_arrival(m, s, key)) return SL_ENOMEM;
  int detached = m->flags[s] & F_DETACHED;

  /* Candidates: the live records sharing a key, scored (none for a record
   * an operator split off: it links by a must-link only). */
  if (sl_match_cands_collect(&m->cands, m->ix, p->key, detached ? 0 : (size_t)p->nkeys, s)) return SL_ENOMEM;
  sl_match_str colb[SL_MATCH_MAX_COLS];
  double best = -1;
  /* Candidates are scattered over the arrays and the store: the next ones'
   * lines are asked for while this one is scored. */
  for (size_t y = 0; y < m->cands.n && y < 2; y++) {
    __builtin_prefetch(&m->flags[m->cands.ids[y]]);
    __builtin_prefetch(&m->st.off[m->cands.ids[y]]);
  }
  for (size_t y = 0; y < m->cands.n; y++) {
    uint32_t j = m->cands.ids[y];
    if (y + 2 < m->cands.n) {
      __builtin_prefetch(&m->flags[m->cands.ids[y + 2]]);
      __builtin_prefetch(&m->idh[m->cands.ids[y + 2]]);
      __builtin_prefetch(&m->st.off[m->cands.ids[y + 2]]);
    }
    if (y + 1 < m->cands.n) __builtin_prefetch(m->st.bytes.ptr + m->st.off[m->cands.ids[y + 1]]);
    if ((m->flags[j] & (F_LIVE | F_DETACHED)) != F_LIVE || (c->link_only && m->group[j] == g)) continue;
    m->stats.pairs++;
    pending pe = {.i = s, .j = j};
    sl_match_rule d = sl__match_judge(m, p->col, idh, j, colb, &pe.w);
    if (d == SL_MATCH_CANNOT) {
      /* No constraint to store: both clusters carry their valid ID as
       * their identity (sl_match_uf_identify), and clusters with different
       * identities are never joined. */
      m->stats.cannot++;
      continue;
    }
    pe.kind = d == SL_MATCH_MUST ? LINK_ID : LINK_SCORE;
    double pr = d == SL_MATCH_MUST ? 1.0 : sl_match_probability(pe.w);
    if (pr > best || (pr == best && j < res->with)) {
      best = pr;
      res->with = j;
      res->probability = pr;
    }
    if (pr >= c->link) {
      if (sl__match_push((void **)&m->pend, &m->npend, &m->cappend, sizeof pe, &pe)) return SL_ENOMEM;
    } else if (pr >= c->review) {
      sl_match_review rv = {.other = j, .probability = pr};
      if (sl__match_push((void **)&m->rev, &m->nrev, &m->caprev, sizeof rv, &rv)) return SL_ENOMEM;
    }
  }

  if (old != UINT32_MAX && m->live[root(m, old)] && !still_holds(m, old, s)) {
    /* The entity is recomputed without the earlier version and with the
     * new one (an entity of the earlier version alone stays on it, for the
     * new version to keep). */
    uint32_t t = m->next[old];    /* the new version into the entity's ring */
    m->next[old] = m->next[s];
    m->next[s] = t;
    if (sl__match_recompute(m, old, UINT32_MAX, s, p, &keeper)) return SL_ENOMEM;
  }

  /* Links strongest first (an operator's must-link before all): a record
   * that could join two clusters which may not be joined joins the one it
   * matches best. */
  if (m->npend > 1) qsort(m->pend, m->npend, sizeof *m->pend, by_weight_desc);
  int linked = 0, how = LINK_SCORE;
  for (size_t y = 0; y < m->npend; y++) {
    m->stats.links++;
    int rc = sl__match_link(m, s, m->pend[y].j);
    if (rc == SL_ENOMEM) return rc;
    if (rc == SL_ESTATE) {
      m->stats.refused++;
      continue;
    }
    if (!linked) {
      res->with = m->pend[y].j;
      how = m->pend[y].kind;
      res->probability = how != LINK_SCORE ? 1.0 : sl_match_probability(m->pend[y].w);
    }
    linked = 1;
  }
  uint32_t r = root(m, s);
  if (!m->ent[r] && old != UINT32_MAX && keeper == UINT32_MAX && m->ent[root(m, old)]) {
    /* An update that links nowhere keeps its entity when it was the only member. */
    if (sl__match_link(m, s, old) == 1) r = root(m, s);
  }
  if (!m->ent[r]) {
    m->ent[r] = sl__match_entity_key(in->dept, in->feed, in->src_id, m->gen[s]);
    m->ver[r] = 1;
    res->created = 1;
    m->stats.new_entities++;
  }
  res->entity = m->ent[r];
  if (old != UINT32_MAX) {
    /* Where the earlier version's entity is now: if not this record's, the
     * record left it. */
    uint32_t where = keeper != UINT32_MAX ? keeper : old;
    uint32_t er = root(m, where);
    if (er != r && m->ent[er] == e0) {
      res->left = e0;
      res->left_slot = where;
      res->left_version = ++m->ver[er];
    }
  }

  /* Possible matches left in another cluster go to review, but a pair an
   * operator decided already. */
  size_t k = 0;
  for (size_t y = 0; y < m->nrev; y++)
    if (root(m, m->rev[y].other) != r &&
        (!m->cons.n || !sl_match_constraint_get(&m->cons, key, sl__match_slot_identity(m, m->rev[y].other))))
      m->rev[k++] = m->rev[y];
  m->nrev = k;
  res->reviews = m->rev;
  res->nreviews = k;
  res->merges = m->mer;
  res->nmerges = m->nmer;
  res->splits = m->spl;
  res->nsplits = m->nspl;
  m->stats.reviews += k;
  res->decision = linked ? (how == LINK_ID ? SL_MATCH_ID : SL_MATCH_LINK) : k ? SL_MATCH_REVIEW : SL_MATCH_NEW;
  if (best < 0 && !linked) res->probability = 0;
  m->dec[s] = (uint8_t)res->decision;
  m->prob[s] = (float)res->probability;
  m->with[s] = res->with;

  for (int y = 0; y < p->nkeys; y++)
    if (sl_match_index_add(m->ix, p->key[y], s)) return SL_ENOMEM;
  return 0;
}

/* ---- restore ---- */

int sl_match_restore(sl_match *m, const sl_match_in *in, uint64_t entity) {
  return sl_match_restore_member(m, in, entity, SL_MATCH_NEW, 0);
}

int sl_match_restore_member(sl_match *m, const sl_match_in *in, uint64_t entity, int decision,
                            double probability) {
  sl_match_prepare(m->c, in->value, &m->prep);
  const sl_match_prepared *p = &m->prep;
  m->nmer = 0;
  uint64_t key = sl__match_identity_key(in->dept, in->feed, in->src_id);
  if (id_grow(m)) return SL_ENOMEM;
  size_t at = id_at(m, key, in->dept, in->feed, in->src_id);
  if (m->idkey[at]) return 0;
  uint32_t s;
  if (new_slot(m, in, p, values_hash(m->c, p), &s)) return SL_ENOMEM;
  m->idkey[at] = key;
  m->idslot[at] = s;
  m->idused++;
  m->dec[s] = (uint8_t)decision;
  m->prob[s] = (float)probability;
  for (int y = 0; y < p->nkeys; y++)
    if (sl_match_index_add(m->ix, p->key[y], s)) return SL_ENOMEM;
  if (!entity) entity = 1;
  uint64_t other = sl_match_counts_get(&m->restoring, entity);
  if (!other) {
    m->ent[s] = entity;
    m->ver[s] = 1;
    return sl_match_counts_add(&m->restoring, entity, (uint64_t)s + 1);
  }
  int rc = sl__match_link(m, s, (uint32_t)(other - 1));
  if (rc == SL_ENOMEM) return rc;
  if (rc == SL_ESTATE) {
    /* Kept apart: it keeps the entity id on a cluster of its own. */
    m->stats.refused++;
    m->ent[s] = entity;
    m->ver[s] = 1;
  }
  return 0;
}

int sl_match_restore_version(sl_match *m, uint64_t entity, uint32_t version) {
  uint64_t slot = sl_match_counts_get(&m->restoring, entity ? entity : 1);
  if (!slot) return SL_ENOENT;
  uint32_t r = root(m, (uint32_t)(slot - 1));
  if (m->ent[r] != entity) return SL_ENOENT;
  m->ver[r] = version;
  return 0;
}

void sl_match_restore_done(sl_match *m) {
  sl_match_counts_free(&m->restoring);
}

/* ---- reading ---- */

size_t sl_match_slots(const sl_match *m) {
  return m->n;
}

int sl_match_live(const sl_match *m, uint32_t slot) {
  return slot < m->n && (m->flags[slot] & F_LIVE);
}

void sl_match_get(const sl_match *m, uint32_t slot, sl_match_view *v) {
  sl_match_str x[EXTRA];
  extras(m, slot, v->col, x);
  v->dept = x[0];
  v->feed = x[1];
  v->src_id = x[2];
  v->time_ms = m->time[slot];
  v->decision = m->dec[slot];
  v->probability = m->prob[slot];
  v->with = m->with[slot];
}

uint64_t sl_match_entity(sl_match *m, uint32_t slot) {
  return m->ent[root(m, slot)];
}

uint32_t sl_match_entity_members(sl_match *m, uint32_t slot) {
  return m->live[root(m, slot)];
}

uint32_t sl_match_entity_version(sl_match *m, uint32_t slot) {
  return m->ver[root(m, slot)];
}

uint32_t sl_match_next(const sl_match *m, uint32_t slot) {
  return m->next[slot];
}

uint16_t sl__match_group(const sl_match *m, uint32_t slot) {
  return m->group[slot];
}

const char *sl__match_group_name(const sl_match *m, uint16_t g) {
  return g < m->depts.n ? m->depts.v[g] : "";
}

const sl_match_model *sl__match_model(const sl_match *m) {
  return &m->mo;
}

const sl_match_config *sl__match_config(const sl_match *m) {
  return m->c;
}

void sl_match_stats_get(const sl_match *m, sl_match_stats *st) {
  *st = m->stats;
  sl_match_index_stats_get(m->ix, &st->index);
  size_t per_slot = sizeof(uint64_t) * 2 + sizeof(int64_t) + sizeof(uint32_t) * 5 + sizeof(float) + 3 +
                    sizeof(uint16_t) * 2;
  st->bytes = st->index.bytes + m->cap * per_slot + m->st.bytes.cap + m->st.cap * sizeof(uint64_t) +
              m->uf.cap * (sizeof(uint32_t) * 3 + sizeof(uint64_t)) + m->uf.clcap * 8 +
              m->idcap * (sizeof(uint64_t) + sizeof(uint32_t)) + m->cands.nstamp * sizeof(uint32_t) +
              m->cons.cap * sizeof(sl_match_constraint) + m->cons.head.cap * 2 * sizeof(uint64_t);
}
