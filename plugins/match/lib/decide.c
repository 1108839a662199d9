/* Operators' decisions (link, no_link, split) and recomputing an entity.
 *
 * Union-find cannot undo a union, so an entity that must come apart (a
 * no_link between two of its members, a member split off, an update whose
 * earlier version held it together) is recomputed: its slots become
 * clusters of their own again, the pairs of its live members that share a
 * blocking key are judged again (ID rule, score), the operators'
 * constraints are put back (cannot-links first, must-links before every
 * score), and the links are made strongest first, as streaming makes them.
 * The largest part keeps the entity; each other part is a new entity,
 * reported as a split.  An entity whose partition did not change keeps its
 * id and version: recomputing is idempotent. */
#include <stdlib.h>
#include <string.h>

#include "matcher_state.h"

const char *sl_match_op_name(int op) {
  static const char *const names[] = {"?", "link", "no_link", "split"};
  return op >= SL_MATCH_OP_LINK && op <= SL_MATCH_OP_SPLIT ? names[op] : "?";
}

int sl_match_op_parse(const char *s, size_t n) {
  for (int op = SL_MATCH_OP_LINK; op <= SL_MATCH_OP_SPLIT; op++) {
    const char *name = sl_match_op_name(op);
    if (strlen(name) == n && !memcmp(name, s, n)) return op;
  }
  return 0;
}

void sl_match_inputs(const sl_match *m, uint32_t slot, sl_match_str *vals) {
  sl_match_str col[SL_MATCH_MAX_COLS];
  sl_match_store_get(&m->st, slot, m->c->ncols, col, NULL, 0);
  for (int i = 0; i < m->c->ninputs; i++) {
    sl_match_str g = col[m->golden_col[i]];
    vals[i] = g.n ? g : col[m->value_col[i]];
  }
}

static int is_live(const sl_match *m, uint32_t s) {
  return s != UINT32_MAX && (m->flags[s] & F_LIVE);
}

/* The cluster identity of a live slot: its valid ID's key (0: none), as
 * new_slot gives it. */
static uint64_t slot_ident(const sl_match *m, uint32_t s) {
  const sl_match_config *c = m->c;
  if (c->id_col < 0 || !m->idh[s]) return 0;
  sl_match_str col[SL_MATCH_MAX_COLS];
  sl_match_store_get(&m->st, s, c->ncols, col, NULL, 0);
  sl_match_str v = col[c->id_col];
  return v.n ? sl_match_key(0, v.p, v.n) | 1 : 0;
}

static int by_key(const void *x, const void *y) {
  const keyed *a = x, *b = y;
  return a->key < b->key ? -1 : a->key > b->key ? 1 : a->slot < b->slot ? -1 : a->slot > b->slot;
}

static int by_slot(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return a < b ? -1 : a > b;
}

static int by_pair(const void *x, const void *y) {
  const pending *a = x, *b = y;
  return a->i != b->i ? (a->i < b->i ? -1 : 1) : a->j < b->j ? -1 : a->j > b->j;
}

static int by_strength(const void *x, const void *y) {
  const pending *a = x, *b = y;
  if (a->w != b->w) return a->w < b->w ? 1 : -1;
  return by_pair(x, y);
}

/* Sorts base[0..n): an entity's arrays are short, and qsort's merge sort
 * costs more than the comparisons there. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  if (n > 32 || size > 32) {
    qsort(base, n, size, cmp);
    return;
  }
  char *b = base, t[32];
  for (size_t i = 1; i < n; i++) {
    size_t j = i;
    memcpy(t, b + i * size, size);
    for (; j > 0 && cmp(b + (j - 1) * size, t) > 0; j--) memcpy(b + j * size, b + (j - 1) * size, size);
    memcpy(b + j * size, t, size);
  }
}

static int in_ring(const sl_match *m, uint32_t s) {
  return bsearch(&s, m->ring, m->nring, sizeof *m->ring, by_slot) != NULL;
}

#define PUSH(arr, n, cap, v) sl__match_push((void **)&(arr), &(n), &(cap), sizeof *(arr), &(v))

/* The pairs of the ring's live members that share a blocking key (blocks
 * of the entity's own members: a block capped in the index since still
 * pairs them, within the cap), each once, into m->pairs.  The members'
 * keys come from preparing their stored values again; fresh's (if any)
 * are fresh_keys. */
