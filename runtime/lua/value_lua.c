/* Values between C and Lua: sl_value trees to Lua values and back, sl.json.null,
 * and records made from tables.
 *
 * Lua → value never raises a Lua error (it only reads the stack, raw, and
 * allocates from the arena), so the engine may call it outside a protected
 * call; value → Lua allocates Lua objects and may raise a memory error. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/sl_lua_int.h"
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "sluice/text.h"

/* ---- sl.json.null ---- */

/* Its address is the sentinel: unique in the process, the same in every
 * state, and a light userdata costs no allocation to push. */
static const char null_sentinel = 0;

void sl_lua_push_null(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&null_sentinel);
}

static int is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &null_sentinel;
}

static int null_tostring(lua_State *L) {
  if (is_null(L, 1)) lua_pushliteral(L, "null");
  else lua_pushfstring(L, "userdata: %p", lua_touserdata(L, 1));
  return 1;
}

void sl__null_open(lua_State *L) {
  /* All light userdata share one metatable; scripts cannot make light
   * userdata, so in practice this is sl.json.null's.  __metatable keeps it out of
   * a script's reach. */
  luaL_checkstack(L, 3, NULL);
  lua_pushlightuserdata(L, NULL);
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, null_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "sl.json.null");
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
}

/* ---- value → Lua ---- */

/* A JSON number straight from its text: integers that fit int64 stay
 * integers, anything with a fraction or an exponent (or too big) becomes a
 * float, as sl_json_materialize does.  0, or -1 if the text is not a number
 * this can read (the caller materializes instead). */
static int push_json_number(lua_State *L, const char *p, size_t n) {
  size_t i = 0;
  int neg = 0;
  if (i < n && p[i] == '-') {
    neg = 1;
    i++;
  }
  if (i == n) return -1;
  uint64_t mag = 0;
  int overflow = 0;
  size_t digits_from = i;
  for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
    unsigned d = (unsigned)(p[i] - '0');
    if (mag > (UINT64_MAX - d) / 10) overflow = 1;
    else mag = mag * 10 + d;
  }
  if (i == digits_from) return -1;
  /* "-0" is a float, as in sl_json_materialize: an integer would lose the sign. */
  if (i == n && !overflow && !(neg && mag == 0)) {
    if (!neg && mag <= (uint64_t)INT64_MAX) {
      lua_pushinteger(L, (lua_Integer)mag);
      return 0;
    }
    if (neg && mag <= (uint64_t)INT64_MAX + 1) {
      lua_pushinteger(L, mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(lua_Integer)mag);
      return 0;
    }
  }
  /* A float: strtod wants a NUL-terminated copy, and the span is not. */
  char buf[64];
  if (n >= sizeof buf) return -1;
  memcpy(buf, p, n);
  buf[n] = 0;
  char *end;
  double d = strtod(buf, &end);
  if (end != buf + n) return -1;
  lua_pushnumber(L, d);
  return 0;
}

static int push_tree(lua_State *L, const sl_value *v, sl_arena *a);

/* An SL_T_JSON span: scalars read in place, containers and escaped strings
 * materialized into a. */
static int push_json(lua_State *L, const sl_value *v, sl_arena *a) {
  const char *p = v->u.s.ptr;
  size_t n = v->u.s.len;
  if (n == 0) return SL_EPARSE;
  switch (p[0]) {
    case '"':
      if ((v->flags & SL_VF_PLAIN_STRING) && n >= 2) {
        lua_pushlstring(L, p + 1, n - 2);
        return 0;
      }
      break;
    case 't':
      lua_pushboolean(L, 1);
      return 0;
    case 'f':
      lua_pushboolean(L, 0);
      return 0;
    case 'n':
      sl_lua_push_null(L);
      return 0;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      if (push_json_number(L, p, n) == 0) return 0;
      break;
    default:
      break;
  }
  sl_value tmp = *v;
  const char *why = NULL;
  int rc = sl_json_materialize(&tmp, a, &why);
  if (rc) return rc;
  if (tmp.type == SL_T_JSON) return SL_EPARSE;    /* would loop */
  return push_tree(L, &tmp, a);
}

