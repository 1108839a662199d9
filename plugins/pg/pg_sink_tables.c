/* pg.sink's tables: the single table of `table = ...`, or the entries of
 * `tables = { { route = ..., table = ..., mode = ..., key = ...,
 * columns = ..., newer_by = ... }, ... }` checked and copied out of Lua.
 *
 * Both `sluice check` and init call pg_sink_tables_parse, so a mistake in
 * an entry is reported at the pipeline's file and line without connecting.
 * What needs the database (the columns, the unique index) is checked per
 * table by pg_sink_sql_build at init. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "pg_sink_sql.h"
#include "sluice/log.h"
#include "sluice/lua.h"

static char *str_dup(sl_str s) { return strndup(s.ptr ? s.ptr : "", s.len); }

static int is_string(const sl_value *v) { return v->type == SL_T_STRING; }

static int name_is(sl_str n, const char *s) { return n.len == strlen(s) && !memcmp(n.ptr, s, n.len); }

/* A string, or a list of strings, as a NULL-terminated list. */
static int str_list(const sl_value *v, char ***out) {
  uint32_t n = v->type == SL_T_ARRAY ? v->n : 1;
  if (v->type != SL_T_ARRAY && !is_string(v)) return SL_ETYPE;
  char **l = calloc((size_t)n + 1, sizeof *l);
  if (!l) return SL_ENOMEM;
  *out = l;
  for (uint32_t i = 0; i < n; i++) {
    const sl_value *e = v->type == SL_T_ARRAY ? &v->u.items[i] : v;
    if (!is_string(e)) return SL_ETYPE;
    l[i] = str_dup(e->u.s);
    if (!l[i]) return SL_ENOMEM;
  }
  return 0;
}

static void free_list(char **l) {
  for (int i = 0; l && l[i]; i++) free(l[i]);
  free(l);
}

void pg_sink_tables_free(pg_sink_table *t, int n) {
  for (int i = 0; t && i < n; i++) {
    if (t[i].owned) {
      free(t[i].cfg.table);
      free(t[i].cfg.mode);
      free(t[i].cfg.newer_by);
      free_list(t[i].cfg.key);
      free_list(t[i].cfg.columns);
      free(t[i].route);
    }
    pg_sink_sql_free(&t[i].sql);
  }
  free(t);
}

/* One entry of `tables`: its fields into t.  Logs and returns SL_EOPTION. */
static int parse_entry(sl_stage *st, int idx, const sl_value *e, pg_sink_table *t) {
  const char *name = sl_stage_name(st), *where = sl_stage_where(st);
  if (e->type != SL_T_OBJECT) {
    sl_log_error(name, "%s: tables[%d] must be a table { route = ..., table = ..., ... }", where,
                 idx);
    return SL_EOPTION;
  }
  t->owned = 1;
  for (uint32_t i = 0; i < e->n; i++) {
    const sl_member *m = &e->u.members[i];
    sl_str k = m->name;
    const sl_value *v = &m->value;
    char **str = NULL, ***list = NULL;
    if (name_is(k, "route")) str = &t->route;
    else if (name_is(k, "table")) str = &t->cfg.table;
    else if (name_is(k, "mode")) str = &t->cfg.mode;
    else if (name_is(k, "newer_by")) str = &t->cfg.newer_by;
    else if (name_is(k, "key")) list = &t->cfg.key;
    else if (name_is(k, "columns")) list = &t->cfg.columns;
    else {
      sl_log_error(name, "%s: tables[%d]: unknown option '%.*s' (known: route, table, mode, key, "
                   "columns, newer_by)", where, idx, (int)k.len, k.ptr);
      return SL_EOPTION;
    }
    if (str) {
      if (!is_string(v)) {
        sl_log_error(name, "%s: tables[%d].%.*s must be a string, got %s", where, idx,
                     (int)k.len, k.ptr, sl_type_name((sl_type)v->type));
        return SL_EOPTION;
      }
      *str = str_dup(v->u.s);
      if (!*str) return SL_ENOMEM;
    } else {
      int rc = str_list(v, list);
      if (rc == SL_ETYPE) {
        sl_log_error(name, "%s: tables[%d].%.*s must be a list of column names", where, idx,
                     (int)k.len, k.ptr);
        return SL_EOPTION;
      }
      if (rc) return rc;
    }
  }
  if (!t->route || !t->cfg.table) {
    sl_log_error(name, "%s: tables[%d] needs %s: route = the value of the route field that "
                 "sends a record to it, table = the table's name", where, idx,
                 !t->route ? "route" : "table");
    return SL_EOPTION;
  }
  if (!t->cfg.mode) t->cfg.mode = strdup("insert");
  if (!t->cfg.mode) return SL_ENOMEM;
  if (strcmp(t->cfg.mode, "insert") && strcmp(t->cfg.mode, "upsert")) {
    sl_log_error(name, "%s: tables[%d].mode must be \"insert\" or \"upsert\", got \"%s\"", where,
                 idx, t->cfg.mode);
    return SL_EOPTION;
  }
  t->upsert = !strcmp(t->cfg.mode, "upsert");
  if (t->upsert && (!t->cfg.key || !t->cfg.key[0])) {
    sl_log_error(name, "%s: tables[%d] (%s): mode = \"upsert\" needs key = { ... }: the columns "
                 "of a unique key of the table", where, idx, t->cfg.table);
    return SL_EOPTION;
  }
  return pg_sink_check_newer_by(st, &t->cfg, t->cfg.columns);
}

