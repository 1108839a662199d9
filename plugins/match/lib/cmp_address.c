/* Addresses compared on the administrative divisions they start with (as
 * the cleansing step normalises them) and then on the rest of the text. */
#include <string.h>

#include "clean.h"
#include "match.h"

typedef struct parsed {
  sl_address a;
  int found;
  size_t rest;
} parsed;

static parsed parse(const char *s, size_t n) {
  parsed p = {0};
  sl_clean_why why;
  p.found = !sl_address_normalize(s, n, &p.a, NULL, &why);
  p.rest = p.found ? p.a.rest : 0;
  return p;
}

/* Whether the finest division both name is the same one. */
static int same_place(const parsed *x, const parsed *y) {
  if (!x->found || !y->found) return 1;
  const sl_division *px[3] = {&x->a.county, &x->a.city, &x->a.province};
  const sl_division *py[3] = {&y->a.county, &y->a.city, &y->a.province};
  for (int i = 0; i < 3; i++)
    if (px[i]->level && py[i]->level) return !strcmp(px[i]->code, py[i]->code);
  return 1;
}

/* The first side through the scratch's one-entry cache. */
static parsed parse_cached(const char *s, size_t n, sl_match_scratch *sc) {
  if (!sc) return parse(s, n);
  if (sc->addr.ptr && sc->addr.len == n + 1 && !memcmp(sc->addr.ptr + 1, s, n))
    return (parsed){sc->addr_parsed, sc->addr_found, sc->addr_found ? sc->addr_parsed.rest : 0};
  parsed p = parse(s, n);
  sc->addr.len = 0;
  sl_buf_putc(&sc->addr, 1);   /* a marker: an empty address is cached too */
  sl_buf_append(&sc->addr, s, n);
  if (sc->addr.oom) {
    sl_buf_free(&sc->addr);
    return p;
  }
  sc->addr_parsed = p.a;
  sc->addr_found = p.found;
  return p;
}

double sl_match_address_jw(const char *a, size_t an, const char *b, size_t bn, sl_match_scratch *sc) {
  parsed x = parse_cached(a, an, sc), y = parse(b, bn);
  if (!same_place(&x, &y)) return -1.0;
  size_t ra = an - x.rest, rb = bn - y.rest;
  if (!ra && !rb) return 1.0;
  /* The same street and number under divisions written differently. */
  if (ra == rb && !memcmp(a + x.rest, b + y.rest, ra)) return 1.0;
  return sl_match_jaro_winkler(a + x.rest, ra, b + y.rest, rb);
}
