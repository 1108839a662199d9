/* Values between Lua and C: types kept both ways, sl.null, encoding rules
 * for tables, and sl.json. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>

#include "lua/sl_lua.h"
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "test.h"
#include "lua_test.h"


static sl_lua *new_state(void) {
  sl_lua_limits lim = {.memory_bytes = 64u << 20, .call_ms = 1000};
  sl_lua *s = sl_lua_new(&lim, NULL, NULL);
  if (!s) return NULL;
  lua_State *L = sl_lua_state(s);
  lua_createtable(L, 0, 2);
  sl_lua_push_null(L);
  lua_setfield(L, -2, "null");
  sl_lua_push_json_module(L);
  lua_setfield(L, -2, "json");
  lua_setglobal(L, "sl");
  return s;
}

/* v as JSON text, in a static buffer. */
static const char *json_of(const sl_value *v) {
  static char out[512];
  sl_buf b = SL_BUF_INIT;
  sl_json_encode_value(&b, v);
  snprintf(out, sizeof out, "%.*s", (int)b.len, b.ptr ? b.ptr : "");
  sl_buf_free(&b);
  return out;
}

/* ---- Lua → value ---- */

static const struct {
  const char *expr;
  int type;
  const char *json;
} to_value_cases[] = {
    {"nil", SL_T_NULL, "null"},
    {"sl.null", SL_T_NULL, "null"},
    {"true", SL_T_BOOL, "true"},
    {"42", SL_T_INT, "42"},
    {"math.maxinteger", SL_T_INT, "9223372036854775807"},
    {"math.mininteger", SL_T_INT, "-9223372036854775808"},
    {"1.5", SL_T_DOUBLE, "1.5"},
    {"1.0", SL_T_DOUBLE, "1"},
    {"2^63", SL_T_DOUBLE, "9.223372036854776e+18"},
    {"'h\\0i'", SL_T_STRING, "\"h\\u0000i\""},
    {"'caf\\u{e9}'", SL_T_STRING, "\"caf\u00e9\""},
    {"{}", SL_T_OBJECT, "{}"},
    {"{1, 2, 3}", SL_T_ARRAY, "[1,2,3]"},
    {"{1, nil, 3}", SL_T_OBJECT, "{\"1\":1,\"3\":3}"},
    {"{[0] = 'z'}", SL_T_OBJECT, "{\"0\":\"z\"}"},
    {"{10, 20, x = 1}", SL_T_OBJECT, "{\"1\":10,\"2\":20,\"x\":1}"},
    {"{[1.5] = 1, [0.1] = 2, [-math.huge] = 3}", SL_T_OBJECT, "{\"-inf\":3,\"0.1\":2,\"1.5\":1}"},
    {"{b = 1, a = 2, B = 3, ['a b'] = 4, aa = 5}", SL_T_OBJECT,
     "{\"B\":3,\"a\":2,\"a b\":4,\"aa\":5,\"b\":1}"},
    {"{sl.null, 1}", SL_T_ARRAY, "[null,1]"},
    {"{a = {b = {c = {}}}}", SL_T_OBJECT, "{\"a\":{\"b\":{\"c\":{}}}}"},
    {"(function() local t = {1} return {t, t} end)()", SL_T_ARRAY, "[[1],[1]]"},
    {"setmetatable({}, {__index = function() return 1 end})", SL_T_OBJECT, "{}"},
    {"(function() local t = {} for i = 1, 99 do t = {t} end return t end)()", SL_T_ARRAY, NULL},
};

static const struct {
  const char *expr;
  const char *why;
} to_value_errors[] = {
    {"function() end", "cannot encode a function"},
    /* What a record cannot hold, or would hold changed, is refused. */
    {"0/0", "cannot encode NaN (a record holds no NaN or infinity)"},
    {"math.huge", "cannot encode an infinite number (a record holds no NaN or infinity)"},
    {"{x = {-math.huge}}", "cannot encode an infinite number (a record holds no NaN or infinity)"},
    {"'\\xff'", "cannot encode a string that is not valid UTF-8"},
    {"{s = 'ok\\xc3'}", "cannot encode a string that is not valid UTF-8"},
    {"{['\\xed\\xa0\\x80'] = 1}", "cannot encode a string that is not valid UTF-8"},
    {"coroutine.create(print)", "cannot encode a thread"},
    {"(function() local t = {} t.t = t return t end)()", "cannot encode a cyclic table"},
    {"(function() local t = {} t[1] = {t} return t end)()", "cannot encode a cyclic table"},
    {"{[{}] = 1}", "cannot encode a table key of type table"},
    {"{[true] = 1}", "cannot encode a table key of type boolean"},
    {"{x = {print}}", "cannot encode a function"},
    {"(function() local t = {} for i = 1, 100 do t = {t} end return t end)()",
     "table nested too deeply (more than 100 levels)"},
};

