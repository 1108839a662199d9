/* Memory and time budgets: a state that overruns gets an error and stays
 * usable, a script cannot catch its way past the time budget, and a call
 * within budget runs without a hook.
 *
 * The time tests wait for the budget error itself; alarm() bounds the whole
 * run so that a watchdog that never fires fails the test instead of hanging. */
#include <lauxlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "lua/sl_lua.h"
#include "sluice/errors.h"
#include "test.h"
#include "lua_test.h"


static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int starts_with(const char *s, const char *prefix) {
  return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- memory ---- */

TEST(test_memory_bomb_and_recovery) {
  sl_lua_limits lim = {.memory_bytes = 16u << 20, .call_ms = 0};
  sl_lua *s = sl_lua_new(&lim, NULL, NULL);
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT;
  for (int round = 0; round < 3; round++) {
    ASSERT_EQ(run(s, "local t = {} while true do t[#t + 1] = string.rep('x', 1e6) end", 0, &err),
              SL_ELUA);
    ASSERT_STR_EQ(err.ptr, "memory budget of 16 MiB exceeded");
    ASSERT(sl_lua_memory(s) <= lim.memory_bytes);
    /* The full collection after the error gave the room back. */
    ASSERT(sl_lua_memory(s) < (2u << 20));
    ASSERT_EQ(run(s, "local t = {} for i = 1, 1000 do t[i] = i end return #t", 1, &err), 0);
    ASSERT_EQ(lua_tointeger(L, -1), 1000);
    lua_pop(L, 1);
  }
  /* A script may catch a memory error and go on. */
  ASSERT_EQ(run(s, "local ok, e = pcall(function() local t = {} while true do "
                   "t[#t + 1] = string.rep('y', 1e6) end end)\n"
                   "collectgarbage() return ok, e, #string.rep('z', 1000)", 3, &err), 0);
  ASSERT(!lua_toboolean(L, -3));
  ASSERT_STR_EQ(lua_tostring(L, -2), "not enough memory");
  ASSERT_EQ(lua_tointeger(L, -1), 1000);
  lua_settop(L, 0);
  /* One allocation bigger than the budget. */
  ASSERT_EQ(run(s, "return string.rep('x', 64 << 20)", 1, &err), SL_ELUA);
  ASSERT_STR_EQ(err.ptr, "memory budget of 16 MiB exceeded");
  sl_buf_free(&err);
  sl_lua_free(s);
}

TEST(test_memory_budget_units) {
  sl_lua_limits lim = {.memory_bytes = 3000 * 1024, .call_ms = 0};
  sl_lua *s = sl_lua_new(&lim, NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "return string.rep('x', 8 << 20)", 1, &err), SL_ELUA);
  ASSERT_STR_EQ(err.ptr, "memory budget of 3000 KiB exceeded");
  sl_buf_free(&err);
  sl_lua_free(s);
}

/* ---- time ---- */

#define CALL_MS 200

static sl_lua *timed_state(void) {
  sl_lua_limits lim = {.memory_bytes = 64u << 20, .call_ms = CALL_MS};
  return sl_lua_new(&lim, NULL, NULL);
}

