/* Fuzzes the admin endpoint's bearer-token check (sl_http_bearer_ok in
 * runtime/admin/http_bearer.c) against a model of what it must accept.
 *
 * The input is a token and an Authorization value, split at its first NUL
 * (no NUL: the whole input is the value, the token a fixed one).  The
 * check must accept exactly "Bearer" in any case, one or more spaces, and
 * the token, nothing before or after; never an empty token (the admin
 * configuration refuses one, and "Bearer " must not pass for it). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "admin/http.h"
#include "fuzz.h"

static int model(const char *token, const char *auth) {
  if (!*token || strncasecmp(auth, "Bearer", 6) != 0 || auth[6] != ' ') return 0;
  const char *t = auth + 6;
  while (*t == ' ') t++;
  return !strcmp(t, token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy = malloc(size + 1);
  CHECK(copy);
  memcpy(copy, data, size);
  copy[size] = 0;
  const char *token = "0123456789abcdef", *auth = copy;
  const char *nul = memchr(copy, 0, size);
  if (nul) {
    token = copy;
    auth = nul + 1;
  }
  int got = sl_http_bearer_ok(token, auth), want = model(token, auth);
  if (got != want) fprintf(stderr, "token \"%s\", value \"%s\": %d, want %d\n", token, auth, got, want);
  CHECK(got == want);
  CHECK(!sl_http_bearer_ok(token, NULL));
  free(copy);
  return 0;
}
