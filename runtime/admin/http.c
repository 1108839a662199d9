#include "admin/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sluice/log.h"

#define MAX_LISTENERS 4

struct sl_http_server {
  uv_tcp_t *listeners[MAX_LISTENERS];
  int nlisteners;         /* open; freed with the last one's close */
  sl_http_handler handler;
  void *data;
  int max_conns;
  int nconns;             /* served connections open now */
  int nrefusing;          /* connections being refused (see refuse) */
  struct conn *conns;     /* open connections, to close them on stop */
};

typedef struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  sl_http_server *server;
  char head[SL_HTTP_MAX_HEAD];
  size_t len;
  int answered;
  int refusing;           /* answered 503: reading what comes until the client closes */
  int closing;
  int handles;            /* handles still to close before freeing */
  uv_write_t write;
  uv_shutdown_t shutdown;
  sl_buf out;
  struct conn *next, *prev;
} conn;

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles) return;
  sl_buf_free(&c->out);
  free(c);
}

/* The socket's descriptor is closed here, synchronously: the count of open
 * connections is the count of descriptors held. */
static void conn_close(conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->refusing) c->server->nrefusing--;
  else c->server->nconns--;
  if (c->prev) c->prev->next = c->next;
  else c->server->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  if (status) conn_close(req->data);
}

/* A refused connection is closed when the client closes its end (on_read
 * sees EOF) or its timer fires: closing while the client may still send
 * would reset the connection, and the client could lose the answer. */
static void on_written(uv_write_t *w, int status) {
  conn *c = w->data;
  if (!c->refusing || status || c->closing) {
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
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

static void respond(conn *c, int status, const char *type, const char *headers, const char *body,
                    size_t n) {
  c->answered = 1;
  if (!c->refusing) uv_read_stop((uv_stream_t *)&c->tcp);
  sl_buf_printf(&c->out,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                status, reason(status), type, n, headers ? headers : "");
  sl_buf_append(&c->out, body, n);
  if (c->out.oom) {
    conn_close(c);
    return;
  }
  uv_buf_t b = uv_buf_init(c->out.ptr, (unsigned)c->out.len);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written)) conn_close(c);
}

static void respond_text(conn *c, int status, const char *text) {
  respond(c, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* Length of the request head up to and including its blank line, or 0 while
 * it is incomplete.  Lines end with "\n", lax clients leave out the "\r". */
static size_t head_length(const char *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (p[i] != '\n') continue;
    if (p[i + 1] == '\n') return i + 2;
    if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n') return i + 3;
  }
  return 0;
}

/* Cuts the line at *s (NUL for its "\r\n"), moves *s to the next one. */
static char *next_line(char **s) {
  char *line = *s, *nl = strchr(line, '\n');
  if (!nl) return NULL;
  *nl = 0;
  if (nl > line && nl[-1] == '\r') nl[-1] = 0;
  *s = nl + 1;
  return line;
}

/* Answers once the head is complete: "GET /path HTTP/1.1", header lines, a
 * blank line.  Of the headers only Authorization is read (the first one). */
static void handle(conn *c) {
  size_t n = head_length(c->head, c->len);
  if (!n) {
    if (c->len == sizeof c->head) respond_text(c, 431, "request head too large\n");
    return;
  }
  char head[SL_HTTP_MAX_HEAD + 1];
  memcpy(head, c->head, n);
  head[n] = 0;
  char *rest = head;
  char *line = next_line(&rest);
  char *sp1 = line ? strchr(line, ' ') : NULL;
  char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
    respond_text(c, 400, "bad request\n");
    return;
  }
  *sp1 = 0;
  *sp2 = 0;
  if (strcmp(line, "GET") != 0) {
    respond_text(c, 405, "only GET\n");
    return;
  }
  sl_http_req req = {.path = sp1 + 1};
  char *q = strchr(sp1 + 1, '?');
  if (q) *q = 0;
  char *h;
  while ((h = next_line(&rest)) && *h) {
    char *colon = strchr(h, ':');
    if (req.authorization || !colon || colon - h != 13 || strncasecmp(h, "Authorization", 13))
      continue;
    char *v = colon + 1, *end = v + strlen(v);
    while (*v == ' ' || *v == '\t') v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
    req.authorization = v;
  }
  sl_http_resp resp = {.status = 200, .type = "text/plain; charset=utf-8", .body = SL_BUF_INIT};
  c->server->handler(c->server->data, &req, &resp);
  respond(c, resp.status, resp.type, resp.headers, resp.body.ptr ? resp.body.ptr : "",
          resp.body.len);
  sl_buf_free(&resp.body);
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
  if (!c->answered) handle(c);
}

