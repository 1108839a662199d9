/* Dependences between fields among non-matches: the evidence of one
 * field's agreement discounted when another field, which makes that
 * agreement likelier between two different people, agrees too (a birth
 * date shared at one address: twins).  docs/internals/match-core.md. */
#include <math.h>

#include "match.h"

double sl_match_dep_adjust(const sl_match_model *mo, const int8_t *gamma, int f) {
  double ratio = 1.0;
  for (int d = 0; d < mo->ndeps; d++) {
    const sl_match_dep *x = &mo->dep[d];
    if (x->b != f || gamma[f] != x->lb || gamma[x->a] < 0 || gamma[x->a] > x->la) continue;
    if (x->ratio > ratio) ratio = x->ratio;
  }
  return -log2(ratio);
}

void sl_match_dep_estimate(sl_match_model *mo, int d, uint64_t agree, uint64_t pairs) {
  sl_match_dep *x = &mo->dep[d];
  double u = mo->u[x->b][x->lb];
  double p = ((double)agree + u) / ((double)pairs + 1.0);
  x->agree = agree;
  x->pairs = pairs;
  x->ratio = u > 0 && p > u ? p / u : 1.0;
}
