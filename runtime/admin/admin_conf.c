/* What the admin endpoint is set up with, settled before the loop runs:
 * the addresses it listens on (HOST:PORT parsed and resolved), whether they
 * are all loopback, the bearer token that guards it off loopback, and how
 * many connections it serves at once. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/http.h"

static const char FORMS[] = "HOST:PORT, such as 127.0.0.1:9464, localhost:9464 or [::1]:9464";

/* "HOST:PORT" or "[V6]:PORT" into host and port; a bare IPv6 literal
 * ("::1:9464") is split at its last colon.  An empty host is every IPv4
 * address. */
static int split(const char *listen, char *host, size_t hn, char *port, int *numeric) {
  const char *colon;
  *numeric = 0;
  if (listen[0] == '[') {
    const char *close = strchr(listen, ']');
    if (!close || close[1] != ':' || (size_t)(close - listen - 1) >= hn || close == listen + 1)
      return -1;
    memcpy(host, listen + 1, (size_t)(close - listen - 1));
    host[close - listen - 1] = 0;
    colon = close + 1;
    *numeric = 1;
  } else {
    colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= hn) return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    if (!host[0]) snprintf(host, hn, "0.0.0.0");
    if (strchr(host, ':')) *numeric = 1;
  }
  const char *p = colon + 1;
  size_t n = strspn(p, "0123456789");
  if (n < 1 || n > 5 || p[n] || atol(p) > 65535) return -1;
  memcpy(port, p, n + 1);
  return 0;
}

static int is_loopback(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)a;
    return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
  }
  if (a->ss_family == AF_INET6) {
    const struct in6_addr *s = &((const struct sockaddr_in6 *)a)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(s) || (IN6_IS_ADDR_V4MAPPED(s) && s->s6_addr[12] == 127);
  }
  return 0;
}

static int resolve(sl_admin_conf *c, const char *host, const char *port, int numeric,
                   sl_buf *err) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0)};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc) {
    sl_buf_printf(err, "--admin %s: cannot resolve '%s': %s", c->listen, host,
                  rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    return SL_EINVAL;
  }
  c->loopback = 1;
  for (struct addrinfo *a = res; a && c->naddrs < SL_ADMIN_MAX_ADDRS; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        a->ai_addrlen > sizeof c->addrs[0])
      continue;
    int dup = 0;
    for (int i = 0; i < c->naddrs; i++)
      if (memcmp(&c->addrs[i], a->ai_addr, a->ai_addrlen) == 0) dup = 1;
    if (dup) continue;
    memset(&c->addrs[c->naddrs], 0, sizeof c->addrs[0]);
    memcpy(&c->addrs[c->naddrs], a->ai_addr, a->ai_addrlen);
    if (!is_loopback(&c->addrs[c->naddrs])) c->loopback = 0;
    c->naddrs++;
  }
  freeaddrinfo(res);
  if (!c->naddrs) {
    sl_buf_printf(err, "--admin %s: '%s' has no IPv4 or IPv6 address", c->listen, host);
    return SL_EINVAL;
  }
  return 0;
}

/* A token is printable ASCII without spaces (it travels in a header line)
 * and long enough not to be guessed. */
static int check_token(const char *t, const char *from, sl_buf *err) {
  size_t n = strlen(t);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e) {
      sl_buf_printf(err, "the admin token in %s must be printable ASCII without spaces", from);
      return SL_EINVAL;
    }
  if (n < SL_ADMIN_MIN_TOKEN) {
    sl_buf_printf(err, "the admin token in %s is %zu characters long; it needs at least %d "
                       "(for example: openssl rand -hex 32)", from, n, SL_ADMIN_MIN_TOKEN);
    return SL_EINVAL;
  }
  return 0;
}

