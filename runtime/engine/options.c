/* Declared options: checking a pipeline's Lua table against a plugin's option
 * table, and filling the plugin's config struct from it. */
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sluice/clock.h"
#include "sluice/text.h"

const char *sl_opt_type_name(sl_opt_type t) {
  switch (t) {
    case SL_OPT_STR: return "string";
    case SL_OPT_PATH: return "path";
    case SL_OPT_INT: return "integer";
    case SL_OPT_DOUBLE: return "number";
    case SL_OPT_BOOL: return "boolean";
    case SL_OPT_DURATION: return "duration";
    case SL_OPT_SIZE: return "size";
    case SL_OPT_ENUM: return "enum";
    case SL_OPT_STRLIST: return "list of strings";
    case SL_OPT_MAP: return "table of strings";
    case SL_OPT_LUA: return "Lua value";
  }
  return "?";
}

static const sl_option *find_opt(const sl_option *opts, const char *name) {
  for (const sl_option *o = opts; o && o->name; o++)
    if (strcmp(o->name, name) == 0) return o;
  return NULL;
}

static const char *closest(const sl_option *opts, const sl_option *common, const char *name) {
  const char *best = NULL;
  int bestd = 3;
  const sl_option *lists[2] = {opts, common};
  for (int l = 0; l < 2; l++)
    for (const sl_option *o = lists[l]; o && o->name; o++) {
      int d = sl_edit_distance(name, o->name);
      if (d < bestd) { bestd = d; best = o->name; }
    }
  return best;
}

static int enum_has(const char *choices, const char *v) {
  size_t n = strlen(v);
  const char *p = choices;
  while (p && *p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && memcmp(p, v, n) == 0) return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

/* Checks one value (at the top of the stack) against its option. */
static int check_value(lua_State *L, const sl_option *o, sl_buf *err) {
  int t = lua_type(L, -1);
  const char *want = NULL;
  switch (o->type) {
    case SL_OPT_STR:
    case SL_OPT_PATH:
      if (t != LUA_TSTRING) want = "a string";
      break;
    case SL_OPT_INT:
      if (!lua_isinteger(L, -1)) {
        if (t == LUA_TNUMBER) {
          lua_Number d = lua_tonumber(L, -1);
          if (d != (lua_Number)(long long)d) want = "an integer";
        } else {
          want = "an integer";
        }
      }
      break;
    case SL_OPT_DOUBLE:
      if (t != LUA_TNUMBER) want = "a number";
      break;
    case SL_OPT_BOOL:
      if (t != LUA_TBOOLEAN) want = "true or false";
      break;
    case SL_OPT_DURATION:
      if (t == LUA_TNUMBER) break;
      if (t != LUA_TSTRING || sl_parse_duration_ms(lua_tostring(L, -1)) < 0)
        want = "a duration such as \"500ms\", \"5s\" or \"1m\"";
      break;
    case SL_OPT_SIZE:
      if (t == LUA_TNUMBER) break;
      if (t != LUA_TSTRING || sl_parse_size(lua_tostring(L, -1)) < 0)
        want = "a size such as 65536, \"64KiB\" or \"16MiB\"";
      break;
    case SL_OPT_ENUM:
      if (t != LUA_TSTRING || !enum_has(o->choices, lua_tostring(L, -1))) {
        sl_buf_printf(err, "option '%s' must be one of %s", o->name, o->choices);
        if (t == LUA_TSTRING) sl_buf_printf(err, ", got \"%s\"", lua_tostring(L, -1));
        return SL_EOPTION;
      }
      break;
    case SL_OPT_STRLIST:
      if (t == LUA_TSTRING) break;
      if (t != LUA_TTABLE) { want = "a string or a list of strings"; break; }
      for (lua_Integer i = 1, n = (lua_Integer)luaL_len(L, -1); i <= n; i++) {
        int et = lua_geti(L, -1, i);
        lua_pop(L, 1);
        if (et != LUA_TSTRING) { want = "a list of strings"; break; }
      }
      break;
    case SL_OPT_MAP:
      if (t != LUA_TTABLE) { want = "a table of names and values"; break; }
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        int kt = lua_type(L, -2), vt = lua_type(L, -1);
        lua_pop(L, 1);
        if (kt != LUA_TSTRING ||
            (vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN)) {
          lua_pop(L, 1);
          want = "a table of names and string, number or boolean values";
          break;
        }
      }
      break;
    case SL_OPT_LUA:
      if (o->choices && strcmp(o->choices, "function") == 0 && t != LUA_TFUNCTION)
        want = "a function";
      else if (o->choices && strcmp(o->choices, "table") == 0 && t != LUA_TTABLE)
        want = "a table";
      else if (o->choices && strcmp(o->choices, "function|table") == 0 &&
               t != LUA_TFUNCTION && t != LUA_TTABLE)
        want = "a function or a table";
      else if (o->choices && strcmp(o->choices, "function|string") == 0 &&
               t != LUA_TFUNCTION && t != LUA_TSTRING)
        want = (o->flags & SL_RECORD_FIELD) ? "a field name or a function(rec)"
                                            : "a string or a function(rec)";
      break;
  }
  if (want) {
    sl_buf_printf(err, "option '%s' must be %s, got %s", o->name, want, luaL_typename(L, -1));
    return SL_EOPTION;
  }
  if ((o->type == SL_OPT_INT || o->type == SL_OPT_SIZE || o->type == SL_OPT_DURATION) &&
      t == LUA_TNUMBER && lua_tonumber(L, -1) < 0) {
    sl_buf_printf(err, "option '%s' must not be negative", o->name);
    return SL_EOPTION;
  }
  return 0;
}

