/* The waterfall chart of a pair's match weight, as Splink draws it: one
 * bar from the prior, one per field (its log2 Bayes factor with the
 * term-frequency adjustment), each starting where the running total stood,
 * and the final weight; a probability axis on the right.  A self-contained
 * SVG for `sluice explain --svg`. */
#include <math.h>
#include <string.h>

#include "match_step.h"

#define BAR_W 56
#define GAP 14
#define LEFT 70
#define RIGHT 90
#define TOP 50
#define PLOT_H 360
#define BOTTOM 110

/* XML text: the five specials escaped, control characters (not allowed in
 * XML 1.0) left out. */
static void text_escaped(sl_buf *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)s[i] < 0x20) continue;
    switch (s[i]) {
    case '<': sl_buf_puts(b, "&lt;"); break;
    case '>': sl_buf_puts(b, "&gt;"); break;
    case '&': sl_buf_puts(b, "&amp;"); break;
    case '"': sl_buf_puts(b, "&quot;"); break;
    default: sl_buf_putc(b, s[i]);
    }
  }
}

void match_waterfall_svg(const sl_match_config *c, const sl_match_explanation *e, const sl_match_str *cola,
                         const sl_match_str *colb, sl_buf *b) {
  int nbars = e->nfields + 2;
  double start[SL_MATCH_MAX_FIELDS + 2], end[SL_MATCH_MAX_FIELDS + 2];
  double run = e->prior, lo = 0, hi = 0;
  start[0] = 0;
  end[0] = e->prior;
  for (int f = 0; f < e->nfields; f++) {
    start[f + 1] = run;
    run += e->term[f].weight + e->term[f].tf_adjust + e->term[f].dep_adjust;
    end[f + 1] = run;
  }
  start[nbars - 1] = 0;
  end[nbars - 1] = e->weight;
  for (int i = 0; i < nbars; i++) {
    lo = fmin(lo, fmin(start[i], end[i]));
    hi = fmax(hi, fmax(start[i], end[i]));
  }
  lo = floor(lo / 5) * 5 - 5;
  hi = ceil(hi / 5) * 5 + 5;
  int width = LEFT + nbars * (BAR_W + GAP) + RIGHT, height = TOP + PLOT_H + BOTTOM;
#define Y(w) (TOP + PLOT_H * (hi - (w)) / (hi - lo))
  sl_buf_printf(b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%d\" y=\"22\" font-size=\"14\" font-weight=\"bold\">Match weight waterfall: "
                "weight %.2f, probability %.9g</text>\n",
                width, height, width, height, LEFT, e->weight, e->probability);
  /* Weight axis (left) and grid. */
  for (double w = lo; w <= hi + 1e-9; w += 5) {
    double y = Y(w);
    sl_buf_printf(b,
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>\n"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                  LEFT, y, width - RIGHT, y, w == 0 ? "#444" : "#e4e4e4", LEFT - 6, y + 4, w);
  }
  sl_buf_printf(b,
                "<text transform=\"translate(18 %d) rotate(-90)\" text-anchor=\"middle\">match weight "
                "(log2 Bayes factor)</text>\n",
                TOP + PLOT_H / 2);
  /* Probability axis (right): the weights of round probabilities. */
  static const double probs[] = {0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999};
  int ax = width - RIGHT + 8;
  sl_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", ax, TOP, ax,
                TOP + PLOT_H);
  for (size_t i = 0; i < sizeof probs / sizeof *probs; i++) {
    double w = log2(probs[i] / (1 - probs[i]));
    if (w < lo || w > hi) continue;
    double y = Y(w);
    sl_buf_printf(b,
                  "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#444\"/>\n"
                  "<text x=\"%d\" y=\"%.1f\">%g</text>\n",
                  ax, y, ax + 4, y, ax + 7, y + 4, probs[i]);
  }
  sl_buf_printf(b,
                "<text transform=\"translate(%d %d) rotate(90)\" text-anchor=\"middle\">match probability</text>\n",
                width - 12, TOP + PLOT_H / 2);
  /* The bars, each with its value above and its name below. */
  sl_buf_puts(b, "<g class=\"bars\">\n");
  for (int i = 0; i < nbars; i++) {
    double x = LEFT + GAP / 2.0 + i * (BAR_W + GAP);
    double y0 = Y(fmax(start[i], end[i])), y1 = Y(fmin(start[i], end[i]));
    double v = end[i] - start[i];
    int missing = i > 0 && i < nbars - 1 && e->term[i - 1].level < 0;
    const char *fill = i == 0 || missing ? "#888888" : i == nbars - 1 ? "#4c72b0" : v >= 0 ? "#55a868" : "#c44e52";
    const char *kind = i == 0 ? "prior" : i == nbars - 1 ? "final" : "field";
    sl_buf_printf(b, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\">",
                  kind, x, y0, BAR_W, fmax(y1 - y0, 1.0), fill);
    sl_buf_puts(b, "<title>");
    sl_buf name = SL_BUF_INIT;
    if (i == 0) sl_buf_puts(&name, "prior");
    else if (i == nbars - 1) sl_buf_puts(&name, "final");
    else {
      const sl_match_field *fd = &c->field[i - 1];
      sl_buf_puts(&name, fd->name);
      sl_buf_puts(&name, ": ");
      sl_match_level_name(fd, e->term[i - 1].level, &name);
      if (e->term[i - 1].tf_adjust != 0) sl_buf_printf(&name, " (tf %+.2f)", e->term[i - 1].tf_adjust);
      if (e->term[i - 1].dep_adjust != 0) sl_buf_printf(&name, " (dep %+.2f)", e->term[i - 1].dep_adjust);
    }
    text_escaped(b, name.ptr ? name.ptr : "", name.len);
    if (i > 0 && i < nbars - 1) {   /* the values compared, in the tooltip */
      sl_match_str va = cola[c->field_col[i - 1]], vb = colb[c->field_col[i - 1]];
      sl_buf_puts(b, " (");
      text_escaped(b, va.n ? va.p : "missing", va.n ? va.n : 7);
      sl_buf_puts(b, " vs ");
      text_escaped(b, vb.n ? vb.p : "missing", vb.n ? vb.n : 7);
      sl_buf_putc(b, ')');
    }
    sl_buf_printf(b, " %+.2f</title></rect>\n", i == nbars - 1 ? e->weight : v);
    if (i > 0 && i < nbars - 1)   /* the connector from the running total */
      sl_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"2,2\"/>\n",
                    x - GAP, Y(start[i]), x, Y(start[i]));
    sl_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%+.2f</text>\n", x + BAR_W / 2.0,
                  y0 - 4, i == nbars - 1 ? e->weight : v);
    double ty = TOP + PLOT_H + 14;
    sl_buf_printf(b, "<text transform=\"translate(%.1f %.1f) rotate(40)\">", x + BAR_W / 2.0 - 4, ty);
    text_escaped(b, name.ptr ? name.ptr : "", name.len);
    sl_buf_puts(b, "</text>\n");
    sl_buf_free(&name);
  }
  sl_buf_puts(b, "</g>\n</svg>\n");
#undef Y
}
