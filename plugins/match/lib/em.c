/* Estimation without labels: u from random pairs, m and the prior lambda
 * by expectation-maximisation over the candidate pairs' comparison
 * vectors, counted by pattern. */
#include <math.h>
#include <string.h>

#include "match.h"

/* A vector packs 4 bits a field: level + 1, 0 for missing. */
static uint64_t pack(const int8_t *g, int n) {
  uint64_t k = 0;
  for (int f = 0; f < n; f++) k |= (uint64_t)(g[f] + 1) << (4 * f);
  return k + 1;
}

static int unpack_level(uint64_t key, int f) {
  return (int)(((key - 1) >> (4 * f)) & 0xF) - 1;
}

void sl_match_patterns_free(sl_match_patterns *p) {
  sl_match_counts_free(&p->c);
  p->nfields = 0;
}

int sl_match_patterns_add(sl_match_patterns *p, const int8_t *gamma, int nfields) {
  p->nfields = nfields;
  return sl_match_counts_add(&p->c, pack(gamma, nfields), 1);
}

void sl_match_estimate_u(sl_match_model *mo, const sl_match_patterns *rp) {
  for (int f = 0; f < mo->nfields; f++) {
    int L = mo->field[f].nlevels + 1;
    double cnt[SL_MATCH_MAX_LEVELS + 1] = {0}, seen = 0;
    for (size_t i = 0; i < rp->c.cap; i++) {
      if (!rp->c.key[i]) continue;
      int l = unpack_level(rp->c.key[i], f);
      if (l < 0) continue;
      cnt[l] += (double)rp->c.count[i];
      seen += (double)rp->c.count[i];
    }
    if (!seen) continue;
    for (int l = 0; l < L; l++) mo->u[f][l] = (cnt[l] ? cnt[l] : 1.0) / (seen + 1.0);
  }
}

void sl_match_em(sl_match_model *mo, const sl_match_patterns *pp, int max_iter, double tol,
                 sl_match_em_report *rep) {
  sl_match_em_known(mo, pp, NULL, NULL, max_iter, tol, rep);
}

/* Adds a pattern set's counts to the M-step's sums as matches (p = 1). */
static void add_known(const sl_match_model *mo, const sl_match_patterns *pp,
                      double num[][SL_MATCH_MAX_LEVELS + 1], double *den) {
  for (size_t i = 0; pp && i < pp->c.cap; i++) {
    if (!pp->c.key[i]) continue;
    for (int f = 0; f < mo->nfields; f++) {
      int l = unpack_level(pp->c.key[i], f);
      if (l < 0) continue;
      num[f][l] += (double)pp->c.count[i];
      den[f] += (double)pp->c.count[i];
    }
  }
}

void sl_match_em_known(sl_match_model *mo, const sl_match_patterns *pp, const sl_match_patterns *must,
                       const sl_match_patterns *cannot, int max_iter, double tol,
                       sl_match_em_report *rep) {
  int F = mo->nfields;
  double nmust = must ? (double)must->c.total : 0, ncannot = cannot ? (double)cannot->c.total : 0;
  double total = (double)pp->c.total + nmust + ncannot;
  memset(rep, 0, sizeof *rep);
  if (mo->lambda <= 0 || mo->lambda >= 1) mo->lambda = 0.5;
  /* The known matches alone, for the fields whose m is taken from them. */
  double kn[SL_MATCH_MAX_FIELDS][SL_MATCH_MAX_LEVELS + 1] = {{0}}, kd[SL_MATCH_MAX_FIELDS] = {0};
  if (mo->m_from_known) add_known(mo, must, kn, kd);
  for (int it = 0; it < max_iter; it++) {
    double num[SL_MATCH_MAX_FIELDS][SL_MATCH_MAX_LEVELS + 1] = {{0}};
    double den[SL_MATCH_MAX_FIELDS] = {0}, sp = nmust, ll = 0;
    add_known(mo, must, num, den);
    double llam = log(mo->lambda), l1lam = log(1 - mo->lambda);
    for (size_t i = 0; i < pp->c.cap; i++) {
      if (!pp->c.key[i]) continue;
      double c = (double)pp->c.count[i], lm = llam, lu = l1lam;
      int g[SL_MATCH_MAX_FIELDS];
      for (int f = 0; f < F; f++) {
        g[f] = unpack_level(pp->c.key[i], f);
        if (g[f] < 0) continue;
        lm += log(fmax(mo->m[f][g[f]], 1e-300));
        lu += log(fmax(mo->u[f][g[f]], 1e-300));
      }
      /* A dependence makes the pattern likelier among non-matches. */
      if (mo->ndeps) {
        int8_t g8[SL_MATCH_MAX_FIELDS];
        for (int f = 0; f < F; f++) g8[f] = (int8_t)g[f];
        for (int f = 0; f < F; f++)
          if (g[f] >= 0) lu -= sl_match_dep_adjust(mo, g8, f) * 0.6931471805599453;   /* bits to nats */
      }
      /* p = pm / (pm + pu) without leaving the log domain. */
      double mx = fmax(lm, lu), lse = mx + log(exp(lm - mx) + exp(lu - mx));
      double p = exp(lm - lse);
      ll += c * lse;
      sp += c * p;
      for (int f = 0; f < F; f++) {
        if (g[f] < 0) continue;
        num[f][g[f]] += c * p;
        den[f] += c * p;
      }
    }
    double change = 0;
    for (int f = 0; f < F; f++) {
      if (den[f] <= 0) continue;
      /* One pseudo-pair spread over the levels: a level no candidate
       * match showed (day and month swapped, in data without swaps) gets
       * a small m, not 0, which would make it damning evidence against. */
      int L = mo->field[f].nlevels + 1;
      int known = (mo->m_from_known >> f & 1) && kd[f] >= SL_MATCH_MIN_KNOWN;
      for (int l = 0; l < L; l++) {
        double m = known ? (kn[f][l] + 1.0 / L) / (kd[f] + 1.0) : (num[f][l] + 1.0 / L) / (den[f] + 1.0);
        change = fmax(change, fabs(m - mo->m[f][l]));
        mo->m[f][l] = m;
        mo->has_weights = 0;   /* the table no longer holds */
      }
    }
    double lam = total > 0 ? sp / total : mo->lambda;
    lam = fmin(fmax(lam, 1e-12), 1 - 1e-12);
    change = fmax(change, fabs(lam - mo->lambda));
    mo->lambda = lam;
    rep->iterations = it + 1;
    rep->max_change = change;
    rep->loglik = ll;
    rep->lambda = lam;
    if (change < tol) {
      rep->converged = 1;
      break;
    }
  }
}

void sl_match_prior_from_candidates(sl_match_model *mo, uint64_t candidate_pairs, double all_pairs) {
  if (all_pairs > 0) mo->lambda = mo->lambda * (double)candidate_pairs / all_pairs;
}
