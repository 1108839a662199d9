/* The Lua bridge (runtime-internal).
 *
 * Every lua_State in sluice is made here: sandboxed, with a memory budget
 * (a counting allocator) and a per-call time budget enforced by one watchdog
 * thread that installs a count hook only into a call that overran, so code
 * within budget pays nothing.  Only this layer calls lua_pcall, always with
 * a traceback handler; a Lua error never unwinds through runtime frames. */
#ifndef SLUICE_LUA_H
#define SLUICE_LUA_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
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

typedef struct sl_lua sl_lua;

/* A new sandboxed state.  search_path: NULL-terminated list of directories in
 * which require("a.b") looks for a/b.lua and a/b/init.lua, in order, after
 * package.loaded and package.preload (the registry's _PRELOAD table).  Only
 * text chunks load (no bytecode).  NULL on ENOMEM, or when the memory budget
 * is too small to open the libraries.
 *
 * A state belongs to one thread at a time.  Calls into it (sl_lua_pcall,
 * and every function below that takes L) run on that thread. */
sl_lua *sl_lua_new(const sl_lua_limits *limits, const sl_lua_grants *grants,
                   const char *const *search_path);
void sl_lua_free(sl_lua *s);
lua_State *sl_lua_state(sl_lua *s);
/* The sl_lua that owns L (kept in L's extra space). */
sl_lua *sl_lua_from(lua_State *L);

/* Calls the function below nargs arguments on the stack, like lua_pcall,
 * under the time budget.  On error returns SL_ELUA, pops the function and
 * its arguments, pushes nothing, and writes a one-line message into err
 * (which it empties first): "file.lua:12: attempt to index a nil value",
 * "time budget of 1000 ms exceeded in file.lua:3", "memory budget of 64 MiB
 * exceeded", "error object is a table".  The message is the whole error
 * value, line breaks and tabs as spaces and NUL bytes as "\0"; the traceback
 * is never part of it, and goes to *trace if trace is not NULL (emptied
 * first).  err and trace are NUL-terminated.
 * The state stays usable after any error, budget overruns included.
 *
 * A call made from inside another (a C function called from Lua that calls
 * back) runs under the budget of the outermost call. */
int sl_lua_pcall(sl_lua *s, int nargs, int nresults, sl_buf *err, sl_buf *trace);

/* Calls the function on top of the stack with a view of rec as its only
 * argument: sl_lua_push_record + sl_lua_pcall, except that the view is made
 * inside the protected call, so running out of memory while making it is an
 * error like any other rather than a panic.  Use this for a step's call. */
int sl_lua_pcall_record(sl_lua *s, sl_record *rec, sl_arena *a, int nresults,
                        sl_buf *err, sl_buf *trace);

/* Loads and runs a Lua file (text only), leaving nresults on the stack,
 * under the same rules as sl_lua_pcall.  The chunk is named "@path", so
 * messages say "path:line:". */
int sl_lua_dofile(sl_lua *s, const char *path, int nresults, sl_buf *err);

/* Changes the time budget of the calls that follow (0 = none): a state that
 * evaluated a file under a longer load budget then runs its functions under
 * the pipeline's call_ms.  Between calls only.  0 or SL_ENOMEM (the watchdog
 * could not be started). */
int sl_lua_set_call_ms(sl_lua *s, uint32_t call_ms);
/* How long the current outermost call has been running, in ms, or -1 when
 * the state is between calls or has no time budget.  Safe from any thread
 * while s lives: the admin endpoint asks it of a worker's state. */
int64_t sl_lua_call_age_ms(sl_lua *s);
/* Whether the last sl_lua_pcall that failed was stopped by the time budget
 * (rather than failing on its own).  Owner thread only. */
int sl_lua_timed_out(sl_lua *s);

/* Memory in use by the state, bytes. */
size_t sl_lua_memory(sl_lua *s);

