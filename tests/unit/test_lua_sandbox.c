/* The Lua sandbox: what a script can and cannot reach, text-only loading,
 * require over the search path, and the shape of error messages. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lua/sl_lua.h"
#include "sluice/errors.h"
#include "test.h"
#include "lua_test.h"

/* ---- helpers ---- */


static sl_lua *new_state(const sl_lua_grants *g, const char *const *path) {
  sl_lua_limits lim = {.memory_bytes = 64u << 20, .call_ms = 0};
  return sl_lua_new(&lim, g, path);
}

/* ---- what is there and what is not ---- */

static const char *const absent[] = {
    "io", "debug", "dofile", "loadfile", "os.execute", "os.getenv", "os.exit",
    "os.remove", "os.rename", "os.tmpname", "os.setlocale", "string.dump",
    "package.loadlib", "package.cpath", "package.searchers", NULL};

static const char *const present[] = {
    "os.time", "os.clock", "os.date", "os.difftime", "collectgarbage", "utf8.char",
    "coroutine.wrap", "string.format", "table.concat", "math.floor", "require",
    "load", "pcall", "xpcall", "package.loaded", "package.preload", NULL};

TEST(test_default_globals) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  char code[128];
  for (int i = 0; absent[i]; i++) {
    snprintf(code, sizeof code, "return %s == nil", absent[i]);
    ASSERT_EQ(run(s, code, 1, &err), 0);
    if (!lua_toboolean(sl_lua_state(s), -1)) TEST_FAIL_AT("%s is reachable", absent[i]);
    lua_pop(sl_lua_state(s), 1);
  }
  for (int i = 0; present[i]; i++) {
    snprintf(code, sizeof code, "return %s ~= nil", present[i]);
    ASSERT_EQ(run(s, code, 1, &err), 0);
    if (!lua_toboolean(sl_lua_state(s), -1)) TEST_FAIL_AT("%s is missing", present[i]);
    lua_pop(sl_lua_state(s), 1);
  }
  ASSERT_EQ(lua_gettop(sl_lua_state(s)), 0);
  sl_buf_free(&err);
  sl_lua_free(s);
}

TEST(test_grants) {
  struct {
    sl_lua_grants g;
    const char *check;
  } cases[] = {
      {{.io = 1}, "return io.open ~= nil and io.popen == nil and os.remove ~= nil and os.execute == nil"},
      {{.io = 1, .os = 1}, "return io.popen ~= nil and os.execute ~= nil"},
      {{.os = 1}, "return io == nil and os.getenv ~= nil"},
      {{.debug = 1}, "return debug.traceback ~= nil and io == nil"},
      {{.c_modules = 1}, "return package.loadlib ~= nil and package.path == ''"},
  };
  sl_buf err = SL_BUF_INIT;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_lua *s = new_state(&cases[i].g, NULL);
    ASSERT(s);
    ASSERT_EQ(run(s, cases[i].check, 1, &err), 0);
    if (!lua_toboolean(sl_lua_state(s), -1)) TEST_FAIL_AT("grant case %zu: %s", i, cases[i].check);
    sl_lua_free(s);
  }
  sl_buf_free(&err);
}

/* Real bytecode, made in a plain state: load must refuse it in the sandbox
 * whatever the mode argument and whatever is granted. */
static int writer(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  sl_buf_append(ud, p, n);
  return 0;
}

