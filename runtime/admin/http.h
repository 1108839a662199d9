/* A small HTTP/1.1 server for the admin endpoints (runtime-internal).
 *
 * GET only, one request per connection, answered and closed.  It reads at
 * most SL_HTTP_MAX_HEAD bytes of request head and never looks further than
 * the request line, so a client cannot make it allocate or parse much; a
 * connection that sends nothing useful for 5 s is closed. */
#ifndef SLUICE_ADMIN_HTTP_H
#define SLUICE_ADMIN_HTTP_H

#include <uv.h>

#include "sluice/buf.h"

#define SL_HTTP_MAX_HEAD 8192

typedef struct sl_http_server sl_http_server;

/* Fills body and returns the status (200, 404, 503...); *type is the
 * Content-Type. */
typedef int (*sl_http_handler)(void *data, const char *path, sl_buf *body, const char **type);

/* Listens on "host:port" ("127.0.0.1:9464", ":9464" for every address).
 * 0, or a negative libuv error with *server NULL. */
int sl_http_start(uv_loop_t *loop, const char *listen, sl_http_handler handler, void *data,
                  sl_http_server **server);
/* Stops listening and closes open connections (asynchronously). */
void sl_http_stop(sl_http_server *server);

#endif
