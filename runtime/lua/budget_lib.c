/* The budget-aware pcall, xpcall and coroutine.resume/wrap/close that
 * replace the base and coroutine libraries' own, so that a script cannot
 * catch its way past the time budget.
 *
 * They sit above budget.c and use only what it exports: the recheck, which
 * raises the budget error again once the current call has overrun, and the
 * switch, which tells the watchdog which thread runs Lua. */
#include <lauxlib.h>
#include <lualib.h>

#include "lua/sl_lua_int.h"

/* ---- pcall and xpcall ---- */

/* xpcall's message handler, around the script's.  Lua calls a handler
 * where the error was raised: for the budget error that is inside the hook,
 * where no hook runs, so a script handler would run unstoppable.  Once the
 * call is over budget the script's handler is not called at all. */
static int xpcall_handler(lua_State *L) {
  if (sl__budget_expired(sl__lua_from(L))) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* As in lbaselib.c, plus the recheck: a budget error goes on up. */
static int finish_pcall(lua_State *L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    sl__budget_recheck(L);
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - (int)extra;
}

static int sb_pcall(lua_State *L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, finish_pcall);
  return finish_pcall(L, status, 0);
}

static int sb_xpcall(lua_State *L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, xpcall_handler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
  int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_pcall);
  return finish_pcall(L, status, 2);
}

/* ---- coroutines ----
 *
 * resume, wrap and close switch the thread that runs Lua: they tell the
 * watchdog which one to hook, and recheck the budget when the coroutine
 * failed.  Otherwise as in lcorolib.c. */

static lua_State *getco(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  return co;
}

static int auxresume(lua_State *L, lua_State *co, int narg) {
  sl_lua *s = sl__lua_from(L);
  int nres;
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  sl__budget_switch(s, co);
  int status = lua_resume(co, L, narg, &nres);
  sl__budget_switch(s, L);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);
  return -1;
}

static int sb_resume(lua_State *L) {
  lua_State *co = getco(L);
  int r = auxresume(L, co, lua_gettop(L) - 1);
  if (r < 0) {
    sl__budget_recheck(L);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

/* Runs co's pending __close handlers.  Not after the budget ran out: a
 * coroutine that died of the budget error keeps the hooks off that Lua
 * turned off to run the hook, so its handlers could not be stopped. */
static int close_thread(lua_State *L, lua_State *co) {
  sl_lua *s = sl__lua_from(L);
  sl__budget_recheck(L);
  sl__budget_switch(s, co);
#if LUA_VERSION_RELEASE_NUM >= 50406
  int status = lua_closethread(co, L);
#else
  int status = lua_resetthread(co);
#endif
  sl__budget_switch(s, L);
  return status;
}

static int auxwrap(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  int r = auxresume(L, co, lua_gettop(L));
  if (r < 0) {
    int stat = lua_status(co);
    if (stat != LUA_OK && stat != LUA_YIELD) {
      stat = close_thread(L, co);
      lua_xmove(co, L, 1);
    }
    sl__budget_recheck(L);
    if (stat != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
      luaL_where(L, 1);
      lua_insert(L, -2);
      lua_concat(L, 2);
    }
    return lua_error(L);
  }
  return r;
}

static int sb_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, auxwrap, 1);
  return 1;
}

enum { COS_RUN, COS_DEAD, COS_YIELD, COS_NORM };

static int auxstatus(lua_State *L, lua_State *co) {
  if (L == co) return COS_RUN;
  switch (lua_status(co)) {
    case LUA_YIELD:
      return COS_YIELD;
    case LUA_OK: {
      lua_Debug ar;
      if (lua_getstack(co, 0, &ar)) return COS_NORM;
      return lua_gettop(co) == 0 ? COS_DEAD : COS_YIELD;
    }
    default:
      return COS_DEAD;
  }
}

static int sb_close(lua_State *L) {
  static const char *const names[] = {"running", "dead", "suspended", "normal"};
  lua_State *co = getco(L);
  int st = auxstatus(L, co);
  if (st != COS_DEAD && st != COS_YIELD)
    return luaL_error(L, "cannot close a %s coroutine", names[st]);
  int status = close_thread(L, co);
  if (status == LUA_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_xmove(co, L, 1);
  sl__budget_recheck(L);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

void sl__budget_open(lua_State *L) {
  static const luaL_Reg base[] = {
      {"pcall", sb_pcall},
      {"xpcall", sb_xpcall},
      {NULL, NULL},
  };
  static const luaL_Reg co[] = {
      {"resume", sb_resume},
      {"wrap", sb_wrap},
      {"close", sb_close},
      {NULL, NULL},
  };
  lua_pushglobaltable(L);
  luaL_setfuncs(L, base, 0);
  lua_pop(L, 1);
  lua_getglobal(L, LUA_COLIBNAME);
  luaL_setfuncs(L, co, 0);
  lua_pop(L, 1);
}
