/* Why two records were or were not linked: the comparison vector, each
 * field's weight and term-frequency adjustment, the prior, the total and
 * the ID rule's verdict.  The review items carry it as JSON; `sluice
 * explain` will print it. */
#include <math.h>
#include <string.h>

#include "matcher.h"

void sl_match_explain_cols(const sl_match_config *c, const sl_match_model *mo, const sl_match_str *cola,
                           const sl_match_str *colb, sl_match_explanation *e) {
  sl_match_str x[SL_MATCH_MAX_FIELDS], y[SL_MATCH_MAX_FIELDS];
  for (int f = 0; f < c->nfields; f++) {
    x[f] = cola[c->field_col[f]];
    y[f] = colb[c->field_col[f]];
  }
  int8_t g[SL_MATCH_MAX_FIELDS];
  sl_match_scratch sc = {0};
  sl_match_gamma(mo, x, y, g, &sc);
  sl_match_scratch_free(&sc);
  e->nfields = c->nfields;
  e->weight = sl_match_weight(mo, g, x, e->term);
  e->prior = e->weight;
  for (int f = 0; f < c->nfields; f++)
    e->prior -= e->term[f].weight + e->term[f].tf_adjust + e->term[f].dep_adjust;
  e->probability = sl_match_probability(e->weight);
  e->rule = c->id_col >= 0 ? sl_match_id_rule(cola[c->id_col], colb[c->id_col]) : SL_MATCH_SCORE;
}

void sl_match_explain(sl_match *m, uint32_t a, uint32_t b, sl_match_explanation *e) {
  sl_match_view va, vb;
  sl_match_get(m, a, &va);
  sl_match_get(m, b, &vb);
  sl_match_explain_cols(sl__match_config(m), sl__match_model(m), va.col, vb.col, e);
}

static void num(sl_buf *out, double d) {
  sl_buf_json_double(out, isfinite(d) ? round(d * 1e4) / 1e4 : 0);
}

void sl_match_explanation_json(const sl_match_config *c, const sl_match_explanation *e, sl_buf *out) {
  sl_buf_puts(out, "{\"fields\":{");
  for (int f = 0; f < e->nfields; f++) {
    if (f) sl_buf_putc(out, ',');
    sl_buf_json_string(out, c->field[f].name, strlen(c->field[f].name));
    sl_buf_puts(out, ":{\"level\":");
    sl_buf name = SL_BUF_INIT;
    sl_match_level_name(&c->field[f], e->term[f].level, &name);
    sl_buf_json_string(out, name.ptr ? name.ptr : "", name.len);
    sl_buf_free(&name);
    sl_buf_puts(out, ",\"weight\":");
    num(out, e->term[f].weight);
    sl_buf_puts(out, ",\"tf_adjust\":");
    num(out, e->term[f].tf_adjust);
    sl_buf_puts(out, ",\"dep_adjust\":");
    num(out, e->term[f].dep_adjust);
    sl_buf_putc(out, '}');
  }
  sl_buf_puts(out, "},\"prior\":");
  num(out, e->prior);
  sl_buf_puts(out, ",\"weight\":");
  num(out, e->weight);
  sl_buf_puts(out, ",\"probability\":");
  num(out, e->probability);
  sl_buf_puts(out, ",\"rule\":");
  sl_buf_puts(out, e->rule == SL_MATCH_MUST ? "\"must\"" : e->rule == SL_MATCH_CANNOT ? "\"cannot\"" : "\"score\"");
  sl_buf_putc(out, '}');
}