static int block_pairs(sl_match *m, uint32_t fresh, const sl_match_prepared *fresh_keys) {
  const sl_match_config *c = m->c;
  m->nkeys = m->npairs = 0;
  for (size_t y = 0; y < m->nring; y++) {
    uint32_t x = m->ring[y];
    if ((m->flags[x] & (F_LIVE | F_DETACHED)) != F_LIVE) continue;
    const sl_match_prepared *p = &m->reprep;
    if (x == fresh && fresh_keys) p = fresh_keys;
    else {
      sl_match_str vals[SL_MATCH_MAX_INPUTS];
      sl_match_inputs(m, x, vals);
      sl_match_prepare(c, vals, &m->reprep);
    }
    for (int k = 0; k < p->nkeys; k++) {
      keyed kd = {.key = p->key[k], .slot = x};
      if (PUSH(m->keys, m->nkeys, m->capkeys, kd)) return SL_ENOMEM;
    }
  }
  sort(m->keys, m->nkeys, sizeof *m->keys, by_key);
  for (size_t a = 0, b; a < m->nkeys; a = b) {
    for (b = a + 1; b < m->nkeys && m->keys[b].key == m->keys[a].key;) b++;
    if (c->block_cap && b - a > c->block_cap) continue;
    for (size_t u = a; u < b; u++)
      for (size_t v = u + 1; v < b; v++) {
        if (m->keys[u].slot == m->keys[v].slot) continue;
        pending pr = {.i = m->keys[v].slot, .j = m->keys[u].slot};
        if (PUSH(m->pairs, m->npairs, m->cappairs, pr)) return SL_ENOMEM;
      }
  }
  sort(m->pairs, m->npairs, sizeof *m->pairs, by_pair);
  size_t k = 0;
  for (size_t y = 0; y < m->npairs; y++)
    if (!k || by_pair(&m->pairs[k - 1], &m->pairs[y])) m->pairs[k++] = m->pairs[y];
  m->npairs = k;
  return 0;
}

/* Keeps the pairs that link (the ID rule's must, a score at or above the
 * link threshold), with their weights. */
static void judge_pairs(sl_match *m) {
  const sl_match_config *c = m->c;
  size_t k = 0;
  for (size_t y = 0; y < m->npairs; y++) {
    pending pr = m->pairs[y];
    if (c->link_only && m->group[pr.i] == m->group[pr.j]) continue;
    sl_match_str acol[SL_MATCH_MAX_COLS], colb[SL_MATCH_MAX_COLS];
    sl_match_store_get(&m->st, pr.i, c->ncols, acol, NULL, 0);
    sl_match_rule d = sl__match_judge(m, acol, m->idh[pr.i], pr.j, colb, &pr.w);
    if (d == SL_MATCH_CANNOT) continue;
    if (d == SL_MATCH_SCORE && sl_match_probability(pr.w) < c->link) continue;
    pr.kind = d == SL_MATCH_MUST ? LINK_ID : LINK_SCORE;
    m->pairs[k++] = pr;
  }
  m->npairs = k;
}

/* The operators' constraints on the ring's live members: cannot-links put
 * back on the union-find, must-links within the ring added to m->pairs. */
static int ring_constraints(sl_match *m) {
  if (!m->cons.n) return 0;
  for (size_t y = 0; y < m->nring; y++) {
    uint32_t x = m->ring[y];
    if (!is_live(m, x)) continue;
    uint64_t k = sl__match_slot_identity(m, x);
    for (uint32_t e = sl_match_constraint_first(&m->cons, k); e; e = sl_match_constraint_next(&m->cons, e, k)) {
      const sl_match_constraint *cn = sl_match_constraint_at(&m->cons, e);
      if (cn->kind != SL_MATCH_MUST_LINK && cn->kind != SL_MATCH_CANNOT_LINK) continue;
      uint32_t p = sl__match_find_key(m, cn->a == k ? cn->b : cn->a);
      if (!is_live(m, p) || p == x) continue;
      if (cn->kind == SL_MATCH_CANNOT_LINK) {
        if (sl_match_uf_cannot(&m->uf, x, p) == SL_ENOMEM) return SL_ENOMEM;
      } else if (p < x && in_ring(m, p)) {
        pending pr = {.i = x, .j = p, .w = W_OPERATOR, .kind = LINK_OPERATOR};
        if (PUSH(m->pairs, m->npairs, m->cappairs, pr)) return SL_ENOMEM;
      }
    }
  }
  return 0;
}

