/* Sources and sinks written in Lua: lua.source and lua.sink run every
 * stage that a Lua plugin file defines (SL_CAN_HOST_LUA), built on the
 * public API alone.  They run in the loop thread's Lua state
 * (sl_stage_lua), like every source and sink callback, and find the
 * definition in the stage's descriptor (sl_stage_push_descriptor).
 *
 *   sl.plugin.source { name, options, open(opts, ctx) -> state,
 *                      read(state, max) -> records, checkpoint | nil at the end,
 *                      ack(state, checkpoint), close(state), poll_interval = ms }
 *   sl.plugin.sink   { name, options, open(opts, ctx) -> state,
 *                      write(state, records), flush(state), close(state) }
 *
 * ctx.load() and ctx.save(string) keep a string across restarts (the
 * stage's file in the state folder): a source saves its position in ack.
 * read returns a list of tables; an empty list means "nothing now, ask again
 * after poll_interval".  write receives record views; it acknowledges by
 * returning, and an error sends the whole batch to the dead-letter sink. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sluice/clock.h"
#include "sluice/log.h"
#include "sluice/lua.h"
#include "sluice/plugin.h"

typedef struct lua_stage {
  sl_stage *st;
  sl_lua *lua;            /* the loop thread's state, where the definition lives */
  int def_ref;
  int state_ref;
  int64_t poll_ms;
  uv_idle_t idle;
  uv_timer_t timer;
  int handles_open;
  int done;
  int open_failed;        /* open raised an error (logged), or ctx.corrupt refused the state */
  sl_buf err;
  sl_buf corrupt;         /* why ctx.corrupt() refused the saved state, if it did */
} lua_stage;

/* Pushes def[name] if it is a function. [-0,+1 or +0] */
static int get_callback(lua_State *L, lua_stage *ls, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, ls->def_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  if (lua_isfunction(L, -1)) return 1;
  lua_pop(L, 1);
  return 0;
}

/* Refuses the saved state: the reason goes to open's caller, which stops
 * the start as sl_state_corrupt does (exit 3, naming the file). [-0,+0,v] */
static int refuse_state(lua_State *L, sl_stage *st, const char *why, size_t n) {
  lua_stage *ls = sl_stage_priv(st);
  ls->corrupt.len = 0;
  sl_buf_append(&ls->corrupt, why, n);
  return luaL_error(L, "unusable checkpoint: %s", why);
}

/* ctx.load() -> string or nil: the state the stage saved in an earlier run.
 * A file that exists but cannot be read is refused (never nil: that would
 * start the source from zero).
 * ctx.save(string): replaces it (atomically, in the background).
 * ctx.corrupt(why): the source refuses what load() gave; does not return. */
static int ctx_load(lua_State *L) {
  sl_stage *st = lua_touserdata(L, lua_upvalueindex(1));
  sl_buf b = SL_BUF_INIT;
  int rc = sl_state_load(st, &b);
  if (rc == 0) lua_pushlstring(L, b.ptr ? b.ptr : "", b.len);
  sl_buf_free(&b);
  if (rc == SL_ENOENT) lua_pushnil(L);
  else if (rc) {
    const char *why = lua_pushfstring(L, "cannot read it: %s", sl_strerror(rc));
    return refuse_state(L, st, why, strlen(why));
  }
  return 1;
}

static int ctx_corrupt(lua_State *L) {
  sl_stage *st = lua_touserdata(L, lua_upvalueindex(1));
  size_t n;
  const char *why = luaL_checklstring(L, 1, &n);
  return refuse_state(L, st, why, n);
}

static int ctx_save(lua_State *L) {
  sl_stage *st = lua_touserdata(L, lua_upvalueindex(1));
  size_t n;
  const char *data = luaL_checklstring(L, 1, &n);
  sl_state_save(st, data, n);
  return 0;
}

/* The second argument of open: { name = ..., load = ..., save = ... }. [-0,+1] */
static void push_context(lua_State *L, sl_stage *st) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, sl_stage_name(st));
  lua_setfield(L, -2, "name");
  lua_pushlightuserdata(L, st);
  lua_pushcclosure(L, ctx_load, 1);
  lua_setfield(L, -2, "load");
  lua_pushlightuserdata(L, st);
  lua_pushcclosure(L, ctx_save, 1);
  lua_setfield(L, -2, "save");
  lua_pushlightuserdata(L, st);
  lua_pushcclosure(L, ctx_corrupt, 1);
  lua_setfield(L, -2, "corrupt");
}

/* [st]: references the definition, calls open and references its state.
 * Runs protected: the fields, tables and references it makes allocate, and
 * out of memory outside a call would be a panic. */
