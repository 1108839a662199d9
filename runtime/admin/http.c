/* The admin endpoints' HTTP server: sluice accepts, bounds and frames each
 * connection on its loop; h2o (Debian's libh2o, built on libuv) parses the
 * request head, calls the handler and writes the answer.
 *
 * Why the framing stays here: h2o 2.2 buffers up to H2O_MAX_REQLEN (some
 * 400 KiB) of an unfinished head and then drops the connection without an
 * answer.  Reading the head into a fixed buffer first keeps a connection to
 * SL_HTTP_MAX_HEAD bytes, answers 431 when it does not fit, and hands h2o
 * only heads that are complete. */
#include "admin/http.h"

#include <errno.h>
#include <fcntl.h>
#include <h2o.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sluice/log.h"

#define MAX_LISTENERS 4
/* How long a served connection may live, its answer included. */
#define CONN_MS 5000
/* How long a refused one is kept for the client to read its 503. */
#define REFUSING_MS 1000

/* The one h2o handler: every path comes to serve(). */
typedef struct route {
  h2o_handler_t super;
  sl_http_server *server;
} route;

struct sl_http_server {
  uv_loop_t *loop;
  uv_tcp_t *listeners[MAX_LISTENERS];
  int nlisteners;
  sl_http_handler handler;
  void *data;
  int max_conns;
  int nconns;             /* served connections open now */
  int nrefusing;          /* connections being refused (see refuse_now) */
  struct conn *conns;     /* open connections, to close them on stop */
  uv_timer_t sentinel;    /* closed last by stop: see on_sentinel_closed */
  h2o_globalconf_t config;
  h2o_context_t ctx;      /* holds uv timers of its own: freed after they close */
  h2o_accept_ctx_t accept;
};

typedef struct conn {
  uv_tcp_t tcp;           /* first: h2o's close callback is given its address */
  uv_timer_t timer;
  sl_http_server *server;
  h2o_socket_t *sock;     /* h2o's, once the head is handed over; NULL before */
  char head[SL_HTTP_MAX_HEAD];
  size_t len;
  int answered;
  int refusing;           /* answered 503: reading what comes until the client closes */
  int released;           /* out of the server's list and counts */
  int handles;            /* handles still to close before freeing */
  uv_write_t write;
  uv_shutdown_t shutdown;
  sl_buf out;
  struct sl_http_later *later;  /* a deferred or streamed answer, or NULL */
  struct conn *next, *prev;
} conn;

/* An answer given after the handler returned (sl_http_defer).  It lives
 * until h2o disposes of the request (dispose_later, from the request's
 * pool): h2o may write from `sending` until then. */
struct sl_http_later {
  h2o_generator_t gen;    /* streaming: h2o calls proceed when a piece is written */
  h2o_req_t *req;
  conn *c;
  sl_http_later_cbs cbs;
  void *arg;
  int started;            /* a streamed answer's head is out */
  int busy;               /* a piece is being written: wait for proceed */
  int ended;              /* answered, or the last piece sent: the owner let go */
  sl_buf sending;         /* the piece being written */
};

/* ---- connections ---- */

/* Takes c out of the server's list and counts, once: from then on it holds
 * no slot, whatever is left of it closing. */
static void release(conn *c) {
  if (c->released) return;
  c->released = 1;
  sl_http_server *hs = c->server;
  if (c->refusing) hs->nrefusing--;
  else hs->nconns--;
  if (c->prev) c->prev->next = c->next;
  else hs->conns = c->next;
  if (c->next) c->next->prev = c->prev;
}

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles) return;
  sl_buf_free(&c->out);
  free(c);
}

/* Closes a connection still in sluice's hands.  The socket's descriptor is
 * closed here, synchronously: the count of open connections is the count of
 * descriptors held. */