int sl_options_check(lua_State *L, int t, const sl_option *opts,
                     const sl_option *common, sl_buf *err) {
  t = lua_absindex(L, t);
  if (!lua_istable(L, t)) {
    sl_buf_printf(err, "expected a table of options, got %s", luaL_typename(L, t));
    return SL_EOPTION;
  }
  luaL_checkstack(L, 4, "options");
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      sl_buf_printf(err, "option names must be strings, got %s", luaL_typename(L, -2));
      lua_pop(L, 2);
      return SL_EOPTION;
    }
    const char *name = lua_tostring(L, -2);
    const sl_option *o = find_opt(opts, name);
    if (!o) o = find_opt(common, name);
    if (!o) {
      const char *hint = closest(opts, common, name);
      sl_buf_printf(err, "unknown option '%s'", name);
      if (hint) sl_buf_printf(err, " (did you mean '%s'?)", hint);
      lua_pop(L, 2);
      return SL_EOPTION;
    }
    if (check_value(L, o, err)) {
      lua_pop(L, 2);
      return SL_EOPTION;
    }
    lua_pop(L, 1);
  }
  const sl_option *lists[2] = {opts, common};
  for (int l = 0; l < 2; l++)
    for (const sl_option *o = lists[l]; o && o->name; o++) {
      if (!(o->flags & SL_REQUIRED)) continue;
      int ty = lua_getfield(L, t, o->name);
      lua_pop(L, 1);
      if (ty == LUA_TNIL) {
        sl_buf_printf(err, "missing required option '%s' (%s: %s)", o->name,
                      sl_opt_type_name(o->type), o->doc ? o->doc : "");
        return SL_EOPTION;
      }
    }
  return 0;
}

static char *resolve_path(const char *basedir, const char *v) {
  if (!basedir || v[0] == '/' || strcmp(v, "-") == 0) return strdup(v);
  size_t n = strlen(basedir) + strlen(v) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s/%s", basedir, v);
  return s;
}

/* A list of n strings (NULL-terminated when whole) is kept only whole: a
 * NULL in it would end it early, and what came after would leak.  0, or
 * SL_ENOMEM with the list freed. */
static int keep_list(char **list, size_t n, char ***dst) {
  for (size_t i = 0; i < n; i++)
    if (!list[i]) {
      for (size_t j = 0; j < n; j++) free(list[j]);
      free(list);
      return SL_ENOMEM;
    }
  *dst = list;
  return 0;
}

