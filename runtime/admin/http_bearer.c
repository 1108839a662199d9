/* The bearer-token check of an Authorization header (RFC 6750), kept apart
 * from the server so that it can be fuzzed and read on its own. */
#include <string.h>
#include <strings.h>

#include "admin/http.h"

/* Compares in a time that depends on the token's length only, so that the
 * answer's timing does not tell how much of a guess was right. */
static int same_secret(const char *token, const char *given) {
  size_t n = strlen(token), m = strlen(given);
  unsigned char diff = n != m;
  for (size_t i = 0; i < n; i++) diff |= (unsigned char)(token[i] ^ (i < m ? given[i] : 0));
  return diff == 0;
}

/* "Bearer <token>", the scheme in any case (RFC 7235), blanks after it.  An
 * empty token never matches: "Bearer " must not pass for one. */
int sl_http_bearer_ok(const char *token, const char *authorization) {
  if (!*token || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return 0;
  const char *t = authorization + 7;
  while (*t == ' ') t++;
  return same_secret(token, t);
}
