/* What the files of the Lua bridge share (private to runtime/lua/).
 *
 * The files form layers; a file calls only into files below it:
 *
 *   sandbox.c                   sl_lua_new: a state with its libraries
 *   call.c   budget_lib.c       calls; budget-aware pcall and coroutines
 *   pattern.c                   string patterns the budget can stop
 *   state.c  record_view.c  json_lua.c
 *   budget.c value_lua.c        watchdog and hook; values <-> Lua
 *   this header                 the struct and the tiny helpers, inline
 *
 * The declarations below are grouped by the file that defines them. */
#ifndef SLUICE_LUA_INT_H
#define SLUICE_LUA_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "lua/sl_lua.h"
#include "sluice/arena.h"
#include "sluice/buf.h"

/* The count of the budget hook once a call has overrun: every instruction.
 * A larger count would be reset by the lua_sethook of each coroutine switch,
 * and two coroutines that switch more often than that would never be
 * stopped. */
#define SL_LUA_HOOK_COUNT 1

/* How deep sl_lua_to_value follows nested tables. */
#define SL_LUA_MAX_DEPTH 100

struct sl_lua {
  lua_State *L;

  /* ---- memory (the allocator runs on the thread that runs the state) ---- */
  _Atomic size_t mem_used;      /* relaxed: written by the owner, read by metrics */
  size_t mem_limit;             /* 0 = unlimited */
  int mem_refused;              /* growth was refused since the outermost call began */

  /* ---- time: the fields the watchdog reads are atomic ---- */
  uint32_t call_ms;             /* 0 = unlimited (not registered with the watchdog) */
  int depth;                    /* sl_lua_pcall nesting; the outermost call owns the budget */
  _Atomic uint64_t seq;         /* outermost calls begun so far */
  _Atomic int64_t call_start;   /* monotonic ms at which call seq began; 0 when idle */
  _Atomic uint64_t armed_seq;   /* the call the watchdog found over budget */
  uint64_t expired_seq;         /* the call the hook stopped (owner thread only) */
  char budget_msg[128 + LUA_IDSIZE];
  /* The thread executing Lua right now: the main thread, or a coroutine the
   * resume wrappers switched to.  The watchdog hooks this one; the lock keeps
   * a finished coroutine from being hooked after it was collected. */
  pthread_mutex_t run_mu;
  lua_State *running;
  sl_lua *wd_prev, *wd_next;    /* the watchdog's list, under its lock */
  int wd_registered;

  /* ---- sandbox ---- */
  sl_lua_grants grants;
  char **search_path;           /* NULL-terminated copy */

  /* ---- calls ---- */
  int msgh_len;                 /* length of the message the handler saw, -1 if none */
  int timed_out;                /* the last failed call was stopped by the time budget */
  int over_memory;              /* ... or by the memory budget */

  /* ---- record views ---- */
  uint64_t epoch;               /* views pushed before the last expire are dead */
  const void *view_mt;          /* identity of the view metatable */

  /* Scratch space for one conversion at a time (a field read, sl.json): it
   * is owned by the state, so a Lua error in the middle leaks nothing; each
   * use starts by resetting it. */
  sl_arena scratch;
  sl_buf tmp;
};

/* The sl_lua that owns L: sl_lua_from for the bridge's own files, inline so
 * that they need not call into state.c. */
static inline sl_lua *sl__lua_from(lua_State *L) {
  return *(sl_lua **)lua_getextraspace(L);
}

/* Monotonic milliseconds from the coarse clock: a few nanoseconds to read,
 * a few milliseconds of resolution, which is plenty for budgets in ms. */
