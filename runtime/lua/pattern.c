/* string.find, string.match, string.gmatch and string.gsub for scripts:
 * Lua 5.4's patterns (reference manual, 6.4.1), matched by a backtracking
 * matcher of ours that the time budget can stop.
 *
 * Lua's own matcher runs in C, where the budget's hook never fires: a
 * pattern with a few unbounded items over a long subject
 * (("a"):rep(3000):find(("a*"):rep(8) .. "b")) backtracks for hours, and the
 * worker with it.  This one counts its steps and, every POLL_STEPS, asks
 * the budget whether the call has overrun (sl__budget_poll), which raises
 * the budget error as the hook would.  Everything else is the language's:
 * the same results, captures, errors and messages, the same recursion
 * limit ("pattern too complex"); fuzz_lua_pattern compares the two on
 * random patterns and subjects. */
#include <lauxlib.h>
#include <string.h>

#include "lua/sl_lua_int.h"

#ifndef LUA_MAXCAPTURES
#define LUA_MAXCAPTURES 32 /* as Lua's string library (lstrlib.c) */
#endif
#define ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAX_DEPTH 200      /* nested items the matcher follows (MAXCCALLS in lstrlib.c) */
#define POLL_STEPS 4096    /* steps between two looks at the budget */

enum { CAP_UNFINISHED = -1, CAP_POSITION = -2 };

typedef struct matcher {
  const char *src, *src_end, *pat_end;
  lua_State *L;
  int depth;               /* nested items left before "pattern too complex" */
  unsigned steps;          /* until the next poll */
  int level;               /* captures opened so far */
  struct {
    const char *init;
    ptrdiff_t len;         /* or CAP_UNFINISHED, CAP_POSITION */
  } cap[LUA_MAXCAPTURES];
} matcher;

static const char *match(matcher *m, const char *s, const char *p);

static void step(matcher *m) {
  if (--m->steps == 0) {
    m->steps = POLL_STEPS;
    sl__budget_poll(m->L);
  }
}

/* ---- one character against one class ---- */

static int class_has(int cl, int c) {
  int r;
  switch (cl | 0x20) {          /* the class letter in lower case */
    case 'a': r = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); break;
    case 'c': r = c < 32 || c == 127; break;
    case 'd': r = c >= '0' && c <= '9'; break;
    case 'g': r = c > 32 && c < 127; break;
    case 'l': r = c >= 'a' && c <= 'z'; break;
    case 'p': r = (c > 32 && c < 48) || (c > 57 && c < 65) || (c > 90 && c < 97) || (c > 122 && c < 127); break;
    case 's': r = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'u': r = c >= 'A' && c <= 'Z'; break;
    case 'w': r = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); break;
    case 'x': r = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); break;
    case 'z': r = c == 0; break;  /* from Lua 5.1, still understood */
    default: return cl == c;    /* %. and the like: the character itself */
  }
  return (cl >= 'A' && cl <= 'Z') ? !r : r;
}

/* The end of the single-character class that starts at p. */
static const char *class_end(matcher *m, const char *p) {
  char c = *p++;
  if (c == ESC) {
    if (p == m->pat_end) luaL_error(m->L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (*p == '^') p++;
    do {                        /* a ']' first is a member */
      if (p == m->pat_end) luaL_error(m->L, "malformed pattern (missing ']')");
      if (*(p++) == ESC && p < m->pat_end) p++;
    } while (*p != ']');
    return p + 1;
  }
  return p;
}

/* Whether c is in the set [p, ec), p at its '[' and ec at its ']'. */
static int set_has(int c, const char *p, const char *ec) {
  int yes = 1;
  if (*(p + 1) == '^') {
    yes = 0;
    p++;
  }
  while (++p < ec) {
    if (*p == ESC) {
      p++;
      if (class_has((unsigned char)*p, c)) return yes;
    } else if (*(p + 1) == '-' && p + 2 < ec) {
      if ((unsigned char)*p <= c && c <= (unsigned char)*(p + 2)) return yes;
      p += 2;
    } else if ((unsigned char)*p == c) {
      return yes;
    }
  }
  return !yes;
}

/* Whether the subject character at s matches the class [p, ep). */
static int single(matcher *m, const char *s, const char *p, const char *ep) {
  if (s >= m->src_end) return 0;
  int c = (unsigned char)*s;
  switch (*p) {
    case '.': return 1;
    case ESC: return class_has((unsigned char)*(p + 1), c);
    case '[': return set_has(c, p, ep - 1);
    default: return (unsigned char)*p == c;
  }
}

/* ---- items ---- */

/* %bxy at p (after the "%b"). */
static const char *balance(matcher *m, const char *s, const char *p) {
  if (p >= m->pat_end - 1) luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
  if (s >= m->src_end || *s != *p) return NULL;
  int open = *p, close = *(p + 1), depth = 1;
  while (++s < m->src_end) {
    step(m);
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      depth++;
    }
  }
  return NULL;
}

