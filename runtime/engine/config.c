/* The "sluice" Lua module and the pipeline descriptor.
 *
 * A pipeline file returns sl.pipeline { ... }.  Every constructor it calls
 * (sl.file.source { ... }, a Lua plugin's constructor) checks its options on
 * the spot, so a mistake is reported with the file and line of the call:
 *   pipeline.lua:4: file.source: unknown option 'pth' (did you mean 'path'?)
 * A constructor returns a stage descriptor, a table
 *   { kind = "source", plugin = "file.source", options = {...}, where = "pipeline.lua:4",
 *     def = <Lua plugin definition, for Lua plugins> }
 * that the engine turns into a running stage.  The same module is loaded into
 * every Lua state (the loop thread's and each worker's), so each evaluates the
 * pipeline file and finds its step functions at the same positions. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"
#include "engine/engine.h"
#include "catalog/catalog_int.h"
#include "sluice/clock.h"
#include "sluice/log.h"
#include "sluice/text.h"

#define DESC_MT "sluice.stage"
#define PIPELINE_MT "sluice.pipeline"
#define PLUGINS_KEY "sluice.plugins"      /* registry: name → constructor */
#define CTX_KEY "sluice.config"           /* registry: light userdata sl_config_ctx */

static const char *kind_name(sl_plugin_kind k) {
  return k == SL_SOURCE ? "source" : k == SL_STEP ? "step" : "sink";
}

static const sl_config_ctx *get_ctx(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY);
  const sl_config_ctx *c = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return c;
}

/* Pushes "file.lua:12: " for the nearest Lua function on the call stack:
 * like luaL_where(L, 1), but it sees through C wrappers such as a library
 * table's __call. [-0,+1] */
void sl__lua_where(lua_State *L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
  }
  lua_pushliteral(L, "");
}

/* Whether the value at idx is a table with the given registry metatable. */
static int has_mt(lua_State *L, int idx, const char *mt) {
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, mt);
  int eq = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return eq;
}

/* "file.lua:12:" of the caller, without the colon. */
static void push_where(lua_State *L) {
  sl__lua_where(L);
  size_t n;
  const char *w = lua_tolstring(L, -1, &n);
  while (n && (w[n - 1] == ' ' || w[n - 1] == ':')) n--;
  lua_pushlstring(L, w, n);
  lua_remove(L, -2);
}

/* Builds a descriptor from the options table at index 1. [-0,+1] */
static void push_descriptor(lua_State *L, sl_plugin_kind kind, const char *plugin,
                            int def_idx) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, kind_name(kind));
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, plugin);
  lua_setfield(L, -2, "plugin");
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "options");
  push_where(L);
  lua_setfield(L, -2, "where");
  if (def_idx) {
    lua_pushvalue(L, def_idx);
    lua_setfield(L, -2, "def");
  }
  luaL_setmetatable(L, DESC_MT);
}

/* A C plugin's constructor: upvalue 1 is the sl_plugin. */
static int c_constructor(lua_State *L) {
  const sl_plugin *pl = lua_touserdata(L, lua_upvalueindex(1));
  if (lua_gettop(L) == 0) lua_newtable(L);
  lua_settop(L, 1);
  sl_buf err = SL_BUF_INIT;
  if (sl_options_check(L, 1, pl->options, sl_registry_common(pl->kind), &err)) {
    lua_pushfstring(L, "%s: %s", pl->name, err.ptr ? err.ptr : "invalid options");
    sl_buf_free(&err);
    sl__lua_where(L);
    lua_insert(L, -2);
    lua_concat(L, 2);
    return lua_error(L);
  }
  sl_buf_free(&err);
  push_descriptor(L, pl->kind, pl->name, 0);
  return 1;
}

/* ---- Lua plugins ----
 * A Lua plugin file returns sl.plugin.source{...}, sl.plugin.step{...} or
 * sl.plugin.sink{...}: a definition with a name, an options declaration
 * { opt = { type = "string", required = true, default = ..., doc = "..." } }
 * and its callbacks. */

