/* Masking and HMAC-SHA-256 pseudonymisation. */
#include <stdlib.h>
#include <unistd.h>

#include "clean.h"
#include "test.h"

TEST(masks) {
  static const struct {
    const char *in;
    size_t ks, ke;
    const char *out;
  } t[] = {
      {"440402199001011234", 6, 4, "440402********1234"},
      {"13812345678", 3, 4, "138****5678"},
      {"张三丰", 1, 0, "张**"},
      {"张三", 1, 0, "张*"},
      {"王", 1, 0, "*"},                    /* too short to keep anything */
      {"abc", 2, 2, "***"},
      {"", 1, 1, ""},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_mask(t[i].in, strlen(t[i].in), t[i].ks, t[i].ke, "*", &b);
    ASSERT_MEM_EQ(b.ptr ? b.ptr : "", b.len, t[i].out, strlen(t[i].out));
    sl_buf c = SL_BUF_INIT;   /* masking a masked value changes nothing */
    sl_mask(b.ptr ? b.ptr : "", b.len, t[i].ks, t[i].ke, "*", &c);
    ASSERT_MEM_EQ(c.ptr ? c.ptr : "", c.len, t[i].out, strlen(t[i].out));
    sl_buf_free(&b);
    sl_buf_free(&c);
  }
}

/* RFC 4231 test case 2 needs a 4-byte key, below our minimum; case 1's
 * 20-byte key and "Hi There" are fine. */
TEST(hmac_rfc4231) {
  unsigned char key[20];
  memset(key, 0x0b, sizeof key);
  sl_hmac_key *k;
  sl_clean_why why;
  ASSERT_EQ(sl_hmac_key_new(key, sizeof key, &k, &why), 0);
  sl_buf b = SL_BUF_INIT;
  sl_hmac_token(k, "", "Hi There", 8, 32, &b);
  ASSERT_MEM_EQ(b.ptr, b.len, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 64);
  b.len = 0;
  sl_hmac_token(k, "", "Hi There", 8, 8, &b);
  ASSERT_MEM_EQ(b.ptr, b.len, "b0344c61d8db3853", 16);
  /* A context keeps the same value apart in different fields. */
  sl_buf c = SL_BUF_INIT;
  sl_hmac_token(k, "id_no", "Hi There", 8, 8, &c);
  ASSERT(c.len == 16 && memcmp(c.ptr, b.ptr, 16) != 0);
  sl_buf_free(&b);
  sl_buf_free(&c);
  sl_hmac_key_free(k);
  /* A key longer than the block is hashed first (RFC 4231 case 6). */
  unsigned char big[131];
  memset(big, 0xaa, sizeof big);
  ASSERT_EQ(sl_hmac_key_new(big, sizeof big, &k, &why), 0);
  sl_buf d = SL_BUF_INIT;
  const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
  sl_hmac_token(k, "", msg, strlen(msg), 32, &d);
  ASSERT_MEM_EQ(d.ptr, d.len, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 64);
  sl_buf_free(&d);
  sl_hmac_key_free(k);
}

TEST(hmac_keys) {
  sl_hmac_key *k = NULL;
  sl_clean_why why = {{0}};
  ASSERT_EQ(sl_hmac_key_new("short", 5, &k, &why), SL_EINVAL);
  ASSERT(strstr(why.msg, "too short"));
  unsetenv("SLUICE_TEST_CLEAN_KEY");
  ASSERT_EQ(sl_hmac_key_load("SLUICE_TEST_CLEAN_KEY", NULL, &k, &why), SL_ENOENT);
  setenv("SLUICE_TEST_CLEAN_KEY", "a secret of 24 bytes!!!!", 1);
  ASSERT_EQ(sl_hmac_key_load("SLUICE_TEST_CLEAN_KEY", NULL, &k, &why), 0);
  sl_hmac_key_free(k);
  /* A key file's trailing newline is not part of the key: same tokens. */
  char path[] = "/tmp/sluice-test-key-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, "a secret of 24 bytes!!!!\n", 25), 25);
  close(fd);
  sl_hmac_key *f = NULL;
  ASSERT_EQ(sl_hmac_key_load(NULL, path, &f, &why), 0);
  unlink(path);
  ASSERT_EQ(sl_hmac_key_load("SLUICE_TEST_CLEAN_KEY", NULL, &k, &why), 0);
  sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
  sl_hmac_token(k, "", "x", 1, 16, &a);
  sl_hmac_token(f, "", "x", 1, 16, &b);
  ASSERT_MEM_EQ(a.ptr, a.len, b.ptr, b.len);
  sl_hmac_key_free(k);
  /* Messages never hold the key. */
  ASSERT_EQ(sl_hmac_key_load(NULL, "/nonexistent/key", &k, &why) != 0, 1);
  ASSERT(!strstr(why.msg, "secret"));
  sl_buf_free(&a);
  sl_buf_free(&b);
  sl_hmac_key_free(f);
}

RUN_TESTS(masks, hmac_rfc4231, hmac_keys)