/* The class at [p, ep) as many times as it matches, then the rest at ep + 1,
 * giving back one character at a time. */
static const char *greedy(matcher *m, const char *s, const char *p, const char *ep) {
  ptrdiff_t n = 0;
  while (single(m, s + n, p, ep)) {
    n++;
    step(m);
  }
  for (; n >= 0; n--) {
    step(m);
    const char *r = match(m, s + n, ep + 1);
    if (r) return r;
  }
  return NULL;
}

/* The rest first, then one more of the class, and so on. */
static const char *lazy(matcher *m, const char *s, const char *p, const char *ep) {
  for (;;) {
    step(m);
    const char *r = match(m, s, ep + 1);
    if (r) return r;
    if (!single(m, s, p, ep)) return NULL;
    s++;
  }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what) {
  if (m->level >= LUA_MAXCAPTURES) luaL_error(m->L, "too many captures");
  m->cap[m->level].init = s;
  m->cap[m->level].len = what;
  m->level++;
  const char *r = match(m, s, p);
  if (!r) m->level--;
  return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p) {
  int l = -1;
  for (int i = m->level - 1; i >= 0; i--)
    if (m->cap[i].len == CAP_UNFINISHED) {
      l = i;
      break;
    }
  if (l < 0) luaL_error(m->L, "invalid pattern capture");
  m->cap[l].len = s - m->cap[l].init;
  const char *r = match(m, s, p);
  if (!r) m->cap[l].len = CAP_UNFINISHED;
  return r;
}

/* %1 .. %9 at p: the same text as that capture. */
static const char *backref(matcher *m, const char *s, int digit) {
  int l = digit - '1';
  if (l < 0 || l >= m->level || m->cap[l].len == CAP_UNFINISHED)
    luaL_error(m->L, "invalid capture index %%%d", l + 1);
  size_t len = (size_t)m->cap[l].len;
  if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[l].init, s, len) == 0) return s + len;
  return NULL;
}

/* ---- the matcher ---- */

/* Matches the pattern from p against the subject from s: the end of the
 * match, or NULL. */
