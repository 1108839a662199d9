/* The catalog's constructors in the sluice module: sl.feed, sl.department
 * and sl.catalog (sluice/catalog.h).  Each checks its table where it is
 * called, so that a mistake is reported as "catalog.lua:12: sl.feed
 * births: field 'birth': ...", marks the table as what it is (a metatable)
 * and records where it was declared (field `_where`), for the messages of
 * the steps that read it later. */
#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "engine/engine.h"
#include "sluice/errors.h"
#include "sluice/text.h"

#define FEED_MT "sluice.feed"
#define DEPT_MT "sluice.department"
#define CATALOG_MT "sluice.catalog"

static const sl_option feed_options[] = {
    {"name", SL_OPT_STR, NULL, SL_REQUIRED, 0, "The feed's name, as records carry it (ce_type without .v<N>).", NULL},
    {"title", SL_OPT_STR, NULL, 0, 0, "What the feed holds, for people.", NULL},
    {"description", SL_OPT_STR, NULL, 0, 0, "More about the feed.", NULL},
    {"topic", SL_OPT_STR, NULL, 0, 0, "The Kafka topic it is published on.", NULL},
    {"table", SL_OPT_STR, NULL, 0, 0, "The PostgreSQL table it is read from (schema.table).", NULL},
    {"key", SL_OPT_STRLIST, NULL, 0, 0, "The business key: the fields that identify a record.", NULL},
    {"schedule", SL_OPT_STR, NULL, 0, 0, "Declared update schedule: \"daily by 02:00\", \"every 15 min\", cron.", NULL},
    {"time", SL_OPT_STR, NULL, 0, 0, "The field holding the record's event time (RFC 3339); else ce_time.", NULL},
    {"retention", SL_OPT_STR, NULL, 0, 0, "How long the platform keeps it (\"5y\", \"180d\").", NULL},
    {"access", SL_OPT_ENUM, "restricted", 0, 0, "Who may read it.", "open|restricted"},
    {"domain", SL_OPT_STR, NULL, 0, 0, "What its records are about (\"person\", \"company\"): the pipeline that measures it.", NULL},
    {"fields", SL_OPT_LUA, NULL, SL_REQUIRED, 0, "The schema: { field = type | { type =, required =, rule =, ... } }.", "table"},
    {"weights", SL_OPT_LUA, NULL, 0, 0, "Weights of the quality dimensions for this feed.", "table"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option field_options[] = {
    {"type", SL_OPT_ENUM, "any", 0, 0, "What the value must be.",
     "string|int|number|bool|date|timestamp|object|array|any"},
    {"required", SL_OPT_BOOL, "false", 0, 0, "Absent, null or empty: the record is a dead letter.", NULL},
    {"rule", SL_OPT_LUA, NULL, 0, 0, "The cleansing rule (sl.clean's): \"cn_id\", { \"trim\", \"nfkc\" }.", NULL},
    {"title", SL_OPT_STR, NULL, 0, 0, "What the field holds.", NULL},
    {"description", SL_OPT_STR, NULL, 0, 0, "More about the field.", NULL},
    {"sensitive", SL_OPT_BOOL, "false", 0, 0, "Masked wherever it is shown.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option dept_options[] = {
    {"id", SL_OPT_STR, NULL, SL_REQUIRED, 0, "The department's short name, as records carry it (ce_source).", NULL},
    {"name", SL_OPT_STR, NULL, SL_REQUIRED, 0, "Its full name.", NULL},
    {"owner", SL_OPT_STR, NULL, 0, 0, "Who answers for its feeds.", NULL},
    {"contact", SL_OPT_STR, NULL, 0, 0, "How to reach them.", NULL},
    {"feeds", SL_OPT_LUA, NULL, SL_REQUIRED, 0, "Its feeds: { sl.feed { ... }, ... }.", "table"},
    {"weights", SL_OPT_LUA, NULL, 0, 0, "Weights of the quality dimensions for its feeds.", "table"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option catalog_options[] = {
    {"name", SL_OPT_STR, NULL, 0, 0, "The catalog's name.", NULL},
    {"timezone", SL_OPT_STR, "+08:00", 0, 0, "UTC offset of schedules and windows (\"+08:00\").", NULL},
    {"departments", SL_OPT_LUA, NULL, SL_REQUIRED, 0, "{ sl.department { ... }, ... }.", "table"},
    {"weights", SL_OPT_LUA, NULL, 0, 0, "Default weights of the quality dimensions.", "table"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_option *sl__catalog_options(char which) {
  return which == 'c' ? catalog_options : which == 'd' ? dept_options : feed_options;
}

/* Raises "<where>: <what>: <err>". */
static int fail(lua_State *L, const char *what, sl_buf *err) {
  sl__lua_where(L);
  lua_pushfstring(L, "%s%s: %s", lua_tostring(L, -1), what, err->ptr ? err->ptr : "");
  sl_buf_free(err);
  return lua_error(L);
}

/* A string field of the table at t, or NULL. */
static const char *str_field(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  const char *s = lua_tostring(L, -1);
  lua_pop(L, 1);
  return s;
}

/* weights = { dimension = number >= 0 }. */
static int check_weights(lua_State *L, int t, sl_buf *err) {
  if (lua_getfield(L, t, "weights") == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  int w = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, w)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int d = k ? sl__dimension_of(k) : -1;
    if (d < 0) {
      sl_buf_printf(err, "weights: unknown dimension '%s' (the dimensions: normativeness, completeness, "
                    "accuracy, consistency, timeliness, accessibility)", k ? k : luaL_typename(L, -2));
      lua_pop(L, 3);
      return SL_EOPTION;
    }
    if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 0) {
      sl_buf_printf(err, "weights.%s must be a number >= 0", k);
      lua_pop(L, 3);
      return SL_EOPTION;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}

/* fields = { name = "type" | { type =, required =, rule =, ... } }. */
static int check_fields(lua_State *L, int t, sl_buf *err) {
  lua_getfield(L, t, "fields");
  int fs = lua_gettop(L);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, fs)) {
    n++;
    if (lua_type(L, -2) != LUA_TSTRING) {
      sl_buf_printf(err, "fields: names must be strings, got %s", luaL_typename(L, -2));
      lua_pop(L, 3);
      return SL_EOPTION;
    }
    const char *name = lua_tostring(L, -2);
    sl_buf e = SL_BUF_INIT;
    int rc = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      if (sl__field_type_of(lua_tostring(L, -1)) < 0)
        sl_buf_printf(&e, "unknown type '%s' (the types: string, int, number, bool, date, timestamp, "
                      "object, array, any)", lua_tostring(L, -1));
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      rc = sl_options_check(L, -1, field_options, NULL, &e);
    } else {
      sl_buf_printf(&e, "expected a type name or a table { type =, required =, rule = }, got %s",
                    luaL_typename(L, -1));
    }
    if (rc || e.len) {
      sl_buf_printf(err, "field '%s': %.*s", name, (int)e.len, e.ptr ? e.ptr : "");
      sl_buf_free(&e);
      lua_pop(L, 3);
      return SL_EOPTION;
    }
    lua_pop(L, 1);
  }
  if (!n) {
    sl_buf_puts(err, "fields: a feed declares at least one field");
    lua_pop(L, 1);
    return SL_EOPTION;
  }
  /* The key and the time field are fields of the schema. */
  const char *time = str_field(L, t, "time");
  if (time && lua_getfield(L, fs, time) == LUA_TNIL) {
    sl_buf_printf(err, "time: '%s' is not among the fields", time);
    lua_pop(L, 2);
    return SL_EOPTION;
  }
  if (time) lua_pop(L, 1);
  int kt = lua_getfield(L, t, "key");
  if (kt == LUA_TSTRING) {
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
  }
  for (lua_Integer i = 1; kt != LUA_TNIL && lua_geti(L, -1, i) == LUA_TSTRING; i++) {
    const char *k = lua_tostring(L, -1);
    if (lua_getfield(L, fs, k) == LUA_TNIL) {
      sl_buf_printf(err, "key: '%s' is not among the fields", k);
      lua_pop(L, 4);
      return SL_EOPTION;
    }
    lua_pop(L, 2);
  }
  lua_pop(L, kt != LUA_TNIL ? 3 : 2);   /* the fields, the key and the value after its last */
  return 0;
}

/* Marks the table at 1 with metatable mt and where it was declared. */
static int mark(lua_State *L, const char *mt) {
  lua_settop(L, 1);
  sl__lua_where(L);
  size_t n;
  const char *w = lua_tolstring(L, -1, &n);
  while (n && (w[n - 1] == ' ' || w[n - 1] == ':')) n--;
  lua_pushlstring(L, w, n);
  lua_setfield(L, 1, "_where");
  lua_pop(L, 1);
  luaL_setmetatable(L, mt);
  return 1;
}

static int feed_ctor(lua_State *L) {
  sl_buf err = SL_BUF_INIT;
  if (!lua_istable(L, 1)) return luaL_error(L, "sl.feed: expected a table { name = ..., fields = ... }");
  lua_settop(L, 1);
  const char *name = lua_type(L, 1) == LUA_TTABLE ? str_field(L, 1, "name") : NULL;
  char what[96];
  snprintf(what, sizeof what, "sl.feed%s%.64s", name ? " " : "", name ? name : "");
  if (sl_options_check(L, 1, feed_options, NULL, &err) || check_fields(L, 1, &err) ||
      check_weights(L, 1, &err))
    return fail(L, what, &err);
  if (name && (!*name || strchr(name, '/'))) {
    sl_buf_puts(&err, "name must be non-empty and without '/'");
    return fail(L, what, &err);
  }
  return mark(L, FEED_MT);
}

/* Whether the list at index t holds only tables with metatable mt; the
 * position of the first that is not, else 0. */
static lua_Integer first_not(lua_State *L, int t, const char *mt) {
  lua_Integer n = (lua_Integer)luaL_len(L, t);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, t, i);
    int ok = 0;
    if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
      luaL_getmetatable(L, mt);
      ok = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
    if (!ok) return i;
  }
  return 0;
}

static int dept_ctor(lua_State *L) {
  sl_buf err = SL_BUF_INIT;
  if (!lua_istable(L, 1)) return luaL_error(L, "sl.department: expected a table { id = ..., feeds = ... }");
  lua_settop(L, 1);
  const char *id = str_field(L, 1, "id");
  char what[96];
  snprintf(what, sizeof what, "sl.department%s%.64s", id ? " " : "", id ? id : "");
  if (sl_options_check(L, 1, dept_options, NULL, &err) || check_weights(L, 1, &err))
    return fail(L, what, &err);
  if (!*id || strchr(id, '/')) {
    sl_buf_puts(&err, "id must be non-empty and without '/'");
    return fail(L, what, &err);
  }
  lua_getfield(L, 1, "feeds");
  lua_Integer bad = first_not(L, 2, FEED_MT), n = (lua_Integer)luaL_len(L, 2);
  if (bad || !n) {
    if (bad) sl_buf_printf(&err, "feeds[%d] must be made with sl.feed { ... }", (int)bad);
    else sl_buf_puts(&err, "feeds: a department declares at least one feed");
    return fail(L, what, &err);
  }
  for (lua_Integer i = 1; i <= n; i++)
    for (lua_Integer j = 1; j < i; j++) {
      lua_geti(L, 2, i);
      lua_geti(L, 2, j);
      const char *a = str_field(L, -2, "name"), *b = str_field(L, -1, "name");
      lua_pop(L, 2);
      if (strcmp(a, b) == 0) {
        sl_buf_printf(&err, "feeds[%d] and feeds[%d] are both named '%s'", (int)j, (int)i, a);
        return fail(L, what, &err);
      }
    }
  lua_settop(L, 1);
  return mark(L, DEPT_MT);
}

static int catalog_ctor(lua_State *L) {
  sl_buf err = SL_BUF_INIT;
  if (!lua_istable(L, 1)) return luaL_error(L, "sl.catalog: expected a table { departments = ... }");
  lua_settop(L, 1);
  if (sl_options_check(L, 1, catalog_options, NULL, &err) || check_weights(L, 1, &err))
    return fail(L, "sl.catalog", &err);
  const char *tz = str_field(L, 1, "timezone");
  int32_t off;
  if (tz && sl_utc_offset_parse(tz, &off)) {
    sl_buf_printf(&err, "timezone must be a UTC offset such as \"+08:00\", got \"%s\"", tz);
    return fail(L, "sl.catalog", &err);
  }
  lua_getfield(L, 1, "departments");
  lua_Integer bad = first_not(L, 2, DEPT_MT);
  if (bad || !luaL_len(L, 2)) {
    if (bad) sl_buf_printf(&err, "departments[%d] must be made with sl.department { ... }", (int)bad);
    else sl_buf_puts(&err, "departments: a catalog declares at least one department");
    return fail(L, "sl.catalog", &err);
  }
  mark(L, CATALOG_MT);
  /* What only the whole can tell (ids and topics twice) is found by
   * building the C model once. */
  sl_catalog *c = NULL;
  int rc = sl_catalog_load(L, 1, &c, &err);
  sl_catalog_free(c);
  if (rc) {
    /* The message says where: the feed's or department's own line. */
    lua_pushlstring(L, err.ptr ? err.ptr : "", err.len);
    sl_buf_free(&err);
    return lua_error(L);
  }
  sl_buf_free(&err);
  return 1;
}

int sl_catalog_is(lua_State *L, int idx) {
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, CATALOG_MT);
  int eq = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return eq;
}

/* ---- what a pipeline asks of its catalog ---- */

/* Calls fn(L, feed table index, dept id) for each feed of the catalog at 1
 * (of department `only` when it is not NULL). */
static void each_feed(lua_State *L, const char *only, void (*fn)(lua_State *L, int feed, const char *dept)) {
  lua_getfield(L, 1, "departments");
  int ds = lua_gettop(L);
  for (lua_Integer i = 1, n = (lua_Integer)luaL_len(L, ds); i <= n; i++) {
    lua_geti(L, ds, i);
    const char *id = str_field(L, -1, "id");
    if (!only || (id && !strcmp(id, only))) {
      lua_getfield(L, -1, "feeds");
      for (lua_Integer k = 1, nf = (lua_Integer)luaL_len(L, -1); k <= nf; k++) {
        lua_geti(L, -1, k);
        fn(L, lua_gettop(L), id);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* The list being built sits at index 2 (topics) or is the found feed. */
static void add_topic(lua_State *L, int feed, const char *dept) {
  (void)dept;
  const char *t = str_field(L, feed, "topic");
  if (!t) return;
  for (lua_Integer i = 1, n = (lua_Integer)luaL_len(L, 2); i <= n; i++) {
    lua_geti(L, 2, i);
    int same = !strcmp(lua_tostring(L, -1), t);
    lua_pop(L, 1);
    if (same) return;
  }
  lua_pushstring(L, t);
  lua_rawseti(L, 2, (lua_Integer)luaL_len(L, 2) + 1);
}

/* catalog:topics([department]): the topics its feeds are published on, in
 * the catalog's order, each once: a Kafka source's `topics`. */
static int cat_topics(lua_State *L) {
  if (!sl_catalog_is(L, 1)) return luaL_error(L, "catalog:topics(): call it on a catalog (catalog:topics())");
  const char *only = luaL_optstring(L, 2, NULL);
  lua_settop(L, 1);
  lua_newtable(L);
  each_feed(L, only, add_topic);
  return 1;
}

/* The feed wanted is "department/feed" at index 3; found, it goes to 2. */
static void find_feed(lua_State *L, int feed, const char *dept) {
  const char *name = str_field(L, feed, "name"), *wanted = lua_tostring(L, 3);
  size_t n = strlen(dept);
  if (lua_type(L, 2) == LUA_TNIL && name && !strncmp(wanted, dept, n) && wanted[n] == '/' &&
      !strcmp(wanted + n + 1, name)) {
    lua_pushvalue(L, feed);
    lua_replace(L, 2);
  }
}

/* catalog:feed("department/feed"): the feed's table (sl.feed's), or an
 * error naming what the catalog has. */
static int cat_feed(lua_State *L) {
  if (!sl_catalog_is(L, 1)) return luaL_error(L, "catalog:feed(): call it on a catalog (catalog:feed(\"dept/feed\"))");
  const char *id = luaL_checkstring(L, 2);
  lua_settop(L, 2);
  lua_pushnil(L);
  lua_insert(L, 2);   /* 2: the feed found (nil so far), 3: the id wanted */
  each_feed(L, NULL, find_feed);
  if (lua_isnil(L, 2)) return luaL_error(L, "catalog:feed(): no feed '%s' in the catalog (write \"department/feed\")", id);
  lua_settop(L, 2);
  return 1;
}

void sl__catalog_open(lua_State *L, int m) {
  luaL_newmetatable(L, FEED_MT);
  luaL_newmetatable(L, DEPT_MT);
  luaL_newmetatable(L, CATALOG_MT);
  luaL_Reg methods[] = {{"topics", cat_topics}, {"feed", cat_feed}, {NULL, NULL}};
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 3);
  lua_pushcfunction(L, feed_ctor);
  lua_setfield(L, m, "feed");
  lua_pushcfunction(L, dept_ctor);
  lua_setfield(L, m, "department");
  lua_pushcfunction(L, catalog_ctor);
  lua_setfield(L, m, "catalog");
}

/* The steps that read a catalog are plugins: they are given it only if
 * they are built in (sl.<name> is then a constructor). */
static const char check_chunk[] =
    "local cat = ...\n"
    "local sl = require 'sluice'\n"
    "local steps = {}\n"
    "if rawget(sl, 'clean') then steps[#steps + 1] = sl.clean { catalog = cat } end\n"
    "if rawget(sl, 'quality') then steps[#steps + 1] = sl.quality { catalog = cat } end\n"
    "return sl.pipeline { name = 'catalog', sources = { sl.generate { count = 0 } },\n"
    "                     steps = steps, sinks = { sl.null {} } }\n";

int sl__catalog_check_pipeline(lua_State *L, sl_buf *err) {
  if (luaL_loadbufferx(L, check_chunk, sizeof check_chunk - 1, "=catalog check", "t") != LUA_OK) {
    sl_buf_printf(err, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return SL_ELUA;
  }
  int nd = 0, nf = 0;
  lua_getfield(L, -2, "departments");
  nd = (int)luaL_len(L, -1);
  for (int i = 1; i <= nd; i++) {
    lua_geti(L, -1, i);
    lua_getfield(L, -1, "feeds");
    nf += (int)luaL_len(L, -1);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  lua_pushfstring(L, "catalog with %d department%s and %d feed%s", nd, nd == 1 ? "" : "s", nf,
                  nf == 1 ? "" : "s");
  lua_setfield(L, LUA_REGISTRYINDEX, SL_CATALOG_SUMMARY_KEY);
  lua_pushvalue(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    sl_buf_printf(err, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return SL_ELUA;
  }
  lua_remove(L, -2);
  return 0;
}