/* A part of a recomputed entity. */
typedef struct part {
  uint32_t root, members, first;  /* first: the member with the smallest identity key */
  uint64_t first_key;
  int has_avoid;
  int has_founder;        /* the member whose identity the entity id was made from */
} part;

static int part_order(const void *x, const void *y) {
  const part *a = x, *b = y;
  return a->first_key < b->first_key ? -1 : a->first_key > b->first_key;
}

/* The parts of the ring after the links, each with its live members; a
 * part of the fresh slot alone is left out. */
static part *parts_of(sl_match *m, uint64_t e0, uint32_t avoid, uint32_t fresh, size_t *nparts) {
  *nparts = 0;
  part *ps = malloc((m->nring ? m->nring : 1) * sizeof *ps);
  if (!ps) return NULL;
  for (size_t y = 0; y < m->nring; y++) m->live[sl__match_root(m, m->ring[y])] = 0;
  for (size_t y = 0; y < m->nring; y++) {
    uint32_t x = m->ring[y];
    if (!is_live(m, x)) continue;
    uint32_t r = sl__match_root(m, x);
    uint64_t k = sl__match_slot_identity(m, x);
    size_t i = 0;
    while (i < *nparts && ps[i].root != r) i++;
    if (i == *nparts) {
      ps[i] = (part){.root = r, .first = x, .first_key = k};
      (*nparts)++;
    }
    m->live[r]++;
    ps[i].members++;
    ps[i].has_avoid |= x == avoid;
    sl_match_view v;
    sl_match_get(m, x, &v);
    ps[i].has_founder |= sl__match_entity_key(v.dept, v.feed, v.src_id, m->gen[x]) == e0;
    if (k < ps[i].first_key) {
      ps[i].first_key = k;
      ps[i].first = x;
    }
  }
  size_t k = 0;
  for (size_t i = 0; i < *nparts; i++)
    if (ps[i].members > 1 || ps[i].first != fresh) ps[k++] = ps[i];
  *nparts = k;
  sort(ps, *nparts, sizeof *ps, part_order);
  return ps;
}

int sl__match_recompute(sl_match *m, uint32_t slot, uint32_t avoid, uint32_t fresh,
                        const sl_match_prepared *fresh_keys, uint32_t *keeper) {
  uint32_t r0 = sl__match_root(m, slot);
  uint64_t e0 = m->ent[r0];
  uint32_t v = m->ver[r0];
  *keeper = UINT32_MAX;
  m->stats.recomputed++;
  m->nring = 0;
  uint32_t x = slot;
  do {
    if (PUSH(m->ring, m->nring, m->capring, x)) return SL_ENOMEM;
    x = m->next[x];
  } while (x != slot);
  sort(m->ring, m->nring, sizeof *m->ring, by_slot);
  /* Every slot a cluster of its own, a live one with its valid ID. */
  for (size_t y = 0; y < m->nring; y++) {
    x = m->ring[y];
    sl_match_uf_reset(&m->uf, x, is_live(m, x) ? slot_ident(m, x) : 0);
    m->next[x] = x;
    m->ent[x] = 0;
    m->ver[x] = 0;
    m->live[x] = is_live(m, x);
  }
  if (block_pairs(m, fresh, fresh_keys)) return SL_ENOMEM;
  judge_pairs(m);
  if (ring_constraints(m)) return SL_ENOMEM;
  sort(m->pairs, m->npairs, sizeof *m->pairs, by_strength);
  for (size_t y = 0; y < m->npairs; y++)
    if (sl__match_join(m, m->pairs[y].i, m->pairs[y].j) == SL_ESTATE) m->stats.refused++;

  size_t np;
  part *ps = parts_of(m, e0, avoid, fresh, &np);
  if (!ps) return SL_ENOMEM;
  if (!np) {
    /* No live member left: the entity stays on the slot, empty. */
    m->ent[slot] = e0;
    m->ver[slot] = v;
    free(ps);
    return 0;
  }
  /* The keeper: the most members, then not the record split off, then the
   * record that founded the entity, then the smallest identity key (the
   * parts' order). */
  size_t best = 0;
  for (size_t i = 1; i < np; i++) {
    const part *a = &ps[i], *b = &ps[best];
    if (a->members != b->members ? a->members > b->members
        : a->has_avoid != b->has_avoid ? !a->has_avoid
        : a->has_founder > b->has_founder)
      best = i;
  }
  uint32_t kr = ps[best].root;
  m->ent[kr] = e0;
  int rc = 0;
  for (size_t i = 0; i < np && !rc; i++) {
    if (i == best) continue;
    v++;
    sl_match_view fv;
    sl_match_get(m, ps[i].first, &fv);
    uint32_t r = ps[i].root;
    m->ent[r] = sl__match_entity_key(fv.dept, fv.feed, fv.src_id, e0 ^ ((uint64_t)v * 0x9E3779B97F4A7C15ull));
    m->ver[r] = 1;
    sl_match_split sp = {.from = e0, .from_version = v, .from_slot = kr, .entity = m->ent[r], .slot = r};
    rc = PUSH(m->spl, m->nspl, m->capspl, sp);
    m->stats.splits++;
  }
  m->ver[kr] = v;
  /* The new version joined a part with an entity: a change of it. */
  if (fresh != UINT32_MAX && m->ent[sl__match_root(m, fresh)]) m->ver[sl__match_root(m, fresh)]++;
  *keeper = kr;
  free(ps);
  return rc;
}