static int init_protected(lua_State *L) {
  sl_stage *st = lua_touserdata(L, 1);
  lua_stage *ls = sl_stage_priv(st);
  sl_stage_push_descriptor(st);
  lua_getfield(L, -1, "def");
  lua_getfield(L, -1, "poll_interval");
  if (lua_isinteger(L, -1)) ls->poll_ms = lua_tointeger(L, -1);
  lua_pop(L, 1);
  ls->def_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "options");
  if (get_callback(L, ls, "open")) {
    lua_insert(L, -2);
    push_context(L, st);
    if (sl_lua_pcall(ls->lua, 2, 1, &ls->err, NULL)) {
      if (!ls->corrupt.len)
        sl_log_error(sl_stage_name(st), "%s: open failed: %s", sl_stage_where(st), ls->err.ptr);
      ls->open_failed = 1;   /* lua_stage_init says which way */
      return 0;
    }
  }
  ls->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

static int lua_stage_init(sl_stage *st) {
  lua_stage *ls = sl_stage_priv(st);
  lua_State *L = sl_stage_lua(st);
  ls->st = st;
  ls->lua = sl_lua_from(L);
  ls->def_ref = ls->state_ref = LUA_NOREF;
  ls->poll_ms = 100;
  sl_buf err = SL_BUF_INIT;
  lua_pushcfunction(L, init_protected);
  lua_pushlightuserdata(L, st);
  if (sl_lua_pcall(ls->lua, 1, 0, &err, NULL)) {
    sl_log_error(sl_stage_name(st), "%s: %s", sl_stage_where(st), sl_buf_text(&err));
    sl_buf_free(&err);
    return SL_ELUA;
  }
  if (ls->open_failed && ls->corrupt.len)
    return sl_state_corrupt(st, "%.*s", (int)ls->corrupt.len, ls->corrupt.ptr);
  return ls->open_failed ? SL_ELUA : 0;
}

static void lua_stage_destroy(sl_stage *st) {
  lua_stage *ls = sl_stage_priv(st);
  if (!ls->st) return;   /* init never ran */
  lua_State *L = sl_stage_lua(st);
  /* Without its definition (init stopped before it), there is no close. */
  if (ls->def_ref != LUA_NOREF && get_callback(L, ls, "close")) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->state_ref);
    if (sl_lua_pcall(ls->lua, 1, 0, &ls->err, NULL))
      sl_log_error(sl_stage_name(st), "close failed: %s", ls->err.ptr);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, ls->state_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, ls->def_ref);
  if (ls->handles_open) {
    uv_close((uv_handle_t *)&ls->idle, NULL);
    uv_close((uv_handle_t *)&ls->timer, NULL);
    ls->handles_open = 0;
  }
  sl_buf_free(&ls->err);
  sl_buf_free(&ls->corrupt);
}

/* ---- source ---- */

static void source_finish(lua_stage *ls) {
  if (ls->done) return;
  ls->done = 1;
  uv_idle_stop(&ls->idle);
  uv_timer_stop(&ls->timer);
  sl_source_finished(ls->st);
}

static void on_source_idle(uv_idle_t *h);

static void on_source_timer(uv_timer_t *t) {
  lua_stage *ls = t->data;
  if (!ls->done && !sl_source_paused(ls->st)) uv_idle_start(&ls->idle, on_source_idle);
}

static void on_source_idle(uv_idle_t *h) {
  lua_stage *ls = h->data;
  sl_stage *st = ls->st;
  if (sl_source_paused(st)) {
    uv_idle_stop(&ls->idle);
    return;
  }
  lua_State *L = sl_stage_lua(st);
  get_callback(L, ls, "read");
  lua_rawgeti(L, LUA_REGISTRYINDEX, ls->state_ref);
  lua_pushinteger(L, sl_stage_batch_size(st));
  if (sl_lua_pcall(ls->lua, 2, 2, &ls->err, NULL)) {
    sl_stage_fatal(st, "read failed: %s", ls->err.ptr);
    source_finish(ls);
    return;
  }
  if (lua_isnil(L, -2)) {
    lua_pop(L, 2);
    source_finish(ls);
    return;
  }
  if (!lua_istable(L, -2)) {
    sl_stage_fatal(st, "read must return a list of records (or nil at the end), got %s",
                   luaL_typename(L, -2));
    lua_pop(L, 2);
    source_finish(ls);
    return;
  }
  lua_Integer n = (lua_Integer)lua_rawlen(L, -2);
  if (n == 0) {
    lua_pop(L, 2);
    uv_idle_stop(&ls->idle);
    uv_timer_start(&ls->timer, on_source_timer, (uint64_t)ls->poll_ms, 0);
    return;
  }
  sl_batch *b = sl_batch_new(st);
  if (!b) {
    lua_pop(L, 2);
    sl_stage_fatal(st, "out of memory");
    return;
  }
  const char *name = sl_stage_name(st);
  int64_t now = sl_now_ms();
  for (lua_Integer i = 1; i <= n; i++) {
    sl_record *rec = sl_batch_add(b);
    if (!rec) {
      /* The checkpoint covers every record read returned: a batch without
       * some of them would lose them. */
      sl_batch_discard(b);
      lua_pop(L, 2);
      sl_stage_fatal(st, "out of memory");
      return;
    }
    lua_rawgeti(L, -2, i);
    const char *why = NULL;
    int rc = lua_istable(L, -1) ? sl_lua_table_to_record(L, -1, sl_batch_arena(b), rec, &why) : SL_ETYPE;
    if (rc == SL_ENOMEM) {
      /* A dead letter of a record that could not be copied would hold
       * nothing of it: stop, and the next start reads it again. */
      sl_batch_discard(b);
      lua_pop(L, 3);
      sl_stage_fatal(st, "out of memory");
      return;
    }
    if (rc) {
      memset(rec, 0, sizeof *rec);
      rec->meta.partition = -1;
      sl_record_fail(rec, sl_batch_arena(b), name, why ? why : "read returned a non-table record");
    }
    rec->meta.origin.ptr = name;
    rec->meta.origin.len = strlen(name);
    rec->meta.offset = -1;
    rec->meta.arrival_ms = now;
    lua_pop(L, 1);
  }
  /* The checkpoint (any Lua value) is kept until the batch is acknowledged. */
  sl_checkpoint cp = {0};
  cp.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  sl_batch_set_checkpoint(b, &cp);
  sl_source_emit(st, b);
}