TEST(test_bytecode_refused) {
  lua_State *plain = luaL_newstate();
  ASSERT(plain);
  ASSERT_EQ(luaL_loadstring(plain, "return 42"), LUA_OK);
  sl_buf bc = SL_BUF_INIT;
  lua_dump(plain, writer, &bc, 0);
  lua_close(plain);
  ASSERT(bc.len > 4 && bc.ptr[0] == 27);

  sl_lua_grants all = {.io = 1, .os = 1, .c_modules = 1, .debug = 1};
  const sl_lua_grants *gs[] = {NULL, &all};
  sl_buf err = SL_BUF_INIT;
  for (int k = 0; k < 2; k++) {
    sl_lua *s = new_state(gs[k], NULL);
    ASSERT(s);
    lua_State *L = sl_lua_state(s);
    lua_pushlstring(L, bc.ptr, bc.len);
    lua_setglobal(L, "BC");
    const char *tries[] = {
        "local f, e = load(BC) return f == nil and e:find('binary chunk', 1, true) ~= nil",
        "local f, e = load(BC, 'x', 'b') return f == nil and e:find('binary chunk', 1, true) ~= nil",
        "local f, e = load(BC, 'x', 'bt') return f == nil",
        "local f = load('\\27Lua garbage') return f == nil",
        "local i = 0 local f = load(function() i = i + 1 if i == 1 then return BC end end) return f == nil",
        "return load('return 7')() == 7",
        "local env = {x = 5} return load('return x', 'c', 't', env)() == 5",
    };
    for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
      if (run(s, tries[i], 1, &err)) { TEST_FAIL_AT("%s: %s", tries[i], err.ptr); return; }
      if (!lua_toboolean(L, -1)) TEST_FAIL_AT("grants %d: %s", k, tries[i]);
      lua_pop(L, 1);
    }
    sl_lua_free(s);
  }
  sl_buf_free(&err);
  sl_buf_free(&bc);
}

TEST(test_string_metatable_protected) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "return getmetatable('') == false and ('abc'):upper() == 'ABC'", 1, &err), 0);
  ASSERT(lua_toboolean(sl_lua_state(s), -1));
  lua_pop(sl_lua_state(s), 1);
  ASSERT_EQ(run(s, "setmetatable('', {})", 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "table expected"));
  ASSERT_EQ(run(s, "getmetatable('').__index = {}", 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "attempt to index a boolean value"));
  sl_buf_free(&err);
  sl_lua_free(s);
}

TEST(test_gc_metamethod_refused) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "setmetatable({}, {__gc = function() end})", 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "__gc metamethods are not allowed"));
  ASSERT_EQ(run(s, "local t = setmetatable({}, {__index = {a = 1}}) return t.a", 1, &err), 0);
  ASSERT_EQ(lua_tointeger(sl_lua_state(s), -1), 1);
  sl_buf_free(&err);
  sl_lua_free(s);
}

TEST(test_string_rep_empty_is_quick) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "return string.rep('', 1e18) .. ('x'):rep(3, '')", 1, &err), 0);
  ASSERT_STR_EQ(lua_tostring(sl_lua_state(s), -1), "xxx");
  sl_buf_free(&err);
  sl_lua_free(s);
}

/* table.move in slices gives what Lua's gives in one go, overlapping or
 * not, both directions, another table, and the errors. */
TEST(test_table_move_slices) {
  static const char code[] =
      "local function sum(f, e, t, other)\n"
      "  local x = {} for i = 1, 20000 do x[i] = i end\n"
      "  local y = other and { 'keep' } or x\n"
      "  local r = table.move(x, f, e, t, other and y or nil)\n"
      "  local h = (r == y) and 1 or 0\n"
      "  for k, v in pairs(y) do h = (h * 31 + k * 7 + (tonumber(v) or 5)) % 1000000007 end\n"
      "  return h\n"
      "end\n"
      "local ok1, e1 = pcall(table.move, {}, -5, math.maxinteger, 1)\n"
      "local ok2, e2 = pcall(table.move, {}, 1, 10000, math.maxinteger - 10)\n"
      "return table.concat({ sum(1, 20000, 5), sum(100, 15000, 50), sum(1, 20000, 1, true),\n"
      "  sum(10, 19000, 9000), sum(1, 20000, 20001), sum(2, 20000, 1), sum(5000, 5000, 7),\n"
      "  tostring(ok1), e1, tostring(ok2), e2 }, ' ')\n";
  lua_State *plain = luaL_newstate();
  luaL_openlibs(plain);
  ASSERT_EQ(luaL_dostring(plain, code), LUA_OK);
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, code, 1, &err), 0);
  ASSERT_STR_EQ(lua_tostring(sl_lua_state(s), -1), lua_tostring(plain, -1));
  sl_buf_free(&err);
  sl_lua_free(s);
  lua_close(plain);
}