static const struct { const char *name; sl_opt_type type; const char *choices; } lua_types[] = {
    {"string", SL_OPT_STR, NULL},        {"path", SL_OPT_PATH, NULL},
    {"int", SL_OPT_INT, NULL},           {"integer", SL_OPT_INT, NULL},
    {"number", SL_OPT_DOUBLE, NULL},     {"bool", SL_OPT_BOOL, NULL},
    {"boolean", SL_OPT_BOOL, NULL},      {"duration", SL_OPT_DURATION, NULL},
    {"size", SL_OPT_SIZE, NULL},         {"enum", SL_OPT_ENUM, NULL},
    {"list", SL_OPT_STRLIST, NULL},      {"map", SL_OPT_MAP, NULL},
    {"function", SL_OPT_LUA, "function"}, {"table", SL_OPT_LUA, "table"},
    {"any", SL_OPT_LUA, NULL},           {NULL, 0, NULL}};

/* Turns a Lua plugin's option declarations into an sl_option array kept in a
 * userdata (its strings stay alive through the definition table, which the
 * constructor holds as an upvalue).  Raises on a malformed declaration. [-0,+1] */
static void push_option_spec(lua_State *L, int def, const char *pname) {
  lua_getfield(L, def, "options");
  int opts = lua_gettop(L);
  size_t n = 0;
  if (!lua_isnil(L, opts)) {
    luaL_checktype(L, opts, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, opts)) { n++; lua_pop(L, 1); }
  }
  sl_option *spec = lua_newuserdatauv(L, (n + 1) * sizeof *spec, 0);
  memset(spec, 0, (n + 1) * sizeof *spec);
  size_t i = 0;
  if (n) {
    lua_pushnil(L);
    while (lua_next(L, opts)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TTABLE)
        luaL_error(L, "plugin '%s': each option must be name = { type = ..., ... }", pname);
      sl_option *o = &spec[i++];
      o->name = lua_tostring(L, -2);
      lua_getfield(L, -1, "type");
      const char *ty = lua_isnil(L, -1) ? "any" : luaL_checkstring(L, -1);
      int found = 0;
      for (int k = 0; lua_types[k].name; k++)
        if (strcmp(ty, lua_types[k].name) == 0) {
          o->type = lua_types[k].type;
          o->choices = lua_types[k].choices;
          found = 1;
        }
      if (!found) luaL_error(L, "plugin '%s': option '%s' has unknown type '%s'", pname, o->name, ty);
      lua_pop(L, 1);
      if (o->type == SL_OPT_ENUM) {
        /* choices = { "a", "b" } becomes "a|b"; the string is kept in the
         * declaration so that it lives as long as the definition. */
        int decl = lua_gettop(L);
        if (lua_getfield(L, decl, "choices") != LUA_TTABLE)
          luaL_error(L, "plugin '%s': enum option '%s' needs choices = { ... }", pname, o->name);
        int choices = lua_gettop(L);
        lua_Integer m = (lua_Integer)lua_rawlen(L, choices);
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (lua_Integer k = 1; k <= m; k++) {
          if (k > 1) luaL_addchar(&b, '|');
          lua_rawgeti(L, choices, k);
          luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        lua_setfield(L, decl, "_choices");
        lua_pop(L, 1);
        lua_getfield(L, decl, "_choices");
        o->choices = lua_tostring(L, -1);
        lua_pop(L, 1);
      }
      lua_getfield(L, -1, "required");
      if (lua_toboolean(L, -1)) o->flags |= SL_REQUIRED;
      lua_pop(L, 1);
      lua_getfield(L, -1, "doc");
      o->doc = lua_tostring(L, -1);
      lua_pop(L, 1);
      lua_pop(L, 1);
    }
  }
  lua_remove(L, opts);
}

/* Applies defaults and converts paths, durations and sizes in the options
 * table at index 1 (a copy is made, the caller's table is left alone). */