int sl__match_arrival(sl_match *m, uint32_t s, uint64_t key) {
  for (uint32_t e = sl_match_constraint_first(&m->cons, key); e; e = sl_match_constraint_next(&m->cons, e, key)) {
    const sl_match_constraint *cn = sl_match_constraint_at(&m->cons, e);
    if (cn->kind == SL_MATCH_DETACH) {
      m->flags[s] |= F_DETACHED;
      continue;
    }
    if (!cn->kind) continue;
    uint32_t p = sl__match_find_key(m, cn->a == key ? cn->b : cn->a);
    if (!is_live(m, p) || p == s) continue;
    if (cn->kind == SL_MATCH_CANNOT_LINK) {
      if (sl_match_uf_cannot(&m->uf, s, p) == SL_ENOMEM) return SL_ENOMEM;
    } else {
      pending pe = {.i = s, .j = p, .w = W_OPERATOR, .kind = LINK_OPERATOR};
      if (PUSH(m->pend, m->npend, m->cappend, pe)) return SL_ENOMEM;
    }
  }
  return 0;
}

/* ---- decisions ---- */

static uint64_t ident_key(const sl_match_ident *id) {
  return sl__match_identity_key(id->dept, id->feed, id->src_id);
}

static uint32_t live_slot(const sl_match *m, uint64_t key) {
  uint32_t s = sl__match_find_key(m, key);
  return is_live(m, s) ? s : UINT32_MAX;
}

static int kind_of(sl_match_op op) {
  return op == SL_MATCH_OP_LINK ? SL_MATCH_MUST_LINK : op == SL_MATCH_OP_NO_LINK ? SL_MATCH_CANNOT_LINK : SL_MATCH_DETACH;
}

/* The pair's keys; SL_EINVAL for an unknown op or a pair of one record. */
static int keys_of(sl_match_op op, const sl_match_ident *a, const sl_match_ident *b, uint64_t *ka, uint64_t *kb) {
  if (op < SL_MATCH_OP_LINK || op > SL_MATCH_OP_SPLIT || !a || (op != SL_MATCH_OP_SPLIT && !b)) return SL_EINVAL;
  *ka = ident_key(a);
  *kb = op == SL_MATCH_OP_SPLIT ? 0 : ident_key(b);
  return op != SL_MATCH_OP_SPLIT && *ka == *kb ? SL_EINVAL : 0;
}

/* A link between two live records: made, or refused and the decision not
 * kept (the pair's earlier constraint back). */