/* ---- require ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
}

static void make_modules(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/sl_lua_test_XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    exit(2);
  }
  char path[256];
  snprintf(path, sizeof path, "%s/pkg", tmpdir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/pkg/sub", tmpdir);
  mkdir(path, 0700);
  write_file("pkg/a.lua", "LOADS = (LOADS or 0) + 1\nlocal name, path = ...\n"
                          "return {name = name, path = path}\n");
  write_file("pkg/sub/init.lua", "return 'init'\n");
  write_file("pkg/noret.lua", "X = 1\n");
  write_file("pkg/bad.lua", "return {\n");
  write_file("pkg/fails.lua", "error('module refuses')\n");
  write_file("pkg/loop1.lua", "return require 'pkg.loop2'\n");
  write_file("pkg/loop2.lua", "return require 'pkg.loop1'\n");
}

static void remove_modules(void) {
  const char *files[] = {"pkg/a.lua", "pkg/sub/init.lua", "pkg/noret.lua", "pkg/bad.lua",
                         "pkg/fails.lua", "pkg/loop1.lua", "pkg/loop2.lua", "pkg/sub", "pkg", "script.lua", ""};
  char path[256];
  for (int i = 0; files[i][0]; i++) {
    snprintf(path, sizeof path, "%s/%s", tmpdir, files[i]);
    remove(path);
  }
  rmdir(tmpdir);
}

TEST(test_require) {
  make_modules();
  char other[128];
  snprintf(other, sizeof other, "%s/nothing-here/", tmpdir);
  const char *path[] = {other, tmpdir, NULL};
  sl_lua *s = new_state(NULL, path);
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT;
  char expect[1024];

  ASSERT_EQ(run(s, "local a = require 'pkg.a' local b = require 'pkg.a'\n"
                   "return a == b and LOADS == 1 and package.loaded['pkg.a'] == a, a.name, a.path", 3, &err), 0);
  ASSERT(lua_toboolean(L, -3));
  ASSERT_STR_EQ(lua_tostring(L, -2), "pkg.a");
  snprintf(expect, sizeof expect, "%s/pkg/a.lua", tmpdir);
  ASSERT_STR_EQ(lua_tostring(L, -1), expect);
  lua_settop(L, 0);

  ASSERT_EQ(run(s, "return require 'pkg.sub', require 'pkg.noret'", 2, &err), 0);
  ASSERT_STR_EQ(lua_tostring(L, -2), "init");
  ASSERT(lua_isboolean(L, -1) && lua_toboolean(L, -1));
  lua_settop(L, 0);

  ASSERT_EQ(run(s, "require 'pkg.missing'", 0, &err), SL_ELUA);
  snprintf(expect, sizeof expect,
           "test:1: module 'pkg.missing' not found (tried: %s/nothing-here/pkg/missing.lua, "
           "%s/nothing-here/pkg/missing/init.lua, %s/pkg/missing.lua, %s/pkg/missing/init.lua)",
           tmpdir, tmpdir, tmpdir, tmpdir);
  ASSERT_STR_EQ(err.ptr, expect);

  ASSERT_EQ(run(s, "require 'pkg.bad'", 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "error loading module 'pkg.bad'"));
  ASSERT(strstr(err.ptr, "pkg/bad.lua:2:"));

  ASSERT_EQ(run(s, "require 'pkg.fails'", 0, &err), SL_ELUA);
  snprintf(expect, sizeof expect, "%s/pkg/fails.lua:1: module refuses", tmpdir);
  ASSERT_STR_EQ(err.ptr, expect);
  /* Again: the same error, not a loop (the failed load left no marker). */
  ASSERT_EQ(run(s, "require 'pkg.fails'", 0, &err), SL_ELUA);
  ASSERT_STR_EQ(err.ptr, expect);

  /* Two modules that require each other: said at once, naming the loop. */
  ASSERT_EQ(run(s, "require 'pkg.loop1'", 0, &err), SL_ELUA);
  snprintf(expect, sizeof expect,
           "%s/pkg/loop2.lua:1: module 'pkg.loop1' requires itself (directly or through other "
           "modules) while it is being loaded", tmpdir);
  ASSERT_STR_EQ(err.ptr, expect);
  ASSERT_EQ(run(s, "return package.loaded['pkg.loop1'] == nil and package.loaded['pkg.loop2'] == nil",
                1, &err), 0);
  ASSERT(lua_toboolean(L, -1));
  lua_settop(L, 0);

  /* A C module is not found without the grant, even where one is installed. */
  ASSERT_EQ(run(s, "require 'cjson'", 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "module 'cjson' not found"));
  ASSERT(!strstr(err.ptr, ".so"));

  /* package.preload comes before the search path. */
  ASSERT_EQ(run(s, "package.preload['pkg.a2'] = function(n, x) return n .. x end\n"
                   "return require 'pkg.a2'", 1, &err), 0);
  ASSERT_STR_EQ(lua_tostring(L, -1), "pkg.a2:preload:");
  lua_settop(L, 0);

  ASSERT_EQ(run(s, "require ''", 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "invalid module name"));

  /* sl_lua_dofile names the chunk after the path. */
  write_file("script.lua", "local x = 1\nreturn x + nil\n");
  char script[256];
  snprintf(script, sizeof script, "%s/script.lua", tmpdir);
  ASSERT_EQ(sl_lua_dofile(s, script, 1, &err), SL_ELUA);
  snprintf(expect, sizeof expect, "%s:2: attempt to perform arithmetic on a nil value", script);
  ASSERT_STR_EQ(err.ptr, expect);
  ASSERT_EQ(sl_lua_dofile(s, "/nonexistent/x.lua", 1, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "cannot open /nonexistent/x.lua"));
  ASSERT_EQ(lua_gettop(L), 0);

  sl_buf_free(&err);
  sl_lua_free(s);
  remove_modules();
}

