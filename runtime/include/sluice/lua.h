/* Lua for plugins: calling Lua from C, values and records across the
 * boundary, and Lua libraries a plugin adds to the `sluice` module.
 *
 * Every lua_State in sluice is made by the runtime: sandboxed, with a
 * memory budget and a per-call time budget.  A plugin gets one from
 * sl_stage_lua() (the loop thread's state, where SL_OPT_LUA options live)
 * and calls Lua only through sl_lua_pcall, so a Lua error never unwinds
 * through a plugin's or libuv's frames and a call that runs too long is
 * stopped.  Stack effects are marked as in the Lua manual: [-o,+p,x]. */
#ifndef SLUICE_LUA_H
#define SLUICE_LUA_H

#include <lua.h>

#include "sluice/arena.h"
#include "sluice/buf.h"
#include "sluice/record.h"
#include "sluice/value.h"

/* A state as the runtime made it: its budgets and sandbox. */
typedef struct sl_lua sl_lua;

/* The sl_lua that owns L. */
sl_lua *sl_lua_from(lua_State *L);

/* ---- calls ---- */

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
/* Whether the last sl_lua_pcall that failed was stopped by the time budget
 * (rather than failing on its own): a plugin may stop on that where it
 * would go on past an error of the script.  Owner thread only. */
int sl_lua_timed_out(sl_lua *s);
/* The same for the memory budget. */
int sl_lua_over_memory(sl_lua *s);

/* ---- values ---- */

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
/* Pushes a value as Lua (SL_T_JSON decoded; objects and arrays become tables;
 * null becomes sl.json.null, a light userdata that is falsy only by comparison).
 * Containers and escaped strings are materialized into a.  0 with one value
 * pushed, or a negative SL_E* with nothing pushed. [-0,+1,m] */
int sl_lua_push_value(lua_State *L, sl_value *v, sl_arena *a);

/* ---- records ----
 *
 * Lua sees a record as a userdata view: rec.name reads a field (decoded on
 * first access), rec.name = v writes one, rec.name = nil removes it;
 * pairs(rec) walks the fields in order; rec:meta() returns a table of the
 * metadata; rec:raw() the original bytes; rec:totable() a plain copy.
 * Fields win over methods: rec.x is the field x whenever the record has
 * one; sl.record.meta(rec) works on every record.
 *
 * Reading: an absent field is nil; a field holding JSON null is sl.json.null.
 * JSON integers that fit int64 are Lua integers, other numbers floats.
 * Writing: the value is converted as by sl_lua_to_value into the view's
 * arena; sl.json.null writes a JSON null; nil removes the field.
 *
 * A view is valid until sl_lua_views_expire(): using it later raises
 * "record used outside the step call that received it", so a script cannot
 * keep a record whose batch was freed. */

/* Pushes a view of rec whose writes allocate from a. [-0,+1,m] */
void sl_lua_push_record(lua_State *L, sl_record *rec, sl_arena *a);
/* Ends the life of every view pushed so far: call it once the call that
 * received them returned. [-0,+0,-] */
void sl_lua_views_expire(lua_State *L);

/* Builds a new record from the Lua table at idx, converted as by
 * sl_lua_to_value: codec NULL, state SL_REC_CHANGED, meta empty (partition
 * and offset -1; copy the parent's meta if that is wanted).  Field order is
 * deterministic, not pairs() order: number keys first in numeric order (as
 * decimal text), then string keys in byte order.  0, or SL_ETYPE (a list, a
 * value that cannot be encoded) or SL_ENOMEM with *why set.  Raises no Lua
 * error: safe outside a protected call. [-0,+0,-] */
int sl_lua_table_to_record(lua_State *L, int idx, sl_arena *a, sl_record *out,
                           const char **why);

/* ---- libraries ----
 *
 * A plugin adds Lua functions to the `sluice` module with an sl_lua_lib,
 * named in its folder's sluice_plugin(... LUA_LIBS <symbol>) call: pipelines
 * then call sl.<name>.fn(...).  Every state the runtime makes for a
 * pipeline (the loop thread's and each worker's) opens it, so its functions
 * may run on any thread, several at once: they keep per-call state on the
 * Lua stack or in their state's registry, not in C globals.  If a plugin of
 * the same name exists, the table is also callable as that plugin's
 * constructor: sl.clean { ... } and sl.clean.cn_id(s) side by side. */
typedef struct sl_lua_lib {
  const char *name;               /* sl.<name> */
  int (*open)(lua_State *L);      /* pushes the table of functions [-0,+1,m] */
} sl_lua_lib;

#endif