static void normalise_lua_options(lua_State *L, int def, const sl_option *spec) {
  lua_newtable(L);
  int out = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, out);
  }
  lua_getfield(L, def, "options");
  int decl = lua_gettop(L);
  const sl_config_ctx *ctx = get_ctx(L);
  for (const sl_option *o = spec; o->name; o++) {
    lua_getfield(L, out, o->name);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_getfield(L, decl, o->name);
      lua_getfield(L, -1, "default");
      lua_remove(L, -2);
    }
    if (!lua_isnil(L, -1)) {
      if (o->type == SL_OPT_PATH && ctx && ctx->pipeline_dir) {
        const char *v = lua_tostring(L, -1);
        if (v[0] != '/' && strcmp(v, "-") != 0) {
          lua_pushfstring(L, "%s/%s", ctx->pipeline_dir, v);
          lua_remove(L, -2);
        }
      } else if (o->type == SL_OPT_DURATION && lua_type(L, -1) == LUA_TSTRING) {
        lua_Integer ms = sl_parse_duration_ms(lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushinteger(L, ms);
      } else if (o->type == SL_OPT_SIZE && lua_type(L, -1) == LUA_TSTRING) {
        lua_Integer sz = sl_parse_size(lua_tostring(L, -1));
        lua_pop(L, 1);
        lua_pushinteger(L, sz);
      }
    }
    lua_setfield(L, out, o->name);
  }
  lua_pop(L, 1);
  lua_replace(L, 1);
}

/* A Lua plugin's constructor: upvalue 1 the definition, 2 its option spec. */
static int lua_constructor(lua_State *L) {
  if (lua_gettop(L) == 0) lua_newtable(L);
  lua_settop(L, 1);
  int def = lua_upvalueindex(1);
  const sl_option *spec = lua_touserdata(L, lua_upvalueindex(2));
  lua_getfield(L, def, "name");
  const char *pname = lua_tostring(L, -1);
  lua_getfield(L, def, "kind");
  sl_plugin_kind kind = strcmp(lua_tostring(L, -1), "source") == 0 ? SL_SOURCE
                        : strcmp(lua_tostring(L, -1), "step") == 0 ? SL_STEP : SL_SINK;
  lua_pop(L, 1);
  sl_buf err = SL_BUF_INIT;
  if (sl_options_check(L, 1, spec, sl_registry_common(kind), &err)) {
    sl__lua_where(L);
    lua_pushfstring(L, "%s: %s", pname, err.ptr ? err.ptr : "invalid options");
    sl_buf_free(&err);
    lua_concat(L, 2);
    return lua_error(L);
  }
  sl_buf_free(&err);
  normalise_lua_options(L, def, spec);
  push_descriptor(L, kind, pname, def);
  return 1;
}

/* sl.plugin.source/step/sink { ... }: checks a definition and marks its kind. */
static int define_plugin(lua_State *L, sl_plugin_kind kind) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_getfield(L, 1, "name");
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "a plugin definition needs name = \"...\"");
  const char *name = lua_tostring(L, -1);
  static const char *const needs[] = {"read", "new", "write"};
  const char *need = needs[kind - 1];
  if (lua_getfield(L, 1, need) != LUA_TFUNCTION)
    luaL_error(L, "plugin '%s': a %s plugin needs a function '%s'", name, kind_name(kind), need);
  lua_pop(L, 2);
  lua_pushstring(L, kind_name(kind));
  lua_setfield(L, 1, "kind");
  push_option_spec(L, 1, name);    /* validates the declarations now */
  lua_pop(L, 1);
  return 1;
}
static int define_source(lua_State *L) { return define_plugin(L, SL_SOURCE); }
static int define_step(lua_State *L) { return define_plugin(L, SL_STEP); }
static int define_sink(lua_State *L) { return define_plugin(L, SL_SINK); }