static int push_tree(lua_State *L, const sl_value *v, sl_arena *a) {
  luaL_checkstack(L, 3, "value nested too deeply");
  switch ((sl_type)v->type) {
    case SL_T_NULL:
      sl_lua_push_null(L);
      return 0;
    case SL_T_BOOL:
      lua_pushboolean(L, v->u.b);
      return 0;
    case SL_T_INT:
      lua_pushinteger(L, (lua_Integer)v->u.i);
      return 0;
    case SL_T_DOUBLE:
      lua_pushnumber(L, v->u.d);
      return 0;
    case SL_T_STRING:
      lua_pushlstring(L, v->u.s.ptr ? v->u.s.ptr : "", v->u.s.len);
      return 0;
    case SL_T_ARRAY:
      lua_createtable(L, v->n > INT32_MAX ? INT32_MAX : (int)v->n, 0);
      for (uint32_t i = 0; i < v->n; i++) {
        int rc = push_tree(L, &v->u.items[i], a);
        if (rc) {
          lua_pop(L, 1);
          return rc;
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      return 0;
    case SL_T_OBJECT:
      lua_createtable(L, 0, v->n > INT32_MAX ? INT32_MAX : (int)v->n);
      for (uint32_t i = 0; i < v->n; i++) {
        const sl_member *m = &v->u.members[i];
        lua_pushlstring(L, m->name.ptr ? m->name.ptr : "", m->name.len);
        int rc = push_tree(L, &m->value, a);
        if (rc) {
          lua_pop(L, 2);
          return rc;
        }
        /* Of repeated names the last wins, as in sl_record_get. */
        lua_rawset(L, -3);
      }
      return 0;
    case SL_T_JSON:
      return push_json(L, v, a);
  }
  return SL_ETYPE;
}

int sl_lua_push_value(lua_State *L, sl_value *v, sl_arena *a) {
  return push_tree(L, v, a);
}

/* ---- Lua → value ---- */

typedef struct enc {
  lua_State *L;
  sl_arena *a;
  const char **why;
  int copy_strings;       /* 0: point at Lua's strings (they outlive the use) */
  int depth;
  const void *path[SL_LUA_MAX_DEPTH + 1];   /* the tables being encoded, outermost first */
} enc;

static int enc_value(enc *e, int idx, sl_value *out);

/* Records are text: a string that is not UTF-8 would be changed on the way
 * out (replacement characters in JSON), so it is refused here instead. */
static const char not_utf8[] = "cannot encode a string that is not valid UTF-8";

static int enc_fail(enc *e, int code, const char *why) {
  *e->why = why;
  return code;
}

static int enc_string(enc *e, const char *p, size_t n, sl_str *out) {
  if (!e->copy_strings) {
    out->ptr = p;
    out->len = n;
    return 0;
  }
  char *c = sl_arena_memdup(e->a, p, n);
  if (!c) return enc_fail(e, SL_ENOMEM, "out of memory");
  out->ptr = c;
  out->len = n;
  return 0;
}

/* An object member on its way to sorting. */
typedef struct okey {
  int numeric;            /* 1: a number key, ordered before the strings */
  lua_Integer i;
  double d;
  int is_int;
  sl_member m;
} okey;

static int okey_cmp(const void *pa, const void *pb) {
  const okey *a = pa, *b = pb;
  if (a->numeric != b->numeric) return a->numeric ? -1 : 1;
  if (a->numeric) {
    if (a->is_int && b->is_int) return (a->i > b->i) - (a->i < b->i);
    double x = a->is_int ? (double)a->i : a->d, y = b->is_int ? (double)b->i : b->d;
    return (x > y) - (x < y);
  }
  size_t n = a->m.name.len < b->m.name.len ? a->m.name.len : b->m.name.len;
  int c = n ? memcmp(a->m.name.ptr, b->m.name.ptr, n) : 0;
  if (c) return c;
  return (a->m.name.len > b->m.name.len) - (a->m.name.len < b->m.name.len);
}

static const char *key_type_error(int t) {
  switch (t) {
    case LUA_TBOOLEAN: return "cannot encode a table key of type boolean";
    case LUA_TTABLE: return "cannot encode a table key of type table";
    case LUA_TFUNCTION: return "cannot encode a table key of type function";
    case LUA_TUSERDATA: return "cannot encode a table key of type userdata";
    case LUA_TLIGHTUSERDATA: return "cannot encode a table key of type userdata";
    case LUA_TTHREAD: return "cannot encode a table key of type thread";
    default: return "cannot encode a table key of this type";
  }
}

/* The key at idx as a member name: strings as they are, numbers as their
 * decimal text (shortest that reads back, for floats). */
static int enc_key(enc *e, int idx, okey *k) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *p = lua_tolstring(L, idx, &n);
      k->numeric = 0;
      if (sl_utf8_check(p, n) != n) return enc_fail(e, SL_ETYPE, not_utf8);
      return enc_string(e, p, n, &k->m.name);
    }
    case LUA_TNUMBER: {
      /* Never lua_tolstring: it would turn the key into a string in place
       * and break lua_next. */
      char buf[40];
      k->numeric = 1;
      if (lua_isinteger(L, idx)) {
        k->is_int = 1;
        k->i = lua_tointeger(L, idx);
        snprintf(buf, sizeof buf, "%lld", (long long)k->i);
      } else {
        k->is_int = 0;
        k->d = lua_tonumber(L, idx);
        if (isinf(k->d)) {
          snprintf(buf, sizeof buf, "%s", k->d > 0 ? "inf" : "-inf");
        } else {
          for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, k->d);
            if (strtod(buf, NULL) == k->d) break;
          }
        }
      }
      char *c = sl_arena_strndup(e->a, buf, strlen(buf));
      if (!c) return enc_fail(e, SL_ENOMEM, "out of memory");
      k->m.name.ptr = c;
      k->m.name.len = strlen(buf);
      return 0;
    }
    default:
      return enc_fail(e, SL_ETYPE, key_type_error(lua_type(L, idx)));
  }
}

