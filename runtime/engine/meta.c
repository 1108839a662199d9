/* `sluice meta luals|luacheck`: the editors' view of the Lua API, generated
 * from what the runtime registers, so that it cannot drift from it.
 *
 *   luals     a LuaLS definition file (---@meta): the sluice module, every
 *             plugin's constructor with a class of its options (the option
 *             tables sl_options_check reads: names, types, required ones,
 *             enums, their one-line docs), the pipeline's and the catalog's
 *             constructors, the shipped Lua libraries;
 *   luacheck  a .luacheckrc whose standard is the sandbox's globals as a
 *             pipeline file sees them with no grant (so that luacheck flags
 *             io, os.execute, load of binary chunks ...), read from a real
 *             sandboxed state. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "engine/engine.h"
#include "lua/sl_lua.h"

/* ---- LuaLS ---- */

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted string keys of the table at idx, in a (freed by the caller). */
static char **keys_of(lua_State *L, int idx, int *n) {
  int cap = 64;
  char **out = malloc((size_t)cap * sizeof *out);
  *n = 0;
  lua_pushnil(L);
  while (out && lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      if (*n == cap) {
        char **t = realloc(out, (size_t)(cap *= 2) * sizeof *out);
        if (!t) break;
        out = t;
      }
      out[(*n)++] = strdup(lua_tostring(L, -2));
    }
    lua_pop(L, 1);
  }
  if (out) qsort(out, (size_t)*n, sizeof *out, name_cmp);
  return out;
}


/* The LuaLS type of an option. */
static void put_type(sl_buf *b, const sl_option *o) {
  switch (o->type) {
    case SL_OPT_STR:
    case SL_OPT_PATH:
      sl_buf_puts(b, "string");
      return;
    case SL_OPT_INT:
      sl_buf_puts(b, "integer");
      return;
    case SL_OPT_DOUBLE:
      sl_buf_puts(b, "number");
      return;
    case SL_OPT_BOOL:
      sl_buf_puts(b, "boolean");
      return;
    case SL_OPT_DURATION:
    case SL_OPT_SIZE:
      sl_buf_puts(b, "integer|string");
      return;
    case SL_OPT_ENUM: {
      const char *c = o->choices ? o->choices : "";
      sl_buf_putc(b, '"');
      for (; *c; c++) sl_buf_puts(b, *c == '|' ? "\"|\"" : (char[]){*c, 0});
      sl_buf_putc(b, '"');
      return;
    }
    case SL_OPT_STRLIST:
      sl_buf_puts(b, "string|string[]");
      return;
    case SL_OPT_MAP:
      sl_buf_puts(b, "table<string, string|number|boolean>");
      return;
    case SL_OPT_LUA:
      break;
  }
  const char *c = o->choices ? o->choices : "";
  if (o->flags & (SL_RECORD_FN | SL_RECORD_FIELD)) sl_buf_puts(b, "string|fun(rec: sluice.record): string?");
  else if (o->flags & SL_RECORD_MAP) sl_buf_puts(b, "table<string, string|fun(rec: sluice.record): string?>");
  else if (!strcmp(c, "function")) sl_buf_puts(b, "function");
  else if (!strcmp(c, "table")) sl_buf_puts(b, "table");
  else if (!strcmp(c, "function|table")) sl_buf_puts(b, "function|table");
  else if (!strcmp(c, "function|string")) sl_buf_puts(b, "string|function");
  else sl_buf_puts(b, "any");
}

/* One line of doc text: no newline can break the comment. */
static void put_doc(sl_buf *b, const char *doc) {
  for (const char *c = doc ? doc : ""; *c; c++) sl_buf_putc(b, *c == '\n' ? ' ' : *c);
}

static void put_fields(sl_buf *b, const sl_option *opts) {
  for (const sl_option *o = opts; o && o->name; o++) {
    sl_buf_printf(b, "---@field %s%s ", o->name, o->flags & SL_REQUIRED ? "" : "?");
    put_type(b, o);
    sl_buf_putc(b, ' ');
    put_doc(b, o->doc);
    if (o->def) sl_buf_printf(b, " (default %s)", o->def);
    sl_buf_putc(b, '\n');
  }
}

/* "file.source" -> "file_source" for class names. */
static void class_name(sl_buf *b, const char *name) {
  sl_buf_puts(b, "sluice.");
  for (const char *c = name; *c; c++) sl_buf_putc(b, *c == '.' ? '_' : *c);
  sl_buf_puts(b, ".options");
}