TEST(test_to_value) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_buf err = SL_BUF_INIT;
  char code[256];
  for (size_t i = 0; i < sizeof to_value_cases / sizeof to_value_cases[0]; i++) {
    snprintf(code, sizeof code, "return %s", to_value_cases[i].expr);
    ASSERT_EQ(run(s, code, 1, &err), 0);
    sl_value v;
    const char *why = NULL;
    int rc = sl_lua_to_value(L, -1, &a, &v, &why);
    if (rc) {
      TEST_FAIL_AT("%s: %s", to_value_cases[i].expr, why);
      return;
    }
    if (v.type != to_value_cases[i].type)
      TEST_FAIL_AT("%s: type %s", to_value_cases[i].expr, sl_type_name((sl_type)v.type));
    if (to_value_cases[i].json && strcmp(json_of(&v), to_value_cases[i].json) != 0)
      TEST_FAIL_AT("%s: %s != %s", to_value_cases[i].expr, json_of(&v), to_value_cases[i].json);
    lua_settop(L, 0);
  }
  for (size_t i = 0; i < sizeof to_value_errors / sizeof to_value_errors[0]; i++) {
    snprintf(code, sizeof code, "return %s", to_value_errors[i].expr);
    ASSERT_EQ(run(s, code, 1, &err), 0);
    sl_value v;
    const char *why = NULL;
    ASSERT_EQ(sl_lua_to_value(L, -1, &a, &v, &why), SL_ETYPE);
    ASSERT_STR_EQ(why, to_value_errors[i].why);
    lua_settop(L, 0);
  }
  /* -0.0 keeps its sign; strings are copied, not borrowed. */
  ASSERT_EQ(run(s, "return -0.0, 'borrowed?'", 2, &err), 0);
  sl_value z, str;
  ASSERT_EQ(sl_lua_to_value(L, -2, &a, &z, NULL), 0);
  ASSERT_EQ(sl_lua_to_value(L, -1, &a, &str, NULL), 0);
  ASSERT_EQ(z.type, SL_T_DOUBLE);
  ASSERT(z.u.d == 0 && signbit(z.u.d));
  ASSERT(str.u.s.ptr != lua_tostring(L, -1));
  lua_settop(L, 0);
  sl_lua_free(s);
  ASSERT_MEM_EQ(str.u.s.ptr, str.u.s.len, "borrowed?", 9);
  sl_buf_free(&err);
  sl_arena_free(&a);
}

/* ---- value → Lua ---- */

TEST(test_push_value) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_buf err = SL_BUF_INIT;

  sl_value items[4] = {
      {.type = SL_T_INT, .u.i = INT64_MAX},
      {.type = SL_T_DOUBLE, .u.d = -0.0},
      {.type = SL_T_STRING, .u.s = {"a\0b", 3}},
      {.type = SL_T_NULL},
  };
  sl_member members[3] = {
      {SL_STR_LIT("list"), {.type = SL_T_ARRAY, .n = 4, .u.items = items}},
      {SL_STR_LIT("dup"), {.type = SL_T_INT, .u.i = 1}},
      {SL_STR_LIT("dup"), {.type = SL_T_DOUBLE, .u.d = 2.0}},
  };
  sl_value obj = {.type = SL_T_OBJECT, .n = 3, .u.members = members};
  ASSERT_EQ(sl_lua_push_value(L, &obj, &a), 0);
  lua_setglobal(L, "V");
  ASSERT_EQ(run(s, "local l = V.list\n"
                   "return l[1] == math.maxinteger and math.type(l[1]) == 'integer'\n"
                   "  and math.type(l[2]) == 'float' and 1/l[2] == -math.huge\n"
                   "  and l[3] == 'a\\0b' and l[4] == sl.null and #l == 4\n"
                   "  and V.dup == 2 and math.type(V.dup) == 'float'", 1, &err), 0);
  ASSERT(lua_toboolean(L, -1));
  lua_settop(L, 0);

  /* SL_T_JSON spans, as a codec leaves them. */
  static const struct {
    const char *text;
    int plain;
    const char *check;  /* Lua expression on X */
  } spans[] = {
      {"\"plain\"", 1, "X == 'plain'"},
      {"\"tab\\tand \\u00e9\"", 0, "X == 'tab\\tand \\u{e9}'"},
      {"123", 0, "X == 123 and math.type(X) == 'integer'"},
      {"-9223372036854775808", 0, "X == math.mininteger"},
      {"-0", 0, "math.type(X) == 'float' and 1/X == -math.huge"},
      {"0.5e1", 0, "X == 5 and math.type(X) == 'float'"},
      {"1e400", 0, "X == math.huge"},
      {"true", 0, "X == true"},
      {"false", 0, "X == false"},
      {"null", 0, "X == sl.null"},
      {"[1,{\"a\":null,\"b\":[]}]", 0, "X[1] == 1 and X[2].a == sl.null and next(X[2].b) == nil"},
  };
  char code[256];
  for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
    sl_value v = {.type = SL_T_JSON, .flags = spans[i].plain ? SL_VF_PLAIN_STRING : 0,
                  .u.s = {spans[i].text, strlen(spans[i].text)}};
    ASSERT_EQ(sl_lua_push_value(L, &v, &a), 0);
    lua_setglobal(L, "X");
    snprintf(code, sizeof code, "return %s", spans[i].check);
    ASSERT_EQ(run(s, code, 1, &err), 0);
    if (!lua_toboolean(L, -1)) TEST_FAIL_AT("%s: %s", spans[i].text, spans[i].check);
    lua_settop(L, 0);
  }
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