/* Stores the value at the top of the stack (already checked) into cfg. */
static int fill_value(lua_State *L, const sl_option *o, void *cfg, const char *basedir) {
  char *dst = (char *)cfg + o->offset;
  switch (o->type) {
    case SL_OPT_STR:
    case SL_OPT_ENUM: {
      char *s = strdup(lua_tostring(L, -1));
      if (!s) return SL_ENOMEM;
      *(char **)dst = s;
      return 0;
    }
    case SL_OPT_PATH: {
      char *s = resolve_path(basedir, lua_tostring(L, -1));
      if (!s) return SL_ENOMEM;
      *(char **)dst = s;
      return 0;
    }
    case SL_OPT_INT:
      *(int64_t *)dst = lua_isinteger(L, -1) ? (int64_t)lua_tointeger(L, -1)
                                             : (int64_t)lua_tonumber(L, -1);
      return 0;
    case SL_OPT_DOUBLE:
      *(double *)dst = lua_tonumber(L, -1);
      return 0;
    case SL_OPT_BOOL:
      *(int *)dst = lua_toboolean(L, -1);
      return 0;
    case SL_OPT_DURATION:
      *(int64_t *)dst = lua_type(L, -1) == LUA_TNUMBER
                            ? (int64_t)lua_tonumber(L, -1)
                            : sl_parse_duration_ms(lua_tostring(L, -1));
      return 0;
    case SL_OPT_SIZE:
      *(int64_t *)dst = lua_type(L, -1) == LUA_TNUMBER ? (int64_t)lua_tonumber(L, -1)
                                                        : sl_parse_size(lua_tostring(L, -1));
      return 0;
    case SL_OPT_STRLIST: {
      size_t n = lua_type(L, -1) == LUA_TSTRING ? 1 : (size_t)luaL_len(L, -1);
      char **list = calloc(n + 1, sizeof *list);
      if (!list) return SL_ENOMEM;
      if (lua_type(L, -1) == LUA_TSTRING) {
        list[0] = strdup(lua_tostring(L, -1));
      } else {
        for (size_t i = 0; i < n; i++) {
          lua_geti(L, -1, (lua_Integer)i + 1);
          list[i] = strdup(lua_tostring(L, -1));
          lua_pop(L, 1);
        }
      }
      return keep_list(list, n, (char ***)dst);
    }
    case SL_OPT_MAP: {
      size_t n = 0;
      lua_pushnil(L);
      while (lua_next(L, -2)) { n++; lua_pop(L, 1); }
      char **kv = calloc(2 * n + 1, sizeof *kv);
      if (!kv) return SL_ENOMEM;
      size_t i = 0;
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        kv[i++] = strdup(lua_tostring(L, -2));
        if (lua_type(L, -1) == LUA_TBOOLEAN)
          kv[i++] = strdup(lua_toboolean(L, -1) ? "true" : "false");
        else
          kv[i++] = strdup(luaL_tolstring(L, -1, NULL)), lua_pop(L, 1);
        lua_pop(L, 1);
      }
      return keep_list(kv, 2 * n, (char ***)dst);
    }
    case SL_OPT_LUA:
      lua_pushvalue(L, -1);
      *(int *)dst = luaL_ref(L, LUA_REGISTRYINDEX);
      return 0;
  }
  return SL_EINVAL;
}

/* Defaults are written as text in the option table, as a user would write
 * them in a pipeline; numbers and booleans become Lua numbers and booleans. */
static void push_default(lua_State *L, const sl_option *o) {
  if (o->type == SL_OPT_INT)
    lua_pushinteger(L, strtoll(o->def, NULL, 10));
  else if (o->type == SL_OPT_DOUBLE)
    lua_pushnumber(L, strtod(o->def, NULL));
  else if (o->type == SL_OPT_BOOL)
    lua_pushboolean(L, strcmp(o->def, "true") == 0);
  else
    lua_pushstring(L, o->def);
}

int sl_options_fill(lua_State *L, int t, const sl_option *opts, void *cfg,
                    const char *basedir, sl_buf *err) {
  t = lua_absindex(L, t);
  for (const sl_option *o = opts; o && o->name; o++) {
    if (o->type == SL_OPT_LUA) *(int *)((char *)cfg + o->offset) = LUA_NOREF;
    lua_getfield(L, t, o->name);
    if (lua_isnil(L, -1) && o->def) {
      lua_pop(L, 1);
      push_default(L, o);
    }
    if (!lua_isnil(L, -1)) {
      int rc = fill_value(L, o, cfg, basedir);
      if (rc) {
        lua_pop(L, 1);
        sl_buf_printf(err, "option '%s': %s", o->name, sl_strerror(rc));
        return rc;
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}

void sl_options_free(lua_State *L, const sl_option *opts, void *cfg) {
  if (!cfg) return;
  for (const sl_option *o = opts; o && o->name; o++) {
    char *dst = (char *)cfg + o->offset;
    switch (o->type) {
      case SL_OPT_STR:
      case SL_OPT_PATH:
      case SL_OPT_ENUM:
        free(*(char **)dst);
        *(char **)dst = NULL;
        break;
      case SL_OPT_STRLIST:
      case SL_OPT_MAP: {
        char **list = *(char ***)dst;
        for (size_t i = 0; list && list[i]; i++) free(list[i]);
        free(list);
        *(char ***)dst = NULL;
        break;
      }
      case SL_OPT_LUA:
        if (L) luaL_unref(L, LUA_REGISTRYINDEX, *(int *)dst);
        *(int *)dst = LUA_NOREF;
        break;
      default:
        break;
    }
  }
}

void sl_options_describe(const sl_option *opts, sl_buf *out) {
  for (const sl_option *o = opts; o && o->name; o++) {
    sl_buf_printf(out, "    %-18s %-10s", o->name,
                  o->type == SL_OPT_ENUM ? o->choices : sl_opt_type_name(o->type));
    if (o->flags & SL_REQUIRED) sl_buf_puts(out, " required.");
    else if (o->def) sl_buf_printf(out, " default %s.", o->def);
    sl_buf_printf(out, " %s\n", o->doc ? o->doc : "");
  }
}