/* The options that belong to each table, not to a sink with several. */
static int single_table_options(sl_stage *st, const pg_sink_cfg *cfg) {
  const char *opt = cfg->table ? "table" : cfg->key ? "key" : cfg->columns ? "columns"
                  : cfg->newer_by ? "newer_by" : NULL;
  if (!opt && strcmp(cfg->mode, "insert") == 0) return 0;
  sl_log_error(sl_stage_name(st), "%s: with tables = { ... }, %s goes in each entry of tables, "
               "not beside it", sl_stage_where(st), opt ? opt : "mode");
  return SL_EOPTION;
}

static int parse_tables(sl_stage *st, pg_sink_cfg *cfg, sl_value *v, pg_sink_table *t, int n) {
  const char *name = sl_stage_name(st), *where = sl_stage_where(st);
  for (int i = 0; i < n; i++) {
    int rc = parse_entry(st, i + 1, &v->u.items[i], &t[i]);
    if (rc) return rc;
    for (int j = 0; j < i; j++) {
      if (!strcmp(t[j].route, t[i].route)) {
        sl_log_error(name, "%s: tables[%d] and tables[%d] have the same route \"%s\"", where,
                     j + 1, i + 1, t[i].route);
        return SL_EOPTION;
      }
      if (!strcmp(t[j].cfg.table, t[i].cfg.table)) {
        sl_log_error(name, "%s: tables[%d] and tables[%d] write the same table %s: give it one "
                     "entry", where, j + 1, i + 1, t[i].cfg.table);
        return SL_EOPTION;
      }
    }
    snprintf(t[i].stage, sizeof t[i].stage, "sluice_stage_%d", i + 1);
    t[i].cfg.dsn = cfg->dsn;
  }
  return 0;
}

int pg_sink_tables_parse(sl_stage *st, pg_sink_cfg *cfg, pg_sink_table **out, int *n) {
  const char *name = sl_stage_name(st), *where = sl_stage_where(st);
  *out = NULL;
  *n = 0;
  if (cfg->tables == LUA_NOREF) {
    if (!cfg->table) {
      sl_log_error(name, "%s: pg.sink needs table = \"schema.table\", or tables = { ... } with "
                   "route = \"field\" to write several tables in one transaction", where);
      return SL_EOPTION;
    }
    if (cfg->route) {
      sl_log_error(name, "%s: route = \"%s\" goes with tables = { ... }, not with table", where,
                   cfg->route);
      return SL_EOPTION;
    }
    pg_sink_table *t = calloc(1, sizeof *t);
    if (!t) return SL_ENOMEM;
    t->cfg = *cfg;
    t->upsert = !strcmp(cfg->mode, "upsert");
    snprintf(t->stage, sizeof t->stage, "sluice_stage");
    *out = t;
    *n = 1;
    return 0;
  }
  if (single_table_options(st, cfg)) return SL_EOPTION;
  if (!cfg->route) {
    sl_log_error(name, "%s: tables = { ... } needs route = \"field\": the record field whose "
                 "value picks the table (an entry's route)", where);
    return SL_EOPTION;
  }
  lua_State *L = sl_stage_lua(st);
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  const char *why = NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cfg->tables);   /* [-0,+1] */
  int rc = sl_lua_to_value(L, -1, &a, &v, &why);
  lua_pop(L, 1);
  if (rc) {
    sl_log_error(name, "%s: tables: %s", where, why ? why : sl_strerror(rc));
    sl_arena_free(&a);
    return SL_EOPTION;
  }
  if (v.type != SL_T_ARRAY || v.n == 0 || v.n > PG_COPY_MAX_TABLES) {
    sl_log_error(name, "%s: tables must be a list of 1 to %d tables { route = ..., table = ..., "
                 "mode = ..., key = ..., columns = ..., newer_by = ... }", where,
                 PG_COPY_MAX_TABLES);
    sl_arena_free(&a);
    return SL_EOPTION;
  }
  pg_sink_table *t = calloc(v.n, sizeof *t);
  if (!t) {
    sl_arena_free(&a);
    return SL_ENOMEM;
  }
  *out = t;
  *n = (int)v.n;
  rc = parse_tables(st, cfg, &v, t, (int)v.n);
  sl_arena_free(&a);
  return rc;
}
