/* Opening what a script gets: the choice of libraries, a text-only load,
 * require over the pipeline's search path, and sl_lua_new, which puts a
 * bare state (state.c) and these libraries together.  This is the top of
 * the bridge: it calls into every other file and none calls into it.
 *
 * What a script gets is decided here and nowhere else: base (without dofile
 * and loadfile, with a load that takes text only), string (without dump, its
 * pattern functions ours so that the time budget stops them: pattern.c),
 * table, math, utf8, coroutine, and os.time/clock/date/difftime.  Grants add
 * io, all of os, C modules and debug.  Bytecode never loads, granted or not:
 * a crafted binary chunk can break the VM's memory safety. */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "lua/sl_lua_int.h"
#include "sluice/errors.h"

/* Registry key of the C searchers kept from the package library when C
 * modules are granted. */
static const char csearchers_key = 0;

/* ---- replaced base and string functions ---- */

/* A long text chunk is handed to load in pieces of LOAD_PIECE by this
 * reader (upvalues: the text, the offset reached), which polls the time
 * budget before each: Lua's parser runs in C, out of the hook's reach, and
 * 80 MB of text take it seconds. */
#define LOAD_PIECE ((size_t)64 << 10)
static int load_piece(lua_State *L) {
  size_t len;
  const char *text = lua_tolstring(L, lua_upvalueindex(1), &len);
  size_t at = (size_t)lua_tointeger(L, lua_upvalueindex(2));
  sl__budget_poll(L);
  if (at >= len) return 0;
  size_t k = len - at < LOAD_PIECE ? len - at : LOAD_PIECE;
  lua_pushinteger(L, (lua_Integer)(at + k));
  lua_replace(L, lua_upvalueindex(2));
  lua_pushlstring(L, text + at, k);
  return 1;
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to "t".  The
 * original is upvalue 1; env is passed on only if given, because load tells
 * an absent env from a nil one.  A long text goes through load_piece, named
 * as load names a text (after itself) unless a name is given. */
static int sb_load(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checkany(L, 1);
  luaL_checkstack(L, 6, NULL);
  int pieces = lua_type(L, 1) == LUA_TSTRING && lua_rawlen(L, 1) > LOAD_PIECE;
  lua_pushvalue(L, lua_upvalueindex(1));
  if (pieces) {
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, load_piece, 2);
  } else {
    lua_pushvalue(L, 1);
  }
  if (n >= 2 && !lua_isnil(L, 2)) lua_pushvalue(L, 2);
  else if (pieces) lua_pushvalue(L, 1);
  else lua_pushnil(L);
  lua_pushliteral(L, "t");
  int nargs = 3;
  if (n >= 4) {
    lua_pushvalue(L, 4);
    nargs = 4;
  }
  lua_call(L, nargs, LUA_MULTRET);
  /* A reader function runs inside load's protection: load would turn a
   * budget error raised in it into a nil return. */
  if (lua_isnil(L, n + 1)) sl__budget_recheck(L);
  return lua_gettop(L) - n;
}

/* setmetatable without __gc: a finalizer runs with hooks disabled, so a
 * loop in one could not be stopped by the time budget. */
static int sb_setmetatable(lua_State *L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "__gc metamethods are not allowed in the sandbox "
                           "(a finalizer cannot be stopped by the time budget)");
    lua_pop(L, 1);
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

/* string.rep with an empty string and an empty separator would loop n times
 * in C, out of the time budget's reach (string.rep("", 1e18)). */
static int sb_rep(lua_State *L) {
  size_t l, lsep = 0;
  luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checklstring(L, 3, &lsep);
  if (l + lsep == 0 || n <= 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  int nargs = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, nargs, 1);
  return 1;
}

/* table.move(a1, f, e, t [, a2]) over a range the memory budget does not
 * bound (the elements may all be nil: table.move({}, 1, 1e15, 2)) would
 * loop in C, out of the time budget's reach.  Moved in slices of MOVE_SLICE
 * by the original, the budget polled between them; the slices go in the
 * order that keeps an overlapping move within one table right. */