/* ---- record views (runtime/lua/record_view.c) ----
 *
 * A step sees a record as a userdata view: rec.name reads a field (decoded on
 * first access), rec.name = v writes one, rec.name = nil removes it;
 * pairs(rec) walks the fields in order; rec:meta() returns a table of the
 * metadata; rec:raw() the original bytes; rec:totable() a plain copy.
 *
 * Fields win over methods: rec.x is the field x whenever the record has one,
 * and a method name is looked up only when it has not.  rec:meta() therefore
 * works on any record without a field called "meta"; sl.record.meta(rec)
 * (see sl_lua_push_record_module) works on every record.
 *
 * Reading: an absent field is nil; a field holding JSON null is sl.json.null
 * (rec.x == sl.json.null; sl.null is the discard sink).  JSON integers that
 * fit int64 are Lua integers, other numbers floats.  Field names are strings; rec[1] is an error.
 * Writing: the value is converted as by sl_lua_to_value into the view's
 * arena; sl.json.null writes a JSON null; nil removes the field.
 *
 * A view is valid until sl_lua_views_expire(): using it later raises
 * "record used outside the step call that received it". */

/* Pushes a view of rec whose writes allocate from a. [-0,+1,m] */
void sl_lua_push_record(lua_State *L, sl_record *rec, sl_arena *a);
/* The record behind a live view at idx, or NULL if idx is not a live view.
 * [-0,+0,-] */
sl_record *sl_lua_to_record(lua_State *L, int idx);
/* Why the value at idx is not a live view: "record used outside the step
 * call that received it" for an expired one, else NULL. [-0,+0,-] */
const char *sl_lua_view_expired(lua_State *L, int idx);
/* Ends the life of every view pushed so far. [-0,+0,-] */
void sl_lua_views_expire(lua_State *L);
/* Pushes sl.record: { meta = f(rec), raw = f(rec), totable = f(rec) }, the
 * view methods as plain functions. [-0,+1,m] */
void sl_lua_push_record_module(lua_State *L);

/* Builds a new record from the Lua table at idx, converted as by
 * sl_lua_to_value: codec NULL, state SL_REC_CHANGED, meta empty (partition
 * and offset -1; copy the parent's meta if that is wanted).  Field order is
 * deterministic, not pairs() order: number keys first in numeric order (as
 * decimal text), then string keys in byte order.  0, or SL_ETYPE (a list, a
 * value that cannot be encoded) or SL_ENOMEM with *why set.  Raises no Lua
 * error: safe outside a protected call. [-0,+0,-] */
int sl_lua_table_to_record(lua_State *L, int idx, sl_arena *a, sl_record *out,
                           const char **why);

/* Pushes a value as Lua (SL_T_JSON decoded; objects and arrays become tables;
 * null becomes sl.json.null, a light userdata that is falsy only by comparison).
 * Containers and escaped strings are materialized into a.  0 with one value
 * pushed, or a negative SL_E* with nothing pushed. [-0,+1,m] */
int sl_lua_push_value(lua_State *L, sl_value *v, sl_arena *a);
/* Converts the Lua value at idx (nil, boolean, integer, float, string, table,
 * sl.json.null, a live record view) into v, allocating strings and containers
 * from a.  Integers stay SL_T_INT and floats SL_T_DOUBLE (1.0 stays a
 * double).  Tables with keys 1..n are arrays, other tables objects (keys
 * sorted as for sl_lua_table_to_record; number keys become their decimal
 * text; other key types are an error); an empty table is an object;
 * metatables are ignored.  A record view becomes an object holding a copy of
 * its fields.  Functions, threads, other userdata, cyclic tables and tables
 * nested more than 100 deep are SL_ETYPE with *why set.  Raises no Lua
 * error. [-0,+0,-] */
int sl_lua_to_value(lua_State *L, int idx, sl_arena *a, sl_value *v, const char **why);

/* Pushes sl.json: { encode = function(v) -> string, decode = function(s) -> v,
 * null = sl.json.null }.  encode sorts object keys as above; decode turns JSON
 * null into sl.json.null; errors say "sl.json.encode: ..."/"sl.json.decode: ...".
 * [-0,+1,m] */
void sl_lua_push_json_module(lua_State *L);
/* Pushes the sl.json.null sentinel: the same value in every state, and
 * tostring(sl.json.null) is "null". [-0,+1,-] */
void sl_lua_push_null(lua_State *L);

#endif
