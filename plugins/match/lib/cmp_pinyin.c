/* Homophone equality of Chinese names through their pinyin keys. */
#include <string.h>

#include "clean.h"
#include "match.h"

void sl_match_scratch_free(sl_match_scratch *sc) {
  sl_buf_free(&sc->a);
  sl_buf_free(&sc->b);
  sl_buf_free(&sc->t);
  sl_buf_free(&sc->addr);
}

int sl_match_pinyin_eq(const char *a, size_t an, const char *b, size_t bn, sl_match_scratch *sc) {
  sc->a.len = sc->b.len = 0;
  sl_pinyin_key(a, an, &sc->a);
  sl_pinyin_key(b, bn, &sc->b);
  return sc->a.len && sc->a.len == sc->b.len && !memcmp(sc->a.ptr, sc->b.ptr, sc->a.len);
}