/* ---- sl.null and sl.json ---- */

static const struct {
  const char *code;   /* returns true, or false and a message */
} json_cases[] = {
    {"return sl.json.null == sl.null and tostring(sl.null) == 'null' and type(sl.null) == 'userdata'"},
    {"return sl.null ~= nil and sl.null ~= false and (sl.null and true) == true"},
    {"return sl.json.encode(sl.null) == 'null' and sl.json.encode(nil) == 'null'"},
    {"return sl.json.encode({}) == '{}' and sl.json.encode({1, 2, 3}) == '[1,2,3]'"},
    {"local s = sl.json.encode({b = {true, false}, a = 1, c = 'x\"y'})\n"
     "return s == '{\"a\":1,\"b\":[true,false],\"c\":\"x\\\\\"y\"}', s"},
    {"local s = sl.json.encode({math.maxinteger, math.mininteger, 0.1, -0.0})\n"
     "return s == '[9223372036854775807,-9223372036854775808,0.1,-0]', s"},
    {"local v = sl.json.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"\\\\u00e9\"}')\n"
     "return v.a[3].b == sl.null and #v.a == 3 and v.c == '\\u{e9}'"},
    {"local v = sl.json.decode('9223372036854775807')\n"
     "return v == math.maxinteger and math.type(v) == 'integer'"},
    {"local v = sl.json.decode('9223372036854775808') return math.type(v) == 'float'"},
    {"local v = sl.json.decode('-0') return math.type(v) == 'float' and 1/v == -math.huge"},
    {"local v = sl.json.decode('[1.0, 2]') return math.type(v[1]) == 'float' and "
     "math.type(v[2]) == 'integer'"},
    {"local v = sl.json.decode('null') return v == sl.null"},
    {"local s = '{\"a\":[1,2.5,\"x\",null,{\"b\":{}}],\"k\":true}'\n"
     "return sl.json.encode(sl.json.decode(s)) == s"},
    {"local ok, e = pcall(sl.json.decode, '{\"a\":') return not ok and e:find('^sl.json.decode: ') ~= nil, e"},
    {"local ok, e = pcall(sl.json.decode, '[1] x') return not ok and e:find('^sl.json.decode: ') ~= nil, e"},
    {"local ok, e = pcall(sl.json.decode, '\"\\255\"') return not ok, e"},
    {"local t = {} t.t = t local ok, e = pcall(sl.json.encode, t)\n"
     "return not ok and e == 'sl.json.encode: cannot encode a cyclic table', e"},
    {"local ok, e = pcall(sl.json.encode, {f = print})\n"
     "return not ok and e == 'sl.json.encode: cannot encode a function', e"},
    {"local ok, e = pcall(sl.json.encode) return not ok and e:find('value expected') ~= nil, e"},
    {"return sl.json.encode(string.rep('a', 100000)) == '\"' .. string.rep('a', 100000) .. '\"'"},
};

TEST(test_json_module) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT;
  for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
    if (run(s, json_cases[i].code, 2, &err)) {
      TEST_FAIL_AT("case %zu: %s", i, err.ptr);
      continue;
    }
    if (!lua_toboolean(L, -2))
      TEST_FAIL_AT("case %zu: %s (%s)", i, json_cases[i].code,
                   lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
    lua_settop(L, 0);
  }
  /* The error carries the position of the caller. */
  ASSERT_EQ(run(s, "\nsl.json.decode('nope')", 0, &err), SL_ELUA);
  ASSERT(strncmp(err.ptr, "test:2: sl.json.decode: ", 24) == 0);
  sl_buf_free(&err);
  sl_lua_free(s);
}

/* Lua → JSON → Lua keeps nested structure and number types. */
TEST(test_json_round_trip) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(run(s, "local function eq(a, b)\n"
                   "  if type(a) ~= type(b) then return false end\n"
                   "  if type(a) == 'number' then return a == b and math.type(a) == math.type(b) end\n"
                   "  if type(a) ~= 'table' then return a == b end\n"
                   "  for k, v in pairs(a) do if not eq(v, b[k]) then return false end end\n"
                   "  for k in pairs(b) do if a[k] == nil then return false end end\n"
                   "  return true\n"
                   "end\n"
                   "local v = {name = 'n', list = {1, 2.5, {deep = {sl.null, false}}, 'é'},\n"
                   "           obj = {x = {y = {z = {}}}}, big = math.maxinteger, neg = -3}\n"
                   "return eq(v, sl.json.decode(sl.json.encode(v)))", 1, &err), 0);
  ASSERT(lua_toboolean(L, -1));
  sl_buf_free(&err);
  sl_lua_free(s);
}

RUN_TESTS(test_to_value, test_push_value, test_json_module, test_json_round_trip)