/* The token file's content without its trailing newline and spaces. */
static char *read_token(const char *path, sl_buf *err) {
  FILE *f = fopen(path, "r");
  if (!f) {
    sl_buf_printf(err, "--admin-token-file %s: %s", path, strerror(errno));
    return NULL;
  }
  char buf[4097];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  if (n == sizeof buf) {
    sl_buf_printf(err, "--admin-token-file %s: longer than 4096 bytes", path);
    return NULL;
  }
  while (n && strchr(" \t\r\n", buf[n - 1])) n--;
  buf[n] = 0;
  if (memchr(buf, 0, n)) {
    sl_buf_printf(err, "the admin token in %s must be printable ASCII without spaces", path);
    return NULL;
  }
  char *t = strdup(buf);
  if (!t) sl_buf_puts(err, "out of memory");
  return t;
}

void sl__admin_conf_free(sl_admin_conf *c) {
  for (int i = 0; c->fds && i < c->naddrs; i++)
    if (c->fds[i] >= 0) close(c->fds[i]);
  free(c->fds);
  free(c->listen);
  if (c->token) {
    memset(c->token, 0, strlen(c->token));
    free(c->token);
  }
  memset(c, 0, sizeof *c);
}

/* The address and the token, as both ends read them.  0, or SL_EINVAL
 * with err set (c is then the caller's to free). */
static int address_and_token(sl_admin_conf *c, const char *listen, const char *token_file,
                             sl_buf *err) {
  memset(c, 0, sizeof *c);
  char host[256], port[8];
  int numeric;
  c->listen = strdup(listen);
  if (!c->listen) return SL_EINVAL;
  if (split(listen, host, sizeof host, port, &numeric)) {
    sl_buf_printf(err, "--admin '%s': expected %s", listen, FORMS);
    return SL_EINVAL;
  }
  if (resolve(c, host, port, numeric, err)) return SL_EINVAL;
  const char *env = getenv("SLUICE_ADMIN_TOKEN");
  if (token_file) {
    c->token = read_token(token_file, err);
    if (!c->token || check_token(c->token, token_file, err)) return SL_EINVAL;
  } else if (env && *env) {
    if (check_token(env, "$SLUICE_ADMIN_TOKEN", err)) return SL_EINVAL;
    c->token = strdup(env);
    if (!c->token) return SL_EINVAL;
  }
  return 0;
}

int sl__admin_conf_client(sl_admin_conf *c, const char *listen, const char *token_file,
                          sl_buf *err) {
  if (address_and_token(c, listen, token_file, err) == 0) return 0;
  if (!err->len) sl_buf_puts(err, "out of memory");
  sl__admin_conf_free(c);
  return SL_EINVAL;
}

int sl__admin_conf_init(sl_admin_conf *c, const char *listen, const char *token_file,
                        int max_conns, sl_buf *err) {
  if (address_and_token(c, listen, token_file, err)) goto fail;
  if (!c->loopback && !c->token) {
    sl_buf_printf(err, "--admin %s listens beyond loopback: give it a bearer token "
                       "(--admin-token-file FILE or $SLUICE_ADMIN_TOKEN), or listen on "
                       "127.0.0.1 or [::1]", listen);
    goto fail;
  }

  /* Served and refused connections together stay within a quarter of the
   * descriptors. */
  c->max_conns = max_conns > 0 ? max_conns : SL_ADMIN_DEFAULT_CONNS;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    rlim_t quarter = rl.rlim_cur / 4;
    rlim_t room = quarter > SL_HTTP_REFUSING_MAX + 1 ? quarter - SL_HTTP_REFUSING_MAX : 1;
    if (room < (rlim_t)c->max_conns) c->max_conns = (int)room;
  }
  if (!(c->fds = malloc((size_t)c->naddrs * sizeof *c->fds))) goto fail;
  for (int i = 0; i < c->naddrs; i++) c->fds[i] = -1;
  return 0;
fail:
  if (!err->len) sl_buf_puts(err, "out of memory");
  sl__admin_conf_free(c);
  return SL_EINVAL;
}