TEST(test_c_module_with_grant) {
  /* Only where Debian's lua-cjson is installed; the point is that the grant
   * reaches package.cpath and nothing else changes. */
  if (access("/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so", R_OK) != 0) return;
  sl_lua_grants g = {.c_modules = 1};
  sl_lua *s = new_state(&g, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT;
  int rc = run(s, "local c = require 'cjson' return c.encode({1})", 1, &err);
  if (rc) TEST_FAIL_AT("%s", err.ptr);
  else ASSERT_STR_EQ(lua_tostring(sl_lua_state(s), -1), "[1]");
  sl_buf_free(&err);
  sl_lua_free(s);
}

/* ---- calls and messages ---- */

static const struct {
  const char *code;
  const char *err;
} error_cases[] = {
    {"local t = nil\nreturn t.x", "test:2: attempt to index a nil value (local 't')"},
    {"error('boom')", "test:1: boom"},
    {"error('plain', 0)", "plain"},
    {"error({})", "error object is a table"},
    {"error(setmetatable({}, {__tostring = function() return 'custom' end}))", "custom"},
    {"error(42)", "42"},
    {"error('two\\nlines\\n\\tand a tab', 0)", "two lines and a tab"},
    {"error('@file.lua:3: at sign', 0)", "file.lua:3: at sign"},
    {"string.rep('x', -1, {})", "test:1: bad argument #3 to 'rep' (string expected, got table)"},
};

TEST(test_error_messages) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT, trace = SL_BUF_INIT;
  for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
    lua_pushcfunction(L, load_code);
    lua_pushlightuserdata(L, (void *)error_cases[i].code);
    ASSERT_EQ(sl_lua_pcall(s, 1, 1, &err, NULL), 0);
    ASSERT_EQ(sl_lua_pcall(s, 0, 0, &err, &trace), SL_ELUA);
    if (strncmp(err.ptr, error_cases[i].err, strlen(error_cases[i].err)) != 0)
      TEST_FAIL_AT("case %zu: \"%s\" does not start with \"%s\"", i, err.ptr, error_cases[i].err);
    ASSERT(strncmp(trace.ptr, "stack traceback:", 16) == 0);
    ASSERT_EQ(lua_gettop(L), 0);
  }
  /* Success leaves the results and nothing else, and empties err. */
  ASSERT_EQ(run(s, "return 1, 2", 2, &err), 0);
  ASSERT_EQ(lua_gettop(L), 2);
  ASSERT_EQ(err.len, 0);
  sl_buf_free(&err);
  sl_buf_free(&trace);
  sl_lua_free(s);
}