/* Each of these loops forever unless the budget stops it. */
static const struct {
  const char *name;
  const char *code;
  const char *where;          /* the line the message must name */
} loops[] = {
    {"plain loop", "while true do end", "test:1"},
    {"loop on line 3", "local x = 0\nlocal y = 1\nwhile true do x = x + y end", "test:3"},
    {"pcall swallowing", "while true do pcall(function() while true do end end) end", "test:1"},
    {"xpcall swallowing",
     "while true do xpcall(function() while true do end end, function(e) return e end) end",
     "test:1"},
    {"coroutine.wrap", "local co = coroutine.wrap(function() while true do end end) co()", "test:1"},
    {"coroutine.resume swallowing",
     "while true do coroutine.resume(coroutine.create(function() while true do end end)) end",
     "test:1"},
    {"suspended coroutine", "local co = coroutine.create(function() coroutine.yield() while true do end end)\n"
                            "coroutine.resume(co) while true do coroutine.resume(co) end", "test:1"},
    {"load reader", "while true do load(function() while true do end end) end", "test:1"},
    {"string.gsub callback", "string.gsub('x', 'x', function() while true do end end)", "test:1"},
    {"table.sort comparator", "table.sort({3, 2, 1}, function(a, b) while true do end end)", "test:1"},
    /* Both sides switch after a few instructions: a hook whose count is
     * reset on every switch would never fire. */
    {"coroutine ping-pong",
     "local co = coroutine.wrap(function() while true do coroutine.yield() end end)\n"
     "while true do co() end", "test:"},
    {"coroutine.resume ping-pong",
     "local co = coroutine.create(function() while true do coroutine.yield(1) end end)\n"
     "while true do coroutine.resume(co) end", "test:"},
    {"generator for loop",
     "local function gen() return coroutine.wrap(function() local i = 0 while true do\n"
     "i = i + 1 coroutine.yield(i) end end) end\n"
     "for i in gen() do end", "test:"},
    {"nested coroutines ping-pong",
     "local inner = coroutine.wrap(function() while true do coroutine.yield() end end)\n"
     "local outer = coroutine.wrap(function() while true do inner() coroutine.yield() end end)\n"
     "while true do outer() end", "test:"},
    /* The handler runs where the error was raised: for the budget error,
     * inside the hook, where Lua runs no hooks. */
    {"xpcall handler loop", "xpcall(error, function() while true do end end)", "test:1"},
    {"xpcall handler loop swallowing",
     "while true do xpcall(function() while true do end end, function() while true do end end) end",
     "test:1"},
    {"xpcall handler ping-pong",
     "xpcall(error, function() local co = coroutine.wrap(function() while true do\n"
     "coroutine.yield() end end) while true do co() end end)", "test:"},
    {"pcall in a loop catching",
     "local n = 0 while true do local ok = pcall(error, 'x') n = n + 1 end", "test:1"},
    {"__close handler loop",
     "do local x <close> = setmetatable({}, {__close = function() while true do end end}) end",
     "test:1"},
    {"__close loop after the budget error",
     "local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
     "while true do end", "test:"},
    /* The coroutine dies of the budget error with its hooks off; closing it
     * runs its pending __close. */
    {"__close of a coroutine that overran",
     "local co = coroutine.wrap(function()\n"
     "local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
     "while true do end end) co()", "test:"},
    {"coroutine.close running a looping __close",
     "local co = coroutine.create(function()\n"
     "local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
     "coroutine.yield() end) coroutine.resume(co) coroutine.close(co)", "test:"},
    {"__index metamethod", "local t = setmetatable({}, {__index = function() while true do end end})\n"
                           "return t.x", "test:1"},
    {"error object __tostring",
     "error(setmetatable({}, {__tostring = function() while true do end end}))", "test:1"},
    /* C functions of the library that poll the budget themselves. */
    {"backtracking pattern", "return string.find(('a'):rep(3000), ('a*'):rep(8) .. 'b')", "test:1"},
    {"backtracking gsub", "return (('x'):rep(2000)):gsub(('.-'):rep(6) .. 'y', '')", "test:1"},
    {"table.move of 1e15 nils", "table.move({}, 1, 1e15, 2)", "test:1"},
};

TEST(test_time_budget_stops_loops) {
  alarm(60);
  sl_lua *s = timed_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT;
  char expect[128];
  for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
    /* A loop that escapes ends the test here, named on stderr. */
    fprintf(stderr, "  loop: %s\n", loops[i].name);
    alarm(10);
    int64_t t0 = mono_ms();
    ASSERT_EQ(run(s, loops[i].code, 0, &err), SL_ELUA);
    int64_t took = mono_ms() - t0;
    snprintf(expect, sizeof expect, "time budget of %d ms exceeded in %s", CALL_MS, loops[i].where);
    if (!starts_with(err.ptr, "time budget of 200 ms exceeded in test:"))
      TEST_FAIL_AT("%s: \"%s\"", loops[i].name, err.ptr);
    if (i < 2) ASSERT_STR_EQ(err.ptr, expect);
    /* The budget reads a coarse clock (a few ms per tick): allow one tick
     * early.  Late is bounded loosely: on a loaded machine the watchdog
     * thread may wait a few hundred ms for a core; an escape takes the
     * alarm's 10 s. */
    if (took < CALL_MS - 10 || took > 5 * CALL_MS)
      TEST_FAIL_AT("%s: stopped after %lld ms, budget %d ms", loops[i].name, (long long)took, CALL_MS);
    /* The state goes on, and the next call runs without a hook. */
    ASSERT_EQ(run(s, "local n = 0 for i = 1, 100000 do n = n + i end return n", 1, &err), 0);
    ASSERT_EQ(lua_tointeger(L, -1), 5000050000LL);
    lua_pop(L, 1);
    ASSERT(lua_gethook(L) == NULL);
    ASSERT_EQ(lua_gethookmask(L), 0);
  }
  sl_buf_free(&err);
  sl_lua_free(s);
  alarm(0);
}

