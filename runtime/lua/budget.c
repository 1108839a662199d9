/* The time budget: one watchdog thread for the whole process and the hook
 * it installs.  The library functions that must not swallow a budget error
 * are in budget_lib.c, above this file.
 *
 * A call within budget pays two atomic stores and a coarse clock read: no
 * hook is installed, because a count hook slows every Lua instruction (~2x).
 * The watchdog wakes a few times per budget period, and for a state whose
 * current call started more than call_ms ago it records the call's sequence
 * number (armed_seq) and installs a count hook on the thread running Lua.
 * lua_sethook is written to be called asynchronously (ldebug.c: the fields
 * it sets are read atomically enough and the hook is always checked before
 * use).  The hook has a count of 1: it fires at the thread's next
 * instruction, so no reset of the count (lua_sethook on a coroutine switch)
 * can put it off.  If the call it was armed for is still the current one it
 * raises "time budget of N ms exceeded in file:line", and it raises again at
 * every instruction until the call returns, so that a script that catches
 * the error, or a __close or message handler that runs after it, cannot go
 * on.  A hook that finds another call (the watchdog was late and the call
 * it meant has returned) removes itself and raises nothing.
 *
 * The watchdog starts with the first state that has a time budget and stops
 * (joined) when the last one is freed: a process that frees its states
 * leaves no thread behind, which keeps leak checkers and fork() simple, and
 * starting a thread per pipeline (re)load costs nothing that matters. */
#include <errno.h>
#include <signal.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "lua/sl_lua_int.h"
#include "sluice/errors.h"

/* ---- the watchdog ---- */

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static pthread_once_t wd_cv_once = PTHREAD_ONCE_INIT;
static sl_lua *wd_head;
static pthread_t wd_thread;
static int wd_running;
/* Bumped to stop the thread: each thread runs while the generation it was
 * started with is current, so a new watchdog can start while an old one is
 * still being joined. */
static uint64_t wd_gen;

static void wd_cv_init(void) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  /* Timed waits on the monotonic clock: a wall-clock step must not stall
   * or hurry the watchdog. */
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&wd_cv, &attr);
  pthread_condattr_destroy(&attr);
}

static void budget_hook(lua_State *L, lua_Debug *ar);

/* sluice test --coverage: the line hook every new state starts with
 * (sandbox.c), and which the budget puts back where it would clear hooks. */
static _Atomic(lua_Hook) line_hook;

void sl_lua_set_line_hook(lua_Hook hook) { atomic_store(&line_hook, hook); }

lua_Hook sl__lua_line_hook(void) { return atomic_load(&line_hook); }

/* Called with wd_mu held, so s cannot be freed meanwhile.  A call over
 * budget is hooked again at every wake until it returns: whatever a script
 * does to the hook of the thread it runs on (a switch, an error raised with
 * hooks off), the next wake puts it back. */
static void wd_check(sl_lua *s, int64_t now) {
  /* seq before start: a start that goes with a newer seq is only newer. */
  uint64_t seq = atomic_load(&s->seq);
  int64_t start = atomic_load(&s->call_start);
  if (start == 0 || now - start < (int64_t)s->call_ms) return;
  pthread_mutex_lock(&s->run_mu);
  atomic_store(&s->armed_seq, seq);
  lua_sethook(s->running, budget_hook, LUA_MASKCOUNT, SL_LUA_HOOK_COUNT);
  pthread_mutex_unlock(&s->run_mu);
}

static void *wd_main(void *arg) {
  uint64_t gen = (uint64_t)(uintptr_t)arg;
  pthread_mutex_lock(&wd_mu);
  while (wd_gen == gen) {
    int64_t now = sl__lua_mono_ms();
    uint32_t min_ms = UINT32_MAX;
    for (sl_lua *s = wd_head; s; s = s->wd_next) {
      if (s->call_ms < min_ms) min_ms = s->call_ms;
      wd_check(s, now);
    }
    /* A quarter of the smallest budget: an overrun is caught within
     * call_ms * 1.25 plus the coarse clock's few milliseconds. */
    uint32_t period = min_ms / 4;
    if (period < 1) period = 1;
    if (period > 100) period = 100;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(period % 1000) * 1000000L;
    ts.tv_sec += period / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    while (wd_gen == gen) {
      int rc = pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
      if (rc == ETIMEDOUT) break;
    }
  }
  pthread_mutex_unlock(&wd_mu);
  return NULL;
}