static void on_timeout(uv_timer_t *t) {
  conn_close(t->data);
}

static void free_handle(uv_handle_t *h) { free(h); }

/* A connection over the cap when SL_HTTP_REFUSING_MAX are being refused
 * already: accepted (so that it leaves the backlog), answered 503 with what
 * fits in the socket buffer, and closed in the same turn, holding no
 * descriptor.  What the client sent so far is read first (unread data
 * would turn the close into a reset). */
static void refuse_now(uv_stream_t *server) {
  static const char busy[] =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 21\r\nRetry-After: 1\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n\r\ntoo many connections\n";
  uv_tcp_t *t = malloc(sizeof *t);
  if (!t) return;
  uv_tcp_init(server->loop, t);
  uv_os_fd_t fd;
  if (uv_accept(server, (uv_stream_t *)t) == 0 && uv_fileno((uv_handle_t *)t, &fd) == 0) {
    char sink[SL_HTTP_MAX_HEAD];
    while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
    (void)uv_try_write((uv_stream_t *)t, &b, 1);
  }
  uv_close((uv_handle_t *)t, free_handle);
}

static void on_connection(uv_stream_t *server, int status) {
  sl_http_server *hs = server->data;
  if (status < 0) return;
  int refusing = hs->nconns >= hs->max_conns;
  if (refusing && hs->nrefusing >= SL_HTTP_REFUSING_MAX) {
    refuse_now(server);
    return;
  }
  conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->server = hs;
  c->refusing = refusing;
  uv_tcp_init(server->loop, &c->tcp);
  uv_timer_init(server->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  if (refusing) hs->nrefusing++;
  else hs->nconns++;
  c->next = hs->conns;
  if (hs->conns) hs->conns->prev = c;
  hs->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, refusing ? 1000 : 5000, 0);
  if (refusing) {
    static const char busy[] = "too many connections\n";
    respond(c, 503, "text/plain; charset=utf-8", "Retry-After: 1\r\n", busy, sizeof busy - 1);
  }
}

static void on_listener_closed(uv_handle_t *h) {
  sl_http_server *hs = h->data;
  free(h);
  if (--hs->nlisteners == 0) free(hs);
}

int sl_http_start(uv_loop_t *loop, const struct sockaddr_storage *addrs, int naddrs,
                  int max_conns, sl_http_handler handler, void *data, sl_http_server **server) {
  *server = NULL;
  if (naddrs < 1 || naddrs > MAX_LISTENERS || max_conns < 1) return UV_EINVAL;
  sl_http_server *hs = calloc(1, sizeof *hs);
  if (!hs) return UV_ENOMEM;
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
    int rc = uv_tcp_bind(t, (const struct sockaddr *)&addrs[i], 0);
    if (!rc) rc = uv_listen((uv_stream_t *)t, 64, on_connection);
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
  if (!hs->nlisteners) {
    free(hs);
    return first_rc ? first_rc : UV_EINVAL;
  }
  *server = hs;
  return 0;
}

void sl_http_stop(sl_http_server *hs) {
  if (!hs) return;
  while (hs->conns) conn_close(hs->conns);
  for (int i = 0, n = hs->nlisteners; i < n; i++)
    uv_close((uv_handle_t *)hs->listeners[i], on_listener_closed);
}