static const char *match(matcher *m, const char *s, const char *p) {
  if (m->depth-- == 0) luaL_error(m->L, "pattern too complex");
  for (;;) {
    step(m);
    if (p == m->pat_end) break;
    if (*p == '(') {
      s = p + 1 < m->pat_end && *(p + 1) == ')' ? open_capture(m, s, p + 2, CAP_POSITION)
                                                 : open_capture(m, s, p + 1, CAP_UNFINISHED);
      break;
    }
    if (*p == ')') {
      s = close_capture(m, s, p + 1);
      break;
    }
    if (*p == '$' && p + 1 == m->pat_end) {
      if (s != m->src_end) s = NULL;
      break;
    }
    if (*p == ESC && p + 1 < m->pat_end && *(p + 1) == 'b') {
      s = balance(m, s, p + 2);
      if (!s) break;
      p += 4;
      continue;
    }
    if (*p == ESC && p + 1 < m->pat_end && *(p + 1) == 'f') {
      p += 2;
      if (p >= m->pat_end || *p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
      const char *ep = class_end(m, p);
      int prev = s == m->src ? '\0' : (unsigned char)*(s - 1);
      int cur = s < m->src_end ? (unsigned char)*s : '\0';
      if (set_has(prev, p, ep - 1) || !set_has(cur, p, ep - 1)) {
        s = NULL;
        break;
      }
      p = ep;
      continue;
    }
    if (*p == ESC && p + 1 < m->pat_end && *(p + 1) >= '0' && *(p + 1) <= '9') {
      s = backref(m, s, *(p + 1));
      if (!s) break;
      p += 2;
      continue;
    }
    const char *ep = class_end(m, p);
    char q = ep < m->pat_end ? *ep : '\0';
    if (!single(m, s, p, ep)) {
      if (q == '*' || q == '?' || q == '-') {   /* zero of them will do */
        p = ep + 1;
        continue;
      }
      s = NULL;
      break;
    }
    if (q == '?') {
      const char *r = match(m, s + 1, ep + 1);
      if (r) {
        s = r;
        break;
      }
      p = ep + 1;
      continue;
    }
    if (q == '+') {
      s = greedy(m, s + 1, p, ep);
      break;
    }
    if (q == '*') {
      s = greedy(m, s, p, ep);
      break;
    }
    if (q == '-') {
      s = lazy(m, s, p, ep);
      break;
    }
    s++;
    p = ep;
  }
  m->depth++;
  return s;
}

/* ---- captures to Lua values ---- */

static void prepare(matcher *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp) {
  m->L = L;
  m->src = s;
  m->src_end = s + ls;
  m->pat_end = p + lp;
  m->steps = POLL_STEPS;
}

static void restart(matcher *m) {
  m->level = 0;
  m->depth = MAX_DEPTH;
}

/* Pushes capture i (a position capture as an integer), or the whole match
 * [s, e) when the pattern has no capture and i is 0. */
static void push_capture(matcher *m, int i, const char *s, const char *e) {
  if (i >= m->level) {
    if (i != 0) luaL_error(m->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(m->L, s, (size_t)(e - s));
    return;
  }
  ptrdiff_t len = m->cap[i].len;
  if (len == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
  if (len == CAP_POSITION)
    lua_pushinteger(m->L, (m->cap[i].init - m->src) + 1);
  else
    lua_pushlstring(m->L, m->cap[i].init, (size_t)len);
}

/* Pushes the captures (the whole match when the pattern has none, if
 * whole_if_none); returns how many. */
static int push_captures(matcher *m, const char *s, const char *e, int whole_if_none) {
  int n = (m->level == 0 && whole_if_none) ? 1 : m->level;
  luaL_checkstack(m->L, n, "too many captures");
  for (int i = 0; i < n; i++) push_capture(m, i, s, e);
  return n;
}

/* ---- the library functions ---- */

/* A start position: negative counts from the end; clipped to [1, len + 1]
 * except above it, which the callers treat as no match. */
static size_t start_at(lua_Integer pos, size_t len) {
  if (pos > 0) return (size_t)pos;
  if (pos == 0) return 1;
  if (pos < -(lua_Integer)len) return 1;
  return len + (size_t)pos + 1;
}

static int has_specials(const char *p, size_t lp) {
  size_t upto = 0;
  do {
    if (strpbrk(p + upto, SPECIALS)) return 1;
    upto += strlen(p + upto) + 1;     /* a '\0' may hide more of the pattern */
  } while (upto <= lp);
  return 0;
}

static int find_or_match(lua_State *L, int find) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  size_t init = start_at(luaL_optinteger(L, 3, 1), ls);
  if (init > ls + 1) {
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
    const char *at = lp == 0 ? s + init - 1 : memmem(s + init - 1, ls - init + 1, p, lp);
    if (at) {
      lua_pushinteger(L, (at - s) + 1);
      lua_pushinteger(L, (lua_Integer)((at - s) + (ptrdiff_t)lp));
      return 2;
    }
    luaL_pushfail(L);
    return 1;
  }
  matcher m;
  int anchor = lp > 0 && *p == '^';
  if (anchor) {
    p++;
    lp--;
  }
  prepare(&m, L, s, ls, p, lp);
  const char *at = s + init - 1;
  do {
    restart(&m);
    const char *e = match(&m, at, p);
    if (e) {
      if (!find) return push_captures(&m, at, e, 1);
      lua_pushinteger(L, (at - s) + 1);
      lua_pushinteger(L, e - s);
      return push_captures(&m, NULL, NULL, 0) + 2;
    }
  } while (at++ < m.src_end && !anchor);
  luaL_pushfail(L);
  return 1;
}

static int pt_find(lua_State *L) { return find_or_match(L, 1); }

static int pt_match(lua_State *L) { return find_or_match(L, 0); }

/* gmatch's iterator: upvalues subject, pattern, and its state (a userdata
 * holding the next position and the end of the last match). */
typedef struct gmatch_state {
  size_t next;             /* offset where the next search starts */
  ptrdiff_t last;          /* offset of the last match's end, or -1 */
} gmatch_state;

static int gmatch_next(lua_State *L) {
  size_t ls, lp;
  const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
  gmatch_state *g = lua_touserdata(L, lua_upvalueindex(3));
  matcher m;
  prepare(&m, L, s, ls, p, lp);
  for (const char *at = s + g->next; at <= m.src_end; at++) {
    restart(&m);
    const char *e = match(&m, at, p);
    if (e && e - s != g->last) {
      g->next = g->last = e - s;
      return push_captures(&m, at, e, 1);
    }
  }
  return 0;
}

static int pt_gmatch(lua_State *L) {
  size_t ls;
  luaL_checklstring(L, 1, &ls);
  luaL_checkstring(L, 2);
  size_t init = start_at(luaL_optinteger(L, 3, 1), ls);
  lua_settop(L, 2);
  gmatch_state *g = lua_newuserdatauv(L, sizeof *g, 0);
  g->next = init > ls + 1 ? ls + 1 : init - 1;
  g->last = -1;
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

/* Appends the replacement string at 3 for the match [s, e). */
static void add_string(matcher *m, luaL_Buffer *b, const char *s, const char *e) {
  size_t l;
  const char *r = lua_tolstring(m->L, 3, &l);
  const char *end = r + l;
  while (r < end) {
    const char *esc = memchr(r, ESC, (size_t)(end - r));
    if (!esc) {
      luaL_addlstring(b, r, (size_t)(end - r));
      return;
    }
    luaL_addlstring(b, r, (size_t)(esc - r));
    r = esc + 1;
    if (r < end && *r == ESC) {
      luaL_addchar(b, ESC);
    } else if (r < end && *r >= '0' && *r <= '9') {
      if (*r == '0') {
        luaL_addlstring(b, s, (size_t)(e - s));
      } else {
        push_capture(m, *r - '1', s, e);
        luaL_tolstring(m->L, -1, NULL);   /* a position capture is a number */
        lua_remove(m->L, -2);
        luaL_addvalue(b);
      }
    } else {
      luaL_error(m->L, "invalid use of '%c' in replacement string", ESC);
    }
    r++;
  }
}

/* Appends the replacement for the match [s, e); 1 if it changed the text. */
static int add_value(matcher *m, luaL_Buffer *b, const char *s, const char *e, int type) {
  lua_State *L = m->L;
  if (type == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    int n = push_captures(m, s, e, 1);
    lua_call(L, n, 1);
  } else if (type == LUA_TTABLE) {
    push_capture(m, 0, s, e);
    lua_gettable(L, 3);
  } else {
    add_string(m, b, s, e);
    return 1;
  }
  if (!lua_toboolean(L, -1)) {           /* nil or false: the text stays */
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s));
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

static int pt_gsub(lua_State *L) {
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  int type = lua_type(L, 3);
  lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
  luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION ||
                   type == LUA_TTABLE, 3, "string/function/table");
  int anchor = lp > 0 && *p == '^';
  if (anchor) {
    p++;
    lp--;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  matcher m;
  prepare(&m, L, s, ls, p, lp);
  const char *at = s, *last = NULL;
  lua_Integer n = 0, changed = 0;
  while (n < max) {
    restart(&m);
    const char *e = match(&m, at, p);
    if (e && e != last) {
      n++;
      changed |= add_value(&m, &b, at, e, type);
      at = last = e;
    } else if (at < m.src_end) {
      luaL_addchar(&b, *at++);
    } else {
      break;
    }
    if (anchor) break;
  }
  if (!changed) {
    lua_pushvalue(L, 1);                  /* nothing replaced: the string itself */
  } else {
    luaL_addlstring(&b, at, (size_t)(m.src_end - at));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, n);
  return 2;
}

void sl__pattern_open(lua_State *L, int string_table) {
  static const luaL_Reg fns[] = {
      {"find", pt_find}, {"match", pt_match}, {"gmatch", pt_gmatch}, {"gsub", pt_gsub}, {NULL, NULL}};
  string_table = lua_absindex(L, string_table);
  for (const luaL_Reg *f = fns; f->name; f++) {
    lua_pushcfunction(L, f->func);
    lua_setfield(L, string_table, f->name);
  }
}