/* Finds and loads the Lua plugin `name`, leaving its constructor. [-0,+1] */
static int load_lua_plugin(lua_State *L, const char *name, int raise) {
  lua_getfield(L, LUA_REGISTRYINDEX, PLUGINS_KEY);
  if (lua_getfield(L, -1, name) != LUA_TNIL) {
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 1);
  const sl_config_ctx *ctx = get_ctx(L);
  char path[4096];
  sl_buf seen = SL_BUF_INIT;
  for (const char *const *d = ctx ? ctx->search_path : NULL; d && *d; d++) {
    const char *pats[] = {"%s/plugins/%s.lua", "%s/%s.lua"};
    for (int k = 0; k < 2; k++) {
      snprintf(path, sizeof path, pats[k], *d, name);
      sl_buf_printf(&seen, "\n\t%s", path);
      FILE *f = fopen(path, "r");
      if (!f) continue;
      fclose(f);
      sl_buf_free(&seen);
      if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
      lua_call(L, 0, 1);
      if (lua_istable(L, -1) && !has_mt(L, -1, DESC_MT)) {
        lua_getfield(L, -1, "kind");
        int ok = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        if (!ok) luaL_error(L, "%s must return sl.plugin.source{...}, sl.plugin.step{...} or sl.plugin.sink{...}", path);
      } else {
        luaL_error(L, "%s must return a plugin definition", path);
      }
      lua_getfield(L, -1, "name");
      push_option_spec(L, lua_gettop(L) - 1, lua_tostring(L, -1));
      lua_remove(L, -2);
      lua_pushcclosure(L, lua_constructor, 2);
      lua_pushvalue(L, -1);
      lua_setfield(L, -3, name);
      lua_remove(L, -2);
      return 1;
    }
  }
  lua_pop(L, 1);
  if (!raise) {
    sl_buf_free(&seen);
    lua_pushnil(L);
    return 1;
  }
  sl__lua_where(L);
  lua_pushfstring(L, "no plugin named '%s'; looked for:%s", name, seen.ptr ? seen.ptr : "");
  lua_concat(L, 2);
  sl_buf_free(&seen);
  return lua_error(L);
}

/* sl.plugin "name" → the constructor of a Lua plugin. */
static int plugin_call(lua_State *L) {
  return load_lua_plugin(L, luaL_checkstring(L, 2), 1);
}

/* sl.<name> for a name the module does not have: a Lua plugin of that name. */
static int module_index(lua_State *L) {
  if (lua_type(L, 2) != LUA_TSTRING) return 0;
  return load_lua_plugin(L, lua_tostring(L, 2), 1);
}

/* ---- sl.pipeline ---- */

