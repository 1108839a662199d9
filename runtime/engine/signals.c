/* Which thread takes the process's stop and reload signals, and when.
 *
 * SIGTERM, SIGINT and SIGHUP are handled by the loop of the pipeline that
 * runs (uv_signal).  Between two runs (a reload's tear-down and the next
 * file's load) and before the first one, no loop listens: libuv restores
 * the default action, which would end the process on a SIGHUP, or lose a
 * SIGTERM sent during the swap.  So these signals stay blocked on every
 * thread except the loop thread, and on the loop thread too outside a run:
 * one that comes then waits in the kernel, pending, until the next run has
 * its handlers and takes it. */
#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include "engine/engine.h"

static void signal_set(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGHUP);
}

static void noop_work(uv_work_t *req) { (void)req; }
static void noop_after(uv_work_t *req, int status) { (void)req; (void)status; }

/* libuv starts its thread pool at the first request, from whatever thread
 * makes it, and the pool's threads keep that thread's signal mask: start it
 * now, with the signals blocked, so that none of them takes one later. */
static void start_thread_pool(void) {
  uv_loop_t loop;
  uv_work_t req;
  if (uv_loop_init(&loop)) return;
  if (uv_queue_work(&loop, &req, noop_work, noop_after) == 0) uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

void sl__signals_hold(void) {
  static int pool_started;
  sigset_t set;
  signal_set(&set);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (!pool_started) {
    pool_started = 1;
    start_thread_pool();
  }
}

void sl__signals_take(void) {
  sigset_t set;
  signal_set(&set);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