/* The message is the error value's text in full, and only that: a NUL byte
 * neither cuts it nor lets the traceback in; it is written as "\0". */
TEST(test_error_message_whole) {
  static const struct {
    const char *code, *err;
  } cases[] = {
      {"error('a\\0b', 0)", "a\\0b"},
      {"error('a\\0b')", "test:1: a\\0b"},
      {"error('\\0', 0)", "\\0"},
      {"error('x\\0\\0y\\n', 0)", "x\\0\\0y "},
  };
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  sl_buf err = SL_BUF_INIT, trace = SL_BUF_INIT;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ASSERT_EQ(run(s, cases[i].code, 0, &err), SL_ELUA);
    ASSERT_STR_EQ(err.ptr, cases[i].err);
    ASSERT_EQ(err.len, strlen(cases[i].err));
  }
  lua_State *L = sl_lua_state(s);
  lua_pushcfunction(L, load_code);
  lua_pushlightuserdata(L, (void *)"error('a\\0b', 0)");
  ASSERT_EQ(sl_lua_pcall(s, 1, 1, &err, NULL), 0);
  ASSERT_EQ(sl_lua_pcall(s, 0, 0, &err, &trace), SL_ELUA);
  ASSERT_STR_EQ(err.ptr, "a\\0b");
  ASSERT(strncmp(trace.ptr, "stack traceback:", 16) == 0);
  sl_buf_free(&err);
  sl_buf_free(&trace);
  sl_lua_free(s);
}

/* A C function that calls back into Lua through sl_lua_pcall and reports
 * the inner result: the inner error must not end the outer call. */
static int nested(lua_State *L) {
  sl_lua *s = sl_lua_from(L);
  sl_buf err = SL_BUF_INIT;
  lua_pushvalue(L, 1);
  int rc = sl_lua_pcall(s, 0, 1, &err, NULL);
  if (rc) lua_pushstring(L, err.ptr);
  sl_buf_free(&err);
  lua_pushboolean(L, rc == 0);
  lua_insert(L, -2);
  return 2;
}

TEST(test_nested_pcall) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  ASSERT(sl_lua_from(L) == s);
  lua_pushcfunction(L, nested);
  lua_setglobal(L, "nested");
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "local ok, e = nested(function() error('inner') end)\n"
                   "local ok2, v = nested(function() return 5 end)\n"
                   "return tostring(ok) .. ' ' .. e .. ' ' .. tostring(ok2) .. ' ' .. v", 1, &err), 0);
  ASSERT_STR_EQ(lua_tostring(L, -1), "false test:1: inner true 5");
  sl_buf_free(&err);
  sl_lua_free(s);
}

TEST(test_state_too_small) {
  sl_lua_limits lim = {.memory_bytes = 4096, .call_ms = 0};
  ASSERT(sl_lua_new(&lim, NULL, NULL) == NULL);
  lim.call_ms = 50;
  ASSERT(sl_lua_new(&lim, NULL, NULL) == NULL);
}

TEST(test_memory_reported) {
  sl_lua *s = new_state(NULL, NULL);
  ASSERT(s);
  size_t before = sl_lua_memory(s);
  ASSERT(before > 1000 && before < (1u << 20));
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "BIG = string.rep('x', 1 << 20)", 0, &err), 0);
  ASSERT(sl_lua_memory(s) > before + (1u << 20));
  sl_buf_free(&err);
  sl_lua_free(s);
}

RUN_TESTS(test_table_move_slices, test_error_message_whole, test_default_globals, test_grants, test_bytecode_refused,
          test_string_metatable_protected, test_gc_metamethod_refused,
          test_string_rep_empty_is_quick, test_require, test_c_module_with_grant,
          test_error_messages, test_nested_pcall, test_state_too_small,
          test_memory_reported)
