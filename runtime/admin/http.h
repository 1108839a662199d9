/* A small HTTP/1.1 server for the admin endpoints (runtime-internal).
 *
 * GET only, one request per connection, answered and closed.  It reads at
 * most SL_HTTP_MAX_HEAD bytes of request head and looks only at the request
 * line and the Authorization header, so a client cannot make it allocate or
 * parse much; a connection that has not sent a whole head within 5 s is
 * closed.  At most max_conns connections are served at once; one more is
 * answered 503 and closed once the client has closed its end (within 1 s),
 * at most SL_HTTP_REFUSING_MAX such at once, and beyond those closed right
 * after the 503: the server never holds more than max_conns +
 * SL_HTTP_REFUSING_MAX + 1 descriptors (and one per listener), whatever
 * clients do. */
#ifndef SLUICE_ADMIN_HTTP_H
#define SLUICE_ADMIN_HTTP_H

#include <uv.h>

#include "sluice/buf.h"

#define SL_HTTP_MAX_HEAD 8192
#define SL_HTTP_REFUSING_MAX 8

typedef struct sl_http_server sl_http_server;

typedef struct sl_http_req {
  const char *path;           /* without the query string */
  const char *authorization;  /* the Authorization header's value, or NULL */
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
/* Stops listening and closes open connections (asynchronously). */
void sl_http_stop(sl_http_server *server);

#endif
