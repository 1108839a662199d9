/* Running Lua: the only lua_pcall of the runtime, with a traceback handler,
 * the time budget around it and one-line error messages out of it. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "lua/sl_lua_int.h"
#include "sluice/errors.h"

/* The message handler: runs where the error was raised, so the traceback
 * shows the frames that failed.  Returns "message\nstack traceback:..." and
 * tells the caller where the message ends. */
static int msgh(lua_State *L) {
  sl_lua *s = sl__lua_from(L);
  size_t len;
  const char *msg = lua_tolstring(L, 1, &len);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tolstring(L, -1, &len);
    else
      msg = lua_pushfstring(L, "error object is a %s", luaL_typename(L, 1));
    if (!msg) msg = "error object is not a string";
    len = strlen(msg);
  }
  /* The message is pushed whole and the traceback after it: a message
   * given to luaL_traceback would be cut at its first NUL byte. */
  lua_pushlstring(L, msg, len);
  lua_pushliteral(L, "\n");
  luaL_traceback(L, L, NULL, 1);
  lua_concat(L, 3);
  s->msgh_len = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
  return 1;
}

/* Appends p[0..n) as one line: "@" dropped from the front, line breaks and
 * tabs turned into single spaces, NUL bytes written as "\0" (callers print
 * the line as a C string, which would end there). */
static void put_one_line(sl_buf *b, const char *p, size_t n) {
  if (n && p[0] == '@') {
    p++;
    n--;
  }
  size_t start = b->len;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '\n' || c == '\r' || c == '\t') {
      if (b->len > start && b->ptr[b->len - 1] != ' ') sl_buf_putc(b, ' ');
      continue;
    }
    if (c == 0) {
      sl_buf_puts(b, "\\0");
      continue;
    }
    sl_buf_putc(b, c);
  }
}

/* Callers print err->ptr as a C string. */
static void terminate(sl_buf *b) {
  if (b && sl_buf_reserve(b, 1) == 0) b->ptr[b->len] = 0;
}

static void clear(sl_buf *b) {
  if (!b) return;
  b->len = 0;
  if (b->ptr) b->ptr[0] = 0;    /* a buffer with ptr has cap > 0 */
}

/* Formats the memory budget for messages: "64 MiB", "512 KiB", "1000 bytes". */
static void format_budget(char *out, size_t n, size_t bytes) {
  if (bytes && bytes % (1024 * 1024) == 0)
    snprintf(out, n, "%zu MiB", bytes / (1024 * 1024));
  else if (bytes && bytes % 1024 == 0)
    snprintf(out, n, "%zu KiB", bytes / 1024);
  else
    snprintf(out, n, "%zu bytes", bytes);
}

int sl_lua_pcall(sl_lua *s, int nargs, int nresults, sl_buf *err, sl_buf *trace) {
  lua_State *L = s->L;
  clear(err);
  clear(trace);
  int base = lua_gettop(L) - nargs;           /* the function */
  if (!lua_checkstack(L, 2)) {
    lua_settop(L, base - 1);
    if (err) sl_buf_puts(err, "stack overflow");
    terminate(err);
    return SL_ELUA;
  }
  lua_pushcfunction(L, msgh);
  lua_insert(L, base);
  int outer = s->depth++ == 0;
  if (outer) sl__budget_begin(s);
  s->msgh_len = -1;
  int status = lua_pcall(L, nargs, nresults, base);
  s->depth--;
  int timed_out = s->call_ms && s->expired_seq == atomic_load(&s->seq);
  if (outer) sl__budget_end(s);
  if (status == LUA_OK) {
    lua_remove(L, base);
    return 0;
  }
  s->timed_out = timed_out;

  size_t len = 0;
  const char *text = lua_tolstring(L, -1, &len);
  if (!text) {
    text = "error object is not a string";
    len = strlen(text);
  }
  size_t msg_len = len;
  if (status == LUA_ERRRUN && s->msgh_len >= 0 && (size_t)s->msgh_len <= len)
    msg_len = (size_t)s->msgh_len;
  /* A memory error shows as such, or as a failed message handler (the
   * traceback did not fit), or as Lua's text rethrown by a script. */
  int mem = status == LUA_ERRMEM ||
            (s->mem_refused &&
             (status == LUA_ERRERR || (len == strlen("not enough memory") &&
                                       memcmp(text, "not enough memory", len) == 0)));
  s->over_memory = mem && s->mem_refused;
  if (err) {
    if (timed_out) {
      sl_buf_puts(err, s->budget_msg);
    } else if (mem && s->mem_refused) {
      char amount[48];
      format_budget(amount, sizeof amount, s->mem_limit);
      sl_buf_printf(err, "memory budget of %s exceeded", amount);
    } else {
      put_one_line(err, text, msg_len);
    }
    terminate(err);
  }
  if (trace) {
    if (status == LUA_ERRRUN && msg_len < len) {
      /* Skip the "\n" between the message and "stack traceback:". */
      size_t from = msg_len + (text[msg_len] == '\n');
      sl_buf_append(trace, text + from, len - from);
    } else {
      sl_buf_puts(trace, "(no traceback: ");
      sl_buf_puts(trace, status == LUA_ERRMEM ? "out of memory" : "error in the error handler");
      sl_buf_putc(trace, ')');
    }
    terminate(trace);
  }
  lua_settop(L, base - 1);
  /* What the failed call left behind is garbage now; under a memory budget
   * the next call needs that room back. */
  if (mem) lua_gc(L, LUA_GCCOLLECT);
  return SL_ELUA;
}

