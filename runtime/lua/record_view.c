/* Record views: how a step sees a record without copying it.
 *
 * A view is a full userdata {rec, arena, epoch}.  rec.x reads field x
 * (decoding the record on first use), rec.x = v writes it, rec.x = nil
 * removes it, pairs(rec) walks the fields in order.
 *
 * Fields win over methods: rec.x is always the field x when the record has
 * one.  The methods meta, raw and totable are found only for names the
 * record does not have, so rec:meta() works on any record without a field
 * called "meta", and sl.record.meta(rec) works on every record.  Data never
 * hides behind a method name, which is what a generic step needs.
 *
 * A view lives until sl_lua_views_expire(): the state's epoch moves on, and
 * every view pushed before then raises an error when used.  Nothing is
 * freed then; the userdata is ordinary garbage. */
#include <lauxlib.h>
#include <stddef.h>
#include <string.h>

#include "lua/sl_lua_int.h"
#include "sluice/codec.h"
#include "sluice/errors.h"

/* Registry key of the view metatable. */
static const char view_mt_key = 0;

static const char expired_msg[] = "record used outside the step call that received it";

static struct sl__view *check_view(lua_State *L, int idx) {
  int expired;
  struct sl__view *v = sl__view_test(L, idx, &expired);
  if (!v) {
    if (expired) luaL_error(L, "%s", expired_msg);
    luaL_typeerror(L, idx, "record");
  }
  return v;
}

static void decode_or_raise(lua_State *L, struct sl__view *v) {
  if (v->rec->state == SL_REC_DECODED || v->rec->state == SL_REC_CHANGED) return;
  int rc = sl_record_decode(v->rec, v->arena);
  if (rc)
    luaL_error(L, "cannot decode the record: %s",
               v->rec->error ? v->rec->error : sl_strerror(rc));
}

static const char *check_name(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "record fields are named by strings, not by a %s", luaL_typename(L, idx));
  return lua_tolstring(L, idx, len);
}

/* Pushes a field's value.  Containers are materialized into the state's
 * scratch arena: reading must not grow the batch's arena, and the tree is
 * garbage as soon as the Lua table is built. [-0,+1,m] */
static void push_field(lua_State *L, sl_value *val) {
  sl_lua *s = sl__lua_from(L);
  if (val->type == SL_T_JSON || val->type == SL_T_ARRAY || val->type == SL_T_OBJECT)
    sl_arena_reset(&s->scratch);
  int rc = sl_lua_push_value(L, val, &s->scratch);
  if (rc) luaL_error(L, "cannot read a field: %s", sl_strerror(rc));
}

static int view_index(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  size_t len;
  const char *k = check_name(L, 2, &len);
  decode_or_raise(L, v);
  sl_value *val = sl_record_get(v->rec, k, len);
  if (val) {
    push_field(L, val);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));          /* [-1,+1] a method, or nil */
  return 1;
}

static int view_newindex(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  size_t len;
  const char *k = check_name(L, 2, &len);
  decode_or_raise(L, v);
  sl_record *rec = v->rec;
  if (lua_isnil(L, 3)) {
    sl_record_unset(rec, k, len);
    return 0;
  }
  sl_value val;
  const char *why = NULL;
  int rc = sl_lua_to_value(L, 3, v->arena, &val, &why);
  if (rc) return luaL_error(L, "cannot set field '%s': %s", k, why ? why : sl_strerror(rc));
  /* The name must outlive this call: reuse the field's own name if it has
   * one, or copy the Lua string into the batch's arena. */
  sl_str name;
  sl_value *old = sl_record_get(rec, k, len);
  if (old) {
    name = ((sl_member *)((char *)old - offsetof(sl_member, value)))->name;
  } else {
    char *c = sl_arena_strndup(v->arena, k, len);
    if (!c) return luaL_error(L, "cannot set field '%s': out of memory", k);
    name.ptr = c;
    name.len = len;
  }
  rc = sl_record_set(rec, v->arena, name, &val);
  if (rc) return luaL_error(L, "cannot set field '%s': %s", k, sl_strerror(rc));
  return 0;
}

