/* Administrative divisions (GB/T 2260): codes and names both ways, and the
 * province / city / county an address starts with.
 *
 * The table is data/cn_divisions.tsv, embedded in the binary and parsed on
 * first use (once per process, about a millisecond).  Entries are sorted by
 * code, so a province's cities and counties follow it, and a city's
 * counties follow the city.  A first-character index finds the divisions an
 * address can start with when it names no province. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"

typedef struct ent {
  char code[7];
  uint8_t level;            /* sl_div_level */
  const char *name, *shortn;
  uint16_t name_len, short_len;
  int parent;               /* index of the city or province above; -1 for a province */
  int province;             /* index of the province */
  int end;                  /* one past the last entry below this one */
} ent;

typedef struct first_ix {
  uint32_t cp;
  int ent;
} first_ix;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *text;          /* the table's text, NULs in place of tabs and newlines */
static ent *ents;
static int nents;
static first_ix *firsts;    /* (first code point of the name, entry), sorted */
static int nfirsts;

static int find_code(const char *code6) {
  int lo = 0, hi = nents - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    int c = memcmp(ents[mid].code, code6, 6);
    if (!c) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

static int by_first(const void *a, const void *b) {
  const first_ix *x = a, *y = b;
  if (x->cp != y->cp) return x->cp < y->cp ? -1 : 1;
  return x->ent - y->ent;
}

static void load(void) {
  size_t n;
  const char *src = sl__clean_divisions_tsv(&n);
  text = malloc(n + 1);
  size_t lines = 0;
  for (size_t i = 0; i < n; i++) lines += src[i] == '\n';
  ents = calloc(lines + 1, sizeof *ents);
  firsts = calloc(lines + 1, sizeof *firsts);
  if (!text || !ents || !firsts) return;
  memcpy(text, src, n + 1);
  char *p = text, *end = text + n;
  while (p < end) {
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    *eol = 0;
    char *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    if (*p != '#' && t1 && t2 && t1 - p == 6) {
      ent *e = &ents[nents];
      memcpy(e->code, p, 6);
      *t1 = *t2 = 0;
      e->name = t1 + 1;
      e->name_len = (uint16_t)strlen(e->name);
      e->shortn = t2 + 1;
      e->short_len = (uint16_t)strlen(e->shortn);
      e->level = !memcmp(p + 2, "0000", 4) ? SL_DIV_PROVINCE : !memcmp(p + 4, "00", 2) ? SL_DIV_CITY : SL_DIV_COUNTY;
      nents++;
    }
    p = eol + 1;
  }
  /* Parents, and where each entry's descendants end (the table is sorted). */
  for (int i = 0; i < nents; i++) {
    ent *e = &ents[i];
    char code[6];
    memcpy(code, e->code, 6);
    memcpy(code + 2, "0000", 4);
    e->province = find_code(code);
    e->parent = -1;
    if (e->level == SL_DIV_CITY) {
      e->parent = e->province;
    } else if (e->level == SL_DIV_COUNTY) {
      memcpy(code, e->code, 4);
      memcpy(code + 4, "00", 2);
      int c = find_code(code);
      e->parent = c >= 0 ? c : e->province;
    }
    e->end = i + 1;
    if (e->level != SL_DIV_COUNTY) {
      size_t prefix = e->level == SL_DIV_PROVINCE ? 2 : 4;
      while (e->end < nents && !memcmp(ents[e->end].code, e->code, prefix)) e->end++;
    }
    size_t k = 0;
    firsts[nfirsts].cp = sl__utf8_next(e->name, e->name_len, &k);
    firsts[nfirsts++].ent = i;
  }
  qsort(firsts, (size_t)nfirsts, sizeof *firsts, by_first);
}

static int ready(void) {
  pthread_once(&once, load);
  return nents > 0;
}

int sl_division_province_known(const char *two) {
  if (!ready()) return 0;
  char code[6] = {two[0], two[1], '0', '0', '0', '0'};
  return find_code(code) >= 0;
}

static void fill(int i, sl_division *d) {
  if (i < 0) {
    memset(d, 0, sizeof *d);
    return;
  }
  memcpy(d->code, ents[i].code, 6);
  d->code[6] = 0;
  d->name = ents[i].name;
  d->name_len = ents[i].name_len;
  d->level = (sl_div_level)ents[i].level;
}

int sl_division_find(const char *s, size_t n, sl_division *out, sl_clean_why *why) {
  if (!ready()) return sl__why(why, SL_EIO, "the division table is missing");
  char code[6];
  /* 2 and 4 digits are a province's and a city's; 9 and 12 digits are the
   * statistical codes of townships and villages, whose first 6 are the county. */
  if (n != 2 && n != 4 && n != 6 && n != 9 && n != 12)
    return sl__why(why, SL_EINVAL, "a division code has 6 digits (or 2, 4, 9, 12), not %zu characters", n);
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return sl__why(why, SL_EINVAL, "a division code is digits");
  memset(code, '0', 6);
  memcpy(code, s, n < 6 ? n : 6);
  int i = find_code(code);
  if (i < 0) return sl__why(why, SL_ENOENT, "unknown division code %.6s", code);
  fill(i, out);
  return 0;
}

void sl_division_full_name(const sl_division *d, sl_buf *out) {
  if (!d->level || !ready()) return;
  int i = find_code(d->code);
  if (i < 0) return;
  const ent *e = &ents[i];
  if (e->level != SL_DIV_PROVINCE) sl_buf_append(out, ents[e->province].name, ents[e->province].name_len);
  if (e->level == SL_DIV_COUNTY && e->parent != e->province)
    sl_buf_append(out, ents[e->parent].name, ents[e->parent].name_len);
  sl_buf_append(out, e->name, e->name_len);
}

/* ---- addresses ---- */

/* Characters that continue a name: a short name followed by one of them is
 * not that division.  A street or landmark ("朝阳门", "朝阳路"), or the
 * suffix of another division's full name ("朝阳区" is not 朝阳市 + "区";
 * "吉林市" is not 吉林省 + "市"). */
static int continues_name(uint32_t c) {
  static const uint32_t stops[] = {0x8DEF, 0x8857, 0x9053, 0x5DF7, 0x5F04, 0x95E8, 0x6865, 0x53E3,
                                   0x6751, 0x9547, 0x4E61, 0x91CC, 0x53F7, 0x5927, 0x5C71, 0x6E56,
                                   0x6CB3, 0x6C5F, 0x6E7E,   /* 路街道巷弄门桥口村镇乡里号大山湖河江湾 */
                                   0x533A, 0x53BF, 0x5E02, 0x65D7, 0x5DDE, 0x76DF, 0x7701};   /* 区县市旗州盟省 */
  for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++)
    if (c == stops[i]) return 1;
  return 0;
}

