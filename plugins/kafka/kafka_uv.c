/* A librdkafka queue on the libuv loop (DESIGN.md §9).
 *
 * rd_kafka_queue_io_event_enable makes librdkafka write one byte into a
 * pipe whenever the queue goes from empty to non-empty.  The read end is
 * watched by a uv_poll; when it is readable the pipe is drained and the
 * owner's serve callback runs on the loop thread, where it consumes
 * messages or serves callbacks (rebalances, errors, delivery reports)
 * without ever blocking (timeout 0).  The pipe is non-blocking on both
 * ends: librdkafka's write must never stall one of its threads, and a full
 * pipe loses nothing because one pending byte is enough to wake us.
 *
 * The byte comes only on the empty → non-empty transition, so a serve that
 * leaves work in the queue (it stopped after a few batches to let the loop
 * breathe) asks for kafka_uv_again, which calls it from a uv_idle on the
 * next iteration.  A timer calls serve as well: it serves a quiet queue's
 * callbacks, keeps a paused consumer within max.poll.interval.ms, and
 * retries a producer whose queue was full. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"

static void drain_pipe(int fd) {
  char buf[256];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return;   /* EAGAIN: empty; 0: cannot happen while we hold the write end */
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  kafka_uv *u = h->data;
  (void)status;
  (void)events;
  drain_pipe(u->rfd);
  if (u->running) u->serve(u->arg);
}

static void on_timer(uv_timer_t *t) {
  kafka_uv *u = t->data;
  if (u->running) u->serve(u->arg);
}

static void on_idle(uv_idle_t *i) {
  kafka_uv *u = i->data;
  uv_idle_stop(i);
  if (u->running) u->serve(u->arg);
}

int kafka_uv_start(kafka_uv *u, uv_loop_t *loop, rd_kafka_queue_t *q, uint64_t every_ms,
                   void (*serve)(void *arg), void *arg) {
  int fds[2];
  u->q = q;
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return SL_EIO;
  u->rfd = fds[0];
  u->wfd = fds[1];
  u->have_pipe = 1;
  u->serve = serve;
  u->arg = arg;
  if (uv_poll_init(loop, &u->poll, u->rfd)) return SL_EIO;
  uv_timer_init(loop, &u->timer);
  uv_idle_init(loop, &u->idle);
  u->poll.data = u->timer.data = u->idle.data = u;
  u->open = 1;
  u->running = 1;
  rd_kafka_queue_io_event_enable(q, u->wfd, "1", 1);
  uv_poll_start(&u->poll, UV_READABLE, on_readable);
  uv_timer_start(&u->timer, on_timer, every_ms, every_ms);
  /* Whatever was queued before the pipe was attached raised no event. */
  kafka_uv_again(u);
  return 0;
}

void kafka_uv_again(kafka_uv *u) {
  if (u->open && u->running) uv_idle_start(&u->idle, on_idle);
}

void kafka_uv_stop(kafka_uv *u) {
  u->running = 0;
  if (!u->open) return;
  uv_poll_stop(&u->poll);
  uv_timer_stop(&u->timer);
  uv_idle_stop(&u->idle);
}

void kafka_uv_close(kafka_uv *u) {
  kafka_uv_stop(u);
  if (u->q) {
    /* No more writes into a pipe that is about to be closed (its number
     * could be reused by then). */
    rd_kafka_queue_io_event_enable(u->q, -1, NULL, 0);
    rd_kafka_queue_destroy(u->q);
    u->q = NULL;
  }
  if (u->open) {
    uv_close((uv_handle_t *)&u->poll, NULL);
    uv_close((uv_handle_t *)&u->timer, NULL);
    uv_close((uv_handle_t *)&u->idle, NULL);
    u->open = 0;
  }
  /* uv_poll_stop above took the fd out of the loop's epoll set. */
  if (u->have_pipe) {
    close(u->rfd);
    close(u->wfd);
    u->have_pipe = 0;
  }
}