static int enc_object(enc *e, int idx, size_t n, sl_value *out) {
  lua_State *L = e->L;
  /* Sorting needs more than the members: a C array, freed before return. */
  okey *keys = n ? calloc(n, sizeof *keys) : NULL;
  if (n && !keys) return enc_fail(e, SL_ENOMEM, "out of memory");
  size_t i = 0;
  int rc = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (i == n) {                 /* cannot happen: nothing runs between passes */
      lua_pop(L, 2);
      break;
    }
    rc = enc_key(e, lua_gettop(L) - 1, &keys[i]);
    if (!rc) rc = enc_value(e, lua_gettop(L), &keys[i].m.value);
    lua_pop(L, 1);
    if (rc) {
      lua_pop(L, 1);
      free(keys);
      return rc;
    }
    i++;
  }
  /* pairs() order depends on hashing and history; sorted keys make the
   * same table give the same record and the same JSON every time. */
  if (i > 1) qsort(keys, i, sizeof *keys, okey_cmp);
  sl_member *members = sl_arena_alloc(e->a, (i ? i : 1) * sizeof *members);
  if (!members) {
    free(keys);
    return enc_fail(e, SL_ENOMEM, "out of memory");
  }
  for (size_t j = 0; j < i; j++) members[j] = keys[j].m;
  free(keys);
  out->type = SL_T_OBJECT;
  out->flags = 0;
  out->n = (uint32_t)i;
  out->u.members = members;
  return 0;
}

static int enc_table(enc *e, int idx, sl_value *out) {
  lua_State *L = e->L;
  const void *self = lua_topointer(L, idx);
  for (int i = 0; i < e->depth; i++)
    if (e->path[i] == self) return enc_fail(e, SL_ETYPE, "cannot encode a cyclic table");
  if (e->depth >= SL_LUA_MAX_DEPTH)
    return enc_fail(e, SL_ETYPE, "table nested too deeply (more than 100 levels)");
  if (!lua_checkstack(L, 4)) return enc_fail(e, SL_ENOMEM, "out of memory (Lua stack)");

  /* First pass: is it an array, keys exactly 1..n? */
  size_t n = 0;
  lua_Integer max = 0;
  int is_array = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    n++;
    if (is_array) {
      if (lua_isinteger(L, -2)) {
        lua_Integer k = lua_tointeger(L, -2);
        if (k < 1) is_array = 0;
        else if (k > max) max = k;
      } else {
        is_array = 0;
      }
    }
    lua_pop(L, 1);
  }
  if (n > UINT32_MAX) return enc_fail(e, SL_ETYPE, "table too large to encode");

  e->path[e->depth++] = self;
  int rc = 0;
  if (n > 0 && is_array && (lua_Unsigned)max == n) {
    sl_value *items = sl_arena_alloc(e->a, n * sizeof *items);
    if (!items) {
      rc = enc_fail(e, SL_ENOMEM, "out of memory");
    } else {
      for (size_t i = 0; i < n && !rc; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i + 1);
        rc = enc_value(e, lua_gettop(L), &items[i]);
        lua_pop(L, 1);
      }
      out->type = SL_T_ARRAY;
      out->flags = 0;
      out->n = (uint32_t)n;
      out->u.items = items;
    }
  } else {
    rc = enc_object(e, idx, n, out);
  }
  e->depth--;
  return rc;
}

/* A live record view becomes an object of its fields, deep-copied: the
 * value may outlive the view's batch. */
static int enc_view(enc *e, int idx, sl_value *out) {
  int expired = 0;
  struct sl__view *v = sl__view_test(e->L, idx, &expired);
  if (!v)
    return enc_fail(e, SL_ETYPE, expired ? "record used outside the step call that received it"
                                         : "cannot encode a userdata");
  if (sl_record_decode(v->rec, v->arena))
    return enc_fail(e, SL_ETYPE, v->rec->error ? v->rec->error : "the record does not decode");
  sl_value src = {.type = SL_T_OBJECT, .n = v->rec->nfields, .u.members = v->rec->fields};
  if (sl__value_copy(e->a, &src, out)) return enc_fail(e, SL_ENOMEM, "out of memory");
  return 0;
}