static int decide_link(sl_match *m, uint64_t ka, uint64_t kb, uint32_t sa, uint32_t sb) {
  int was = sl_match_constraint_get(&m->cons, ka, kb);
  int rc = sl_match_constraint_set(&m->cons, ka, kb, SL_MATCH_MUST_LINK);
  if (rc < 0) return rc;
  if (sa == UINT32_MAX || sb == UINT32_MAX) return 0;   /* made when both are there */
  uint32_t keep;
  /* A no_link replaced: its entries leave the union-find with a
   * recomputation of both entities (they are apart). */
  if (was == SL_MATCH_CANNOT_LINK &&
      (sl__match_recompute(m, sa, UINT32_MAX, UINT32_MAX, NULL, &keep) || sl__match_recompute(m, sb, UINT32_MAX, UINT32_MAX, NULL, &keep)))
    return SL_ENOMEM;
  rc = sl__match_link(m, sa, sb);
  if (rc != SL_ESTATE) return rc < 0 ? rc : 0;
  m->stats.refused++;
  if (sl_match_constraint_set(&m->cons, ka, kb, was) < 0) return SL_ENOMEM;
  if (was == SL_MATCH_CANNOT_LINK && sl_match_uf_cannot(&m->uf, sa, sb) == SL_ENOMEM) return SL_ENOMEM;
  return SL_ESTATE;
}

int sl_match_decide(sl_match *m, sl_match_op op, const sl_match_ident *a, const sl_match_ident *b,
                    sl_match_result *res) {
  memset(res, 0, sizeof *res);
  res->with = res->slot = UINT32_MAX;
  m->npend = m->nrev = m->nmer = m->nspl = 0;
  uint64_t ka, kb;
  int rc = keys_of(op, a, b, &ka, &kb);
  if (rc) return rc;
  uint32_t sa = live_slot(m, ka), sb = kb ? live_slot(m, kb) : UINT32_MAX, keep;
  m->stats.decisions++;
  switch (op) {
    case SL_MATCH_OP_LINK: rc = decide_link(m, ka, kb, sa, sb); break;
    case SL_MATCH_OP_NO_LINK:
      if ((rc = sl_match_constraint_set(&m->cons, ka, kb, SL_MATCH_CANNOT_LINK)) < 0) break;
      rc = 0;
      if (sa == UINT32_MAX || sb == UINT32_MAX) break;
      if (sl__match_root(m, sa) == sl__match_root(m, sb)) rc = sl__match_recompute(m, sa, UINT32_MAX, UINT32_MAX, NULL, &keep);
      else if (sl_match_uf_cannot(&m->uf, sa, sb) == SL_ENOMEM) rc = SL_ENOMEM;
      break;
    default:
      if ((rc = sl_match_constraint_set(&m->cons, ka, 0, SL_MATCH_DETACH)) < 0) break;
      rc = 0;
      if (sa == UINT32_MAX) break;
      m->flags[sa] |= F_DETACHED;
      rc = sl__match_recompute(m, sa, sa, UINT32_MAX, NULL, &keep);
      break;
  }
  res->slot = sa;
  res->entity = sa != UINT32_MAX ? m->ent[sl__match_root(m, sa)] : 0;
  res->merges = m->mer;
  res->nmerges = m->nmer;
  res->splits = m->spl;
  res->nsplits = m->nspl;
  return rc;
}

int sl_match_restore_decision(sl_match *m, sl_match_op op, const sl_match_ident *a, const sl_match_ident *b) {
  uint64_t ka, kb;
  int rc = keys_of(op, a, b, &ka, &kb);
  if (rc) return rc;
  int kind = kind_of(op);
  if (sl_match_constraint_set(&m->cons, ka, kb, kind) < 0) return SL_ENOMEM;
  uint32_t sa = live_slot(m, ka), sb = kb ? live_slot(m, kb) : UINT32_MAX;
  if (kind == SL_MATCH_DETACH && sa != UINT32_MAX) m->flags[sa] |= F_DETACHED;
  if (kind == SL_MATCH_CANNOT_LINK && sa != UINT32_MAX && sb != UINT32_MAX &&
      sl__match_root(m, sa) != sl__match_root(m, sb) && sl_match_uf_cannot(&m->uf, sa, sb) == SL_ENOMEM)
    return SL_ENOMEM;
  return 0;
}
