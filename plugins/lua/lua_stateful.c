/* sl.stateful: a stateful step written in Lua, with a keyed store.  It
 * runs on its lane (sluice/stateful.h) in a Lua state of its own, made
 * from the pipeline file like a worker's (sl_stage_lua_new), so its
 * functions see each source's records in order and the store needs no
 * lock.
 *
 *   sl.stateful {
 *     key       = "field" | function(rec) -> string or number,
 *     apply     = function(state, rec, emit, key) -> nil | true (pass rec on) | false (drop it),
 *     every     = "10s",   tick = function(keys, now_ms, emit),
 *     batch_end = function(keys, touched, emit),
 *     finish    = function(keys, emit),
 *     restore_from = "out.jsonl",   restore = function(keys, rec),
 *   }
 *
 * The store, `keys`, is a table key -> state; `state` is keys[key], a table
 * made on the key's first record.  emit(t) sends a record made from table
 * t after the current one (in tick and finish: in a batch of the lane's
 * own).  touched holds the keys applied in the batch.  restore is called
 * at start for each record of restore_from (the JSON Lines a sink wrote),
 * so that the store is rebuilt from where its results are durable.
 *
 * Every call into Lua is one sl_lua_pcall of a C function that does the
 * whole step (key, state, the user's function) inside the protected call:
 * making a table, a view or a string may raise a memory error, and that
 * must not unwind through the lane. */
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/log.h"
#include "sluice/lua.h"
#include "sluice/plugin.h"

typedef struct keyed_cfg {
  int key, apply, tick, finish, batch_end, restore;   /* SL_OPT_LUA (the loop state's: unused) */
  int64_t every;
  char *restore_from;
} keyed_cfg;

typedef struct keyed {
  lua_State *L;           /* the lane's own state */
  sl_lua *lua;
  int fn_key, fn_apply, fn_tick, fn_finish, fn_batch_end, fn_restore;   /* refs in L, or LUA_NOREF */
  const char *key_field;  /* key as a field name (kept alive in L's registry) */
  size_t key_len;
  int keys_ref, touched_ref, emit_ref;
  sl_step_out *out;       /* the output of the call under way, for emit */
  sl_record *parent;      /* the record being applied: emitted records take its meta */
  sl_buf err;
} keyed;

/* ---- emit ---- */

static int keyed_emit(lua_State *L) {
  keyed *k = lua_touserdata(L, lua_upvalueindex(1));
  if (!k->out) return luaL_error(L, "emit called outside apply, tick, batch_end or finish");
  luaL_checktype(L, 1, LUA_TTABLE);
  sl_arena *a = sl_step_arena(k->out);
  sl_record *r = sl_arena_alloc(a, sizeof *r);
  if (!r) return luaL_error(L, "emit: no memory for the record (limits.memory_mb)");
  const char *why = NULL;
  int rc = sl_lua_table_to_record(L, 1, a, r, &why);
  if (rc) return luaL_error(L, "emit: %s", why ? why : sl_strerror(rc));
  if (k->parent) r->meta = k->parent->meta;
  rc = sl_step_emit(k->out, r);
  if (rc == SL_ETOOBIG)
    return luaL_error(L, "emit: more records than may be made for a batch (max_inflight_records for "
                      "one record, limits.memory_mb for a batch)");
  if (rc) return luaL_error(L, "emit: %s", sl_strerror(rc));
  return 0;
}

/* ---- the calls, each run inside sl_lua_pcall ---- */

/* Pushes the key of rec. [-0,+1,e] */
static void push_key(lua_State *L, keyed *k, sl_record *rec, sl_arena *a) {
  if (k->fn_key != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->fn_key);
    sl_lua_push_record(L, rec, a);
    lua_call(L, 1, 1);
  } else {
    sl_value *v = sl_record_get(rec, k->key_field, k->key_len);
    if (!v || v->type == SL_T_NULL) luaL_error(L, "no value for the key field '%s'", k->key_field);
    if (sl_lua_push_value(L, v, a)) luaL_error(L, "the key field '%s' cannot be read", k->key_field);
  }
  int t = lua_type(L, -1);
  if (t == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1)) luaL_error(L, "the key is NaN");
  if (t != LUA_TSTRING && t != LUA_TNUMBER)
    luaL_error(L, t == LUA_TNIL ? "no key for this record (key gave nil)"
                                : "the key must be a string or a number, not %s", lua_typename(L, t));
}