/* A constructor sl.<name>(opts) returning what it makes. */
static void put_ctor(sl_buf *b, const char *name, const char *doc, const sl_option *opts,
                     const sl_option *common, const char *returns) {
  sl_buf_puts(b, "\n---@class ");
  class_name(b, name);
  sl_buf_putc(b, '\n');
  put_fields(b, opts);
  put_fields(b, common);
  if (!returns) return;   /* the constructor is the call of a library table (put_libs) */
  sl_buf_puts(b, "\n--- ");
  put_doc(b, doc);
  sl_buf_puts(b, "\n---@param opts ");
  class_name(b, name);
  sl_buf_printf(b, "\n---@return %s\nfunction sl.%s(opts) end\n", returns, name);
}

/* The namespaces a dotted name needs: sl.file = {} for file.source. */
static void put_namespaces(sl_buf *b) {
  const char *seen[64];
  int n = 0;
  for (const sl_plugin *const *p = sl_registry_all(); *p; p++) {
    const char *dot = strchr((*p)->name, '.');
    if (!dot || ((*p)->caps & SL_CAN_HOST_LUA)) continue;
    int len = (int)(dot - (*p)->name), known = 0;
    for (int i = 0; i < n; i++) known |= (int)strlen(seen[i]) >= len && !strncmp(seen[i], (*p)->name, (size_t)len) &&
                                         seen[i][len] == '.';
    if (known || n == 64) continue;
    seen[n++] = (*p)->name;
    sl_buf_printf(b, "sl.%.*s = {}\n", len, (*p)->name);
  }
}

/* The shipped Lua libraries (sl.clean.cn_id ...): a class of their
 * functions, read from the library itself; one with a plugin of the same
 * name is callable as that plugin's constructor too. */
static void put_libs(sl_buf *b) {
  lua_State *L = luaL_newstate();
  if (!L) return;
  for (const sl_lua_lib *const *lib = sl_registry_libs(); *lib; lib++) {
    const sl_plugin *same = NULL;
    for (const sl_plugin *const *p = sl_registry_all(); *p; p++)
      if (!strcmp((*p)->name, (*lib)->name)) same = *p;
    sl_buf_printf(b, "---@class sluice.%s.lib\n", (*lib)->name);
    if (same) {
      sl_buf_puts(b, "---@overload fun(opts: ");
      class_name(b, same->name);
      sl_buf_puts(b, "): sluice.stage\n");
    }
    (*lib)->open(L);
    int n;
    char **names = keys_of(L, lua_gettop(L), &n);
    for (int i = 0; names && i < n; i++) {
      sl_buf_printf(b, "---@field %s function\n", names[i]);
      free(names[i]);
    }
    free(names);
    lua_settop(L, 0);
    sl_buf_printf(b, "sl.%s = {}\n\n", (*lib)->name);
  }
  lua_close(L);
}

static void luals(sl_buf *b) {
  sl_buf_puts(b,
              "---@meta sluice\n"
              "-- The sluice Lua API for LuaLS (lua-language-server): `local sl = require \"sluice\"`.\n"
              "-- Generated by `sluice meta luals` from the option tables sluice registers: do not\n"
              "-- edit (lint.meta fails when it differs from what the build generates).\n\n"
              "---@class sluice.stage A source, step or sink, for sl.pipeline.\n"
              "---@class sluice.pipeline What a pipeline file returns.\n"
              "---@class sluice.catalog A feed catalog (docs/metrics.md).\n"
              "---@field topics fun(self: sluice.catalog, department?: string): string[]\n"
              "---@field feed fun(self: sluice.catalog, id: string): sluice.feed\n"
              "---@class sluice.department\n"
              "---@class sluice.feed\n"
              "---@class sluice.record A record view: fields by name (rec.name, rec.name = v).\n\n"
              "---@class sluice\n"
              "local sl = {}\n\n"
              "--- An environment variable, or default; hidden as <from env NAME> in sluice's messages.\n"
              "---@param name string\n---@param default? string\n---@return string?\n"
              "function sl.env(name, default) end\n\n"
              "--- Unix time in milliseconds.\n---@return integer\nfunction sl.now_ms() end\n\n"
              "---@type string\nsl.version = \"\"\n\n"
              "sl.log = {}\n"
              "---@param fmt string\nfunction sl.log.debug(fmt, ...) end\n"
              "---@param fmt string\nfunction sl.log.info(fmt, ...) end\n"
              "---@param fmt string\nfunction sl.log.warn(fmt, ...) end\n"
              "---@param fmt string\nfunction sl.log.error(fmt, ...) end\n\n"
              "sl.json = {}\n"
              "---@param v any\n---@return string\nfunction sl.json.encode(v) end\n"
              "---@param s string\n---@return any\nfunction sl.json.decode(s) end\n"
              "sl.json.null = nil ---@type lightuserdata\n\n"
              "sl.record = {}\n"
              "---@param rec sluice.record\n---@return table\nfunction sl.record.meta(rec) end\n"
              "---@param rec sluice.record\n---@return string\nfunction sl.record.raw(rec) end\n"
              "---@param rec sluice.record\n---@return table\nfunction sl.record.totable(rec) end\n\n");
  put_libs(b);
  put_namespaces(b);
  put_ctor(b, "pipeline", "The pipeline description: what a pipeline file returns.", sl__pipeline_options(),
           NULL, "sluice.pipeline");
  put_ctor(b, "catalog", "A feed catalog: what a catalog file returns.", sl__catalog_options('c'), NULL,
           "sluice.catalog");
  put_ctor(b, "department", "A department of the catalog.", sl__catalog_options('d'), NULL,
           "sluice.department");
  put_ctor(b, "feed", "A feed of a department; fields = { name = type | { type =, required =, rule = } }.",
           sl__catalog_options('f'), NULL, "sluice.feed");
  for (const sl_plugin *const *p = sl_registry_all(); *p; p++) {
    if ((*p)->caps & SL_CAN_HOST_LUA) continue;
    int lib = 0;
    for (const sl_lua_lib *const *l = sl_registry_libs(); *l; l++) lib |= !strcmp((*l)->name, (*p)->name);
    put_ctor(b, (*p)->name, (*p)->doc, (*p)->options, sl_registry_common((*p)->kind), lib ? NULL : "sluice.stage");
  }
  sl_buf_puts(b, "\nreturn sl\n");
}