#define MOVE_SLICE 4096
static int sb_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
  lua_Integer t = luaL_checkinteger(L, 4);
  int tt = lua_isnoneornil(L, 5) ? 1 : 5;
  if (e < f || (lua_Unsigned)e - (lua_Unsigned)f < MOVE_SLICE) {   /* small: the original does it all */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
  }
  luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
  lua_Integer n = e - f + 1;
  luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
  int down = !(t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ)));
  for (lua_Integer done = 0; done < n; done += MOVE_SLICE) {
    lua_Integer k = n - done < MOVE_SLICE ? n - done : MOVE_SLICE;
    lua_Integer at = down ? n - done - k : done;   /* the slice's offset in the range */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushinteger(L, f + at);
    lua_pushinteger(L, f + at + k - 1);
    lua_pushinteger(L, t + at);
    lua_pushvalue(L, tt);
    lua_call(L, 5, 0);
    sl__budget_poll(L);
  }
  lua_pushvalue(L, tt);
  return 1;
}

/* Replaces t[name] (t at idx) with fn closed over the old value. [-0,+0,m] */
static void wrap_field(lua_State *L, int idx, const char *name, lua_CFunction fn) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, idx, name);                 /* [-0,+1] the original */
  lua_pushcclosure(L, fn, 1);                 /* [-1,+1] */
  lua_setfield(L, idx, name);                 /* [-1,+0] */
}

static void remove_field(lua_State *L, int idx, const char *name) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  lua_setfield(L, idx, name);
}

/* ---- require ---- */

/* What package.loaded[name] holds while that module's file runs: a module
 * that requires itself, directly or through others, is told so at once
 * instead of recursing until the C stack overflows. */
static const char loading_key = 0;

/* require(name): package.loaded, then package.preload, then name with dots
 * as slashes + ".lua" and + "/init.lua" in each search directory, loaded as
 * text with chunkname "@<path>", then (if granted) the C searchers. */
