/* generate: synthetic records for tests, demos and benchmarks.
 *
 *   sl.generate { count = 1000000, template = { id = "${seq}", name = "resident ${seq}" } }
 *
 * A template table is rendered to JSON once, at start; "${seq}" in a string
 * is replaced by the record's sequence number (1, 2, ...), and a string that
 * is exactly "${seq}" becomes the number itself.  A template function
 * (seq) -> table is called for each record instead: flexible, but slower. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/clock.h"
#include "sluice/log.h"
#include "sluice/lua.h"
#include "sluice/plugin.h"

typedef struct gen_cfg {
  int64_t count;          /* 0: no end */
  int template_ref;       /* table or function, in the loop thread's Lua state */
} gen_cfg;

/* The rendered template: literal pieces with a number between each two. */
typedef struct gen_piece {
  char *text;
  size_t len;
} gen_piece;

typedef struct generate {
  sl_stage *st;
  gen_cfg *cfg;
  gen_piece *pieces;
  size_t npieces;
  int oom;                /* a piece of the template was lost: it cannot be used */
  int use_function;
  int64_t seq;
  uv_idle_t idle;
  int idle_open;
  int done;
} generate;

static void add_piece(generate *g, const char *p, size_t n) {
  gen_piece *np = realloc(g->pieces, (g->npieces + 1) * sizeof *np);
  if (!np) {
    g->oom = 1;
    return;
  }
  g->pieces = np;
  g->pieces[g->npieces].text = malloc(n + 1);
  if (!g->pieces[g->npieces].text) {
    g->oom = 1;
    return;
  }
  memcpy(g->pieces[g->npieces].text, p, n);
  g->pieces[g->npieces].len = n;
  g->npieces++;
}

static const char SEQ[] = "${seq}";

/* Ends the current piece: the sequence number goes between it and the next. */
static void cut(generate *g, sl_buf *cur) {
  add_piece(g, cur->ptr ? cur->ptr : "", cur->len);
  cur->len = 0;
}

/* Appends s as the inside of a JSON string, with ${seq} cut out. */
static void render_string_body(generate *g, sl_buf *cur, const char *p, size_t n) {
  const char *end = p + n;
  for (;;) {
    const char *m = memmem(p, (size_t)(end - p), SEQ, sizeof SEQ - 1);
    size_t len = m ? (size_t)(m - p) : (size_t)(end - p);
    sl_buf esc = SL_BUF_INIT;
    sl_buf_json_string(&esc, p, len);
    g->oom |= esc.oom;
    if (esc.len >= 2) sl_buf_append(cur, esc.ptr + 1, esc.len - 2);   /* without the quotes */
    sl_buf_free(&esc);
    if (!m) return;
    cut(g, cur);
    p = m + sizeof SEQ - 1;
  }
}

/* Renders the template to JSON text split at each ${seq}.  A string that is
 * exactly "${seq}" becomes the bare number; in names and in other strings
 * ${seq} is replaced inside the quotes. */
static void render(generate *g, sl_buf *cur, const sl_value *v) {
  switch (v->type) {
    case SL_T_STRING:
      if (v->u.s.len == sizeof SEQ - 1 && memcmp(v->u.s.ptr, SEQ, v->u.s.len) == 0) {
        cut(g, cur);
        return;
      }
      sl_buf_putc(cur, '"');
      render_string_body(g, cur, v->u.s.ptr, v->u.s.len);
      sl_buf_putc(cur, '"');
      return;
    case SL_T_OBJECT:
      sl_buf_putc(cur, '{');
      for (uint32_t i = 0; i < v->n; i++) {
        if (i) sl_buf_putc(cur, ',');
        sl_buf_putc(cur, '"');
        render_string_body(g, cur, v->u.members[i].name.ptr, v->u.members[i].name.len);
        sl_buf_puts(cur, "\":");
        render(g, cur, &v->u.members[i].value);
      }
      sl_buf_putc(cur, '}');
      return;
    case SL_T_ARRAY:
      sl_buf_putc(cur, '[');
      for (uint32_t i = 0; i < v->n; i++) {
        if (i) sl_buf_putc(cur, ',');
        render(g, cur, &v->u.items[i]);
      }
      sl_buf_putc(cur, ']');
      return;
    default:
      sl_json_encode_value(cur, v);
  }
}

