/* sl.clean.*: the cleansing primitives as Lua functions.
 *
 * Each returns the clean value, or nil and the reason:
 *   local id, why = sl.clean.cn_id(rec.id_no)
 * nil in gives nil, "missing".  The *_info functions return a table of what
 * the value says (birth date, sex, division...).
 *
 * The text results are built in a scratch buffer owned by the thread (a
 * Lua state runs on one thread at a time, and these functions do not call
 * back into Lua), so a call allocates nothing but the Lua string it
 * returns; a Lua error raised while pushing leaks nothing. */
#include <lauxlib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "rules.h"
#include "sluice/lua.h"

typedef struct scratch {
  sl_text_scratch text;
  sl_buf buf;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p) {
  scratch *s = p;
  sl_text_scratch_free(&s->text);
  sl_buf_free(&s->buf);
  free(s);
}

static void scratch_key_make(void) { pthread_key_create(&scratch_key, scratch_free); }

static scratch *get_scratch(lua_State *L) {
  pthread_once(&scratch_once, scratch_key_make);
  scratch *s = pthread_getspecific(scratch_key);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s || pthread_setspecific(scratch_key, s)) {
      free(s);
      luaL_error(L, "out of memory");
    }
  }
  s->buf.len = 0;
  s->buf.oom = 0;
  return s;
}

/* The argument at i as text (numbers as Lua writes them); NULL for nil. */
static const char *arg_text(lua_State *L, int i, size_t *n) {
  if (lua_isnoneornil(L, i)) return NULL;
  if (lua_type(L, i) != LUA_TSTRING && lua_type(L, i) != LUA_TNUMBER) luaL_typeerror(L, i, "string");
  return lua_tolstring(L, i, n);
}

static int fail(lua_State *L, const char *why) {
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}

static int push_buf(lua_State *L, scratch *s) {
  if (s->buf.oom) return luaL_error(L, "out of memory");
  lua_pushlstring(L, s->buf.ptr ? s->buf.ptr : "", s->buf.len);
  return 1;
}

#define ARG_OR_MISSING(L, i, s, n)          \
  size_t n = 0;                             \
  const char *s = arg_text(L, i, &n);       \
  if (!s) return fail(L, "missing")

static const char *opt_string(lua_State *L, int t, const char *k, const char *def) {
  if (!lua_istable(L, t)) return def;
  lua_getfield(L, t, k);
  const char *v = lua_isnil(L, -1) ? def : luaL_checkstring(L, -1);
  lua_pop(L, 1);   /* the string stays alive in the table */
  return v;
}

