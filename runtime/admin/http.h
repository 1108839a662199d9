/* The admin endpoints' HTTP server (runtime-internal): h2o on the pipeline's
 * libuv loop, with the bounds sluice needs in front of it.
 *
 * GET only, one request per connection, answered and closed.  Until a
 * connection has sent a whole request head (up to its blank line, at most
 * SL_HTTP_MAX_HEAD bytes) it is read here, into a fixed buffer: a head that
 * does not fit is answered 431, one not complete within 5 s is closed.  The
 * head is then handed to h2o, which parses it and calls the handler; a
 * request it cannot parse is answered 400, one with a body 413.  A
 * connection lives at most 5 s from its accept, answer included.  At most
 * max_conns connections are served at once; one more is answered 503 and
 * closed once the client has closed its end (within 1 s), at most
 * SL_HTTP_REFUSING_MAX such at once, and beyond those closed right after the
 * 503: the server never holds more than max_conns + SL_HTTP_REFUSING_MAX + 1
 * descriptors (and one per listener), whatever clients do. */
#ifndef SLUICE_ADMIN_HTTP_H
#define SLUICE_ADMIN_HTTP_H

#include <uv.h>

#include "sluice/buf.h"

#define SL_HTTP_MAX_HEAD 8192
#define SL_HTTP_REFUSING_MAX 8

typedef struct sl_http_server sl_http_server;

typedef struct sl_http_req {
  const char *path;           /* normalized ("/a/../b" is "/b"), without the query string */
  const char *authorization;  /* the first Authorization header's value, or NULL */
} sl_http_req;

typedef struct sl_http_resp {
  int status;                 /* 200, 401, 404, 503... */
  const char *type;           /* Content-Type; text/plain by default */
  const char *headers;        /* more header lines, each ending "\r\n", or NULL */
  sl_buf body;
} sl_http_resp;

/* Fills resp (status 200 and text/plain on entry).  Borrowed: req is valid
 * only during the call. */
typedef void (*sl_http_handler)(void *data, const sl_http_req *req, sl_http_resp *resp);

/* Listens on every address of addrs (naddrs of them); an address that
 * cannot be bound is skipped with a warning as long as one can.  0, or a
 * negative libuv error (that of the first address) with *server NULL. */
int sl_http_start(uv_loop_t *loop, const struct sockaddr_storage *addrs, int naddrs,
                  int max_conns, sl_http_handler handler, void *data, sl_http_server **server);
/* Serves one connection already open on fd (a connected stream socket of
 * any family) as if a listener had accepted it, counted against max_conns
 * like one: how the fuzzer feeds the server.  The server takes fd, also
 * when it returns an error (a negative libuv error; fd is then closed). */
int sl_http_serve_fd(sl_http_server *server, uv_os_sock_t fd);
/* Stops listening and closes open connections, those in h2o's hands
 * included: every handle of the server is closing when it returns (the
 * memory goes with the last close callback), so that a loop walk that
 * closes what is left finds none of them. */
void sl_http_stop(sl_http_server *server);

/* Whether an Authorization header value ("Bearer <token>", the scheme in
 * any case, RFC 6750) carries token; NULL authorization does not.  The
 * comparison takes a time that depends on the token's length only, so that
 * timing does not tell how much of a guess was right. */
int sl_http_bearer_ok(const char *token, const char *authorization);

#endif