static int gen_init(sl_stage *st) {
  generate *g = sl_stage_priv(st);
  g->st = st;
  g->cfg = sl_stage_config(st);
  lua_State *L = sl_stage_lua(st);
  if (g->cfg->template_ref == LUA_NOREF || g->cfg->template_ref == LUA_REFNIL) {
    add_piece(g, "{\"seq\":", 7);   /* the default template: {"seq":N} */
    add_piece(g, "}", 1);
    return g->oom ? SL_ENOMEM : 0;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, g->cfg->template_ref);
  if (lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    g->use_function = 1;
    return 0;
  }
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  const char *why = NULL;
  int rc = sl_lua_to_value(L, -1, &a, &v, &why);
  lua_pop(L, 1);
  if (rc || v.type != SL_T_OBJECT) {
    sl_log_error(sl_stage_name(st), "%s: template must be a table of fields or a function: %s",
                 sl_stage_where(st), why ? why : "not a table of fields");
    sl_arena_free(&a);
    return SL_EOPTION;
  }
  sl_buf cur = SL_BUF_INIT;
  render(g, &cur, &v);
  add_piece(g, cur.ptr ? cur.ptr : "", cur.len);
  int oom = cur.oom || g->oom;
  sl_buf_free(&cur);
  sl_arena_free(&a);
  if (oom) sl_log_error(sl_stage_name(st), "%s: template: out of memory", sl_stage_where(st));
  return oom ? SL_ENOMEM : 0;
}

static void gen_destroy(sl_stage *st) {
  generate *g = sl_stage_priv(st);
  for (size_t i = 0; i < g->npieces; i++) free(g->pieces[i].text);
  free(g->pieces);
  g->pieces = NULL;
  if (g->idle_open) uv_close((uv_handle_t *)&g->idle, NULL);
  g->idle_open = 0;
}

static void finish(generate *g) {
  if (g->done) return;
  g->done = 1;
  uv_idle_stop(&g->idle);
  sl_source_finished(g->st);
}

static int fill_from_template(generate *g, sl_batch *b, uint32_t n, int64_t now) {
  sl_buf text = SL_BUF_INIT;
  size_t *ends = malloc(n * sizeof *ends);
  if (!ends) return SL_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    int64_t seq = g->seq + 1 + i;
    for (size_t k = 0; k < g->npieces; k++) {
      if (k) sl_buf_int64(&text, seq);
      sl_buf_append(&text, g->pieces[k].text, g->pieces[k].len);
    }
    ends[i] = text.len;
  }
  char *copy = text.oom ? NULL : sl_arena_memdup(sl_batch_arena(b), text.ptr, text.len);
  sl_buf_free(&text);
  if (!copy) {
    free(ends);
    return SL_ENOMEM;
  }
  size_t start = 0;
  for (uint32_t i = 0; i < n; i++) {
    sl_record *rec = sl_batch_add(b);
    if (!rec) {
      free(ends);
      return SL_ENOMEM;
    }
    rec->raw.ptr = copy + start;
    rec->raw.len = ends[i] - start;
    rec->codec = &sl_codec_jsonl;
    rec->meta.origin = SL_STR_LIT("generate");
    rec->meta.offset = g->seq + 1 + i;
    rec->meta.arrival_ms = now;
    start = ends[i];
  }
  free(ends);
  return 0;
}

/* Calls the template function for n records.  It runs on the loop thread:
 * after one call that overran its time budget (the loop stood still that
 * long) *timed_out is set, that record is dead-lettered and no more are made,
 * so the caller can stop the source rather than stall the loop again. */
