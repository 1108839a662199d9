/* The Lua bridge (runtime-internal).
 *
 * Every lua_State in sluice is made here: sandboxed, with a memory budget
 * (a counting allocator) and a per-call time budget enforced by one watchdog
 * thread that installs a count hook only into a call that overran, so code
 * within budget pays nothing.  Only this layer calls lua_pcall, always with
 * a traceback handler; a Lua error never unwinds through runtime frames. */
#ifndef SLUICE_LUA_SL_LUA_H
#define SLUICE_LUA_SL_LUA_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/lua.h"
#include "sluice/record.h"

typedef struct sl_lua_limits {
  size_t memory_bytes;    /* per-state budget; 0 = unlimited */
  uint32_t call_ms;       /* per-call budget in milliseconds; 0 = unlimited */
} sl_lua_limits;

/* What a pipeline may grant its scripts beyond the safe libraries
 * (base without dofile/loadfile, string without dump, table, math, utf8,
 * coroutine, os.time/os.clock/os.date/os.difftime).  load() takes text
 * only, granted or not: bytecode never loads.  setmetatable refuses __gc
 * (finalizers run with hooks off, out of the time budget's reach). */
typedef struct sl_lua_grants {
  int io;                 /* the io library (io.popen only with os too) and
                             os.remove/rename/tmpname */
  int os;                 /* the whole os library (execute, getenv, exit, ...) */
  int c_modules;          /* require of C modules (package.cpath), package.loadlib */
  int debug;              /* the debug library */
} sl_lua_grants;

/* A new sandboxed state.  search_path: NULL-terminated list of directories in
 * which require("a.b") looks for a/b.lua and a/b/init.lua, in order, after
 * package.loaded and package.preload (the registry's _PRELOAD table).  Only
 * text chunks load (no bytecode).  NULL on ENOMEM, or when the memory budget
 * is too small to open the libraries.
 *
 * A state belongs to one thread at a time.  Calls into it (sl_lua_pcall,
 * and every function below that takes L) run on that thread.  What plugins
 * may call (calls, values, record views) is in sluice/lua.h. */
sl_lua *sl_lua_new(const sl_lua_limits *limits, const sl_lua_grants *grants,
                   const char *const *search_path);
void sl_lua_free(sl_lua *s);
lua_State *sl_lua_state(sl_lua *s);

/* Calls the function on top of the stack with a view of rec as its only
 * argument: sl_lua_push_record + sl_lua_pcall, except that the view is made
 * inside the protected call, so running out of memory while making it is an
 * error like any other rather than a panic.  Use this for a step's call. */
int sl_lua_pcall_record(sl_lua *s, sl_record *rec, sl_arena *a, int nresults,
                        sl_buf *err, sl_buf *trace);

/* Calls f(L) protected, under the same rules as sl_lua_pcall, with ud (a
 * light userdata) as its first argument and the nargs values on top of the
 * stack (popped) after it: for C code that builds tables or strings in a
 * state outside any call, where running out of memory would otherwise be a
 * panic.  f's results are dropped. */
int sl_lua_cpcall(sl_lua *s, lua_CFunction f, void *ud, int nargs, sl_buf *err);

/* Loads and runs a Lua file (text only), leaving nresults on the stack,
 * under the same rules as sl_lua_pcall.  The chunk is named "@path", so
 * messages say "path:line:". */
int sl_lua_dofile(sl_lua *s, const char *path, int nresults, sl_buf *err);
/* sl_lua_dofile of a file's text already read (borrowed: len bytes), the
 * chunk still named "@path": the same bytes can be evaluated in several
 * states, whatever happens to the file meanwhile. */
int sl_lua_dotext(sl_lua *s, const char *path, const char *text, size_t len, int nresults,
                  sl_buf *err);

/* Changes the time budget of the calls that follow (0 = none): a state that
 * evaluated a file under a longer load budget then runs its functions under
 * the pipeline's call_ms.  Between calls only.  0 or SL_ENOMEM (the watchdog
 * could not be started). */
int sl_lua_set_call_ms(sl_lua *s, uint32_t call_ms);
/* How long the current outermost call has been running, in ms, or -1 when
 * the state is between calls or has no time budget.  Safe from any thread
 * while s lives: the admin endpoint asks it of a worker's state. */
int64_t sl_lua_call_age_ms(sl_lua *s);

/* Every state made from now on starts with hook as its line hook
 * (LUA_MASKLINE): `sluice test --coverage` counts the lines that ran.  The
 * hook runs on whatever thread runs the state; NULL: none.  Set it before
 * any state it should see is made. */
void sl_lua_set_line_hook(lua_Hook hook);

/* Memory in use by the state, bytes. */
size_t sl_lua_memory(sl_lua *s);

/* ---- record views (runtime/lua/record_view.c; see sluice/lua.h) ----
 *
 * Fields win over methods: rec.x is the field x whenever the record has one,
 * and a method name is looked up only when it has not.  rec:meta() therefore
 * works on any record without a field called "meta"; sl.record.meta(rec)
 * (see sl_lua_push_record_module) works on every record.  sl.json.null is
 * JSON null (sl.null is the discard sink); field names are strings: rec[1]
 * is an error. */

/* The record behind a live view at idx, or NULL if idx is not a live view.
 * [-0,+0,-] */
sl_record *sl_lua_to_record(lua_State *L, int idx);
/* Why the value at idx is not a live view: "record used outside the step
 * call that received it" for an expired one, else NULL. [-0,+0,-] */
const char *sl_lua_view_expired(lua_State *L, int idx);
/* Pushes sl.record: { meta = f(rec), raw = f(rec), totable = f(rec) }, the
 * view methods as plain functions. [-0,+1,m] */
void sl_lua_push_record_module(lua_State *L);

/* Pushes sl.json: { encode = function(v) -> string, decode = function(s) -> v,
 * null = sl.json.null }.  encode sorts object keys as above; decode turns JSON
 * null into sl.json.null; errors say "sl.json.encode: ..."/"sl.json.decode: ...".
 * [-0,+1,m] */
void sl_lua_push_json_module(lua_State *L);
/* Pushes the sl.json.null sentinel: the same value in every state, and
 * tostring(sl.json.null) is "null". [-0,+1,-] */
void sl_lua_push_null(lua_State *L);

#endif
