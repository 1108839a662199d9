/* The catalog's C model (sluice/catalog.h): built once from the table that
 * sl.catalog returned, then read by every thread. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "sluice/errors.h"
#include "sluice/codec.h"
#include "sluice/lua.h"
#include "sluice/record.h"

const char *const sl_dimension_names[SL_NDIMENSIONS] = {
    "normativeness", "completeness", "accuracy", "consistency", "timeliness", "accessibility"};

static const char *const type_names[] = {"any",       "string", "int",    "number", "bool",
                                         "date",      "timestamp", "object", "array"};
static const sl_field_type type_values[] = {SL_FIELD_ANY,       SL_FIELD_STRING, SL_FIELD_INT,
                                            SL_FIELD_NUMBER,    SL_FIELD_BOOL,   SL_FIELD_DATE,
                                            SL_FIELD_TIMESTAMP, SL_FIELD_OBJECT, SL_FIELD_ARRAY};

int sl__dimension_of(const char *s) {
  for (int d = 0; d < SL_NDIMENSIONS; d++)
    if (!strcmp(s, sl_dimension_names[d])) return d;
  return -1;
}

int sl__field_type_of(const char *s) {
  for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
    if (!strcmp(s, type_names[i])) return (int)type_values[i];
  return -1;
}

int sl_utc_offset_parse(const char *s, int32_t *out) {
  if (!strcmp(s, "Z") || !strcmp(s, "UTC")) {
    *out = 0;
    return 0;
  }
  int sign = s[0] == '+' ? 1 : s[0] == '-' ? -1 : 0;
  if (!sign || strlen(s) != 6 || s[3] != ':') return -1;
  for (int i = 1; i < 6; i++)
    if (i != 3 && (s[i] < '0' || s[i] > '9')) return -1;
  int h = (s[1] - '0') * 10 + (s[2] - '0'), m = (s[4] - '0') * 10 + (s[5] - '0');
  if (h > 14 || m > 59) return -1;
  *out = sign * (h * 3600 + m * 60);
  return 0;
}

/* ---- building the model ---- */

typedef struct builder {
  lua_State *L;
  sl_catalog *c;
  sl_buf *err;
} builder;

/* A copy in the catalog's arena of the string field `name` of the table at
 * t, or NULL when absent (or out of memory: see builder_oom). */
static const char *str_of(builder *b, int t, const char *name) {
  lua_getfield(b->L, t, name);
  size_t n;
  const char *s = lua_type(b->L, -1) == LUA_TSTRING ? lua_tolstring(b->L, -1, &n) : NULL;
  char *copy = s ? sl_arena_strndup(&b->c->arena, s, n) : NULL;
  lua_pop(b->L, 1);
  return copy;
}