static int fill_from_function(generate *g, sl_batch *b, uint32_t *n, int64_t now,
                              sl_buf *timed_out) {
  lua_State *L = sl_stage_lua(g->st);
  sl_lua *s = sl_lua_from(L);
  sl_buf err = SL_BUF_INIT;
  for (uint32_t i = 0; i < *n; i++) {
    int64_t seq = g->seq + 1 + i;
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->cfg->template_ref);
    lua_pushinteger(L, seq);
    sl_record *rec = sl_batch_add(b);
    if (!rec) return SL_ENOMEM;
    rec->meta.origin = SL_STR_LIT("generate");
    rec->meta.offset = seq;
    rec->meta.arrival_ms = now;
    const char *why = NULL;
    if (sl_lua_pcall(s, 1, 1, &err, NULL)) {
      sl_record_fail(rec, sl_batch_arena(b), sl_stage_name(g->st), err.ptr ? err.ptr : "error");
      if (sl_lua_timed_out(s)) {
        sl_buf_puts(timed_out, err.ptr ? err.ptr : "time budget exceeded");
        *n = i + 1;
        break;
      }
      continue;
    }
    if (!lua_istable(L, -1) ||
        sl_lua_table_to_record(L, -1, sl_batch_arena(b), rec, &why)) {
      sl_record_fail(rec, sl_batch_arena(b), sl_stage_name(g->st),
                     why ? why : "template function must return a table");
      rec->meta.origin = SL_STR_LIT("generate");
      rec->meta.offset = seq;
    }
    lua_pop(L, 1);
  }
  sl_buf_free(&err);
  return 0;
}

static void on_idle(uv_idle_t *h) {
  generate *g = h->data;
  if (sl_source_paused(g->st)) {
    uv_idle_stop(&g->idle);
    return;
  }
  uint32_t n = sl_stage_batch_size(g->st);
  if (g->cfg->count > 0 && g->seq + n > g->cfg->count) n = (uint32_t)(g->cfg->count - g->seq);
  if (n == 0) {
    finish(g);
    return;
  }
  sl_batch *b = sl_batch_new(g->st);
  if (!b) {
    sl_stage_fatal(g->st, "out of memory");
    return;
  }
  int64_t now = sl_now_ms();
  sl_buf timed_out = SL_BUF_INIT;
  int rc = g->use_function ? fill_from_function(g, b, &n, now, &timed_out)
                           : fill_from_template(g, b, n, now);
  if (rc) {
    sl_buf_free(&timed_out);
    sl_batch_discard(b);
    sl_stage_fatal(g->st, "out of memory");
    return;
  }
  g->seq += n;
  sl_checkpoint cp = {.a = g->seq};
  sl_batch_set_checkpoint(b, &cp);
  sl_source_emit(g->st, b);
  if (timed_out.len) {
    finish(g);
    sl_stage_fatal(g->st, "%s: the template function ran out of its time budget (%.*s); it "
                   "runs on the loop thread, so the source stops", sl_stage_where(g->st),
                   (int)timed_out.len, timed_out.ptr);
  } else if (g->cfg->count > 0 && g->seq >= g->cfg->count) {
    finish(g);
  }
  sl_buf_free(&timed_out);
}

static int gen_start(sl_stage *st) {
  generate *g = sl_stage_priv(st);
  uv_idle_init(sl_stage_loop(st), &g->idle);
  g->idle.data = g;
  g->idle_open = 1;
  uv_idle_start(&g->idle, on_idle);
  return 0;
}

static void gen_resume(sl_stage *st) {
  generate *g = sl_stage_priv(st);
  if (!g->done) uv_idle_start(&g->idle, on_idle);
}

static void gen_stop(sl_stage *st) {
  finish(sl_stage_priv(st));
}

static const sl_option gen_options[] = {
    {"count", SL_OPT_INT, "0", 0, offsetof(gen_cfg, count), "Records to make; 0 for no end.", NULL},
    {"template", SL_OPT_LUA, NULL, 0, offsetof(gen_cfg, template_ref), "A table of fields (\"${seq}\" is replaced) or a function(seq) returning one.", "function|table"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin generate_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "generate",
    .doc = "Makes synthetic records from a template.",
    .options = gen_options,
    .config_size = sizeof(gen_cfg),
    .priv_size = sizeof(generate),
    .init = gen_init,
    .destroy = gen_destroy,
    .start = gen_start,
    .resume = gen_resume,
    .stop = gen_stop,
};