/* (k, rec) -> keep: the record's state, made on first use, given to apply. */
static int apply_call(lua_State *L) {
  keyed *k = lua_touserdata(L, 1);
  sl_record *rec = lua_touserdata(L, 2);
  sl_arena *a = sl_step_arena(k->out);
  push_key(L, k, rec, a);
  int key = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->keys_ref);      /* [-0,+1] keys */
  lua_pushvalue(L, key);
  if (lua_rawget(L, -2) == LUA_TNIL) {                 /* [-1,+1] keys[key] */
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, key);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);                                 /* keys[key] = {} */
  }
  int state = lua_gettop(L);
  if (k->fn_batch_end != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->touched_ref);
    lua_pushvalue(L, key);
    lua_pushvalue(L, state);
    lua_rawset(L, -3);                                 /* touched[key] = state */
    lua_pop(L, 1);
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->fn_apply);
  lua_pushvalue(L, state);
  sl_lua_push_record(L, rec, a);
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->emit_ref);
  lua_pushvalue(L, key);
  lua_call(L, 4, 1);
  int drop = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
  if (!drop && !lua_isnil(L, -1) && !lua_isboolean(L, -1))
    return luaL_error(L, "apply must return nothing, true (pass the record on) or false (drop it), "
                      "not %s", luaL_typename(L, -1));
  lua_pushboolean(L, !drop);
  return 1;
}

/* (k, ref, now_ms or nil): tick(keys, now_ms, emit), finish(keys, emit),
 * batch_end(keys, touched, emit) (touched is then emptied). */
static int hook_call(lua_State *L) {
  keyed *k = lua_touserdata(L, 1);
  int ref = (int)lua_tointeger(L, 2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->keys_ref);
  int nargs = 2;
  if (ref == k->fn_tick) {
    lua_pushvalue(L, 3);
    nargs++;
  } else if (ref == k->fn_batch_end) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->touched_ref);
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, k->touched_ref);
    nargs++;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->emit_ref);
  lua_call(L, nargs, 0);
  return 0;
}

/* (k, value, arena): restore(keys, rec) for one record of restore_from. */
static int restore_call(lua_State *L) {
  keyed *k = lua_touserdata(L, 1);
  sl_value *v = lua_touserdata(L, 2);
  sl_arena *a = lua_touserdata(L, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->fn_restore);
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->keys_ref);
  if (sl_lua_push_value(L, v, a)) return luaL_error(L, "the record cannot be read");
  lua_call(L, 2, 0);
  return 0;
}

/* ---- the stateful step ---- */

static int keyed_apply(sl_stage *st, sl_step_out *out, sl_record *rec) {
  keyed *k = sl_stage_priv(st);
  lua_State *L = k->L;
  k->out = out;
  k->parent = rec;
  lua_pushcfunction(L, apply_call);
  lua_pushlightuserdata(L, k);
  lua_pushlightuserdata(L, rec);
  int rc = sl_lua_pcall(k->lua, 2, 1, &k->err, NULL);
  sl_lua_views_expire(L);
  k->out = NULL;
  k->parent = NULL;
  if (rc) {
    sl_step_fail(out, rec, k->err.ptr ? k->err.ptr : "Lua error");
    return SL_ELUA;
  }
  int keep = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return keep ? SL_STEP_KEEP : SL_STEP_DROP;
}

/* A call without a record: an error is logged (there is no record to
 * dead-letter); what it emitted before the error goes out. */
static void call_hook(sl_stage *st, sl_step_out *out, int ref, const char *name, int64_t now_ms) {
  keyed *k = sl_stage_priv(st);
  lua_State *L = k->L;
  k->out = out;
  lua_pushcfunction(L, hook_call);
  lua_pushlightuserdata(L, k);
  lua_pushinteger(L, ref);
  lua_pushinteger(L, now_ms);
  if (sl_lua_pcall(k->lua, 3, 0, &k->err, NULL))
    sl_log_error(sl_stage_name(st), "%s failed: %s", name, k->err.ptr ? k->err.ptr : "Lua error");
  k->out = NULL;
}

static void keyed_tick(sl_stage *st, sl_step_out *out, int64_t now_ms) {
  call_hook(st, out, ((keyed *)sl_stage_priv(st))->fn_tick, "tick", now_ms);
}

