/* Fuzzes the admin endpoint's HTTP server (runtime/admin/http.c: sluice's
 * framing of the request head, then h2o's parser and writer).
 *
 * One server on a loop of the fuzzer's own, with the handler shape of the
 * admin endpoint (200 with a body, 401 without the bearer token, 404, an
 * answer given later from a timer as /reload's, a stream of three pieces
 * as /tap's, which ends early when the client leaves).  For
 * every input: a socketpair, one end served as an accepted connection, the
 * input written to the other end in up to three pieces (the first byte
 * picks the cuts) and its write side shut; the loop runs until the answer
 * has been read to its end.  The answer must be one well-formed HTTP/1.1
 * response with a status the server gives and, when it says its length,
 * a body of that length (or none, for a HEAD); and every connection must
 * end (the loop would spin otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "admin/http.h"
#include "fuzz.h"

static uv_loop_t loop;
static sl_http_server *server;

/* /later: answered from a timer (a deferred answer). */
typedef struct later_ctx {
  uv_timer_t timer;
  sl_http_later *l;
  int gone;
} later_ctx;

static void free_later(uv_handle_t *h) { free(h->data); }

static void on_later_timer(uv_timer_t *t) {
  later_ctx *x = t->data;
  if (!x->gone) sl_http_answer(x->l, 200, "text/plain", "later\n", 6);
  uv_close((uv_handle_t *)&x->timer, free_later);
}

static void on_later_gone(void *arg) { ((later_ctx *)arg)->gone = 1; }

/* /stream: three pieces, each once the one before is written. */
typedef struct stream_ctx {
  sl_http_later *l;
  int sent;
} stream_ctx;

static void on_stream_ready(void *arg) {
  stream_ctx *x = arg;
  if (x->sent++ < 3) {
    CHECK(sl_http_stream_send(x->l, "{\"n\":1}\n", 8) == 0);
    return;
  }
  sl_http_stream_end(x->l, "{\"end\":1}\n", 10);
  free(x);
}

static void on_stream_gone(void *arg) { free(arg); }

static void handler(void *data, const sl_http_req *req, sl_http_resp *resp) {
  (void)data;
  if (!strcmp(req->path, "/later") && !strcmp(req->method, "POST")) {
    later_ctx *x = calloc(1, sizeof *x);
    sl_http_later_cbs cbs = {.gone = on_later_gone};
    CHECK(x && (x->l = sl_http_defer(req, 1000, &cbs, x)) != NULL);
    uv_timer_init(&loop, &x->timer);
    x->timer.data = x;
    uv_timer_start(&x->timer, on_later_timer, 0, 0);
    return;
  }
  if (!strcmp(req->path, "/stream")) {
    stream_ctx *x = calloc(1, sizeof *x);
    sl_http_later_cbs cbs = {.ready = on_stream_ready, .gone = on_stream_gone};
    CHECK(x && (x->l = sl_http_defer(req, 0, &cbs, x)) != NULL);
    CHECK(sl_http_stream_start(x->l, "application/x-ndjson") == 0);
    return;
  }
  if (!strcmp(req->path, "/metrics")) {
    sl_buf_puts(&resp->body, "sluice_up 1\n");
  } else if (!strcmp(req->path, "/secret")) {
    if (!sl_http_bearer_ok("0123456789abcdef", req->authorization)) {
      resp->status = 401;
      resp->headers = "WWW-Authenticate: Bearer realm=\"sluice\"\r\n";
    }
    sl_buf_puts(&resp->body, "ok\n");
  } else {
    resp->status = 404;
    sl_buf_puts(&resp->body, "not found\n");
  }
}

static void setup(void) {
  uv_loop_init(&loop);
  CHECK(sl_http_start(&loop, NULL, 0, NULL, 4, handler, NULL, &server) == 0);
  signal(SIGPIPE, SIG_IGN);
}

/* Writes what fits now; the rest is dropped (the server reads a bounded
 * head anyway). */
static void put(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

static int known_status(int s) {
  return s == 200 || s == 400 || s == 401 || s == 404 || s == 405 || s == 413 || s == 414 ||
         s == 417 || s == 431 || s == 501 || s == 503 || s == 505;
}

/* The answer: "HTTP/1.1 NNN ...\r\n" headers "\r\n" body, Content-Length
 * matching when given. */
static void check_answer(const char *a, size_t n) {
  if (!n) return;   /* closed without an answer: a client that sent nothing */
  CHECK(n >= 12 && (!memcmp(a, "HTTP/1.1 ", 9) || !memcmp(a, "HTTP/1.0 ", 9)));
  int status = (a[9] - '0') * 100 + (a[10] - '0') * 10 + (a[11] - '0');
  CHECK(known_status(status));
  const char *end = memmem(a, n, "\r\n\r\n", 4);
  CHECK(end != NULL);
  size_t head = (size_t)(end - a) + 4;
  const char *cl = memmem(a, head, "\r\ncontent-length: ", 18);
  if (!cl) cl = memmem(a, head, "\r\nContent-Length: ", 18);
  /* A HEAD's answer says the length of the body it leaves out. */
  if (cl) CHECK((size_t)strtoul(cl + 18, NULL, 10) == n - head || n == head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!server) setup();
  int fds[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  if (sl_http_serve_fd(server, fds[0]) != 0) {
    close(fds[1]);
    return 0;
  }
  /* Up to three pieces, the loop running between them. */
  size_t cut1 = size ? data[0] * size / 256 : 0, cut2 = size > 1 ? (cut1 + size) / 2 : size;
  const size_t cuts[4] = {0, cut1, cut2, size};
  for (int i = 0; i < 3; i++) {
    put(fds[1], data + cuts[i], cuts[i + 1] - cuts[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  shutdown(fds[1], SHUT_WR);
  fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
  char answer[65536];
  size_t got = 0;
  for (int spins = 0; spins < 100000; spins++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    ssize_t r = read(fds[1], answer + got, sizeof answer - got);
    if (r == 0) break;
    if (r > 0) got += (size_t)r;
    else if (errno != EAGAIN && errno != EWOULDBLOCK) break;
    CHECK(got < sizeof answer);
    CHECK(spins + 1 < 100000);   /* the server must end every connection */
  }
  close(fds[1]);
  /* Let the closes finish. */
  for (int i = 0; i < 8; i++) uv_run(&loop, UV_RUN_NOWAIT);
  check_answer(answer, got);
  return 0;
}