int sl__budget_register(sl_lua *s) {
  pthread_once(&wd_cv_once, wd_cv_init);
  pthread_mutex_lock(&wd_mu);
  if (!wd_running) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* The watchdog needs almost no stack. */
    pthread_attr_setstacksize(&attr, 64 * 1024);
    /* The watchdog never handles a signal: it starts with all blocked, so
     * process signals go to the threads that expect them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&wd_thread, &attr, wd_main, (void *)(uintptr_t)wd_gen);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      pthread_mutex_unlock(&wd_mu);
      return SL_ENOMEM;
    }
    wd_running = 1;
  }
  s->wd_prev = NULL;
  s->wd_next = wd_head;
  if (wd_head) wd_head->wd_prev = s;
  wd_head = s;
  s->wd_registered = 1;
  pthread_mutex_unlock(&wd_mu);
  return 0;
}

void sl__budget_unregister(sl_lua *s) {
  pthread_t join = 0;
  int stop = 0;
  pthread_mutex_lock(&wd_mu);
  if (s->wd_prev) s->wd_prev->wd_next = s->wd_next;
  else wd_head = s->wd_next;
  if (s->wd_next) s->wd_next->wd_prev = s->wd_prev;
  s->wd_registered = 0;
  if (!wd_head && wd_running) {
    wd_gen++;
    wd_running = 0;
    join = wd_thread;
    stop = 1;
    pthread_cond_broadcast(&wd_cv);
  }
  pthread_mutex_unlock(&wd_mu);
  if (stop) pthread_join(join, NULL);
}

int sl_lua_set_call_ms(sl_lua *s, uint32_t call_ms) {
  if (call_ms == s->call_ms) return 0;
  if (!call_ms) {
    if (s->wd_registered) sl__budget_unregister(s);
    s->call_ms = 0;
    return 0;
  }
  if (!s->wd_registered) {
    s->call_ms = call_ms;
    int rc = sl__budget_register(s);
    if (rc) s->call_ms = 0;
    return rc;
  }
  /* The watchdog reads call_ms under its lock. */
  pthread_mutex_lock(&wd_mu);
  s->call_ms = call_ms;
  pthread_mutex_unlock(&wd_mu);
  return 0;
}

int64_t sl_lua_call_age_ms(sl_lua *s) {
  int64_t start = atomic_load(&s->call_start);
  if (start == 0) return -1;
  int64_t age = sl__lua_mono_ms() - start;
  return age < 0 ? 0 : age;
}

/* ---- the hook ---- */

/* Stops the current call, which the watchdog found over budget (seq): the
 * first time, the message names the line of the nearest Lua code at stack
 * level `level` or above (a C function polling the budget is called by
 * Lua code, perhaps through other C functions). */
static void raise_over_budget(lua_State *L, sl_lua *s, uint64_t seq, int level) {
  if (s->expired_seq != seq) {
    s->expired_seq = seq;
    snprintf(s->budget_msg, sizeof s->budget_msg, "time budget of %u ms exceeded", s->call_ms);
    lua_Debug d;
    for (int l = level; l < level + 8 && lua_getstack(L, l, &d); l++)
      if (lua_getinfo(L, "Sl", &d) && d.currentline > 0) {
        snprintf(s->budget_msg, sizeof s->budget_msg, "time budget of %u ms exceeded in %s:%d",
                 s->call_ms, d.short_src, d.currentline);
        break;
      }
  }
  lua_pushstring(L, s->budget_msg);
  lua_error(L);
}

/* Whether the watchdog armed the current call of s (seq). */
static int armed_now(sl_lua *s, uint64_t seq) {
  return s->depth > 0 && atomic_load(&s->armed_seq) == seq && atomic_load(&s->call_start) != 0;
}

static void budget_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  sl_lua *s = sl__lua_from(L);
  uint64_t seq = atomic_load(&s->seq);
  if (!armed_now(s, seq)) {
    /* Armed for a call that has returned: not ours to stop.  The line
     * hook of sluice test --coverage, if any, goes back in place. */
    lua_Hook line = sl__lua_line_hook();
    lua_sethook(L, line, line ? LUA_MASKLINE : 0, 0);
    return;
  }
  raise_over_budget(L, s, seq, 0);
}

void sl__budget_poll(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  if (!s || !s->call_ms) return;
  uint64_t seq = atomic_load(&s->seq);
  if (armed_now(s, seq)) raise_over_budget(L, s, seq, 1);
}

void sl__budget_recheck(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  if (!sl__budget_expired(s)) return;
  lua_pushstring(L, s->budget_msg);
  lua_error(L);
}

/* Under run_mu, so either the watchdog sees co or we see its arming. */
void sl__budget_switch(sl_lua *s, lua_State *co) {
  if (!s->call_ms) return;
  pthread_mutex_lock(&s->run_mu);
  s->running = co;
  int armed = atomic_load(&s->armed_seq) == atomic_load(&s->seq);
  pthread_mutex_unlock(&s->run_mu);
  if (armed && s->depth > 0) lua_sethook(co, budget_hook, LUA_MASKCOUNT, SL_LUA_HOOK_COUNT);
}
