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
 * (base without dofile/loadfile, string, table, math, utf8, coroutine,
 * os.time/os.clock/os.date). */
typedef struct sl_lua_grants {
  int io;                 /* the io library and os file functions */
  int os;                 /* the whole os library (execute, getenv, exit, ...) */
  int c_modules;          /* require of C modules (package.cpath) */
  int debug;              /* the debug library */
} sl_lua_grants;

typedef struct sl_lua sl_lua;

/* A new sandboxed state.  search_path: NULL-terminated list of directories in
 * which require("a.b") looks for a/b.lua and a/b/init.lua, in order.  Only
 * text chunks load (no bytecode).  NULL on ENOMEM. */
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
 * exceeded".  The traceback goes to *trace if trace is not NULL. */
int sl_lua_pcall(sl_lua *s, int nargs, int nresults, sl_buf *err, sl_buf *trace);

/* Loads and runs a Lua file (text only) with the given chunkname, leaving
 * nresults on the stack, under the same rules as sl_lua_pcall. */
int sl_lua_dofile(sl_lua *s, const char *path, int nresults, sl_buf *err);

/* Memory in use by the state, bytes. */
size_t sl_lua_memory(sl_lua *s);

/* ---- record views (runtime/lua/record_view.c) ----
 *
 * A step sees a record as a userdata view: rec.name reads a field (decoded on
 * first access), rec.name = v writes one, rec.name = nil removes it;
 * pairs(rec) walks the fields in order; rec:meta() returns a table of the
 * metadata; rec:raw() the original bytes; rec:totable() a plain copy.
 * A view is valid until sl_lua_views_expire(): using it later raises
 * "record used outside the step call that received it". */

/* Pushes a view of rec whose writes allocate from a. [-0,+1,m] */
void sl_lua_push_record(lua_State *L, sl_record *rec, sl_arena *a);
/* The record behind a live view at idx, or NULL if idx is not a live view. */
sl_record *sl_lua_to_record(lua_State *L, int idx);
/* Ends the life of every view pushed so far. */
void sl_lua_views_expire(lua_State *L);

/* Builds a new record from the Lua table at idx (keys in the order pairs
 * gives them; nested tables become objects or arrays).  0, or SL_ETYPE with
 * *why set. [-0,+0,m] */
int sl_lua_table_to_record(lua_State *L, int idx, sl_arena *a, sl_record *out,
                           const char **why);

/* Pushes a value as Lua (SL_T_JSON decoded; objects and arrays become tables;
 * null becomes sl.null, a light userdata that is falsy only by comparison). */
int sl_lua_push_value(lua_State *L, sl_value *v, sl_arena *a);
/* Converts the Lua value at idx (nil, boolean, integer, float, string, table,
 * sl.null) into v, allocating strings and containers from a.  Tables with
 * keys 1..n are arrays, other tables objects; an empty table is an object;
 * functions, threads and cyclic tables are SL_ETYPE with *why set. */
int sl_lua_to_value(lua_State *L, int idx, sl_arena *a, sl_value *v, const char **why);

/* Pushes sl.json: { encode = function(v) -> string, decode = function(s) -> v,
 * null = sl.null }. [-0,+1,m] */
void sl_lua_push_json_module(lua_State *L);
/* Pushes the sl.null sentinel. [-0,+1,-] */
void sl_lua_push_null(lua_State *L);

#endif
