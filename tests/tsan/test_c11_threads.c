/* tests/tsan/c11_threads.c, which build-tsan/ puts in the place of glibc's
 * C11 threads for librdkafka: a thread's int result comes back through
 * thrd_join, a recursive mtx_t locks twice, cnd_timedwait times out on its
 * realtime deadline and wakes on a signal, call_once calls once.  Under TSan
 * the counter the threads share under mtx_lock shows no race only if the
 * locks reach TSan. */
#include <threads.h>
#include <time.h>

#include "../unit/test.h"

static mtx_t mu;
static cnd_t cv;
static int counter, ready;

static int add_many(void *arg) {
  for (int i = 0; i < 1000; i++) {
    mtx_lock(&mu);
    counter++;
    mtx_unlock(&mu);
  }
  return *(int *)arg;
}

TEST(join_returns_the_result) {
  ASSERT_EQ(mtx_init(&mu, mtx_plain), thrd_success);
  counter = 0;
  thrd_t a, b;
  int ra = 7, rb = -3, res = 0;
  ASSERT_EQ(thrd_create(&a, add_many, &ra), thrd_success);
  ASSERT_EQ(thrd_create(&b, add_many, &rb), thrd_success);
  ASSERT_EQ(thrd_join(a, &res), thrd_success);
  ASSERT_EQ(res, 7);
  ASSERT_EQ(thrd_join(b, &res), thrd_success);
  ASSERT_EQ(res, -3);
  ASSERT_EQ(counter, 2000);
  mtx_destroy(&mu);
}

TEST(recursive_mutex_locks_twice) {
  mtx_t m;
  ASSERT_EQ(mtx_init(&m, mtx_plain | mtx_recursive), thrd_success);
  ASSERT_EQ(mtx_lock(&m), thrd_success);
  ASSERT_EQ(mtx_trylock(&m), thrd_success);
  ASSERT_EQ(mtx_unlock(&m), thrd_success);
  ASSERT_EQ(mtx_unlock(&m), thrd_success);
  mtx_destroy(&m);
}

static int signal_ready(void *arg) {
  mtx_lock(&mu);
  ready = 1;
  cnd_signal(&cv);
  mtx_unlock(&mu);
  return 0;
}

TEST(timedwait_times_out_then_wakes) {
  ASSERT_EQ(mtx_init(&mu, mtx_plain), thrd_success);
  ASSERT_EQ(cnd_init(&cv), thrd_success);
  struct timespec deadline;
  timespec_get(&deadline, TIME_UTC);
  deadline.tv_nsec += 20 * 1000 * 1000;
  if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
  mtx_lock(&mu);
  ASSERT_EQ(cnd_timedwait(&cv, &mu, &deadline), thrd_timedout);
  ready = 0;
  thrd_t t;
  ASSERT_EQ(thrd_create(&t, signal_ready, NULL), thrd_success);
  while (!ready) ASSERT_EQ(cnd_wait(&cv, &mu), thrd_success);
  mtx_unlock(&mu);
  ASSERT_EQ(thrd_join(t, NULL), thrd_success);
  cnd_destroy(&cv);
  mtx_destroy(&mu);
}

static int once_calls;
static void count_once(void) { once_calls++; }

TEST(call_once_calls_once) {
  static once_flag flag = ONCE_FLAG_INIT;
  call_once(&flag, count_once);
  call_once(&flag, count_once);
  ASSERT_EQ(once_calls, 1);
}

RUN_TESTS(join_returns_the_result, recursive_mutex_locks_twice, timedwait_times_out_then_wakes,
          call_once_calls_once)
