/* Comparison levels: a field's ordered tests map a pair of values to a
 * level, the first test that holds. */
#include <math.h>
#include <string.h>

#include "match.h"

/* A pair's code points and similarities, computed at most once however
 * many levels test them ("dl<=1", "jw>=0.92", then "jw>=0.8"). */
typedef struct memo {
  int decoded;
  size_t na, nb;
  uint32_t a[SL_MATCH_MAX_CP], b[SL_MATCH_MAX_CP];
  double jw;              /* < -1: not computed */
  double company, address;  /* the Chinese comparators' similarities, likewise */
  int osa;                /* < 0: not computed */
  int osa_max;            /* the largest distance a level of the field asks about */
} memo;

static void decode(memo *mm, sl_match_str a, sl_match_str b) {
  if (mm->decoded) return;
  mm->na = sl__match_cps(a.p, a.n, mm->a);
  mm->nb = sl__match_cps(b.p, b.n, mm->b);
  mm->decoded = 1;
}

static int test_holds(const sl_match_level *l, sl_match_str a, sl_match_str b, memo *mm,
                      sl_match_scratch *sc) {
  switch (l->test) {
  case SL_MT_EXACT:
    return a.n == b.n && !memcmp(a.p, b.p, a.n);
  case SL_MT_JW:
    if (mm->jw < -1) {
      decode(mm, a, b);
      mm->jw = sl__match_jw_cps(mm->a, mm->na, mm->b, mm->nb);
    }
    return mm->jw >= l->arg;
  case SL_MT_OSA:
    if (mm->osa < 0) {
      decode(mm, a, b);
      mm->osa = sl__match_osa_cps(mm->a, mm->na, mm->b, mm->nb, mm->osa_max);
    }
    return mm->osa <= (int)l->arg;
  case SL_MT_JACCARD:
    decode(mm, a, b);
    return sl__match_jaccard_cps(mm->a, mm->na, mm->b, mm->nb, 2) >= l->arg;
  case SL_MT_NUM_ABS:
  case SL_MT_NUM_REL: {
    double x, y;
    if (sl_match_number(a.p, a.n, &x) || sl_match_number(b.p, b.n, &y)) return 0;
    double d = fabs(x - y);
    if (l->test == SL_MT_NUM_ABS) return d <= l->arg;
    double m = fmax(fabs(x), fabs(y));
    return m == 0.0 || d / m <= l->arg;
  }
  case SL_MT_DATE_DAYS:
  case SL_MT_DATE_SWAP: {
    int ay, am, ad, by, bm, bd;
    if (sl_match_date(a.p, a.n, &ay, &am, &ad) || sl_match_date(b.p, b.n, &by, &bm, &bd)) return 0;
    if (l->test == SL_MT_DATE_SWAP) return ay == by && am == bd && ad == bm && am != ad;
    return sl_match_date_days(ay, am, ad, by, bm, bd) <= (int64_t)l->arg;
  }
  case SL_MT_PINYIN:
    return sl_match_pinyin_eq(a.p, a.n, b.p, b.n, sc);
  case SL_MT_COMPANY:
    if (mm->company < -1) mm->company = sl_match_company_jw(a.p, a.n, b.p, b.n, sc);
    return mm->company >= l->arg;
  case SL_MT_ADDRESS:
    /* Resolving the divisions of both sides is the cost: once a pair. */
    if (mm->address < -1) mm->address = sl_match_address_jw(a.p, a.n, b.p, b.n, sc);
    return mm->address >= l->arg;
  case SL_MT_OSA_HEAD: {
    decode(mm, a, b);
    size_t h = (size_t)l->arg;
    if (mm->na != mm->nb || mm->na < h || memcmp(mm->a + h, mm->b + h, (mm->na - h) * sizeof mm->a[0])) return 0;
    return sl__match_osa_cps(mm->a, h, mm->b, h, 1) <= 1;
  }
  }
  return 0;
}

int sl_match_level_of(const sl_match_field *f, sl_match_str a, sl_match_str b, sl_match_scratch *sc) {
  if (!a.n || !b.n) return -1;
  memo mm;
  mm.decoded = 0;
  mm.jw = mm.company = mm.address = -2.0;
  mm.osa = -1;
  mm.osa_max = 0;
  for (int i = 0; i < f->nlevels; i++)
    if (f->level[i].test == SL_MT_OSA && (int)f->level[i].arg > mm.osa_max) mm.osa_max = (int)f->level[i].arg;
  for (int i = 0; i < f->nlevels; i++)
    if (test_holds(&f->level[i], a, b, &mm, sc)) return i;
  return f->nlevels;
}

void sl_match_level_name(const sl_match_field *f, int level, sl_buf *out) {
  static const char *const names[] = {
    [SL_MT_EXACT] = "exact",       [SL_MT_JW] = "jw>=",        [SL_MT_OSA] = "dl<=",
    [SL_MT_JACCARD] = "jaccard>=", [SL_MT_NUM_ABS] = "abs<=",  [SL_MT_NUM_REL] = "rel<=",
    [SL_MT_DATE_DAYS] = "days<=",  [SL_MT_DATE_SWAP] = "day-month-swapped",
    [SL_MT_PINYIN] = "pinyin",     [SL_MT_COMPANY] = "company-jw>=",
    [SL_MT_ADDRESS] = "address-jw>=", [SL_MT_OSA_HEAD] = "dl<=1-head=",
  };
  if (level < 0) {
    sl_buf_puts(out, "missing");
    return;
  }
  if (level >= f->nlevels) {
    sl_buf_puts(out, "else");
    return;
  }
  const sl_match_level *l = &f->level[level];
  sl_buf_puts(out, names[l->test]);
  size_t k = strlen(names[l->test]);
  if (names[l->test][k - 1] == '=') sl_buf_printf(out, "%g", l->arg);
}
