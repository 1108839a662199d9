/* fuzz_lua_pattern: sluice's string.find/match/gmatch/gsub (runtime/lua/
 * pattern.c, which the time budget can stop) against Lua's own, in a plain
 * state: the same results, captures and errors for any pattern and subject.
 *
 * Input: byte 0 picks the call (find, plain find, match, gmatch, gsub with a
 * string, a function or a table), byte 1 the init or the gsub limit (signed),
 * then the pattern, a 0xFE byte and the subject.  Patterns with more than
 * three repetition items are skipped: Lua's matcher, the reference here,
 * would backtrack for hours on some of them (that is why pattern.c exists). */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lua/sl_lua.h"

/* Both states run this with (op, pattern, subject, n) and return one string
 * that says what came out: pcall's status and every value with its type. */
static const char driver[] =
    "local op, p, s, n = ...\n"
    "local function ser(ok, ...)\n"
    "  local t = { tostring(ok), select('#', ...) }\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[#t + 1] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(t, '|')\n"
    "end\n"
    "local repl_t = { a = 'A', ab = 1.5, [''] = false, x = true }\n"
    "local function repl_f(...) \n"
    "  if select('#', ...) > 2 then return nil end\n"
    "  return select('#', ...) .. '<' .. table.concat({ ... }, ',') .. '>'\n"
    "end\n"
    "if op == 0 then return ser(pcall(string.find, s, p, n)) end\n"
    "if op == 1 then return ser(pcall(string.find, s, p, n, true)) end\n"
    "if op == 2 then return ser(pcall(string.match, s, p, n)) end\n"
    "if op == 3 then\n"
    "  return ser(pcall(function ()\n"
    "    local out = {}\n"
    "    for a, b, c in string.gmatch(s, p, n) do\n"
    "      out[#out + 1] = ser(true, a, b, c)\n"
    "      if #out > 64 then break end\n"
    "    end\n"
    "    return table.concat(out, ';')\n"
    "  end))\n"
    "end\n"
    "local repl = op == 4 and '[%0|%1]%%' or op == 5 and repl_f or op == 6 and repl_t or '%2'\n"
    "return ser(pcall(string.gsub, s, p, repl, n >= 0 and n or nil))\n";

static lua_State *plain;
static sl_lua *ours;

static void setup(void) {
  plain = luaL_newstate();
  luaL_openlibs(plain);
  sl_lua_limits lim = {.memory_bytes = (size_t)64 << 20, .call_ms = 0};
  sl_lua_grants none = {0};
  ours = sl_lua_new(&lim, &none, NULL);
  CHECK(plain && ours);
}

/* Runs the driver in L; the result string is left on L's stack. */
static const char *run(lua_State *L, int op, const char *p, size_t lp, const char *s, size_t ls,
                       int n) {
  lua_settop(L, 0);
  CHECK(luaL_loadbuffer(L, driver, sizeof driver - 1, "=driver") == LUA_OK);
  lua_pushinteger(L, op);
  lua_pushlstring(L, p, lp);
  lua_pushlstring(L, s, ls);
  lua_pushinteger(L, n);
  if (lua_pcall(L, 4, 1, 0) != LUA_OK) return lua_tostring(L, -1);
  return lua_tostring(L, -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!plain) setup();
  if (size < 2 || size > 96) return 0;
  int op = data[0] % 8;
  int n = (int8_t)data[1];
  const char *rest = (const char *)data + 2;
  size_t lrest = size - 2;
  const char *sep = memchr(rest, 0xFE, lrest);
  if (!sep) return 0;
  size_t lp = (size_t)(sep - rest), ls = lrest - lp - 1;
  if (lp > 24 || ls > 40) return 0;
  int reps = 0;
  for (size_t i = 0; i < lp; i++) reps += rest[i] == '*' || rest[i] == '+' || rest[i] == '-';
  if (reps > 3) return 0;

  const char *want = run(plain, op, rest, lp, sep + 1, ls, n);
  const char *got = run(sl_lua_state(ours), op, rest, lp, sep + 1, ls, n);
  if (strcmp(want, got) != 0) {
    fprintf(stderr, "op %d n %d pattern %.*s subject %.*s\n  lua:    %s\n  sluice: %s\n", op, n,
            (int)lp, rest, (int)ls, sep + 1, want, got);
    CHECK(!"pattern.c and Lua's string library disagree");
  }
  return 0;
}
