/* A blocking HTTP/1.0 client of the admin endpoint, for the commands that
 * talk to a running pipeline (sluice tap, sluice reload).  HTTP/1.0: the
 * server then ends a streamed answer by closing, so a body is what comes
 * until EOF, with no chunked framing to undo. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin/admin.h"

static void set_timeout(int fd, int ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connects to the first address that takes it (SO_SNDTIMEO bounds the
 * connect on Linux).  The socket, or -1 with the last error in err. */
static int dial(const sl_admin_conf *c, int timeout_ms, sl_buf *err) {
  int last = 0;
  for (int i = 0; i < c->naddrs; i++) {
    const struct sockaddr_storage *a = &c->addrs[i];
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last = errno;
      continue;
    }
    set_timeout(fd, timeout_ms ? timeout_ms : 10000);
    socklen_t len = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (connect(fd, (const struct sockaddr *)a, len) == 0) {
      set_timeout(fd, timeout_ms);
      return fd;
    }
    last = errno;
    close(fd);
  }
  sl_buf_printf(err, "cannot reach the admin endpoint at %s: %s", c->listen,
                last ? strerror(last) : "no address");
  return -1;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads until the head's blank line; what follows it goes to body. */
static int read_head(int fd, int *status, sl_buf *body, sl_buf *err) {
  char head[8192];
  size_t len = 0;
  for (;;) {
    ssize_t n = recv(fd, head + len, sizeof head - 1 - len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sl_buf_printf(err, "the admin endpoint closed the connection without an answer%s%s",
                    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
      return -1;
    }
    len += (size_t)n;
    head[len] = 0;
    char *end = strstr(head, "\r\n\r\n");
    if (end) {
      int major, minor;
      if (sscanf(head, "HTTP/%d.%d %d", &major, &minor, status) != 3) break;
      sl_buf_append(body, end + 4, len - (size_t)(end + 4 - head));
      return 0;
    }
    if (len == sizeof head - 1) break;
  }
  sl_buf_puts(err, "the admin endpoint's answer is not HTTP");
  return -1;
}

int sl__admin_client_request(const sl_admin_conf *c, const char *method, const char *target,
                             int timeout_ms, int *status, sl_buf *body, sl_buf *err) {
  int fd = dial(c, timeout_ms, err);
  if (fd < 0) return SL_ADMIN_UNREACHABLE;
  sl_buf req = SL_BUF_INIT;
  sl_buf_printf(&req, "%s %s HTTP/1.0\r\nHost: %s\r\n", method, target, c->listen);
  if (c->token) sl_buf_printf(&req, "Authorization: Bearer %s\r\n", c->token);
  if (!strcmp(method, "POST")) sl_buf_puts(&req, "Content-Length: 0\r\n");
  sl_buf_puts(&req, "\r\n");
  int rc = req.oom ? -1 : send_all(fd, req.ptr, req.len);
  if (req.ptr) memset(req.ptr, 0, req.len);   /* it holds the token */
  sl_buf_free(&req);
  if (rc) {
    sl_buf_printf(err, "cannot send to the admin endpoint at %s: %s", c->listen, strerror(errno));
  } else if (read_head(fd, status, body, err) == 0) {
    return fd;
  }
  close(fd);
  return SL_ADMIN_NO_ANSWER;
}