/* weights = { dimension = w } of the table at t over w[]. */
static void weights_of(builder *b, int t, double *w) {
  lua_State *L = b->L;
  if (lua_getfield(L, t, "weights") == LUA_TTABLE)
    for (int d = 0; d < SL_NDIMENSIONS; d++) {
      if (lua_getfield(L, -1, sl_dimension_names[d]) == LUA_TNUMBER) w[d] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
  lua_pop(L, 1);
}

static int field_cmp(const void *a, const void *b) {
  return strcmp(((const sl_catalog_field *)a)->name, ((const sl_catalog_field *)b)->name);
}

/* The fields of the feed table at t, sorted by name (Lua's order is not
 * stable from one run to the next). */
static int fields_of(builder *b, int t, sl_catalog_feed *f) {
  lua_State *L = b->L;
  lua_getfield(L, t, "fields");
  int fs = lua_gettop(L);
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, fs)) {
    n++;
    lua_pop(L, 1);
  }
  f->fields = sl_arena_alloc(&b->c->arena, (size_t)(n ? n : 1) * sizeof *f->fields);
  if (!f->fields) return SL_ENOMEM;
  memset(f->fields, 0, (size_t)(n ? n : 1) * sizeof *f->fields);
  lua_pushnil(L);
  while (lua_next(L, fs)) {
    sl_catalog_field *fd = &f->fields[f->nfields++];
    size_t nl;
    const char *name = lua_tolstring(L, -2, &nl);
    fd->name = sl_arena_strndup(&b->c->arena, name, nl);
    fd->rule.type = SL_T_NULL;
    int v = lua_gettop(L);
    if (lua_type(L, v) == LUA_TSTRING) {
      fd->type = (sl_field_type)sl__field_type_of(lua_tostring(L, v));
    } else {
      const char *ty = str_of(b, v, "type");
      fd->type = ty ? (sl_field_type)sl__field_type_of(ty) : SL_FIELD_ANY;
      fd->title = str_of(b, v, "title");
      lua_getfield(L, v, "required");
      fd->required = lua_toboolean(L, -1);
      lua_getfield(L, v, "sensitive");
      fd->sensitive = lua_toboolean(L, -1);
      lua_pop(L, 2);
      if (lua_getfield(L, v, "rule") != LUA_TNIL) {
        const char *why = NULL;
        if (sl_lua_to_value(L, -1, &b->c->arena, &fd->rule, &why)) {
          sl_buf_printf(b->err, "%s: feed %s: field '%s': rule: %s", f->where ? f->where : "?",
                        f->id, fd->name, why ? why : "cannot be read");
          lua_pop(L, 3);
          return SL_EOPTION;
        }
      }
      lua_pop(L, 1);
    }
    if (!fd->name) return SL_ENOMEM;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  qsort(f->fields, (size_t)f->nfields, sizeof *f->fields, field_cmp);
  return 0;
}

static int key_of(builder *b, int t, sl_catalog_feed *f) {
  lua_State *L = b->L;
  int kt = lua_getfield(L, t, "key");
  lua_Integer n = kt == LUA_TTABLE ? (lua_Integer)luaL_len(L, -1) : kt == LUA_TSTRING;
  f->key = sl_arena_alloc(&b->c->arena, (size_t)(n + 1) * sizeof *f->key);
  if (!f->key) return SL_ENOMEM;
  for (lua_Integer i = 1; i <= n; i++) {
    if (kt == LUA_TTABLE) lua_geti(L, -1, i);
    else lua_pushvalue(L, -1);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    f->key[i - 1] = s ? sl_arena_strndup(&b->c->arena, s, len) : "";
    lua_pop(L, 1);
  }
  f->key[n] = NULL;
  lua_pop(L, 1);
  return 0;
}

static int feed_of(builder *b, int t, int di, sl_catalog_feed *f, const double *dept_w) {
  sl_catalog *c = b->c;
  const sl_catalog_dept *d = &c->depts[di];
  f->dept = di;
  f->dept_id = d->id;
  f->name = str_of(b, t, "name");
  f->where = str_of(b, t, "_where");
  size_t idn = strlen(d->id) + strlen(f->name ? f->name : "") + 2;
  char *id = sl_arena_alloc(&c->arena, idn);
  if (!f->name || !id) return SL_ENOMEM;
  snprintf(id, idn, "%s/%s", d->id, f->name);
  f->id = id;
  f->title = str_of(b, t, "title");
  f->topic = str_of(b, t, "topic");
  f->table = str_of(b, t, "table");
  f->schedule = str_of(b, t, "schedule");
  f->time_field = str_of(b, t, "time");
  f->retention = str_of(b, t, "retention");
  f->domain = str_of(b, t, "domain");
  const char *access = str_of(b, t, "access");
  f->open = access && !strcmp(access, "open");
  memcpy(f->weights, dept_w, sizeof f->weights);
  weights_of(b, t, f->weights);
  int rc = key_of(b, t, f);
  return rc ? rc : fields_of(b, t, f);
}

