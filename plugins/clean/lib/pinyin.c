/* Name keys for matching: pinyin and character bigrams.
 *
 * The pinyin table is data/cn_pinyin.tsv (41,923 code points), embedded
 * and parsed on first use: a direct index for the BMP ideographs and a
 * sorted list for the rest. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"

#define BMP_LO 0x3000
#define BMP_HI 0xA000

typedef struct py_ent {
  uint32_t cp;
  const char *readings;   /* "zeng,ceng", NUL-terminated */
  uint8_t first_len;      /* length of the first reading */
} py_ent;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *text;
static py_ent *ents;
static int nents;
static uint16_t *bmp;     /* BMP_LO..BMP_HI: entry index + 1, 0 for none */

static void load(void) {
  size_t n;
  const char *src = sl__clean_pinyin_tsv(&n);
  size_t lines = 0;
  for (size_t i = 0; i < n; i++) lines += src[i] == '\n';
  text = malloc(n + 1);
  ents = calloc(lines + 1, sizeof *ents);
  bmp = calloc(BMP_HI - BMP_LO, sizeof *bmp);
  if (!text || !ents || !bmp || lines >= 65535) return;
  memcpy(text, src, n + 1);
  char *p = text, *end = text + n;
  while (p < end) {
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    *eol = 0;
    char *tab = strchr(p, '\t');
    if (*p != '#' && tab) {
      py_ent *e = &ents[nents];
      e->cp = (uint32_t)strtoul(p, NULL, 16);
      e->readings = tab + 1;
      const char *comma = strchr(e->readings, ',');
      e->first_len = (uint8_t)(comma ? (size_t)(comma - e->readings) : strlen(e->readings));
      if (e->cp >= BMP_LO && e->cp < BMP_HI) bmp[e->cp - BMP_LO] = (uint16_t)(nents + 1);
      nents++;
    }
    p = eol + 1;
  }
}

static const py_ent *lookup(uint32_t cp) {
  pthread_once(&once, load);
  if (!bmp) return NULL;
  if (cp >= BMP_LO && cp < BMP_HI) return bmp[cp - BMP_LO] ? &ents[bmp[cp - BMP_LO] - 1] : NULL;
  int lo = 0, hi = nents - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (ents[mid].cp == cp) return &ents[mid];
    if (ents[mid].cp < cp) lo = mid + 1;
    else hi = mid - 1;
  }
  return NULL;
}

const char *sl_pinyin_of(uint32_t cp) {
  const py_ent *e = lookup(cp);
  return e ? e->readings : NULL;
}

/* Surnames read otherwise than their characters' common reading. */
static const struct {
  uint32_t cp;
  const char *reading;
} surnames[] = {
    {0x66FE, "zeng"},  /* 曾 */ {0x5355, "shan"},  /* 单 */ {0x89E3, "xie"},   /* 解 */
    {0x4EC7, "qiu"},   /* 仇 */ {0x533A, "ou"},    /* 区 */ {0x6734, "piao"},  /* 朴 */
    {0x67E5, "zha"},   /* 查 */ {0x76D6, "ge"},    /* 盖 */ {0x4E50, "yue"},   /* 乐 */
    {0x8983, "qin"},   /* 覃 */ {0x53EC, "shao"},  /* 召 */ {0x7F2A, "miao"},  /* 缪 */
    {0x7FDF, "zhai"},  /* 翟 */ {0x79CD, "chong"}, /* 种 */ {0x79D8, "bi"},    /* 秘 */
    {0x6298, "she"},   /* 折 */ {0x5458, "yun"},   /* 员 */ {0x7E41, "po"},    /* 繁 */
    {0x6D17, "xian"},  /* 洗 */ {0x5C09, "yu"},    /* 尉 (尉迟) */ {0x957F, "chang"}, /* 长 */
    {0x90FD, "du"},    /* 都 */ {0x91CD, "chong"}, /* 重 */ {0x4FDE, "yu"},    /* 俞 */
    {0x5BBF, "su"},    /* 宿 */ {0x8584, "bo"},    /* 薄 */ {0x6C88, "shen"},  /* 沈 */
    {0x8D3E, "jia"},   /* 贾 */ {0x5C45, "ju"},    /* 居 */ {0x5A04, "lou"},   /* 娄 */
    {0x963F, "a"},     /* 阿 */ {0x4EFB, "ren"},   /* 任 */ {0x534E, "hua"},   /* 华 */
    {0x845B, "ge"},    /* 葛 */ {0x8C37, "gu"},    /* 谷 */ {0x7C98, "nian"},  /* 粘 */
};

/* Spaces and punctuation: left out of both keys. */
static int is_separator(uint32_t c) {
  if (c < 0x80) return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  if (c == 0x3007) return 0;   /* 〇 is a numeral */
  return c == 0x85 || c == 0xA0 || c == 0xB7 || c == 0xFFFD || (c >= 0x2000 && c <= 0x206F) ||
         (c >= 0x3000 && c <= 0x303F) || c == 0x30FB || (c >= 0xFF00 && c <= 0xFF0F) ||
         (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) ||
         c == 0xFEFF || c == 0xFFFFFFFFu;
}

/* Full-width letters and digits to ASCII, ASCII letters to lower case. */
static uint32_t fold(uint32_t c) {
  if (c >= 0xFF10 && c <= 0xFF19) c -= 0xFEE0;
  else if ((c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A)) c -= 0xFEE0;
  if (c >= 'A' && c <= 'Z') c += 32;
  return c;
}

void sl_pinyin_key(const char *s, size_t n, sl_buf *out) {
  size_t i = 0;
  int first_cjk = 1;
  while (i < n) {
    uint32_t c = fold(sl__utf8_next(s, n, &i));
    if (is_separator(c)) continue;
    if (c < 0x80) {
      sl_buf_putc(out, (char)c);
      continue;
    }
    const py_ent *e = lookup(c);
    if (!e) {
      sl__utf8_put(out, c);
      continue;
    }
    const char *r = e->readings;
    size_t rn = e->first_len;
    if (first_cjk) {
      for (size_t k = 0; k < sizeof surnames / sizeof surnames[0]; k++)
        if (surnames[k].cp == c) {
          r = surnames[k].reading;
          rn = strlen(r);
        }
    }
    first_cjk = 0;
    sl_buf_append(out, r, rn);
  }
}

void sl_bigram_key(const char *s, size_t n, sl_buf *out) {
  /* Names are short: keep their characters, and drop a repeated bigram by
   * looking back.  Past 256 characters (not a name), every bigram is kept. */
  uint32_t u[256];
  size_t nu = 0, total = 0, i = 0;
  uint32_t prev = 0;
  size_t base = out->len;
  while (i < n) {
    uint32_t c = fold(sl__utf8_next(s, n, &i));
    if (is_separator(c)) continue;
    if (nu < sizeof u / sizeof u[0]) u[nu++] = c;
    total++;
    if (total >= 2) {
      int seen = 0;
      if (total <= sizeof u / sizeof u[0])
        for (size_t k = 1; k + 1 < total && !seen; k++) seen = u[k - 1] == prev && u[k] == c;
      if (!seen) {
        if (out->len > base) sl_buf_putc(out, ' ');
        sl__utf8_put(out, prev);
        sl__utf8_put(out, c);
      }
    }
    prev = c;
  }
  if (total == 1) sl__utf8_put(out, prev);
}
