/* Record views and records made from tables: reads decode lazily and keep
 * types, writes land in the batch's arena, pairs() keeps field order, views
 * die with their batch. */
#include <lauxlib.h>
#include <stdio.h>

#include "lua/sl_lua.h"
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "test.h"
#include "lua_test.h"
#include "record_test.h"

/* ---- helpers ---- */


/* code is a chunk returning a step function; calls it with a view of rec. */
static int step(sl_lua *s, const char *code, sl_record *rec, sl_arena *a, int nres, sl_buf *err) {
  if (run(s, code, 1, err)) return SL_ELUA;
  return sl_lua_pcall_record(s, rec, a, nres, err, NULL);
}

/* The engine's sluice module carries these; here a plain global will do. */
static void open_sl(lua_State *L) {
  lua_createtable(L, 0, 3);
  sl_lua_push_null(L);
  lua_setfield(L, -2, "null");
  sl_lua_push_json_module(L);
  lua_setfield(L, -2, "json");
  sl_lua_push_record_module(L);
  lua_setfield(L, -2, "record");
  lua_setglobal(L, "sl");
}

static sl_lua *new_state(void) {
  sl_lua_limits lim = {.memory_bytes = 64u << 20, .call_ms = 1000};
  sl_lua *s = sl_lua_new(&lim, NULL, NULL);
  if (s) open_sl(sl_lua_state(s));
  return s;
}

/* The record's fields as JSON, in a static buffer. */
static const char *fields_json(const sl_record *r) {
  static char out[1024];
  sl_buf b = SL_BUF_INIT;
  sl_json_encode_record(&b, r);
  snprintf(out, sizeof out, "%.*s", (int)b.len, b.ptr ? b.ptr : "");
  sl_buf_free(&b);
  return out;
}

#define STEP_OK(s, code, rec, a, nres, err)                              \
  do {                                                                 \
    if (step(s, code, rec, a, nres, err)) {                            \
      TEST_FAIL_AT("step failed: %s", (err)->ptr);                     \
      return;                                                          \
    }                                                                  \
  } while (0)

/* ---- reading ---- */

static const char *const sample =
    "{\"name\":\"Ann\",\"age\":42,\"score\":1.5,\"ok\":true,\"tags\":[\"a\",\"b\"],"
    "\"addr\":{\"city\":\"Paris\",\"zip\":null},\"n\":null,\"esc\":\"a\\\"b\\u00e9\","
    "\"big\":9223372036854775807,\"huge\":9223372036854775808,\"neg0\":-0,\"f1\":1.0,"
    "\"e\":1e2,\"neg\":-7}";