static const sl_option pipeline_options[] = {
    {"name", SL_OPT_STR, NULL, 0, 0, "Pipeline name: logs, state folder, metrics.", NULL},
    {"sources", SL_OPT_LUA, NULL, SL_REQUIRED, 0, "List of sources.", "table"},
    {"steps", SL_OPT_LUA, NULL, 0, 0, "List of steps: functions or step plugins.", "table"},
    {"sinks", SL_OPT_LUA, NULL, SL_REQUIRED, 0, "List of sinks.", "table"},
    {"dlq", SL_OPT_LUA, NULL, 0, 0, "Dead-letter sink.", "table"},
    {"batch_size", SL_OPT_INT, "1024", 0, 0, "Records per batch.", NULL},
    {"max_inflight_records", SL_OPT_INT, "16384", 0, 0, "Records in flight before sources pause (65536 with exactly_once).", NULL},
    {"max_inflight_bytes", SL_OPT_SIZE, "32MiB", 0, 0, "Bytes in flight before sources pause (64MiB with exactly_once).", NULL},
    {"workers", SL_OPT_INT, NULL, 0, 0, "Worker threads (default: number of cores).", NULL},
    {"exactly_once", SL_OPT_BOOL, "false", 0, 0, "The sink commits the sources' positions in its transactions (Kafka to Kafka).", NULL},
    {"limits", SL_OPT_LUA, NULL, 0, 0, "{ call_ms = 1000, memory_mb = 256 } per Lua state.", "table"},
    {"grants", SL_OPT_LUA, NULL, 0, 0, "{ io = true, os = true, c_modules = true, debug = true }.", "table"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_option *sl__pipeline_options(void) { return pipeline_options; }

static const sl_option limits_options[] = {
    {"call_ms", SL_OPT_DURATION, "1000", 0, 0, "Time budget of one Lua call.", NULL},
    {"memory_mb", SL_OPT_INT, "256", 0, 0, "Memory budget of one Lua state, MiB.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option grants_options[] = {
    {"io", SL_OPT_BOOL, "false", 0, 0, "The io library.", NULL},
    {"os", SL_OPT_BOOL, "false", 0, 0, "The whole os library.", NULL},
    {"c_modules", SL_OPT_BOOL, "false", 0, 0, "require of C modules.", NULL},
    {"debug", SL_OPT_BOOL, "false", 0, 0, "The debug library.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static void check_sub(lua_State *L, const char *field, const sl_option *opts) {
  if (lua_getfield(L, 1, field) == LUA_TTABLE) {
    sl_buf err = SL_BUF_INIT;
    if (sl_options_check(L, -1, opts, NULL, &err)) {
      sl__lua_where(L);
      lua_pushfstring(L, "sl.pipeline: %s: %s", field, err.ptr);
      sl_buf_free(&err);
      lua_concat(L, 2);
      lua_error(L);
    }
  }
  lua_pop(L, 1);
}

/* Checks that t.field is a list whose items are descriptors of kind (steps
 * may also be functions). */
static void check_list(lua_State *L, const char *field, const char *kind, int min) {
  int ty = lua_getfield(L, 1, field);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (has_mt(L, -1, DESC_MT)) {
    lua_getfield(L, -1, "plugin");
    luaL_error(L, "sl.pipeline: '%s' must be a list of stages: wrap the one stage in { } "
               "(%s = { sl.%s { ... } })", field, field, lua_tostring(L, -1));
  }
  if (lua_isfunction(L, -1))
    luaL_error(L, "sl.pipeline: '%s' must be a list: wrap the one function in { } "
               "(%s = { function (rec) ... end })", field, field);
  if (!lua_istable(L, -1))
    luaL_error(L, "sl.pipeline: '%s' must be a list of %ss ({ ... }), got %s", field, kind,
               luaL_typename(L, -1));
  lua_Integer n = luaL_len(L, -1);
  if (n < min)
    luaL_error(L, "sl.pipeline: '%s' needs at least %d item%s", field, min, min > 1 ? "s" : "");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, -1, i);
    if (strcmp(kind, "step") == 0 && lua_isfunction(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    if (!has_mt(L, -1, DESC_MT)) {
      static const char *const examples[] = {"", "sl.file.source { ... }",
                                             "a function or a step plugin such as sl.mask { ... }",
                                             "sl.file.sink { ... }"};
      int k = strcmp(kind, "source") == 0 ? 1 : strcmp(kind, "step") == 0 ? 2 : 3;
      luaL_error(L, "sl.pipeline: %s[%d] must be a %s (%s), got %s", field, (int)i, kind,
                 examples[k], luaL_typename(L, -1));
    }
    lua_getfield(L, -1, "kind");
    if (strcmp(lua_tostring(L, -1), kind) != 0) {
      /* Point at the misplaced stage's own line, not at sl.pipeline's. */
      lua_getfield(L, -2, "plugin");
      lua_getfield(L, -3, "where");
      lua_pushfstring(L, "%s: sl.pipeline: %s[%d] is a %s (%s), expected a %s", lua_tostring(L, -1),
                      field, (int)i, lua_tostring(L, -3), lua_tostring(L, -2), kind);
      lua_error(L);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

static int pipeline_ctor(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  /* The lists first: one stage given without its { } is a mistake worth
   * its own message, not the option check's "must be a table". */
  check_list(L, "sources", "source", 1);
  check_list(L, "steps", "step", 0);
  check_list(L, "sinks", "sink", 1);
  sl_buf err = SL_BUF_INIT;
  if (sl_options_check(L, 1, pipeline_options, NULL, &err)) {
    sl__lua_where(L);
    lua_pushfstring(L, "sl.pipeline: %s", err.ptr);
    sl_buf_free(&err);
    lua_concat(L, 2);
    return lua_error(L);
  }
  sl_buf_free(&err);
  if (lua_getfield(L, 1, "dlq") != LUA_TNIL) {
    lua_getfield(L, -1, "kind");
    if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), "sink") != 0)
      luaL_error(L, "sl.pipeline: 'dlq' must be a sink, such as sl.file.sink { ... }");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  check_sub(L, "limits", limits_options);
  check_sub(L, "grants", grants_options);
  if (lua_getfield(L, 1, "name") == LUA_TSTRING) {
    size_t n;
    const char *name = lua_tolstring(L, -1, &n);
    const char *problem = sl__pipeline_name_problem(name, n);
    if (problem) {
      sl__lua_where(L);
      lua_pushliteral(L, "sl.pipeline: 'name' ");
      sl_buf q = SL_BUF_INIT;
      sl_buf_json_string(&q, name, n > 80 ? 80 : n);
      lua_pushlstring(L, q.ptr ? q.ptr : "", q.len);
      sl_buf_free(&q);
      lua_pushfstring(L, " %s, but it names a folder under the state root "
                      "(no '/', no leading '.', no control characters)", problem);
      lua_concat(L, 4);
      lua_error(L);
    }
  }
  lua_pop(L, 1);
  lua_getfield(L, 1, "batch_size");
  if (!lua_isnil(L, -1) && (lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 1000000))
    luaL_error(L, "sl.pipeline: 'batch_size' must be between 1 and 1000000");
  lua_pop(L, 1);
  push_where(L);
  lua_setfield(L, 1, "where");
  luaL_setmetatable(L, PIPELINE_MT);
  return 1;
}

/* ---- small helpers ---- */

const char *sl__pipeline_name_problem(const char *name, size_t n) {
  if (n == 0) return "is empty";
  if (n > 200) return "is longer than 200 bytes";
  if (name[0] == '.') return "starts with '.'";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c == '/') return "contains '/'";
    if (c < 0x20 || c == 0x7f) return "contains a control character";
  }
  return NULL;
}

static int env_get(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *v = getenv(name);
  if (v) {
    /* It may be a credential: sluice's messages show its name instead. */
    sl__secret_add(name, v);
    lua_pushstring(L, v);
  } else {
    lua_settop(L, 2);
  }
  return 1;
}

static int log_at(lua_State *L, sl_log_level level) {
  int n = lua_gettop(L);
  if (n > 1) {
    /* sl.log.info(fmt, ...) formats like string.format. */
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "format");
    lua_remove(L, -2);
    lua_insert(L, 1);
    lua_call(L, n, 1);
  }
  const char *msg = luaL_tolstring(L, 1, NULL);
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
    const char *base = strrchr(ar.short_src, '/');
    sl_log(level, "lua", "%s:%d: %s", base ? base + 1 : ar.short_src, ar.currentline, msg);
  } else {
    sl_log(level, "lua", "%s", msg);
  }
  return 0;
}
static int log_debug(lua_State *L) { return log_at(L, SL_LOG_DEBUG); }
static int log_info(lua_State *L) { return log_at(L, SL_LOG_INFO); }
static int log_warn(lua_State *L) { return log_at(L, SL_LOG_WARN); }
static int log_error(lua_State *L) { return log_at(L, SL_LOG_ERROR); }

static int now_ms(lua_State *L) {
  lua_pushinteger(L, sl_now_ms());
  return 1;
}

/* __index of a namespace table (sl.file, sl.kafka, sl.clean): a name it
 * does not have is a mistake, said at the line that used it with the
 * nearest name, rather than a nil that fails later as "attempt to call a
 * nil value".  Upvalue 1: the namespace; 2: what it holds ("plugin"). */
static int namespace_index(lua_State *L) {
  const char *ns = lua_tostring(L, lua_upvalueindex(1));
  const char *what = lua_tostring(L, lua_upvalueindex(2));
  const char *key = luaL_tolstring(L, 2, NULL);
  const char *best = NULL;
  int bestd = 3;
  sl_buf names = SL_BUF_INIT;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) continue;
    /* The key stays in the table: its string outlives the stack slot. */
    const char *name = lua_tostring(L, -1);
    int d = sl_edit_distance(key, name);
    if (d < bestd) {
      bestd = d;
      best = name;
    }
    sl_buf_printf(&names, "%s%s.%s", names.len ? ", " : "", ns, name);
  }
  sl__lua_where(L);
  if (best) lua_pushfstring(L, "no %s named '%s.%s' (did you mean '%s.%s'?)", what, ns, key, ns, best);
  else lua_pushfstring(L, "no %s named '%s.%s' (there are: %s)", what, ns, key, names.ptr ? names.ptr : "none");
  sl_buf_free(&names);
  lua_concat(L, 2);
  return lua_error(L);
}