static inline int64_t sl__lua_mono_ms(void) {
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- budget.c ---- */

/* Adds s to the watchdog's list, starting the watchdog if it is the first;
 * 0 or SL_ENOMEM (the thread could not be started). */
int sl__budget_register(sl_lua *s);
/* Removes s; stops the watchdog when the list becomes empty. */
void sl__budget_unregister(sl_lua *s);
/* Makes co the thread the watchdog hooks, and hooks it at once if the
 * current call is already over budget (it was armed while another thread
 * ran).  Called by the resume wrappers on every switch. */
void sl__budget_switch(sl_lua *s, lua_State *co);
/* Raises the budget error again if the current call ran out of time; called
 * wherever a library function caught an error. [-0,+0,v] */
void sl__budget_recheck(lua_State *L);

/* Raises the budget error if the watchdog found the current call over
 * budget: for C functions that may run long without running Lua code
 * (pattern.c), where the hook never fires.  Cheap: two atomic loads.
 * [-0,+0,v] */
void sl__budget_poll(lua_State *L);

/* Whether the current outermost call was stopped by the time budget. */
static inline int sl__budget_expired(sl_lua *s) {
  return s->call_ms && s->depth > 0 &&
         s->expired_seq == atomic_load_explicit(&s->seq, memory_order_relaxed);
}

/* Marks the start and the end of an outermost call.  Hot path: no lock, no
 * hook; two atomic stores and a coarse clock read. */
static inline void sl__budget_begin(sl_lua *s) {
  s->mem_refused = 0;
  if (s->call_ms) {
    int64_t now = sl__lua_mono_ms();
    /* The start is written before seq (release), so a watchdog that sees
     * the new seq also sees its start time.  Only this thread writes seq:
     * a load and a store, no locked instruction. */
    atomic_store_explicit(&s->call_start, now > 0 ? now : 1, memory_order_relaxed);
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
  }
}

/* The line hook sl_lua_set_line_hook set, or NULL (budget.c). */
lua_Hook sl__lua_line_hook(void);

static inline void sl__budget_end(sl_lua *s) {
  if (s->call_ms) {
    /* A watchdog that still sees the old start arms a finished call: its
     * hook then finds a different seq and does nothing. */
    atomic_store_explicit(&s->call_start, 0, memory_order_release);
    /* A hook the watchdog set late fires, finds a finished call and removes
     * itself; clearing it here just saves that.  Both fields are checked: a
     * clear racing with the watchdog's set can leave either one behind. */
    if (lua_gethook(s->L) || lua_gethookmask(s->L)) {
      /* sluice test --coverage's line hook stays. */
      lua_Hook line = sl__lua_line_hook();
      if (lua_gethook(s->L) != line || lua_gethookmask(s->L) != (line ? LUA_MASKLINE : 0))
        lua_sethook(s->L, line, line ? LUA_MASKLINE : 0, 0);
    }
  }
}

/* ---- pattern.c ---- */

/* Sets find, match, gmatch and gsub in the string table at idx to the
 * budget-aware pattern functions. [-0,+0,m] */
void sl__pattern_open(lua_State *L, int string_table);

/* ---- budget_lib.c ---- */

/* Replaces pcall, xpcall, coroutine.resume/wrap/close with versions that do
 * not let a script swallow a time-budget error. [-0,+0,m] */
void sl__budget_open(lua_State *L);

/* ---- state.c ---- */

/* A bare state: the struct, the counting allocator, the panic handler and
 * the owner in L's extra space; no library is open and the state is not
 * registered with the watchdog.  Free it with sl_lua_free.  NULL on ENOMEM. */
sl_lua *sl__lua_state_new(const sl_lua_limits *limits, const sl_lua_grants *grants,
                          const char *const *search_path);

/* ---- record_view.c ---- */

/* Creates the view metatable and the methods. [-0,+0,m] */
void sl__views_open(lua_State *L);

struct sl__view {
  sl_record *rec;
  sl_arena *arena;
  uint64_t epoch;
};

/* The live view at idx, or NULL (not a view, or expired when *expired is
 * set).  Inline because value_lua.c, below record_view.c, converts views
 * too. [-0,+0,-] */
static inline struct sl__view *sl__view_test(lua_State *L, int idx, int *expired) {
  if (expired) *expired = 0;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_checkstack(L, 1)) return NULL;
  sl_lua *s = sl__lua_from(L);
  if (!lua_getmetatable(L, idx)) return NULL;     /* [-0,+1] */
  const void *mt = lua_topointer(L, -1);
  lua_pop(L, 1);
  if (mt != s->view_mt) return NULL;
  struct sl__view *v = lua_touserdata(L, idx);
  if (v->epoch != s->epoch) {
    if (expired) *expired = 1;
    return NULL;
  }
  return v;
}

/* ---- value_lua.c ---- */

/* Gives light userdata a metatable so that tostring(sl.json.null) is "null". [-0,+0,m] */
void sl__null_open(lua_State *L);
/* sl_lua_to_value; with copy_strings 0 the value points at Lua's strings,
 * for a value used before anything can collect them (sl.json.encode). */
int sl__lua_to_value(lua_State *L, int idx, sl_arena *a, sl_value *v, const char **why,
                     int copy_strings);
/* A deep copy of src into a (strings, spans and containers). */
int sl__value_copy(sl_arena *a, const sl_value *src, sl_value *dst);

#endif
