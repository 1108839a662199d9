/* Fellegi-Sunter scoring: comparison vectors, match weights with the
 * term-frequency adjustment, probabilities. */
#include <math.h>
#include <string.h>

#include "match.h"

/* Probabilities are kept away from 0 so that a level never seen in
 * training weighs a large finite amount, not an infinity. */
#define P_MIN 1e-10

void sl_match_model_init(sl_match_model *mo, const sl_match_field *fields, int nfields) {
  memset(mo, 0, sizeof *mo);
  mo->nfields = nfields;
  mo->field = fields;
  mo->lambda = 1e-4;
  for (int f = 0; f < nfields; f++) {
    int L = fields[f].nlevels + 1;
    double msum = 0, usum = 0;
    for (int l = 0; l < L; l++) {
      /* m halves and u doubles from one level to the next. */
      mo->m[f][l] = ldexp(1.0, -l);
      mo->u[f][l] = ldexp(1.0, l);
      msum += mo->m[f][l];
      usum += mo->u[f][l];
    }
    for (int l = 0; l < L; l++) {
      mo->m[f][l] /= msum;
      mo->u[f][l] /= usum;
    }
  }
}

void sl_match_model_free(sl_match_model *mo) {
  for (int f = 0; f < SL_MATCH_MAX_FIELDS; f++) sl_match_tf_free(&mo->tf[f]);
}

void sl_match_gamma(const sl_match_model *mo, const sl_match_str *a, const sl_match_str *b,
                    int8_t *gamma, sl_match_scratch *sc) {
  for (int f = 0; f < mo->nfields; f++)
    gamma[f] = (int8_t)sl_match_level_of(&mo->field[f], a[f], b[f], sc);
}

static double lg(double x) {
  return log2(x < P_MIN ? P_MIN : x);
}

void sl_match_model_weights(sl_match_model *mo) {
  for (int f = 0; f < mo->nfields; f++)
    for (int l = 0; l <= SL_MATCH_MAX_LEVELS; l++) mo->weight[f][l] = lg(mo->m[f][l]) - lg(mo->u[f][l]);
  mo->has_weights = 1;
}

double sl_match_weight(const sl_match_model *mo, const int8_t *gamma, const sl_match_str *a,
                       sl_match_term *terms) {
  /* The prior of a random pair among millions of records is far below
   * P_MIN: it is clamped only away from 0 and 1. */
  double lam = fmin(fmax(mo->lambda, 1e-300), 1.0 - 1e-16);
  double w = log2(lam) - log2(1.0 - lam);
  for (int f = 0; f < mo->nfields; f++) {
    sl_match_term t = {.level = gamma[f]};
    if (t.level >= 0) {
      double u = mo->u[f][t.level];
      t.weight = mo->has_weights ? mo->weight[f][t.level] : lg(mo->m[f][t.level]) - lg(u);
      const sl_match_field *fd = &mo->field[f];
      if (fd->tf && t.level == 0 && fd->nlevels && fd->level[0].test == SL_MT_EXACT &&
          mo->tf[f].c.total) {
        double ut = sl_match_tf_freq(&mo->tf[f], a[f].p, a[f].n);
        t.tf_adjust = lg(u) - lg(ut);
      }
      if (mo->ndeps) t.dep_adjust = sl_match_dep_adjust(mo, gamma, f);
    }
    w += t.weight + t.tf_adjust + t.dep_adjust;
    if (terms) terms[f] = t;
  }
  return w;
}

double sl_match_probability(double weight) {
  if (weight > 60) return 1.0;
  if (weight < -60) return 0.0;
  double o = exp2(weight);
  return o / (1.0 + o);
}

sl_match_rule sl_match_id_rule(sl_match_str a, sl_match_str b) {
  if (!a.n || !b.n) return SL_MATCH_SCORE;
  return a.n == b.n && !memcmp(a.p, b.p, a.n) ? SL_MATCH_MUST : SL_MATCH_CANNOT;
}
