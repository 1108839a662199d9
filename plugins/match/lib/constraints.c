/* The operators' decisions as constraints between record identities:
 * must-link and cannot-link pairs, and detached records (a split).  Kept
 * by identity (the XXH3 of dept, feed and source id), not by slot, so that
 * a decision about a record not seen yet waits for it, and one about a
 * record updated since holds for its new version.
 *
 * Entries sit in one array; each identity's entries form a list threaded
 * through the array (an entry is on both of its identities' lists), its
 * head kept in a hash table (sl_match_counts: identity -> first entry + 1).
 * Decisions are few (people make them), so a list is walked to find a
 * pair. */
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

void sl_match_constraints_free(sl_match_constraints *cs) {
  sl_match_counts_free(&cs->head);
  free(cs->e);
  memset(cs, 0, sizeof *cs);
}

uint32_t sl_match_constraint_first(const sl_match_constraints *cs, uint64_t id) {
  return cs->n ? (uint32_t)sl_match_counts_get(&cs->head, id) : 0;
}

uint32_t sl_match_constraint_next(const sl_match_constraints *cs, uint32_t e, uint64_t id) {
  const sl_match_constraint *x = &cs->e[e - 1];
  return x->a == id ? x->next_a : x->next_b;
}

const sl_match_constraint *sl_match_constraint_at(const sl_match_constraints *cs, uint32_t e) {
  return &cs->e[e - 1];
}

/* The entry of the pair (a, b) (b 0: a's detachment), or 0. */
static uint32_t find(const sl_match_constraints *cs, uint64_t a, uint64_t b) {
  for (uint32_t e = sl_match_constraint_first(cs, a); e; e = sl_match_constraint_next(cs, e, a)) {
    const sl_match_constraint *x = &cs->e[e - 1];
    if (b ? (x->a == a && x->b == b) || (x->a == b && x->b == a) : x->kind == SL_MATCH_DETACH && x->a == a)
      return e;
  }
  return 0;
}

int sl_match_constraint_get(const sl_match_constraints *cs, uint64_t a, uint64_t b) {
  uint32_t e = find(cs, a, b);
  return e ? cs->e[e - 1].kind : 0;
}

/* Makes entry e the head of id's list (counts only add: the difference). */
static int set_head(sl_match_constraints *cs, uint64_t id, uint32_t e) {
  uint64_t was = sl_match_counts_get(&cs->head, id);
  return sl_match_counts_add(&cs->head, id, (uint64_t)e - was);
}

int sl_match_constraint_set(sl_match_constraints *cs, uint64_t a, uint64_t b, int kind) {
  uint32_t e = find(cs, a, b);
  if (e) {
    int was = cs->e[e - 1].kind;
    cs->e[e - 1].kind = (uint8_t)kind;
    return was;
  }
  if (cs->n == cs->cap) {
    size_t ncap = cs->cap ? cs->cap * 2 : 64;
    sl_match_constraint *ne = realloc(cs->e, ncap * sizeof *ne);
    if (!ne) return SL_ENOMEM;
    cs->e = ne;
    cs->cap = ncap;
  }
  uint32_t id = (uint32_t)cs->n + 1;
  sl_match_constraint *x = &cs->e[cs->n];
  *x = (sl_match_constraint){.a = a, .b = b, .kind = (uint8_t)kind};
  x->next_a = sl_match_constraint_first(cs, a);
  x->next_b = b ? sl_match_constraint_first(cs, b) : 0;
  if (set_head(cs, a, id) || (b && set_head(cs, b, id))) return SL_ENOMEM;
  cs->n++;
  return 0;
}