static void conn_close(conn *c) {
  if (uv_is_closing((uv_handle_t *)&c->tcp)) return;
  release(c);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* h2o closed the socket it was given (tcp.data was h2o's, now freed). */
static void on_h2o_closed(uv_handle_t *h) {
  conn *c = (conn *)h;
  release(c);
  c->sock = NULL;
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  if (--c->handles) return;
  sl_buf_free(&c->out);
  free(c);
}

/* Ends a connection in h2o's hands (its time is up, or the server stops).
 * h2o 2.2 has no call that ends an HTTP/1 connection from outside, and
 * closing its socket under it would have it close the socket again later.
 * So the I/O it waits for fails, as if the peer had gone: h2o then closes
 * the connection itself, through its own paths, and its socket's handle is
 * closing when this returns.  The callbacks are what h2o's socket layer
 * calls on an I/O error (_cb is h2o's, in its public header). */
static void conn_abort(conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
    h2o_socket_t *sock = c->sock;
    h2o_socket_cb cb = sock->_cb.write;
    if (!cb && sock->_cb.read) {
      /* h2o's read (a head), or a stream's watch for the client leaving
       * (on_stream_read), which ends the stream with a last write */
      sock->_cb.read(sock, h2o_socket_error_io);
      cb = uv_is_closing((uv_handle_t *)&c->tcp) ? NULL : sock->_cb.write;
    }
    if (cb) {
      sock->_cb.write = NULL;
      cb(sock, h2o_socket_error_io);
    }
    /* h2o was waiting for nothing: not expected of an HTTP/1 connection
     * that is still open; closing its socket is the last resort. */
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) h2o_socket_close(sock);
  }
  /* Here too, not only in on_h2o_closed: a walk of the loop after stop must
   * find both handles closing. */
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void later_finish(sl_http_later *l, int status, const char *why);

static void on_timeout(uv_timer_t *t) {
  conn *c = t->data;
  if (c->later && !c->later->ended && !c->later->started) {
    /* A deferred answer came too late: the client is told, then h2o
     * closes the connection after the answer as after any other. */
    later_finish(c->later, 503, "no answer in time\n");
    return;
  }
  if (c->sock) conn_abort(c);
  else conn_close(c);
}

/* ---- answers sluice writes itself: 431 and 503 ---- */

static void on_shutdown(uv_shutdown_t *req, int status) {
  if (status) conn_close(req->data);
}

/* A refused connection is closed when the client closes its end (on_read
 * sees EOF) or its timer fires: closing while the client may still send
 * would reset the connection, and the client could lose the answer. */
static void on_written(uv_write_t *w, int status) {
  conn *c = w->data;
  if (!c->refusing || status) {
    conn_close(c);
    return;
  }
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown)) conn_close(c);
}

static const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

static void respond(conn *c, int status, const char *headers, const char *body) {
  size_t n = strlen(body);
  c->answered = 1;
  if (!c->refusing) uv_read_stop((uv_stream_t *)&c->tcp);
  sl_buf_printf(&c->out,
                "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: %zu\r\n%sCache-Control: no-store\r\nConnection: close\r\n\r\n%s",
                status, reason(status), n, headers ? headers : "", body);
  if (c->out.oom) {
    conn_close(c);
    return;
  }
  uv_buf_t b = uv_buf_init(c->out.ptr, (unsigned)c->out.len);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written)) conn_close(c);
}

/* ---- the request, in h2o's hands ---- */

/* Adds header lines ("Name: value\r\n"...), the handler's own, to res. */
static void add_header_lines(h2o_req_t *req, const char *lines) {
  while (lines && *lines) {
    const char *end = strstr(lines, "\r\n"), *colon = strchr(lines, ':');
    if (!end || !colon || colon > end) return;
    const char *v = colon + 1;
    while (v < end && *v == ' ') v++;
    h2o_add_header_by_str(&req->pool, &req->res.headers, lines, (size_t)(colon - lines), 1, NULL,
                          v, (size_t)(end - v));
    lines = end + 2;
  }
}

static void send_answer(h2o_req_t *req, int status, const char *type, const char *headers,
                        const char *body, size_t n) {
  req->res.status = status;
  req->res.reason = reason(status);
  req->res.content_length = n;
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                 H2O_STRLIT("no-store"));
  add_header_lines(req, headers);
  h2o_send_inline(req, body, n);
}