int sl_lua_timed_out(sl_lua *s) { return s->timed_out; }

int sl_lua_over_memory(sl_lua *s) { return s->over_memory; }

/* ---- files ---- */

/* Loads the file named by the light userdata at 1 (text only). [-1,+1,e] */
static int load_file(lua_State *L) {
  const char *path = lua_touserdata(L, 1);
  if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
  return 1;
}

/* A file's text and the name its chunk takes. */
typedef struct file_text {
  const char *path;
  const char *text;
  size_t len;
} file_text;

/* Loads the file_text at 1 as luaL_loadfilex would load its file: a UTF-8
 * byte order mark and a first line starting with '#' are skipped (the
 * line's newline is kept, so line numbers stay), text only. [-1,+1,e] */
static int load_text(lua_State *L) {
  const file_text *f = lua_touserdata(L, 1);
  const char *t = f->text, *end = f->text + f->len;
  if (end - t >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0) t += 3;
  if (t < end && *t == '#')
    while (t < end && *t != '\n') t++;
  lua_pushfstring(L, "@%s", f->path);
  if (luaL_loadbufferx(L, t, (size_t)(end - t), lua_tostring(L, -1), "t") != LUA_OK)
    return lua_error(L);
  return 1;
}

/* Puts f and ud below the nargs values on top, to be called protected: 0,
 * or SL_ELUA with err set and the values popped. */
static int push_c_call(sl_lua *s, lua_CFunction f, void *ud, int nargs, sl_buf *err) {
  if (!lua_checkstack(s->L, 2)) {
    lua_pop(s->L, nargs);
    clear(err);
    if (err) sl_buf_puts(err, "stack overflow");
    terminate(err);
    return SL_ELUA;
  }
  lua_pushcfunction(s->L, f);
  lua_insert(s->L, -1 - nargs);
  lua_pushlightuserdata(s->L, ud);
  lua_insert(s->L, -1 - nargs);
  return 0;
}

/* Runs the loader fn (with ud as its light userdata), then the chunk it
 * left.  Loading allocates (the chunk name, the prototypes): it runs
 * protected like any call, so running out of budget there is an error,
 * not a panic. */
static int load_and_run(sl_lua *s, lua_CFunction fn, void *ud, int nresults, sl_buf *err) {
  if (push_c_call(s, fn, ud, 0, err) || sl_lua_pcall(s, 1, 1, err, NULL)) return SL_ELUA;
  return sl_lua_pcall(s, 0, nresults, err, NULL);
}

int sl_lua_dofile(sl_lua *s, const char *path, int nresults, sl_buf *err) {
  return load_and_run(s, load_file, (void *)path, nresults, err);
}

int sl_lua_dotext(sl_lua *s, const char *path, const char *text, size_t len, int nresults,
                  sl_buf *err) {
  file_text f = {.path = path, .text = text ? text : "", .len = len};
  return load_and_run(s, load_text, &f, nresults, err);
}

/* ---- a step's call ---- */

/* [fn, rec, arena] → fn(view of rec).  Pushing the view allocates, so it
 * happens here, inside the protected call. */
static int call_with_view(lua_State *L) {
  sl_record *rec = lua_touserdata(L, 2);
  sl_arena *a = lua_touserdata(L, 3);
  lua_settop(L, 1);
  sl_lua_push_record(L, rec, a);
  lua_call(L, 1, LUA_MULTRET);
  return lua_gettop(L);
}

int sl_lua_pcall_record(sl_lua *s, sl_record *rec, sl_arena *a, int nresults,
                        sl_buf *err, sl_buf *trace) {
  lua_State *L = s->L;
  if (!lua_checkstack(L, 3)) {
    lua_pop(L, 1);
    clear(err);
    clear(trace);
    if (err) sl_buf_puts(err, "stack overflow");
    terminate(err);
    return SL_ELUA;
  }
  lua_pushcfunction(L, call_with_view);       /* [fn, call_with_view] */
  lua_insert(L, -2);                          /* [call_with_view, fn] */
  lua_pushlightuserdata(L, rec);
  lua_pushlightuserdata(L, a);
  return sl_lua_pcall(s, 3, nresults, err, trace);
}

int sl_lua_cpcall(sl_lua *s, lua_CFunction f, void *ud, int nargs, sl_buf *err) {
  if (push_c_call(s, f, ud, nargs, err)) return SL_ELUA;
  return sl_lua_pcall(s, 1 + nargs, 0, err, NULL);
}