/* Ids and topics are the catalog's keys: each at most once. */
static int check_unique(builder *b) {
  sl_catalog *c = b->c;
  for (int i = 0; i < c->ndepts; i++)
    for (int j = 0; j < i; j++)
      if (!strcmp(c->depts[i].id, c->depts[j].id)) {
        sl_buf_printf(b->err, "%s: department '%s' is declared twice (first at %s)",
                      c->depts[i].where ? c->depts[i].where : "?", c->depts[i].id,
                      c->depts[j].where ? c->depts[j].where : "?");
        return SL_EOPTION;
      }
  for (int i = 0; i < c->nfeeds; i++)
    for (int j = 0; j < i; j++) {
      const sl_catalog_feed *f = &c->feeds[i], *g = &c->feeds[j];
      const char *same = f->topic && g->topic && !strcmp(f->topic, g->topic)   ? "topic"
                         : f->table && g->table && !strcmp(f->table, g->table) ? "table"
                                                                               : NULL;
      if (same) {
        sl_buf_printf(b->err, "%s: feed %s: %s '%s' is feed %s's already (%s)", f->where ? f->where : "?",
                      f->id, same, !strcmp(same, "topic") ? f->topic : f->table, g->id,
                      g->where ? g->where : "?");
        return SL_EOPTION;
      }
    }
  return 0;
}