static void send_text(h2o_req_t *req, int status, const char *text) {
  send_answer(req, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* A NUL-terminated copy of v in the request's pool, blanks (space, tab)
 * trimmed at both ends; NULL if v holds a NUL, which would cut it short. */
static const char *pool_string(h2o_req_t *req, h2o_iovec_t v) {
  const char *s = v.base, *end = v.base + v.len;
  if (memchr(s, 0, v.len)) return NULL;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
  return h2o_strdup(&req->pool, s, (size_t)(end - s)).base;
}

/* The connection h2o serves req on. */
static conn *conn_of(sl_http_server *hs, h2o_req_t *req) {
  h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
  for (conn *c = hs->conns; c; c = c->next)
    if (c->sock == sock) return c;
  return NULL;
}

/* Called by h2o for every request (one per connection: it closes after the
 * answer).  Of the request only the method (GET or POST), the normalized
 * path, the query string and the first Authorization header are passed on;
 * a POST has no body (max_request_entity_size is 0: 413). */
static int serve(h2o_handler_t *self, h2o_req_t *req) {
  sl_http_server *hs = ((route *)self)->server;
  req->http1_is_persistent = 0;
  int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
  if (!get && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
    send_text(req, 405, "only GET and POST\n");
    return 0;
  }
  sl_http_req r = {.method = get ? "GET" : "POST", .path = pool_string(req, req->path_normalized)};
  if (req->query_at != SIZE_MAX && req->query_at < req->path.len)
    r.query = pool_string(req, h2o_iovec_init(req->path.base + req->query_at + 1,
                                              req->path.len - req->query_at - 1));
  ssize_t auth = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
  if (auth != -1) r.authorization = pool_string(req, req->headers.entries[auth].value);
  if (!r.path || r.path[0] != '/' || (auth != -1 && !r.authorization) ||
      (req->query_at != SIZE_MAX && !r.query)) {
    send_text(req, 400, "bad request\n");
    return 0;
  }
  r._h2o = req;
  r._conn = conn_of(hs, req);
  sl_http_resp resp = {.status = 200, .type = "text/plain; charset=utf-8", .body = SL_BUF_INIT};
  hs->handler(hs->data, &r, &resp);
  if (r._later) {
    sl_buf_free(&resp.body);
    return 0;
  }
  if (resp.body.oom) send_text(req, 503, "out of memory\n");
  else send_answer(req, resp.status, resp.type, resp.headers, resp.body.ptr ? resp.body.ptr : "",
                   resp.body.len);
  sl_buf_free(&resp.body);
  return 0;
}

/* ---- answers given later (sl_http_defer) ---- */

/* The request is disposed of (answered and written, the client gone, the
 * connection aborted): the owner is told if it still holds l. */
static void dispose_later(void *slot) {
  sl_http_later *l = *(sl_http_later **)slot;
  if (l->c && l->c->later == l) l->c->later = NULL;
  if (!l->ended) {
    l->ended = 1;
    if (l->cbs.gone) l->cbs.gone(l->arg);
  }
  sl_buf_free(&l->sending);
  free(l);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req) {
  sl_http_later *l = (sl_http_later *)gen;
  (void)req;
  l->busy = 0;
  l->sending.len = 0;
  if (!l->ended && l->cbs.ready) l->cbs.ready(l->arg);
}

/* h2o stops the stream (the client went): dispose_later follows. */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req) {
  (void)gen;
  (void)req;
}

sl_http_later *sl_http_defer(const sl_http_req *req, int ms, const sl_http_later_cbs *cbs,
                             void *arg) {
  h2o_req_t *hreq = req->_h2o;
  conn *c = req->_conn;
  if (!hreq || !c || c->later) return NULL;
  sl_http_later *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  sl_http_later **slot = h2o_mem_alloc_shared(&hreq->pool, sizeof *slot, dispose_later);
  *slot = l;
  l->req = hreq;
  l->c = c;
  l->cbs = *cbs;
  l->arg = arg;
  l->gen.proceed = on_proceed;
  l->gen.stop = on_stop;
  c->later = l;
  ((sl_http_req *)req)->_later = l;
  if (ms > 0) uv_timer_start(&c->timer, on_timeout, (uint64_t)ms, 0);
  else uv_timer_stop(&c->timer);
  return l;
}

/* Ends l as its owner would, without calling gone: a status answer if
 * nothing was sent yet, else the stream's end. */
static void later_finish(sl_http_later *l, int status, const char *why) {
  if (l->ended) return;
  conn *c = l->c;
  if (l->started && !l->busy && l->cbs.stopping) {
    l->cbs.stopping(l->arg);
    /* Its last write may have ended the request already: l is then freed
     * (dispose_later took it off c, which lives until its handles close). */
    if (c->later != l || l->ended) return;
  }
  if (l->cbs.gone) l->cbs.gone(l->arg);
  if (l->started) sl_http_stream_end(l, NULL, 0);
  else sl_http_answer(l, status, "text/plain; charset=utf-8", why, strlen(why));
}

void sl_http_answer(sl_http_later *l, int status, const char *type, const char *body, size_t n) {
  if (l->ended || l->started) return;
  l->ended = 1;
  send_answer(l->req, status, type, NULL, body, n);
}

static void on_stream_read(h2o_socket_t *sock, const char *err);

int sl_http_stream_start(sl_http_later *l, const char *type) {
  if (l->ended || l->started) return -1;
  h2o_req_t *req = l->req;
  req->res.status = 200;
  req->res.reason = "OK";
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                 H2O_STRLIT("no-store"));
  h2o_start_response(req, &l->gen);
  l->started = 1;
  l->busy = 1;
  /* A small send buffer: the kernel memory a client that does not read
   * holds, and how soon the owner sees it fall behind (its pieces stay
   * busy).  Autotuning would let it grow to megabytes. */
  uv_os_fd_t fd;
  int size = SL_HTTP_STREAM_SNDBUF;
  if (l->c && uv_fileno((uv_handle_t *)&l->c->tcp, &fd) == 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (l->c && l->c->sock) h2o_socket_read_start(l->c->sock, on_stream_read);
  h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);   /* the head; l is not touched after */
  return 0;
}