static int source_start(sl_stage *st) {
  lua_stage *ls = sl_stage_priv(st);
  uv_idle_init(sl_stage_loop(st), &ls->idle);
  uv_timer_init(sl_stage_loop(st), &ls->timer);
  ls->idle.data = ls;
  ls->timer.data = ls;
  ls->handles_open = 1;
  uv_idle_start(&ls->idle, on_source_idle);
  return 0;
}

static void source_resume(sl_stage *st) {
  lua_stage *ls = sl_stage_priv(st);
  if (!ls->done && ls->handles_open) uv_idle_start(&ls->idle, on_source_idle);
}

static void source_stop(sl_stage *st) { source_finish(sl_stage_priv(st)); }

static void source_ack(sl_stage *st, const sl_checkpoint *cp) {
  lua_stage *ls = sl_stage_priv(st);
  lua_State *L = sl_stage_lua(st);
  if (get_callback(L, ls, "ack")) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->state_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cp->ref);
    if (sl_lua_pcall(ls->lua, 2, 0, &ls->err, NULL))
      sl_log_error(sl_stage_name(st), "ack failed: %s", ls->err.ptr);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, cp->ref);
}

const sl_plugin lua_source_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "lua.source",
    .doc = "Runs the sources Lua plugin files define (sl.plugin.source { ... }).",
    .priv_size = sizeof(lua_stage),
    .init = lua_stage_init,
    .destroy = lua_stage_destroy,
    .start = source_start,
    .resume = source_resume,
    .stop = source_stop,
    .ack = source_ack,
    .caps = SL_CAN_HOST_LUA,
};

/* ---- sink ---- */

/* Runs inside the protected call: making the views allocates, and a memory
 * error must not escape.  Upvalue 1: the sink batch; arguments: write, state. */
static int call_write(lua_State *L) {
  sl_sink_batch *sb = lua_touserdata(L, lua_upvalueindex(1));
  lua_createtable(L, (int)sb->n, 0);
  for (uint32_t i = 0; i < sb->n; i++) {
    sl_lua_push_record(L, sb->recs[i], sl_batch_arena(sb->batch));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_call(L, 2, 0);
  return 0;
}

static int sink_write(sl_stage *st, sl_sink_batch *sb) {
  lua_stage *ls = sl_stage_priv(st);
  lua_State *L = sl_stage_lua(st);
  lua_pushlightuserdata(L, sb);
  lua_pushcclosure(L, call_write, 1);
  get_callback(L, ls, "write");
  lua_rawgeti(L, LUA_REGISTRYINDEX, ls->state_ref);
  if (sl_lua_pcall(ls->lua, 2, 0, &ls->err, NULL)) {
    for (uint32_t i = 0; i < sb->n; i++) sl_sink_reject(sb, i, ls->err.ptr);
  }
  sl_lua_views_expire(L);
  sl_sink_done(sb);
  return 0;
}

static void sink_flush(sl_stage *st) {
  lua_stage *ls = sl_stage_priv(st);
  lua_State *L = sl_stage_lua(st);
  if (get_callback(L, ls, "flush")) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, ls->state_ref);
    if (sl_lua_pcall(ls->lua, 1, 0, &ls->err, NULL))
      sl_log_error(sl_stage_name(st), "flush failed: %s", ls->err.ptr);
  }
  sl_stage_flushed(st);
}

const sl_plugin lua_sink_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "lua.sink",
    .doc = "Runs the sinks Lua plugin files define (sl.plugin.sink { ... }).",
    .priv_size = sizeof(lua_stage),
    .init = lua_stage_init,
    .destroy = lua_stage_destroy,
    .write = sink_write,
    .flush = sink_flush,
    .caps = SL_CAN_HOST_LUA,
};