TEST(test_reads) {
  sl_lua *s = new_state();
  ASSERT(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, sample);
  sl_buf err = SL_BUF_INIT;
  STEP_OK(s, "return function(rec)\n"
             "  assert(rec.name == 'Ann', 'name')\n"
             "  assert(rec.age == 42 and math.type(rec.age) == 'integer', 'age')\n"
             "  assert(rec.neg == -7 and math.type(rec.neg) == 'integer', 'neg')\n"
             "  assert(rec.score == 1.5, 'score')\n"
             "  assert(rec.ok == true, 'ok')\n"
             "  assert(#rec.tags == 2 and rec.tags[1] == 'a' and rec.tags[2] == 'b', 'tags')\n"
             "  assert(rec.addr.city == 'Paris' and rec.addr.zip == sl.null, 'addr')\n"
             "  assert(rec.n == sl.null and rec.n ~= nil, 'null field')\n"
             "  assert(rec.missing == nil, 'absent field')\n"
             "  assert(rec.esc == 'a\"b\\u{e9}', 'escaped string')\n"
             "  assert(rec.big == math.maxinteger and math.type(rec.big) == 'integer', 'big')\n"
             "  assert(math.type(rec.huge) == 'float' and rec.huge == 2^63, 'huge')\n"
             "  assert(math.type(rec.neg0) == 'float' and 1/rec.neg0 == -math.huge, '-0')\n"
             "  assert(math.type(rec.f1) == 'float' and rec.f1 == 1, '1.0')\n"
             "  assert(math.type(rec.e) == 'float' and rec.e == 100, '1e2')\n"
             "end", &rec, &a, 0, &err);
  /* Reading decodes but changes nothing: the record still leaves as raw. */
  ASSERT_EQ(rec.state, SL_REC_DECODED);
  /* Reading containers again and again does not grow the batch's arena. */
  size_t used = a.used;
  STEP_OK(s, "return function(rec) for i = 1, 100 do local _ = rec.addr, rec.tags, rec.esc end end",
          &rec, &a, 0, &err);
  ASSERT_EQ(a.used, used);
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

TEST(test_bad_keys_and_decode_failure) {
  sl_lua *s = new_state();
  ASSERT(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, "{\"a\":1}");
  sl_buf err = SL_BUF_INIT;
  ASSERT_EQ(step(s, "return function(rec) return rec[1] end", &rec, &a, 0, &err), SL_ELUA);
  ASSERT_STR_EQ(err.ptr, "test:1: record fields are named by strings, not by a number");
  ASSERT_EQ(step(s, "return function(rec) rec[true] = 1 end", &rec, &a, 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "record fields are named by strings, not by a boolean"));

  rec_init_str(&rec, "{\"a\":");
  ASSERT_EQ(step(s, "return function(rec) return rec.a end", &rec, &a, 0, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "test:1: cannot decode the record: "));
  ASSERT_EQ(rec.state, SL_REC_FAILED);
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

/* ---- writing ---- */

TEST(test_writes) {
  sl_lua *s = new_state();
  ASSERT(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, "{\"name\":\"Ann\",\"age\":42,\"x\":1}");
  sl_buf err = SL_BUF_INIT;
  STEP_OK(s, "return function(rec)\n"
             "  rec.name = 'Bob'\n"
             "  rec.age = nil\n"
             "  rec.missing = nil\n"
             "  rec.new = {1, 2.5, 'x', {k = sl.null}}\n"
             "  rec.flag = false\n"
             "  rec.nothing = sl.null\n"
             "  rec['with space'] = 'é'\n"
             "  assert(rec.age == nil and rec.name == 'Bob' and rec.new[4].k == sl.null)\n"
             "end", &rec, &a, 0, &err);
  ASSERT_EQ(rec.state, SL_REC_CHANGED);
  /* The state goes first: names and strings must live in the arena only. */
  sl_lua_free(s);
  ASSERT_STR_EQ(fields_json(&rec),
                "{\"name\":\"Bob\",\"x\":1,\"new\":[1,2.5,\"x\",{\"k\":null}],\"flag\":false,"
                "\"nothing\":null,\"with space\":\"é\"}");

  s = new_state();
  ASSERT(s);
  ASSERT_EQ(step(s, "return function(rec) rec.f = print end", &rec, &a, 0, &err), SL_ELUA);
  ASSERT_STR_EQ(err.ptr, "test:1: cannot set field 'f': cannot encode a function");
  ASSERT_EQ(step(s, "return function(rec) local t = {} t[1] = t rec.c = t end", &rec, &a, 0, &err),
            SL_ELUA);
  ASSERT_STR_EQ(err.ptr, "test:1: cannot set field 'c': cannot encode a cyclic table");
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

TEST(test_pairs_order) {
  sl_lua *s = new_state();
  ASSERT(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, "{\"b\":1,\"a\":2,\"c\":3}");
  sl_buf err = SL_BUF_INIT;
  lua_State *L = sl_lua_state(s);
  static const struct {
    const char *code;
    const char *out;
  } cases[] = {
      {"return function(rec) local o = {} for k, v in pairs(rec) do o[#o+1] = k .. '=' .. v end "
       "return table.concat(o, ',') end", "b=1,a=2,c=3"},
      {"return function(rec) rec.d = 4 rec.a = 20 local o = {} for k, v in pairs(rec) do "
       "o[#o+1] = k .. '=' .. v end return table.concat(o, ',') end", "b=1,a=20,c=3,d=4"},
      /* Removing the current field during the walk skips nothing. */
      {"return function(rec) local o = {} for k in pairs(rec) do o[#o+1] = k "
       "if k == 'a' then rec.a = nil end end return table.concat(o, ',') end", "b,a,c,d"},
      /* Removing every field as it goes. */
      {"return function(rec) local o = {} for k in pairs(rec) do o[#o+1] = k rec[k] = nil end "
       "return table.concat(o, ',') .. '|' .. tostring(next({}) == nil and rec.b == nil) end",
       "b,c,d|true"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    STEP_OK(s, cases[i].code, &rec, &a, 1, &err);
    ASSERT_STR_EQ(lua_tostring(L, -1), cases[i].out);
    lua_settop(L, 0);
  }
  ASSERT_STR_EQ(fields_json(&rec), "{}");
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

/* ---- methods ---- */

TEST(test_meta_raw_totable_tostring) {
  sl_lua *s = new_state();
  ASSERT(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, "{\"x\":1,\"y\":[true]}");
  rec.meta.origin = SL_STR_LIT("orders");
  rec.meta.partition = 3;
  rec.meta.offset = 1200;
  rec.meta.key = SL_STR_LIT("k1");
  rec.meta.department = SL_STR_LIT("tax");
  rec.meta.event_time_ms = 1700000000123;
  rec.meta.arrival_ms = 1700000000999;
  sl_buf err = SL_BUF_INIT;
  STEP_OK(s, "return function(rec)\n"
             "  local m = rec:meta()\n"
             "  assert(m.origin == 'orders' and m.partition == 3 and m.offset == 1200, 'coords')\n"
             "  assert(m.key == 'k1' and m.department == 'tax', 'key, department')\n"
             "  assert(m.line == nil and m.id == nil and m.feed == nil, 'absent ones')\n"
             "  assert(m.event_time == 1700000000123 and math.type(m.event_time) == 'integer')\n"
             "  assert(m.arrival_time == 1700000000999)\n"
             "  assert(rec:raw() == '{\"x\":1,\"y\":[true]}', 'raw')\n"
             "  local t = rec:totable()\n"
             "  assert(getmetatable(t) == nil and t.x == 1 and t.y[1] == true, 'totable')\n"
             "  t.x = 2 assert(rec.x == 1, 'a copy')\n"
             "  assert(tostring(rec) == '{\"x\":1,\"y\":[true]}', tostring(rec))\n"
             "  assert(getmetatable(rec) == false, 'metatable hidden')\n"
             "  assert(sl.record.meta(rec).origin == 'orders')\n"
             "end", &rec, &a, 0, &err);
  /* Meta of a record without any. */
  sl_record bare;
  rec_init_str(&bare, "{}");
  lua_State *L = sl_lua_state(s);
  STEP_OK(s, "return function(rec) return next(rec:meta()) == nil and rec:raw() == '{}' end",
          &bare, &a, 1, &err);
  ASSERT(lua_toboolean(L, -1));
  lua_settop(L, 0);
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

TEST(test_fields_win_over_methods) {
  sl_lua *s = new_state();
  ASSERT(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, "{\"meta\":\"field\",\"totable\":1}");
  rec.meta.origin = SL_STR_LIT("src");
  sl_buf err = SL_BUF_INIT;
  STEP_OK(s, "return function(rec)\n"
             "  assert(rec.meta == 'field' and rec.totable == 1)\n"
             "  assert(sl.record.meta(rec).origin == 'src')\n"
             "  assert(sl.record.totable(rec).meta == 'field')\n"
             "  assert(type(rec.raw) == 'function' and rec:raw() ~= nil)\n"
             "  rec.raw = 'now a field' assert(rec.raw == 'now a field')\n"
             "  rec.raw = nil assert(type(rec.raw) == 'function')\n"
             "end", &rec, &a, 0, &err);
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

/* ---- lifetime ---- */

TEST(test_stale_view) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_record rec;
  rec_init_str(&rec, "{\"name\":\"Ann\"}");
  sl_buf err = SL_BUF_INIT;
  STEP_OK(s, "return function(rec) KEEP = rec return rec end", &rec, &a, 1, &err);
  ASSERT(sl_lua_to_record(L, -1) == &rec);
  lua_settop(L, 0);
  /* Still the same batch: the view works from another call. */
  ASSERT_EQ(run(s, "return KEEP.name", 1, &err), 0);
  ASSERT_STR_EQ(lua_tostring(L, -1), "Ann");
  lua_settop(L, 0);

  sl_lua_views_expire(L);
  static const char *const uses[] = {
      "return KEEP.name", "KEEP.name = 'x'", "for k in pairs(KEEP) do end",
      "return tostring(KEEP)", "return KEEP:meta()", "return sl.record.raw(KEEP)",
      "return sl.json.encode(KEEP)",
  };
  for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++) {
    ASSERT_EQ(run(s, uses[i], 1, &err), SL_ELUA);
    if (!strstr(err.ptr, "record used outside the step call that received it"))
      TEST_FAIL_AT("%s: %s", uses[i], err.ptr);
  }
  lua_getglobal(L, "KEEP");
  ASSERT(sl_lua_to_record(L, -1) == NULL);
  lua_settop(L, 0);
  ASSERT_STR_EQ(fields_json(&rec), "{\"name\":\"Ann\"}");
  /* Not a view at all. */
  ASSERT_EQ(run(s, "return sl.record.meta({})", 1, &err), SL_ELUA);
  ASSERT(strstr(err.ptr, "record expected, got table"));
  lua_pushinteger(L, 1);
  ASSERT(sl_lua_to_record(L, -1) == NULL);
  lua_settop(L, 0);
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

/* ---- records from tables ---- */

TEST(test_table_to_record) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_arena a;
  sl_arena_init(&a);
  sl_buf err = SL_BUF_INIT;
  sl_record out;
  const char *why = NULL;

  ASSERT_EQ(run(s, "return {b = 1, a = 'x', [2] = true, [1] = false, [-1] = 0, "
                   "nested = {z = 1, y = {1, 2}}, e = {}, f = 1.0}", 1, &err), 0);
  /* Outside any protected call, as the engine does it. */
  ASSERT_EQ(sl_lua_table_to_record(L, -1, &a, &out, &why), 0);
  lua_settop(L, 0);
  ASSERT_EQ(out.state, SL_REC_CHANGED);
  ASSERT(out.codec == NULL);
  ASSERT_EQ(out.meta.partition, -1);
  ASSERT_EQ(out.meta.offset, -1);
  ASSERT_EQ(out.nfields, 8);
  ASSERT_EQ(out.fields[6].value.type, SL_T_DOUBLE);
  ASSERT_STR_EQ(fields_json(&out),
                "{\"-1\":0,\"1\":false,\"2\":true,\"a\":\"x\",\"b\":1,\"e\":{},"
                "\"f\":1,\"nested\":{\"y\":[1,2],\"z\":1}}");

  /* The record is usable as any other: a view of it reads and writes. */
  STEP_OK(s, "return function(rec) rec.b = rec.b + 1 return rec.nested.y[2] end", &out, &a, 1,
          &err);
  ASSERT_EQ(lua_tointeger(L, -1), 2);
  lua_settop(L, 0);

  static const struct {
    const char *code;
    const char *why;
  } bad[] = {
      {"return {1, 2}", "a record needs named fields, not a list"},
      {"return {f = print}", "cannot encode a function"},
      {"local t = {} t.self = t return t", "cannot encode a cyclic table"},
      {"return {[true] = 1}", "cannot encode a table key of type boolean"},
      {"local t = {} for i = 1, 101 do t = {t} end return {deep = t}",
       "table nested too deeply (more than 100 levels)"},
      {"return 'text'", "a record is made from a table"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ASSERT_EQ(run(s, bad[i].code, 1, &err), 0);
    why = NULL;
    ASSERT(sl_lua_table_to_record(L, -1, &a, &out, &why) != 0);
    ASSERT_STR_EQ(why, bad[i].why);
    lua_settop(L, 0);
  }
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&a);
}

/* A view inside a value is a copy of its fields, which outlives the view's
 * batch. */
TEST(test_view_as_value) {
  sl_lua *s = new_state();
  ASSERT(s);
  lua_State *L = sl_lua_state(s);
  sl_arena batch1, batch2;
  sl_arena_init(&batch1);
  sl_arena_init(&batch2);
  char *raw = strdup("{\"id\":7,\"tags\":[\"x\"]}");
  sl_record rec;
  rec_init_str(&rec, raw);
  sl_buf err = SL_BUF_INIT;
  STEP_OK(s, "return function(rec) return {orig = rec, n = 1} end", &rec, &batch1, 1, &err);
  sl_record out;
  const char *why = NULL;
  ASSERT_EQ(sl_lua_table_to_record(L, -1, &batch2, &out, &why), 0);
  lua_settop(L, 0);
  sl_lua_views_expire(L);
  free(raw);
  sl_arena_free(&batch1);
  ASSERT_STR_EQ(fields_json(&out), "{\"n\":1,\"orig\":{\"id\":7,\"tags\":[\"x\"]}}");
  sl_buf_free(&err);
  sl_lua_free(s);
  sl_arena_free(&batch2);
}

RUN_TESTS(test_reads, test_bad_keys_and_decode_failure, test_writes, test_pairs_order,
          test_meta_raw_totable_tostring, test_fields_win_over_methods, test_stale_view,
          test_table_to_record, test_view_as_value)