static int build(builder *b, int t) {
  lua_State *L = b->L;
  sl_catalog *c = b->c;
  c->name = str_of(b, t, "name");
  c->where = str_of(b, t, "_where");
  c->timezone = str_of(b, t, "timezone");
  if (!c->timezone) c->timezone = "+08:00";
  if (sl_utc_offset_parse(c->timezone, &c->utc_offset_s)) {
    sl_buf_printf(b->err, "%s: timezone must be a UTC offset such as \"+08:00\"", c->where ? c->where : "?");
    return SL_EOPTION;
  }
  double cat_w[SL_NDIMENSIONS];
  for (int d = 0; d < SL_NDIMENSIONS; d++) cat_w[d] = 1.0;
  weights_of(b, t, cat_w);

  lua_getfield(L, t, "departments");
  int ds = lua_gettop(L);
  c->ndepts = (int)luaL_len(L, ds);
  int nfeeds = 0;
  for (int i = 1; i <= c->ndepts; i++) {
    lua_geti(L, ds, i);
    lua_getfield(L, -1, "feeds");
    nfeeds += (int)luaL_len(L, -1);
    lua_pop(L, 2);
  }
  c->depts = sl_arena_alloc(&c->arena, (size_t)(c->ndepts + 1) * sizeof *c->depts);
  c->feeds = sl_arena_alloc(&c->arena, (size_t)(nfeeds + 1) * sizeof *c->feeds);
  if (!c->depts || !c->feeds) return SL_ENOMEM;
  memset(c->depts, 0, (size_t)(c->ndepts + 1) * sizeof *c->depts);
  memset(c->feeds, 0, (size_t)(nfeeds + 1) * sizeof *c->feeds);
  for (int i = 0; i < c->ndepts; i++) {
    lua_geti(L, ds, i + 1);
    int dt = lua_gettop(L);
    sl_catalog_dept *d = &c->depts[i];
    d->id = str_of(b, dt, "id");
    d->name = str_of(b, dt, "name");
    d->owner = str_of(b, dt, "owner");
    d->contact = str_of(b, dt, "contact");
    d->where = str_of(b, dt, "_where");
    if (!d->id || !d->name) return SL_ENOMEM;
    double dept_w[SL_NDIMENSIONS];
    memcpy(dept_w, cat_w, sizeof dept_w);
    weights_of(b, dt, dept_w);
    d->first_feed = c->nfeeds;
    lua_getfield(L, dt, "feeds");
    int fs = lua_gettop(L);
    d->nfeeds = (int)luaL_len(L, fs);
    for (int k = 1; k <= d->nfeeds; k++) {
      lua_geti(L, fs, k);
      sl_catalog_feed *f = &c->feeds[c->nfeeds];
      f->index = c->nfeeds++;
      int rc = feed_of(b, lua_gettop(L), i, f, dept_w);
      if (rc) return rc;
      lua_pop(L, 1);
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return check_unique(b);
}

int sl_catalog_load(lua_State *L, int idx, sl_catalog **out, sl_buf *err) {
  *out = NULL;
  idx = lua_absindex(L, idx);
  if (!sl_catalog_is(L, idx)) {
    sl_buf_printf(err, "expected a catalog made with sl.catalog { ... }, got %s", luaL_typename(L, idx));
    return SL_EOPTION;
  }
  sl_catalog *c = calloc(1, sizeof *c);
  if (!c) return SL_ENOMEM;
  sl_arena_init(&c->arena);
  builder b = {L, c, err};
  int top = lua_gettop(L);
  luaL_checkstack(L, 16, "catalog");
  int rc = build(&b, idx);
  lua_settop(L, top);
  if (rc) {
    if (rc == SL_ENOMEM && !err->len) sl_buf_puts(err, "out of memory");
    sl_catalog_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void sl_catalog_free(sl_catalog *c) {
  if (!c) return;
  sl_arena_free(&c->arena);
  free(c);
}

/* ---- lookups ---- */

static int str_is(sl_str s, const char *z) {
  size_t n = strlen(z);
  return s.len == n && !memcmp(s.ptr, z, n);
}

/* "births" is feed births; so are "births.v1", "births.v12". */
static int feed_name_is(sl_str s, const char *name) {
  size_t n = strlen(name);
  if (s.len < n || memcmp(s.ptr, name, n)) return 0;
  if (s.len == n) return 1;
  if (s.len < n + 3 || s.ptr[n] != '.' || s.ptr[n + 1] != 'v') return 0;
  for (size_t i = n + 2; i < s.len; i++)
    if (s.ptr[i] < '0' || s.ptr[i] > '9') return 0;
  return 1;
}

const sl_catalog_feed *sl_catalog_find(const sl_catalog *c, sl_str dept, sl_str feed,
                                       sl_str origin) {
  if (dept.len && feed.len)
    for (int i = 0; i < c->ndepts; i++) {
      const sl_catalog_dept *d = &c->depts[i];
      if (!str_is(dept, d->id)) continue;
      for (int k = 0; k < d->nfeeds; k++)
        if (feed_name_is(feed, c->feeds[d->first_feed + k].name)) return &c->feeds[d->first_feed + k];
      break;
    }
  if (origin.len)
    for (int i = 0; i < c->nfeeds; i++) {
      const sl_catalog_feed *f = &c->feeds[i];
      if ((f->topic && str_is(origin, f->topic)) || (f->table && str_is(origin, f->table))) return f;
    }
  return NULL;
}

const sl_catalog_field *sl_catalog_field_of(const sl_catalog_feed *f, const char *name) {
  int lo = 0, hi = f->nfields - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(name, f->fields[mid].name);
    if (!c) return &f->fields[mid];
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return NULL;
}

/* The record's fields `department` and `feed`, where its metadata has none. */
static void feed_from_fields(sl_record *rec, sl_arena *a) {
  static const char *const names[2] = {"department", "feed"};
  sl_str *meta[2] = {&rec->meta.department, &rec->meta.feed};
  if (sl_record_decode(rec, a)) return;
  for (int i = 0; i < 2; i++) {
    if (meta[i]->len) continue;
    sl_value *v = sl_record_get(rec, names[i], strlen(names[i]));
    if (!v) continue;
    sl_value t = *v;
    const char *why;
    if (t.type == SL_T_JSON && sl_json_materialize(&t, a, &why)) continue;
    if (t.type == SL_T_STRING && t.u.s.len) *meta[i] = t.u.s;
  }
}

const sl_catalog_feed *sl_catalog_find_record(const sl_catalog *c, sl_record *rec, sl_arena *a) {
  if (!rec->meta.department.len || !rec->meta.feed.len) feed_from_fields(rec, a);
  return sl_catalog_find(c, rec->meta.department, rec->meta.feed, rec->meta.origin);
}