/* A streamed answer's socket is read while the stream lasts, only to see
 * the client leave (h2o reads no more once it has the request): then the
 * stream ends, and its owner is told, without waiting for a write to fail.
 * What the client sends meanwhile is thrown away. */
static void on_stream_read(h2o_socket_t *sock, const char *err) {
  if (!err) {
    h2o_buffer_consume(&sock->input, sock->input->size);
    return;
  }
  h2o_socket_read_stop(sock);
  h2o_conn_t *hc = sock->data;
  sl_http_server *hs = H2O_STRUCT_FROM_MEMBER(sl_http_server, ctx, hc->ctx);
  conn *c = NULL;
  for (conn *k = hs->conns; k && !c; k = k->next)
    if (k->sock == sock) c = k;
  sl_http_later *l = c ? c->later : NULL;
  if (!l || l->ended) return;
  if (l->busy) {
    conn_abort(c);   /* the write in flight fails: h2o closes, dispose_later tells the owner */
    return;
  }
  if (l->cbs.gone) l->cbs.gone(l->arg);
  sl_http_stream_end(l, NULL, 0);
}

int sl_http_stream_busy(const sl_http_later *l) { return l->busy || l->ended || !l->started; }

int sl_http_stream_send(sl_http_later *l, const char *data, size_t n) {
  if (sl_http_stream_busy(l)) return -1;
  if (!n) return 0;
  l->sending.len = 0;
  sl_buf_append(&l->sending, data, n);
  if (l->sending.oom) return -1;
  l->busy = 1;
  h2o_iovec_t buf = h2o_iovec_init(l->sending.ptr, l->sending.len);
  h2o_send(l->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
  return 0;
}

void sl_http_stream_end(sl_http_later *l, const char *data, size_t n) {
  if (l->ended) return;
  l->ended = 1;
  if (!l->started) {
    send_text(l->req, 503, "ended\n");
    return;
  }
  if (l->busy) {
    /* A piece is still being written to a client that reads slowly: the
     * connection ends without the last chunk. */
    if (l->c && l->c->sock) conn_abort(l->c);
    return;
  }
  l->busy = 1;
  l->sending.len = 0;
  if (n) sl_buf_append(&l->sending, data, n);
  h2o_iovec_t buf = h2o_iovec_init(l->sending.ptr, l->sending.oom ? 0 : l->sending.len);
  h2o_send(l->req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
}

/* The head is complete: h2o takes the connection, with the bytes read so
 * far put in its input buffer as if it had read them itself. */
static void hand_over(conn *c) {
  c->answered = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_h2o_closed);
  h2o_iovec_t room = h2o_buffer_reserve(&sock->input, c->len);
  memcpy(room.base, c->head, c->len);
  sock->input->size += c->len;
  c->sock = sock;
  h2o_accept(&c->server->accept, sock);
}

/* ---- reading the head ---- */

/* Whether the head is complete: its blank line has come.  Lines end with
 * "\n", lax clients leave out the "\r". */
static int head_complete(const char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (p[i] != '\n') continue;
    if (p[i + 1] == '\n') return 1;
    if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n') return 1;
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->head + c->len, (unsigned)(sizeof c->head - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  c->len = c->refusing ? 0 : c->len + (size_t)n;
  if (c->answered) return;
  if (head_complete(c->head, c->len)) hand_over(c);
  else if (c->len == sizeof c->head) respond(c, 431, NULL, "request head too large\n");
}

/* ---- accepting ---- */

static void free_handle(uv_handle_t *h) { free(h); }

/* A connection over the cap when SL_HTTP_REFUSING_MAX are being refused
 * already: answered 503 with what fits in the socket buffer and closed in
 * the same turn, holding no descriptor.  What the client sent so far is
 * read first (unread data would turn the close into a reset). */
static void refuse_now(uv_os_sock_t fd) {
  static const char busy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 21\r\nRetry-After: 1\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n\r\ntoo many connections\n";
  char sink[SL_HTTP_MAX_HEAD];
  while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
  (void)send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* A new connection, counted and listed, its handles open but not yet
 * attached to a socket; NULL when there is no room for it (refuse_now). */
static conn *conn_new(sl_http_server *hs) {
  int refusing = hs->nconns >= hs->max_conns;
  if (refusing && hs->nrefusing >= SL_HTTP_REFUSING_MAX) return NULL;
  conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->server = hs;
  c->refusing = refusing;
  uv_tcp_init(hs->loop, &c->tcp);
  uv_timer_init(hs->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  if (refusing) hs->nrefusing++;
  else hs->nconns++;
  c->next = hs->conns;
  if (hs->conns) hs->conns->prev = c;
  hs->conns = c;
  return c;
}

/* The socket is attached: read its head, or refuse it. */
static void conn_start(conn *c) {
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, c->refusing ? REFUSING_MS : CONN_MS, 0);
  if (c->refusing) respond(c, 503, "Retry-After: 1\r\n", "too many connections\n");
}

static void on_connection(uv_stream_t *listener, int status) {
  sl_http_server *hs = listener->data;
  if (status < 0) return;
  conn *c = conn_new(hs);
  if (!c) {
    /* Accepted all the same, so that it leaves the backlog. */
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t) return;
    uv_tcp_init(listener->loop, t);
    uv_os_fd_t fd;
    if (uv_accept(listener, (uv_stream_t *)t) == 0 && uv_fileno((uv_handle_t *)t, &fd) == 0)
      refuse_now(fd);
    uv_close((uv_handle_t *)t, free_handle);
    return;
  }
  if (uv_accept(listener, (uv_stream_t *)&c->tcp)) {
    conn_close(c);
    return;
  }
  conn_start(c);
}

int sl_http_serve_fd(sl_http_server *hs, uv_os_sock_t fd) {
  conn *c = conn_new(hs);
  if (!c) {
    refuse_now(fd);
    close(fd);
    return UV_EBUSY;
  }
  int rc = uv_tcp_open(&c->tcp, fd);
  if (rc) {
    close(fd);
    conn_close(c);
    return rc;
  }
  conn_start(c);
  return 0;
}

/* ---- the server ---- */

/* h2o's configuration and context: one host, every path to serve(), HTTP/1
 * only (no upgrade to HTTP/2), no request body, no Server header. */
static void h2o_setup(sl_http_server *hs) {
  h2o_config_init(&hs->config);
  hs->config.server_name = h2o_iovec_init(H2O_STRLIT(""));
  hs->config.max_request_entity_size = 0;
  hs->config.http1.req_timeout = CONN_MS;
  hs->config.http1.upgrade_to_http2 = 0;
  h2o_hostconf_t *host =
      h2o_config_register_host(&hs->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_pathconf_t *all = h2o_config_register_path(host, "/", 0);
  route *r = (route *)h2o_create_handler(all, sizeof *r);
  r->super.on_req = serve;
  r->server = hs;
  h2o_context_init(&hs->ctx, hs->loop, &hs->config);
  hs->accept.ctx = &hs->ctx;
  hs->accept.hosts = hs->config.hosts;
}

/* t listens on a copy of the kept socket *fd, or binds addr (and *fd, if
 * fd is not NULL, becomes a copy of the new socket). */
static int listen_on(uv_tcp_t *t, const struct sockaddr_storage *addr, int *fd) {
  int rc;
  if (fd && *fd >= 0) {
    int copy = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
    rc = copy < 0 ? -errno : uv_tcp_open(t, copy);
    if (rc && copy >= 0) close(copy);
  } else {
    rc = uv_tcp_bind(t, (const struct sockaddr *)addr, 0);
  }
  if (!rc) rc = uv_listen((uv_stream_t *)t, 64, on_connection);
  uv_os_fd_t own;
  if (!rc && fd && *fd < 0 && uv_fileno((uv_handle_t *)t, &own) == 0)
    *fd = fcntl(own, F_DUPFD_CLOEXEC, 0);
  return rc;
}

int sl_http_start(uv_loop_t *loop, const struct sockaddr_storage *addrs, int naddrs, int *fds,
                  int max_conns, sl_http_handler handler, void *data, sl_http_server **server) {
  *server = NULL;
  if (naddrs < 0 || naddrs > MAX_LISTENERS || max_conns < 1) return UV_EINVAL;
  /* A client that leaves while its answer (a tap's stream) is being
   * written must cost an EPIPE, not the process: libuv writes with
   * writev, which cannot say MSG_NOSIGNAL.  Blocked on the loop thread
   * (the one calling this) only: a stdout sink writes from libuv's thread
   * pool, where a reader that went away still ends the process (141). */
  sigset_t pipe_sig;
  sigemptyset(&pipe_sig);
  sigaddset(&pipe_sig, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
  sl_http_server *hs = calloc(1, sizeof *hs);
  if (!hs) return UV_ENOMEM;
  hs->loop = loop;
  hs->handler = handler;
  hs->data = data;
  hs->max_conns = max_conns;
  int first_rc = 0;
  for (int i = 0; i < naddrs; i++) {
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t) {
      first_rc = first_rc ? first_rc : UV_ENOMEM;
      continue;
    }
    uv_tcp_init(loop, t);
    t->data = hs;
    int rc = listen_on(t, &addrs[i], fds ? &fds[i] : NULL);
    if (!rc) {
      hs->listeners[hs->nlisteners++] = t;
      continue;
    }
    if (!first_rc) first_rc = rc;
    if (naddrs > 1) {
      char ip[64] = "?";
      uv_ip_name((const struct sockaddr *)&addrs[i], ip, sizeof ip);
      sl_log_warn(NULL, "admin endpoint: cannot listen on %s: %s", ip, uv_strerror(rc));
    }
    uv_close((uv_handle_t *)t, free_handle);
  }
  if (naddrs && !hs->nlisteners) {
    free(hs);
    return first_rc ? first_rc : UV_EINVAL;
  }
  uv_timer_init(loop, &hs->sentinel);
  hs->sentinel.data = hs;
  h2o_setup(hs);
  *server = hs;
  return 0;
}

static void free_server(uv_handle_t *h) {
  free(h->data);
  free(h);
}

/* The sentinel was closed last by stop, in the same turn as h2o's context
 * closed its timers: all of them finish in the same pass of the loop's
 * closing phase, in an order that is libuv's.  A handle closed from here
 * finishes in a later pass, when h2o's timers (inside hs) are done with:
 * then hs is freed.  It is opened here, after stop, so that no walk of the
 * loop can have closed it first. */
static void on_sentinel_closed(uv_handle_t *h) {
  sl_http_server *hs = h->data;
  uv_timer_t *last = malloc(sizeof *last);
  if (!last) return; /* hs stays: a leak rather than a use after free */
  uv_timer_init(hs->loop, last);
  last->data = hs;
  uv_close((uv_handle_t *)last, free_server);
}

void sl_http_stop(sl_http_server *hs) {
  if (!hs) return;
  /* The listeners first: h2o_context_dispose runs the loop once (to free
   * its timers), and a listener still open then would accept connections
   * that nothing closes any more. */
  for (int i = 0; i < hs->nlisteners; i++) uv_close((uv_handle_t *)hs->listeners[i], free_handle);
  hs->nlisteners = 0;
  /* Answers still owed are given (503) and streams ended first (their
   * owners may send a last piece): their
   * writes are then in flight, and conn_abort below fails them. */
  for (conn *c = hs->conns; c; c = c->next)
    if (c->later) later_finish(c->later, 503, "the pipeline is stopping\n");
  while (hs->conns) {
    conn *c = hs->conns;
    release(c);
    if (c->sock) conn_abort(c);
    else conn_close(c);
  }
  /* No connection is left in h2o's hands: its context can go. */
  h2o_context_dispose(&hs->ctx);
  h2o_config_dispose(&hs->config);
  uv_close((uv_handle_t *)&hs->sentinel, on_sentinel_closed);
}