static void keyed_finish(sl_stage *st, sl_step_out *out) {
  keyed *k = sl_stage_priv(st);
  if (k->fn_finish != LUA_NOREF) call_hook(st, out, k->fn_finish, "finish", 0);
}

static void keyed_batch_end(sl_stage *st, sl_step_out *out) {
  keyed *k = sl_stage_priv(st);
  if (k->fn_batch_end != LUA_NOREF) call_hook(st, out, k->fn_batch_end, "batch_end", 0);
}

/* Each record of restore_from through restore (a missing file: nothing). */
static int keyed_restore(sl_stage *st) {
  keyed_cfg *cfg = sl_stage_config(st);
  keyed *k = sl_stage_priv(st);
  if (!cfg->restore_from || k->fn_restore == LUA_NOREF) return 0;
  FILE *f = fopen(cfg->restore_from, "r");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0, lines = 0, skipped = 0;
  ssize_t len;
  sl_arena a;
  sl_arena_init(&a);
  int rc = 0;
  while (!rc && (len = getline(&line, &cap, f)) > 0) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    if (!len) continue;
    sl_value v;
    const char *why = NULL;
    sl_arena_reset(&a);
    if (sl_json_parse(line, (size_t)len, &a, &v, &why) || v.type != SL_T_OBJECT) {
      skipped++;
      continue;
    }
    lines++;
    lua_pushcfunction(k->L, restore_call);
    lua_pushlightuserdata(k->L, k);
    lua_pushlightuserdata(k->L, &v);
    lua_pushlightuserdata(k->L, &a);
    if (sl_lua_pcall(k->lua, 3, 0, &k->err, NULL)) {
      sl_log_error(sl_stage_name(st), "restore failed on record %zu of %s: %s", lines,
                   cfg->restore_from, k->err.ptr ? k->err.ptr : "Lua error");
      rc = SL_ELUA;
    }
  }
  free(line);
  fclose(f);
  sl_arena_free(&a);
  if (!rc)
    sl_log_info(sl_stage_name(st), "restored from %zu records of %s%s", lines, cfg->restore_from,
                skipped ? " (lines that are not JSON objects skipped)" : "");
  return rc;
}

/* ---- init: the lane's state, the functions found in it ---- */

/* What the options say together (each one's type is checked already):
 * NULL, or why they do not fit. */
static const char *options_problem(lua_State *L, int opts) {
  int has[4];
  const char *names[4] = {"every", "tick", "restore_from", "restore"};
  for (int i = 0; i < 4; i++) {
    lua_getfield(L, opts, names[i]);
    has[i] = !lua_isnil(L, -1);
    lua_pop(L, 1);
  }
  if (has[0] != has[1]) return has[1] ? "tick needs every = \"10s\" (its interval)" : "every needs tick = function(keys, now_ms, emit)";
  if (has[2] != has[3]) return has[3] ? "restore needs restore_from = \"file.jsonl\"" : "restore_from needs restore = function(keys, rec)";
  return NULL;
}

static int keyed_check(sl_stage *st) {
  lua_State *L = sl_stage_lua(st);
  sl_stage_push_descriptor(st);
  lua_getfield(L, -1, "options");
  const char *problem = options_problem(L, lua_gettop(L));
  lua_pop(L, 2);
  if (!problem) return 0;
  sl_log_error(sl_stage_name(st), "%s: %s", sl_stage_where(st), problem);
  return SL_EOPTION;
}