static int sb_require(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len > 0 && strlen(name) == len, 1, "invalid module name");
  lua_settop(L, 1);
  luaL_checkstack(L, 8, NULL);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);           /* 2 */
  lua_getfield(L, 2, name);
  if (lua_touserdata(L, -1) == &loading_key)
    return luaL_error(L, "module '%s' requires itself (directly or through other modules) "
                         "while it is being loaded", name);
  if (lua_toboolean(L, -1)) return 1;
  lua_settop(L, 2);

  /* Each way of finding the module leaves the loader at 3 and the extra
   * argument it gets at 4. */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);                                              /* 3 */
  if (!lua_isnil(L, 3)) {
    lua_pushliteral(L, ":preload:");                              /* 4 */
  } else {
    lua_settop(L, 2);
    /* The paths tried go to the state's scratch buffer: a luaL_Buffer would
     * sit on the stack among the values this function moves around, and a
     * buffer of our own would leak if a Lua error cut the search short. */
    sl_buf *seen = &s->tmp;
    seen->len = 0;
    seen->oom = 0;
    const char *modpath = luaL_gsub(L, name, ".", "/");          /* 3 */
    int found = 0;
    for (char **d = s->search_path; d && *d && !found; d++) {
      static const char *const pats[] = {"%s/%s.lua", "%s/%s/init.lua"};
      for (int k = 0; k < 2 && !found; k++) {
        const char *path = lua_pushfstring(L, pats[k], *d, modpath);   /* 4 */
        int st = luaL_loadfilex(L, path, "t");                         /* 5 */
        if (st == LUA_OK) {
          lua_copy(L, 5, 3);
          lua_settop(L, 4);
          found = 1;
        } else if (st == LUA_ERRFILE) {
          if (seen->len) sl_buf_puts(seen, ", ");
          sl_buf_puts(seen, path);
          lua_settop(L, 3);
        } else {
          return luaL_error(L, "error loading module '%s' from file '%s': %s", name,
                            path, lua_tostring(L, 5));
        }
      }
    }
    if (!found && s->grants.c_modules) {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &csearchers_key);            /* 4 */
      for (lua_Integer i = 1; !found && lua_rawgeti(L, 4, i) == LUA_TFUNCTION; i++) {
        lua_pushstring(L, name);
        lua_call(L, 1, 2);                    /* 5, 6: loader and data, or a message */
        if (lua_isfunction(L, 5)) {
          lua_copy(L, 5, 3);
          lua_copy(L, 6, 4);
          found = 1;
        } else if (lua_type(L, 5) == LUA_TSTRING) {
          if (seen->len) sl_buf_puts(seen, ", ");
          sl_buf_puts(seen, lua_tostring(L, 5));
        }
        lua_settop(L, 4);
      }
      if (!found) lua_settop(L, 3);
    }
    if (!found) {
      /* The C searchers say "\n\tno file '...'": keep the message one line. */
      for (size_t i = 0; i < seen->len; i++)
        if (seen->ptr[i] == '\n' || seen->ptr[i] == '\t') seen->ptr[i] = ' ';
      lua_pushlstring(L, seen->ptr ? seen->ptr : "", seen->len);
      const char *list = lua_tostring(L, -1);
      return luaL_error(L, "module '%s' not found (tried: %s)", name,
                        list[0] ? list : "nothing, the search path is empty");
    }
  }

  lua_pushlightuserdata(L, (void *)&loading_key);
  lua_setfield(L, 2, name);
  lua_pushvalue(L, 3);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 4);
  /* Protected only to take the marker away again: the error goes on as it
   * was (a budget error too: no Lua instruction runs in between). */
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {     /* [-3,+1] what the module returned */
    lua_pushnil(L);
    lua_setfield(L, 2, name);
    return lua_error(L);
  }
  if (!lua_isnil(L, -1)) lua_setfield(L, 2, name);
  else lua_pop(L, 1);
  lua_getfield(L, 2, name);
  if (lua_isnil(L, -1) || lua_touserdata(L, -1) == &loading_key) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
  }
  lua_pushvalue(L, 4);
  return 2;
}

/* ---- opening the libraries ---- */

/* Copies the named fields of the table at src into the table at dst. */
static void copy_fields(lua_State *L, int src, int dst, const char *const *names) {
  src = lua_absindex(L, src);
  dst = lua_absindex(L, dst);
  for (; *names; names++) {
    lua_getfield(L, src, *names);
    lua_setfield(L, dst, *names);
  }
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open) {
  luaL_requiref(L, name, open, 1);            /* [-0,+1] */
  lua_pop(L, 1);
}

static void open_os(lua_State *L, const sl_lua_grants *g) {
  static const char *const safe[] = {"time", "clock", "date", "difftime", NULL};
  static const char *const files[] = {"remove", "rename", "tmpname", NULL};
  if (g->os) {
    open_lib(L, LUA_OSLIBNAME, luaopen_os);
    return;
  }
  /* The full library is opened aside and only the safe functions copied. */
  lua_pushcfunction(L, luaopen_os);
  lua_call(L, 0, 1);                          /* [-0,+1] the full os table */
  lua_createtable(L, 0, 8);                   /* [-0,+1] the sandbox's os */
  copy_fields(L, -2, -1, safe);
  if (g->io) copy_fields(L, -2, -1, files);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, LUA_OSLIBNAME);
  lua_pop(L, 1);
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
}

