/* C11 threads on top of POSIX threads, linked into every executable of the
 * ThreadSanitizer build (build-tsan/, CMakeLists.txt: SLUICE_TSAN) and
 * nowhere else.
 *
 * librdkafka makes its threads, locks and condition variables with C11's
 * thrd_create, mtx_* and cnd_*.  glibc implements those by calling its
 * pthread functions internally, past the interceptors, and the
 * ThreadSanitizer of GCC 12 and clang 14 does not intercept the C11 names
 * (LLVM added that in 15).  So a librdkafka thread is unknown to TSan (its
 * first malloc crashes on TSan's missing per-thread state) and its locks
 * order nothing.  Defined in the executable and exported, these functions
 * take the place of glibc's for librdkafka, and call the pthread functions
 * TSan intercepts.  glibc's mtx_t, cnd_t and once_flag have the layout of
 * pthread_mutex_t, pthread_cond_t and pthread_once_t (its own C11 functions
 * cast them the same way). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread_cond_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

/* glibc's mapping from an errno to a thrd_* result. */
static int thrd_result(int err) {
  switch (err) {
  case 0: return thrd_success;
  case ENOMEM: return thrd_nomem;
  case ETIMEDOUT: return thrd_timedout;
  case EBUSY: return thrd_busy;
  default: return thrd_error;
  }
}

struct start {
  thrd_start_t func;
  void *arg;
};

/* thrd_join and thrd_exit carry the thread's int result as a pointer, as
 * glibc's own do. */
static void *run_start(void *p) {
  struct start s = *(struct start *)p;
  free(p);
  return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg) {
  struct start *s = malloc(sizeof *s);
  if (!s) return thrd_nomem;
  *s = (struct start){.func = func, .arg = arg};
  int err = pthread_create(thr, NULL, run_start, s);
  if (err) free(s);
  return thrd_result(err);
}

int thrd_join(thrd_t thr, int *res) {
  void *value;
  int err = pthread_join(thr, &value);
  if (!err && res) *res = (int)(intptr_t)value;
  return thrd_result(err);
}

int mtx_init(mtx_t *m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int err = pthread_mutex_init((pthread_mutex_t *)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return thrd_result(err);
}

int mtx_lock(mtx_t *m) { return thrd_result(pthread_mutex_lock((pthread_mutex_t *)m)); }
int mtx_trylock(mtx_t *m) { return thrd_result(pthread_mutex_trylock((pthread_mutex_t *)m)); }
int mtx_unlock(mtx_t *m) { return thrd_result(pthread_mutex_unlock((pthread_mutex_t *)m)); }
void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

int cnd_init(cnd_t *c) { return thrd_result(pthread_cond_init((pthread_cond_t *)c, NULL)); }
int cnd_signal(cnd_t *c) { return thrd_result(pthread_cond_signal((pthread_cond_t *)c)); }
int cnd_broadcast(cnd_t *c) { return thrd_result(pthread_cond_broadcast((pthread_cond_t *)c)); }
void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

int cnd_wait(cnd_t *c, mtx_t *m) {
  return thrd_result(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

/* C11's deadline is on TIME_UTC, the realtime clock: pthread's default. */
int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict deadline) {
  return thrd_result(
      pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, deadline));
}

void call_once(once_flag *flag, void (*func)(void)) { pthread_once((pthread_once_t *)flag, func); }