/* luaL_ref of options[name] if it is set, else LUA_NOREF. */
static int ref_of(lua_State *L, int opts, const char *name) {
  lua_getfield(L, opts, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return LUA_NOREF;
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* (k, descriptor): the functions and tables of the store, in the lane's
 * state (inside the protected call: each may raise a memory error). */
static int setup_call(lua_State *L) {
  keyed *k = lua_touserdata(L, 1);
  lua_getfield(L, 2, "options");
  int opts = lua_gettop(L);
  lua_getfield(L, opts, "key");
  if (lua_type(L, -1) == LUA_TSTRING) {
    k->key_field = lua_tolstring(L, -1, &k->key_len);
    luaL_ref(L, LUA_REGISTRYINDEX);   /* keeps the string alive with the state */
  } else {
    k->fn_key = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  k->fn_apply = ref_of(L, opts, "apply");
  k->fn_tick = ref_of(L, opts, "tick");
  k->fn_finish = ref_of(L, opts, "finish");
  k->fn_batch_end = ref_of(L, opts, "batch_end");
  k->fn_restore = ref_of(L, opts, "restore");
  lua_newtable(L);
  k->keys_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  k->touched_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, k);
  lua_pushcclosure(L, keyed_emit, 1);
  k->emit_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

static int keyed_init(sl_stage *st) {
  keyed_cfg *cfg = sl_stage_config(st);
  keyed *k = sl_stage_priv(st);
  if (keyed_check(st)) return SL_EOPTION;
  k->fn_key = k->fn_apply = k->fn_tick = k->fn_finish = k->fn_batch_end = k->fn_restore = LUA_NOREF;
  k->L = sl_stage_lua_new(st, &k->err);
  if (!k->L) {
    sl_log_error(sl_stage_name(st), "%s: cannot make the lane's Lua state: %s", sl_stage_where(st),
                 k->err.ptr ? k->err.ptr : "out of memory");
    return SL_ELUA;
  }
  k->lua = sl_lua_from(k->L);
  lua_pushcfunction(k->L, setup_call);
  lua_insert(k->L, -2);
  lua_pushlightuserdata(k->L, k);
  lua_insert(k->L, -2);
  int rc = sl_lua_pcall(k->lua, 2, 0, &k->err, NULL);
  lua_settop(k->L, 0);
  if (rc) {
    sl_log_error(sl_stage_name(st), "%s: %s", sl_stage_where(st), k->err.ptr ? k->err.ptr : "Lua error");
    return rc;
  }
  if (cfg->every > 0) sl_stateful_tick(st, cfg->every);
  return 0;
}

static void keyed_destroy(sl_stage *st) {
  keyed *k = sl_stage_priv(st);
  sl_stage_lua_free(k->L);
  sl_buf_free(&k->err);
}

static const sl_option keyed_options[] = {
    {"key", SL_OPT_LUA, NULL, SL_REQUIRED | SL_RECORD_FIELD, offsetof(keyed_cfg, key), "Field name, or function(rec) -> string or number: the key whose state a record updates. A record without one is a dead letter.", "function|string"},
    {"apply", SL_OPT_LUA, NULL, SL_REQUIRED, offsetof(keyed_cfg, apply), "function(state, rec, emit, key): updates the key's state (a table) with the record, in its source's order; returns nothing or true to pass the record on, false to drop it. emit(t) sends a new record after it.", "function"},
    {"every", SL_OPT_DURATION, NULL, 0, offsetof(keyed_cfg, every), "Interval of tick (\"10s\").", NULL},
    {"tick", SL_OPT_LUA, NULL, 0, offsetof(keyed_cfg, tick), "function(keys, now_ms, emit): every `every`, between batches (close windows, say). keys is the whole store.", "function"},
    {"batch_end", SL_OPT_LUA, NULL, 0, offsetof(keyed_cfg, batch_end), "function(keys, touched, emit): after each batch; touched holds the keys its records updated.", "function"},
    {"finish", SL_OPT_LUA, NULL, 0, offsetof(keyed_cfg, finish), "function(keys, emit): once, when every source has ended (not on a stop).", "function"},
    {"restore_from", SL_OPT_PATH, NULL, 0, offsetof(keyed_cfg, restore_from), "JSON Lines file (a sink's) whose records restore is given at start.", NULL},
    {"restore", SL_OPT_LUA, NULL, 0, offsetof(keyed_cfg, restore), "function(keys, rec): rebuilds the store from one record of restore_from.", "function"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const sl_stateful keyed_stateful = {
    .restore = keyed_restore,
    .apply = keyed_apply,
    .batch_end = keyed_batch_end,
    .tick = keyed_tick,
    .finish = keyed_finish,
};

const sl_plugin lua_stateful_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_STEP,
    .name = "stateful",
    .doc = "A stateful step in Lua with a keyed store: apply per record in its source's order, tick, batch_end, finish (on its own lane).",
    .options = keyed_options,
    .config_size = sizeof(keyed_cfg),
    .priv_size = sizeof(keyed),
    .init = keyed_init,
    .check = keyed_check,
    .destroy = keyed_destroy,
    .stateful = &keyed_stateful,
};