/* load() of a long text: Lua's parser runs in C, where the hook never
 * fires; the sandbox's load feeds it the text in pieces and polls the budget
 * between them.  200 MB of ';' would take the parser two seconds or more. */
TEST(test_long_load_polls) {
  alarm(60);
  sl_lua_limits lim = {.memory_bytes = (size_t)1 << 30, .call_ms = CALL_MS};
  sl_lua *s = sl_lua_new(&lim, NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "local text = (';'):rep(2e8)\nreturn load(text)", 0, &err), SL_ELUA);
  char expect[128];
  snprintf(expect, sizeof expect, "time budget of %d ms exceeded in test:2", CALL_MS);
  ASSERT_STR_EQ(err.ptr, expect);
  /* A short text still loads whole, named after itself. */
  ASSERT_EQ(run(s, "local f, e = load('return 1 +') return e", 1, &err), 0);
  ASSERT_STR_EQ(lua_tostring(sl_lua_state(s), -1), "[string \"return 1 +\"]:1: unexpected symbol near <eof>");
  lua_settop(sl_lua_state(s), 0);
  /* A long one too: the pieces are one chunk. */
  ASSERT_EQ(run(s, "local f = load(('x = 1 '):rep(2e4) .. 'return x + 41') return f()", 1, &err), 0);
  ASSERT_EQ(lua_tointeger(sl_lua_state(s), -1), 42);
  lua_settop(sl_lua_state(s), 0);
  sl_buf_free(&err);
  sl_lua_free(s);
  alarm(0);
}

/* Finalizers run with hooks off, so none may be made: __gc is refused by
 * setmetatable, and one added to the metatable later is never called. */
TEST(test_no_finalizers) {
  alarm(60);
  sl_lua *s = timed_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "setmetatable({}, {__gc = function() while true do end end})", 0, &err),
            SL_ELUA);
  ASSERT(strstr(err.ptr, "__gc metamethods are not allowed") != NULL);
  ASSERT_EQ(run(s, "local mt = {} setmetatable({}, mt)\n"
                   "mt.__gc = function() while true do end end\n"
                   "collectgarbage() collectgarbage() return 7", 1, &err), 0);
  ASSERT_EQ(lua_tointeger(L, -1), 7);
  lua_pop(L, 1);
  sl_buf_free(&err);
  sl_lua_free(s);
  alarm(0);
}

/* Called from a script: whether a hook is installed on the running thread
 * at this moment, and (in HOOK) the hook function once one is seen. */
static lua_Hook seen_hook;

static int hooked(lua_State *L) {
  lua_Hook h = lua_gethook(L);
  if (h) seen_hook = h;
  lua_pushboolean(L, h != NULL || lua_gethookmask(L) != 0);
  return 1;
}

/* Called from a script: spins in C until the watchdog hooks the thread,
 * and keeps the hook function in seen_hook (alarm() bounds the wait). */
static int wait_hook(lua_State *L) {
  while (!lua_gethook(L)) sched_yield();
  seen_hook = lua_gethook(L);
  return 0;
}

TEST(test_no_hook_within_budget) {
  sl_lua *s = timed_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  lua_pushcfunction(L, hooked);
  lua_setglobal(L, "hooked");
  sl_buf err = SL_BUF_INIT;
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(run(s, "local n = 0 for i = 1, 1000 do n = n + i end return hooked()", 1, &err), 0);
    ASSERT(!lua_toboolean(L, -1));
    lua_pop(L, 1);
    ASSERT(lua_gethook(L) == NULL);
  }
  sl_buf_free(&err);
  sl_lua_free(s);
}

/* The watchdog may arm a call just as it returns.  The hook it leaves then
 * fires in the next call, finds another call running and removes itself:
 * no error, and no hook afterwards. */
