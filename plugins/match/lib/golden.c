/* Golden records: for each input field of an entity, the value its live
 * members give that the survivorship rules prefer, and the member it came
 * from (its provenance).  Rules are tried in order, the next breaking the
 * previous one's ties; the last tie-break is the member's identity, so the
 * golden record does not depend on the order records arrived in. */
#include <stdlib.h>
#include <string.h>

#include "matcher.h"

/* Members of a very large cluster beyond this are not read (a golden
 * record over 4096 members is decided by the first 4096 in ring order). */
#define MAX_MEMBERS 4096

typedef struct member {
  uint32_t slot;
  int rank;               /* priority: the department's place in the list */
  int64_t time;
  sl_match_str val[SL_MATCH_MAX_INPUTS];
  sl_match_str dept, feed, src_id;
} member;

void sl_match_golden_columns(const sl_match_config *c, int *col) {
  for (int i = 0; i < c->ncols; i++)
    if (c->col_part[i] == 0) col[c->col_input[i]] = i;
  for (int i = 0; i < c->ncols; i++) {
    const char *dot = strrchr(c->col[i], '.');
    if (c->col_part[i] && dot && !strcmp(dot, ".valid")) col[c->col_input[i]] = i;
  }
}

int sl_match_survive_parse(const char *name, sl_match_survive *out) {
  static const char *const names[] = {NULL, "priority", "recent", "frequent", "longest"};
  for (int i = 1; i <= SL_SURVIVE_LONGEST; i++)
    if (!strcmp(name, names[i])) {
      *out = (sl_match_survive)i;
      return 0;
    }
  return SL_EINVAL;
}

static int cmp_str(sl_match_str a, sl_match_str b) {
  size_t n = a.n < b.n ? a.n : b.n;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  return c ? c : (a.n > b.n) - (a.n < b.n);
}

static int same(sl_match_str a, sl_match_str b) {
  return a.n == b.n && !memcmp(a.p, b.p, a.n);
}

static size_t frequency(const member *ms, size_t n, int f, sl_match_str v) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += same(ms[i].val[f], v);
  return k;
}

/* > 0 when x is preferred to y under rule r for input f. */
static long prefer(const member *ms, size_t n, int f, sl_match_survive r, const member *x,
                   const member *y) {
  switch (r) {
  case SL_SURVIVE_PRIORITY: return (long)y->rank - x->rank;
  case SL_SURVIVE_RECENT: return x->time > y->time ? 1 : x->time < y->time ? -1 : 0;
  case SL_SURVIVE_FREQUENT: return (long)frequency(ms, n, f, x->val[f]) - (long)frequency(ms, n, f, y->val[f]);
  case SL_SURVIVE_LONGEST: return (long)x->val[f].n - (long)y->val[f].n;
  }
  return 0;
}

static int identity_before(const member *x, const member *y) {
  int c = cmp_str(x->dept, y->dept);
  if (!c) c = cmp_str(x->feed, y->feed);
  if (!c) c = cmp_str(x->src_id, y->src_id);
  return c < 0;
}

void sl_match_golden(sl_match *m, uint32_t slot, const sl_match_golden_spec *g, uint32_t *from) {
  const sl_match_config *c = sl__match_config(m);
  int incol[SL_MATCH_MAX_INPUTS];
  sl_match_golden_columns(c, incol);
  for (int i = 0; i < c->ninputs; i++) from[i] = UINT32_MAX;
  int nprio = 0;
  while (g && g->priority && g->priority[nprio]) nprio++;

  size_t cap = 0;
  uint32_t s = slot;
  do {
    cap += sl_match_live(m, s);
    s = sl_match_next(m, s);
  } while (s != slot && cap < MAX_MEMBERS);
  member *ms = malloc((cap ? cap : 1) * sizeof *ms);
  if (!ms) return;
  size_t n = 0;
  s = slot;
  do {
    if (sl_match_live(m, s)) {
      sl_match_view v;
      sl_match_get(m, s, &v);
      member *x = &ms[n++];
      x->slot = s;
      x->time = v.time_ms;
      x->dept = v.dept;
      x->feed = v.feed;
      x->src_id = v.src_id;
      x->rank = nprio;
      const char *dn = sl__match_group_name(m, sl__match_group(m, s));
      for (int k = 0; k < nprio; k++)
        if (!strcmp(g->priority[k], dn)) {
          x->rank = k;
          break;
        }
      for (int i = 0; i < c->ninputs; i++) x->val[i] = v.col[incol[i]];
    }
    s = sl_match_next(m, s);
  } while (s != slot && n < cap);

  static const sl_match_survive dflt[] = {SL_SURVIVE_FREQUENT, SL_SURVIVE_RECENT};
  for (int f = 0; f < c->ninputs; f++) {
    const sl_match_survive *rules = g && g->nrules[f] ? g->rule[f] : dflt;
    int nr = g && g->nrules[f] ? g->nrules[f] : 2;
    const member *best = NULL;
    for (size_t i = 0; i < n; i++) {
      const member *x = &ms[i];
      if (!x->val[f].n) continue;
      if (!best) {
        best = x;
        continue;
      }
      long d = 0;
      for (int r = 0; r < nr && !d; r++) d = prefer(ms, n, f, rules[r], x, best);
      if (d > 0 || (!d && identity_before(x, best))) best = x;
    }
    if (best) from[f] = best->slot;
  }
  free(ms);
}