static int same_name(const sl_member *m, const char *k, size_t len) {
  return m->name.len == len && (len == 0 || memcmp(m->name.ptr, k, len) == 0);
}

/* next(view, key) in field order.  Upvalue 1 holds the position after the
 * field returned last, so a walk is linear; when fields were removed during
 * the walk (which Lua allows) the key is looked up again, and if it is gone
 * the walk goes on from where it was. */
static int view_next(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  decode_or_raise(L, v);
  const sl_record *r = v->rec;
  lua_Integer hint = lua_tointeger(L, lua_upvalueindex(1));
  lua_Integer i = 0;
  if (!lua_isnil(L, 2)) {
    size_t len = 0;
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &len) : NULL;
    if (k && hint >= 1 && hint <= (lua_Integer)r->nfields && same_name(&r->fields[hint - 1], k, len)) {
      i = hint;
    } else {
      i = hint > 0 ? hint - 1 : 0;
      for (uint32_t j = 0; k && j < r->nfields; j++) {
        if (same_name(&r->fields[j], k, len)) {
          i = (lua_Integer)j + 1;
          break;
        }
      }
    }
  }
  if (i >= (lua_Integer)r->nfields) {
    lua_pushnil(L);
    return 1;
  }
  const sl_member *m = &r->fields[i];
  lua_pushlstring(L, m->name.ptr ? m->name.ptr : "", m->name.len);
  push_field(L, (sl_value *)&m->value);
  lua_pushinteger(L, i + 1);
  lua_replace(L, lua_upvalueindex(1));
  return 2;
}

static int view_pairs(lua_State *L) {
  check_view(L, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, view_next, 1);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int view_tostring(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  decode_or_raise(L, v);
  /* The state's buffer: nothing leaks if pushing the result fails. */
  sl_buf *b = &sl__lua_from(L)->tmp;
  b->len = 0;
  b->oom = 0;
  sl_json_encode_record(b, v->rec);
  if (b->oom) return luaL_error(L, "out of memory");
  lua_pushlstring(L, b->ptr ? b->ptr : "", b->len);
  return 1;
}

/* ---- methods ---- */

static void set_str(lua_State *L, const char *field, sl_str s) {
  if (!s.ptr) return;
  lua_pushlstring(L, s.ptr, s.len);
  lua_setfield(L, -2, field);
}

static void set_int(lua_State *L, const char *field, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, field);
}

/* rec:meta() → {origin=, partition=, offset=, line=, key=, id=, department=,
 * feed=, event_time=, arrival_time=, headers=, clean=}, without the ones the
 * record lacks. */