/* How many bytes of s[pos..n) entry i's name covers: its full name, or its
 * short name when what follows is not part of a longer name; 0 if neither. */
static size_t match_at(int i, const char *s, size_t n, size_t pos, int full_only) {
  const ent *e = &ents[i];
  /* Names start with a 3-byte character: most candidates differ there,
   * and checking it inline spares a memcmp call per candidate. */
  if (n - pos < 3 || s[pos + 1] != e->name[1] || s[pos + 2] != e->name[2]) return 0;
  if (n - pos >= e->name_len && !memcmp(s + pos, e->name, e->name_len)) return e->name_len;
  if (full_only || !e->short_len || n - pos < e->short_len || memcmp(s + pos, e->shortn, e->short_len))
    return 0;
  size_t k = pos + e->short_len;
  if (k < n && continues_name(sl__utf8_next(s, n, &k))) return 0;
  return e->short_len;
}

/* The best entry of one level at pos, among [from, to) under `under` (-1:
 * any), or among every entry starting with the character at pos (from < 0).
 * Longest match wins; two different entries matching as long is
 * ambiguous and matches nothing. */
static int best(sl_div_level level, int from, int to, int under, const char *s, size_t n, size_t pos,
                int full_only, size_t *len) {
  int found = -1, tie = 0;
  size_t flen = 0;
  int lo = 0, hi = 0;
  if (from < 0) {
    size_t k = pos;
    uint32_t cp = sl__utf8_next(s, n, &k);
    int a = 0, b = nfirsts;
    while (a < b) {
      int mid = (a + b) / 2;
      if (firsts[mid].cp < cp) a = mid + 1;
      else b = mid;
    }
    lo = a;
    hi = a;
    while (hi < nfirsts && firsts[hi].cp == cp) hi++;
  } else {
    lo = from;
    hi = to;
  }
  /* Cities are children of their province: under one, step from child to
   * child over each city's counties (entries are in code order, a
   * subtree's end one past its last). */
  int children = from >= 0 && level == SL_DIV_CITY;
  for (int j = lo; j < hi; j = children ? ents[j].end : j + 1) {
    int i = from < 0 ? firsts[j].ent : j;
    const ent *e = &ents[i];
    if (e->level != level) continue;
    if (under >= 0 && e->parent != under && e->province != under) continue;
    size_t m = match_at(i, s, n, pos, full_only);
    if (!m) continue;
    if (m > flen) {
      found = i;
      flen = m;
      tie = 0;
    } else if (m == flen) {
      tie = 1;
    }
  }
  if (tie) return -1;
  *len = flen;
  return found;
}

