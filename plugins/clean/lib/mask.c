/* Masking and keyed pseudonymisation for open data.
 *
 * Tokens are HMAC-SHA-256 computed with libcrypto's SHA-256 on states
 * prepared once per key (RFC 2104: the inner and outer states after the
 * padded key), so a token costs two short hashes and no allocation.  The
 * low-level SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP,
 * whose per-call context setup costs more than the hash of a short value;
 * they remain supported, hence OPENSSL_SUPPRESS_DEPRECATED. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"

void sl_mask(const char *s, size_t n, size_t keep_start, size_t keep_end, const char *mask,
             sl_buf *out) {
  size_t chars = 0, i = 0;
  while (i < n) {
    sl__utf8_next(s, n, &i);
    chars++;
  }
  size_t ml = strlen(mask);
  if (chars <= keep_start + keep_end) {
    for (size_t k = 0; k < chars; k++) sl_buf_append(out, mask, ml);
    return;
  }
  size_t c = 0;
  i = 0;
  while (i < n) {
    size_t at = i;
    sl__utf8_next(s, n, &i);
    if (c < keep_start || c >= chars - keep_end) sl_buf_append(out, s + at, i - at);
    else sl_buf_append(out, mask, ml);
    c++;
  }
}

struct sl_hmac_key {
  SHA256_CTX inner, outer;
};

int sl_hmac_key_new(const void *key, size_t n, sl_hmac_key **out, sl_clean_why *why) {
  if (n < 16) return sl__why(why, SL_EINVAL, "the pseudonymisation key is too short (%zu bytes, at least 16)", n);
  sl_hmac_key *k = calloc(1, sizeof *k);
  if (!k) return sl__why(why, SL_ENOMEM, "out of memory");
  unsigned char block[64], digest[32];
  memset(block, 0, sizeof block);
  if (n > sizeof block) {
    SHA256(key, n, digest);
    memcpy(block, digest, sizeof digest);
  } else {
    memcpy(block, key, n);
  }
  unsigned char pad[64];
  for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&k->inner);
  SHA256_Update(&k->inner, pad, sizeof pad);
  for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&k->outer);
  SHA256_Update(&k->outer, pad, sizeof pad);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(digest, sizeof digest);
  *out = k;
  return 0;
}

void sl_hmac_key_free(sl_hmac_key *k) {
  if (!k) return;
  OPENSSL_cleanse(k, sizeof *k);
  free(k);
}

int sl_hmac_key_load(const char *env, const char *path, sl_hmac_key **out, sl_clean_why *why) {
  *out = NULL;
  if (env && *env) {
    const char *v = getenv(env);
    if (!v || !*v) return sl__why(why, SL_ENOENT, "the environment variable %s (the pseudonymisation key) is not set", env);
    return sl_hmac_key_new(v, strlen(v), out, why);
  }
  if (!path || !*path) return sl__why(why, SL_EINVAL, "no pseudonymisation key: give key_env or key_file");
  FILE *f = fopen(path, "rb");
  if (!f) return sl__why(why, SL_ENOENT, "cannot open the key file %s", path);
  unsigned char buf[1024];
  size_t n = fread(buf, 1, sizeof buf, f);
  int big = n == sizeof buf && fgetc(f) != EOF;
  fclose(f);
  if (big) {
    OPENSSL_cleanse(buf, sizeof buf);
    return sl__why(why, SL_EINVAL, "the key file %s is larger than 1 KiB", path);
  }
  /* A key written with echo ends with a newline that is not part of it. */
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
  int rc = sl_hmac_key_new(buf, n, out, why);
  OPENSSL_cleanse(buf, sizeof buf);
  return rc;
}

void sl_hmac_token(const sl_hmac_key *k, const char *context, const char *s, size_t n, size_t nbytes,
                   sl_buf *out) {
  unsigned char inner[32], mac[32];
  SHA256_CTX c = k->inner;
  if (context && *context) {
    SHA256_Update(&c, context, strlen(context));
    SHA256_Update(&c, "", 1);   /* a NUL between context and value: "a"+"bc" != "ab"+"c" */
  }
  SHA256_Update(&c, s, n);
  SHA256_Final(inner, &c);
  c = k->outer;
  SHA256_Update(&c, inner, sizeof inner);
  SHA256_Final(mac, &c);
  if (nbytes < 1) nbytes = 1;
  if (nbytes > 32) nbytes = 32;
  static const char hex[] = "0123456789abcdef";
  if (sl_buf_reserve(out, nbytes * 2)) return;
  for (size_t i = 0; i < nbytes; i++) {
    out->ptr[out->len++] = hex[mac[i] >> 4];
    out->ptr[out->len++] = hex[mac[i] & 15];
  }
  OPENSSL_cleanse(&c, sizeof c);
}