/* Gives the table at the top (namespace ns) a metatable, or uses the one it
 * has, whose __index raises namespace_index's error. [-0,+0] */
static void guard_namespace(lua_State *L, const char *ns, const char *what) {
  if (!lua_getmetatable(L, -1)) {
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setmetatable(L, -3);
  }
  lua_pushstring(L, ns);
  lua_pushstring(L, what);
  lua_pushcclosure(L, namespace_index, 2);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

/* Sets M.<a>.<b> = value at the top (for a plugin named "a.b"). [-1,+0] */
static void set_dotted(lua_State *L, int m, const char *name) {
  const char *dot = strchr(name, '.');
  if (!dot) {
    lua_setfield(L, m, name);
    return;
  }
  lua_pushlstring(L, name, (size_t)(dot - name));
  if (lua_rawget(L, m) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    char ns[64];
    snprintf(ns, sizeof ns, "%.*s", (int)(dot - name), name);
    guard_namespace(L, ns, "plugin");
    lua_pushlstring(L, name, (size_t)(dot - name));
    lua_pushvalue(L, -2);
    lua_rawset(L, m);
  }
  lua_insert(L, -2);
  lua_setfield(L, -2, dot + 1);
  lua_pop(L, 1);
}

/* __call of a library table: the plugin constructor in upvalue 1, without
 * the table itself as first argument.  The constructor reports errors at
 * level 1, which is this function's caller. */
static int call_constructor(lua_State *L) {
  lua_remove(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int open_module(lua_State *L) {
  lua_newtable(L);
  int m = lua_gettop(L);
  lua_pushcfunction(L, pipeline_ctor);
  lua_setfield(L, m, "pipeline");
  lua_pushcfunction(L, env_get);
  lua_setfield(L, m, "env");
  lua_pushcfunction(L, now_ms);
  lua_setfield(L, m, "now_ms");
  lua_pushstring(L, SLUICE_VERSION);
  lua_setfield(L, m, "version");
  sl__catalog_open(L, m);
  luaL_Reg logs[] = {{"debug", log_debug}, {"info", log_info}, {"warn", log_warn},
                     {"error", log_error}, {NULL, NULL}};
  luaL_newlib(L, logs);
  lua_setfield(L, m, "log");
  sl_lua_push_json_module(L);
  lua_setfield(L, m, "json");
  sl_lua_push_record_module(L);
  lua_setfield(L, m, "record");

  /* sl.plugin "name" loads a Lua plugin; sl.plugin.source{...} defines one. */
  luaL_Reg defs[] = {{"source", define_source}, {"step", define_step},
                     {"sink", define_sink}, {NULL, NULL}};
  luaL_newlib(L, defs);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, plugin_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
  lua_setfield(L, m, "plugin");

  for (const sl_plugin *const *pl = sl_registry_all(); *pl; pl++) {
    if ((*pl)->caps & SL_CAN_HOST_LUA) continue;   /* no constructor: see sl_registry_lua_host */
    lua_pushlightuserdata(L, (void *)*pl);
    lua_pushcclosure(L, c_constructor, 1);
    set_dotted(L, m, (*pl)->name);
  }

  for (const sl_lua_lib *const *lib = sl_registry_libs(); *lib; lib++) {
    (*lib)->open(L);   /* the library's table */
    if (lua_getfield(L, m, (*lib)->name) == LUA_TFUNCTION) {
      /* A plugin of the same name: calling the table calls its constructor. */
      lua_createtable(L, 0, 1);
      lua_pushvalue(L, -2);
      lua_pushcclosure(L, call_constructor, 1);
      lua_setfield(L, -2, "__call");
      lua_setmetatable(L, -3);
    }
    lua_pop(L, 1);
    guard_namespace(L, (*lib)->name, "function");
    lua_setfield(L, m, (*lib)->name);
  }

  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, module_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, m);
  return 1;
}

/* print() goes to the log: standard output may be a sink. */
static int print_to_log(lua_State *L) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  lua_replace(L, 1);
  lua_settop(L, 1);
  return log_at(L, SL_LOG_INFO);
}

static int open_config(lua_State *L) {
  const sl_config_ctx *ctx = lua_touserdata(L, 1);
  lua_pushcfunction(L, print_to_log);
  lua_setglobal(L, "print");
  lua_pushlightuserdata(L, (void *)ctx);
  lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, PLUGINS_KEY);
  luaL_newmetatable(L, DESC_MT);
  lua_pushstring(L, "sluice.stage");
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
  luaL_newmetatable(L, PIPELINE_MT);
  lua_pop(L, 1);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, open_module);
  lua_setfield(L, -2, "sluice");
  lua_pop(L, 1);
  return 0;
}