/* ---- luacheck ---- */

static int luacheck(sl_buf *b, sl_buf *err) {
  sl_lua_limits lim = {.memory_bytes = (size_t)64 << 20, .call_ms = 1000};
  sl_lua_grants none = {0};
  sl_lua *s = sl_lua_new(&lim, &none, NULL);
  if (!s) {
    sl_buf_puts(err, "out of memory");
    return 1;
  }
  lua_State *L = sl_lua_state(s);
  sl_buf_puts(b,
              "-- luacheck's view of a sluice pipeline file: the sandbox's globals with no grant\n"
              "-- (pipelines/, lua/). Generated by `sluice meta luacheck` from a sandboxed Lua state:\n"
              "-- do not edit (lint.meta fails when it differs from what the build generates).\n"
              "stds.sluice = {\n  read_globals = {\n");
  lua_pushglobaltable(L);
  int g = lua_gettop(L), n;
  char **names = keys_of(L, g, &n);
  for (int i = 0; names && i < n; i++) {
    if (!strcmp(names[i], "_G") || !strcmp(names[i], "_VERSION")) {
      sl_buf_printf(b, "    \"%s\",\n", names[i]);
      free(names[i]);
      continue;
    }
    lua_getfield(L, g, names[i]);
    if (lua_type(L, -1) == LUA_TTABLE) {
      int nf;
      char **fields = keys_of(L, lua_gettop(L), &nf);
      sl_buf_printf(b, "    %s = { fields = {", names[i]);
      for (int k = 0; fields && k < nf; k++) {
        sl_buf_printf(b, "%s\"%s\"", k ? ", " : " ", fields[k]);
        free(fields[k]);
      }
      sl_buf_puts(b, " } },\n");
      free(fields);
    } else {
      sl_buf_printf(b, "    \"%s\",\n", names[i]);
    }
    lua_pop(L, 1);
    free(names[i]);
  }
  free(names);
  sl_buf_puts(b, "  },\n}\nstd = \"sluice\"\n-- Pipelines are read top to bottom: unused arguments of a step function are fine.\n"
                 "unused_args = false\nmax_line_length = 120\n"
                 "-- The generated LuaLS definitions are for editors, not for luacheck.\n"
                 "exclude_files = { \"lua/types/*.lua\" }\n");
  sl_lua_free(s);
  return 0;
}

int sl__meta_main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "luals") && strcmp(argv[1], "luacheck"))) {
    fputs("usage: sluice meta luals|luacheck\n\n"
          "Writes to standard output the editors' view of sluice's Lua API, made from what\n"
          "this sluice registers: a LuaLS definition file (luals; lua/types/sluice.lua), or a\n"
          ".luacheckrc whose standard is a pipeline's sandbox (luacheck).\n",
          stderr);
    return 2;
  }
  sl_buf b = SL_BUF_INIT, err = SL_BUF_INIT;
  int rc = 0;
  if (!strcmp(argv[1], "luals")) luals(&b);
  else rc = luacheck(&b, &err);
  if (!rc && b.oom) rc = 1;
  if (rc) fprintf(stderr, "sluice meta: %s\n", sl_buf_text(&err));
  else fwrite(b.ptr, 1, b.len, stdout);
  sl_buf_free(&b);
  sl_buf_free(&err);
  return rc;
}