static int enc_value(enc *e, int idx, sl_value *out) {
  lua_State *L = e->L;
  memset(out, 0, sizeof *out);
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      out->type = SL_T_NULL;
      return 0;
    case LUA_TBOOLEAN:
      out->type = SL_T_BOOL;
      out->u.b = lua_toboolean(L, idx);
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        out->type = SL_T_INT;
        out->u.i = (int64_t)lua_tointeger(L, idx);
      } else {
        out->type = SL_T_DOUBLE;
        out->u.d = (double)lua_tonumber(L, idx);
        if (isnan(out->u.d))
          return enc_fail(e, SL_ETYPE, "cannot encode NaN (a record holds no NaN or infinity)");
        if (isinf(out->u.d))
          return enc_fail(e, SL_ETYPE,
                          "cannot encode an infinite number (a record holds no NaN or infinity)");
      }
      return 0;
    case LUA_TSTRING: {
      size_t n;
      const char *p = lua_tolstring(L, idx, &n);
      if (sl_utf8_check(p, n) != n) return enc_fail(e, SL_ETYPE, not_utf8);
      out->type = SL_T_STRING;
      return enc_string(e, p, n, &out->u.s);
    }
    case LUA_TTABLE:
      return enc_table(e, idx, out);
    case LUA_TLIGHTUSERDATA:
      if (is_null(L, idx)) {
        out->type = SL_T_NULL;
        return 0;
      }
      return enc_fail(e, SL_ETYPE, "cannot encode a light userdata");
    case LUA_TUSERDATA:
      return enc_view(e, idx, out);
    case LUA_TFUNCTION:
      return enc_fail(e, SL_ETYPE, "cannot encode a function");
    case LUA_TTHREAD:
      return enc_fail(e, SL_ETYPE, "cannot encode a thread");
    default:
      return enc_fail(e, SL_ETYPE, "cannot encode a value of this type");
  }
}

int sl__lua_to_value(lua_State *L, int idx, sl_arena *a, sl_value *v, const char **why,
                     int copy_strings) {
  const char *ignored;
  enc e;
  e.L = L;
  e.a = a;
  e.why = why ? why : &ignored;
  e.copy_strings = copy_strings;
  e.depth = 0;
  return enc_value(&e, lua_absindex(L, idx), v);
}

int sl_lua_to_value(lua_State *L, int idx, sl_arena *a, sl_value *v, const char **why) {
  return sl__lua_to_value(L, idx, a, v, why, 1);
}

int sl_lua_table_to_record(lua_State *L, int idx, sl_arena *a, sl_record *out,
                           const char **why) {
  const char *ignored;
  if (!why) why = &ignored;
  if (lua_type(L, idx) != LUA_TTABLE) {
    *why = "a record is made from a table";
    return SL_ETYPE;
  }
  sl_value v;
  int rc = sl_lua_to_value(L, idx, a, &v, why);
  if (rc) return rc;
  if (v.type != SL_T_OBJECT) {
    *why = "a record needs named fields, not a list";
    return SL_ETYPE;
  }
  memset(out, 0, sizeof *out);
  out->codec = NULL;
  out->state = SL_REC_CHANGED;
  out->fields = v.u.members;
  out->nfields = v.n;
  out->capfields = v.n;
  out->meta.partition = -1;
  out->meta.offset = -1;
  return 0;
}

/* ---- copying ---- */

int sl__value_copy(sl_arena *a, const sl_value *src, sl_value *dst) {
  *dst = *src;
  switch ((sl_type)src->type) {
    case SL_T_STRING:
    case SL_T_JSON: {
      char *p = sl_arena_memdup(a, src->u.s.ptr, src->u.s.len);
      if (!p) return SL_ENOMEM;
      dst->u.s.ptr = p;
      return 0;
    }
    case SL_T_ARRAY: {
      sl_value *items = sl_arena_alloc(a, (src->n ? src->n : 1) * sizeof *items);
      if (!items) return SL_ENOMEM;
      for (uint32_t i = 0; i < src->n; i++)
        if (sl__value_copy(a, &src->u.items[i], &items[i])) return SL_ENOMEM;
      dst->u.items = items;
      return 0;
    }
    case SL_T_OBJECT: {
      sl_member *m = sl_arena_alloc(a, (src->n ? src->n : 1) * sizeof *m);
      if (!m) return SL_ENOMEM;
      for (uint32_t i = 0; i < src->n; i++) {
        const sl_member *sm = &src->u.members[i];
        char *name = sl_arena_memdup(a, sm->name.ptr, sm->name.len);
        if (!name) return SL_ENOMEM;
        m[i].name.ptr = name;
        m[i].name.len = sm->name.len;
        if (sl__value_copy(a, &sm->value, &m[i].value)) return SL_ENOMEM;
      }
      dst->u.members = m;
      return 0;
    }
    default:
      return 0;
  }
}