static int m_meta(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  const sl_meta *m = &v->rec->meta;
  lua_createtable(L, 0, 10);
  set_str(L, "origin", m->origin);
  if (m->partition >= 0) set_int(L, "partition", m->partition);
  if (m->offset >= 0) set_int(L, "offset", m->offset);
  if (m->line > 0) set_int(L, "line", m->line);
  set_str(L, "key", m->key);
  set_str(L, "id", m->id);
  set_str(L, "department", m->department);
  set_str(L, "feed", m->feed);
  if (m->event_time_ms) set_int(L, "event_time", m->event_time_ms);
  if (m->arrival_ms) set_int(L, "arrival_time", m->arrival_ms);
  if (m->nheaders) {
    /* headers = { name = value }: of repeated names the last one wins, as
     * for fields; a header without a value is sl.json.null. */
    luaL_checkstack(L, 3, NULL);
    lua_createtable(L, 0, m->nheaders > INT32_MAX ? INT32_MAX : (int)m->nheaders);
    for (uint32_t i = 0; i < m->nheaders; i++) {
      const sl_member *h = &m->headers[i];
      lua_pushlstring(L, h->name.ptr ? h->name.ptr : "", h->name.len);
      if (h->value.type == SL_T_STRING)
        lua_pushlstring(L, h->value.u.s.ptr ? h->value.u.s.ptr : "", h->value.u.s.len);
      else
        sl_lua_push_value(L, (sl_value *)&h->value, &sl__lua_from(L)->scratch);
      lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "headers");
  }
  if (m->noutcomes) {
    /* clean = { field = { outcome = "fixed", rule = "t2s", reason = ..., stage = ... } }
     * from the clean steps; a later step's outcome for a field replaces an
     * earlier one's. */
    static const char *const names[] = {"valid", "fixed", "invalid", "missing"};
    luaL_checkstack(L, 4, NULL);
    lua_createtable(L, 0, m->noutcomes > INT32_MAX ? INT32_MAX : (int)m->noutcomes);
    for (uint32_t i = 0; i < m->noutcomes; i++) {
      const sl_field_outcome *o = &m->outcomes[i];
      lua_pushlstring(L, o->field.ptr ? o->field.ptr : "", o->field.len);
      lua_createtable(L, 0, 4);
      lua_pushstring(L, o->outcome < 4 ? names[o->outcome] : "?");
      lua_setfield(L, -2, "outcome");
      if (o->rule) {
        lua_pushstring(L, o->rule);
        lua_setfield(L, -2, "rule");
      }
      if (o->reason) {
        lua_pushstring(L, o->reason);
        lua_setfield(L, -2, "reason");
      }
      if (o->stage) {
        lua_pushstring(L, o->stage);
        lua_setfield(L, -2, "stage");
      }
      lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "clean");
  }
  return 1;
}

/* rec:raw() → the bytes as read, or nil for a record built in code. */
static int m_raw(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  if (v->rec->raw.ptr) lua_pushlstring(L, v->rec->raw.ptr, v->rec->raw.len);
  else lua_pushnil(L);
  return 1;
}

/* rec:totable() → a plain table with a copy of every field. */
static int m_totable(lua_State *L) {
  struct sl__view *v = check_view(L, 1);
  decode_or_raise(L, v);
  const sl_record *r = v->rec;
  lua_createtable(L, 0, r->nfields > INT32_MAX ? INT32_MAX : (int)r->nfields);
  luaL_checkstack(L, 3, NULL);
  for (uint32_t i = 0; i < r->nfields; i++) {
    const sl_member *m = &r->fields[i];
    lua_pushlstring(L, m->name.ptr ? m->name.ptr : "", m->name.len);
    push_field(L, (sl_value *)&m->value);
    lua_rawset(L, -3);
  }
  return 1;
}

static const luaL_Reg methods[] = {
    {"meta", m_meta},
    {"raw", m_raw},
    {"totable", m_totable},
    {NULL, NULL},
};

void sl_lua_push_record_module(lua_State *L) {
  luaL_checkstack(L, 2, NULL);
  luaL_newlib(L, methods);
}

void sl__views_open(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  luaL_checkstack(L, 3, NULL);
  lua_createtable(L, 0, 7);
  lua_pushliteral(L, "sl.record");
  lua_setfield(L, -2, "__name");
  sl_lua_push_record_module(L);
  lua_pushcclosure(L, view_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, view_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, view_pairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushcfunction(L, view_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  s->view_mt = lua_topointer(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &view_mt_key);
}

/* ---- public ---- */

void sl_lua_push_record(lua_State *L, sl_record *rec, sl_arena *a) {
  sl_lua *s = sl__lua_from(L);
  luaL_checkstack(L, 2, NULL);
  struct sl__view *v = lua_newuserdatauv(L, sizeof *v, 0);
  v->rec = rec;
  v->arena = a;
  v->epoch = s->epoch;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &view_mt_key);
  lua_setmetatable(L, -2);
}

sl_record *sl_lua_to_record(lua_State *L, int idx) {
  struct sl__view *v = sl__view_test(L, idx, NULL);
  return v ? v->rec : NULL;
}

const char *sl_lua_view_expired(lua_State *L, int idx) {
  int expired;
  return sl__view_test(L, idx, &expired) || !expired ? NULL : expired_msg;
}

void sl_lua_views_expire(lua_State *L) {
  sl__lua_from(L)->epoch++;
}
