/* The admin endpoints' HTTP server (runtime-internal): h2o on the pipeline's
 * libuv loop, with the bounds sluice needs in front of it.
 *
 * GET and POST (without a body), one request per connection, answered and
 * closed.  Until a connection has sent a whole request head (up to its
 * blank line, at most SL_HTTP_MAX_HEAD bytes) it is read here, into a
 * fixed buffer: a head that does not fit is answered 431, one not complete
 * within 5 s is closed.  The head is then handed to h2o, which parses it
 * and calls the handler; a request it cannot parse is answered 400, one
 * with a body 413.  A connection lives at most 5 s from its accept, answer
 * included (but for answers given later, below).  At most max_conns
 * connections are served at once; one more is answered 503 and closed once
 * the client has closed its end (within 1 s), at most SL_HTTP_REFUSING_MAX
 * such at once, and beyond those closed right after the 503: the server
 * never holds more than max_conns + SL_HTTP_REFUSING_MAX + 1 descriptors
 * (and one per listener), whatever clients do.
 *
 * A handler may also answer later (sl_http_defer): once, when what it
 * waits for is known (the connection's deadline is then the one given,
 * and a handler too late is answered 503 for), or as a stream of pieces
 * (no deadline: chunked for HTTP/1.1 clients, ended by the close for
 * HTTP/1.0 ones) that ends when its owner ends it, the client leaves or
 * the server stops.  Only one piece is written at a time: the owner keeps
 * what comes meanwhile within its own bound, and learns from the ready
 * callback when it may send again.  A client that leaves (or shuts its
 * sending side) ends its stream at once.  How many streams are open at
 * once is the owner's to bound; they count against max_conns as any
 * connection.  SIGPIPE is blocked on the loop thread (sl_http_start): a
 * client gone mid-write costs an EPIPE. */
#ifndef SLUICE_ADMIN_HTTP_H
#define SLUICE_ADMIN_HTTP_H

#include <uv.h>

#include "sluice/buf.h"

#define SL_HTTP_MAX_HEAD 8192
#define SL_HTTP_REFUSING_MAX 8
/* A stream's socket send buffer (SO_SNDBUF): see sl_http_stream_start. */
#define SL_HTTP_STREAM_SNDBUF (64 * 1024)

typedef struct sl_http_server sl_http_server;

typedef struct sl_http_later sl_http_later;

typedef struct sl_http_req {
  const char *method;         /* "GET" or "POST" (answered 405 otherwise) */
  const char *path;           /* normalized ("/a/../b" is "/b"), without the query string */
  const char *query;          /* what follows '?', as sent (not decoded), or NULL */
  const char *authorization;  /* the first Authorization header's value, or NULL */
  void *_h2o, *_conn;         /* http.c's */
  sl_http_later *_later;      /* set by sl_http_defer */
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

/* How the owner of a later answer hears from the server (loop thread). */
typedef struct sl_http_later_cbs {
  /* A stream's piece is written: the next one may be sent.  May be NULL. */
  void (*ready)(void *arg);
  /* The connection ended before the owner ended the answer (the client
   * left, the deadline passed, the server stops): from this call on the
   * handle is not the owner's any more.  Never called after the owner's
   * own sl_http_answer or sl_http_stream_end. */
  void (*gone)(void *arg);
  /* The server stops while a stream is idle: the owner may end it now
   * with a last piece (sl_http_stream_end); if it does not, gone follows.
   * May be NULL. */
  void (*stopping)(void *arg);
} sl_http_later_cbs;

/* Called in a handler: the answer comes later, through the handle
 * returned (resp is then ignored).  ms > 0: the connection's deadline from
 * now, instead of 5 s from its accept; 0: none (a stream).  NULL (out of
 * memory, or deferred already): answer now. */
sl_http_later *sl_http_defer(const sl_http_req *req, int ms, const sl_http_later_cbs *cbs,
                             void *arg);
/* The whole answer, once; the handle is then the server's. */
void sl_http_answer(sl_http_later *l, int status, const char *type, const char *body, size_t n);
/* Starts a streamed 200 answer of that Content-Type: its head is written
 * now, pieces follow with sl_http_stream_send.  The socket's send buffer
 * is set to SL_HTTP_STREAM_SNDBUF, so that a client that stops reading
 * leaves a piece busy soon, and holds little kernel memory.  0, or -1 if
 * l was answered. */
int sl_http_stream_start(sl_http_later *l, const char *type);
/* Whether a piece is being written (or the stream has not started or has
 * ended): sl_http_stream_send would refuse. */
int sl_http_stream_busy(const sl_http_later *l);
/* Sends one piece (copied).  0, or -1 while busy (nothing is sent). */
int sl_http_stream_send(sl_http_later *l, const char *data, size_t n);
/* Ends the stream with a last piece (n may be 0), or, not started,
 * answers 503; the handle is then the server's.  While a piece is still
 * being written to a slow client the last one is not sent: the connection
 * closes without it (and without the stream's last chunk). */
void sl_http_stream_end(sl_http_later *l, const char *data, size_t n);

/* Listens on every address of addrs (naddrs of them); an address that
 * cannot be bound is skipped with a warning as long as one can.  fds, if
 * not NULL, has naddrs listening sockets kept by the caller across servers
 * (-1: none yet): a server listens on a copy of fds[i], or binds and puts
 * a copy of its socket there.  A socket kept open goes on queueing the
 * connections that come while no server runs (a reload), for the next
 * server to answer.  0, or a negative libuv error (that of the first
 * address) with *server NULL. */
int sl_http_start(uv_loop_t *loop, const struct sockaddr_storage *addrs, int naddrs, int *fds,
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
