/* A preload for tests/faults/io_failures.py: a send() or sendmsg() on a
 * TCP socket that fails the way a real one does, by losing the connection.
 *
 * libfiu's POSIX preload (posix/io/net/send) fails a send on a socket that
 * stays up: libpq then waits for the answer to a query the server never
 * received, a state no real network makes (a send fails because the
 * connection is gone, and so the next read fails too).  Here, when libfiu
 * point "sluice/net/send" is enabled (fiu-run -c 'enable_random
 * name=sluice/net/send,probability=0.02'), the socket is shut down and the
 * call fails with ECONNRESET.  Each failure appends "sluice/net/send 104"
 * to $SLUICE_FAULT_LOG, as the fault points of sluice/fault.h do.
 *
 *   LD_PRELOAD="/usr/lib/fiu/fiu_run_preload.so .../libsluice_net_reset.so" */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FIU_ENABLE 1
#include <fiu.h>

static int is_tcp(int fd) {
  struct sockaddr_storage a;
  socklen_t len = sizeof a;
  int type = 0;
  socklen_t tlen = sizeof type;
  return getsockname(fd, (struct sockaddr *)&a, &len) == 0 &&
         (a.ss_family == AF_INET || a.ss_family == AF_INET6) &&
         getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM;
}

static void log_fault(void) {
  const char *path = getenv("SLUICE_FAULT_LOG");
  if (!path || !*path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  static const char line[] = "sluice/net/send 104\n";
  if (write(fd, line, sizeof line - 1) < 0) {
    /* the log is the test's; a lost line only weakens its count */
  }
  close(fd);
}

/* Whether this send must fail: then the connection is gone. */
static int reset(int fd) {
  if (!fiu_fail("sluice/net/send") || !is_tcp(fd)) return 0;
  shutdown(fd, SHUT_RDWR);
  log_fault();
  errno = ECONNRESET;
  return 1;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
  static ssize_t (*real)(int, const void *, size_t, int);
  if (!real) real = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
  return reset(fd) ? -1 : real(fd, buf, len, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  static ssize_t (*real)(int, const struct msghdr *, int);
  if (!real) real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
  return reset(fd) ? -1 : real(fd, msg, flags);
}