static void open_package(lua_State *L, const sl_lua_grants *g) {
  if (g->c_modules) {
    open_lib(L, LUA_LOADLIBNAME, luaopen_package);
    /* Keep the C searchers (package.cpath and the all-in-one one); Lua files
     * are found by our require, which loads text only. */
    lua_getglobal(L, LUA_LOADLIBNAME);
    lua_getfield(L, -1, "searchers");
    lua_createtable(L, 2, 0);
    lua_rawgeti(L, -2, 3);
    lua_rawseti(L, -2, 1);
    lua_rawgeti(L, -2, 4);
    lua_rawseti(L, -2, 2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &csearchers_key);
    lua_pop(L, 1);
    /* package.path is not used: say so rather than leave a misleading value. */
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
  } else {
    lua_createtable(L, 0, 2);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, LUA_LOADLIBNAME);
    lua_setfield(L, -2, "loaded");
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_setfield(L, -2, "preload");
    lua_setglobal(L, LUA_LOADLIBNAME);
  }
  lua_pushcfunction(L, sb_require);
  lua_setglobal(L, "require");
}

/* Runs in protected mode: any allocation may fail under a small budget. */
static int setup(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  const sl_lua_grants *g = &s->grants;

  open_lib(L, LUA_GNAME, luaopen_base);
  open_lib(L, LUA_STRLIBNAME, luaopen_string);
  open_lib(L, LUA_TABLIBNAME, luaopen_table);
  open_lib(L, LUA_MATHLIBNAME, luaopen_math);
  open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8);
  open_lib(L, LUA_COLIBNAME, luaopen_coroutine);
  open_os(L, g);
  if (g->io) {
    open_lib(L, LUA_IOLIBNAME, luaopen_io);
    /* io.popen runs a command: that is the os grant's business. */
    if (!g->os) {
      lua_getglobal(L, LUA_IOLIBNAME);
      remove_field(L, -1, "popen");
      lua_pop(L, 1);
    }
  }
  if (g->debug) open_lib(L, LUA_DBLIBNAME, luaopen_debug);
  open_package(L, g);

  lua_pushglobaltable(L);
  remove_field(L, -1, "dofile");
  remove_field(L, -1, "loadfile");
  wrap_field(L, -1, "load", sb_load);
  lua_pushcfunction(L, sb_setmetatable);
  lua_setfield(L, -2, "setmetatable");
  lua_pop(L, 1);

  lua_getglobal(L, LUA_TABLIBNAME);
  wrap_field(L, -1, "move", sb_move);
  lua_pop(L, 1);

  lua_getglobal(L, LUA_STRLIBNAME);
  remove_field(L, -1, "dump");
  wrap_field(L, -1, "rep", sb_rep);
  sl__pattern_open(L, -1);
  lua_pop(L, 1);

  /* Strings share one metatable, and its __index is the string table: with
   * __metatable set, getmetatable("") returns false and a script can reach
   * neither the metatable nor, through it, anything it would change for
   * every string in the state. */
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  sl__budget_open(L);
  sl__null_open(L);
  sl__views_open(L);
  return 0;
}

/* ---- the state a script gets ---- */

sl_lua *sl_lua_new(const sl_lua_limits *limits, const sl_lua_grants *grants,
                   const char *const *search_path) {
  sl_lua *s = sl__lua_state_new(limits, grants, search_path);
  if (!s) return NULL;

  /* Set up under the same protection as any call, so that a budget too
   * small to open the libraries is an error and not an abort. */
  sl_buf err = SL_BUF_INIT;
  lua_pushcfunction(s->L, setup);
  int rc = sl_lua_pcall(s, 0, 0, &err, NULL);
  sl_buf_free(&err);
  if (rc) goto fail;
  /* Leave the state as a script will find it: the setup's garbage gone. */
  lua_gc(s->L, LUA_GCCOLLECT);
  if (s->call_ms && sl__budget_register(s)) goto fail;
  lua_Hook hook = sl__lua_line_hook();
  if (hook) lua_sethook(s->L, hook, LUA_MASKLINE, 0);
  return s;

fail:
  sl_lua_free(s);
  return NULL;
}
