/* The admin HTTP endpoint of a pipeline (runtime-internal). */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <sys/socket.h>

#include "engine/engine.h"

#define SL_ADMIN_MAX_ADDRS 4
/* Connections served at once unless --admin-max-connections says otherwise. */
#define SL_ADMIN_DEFAULT_CONNS 64
/* A bearer token shorter than this is refused: it could be guessed. */
#define SL_ADMIN_MIN_TOKEN 16

/* Where the endpoint listens and who may ask it, settled once at start (the
 * CLI turns its errors into usage errors) and kept across reloads. */
typedef struct sl_admin_conf {
  char *listen;               /* HOST:PORT as given, for messages */
  struct sockaddr_storage addrs[SL_ADMIN_MAX_ADDRS];
  int naddrs;
  int loopback;               /* every address is a loopback one */
  char *token;                /* the bearer token, or NULL */
  int max_conns;              /* connections served at once */
  int *fds;                   /* serving end: the listening sockets (naddrs), kept open across
                                 reloads so that no client is refused during one (-1: none yet) */
} sl_admin_conf;

/* Parses listen ("127.0.0.1:9464", "localhost:9464", "[::1]:9464",
 * ":9464" for every IPv4 address) and resolves it with getaddrinfo (it
 * blocks: call it before the loop runs); reads the token from token_file,
 * else $SLUICE_ADMIN_TOKEN; refuses an address off loopback without one.
 * max_conns 0 is the default; either way the connections served and those
 * being refused stay within a quarter of RLIMIT_NOFILE, so that admin
 * clients cannot take the descriptors the pipeline needs for its own files.  0, or SL_EINVAL with the reason in err
 * (c is then freed). */
int sl__admin_conf_init(sl_admin_conf *c, const char *listen, const char *token_file,
                        int max_conns, sl_buf *err);
/* The same for a client of the endpoint (sluice tap, sluice reload): the
 * address and the token, without the rules of the serving end. */
int sl__admin_conf_client(sl_admin_conf *c, const char *listen, const char *token_file,
                          sl_buf *err);
void sl__admin_conf_free(sl_admin_conf *c);

/* ---- client.c: a blocking HTTP/1.0 client of the endpoint ---- */

/* Sends "METHOD target" (with the token, if c has one) to the first of
 * c's addresses that answers, and reads the answer's head.  Returns the
 * connected socket with *status set and the body bytes read with the head
 * in body; with err set, SL_ADMIN_UNREACHABLE when no address took the
 * connection, SL_ADMIN_NO_ANSWER when it was taken but no HTTP answer came
 * (the server closed it: it may have stopped meanwhile).  timeout_ms
 * bounds the connect and each read (0: reads wait). */
#define SL_ADMIN_UNREACHABLE (-1)
#define SL_ADMIN_NO_ANSWER (-2)
int sl__admin_client_request(const sl_admin_conf *c, const char *method, const char *target,
                             int timeout_ms, int *status, sl_buf *body, sl_buf *err);

/* Serves p->admin_conf on p's loop.  0, or SL_EIO (logged). */
int sl__admin_start(sl_pipeline *p);
void sl__admin_stop(sl_pipeline *p);

#endif