static int opt_bool(lua_State *L, int t, const char *k, int def) {
  if (!lua_istable(L, t)) return def;
  lua_getfield(L, t, k);
  int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* ---- text ---- */

static int do_text(lua_State *L, unsigned flags) {
  ARG_OR_MISSING(L, 1, s, n);
  if (lua_istable(L, 2)) {
    const char *u = opt_string(L, 2, "utf8", "reject");
    if (!strcmp(u, "repair")) flags |= SL_TEXT_REPAIR;
    else if (strcmp(u, "reject")) return luaL_error(L, "utf8 must be \"repair\" or \"reject\"");
  }
  scratch *sc = get_scratch(L);
  const char *o;
  size_t ol;
  sl_clean_why why;
  int rc = sl_text_clean(flags, s, n, &sc->text, &o, &ol, NULL, &why);
  if (rc < 0) return fail(L, why.msg);
  lua_pushlstring(L, o, ol);
  return 1;
}

/* text(s, { trim =, nfkc =, casefold =, t2s =, utf8 = "repair" | "reject" }):
 * by default trim and nfkc. */
static int l_text(lua_State *L) {
  unsigned f = 0;
  if (opt_bool(L, 2, "trim", 1)) f |= SL_TEXT_TRIM;
  if (opt_bool(L, 2, "nfkc", 1)) f |= SL_TEXT_NFKC;
  if (opt_bool(L, 2, "casefold", 0)) f |= SL_TEXT_CASEFOLD;
  if (opt_bool(L, 2, "t2s", 0)) f |= SL_TEXT_T2S;
  return do_text(L, f);
}
static int l_trim(lua_State *L) { return do_text(L, SL_TEXT_TRIM); }
static int l_nfkc(lua_State *L) { return do_text(L, SL_TEXT_NFKC); }
static int l_casefold(lua_State *L) { return do_text(L, SL_TEXT_CASEFOLD); }
static int l_t2s(lua_State *L) { return do_text(L, SL_TEXT_T2S); }
static int l_utf8(lua_State *L) { return do_text(L, SL_TEXT_REPAIR); }

/* ---- identifiers ---- */

static void set_s(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void push_division_name(lua_State *L, const char *code) {
  sl_division d;
  scratch *sc = get_scratch(L);
  if (sl_division_find(code, strlen(code), &d, NULL) == 0) {
    sl_division_full_name(&d, &sc->buf);
    push_buf(L, sc);
  } else {
    lua_pushnil(L);
  }
}

static int l_cn_id(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_cn_id id;
  sl_clean_why why;
  if (sl_cn_id_parse(s, n, 0, &id, &why)) return fail(L, why.msg);
  lua_pushstring(L, id.id);
  return 1;
}

static int l_cn_id_info(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_cn_id id;
  sl_clean_why why;
  if (sl_cn_id_parse(s, n, 0, &id, &why)) return fail(L, why.msg);
  lua_createtable(L, 0, 6);
  set_s(L, "id", id.id);
  set_s(L, "birth", id.birth);
  set_s(L, "sex", id.sex == 'M' ? "M" : "F");
  set_s(L, "division", id.division);
  push_division_name(L, id.division);
  lua_setfield(L, -2, "division_name");
  lua_pushboolean(L, id.upgraded);
  lua_setfield(L, -2, "upgraded");
  return 1;
}

static int l_uscc(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_uscc u;
  sl_clean_why why;
  if (sl_uscc_parse(s, n, &u, &why)) return fail(L, why.msg);
  lua_pushstring(L, u.code);
  return 1;
}

static int l_uscc_info(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_uscc u;
  sl_clean_why why;
  if (sl_uscc_parse(s, n, &u, &why)) return fail(L, why.msg);
  lua_createtable(L, 0, 8);
  set_s(L, "code", u.code);
  char c[2] = {u.authority, 0};
  set_s(L, "authority", c);
  set_s(L, "authority_name", u.authority_name);
  c[0] = u.type;
  set_s(L, "type", c);
  set_s(L, "type_name", u.type_name);
  set_s(L, "division", u.division);
  if (strcmp(u.division, "100000")) push_division_name(L, u.division);
  else lua_pushstring(L, "中央");
  lua_setfield(L, -2, "division_name");
  set_s(L, "org_code", u.org_code);
  return 1;
}

static int l_org_code(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  char c[10];
  sl_clean_why why;
  if (sl_org_code_parse(s, n, c, &why)) return fail(L, why.msg);
  lua_pushstring(L, c);
  return 1;
}

/* ---- phones ---- */

static int parse_phone(lua_State *L, sl_cn_phone *p) {
  size_t n = 0;
  const char *s = arg_text(L, 1, &n);
  if (!s) return fail(L, "missing");
  sl_clean_why why;
  if (sl_cn_phone_parse(s, n, opt_string(L, 2, "area", NULL), p, &why)) return fail(L, why.msg);
  if (opt_bool(L, 2, "mobile_only", 0) && p->type != SL_PHONE_MOBILE) return fail(L, "not a mobile number");
  return 0;
}

/* cn_phone(s, { format = "e164" | "display" | "national", area = "0756", mobile_only = false }) */
static int l_cn_phone(lua_State *L) {
  sl_cn_phone p;
  int r = parse_phone(L, &p);
  if (r) return r;
  const char *f = opt_string(L, 2, "format", "e164");
  if (!strcmp(f, "e164")) lua_pushstring(L, p.e164);
  else if (!strcmp(f, "display")) lua_pushstring(L, p.display);
  else if (!strcmp(f, "national")) lua_pushstring(L, p.national);
  else return luaL_error(L, "format must be \"e164\", \"display\" or \"national\"");
  return 1;
}

static int l_cn_phone_info(lua_State *L) {
  sl_cn_phone p;
  int r = parse_phone(L, &p);
  if (r) return r;
  lua_createtable(L, 0, 6);
  set_s(L, "e164", p.e164);
  set_s(L, "display", p.display);
  set_s(L, "national", p.national);
  set_s(L, "type", p.type == SL_PHONE_MOBILE ? "mobile" : p.type == SL_PHONE_LANDLINE ? "landline" : "service");
  if (p.area[0]) set_s(L, "area", p.area);
  if (p.ext[0]) set_s(L, "ext", p.ext);
  return 1;
}

/* ---- dates ---- */

/* date(s, { tz = "Asia/Shanghai", input = "auto" | "epoch" | "epoch_ms" | "serial",
 *           output = "auto" | "date" | "datetime" }) */
static int l_date(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_date_opts o = {NULL, SL_DATE_AUTO, SL_DATE_OUT_AUTO};
  sl_clean_why why;
  o.tz = sl_tz_get(opt_string(L, 2, "tz", "Asia/Shanghai"), &why);
  if (!o.tz) return luaL_error(L, "%s", why.msg);
  const char *in = opt_string(L, 2, "input", "auto"), *out = opt_string(L, 2, "output", "auto");
  if (!strcmp(in, "epoch")) o.input = SL_DATE_EPOCH;
  else if (!strcmp(in, "epoch_ms")) o.input = SL_DATE_EPOCH_MS;
  else if (!strcmp(in, "serial")) o.input = SL_DATE_SERIAL;
  else if (strcmp(in, "auto")) return luaL_error(L, "input must be \"auto\", \"epoch\", \"epoch_ms\" or \"serial\"");
  if (!strcmp(out, "date")) o.output = SL_DATE_OUT_DATE;
  else if (!strcmp(out, "datetime")) o.output = SL_DATE_OUT_DATETIME;
  else if (strcmp(out, "auto")) return luaL_error(L, "output must be \"auto\", \"date\" or \"datetime\"");
  sl_date d;
  if (sl_date_parse(s, n, &o, &d, &why)) return fail(L, why.msg);
  lua_pushstring(L, d.iso);
  return 1;
}

/* ---- divisions ---- */

static void push_division(lua_State *L, const sl_division *d) {
  scratch *sc = get_scratch(L);
  lua_createtable(L, 0, 4);
  set_s(L, "code", d->code);
  lua_pushlstring(L, d->name, d->name_len);
  lua_setfield(L, -2, "name");
  sl_division_full_name(d, &sc->buf);
  push_buf(L, sc);
  lua_setfield(L, -2, "full_name");
  set_s(L, "level", d->level == SL_DIV_PROVINCE ? "province" : d->level == SL_DIV_CITY ? "city" : "county");
}

/* division(code) → { code, name, full_name, level } */
static int l_division(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_division d;
  sl_clean_why why;
  if (sl_division_find(s, n, &d, &why)) return fail(L, why.msg);
  push_division(L, &d);
  return 1;
}

static int l_division_name(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_division d;
  sl_clean_why why;
  if (sl_division_find(s, n, &d, &why)) return fail(L, why.msg);
  scratch *sc = get_scratch(L);
  sl_division_full_name(&d, &sc->buf);
  return push_buf(L, sc);
}

/* division_code("广东省珠海市香洲区") → "440402"; the text must be divisions only. */
static int l_division_code(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_address a;
  sl_clean_why why;
  if (sl_address_normalize(s, n, &a, NULL, &why)) return fail(L, why.msg);
  if (a.rest != n) return fail(L, "not only a division name");
  lua_pushstring(L, a.county.level ? a.county.code : a.city.level ? a.city.code : a.province.code);
  return 1;
}

/* address(s) → normalised, { province =, city =, county = (divisions), code =, rest = } */
static int l_address(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  sl_address a;
  sl_clean_why why;
  scratch *sc = get_scratch(L);
  if (sl_address_normalize(s, n, &a, &sc->buf, &why)) return fail(L, why.msg);
  push_buf(L, sc);
  lua_createtable(L, 0, 5);
  const sl_division *lv[3] = {&a.province, &a.city, &a.county};
  const char *names[3] = {"province", "city", "county"};
  const sl_division *deepest = NULL;
  for (int i = 0; i < 3; i++)
    if (lv[i]->level) {
      push_division(L, lv[i]);
      lua_setfield(L, -2, names[i]);
      deepest = lv[i];
    }
  if (deepest) set_s(L, "code", deepest->code);
  lua_pushlstring(L, s + a.rest, n - a.rest);
  lua_setfield(L, -2, "rest");
  return 2;
}

/* ---- names ---- */

static int l_pinyin(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  scratch *sc = get_scratch(L);
  sl_pinyin_key(s, n, &sc->buf);
  return push_buf(L, sc);
}

static int l_bigram_key(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  scratch *sc = get_scratch(L);
  sl_bigram_key(s, n, &sc->buf);
  return push_buf(L, sc);
}

/* bigrams(s) → { "张三", "三丰" } */
static int l_bigrams(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  scratch *sc = get_scratch(L);
  sl_bigram_key(s, n, &sc->buf);
  if (sc->buf.oom) return luaL_error(L, "out of memory");
  lua_newtable(L);
  size_t i = 0;
  int k = 0;
  while (i < sc->buf.len) {
    size_t j = i;
    while (j < sc->buf.len && sc->buf.ptr[j] != ' ') j++;
    lua_pushlstring(L, sc->buf.ptr + i, j - i);
    lua_rawseti(L, -2, ++k);
    i = j + 1;
  }
  return 1;
}

/* ---- masking and tokens ---- */

/* mask(s, keep_start, keep_end [, char]) */
static int l_mask(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  lua_Integer ks = luaL_optinteger(L, 2, 0), ke = luaL_optinteger(L, 3, 0);
  const char *c = luaL_optstring(L, 4, "*");
  luaL_argcheck(L, ks >= 0, 2, "must not be negative");
  luaL_argcheck(L, ke >= 0, 3, "must not be negative");
  scratch *sc = get_scratch(L);
  sl_mask(s, n, (size_t)ks, (size_t)ke, c, &sc->buf);
  return push_buf(L, sc);
}

static int l_mask_id(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  scratch *sc = get_scratch(L);
  sl_mask(s, n, 6, 4, "*", &sc->buf);
  return push_buf(L, sc);
}

static int l_mask_phone(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  scratch *sc = get_scratch(L);
  clean_mask_phone(s, n, &sc->buf);
  return push_buf(L, sc);
}

static int l_mask_name(lua_State *L) {
  ARG_OR_MISSING(L, 1, s, n);
  scratch *sc = get_scratch(L);
  sl_mask(s, n, 1, 0, "*", &sc->buf);
  return push_buf(L, sc);
}

#define KEY_MT "sl.clean.key"

static int key_gc(lua_State *L) {
  sl_hmac_key **k = luaL_checkudata(L, 1, KEY_MT);
  sl_hmac_key_free(*k);
  *k = NULL;
  return 0;
}

static int key_tostring(lua_State *L) {
  lua_pushliteral(L, "sl.clean.key (hidden)");
  return 1;
}

/* key { env = "NAME" }: a key that Lua code can use but not read. */
static int l_key(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *env = opt_string(L, 1, "env", NULL);
  if (!env) return luaL_error(L, "sl.clean.key: give env = \"NAME\" (an environment variable)");
  sl_hmac_key **k = lua_newuserdatauv(L, sizeof *k, 0);
  *k = NULL;
  if (luaL_newmetatable(L, KEY_MT)) {
    lua_pushcfunction(L, key_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, key_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  sl_clean_why why;
  if (sl_hmac_key_load(env, NULL, k, &why)) return luaL_error(L, "sl.clean.key: %s", why.msg);
  return 1;
}

/* hmac(s, key [, { bytes = 16, context = "" }]) → hex token */
static int l_hmac(lua_State *L) {
  sl_hmac_key **k = luaL_checkudata(L, 2, KEY_MT);
  ARG_OR_MISSING(L, 1, s, n);
  if (!*k) return luaL_error(L, "sl.clean.hmac: the key was freed");
  lua_Integer bytes = 16;
  const char *ctx = "";
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "bytes");
    bytes = luaL_optinteger(L, -1, 16);
    lua_pop(L, 1);
    ctx = opt_string(L, 3, "context", "");
  }
  luaL_argcheck(L, bytes >= 4 && bytes <= 32, 3, "bytes must be 4 to 32");
  scratch *sc = get_scratch(L);
  sl_hmac_token(*k, ctx, s, n, (size_t)bytes, &sc->buf);
  return push_buf(L, sc);
}

static int open_clean(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"text", l_text},           {"trim", l_trim},
      {"nfkc", l_nfkc},           {"casefold", l_casefold},
      {"t2s", l_t2s},             {"utf8", l_utf8},
      {"cn_id", l_cn_id},         {"cn_id_info", l_cn_id_info},
      {"uscc", l_uscc},           {"uscc_info", l_uscc_info},
      {"org_code", l_org_code},   {"cn_phone", l_cn_phone},
      {"cn_phone_info", l_cn_phone_info},
      {"date", l_date},           {"division", l_division},
      {"division_name", l_division_name},
      {"division_code", l_division_code},
      {"address", l_address},     {"pinyin", l_pinyin},
      {"bigrams", l_bigrams},     {"bigram_key", l_bigram_key},
      {"mask", l_mask},           {"mask_id", l_mask_id},
      {"mask_phone", l_mask_phone},
      {"mask_name", l_mask_name}, {"key", l_key},
      {"hmac", l_hmac},           {NULL, NULL},
  };
  luaL_newlib(L, fns);
  return 1;
}

const sl_lua_lib clean_lua_lib = {
    .name = "clean",
    .open = open_clean,
};
