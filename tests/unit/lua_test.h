/* Helpers shared by the Lua bridge's unit tests. */
#ifndef SLUICE_LUA_TEST_H
#define SLUICE_LUA_TEST_H

#include <lauxlib.h>
#include <string.h>

#include "lua/sl_lua.h"

/* Loads the chunk passed as a light userdata (inside the protected call). */
static int load_code(lua_State *L) {
  const char *code = lua_touserdata(L, 1);
  if (luaL_loadbufferx(L, code, strlen(code), "=test", "t") != LUA_OK) return lua_error(L);
  return 1;
}

/* Runs code as a chunk named "test"; leaves nres results on the stack. */
static inline int run(sl_lua *s, const char *code, int nres, sl_buf *err) {
  lua_State *L = sl_lua_state(s);
  lua_pushcfunction(L, load_code);
  lua_pushlightuserdata(L, (void *)code);
  if (sl_lua_pcall(s, 1, 1, err, NULL)) return SL_ELUA;
  return sl_lua_pcall(s, 0, nres, err, NULL);
}

#endif
