/* sl.json: encode and decode with the runtime's own JSON code, so a script
 * and a codec agree on every detail (numbers, escapes, invalid UTF-8).
 *
 * Both work in the state's scratch arena and buffer: a Lua error half-way
 * (a memory error while pushing a result) leaks nothing. */
#include <lauxlib.h>

#include "lua/sl_lua_int.h"
#include "sluice/codec.h"
#include "sluice/errors.h"

/* sl.json.encode(v) → string.  Objects come out with their keys sorted (see
 * sl_lua_to_value), so the same table always gives the same text. */
static int json_encode(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  luaL_checkany(L, 1);
  sl_arena_reset(&s->scratch);
  sl_value v;
  const char *why = NULL;
  /* Strings are not copied: nothing can collect them before the text is made. */
  int rc = sl__lua_to_value(L, 1, &s->scratch, &v, &why, 0);
  if (rc) return luaL_error(L, "sl.json.encode: %s", why ? why : sl_strerror(rc));
  sl_buf *b = &s->tmp;
  b->len = 0;
  b->oom = 0;
  sl_json_encode_value(b, &v);
  if (b->oom) return luaL_error(L, "sl.json.encode: out of memory");
  lua_pushlstring(L, b->ptr ? b->ptr : "", b->len);
  sl_arena_reset(&s->scratch);
  return 1;
}

/* sl.json.decode(s) → value; JSON null is sl.json.null wherever it appears. */
static int json_decode(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  size_t n;
  const char *p = luaL_checklstring(L, 1, &n);
  sl_arena_reset(&s->scratch);
  sl_value v;
  const char *why = NULL;
  int rc = sl_json_parse(p, n, &s->scratch, &v, &why);
  if (rc) return luaL_error(L, "sl.json.decode: %s", why ? why : sl_strerror(rc));
  rc = sl_lua_push_value(L, &v, &s->scratch);
  if (rc) return luaL_error(L, "sl.json.decode: %s", sl_strerror(rc));
  sl_arena_reset(&s->scratch);
  return 1;
}

void sl_lua_push_json_module(lua_State *L) {
  luaL_checkstack(L, 2, NULL);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, json_encode);
  lua_setfield(L, -2, "encode");
  lua_pushcfunction(L, json_decode);
  lua_setfield(L, -2, "decode");
  sl_lua_push_null(L);
  lua_setfield(L, -2, "null");
}