TEST(test_stale_hook_is_harmless) {
  alarm(60);
  sl_lua *s = timed_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  lua_pushcfunction(L, hooked);
  lua_setglobal(L, "hooked");
  lua_pushcfunction(L, wait_hook);
  lua_setglobal(L, "wait_hook");
  sl_buf err = SL_BUF_INIT;
  seen_hook = NULL;
  ASSERT_EQ(run(s, "wait_hook() while true do end", 0, &err), SL_ELUA);
  ASSERT(starts_with(err.ptr, "time budget of 200 ms exceeded"));
  ASSERT(seen_hook != NULL);
  /* Play the late watchdog: the hook armed for the call that just ended. */
  lua_sethook(L, seen_hook, LUA_MASKCOUNT, 1000);
  ASSERT_EQ(run(s, "local n = 0 for i = 1, 100000 do n = n + 1 end return n", 1, &err), 0);
  ASSERT_EQ(lua_tointeger(L, -1), 100000);
  lua_pop(L, 1);
  ASSERT(lua_gethook(L) == NULL);
  /* The same in a suspended coroutine that kept a hook from an earlier call. */
  ASSERT_EQ(run(s, "CO = coroutine.create(function() while true do\n"
                   "  local n = 0 for i = 1, 100000 do n = n + 1 end coroutine.yield(n) end end)\n"
                   "return CO", 1, &err), 0);
  lua_State *co = lua_tothread(L, -1);
  ASSERT(co);
  lua_sethook(co, seen_hook, LUA_MASKCOUNT, 1000);
  lua_pop(L, 1);
  ASSERT_EQ(run(s, "local ok, n = coroutine.resume(CO) return ok and n", 1, &err), 0);
  ASSERT_EQ(lua_tointeger(L, -1), 100000);
  lua_pop(L, 1);
  ASSERT(lua_gethook(co) == NULL);
  sl_buf_free(&err);
  sl_lua_free(s);
  alarm(0);
}

/* A C function calling back into Lua: the inner call counts against the
 * outer call's budget, and the inner error reaches the outer caller even
 * if the C function swallows it. */
static char inner_err[256];

static int swallow(lua_State *L) {
  sl_lua *s = sl_lua_from(L);
  sl_buf err = SL_BUF_INIT;
  lua_pushvalue(L, 1);
  int rc = sl_lua_pcall(s, 0, 0, &err, NULL);
  snprintf(inner_err, sizeof inner_err, "%s", rc ? err.ptr : "ok");
  lua_pushstring(L, inner_err);
  sl_buf_free(&err);
  return 1;
}

TEST(test_nested_call_shares_budget) {
  alarm(60);
  sl_lua *s = timed_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  lua_pushcfunction(L, swallow);
  lua_setglobal(L, "swallow");
  sl_buf err = SL_BUF_INIT;
  int64_t t0 = mono_ms();
  /* The outer call stops at its next instruction after swallow() returns. */
  ASSERT_EQ(run(s, "local e = swallow(function() while true do end end)\n"
                   "INNER = e while true do end", 0, &err), SL_ELUA);
  int64_t took = mono_ms() - t0;
  ASSERT(starts_with(err.ptr, "time budget of 200 ms exceeded"));
  ASSERT(took < 2 * CALL_MS);
  ASSERT(starts_with(inner_err, "time budget of 200 ms exceeded"));
  ASSERT_EQ(run(s, "return INNER", 1, &err), 0);
  ASSERT(lua_isnil(L, -1));
  sl_buf_free(&err);
  sl_lua_free(s);
  alarm(0);
}

/* Several states, each on its own thread, all overrunning at once: one
 * watchdog stops them all. */
struct looper {
  int rc;
  int64_t took;
  char msg[128];
};

static void *loop_thread(void *arg) {
  struct looper *lp = arg;
  sl_lua *s = timed_state();
  if (!s) {
    lp->rc = -100;
    return NULL;
  }
  sl_buf err = SL_BUF_INIT;
  int64_t t0 = mono_ms();
  lp->rc = run(s, "local t = {} while true do t[1] = (t[1] or 0) + 1 end", 0, &err);
  lp->took = mono_ms() - t0;
  snprintf(lp->msg, sizeof lp->msg, "%s", err.ptr ? err.ptr : "");
  sl_buf_free(&err);
  sl_lua_free(s);
  return NULL;
}

TEST(test_many_states_one_watchdog) {
  alarm(60);
  enum { N = 4 };
  pthread_t th[N];
  struct looper lp[N];
  memset(lp, 0, sizeof lp);
  for (int i = 0; i < N; i++) ASSERT_EQ(pthread_create(&th[i], NULL, loop_thread, &lp[i]), 0);
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(lp[i].rc, SL_ELUA);
    ASSERT(starts_with(lp[i].msg, "time budget of 200 ms exceeded in test:1"));
    if (lp[i].took > 2 * CALL_MS) TEST_FAIL_AT("state %d took %lld ms", i, (long long)lp[i].took);
  }
  alarm(0);
}

RUN_TESTS(test_long_load_polls, test_memory_bomb_and_recovery, test_memory_budget_units,
          test_time_budget_stops_loops, test_no_finalizers, test_no_hook_within_budget,
          test_stale_hook_is_harmless, test_nested_call_shares_budget,
          test_many_states_one_watchdog)