int sl_config_open(lua_State *L, const sl_config_ctx *ctx, sl_buf *err) {
  return sl_lua_cpcall(sl_lua_from(L), open_config, (void *)ctx, 0, err);
}

int sl_config_load(sl_lua *s, const char *file, const sl_buf *text, sl_buf *err) {
  lua_State *L = sl_lua_state(s);
  if (sl_lua_dotext(s, file, text->ptr, text->len, 1, err)) {
    if (sl_lua_timed_out(s) || sl_lua_over_memory(s)) {
      sl_buf msg = SL_BUF_INIT;
      sl_buf_printf(&msg, "%s: the top level of the file ran out of its %s budget (%.*s)", file,
                    sl_lua_timed_out(s) ? "time" : "memory", (int)err->len, err->ptr ? err->ptr : "");
      sl_buf_free(err);
      *err = msg;
    }
    return SL_ELUA;
  }
  if (sl_catalog_is(L, -1)) {
    const sl_config_ctx *ctx = get_ctx(L);
    if (!ctx || !ctx->check_only) {
      err->len = 0;
      sl_buf_printf(err, "%s: the file returns a catalog, not a pipeline: check it with "
                    "`sluice check %s`; a pipeline reads it with require (docs/metrics.md)", file, file);
      lua_pop(L, 1);
      return SL_EINVAL;
    }
    if (sl__catalog_check_pipeline(L, err)) return SL_ELUA;
  }
  if (!has_mt(L, -1, PIPELINE_MT)) {
    err->len = 0;
    sl_buf_printf(err, "%s: the file must return sl.pipeline { ... }, but it returned %s",
                  file, luaL_typename(L, -1));
    lua_pop(L, 1);
    return SL_EINVAL;
  }
  return 0;
}
