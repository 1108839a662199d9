#include "admin/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/log.h"

struct sl_http_server {
  uv_tcp_t tcp;
  sl_http_handler handler;
  void *data;
  struct conn *conns;     /* open connections, to close them on stop */
};

typedef struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  sl_http_server *server;
  char head[SL_HTTP_MAX_HEAD];
  size_t len;
  int answered;
  int closing;
  int handles;            /* handles still to close before freeing */
  uv_write_t write;
  sl_buf out;
  struct conn *next, *prev;
} conn;

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->handles) return;
  sl_buf_free(&c->out);
  free(c);
}

static void conn_close(conn *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->prev) c->prev->next = c->next;
  else c->server->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  conn_close(w->data);
}

static const char *reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
  }
  return "Error";
}

static void respond(conn *c, int status, const char *type, const char *body, size_t n) {
  c->answered = 1;
  uv_read_stop((uv_stream_t *)&c->tcp);
  sl_buf_printf(&c->out,
                "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                status, reason(status), type, n);
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
  respond(c, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* Answers once the request line is complete: "GET /path HTTP/1.1". */
static void handle(conn *c) {
  char *eol = memchr(c->head, '\n', c->len);
  if (!eol) {
    if (c->len == sizeof c->head) respond_text(c, 431, "request line too long\n");
    return;
  }
  size_t n = (size_t)(eol - c->head);
  if (n && c->head[n - 1] == '\r') n--;
  char line[SL_HTTP_MAX_HEAD];
  memcpy(line, c->head, n);
  line[n] = 0;
  char *sp1 = strchr(line, ' ');
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
  char *path = sp1 + 1;
  char *q = strchr(path, '?');
  if (q) *q = 0;
  sl_buf body = SL_BUF_INIT;
  const char *type = "text/plain; charset=utf-8";
  int status = c->server->handler(c->server->data, path, &body, &type);
  respond(c, status, type, body.ptr ? body.ptr : "", body.len);
  sl_buf_free(&body);
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
  c->len += (size_t)n;
  if (!c->answered) handle(c);
}

static void on_timeout(uv_timer_t *t) {
  conn_close(t->data);
}

static void on_connection(uv_stream_t *server, int status) {
  sl_http_server *hs = server->data;
  if (status < 0) return;
  conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->server = hs;
  uv_tcp_init(server->loop, &c->tcp);
  uv_timer_init(server->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = hs->conns;
  if (hs->conns) hs->conns->prev = c;
  hs->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, 5000, 0);
}

static void on_server_closed(uv_handle_t *h) { free(h->data); }

int sl_http_start(uv_loop_t *loop, const char *listen, sl_http_handler handler, void *data,
                  sl_http_server **server) {
  *server = NULL;
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon || colon - listen >= (long)sizeof host) return UV_EINVAL;
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return UV_EINVAL;
  struct sockaddr_storage addr;
  const char *h = host[0] ? host : "0.0.0.0";
  int rc = strchr(h, ':') ? uv_ip6_addr(h, (int)port, (struct sockaddr_in6 *)&addr)
                          : uv_ip4_addr(h, (int)port, (struct sockaddr_in *)&addr);
  if (rc) return rc;
  sl_http_server *hs = calloc(1, sizeof *hs);
  if (!hs) return UV_ENOMEM;
  hs->handler = handler;
  hs->data = data;
  uv_tcp_init(loop, &hs->tcp);
  hs->tcp.data = hs;
  rc = uv_tcp_bind(&hs->tcp, (const struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&hs->tcp, 64, on_connection);
  if (rc) {
    uv_close((uv_handle_t *)&hs->tcp, on_server_closed);
    return rc;
  }
  *server = hs;
  return 0;
}

void sl_http_stop(sl_http_server *hs) {
  if (!hs) return;
  while (hs->conns) conn_close(hs->conns);
  uv_close((uv_handle_t *)&hs->tcp, on_server_closed);
}