typedef struct found {
  int p, c, k;
  size_t pos;
  int levels;
} found;

static found resolve(const char *s, size_t n, int try_province) {
  found f = {-1, -1, -1, 0, 0};
  size_t len = 0;
  if (try_province && (f.p = best(SL_DIV_PROVINCE, -1, 0, -1, s, n, f.pos, 0, &len)) >= 0) f.pos += len;
  if (f.pos < n) {
    if (f.p >= 0) f.c = best(SL_DIV_CITY, f.p + 1, ents[f.p].end, f.p, s, n, f.pos, 0, &len);
    else f.c = best(SL_DIV_CITY, -1, 0, -1, s, n, f.pos, 0, &len);
    if (f.c >= 0) {
      f.pos += len;
      if (f.p < 0) f.p = ents[f.c].province;
    }
  }
  if (f.pos < n) {
    if (f.c >= 0) {
      f.k = best(SL_DIV_COUNTY, f.c + 1, ents[f.c].end, f.c, s, n, f.pos, 0, &len);
    } else if (f.p >= 0) {
      f.k = best(SL_DIV_COUNTY, f.p + 1, ents[f.p].end, f.p, s, n, f.pos, 0, &len);
    } else {
      /* No province or city to go by: a county's full name only, and only
       * if one county in the country has it. */
      f.k = best(SL_DIV_COUNTY, -1, 0, -1, s, n, f.pos, 1, &len);
    }
    if (f.k >= 0) {
      f.pos += len;
      const ent *k = &ents[f.k];
      if (f.c < 0 && k->parent != k->province) f.c = k->parent;
      if (f.p < 0) f.p = k->province;
    }
  }
  f.levels = (f.p >= 0) + (f.c >= 0) + (f.k >= 0);
  return f;
}

int sl_address_normalize(const char *s, size_t n, sl_address *a, sl_buf *out, sl_clean_why *why) {
  if (!ready()) return sl__why(why, SL_EIO, "the division table is missing");
  found f = resolve(s, n, 1);
  /* "吉林市船营区": the province's short name 吉林 would swallow the city's
   * name; without the province the city and county are found.  Only a
   * province found by its short name can do that. */
  if (f.p >= 0 && !(n >= ents[f.p].name_len && !memcmp(s, ents[f.p].name, ents[f.p].name_len))) {
    found g = resolve(s, n, 0);
    if (g.levels > f.levels || (g.levels == f.levels && g.pos > f.pos)) f = g;
  }
  if (!f.levels) return sl__why(why, SL_ENOENT, "no administrative division at the start");
  fill(f.p, &a->province);
  fill(f.c, &a->city);
  fill(f.k, &a->county);
  a->found = f.levels;
  a->rest = f.pos;
  if (out) {
    if (f.p >= 0) sl_buf_append(out, ents[f.p].name, ents[f.p].name_len);
    if (f.c >= 0) sl_buf_append(out, ents[f.c].name, ents[f.c].name_len);
    if (f.k >= 0) sl_buf_append(out, ents[f.k].name, ents[f.k].name_len);
    sl_buf_append(out, s + f.pos, n - f.pos);
  }
  return 0;
}
