/* One case of a test file: its records taken from the runner's Lua state,
 * the pipeline loaded as `sluice run` loads it (its options checked) with
 * in-memory stages in place of its sources and sinks, run to the end of
 * its input, and what came out compared by lua/sluice/test.lua. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock_fix.h"
#include "engine/pipeline.h"
#include "sluice/clock.h"
#include "testing/testing.h"

/* An input record and the source it is for (NULL: the first). */
typedef struct case_item {
  char *source;
  sl_test_rec rec;
} case_item;

typedef struct case_ctx {
  const char *at;             /* the step records go in at, or NULL */
  const char *to;             /* the last step to run, or NULL */
  case_item *items;
  size_t nitems;
  sl_test_input *inputs;      /* per source of the pipeline */
  int ninputs;
  sl_test_output *outputs;    /* per sink, the dead-letter sink last */
  int noutputs;
  uint64_t dropped;
  int interrupted;            /* a signal stopped the run */
} case_ctx;

/* ---- from the runner's state ---- */

/* A copy of t[k] if it is a string, else NULL; *lost is set when there is
 * one that could not be copied (out of memory). */
static char *opt_string(lua_State *L, int t, const char *k, int *lost) {
  lua_getfield(L, t, k);
  char *s = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
  if (lua_isstring(L, -1) && !s) *lost = 1;
  lua_pop(L, 1);
  return s;
}

/* The list test.inputs returned, on the stack top, into ctx->items. */
static int take_items(lua_State *L, case_ctx *ctx, sl_buf *why) {
  size_t n = (size_t)luaL_len(L, -1);
  ctx->items = calloc(n + 1, sizeof *ctx->items);
  int lost = !ctx->items;
  for (size_t i = 0; i < n && !lost; i++) {
    lua_geti(L, -1, (lua_Integer)i + 1);
    int t = lua_gettop(L);
    case_item *it = &ctx->items[ctx->nitems++];
    it->source = opt_string(L, t, "source", &lost);
    lua_getfield(L, t, "json");
    size_t len;
    const char *json = lua_tolstring(L, -1, &len);
    it->rec.json = json ? malloc(len + 1) : NULL;
    if (it->rec.json) memcpy(it->rec.json, json, len + 1);
    else lost |= json != NULL;
    it->rec.len = len;
    lua_pop(L, 1);
    if (lua_getfield(L, t, "meta") == LUA_TTABLE) {
      int m = lua_gettop(L);
      it->rec.department = opt_string(L, m, "department", &lost);
      it->rec.feed = opt_string(L, m, "feed", &lost);
      it->rec.key = opt_string(L, m, "key", &lost);
      it->rec.id = opt_string(L, m, "id", &lost);
      char *time = opt_string(L, m, "time", &lost);
      if (time && sl_parse_time_ms(time, strlen(time), &it->rec.time_ms)) {
        sl_buf_printf(why, "input record %zu: _meta.time: expected an RFC 3339 time, got \"%s\"", i + 1, time);
        free(time);
        return SL_EOPTION;
      }
      free(time);
    }
    lua_settop(L, t - 1);
  }
  /* An input left out, or without its metadata, would test something else. */
  if (!lost) return 0;
  sl_buf_puts(why, "the case's input: out of memory");
  return SL_ENOMEM;
}

/* ---- the hooks the run calls ---- */

static void list_names(sl_buf *b, sl_stage **st, int n) {
  for (int i = 0; i < n; i++) sl_buf_printf(b, "%s%s", i ? ", " : "", st[i]->name);
  if (!n) sl_buf_puts(b, "none");
}

/* The place of the step named name, or -1 with the reason in err. */
static int step_named(sl_pipeline *p, const char *what, const char *name, sl_buf *err) {
  for (int i = 0; i < p->nsteps; i++)
    if (strcmp(p->steps[i]->name, name) == 0) return i;
  sl_buf_printf(err, "%s: the pipeline has no step named '%s' (steps: ", what, name);
  list_names(err, p->steps, p->nsteps);
  sl_buf_puts(err, "; a step without a name option is called <plugin>.<place>, a function step.<place>)");
  return -1;
}

/* Only the steps from `at` to `to` run.  With `to`, the first sink takes
 * every record that step puts out: its `where` and per-record options
 * (which may need what later steps add) are left out. */
static int keep_steps(sl_pipeline *p, case_ctx *ctx, sl_buf *err) {
  int first = ctx->at ? step_named(p, "at", ctx->at, err) : 0;
  int last = ctx->to ? step_named(p, "to", ctx->to, err) : p->nsteps - 1;
  if (first < 0 || last < 0) return SL_EOPTION;
  if (last < first) {
    sl_buf_printf(err, "to: step '%s' comes before step '%s' (at)", ctx->to, ctx->at);
    return SL_EOPTION;
  }
  if (ctx->to) {
    p->sinks[0]->has_where = 0;
    p->sinks[0]->nattrs = 0;
  }
  return sl__pipeline_keep_steps(p, first, last, err);
}

static int place_inputs(sl_pipeline *p, case_ctx *ctx, sl_buf *err) {
  ctx->inputs = calloc((size_t)p->nsources + 1, sizeof *ctx->inputs);
  if (!ctx->inputs) return SL_ENOMEM;
  ctx->ninputs = p->nsources;
  for (size_t i = 0; i < ctx->nitems; i++) {
    case_item *it = &ctx->items[i];
    int k = it->source ? -1 : 0;
    for (int j = 0; j < p->nsources && k < 0; j++)
      if (strcmp(p->sources[j]->name, it->source) == 0) k = j;
    if (k < 0 || !p->nsources) {
      sl_buf_printf(err, "input: the pipeline has no source named '%s' (sources: ", it->source ? it->source : "?");
      list_names(err, p->sources, p->nsources);
      sl_buf_puts(err, ")");
      return SL_EOPTION;
    }
    sl_test_input *in = &ctx->inputs[k];
    if (in->n == in->cap) {
      size_t cap = in->cap ? in->cap * 2 : 16;
      sl_test_rec *r = realloc(in->recs, cap * sizeof *r);
      if (!r) return SL_ENOMEM;
      in->recs = r;
      in->cap = cap;
    }
    in->recs[in->n++] = it->rec;   /* the input owns it from here */
    memset(&it->rec, 0, sizeof it->rec);
  }
  return 0;
}

static int on_loaded(sl_pipeline *p, void *ud, sl_buf *err) {
  case_ctx *ctx = ud;
  int rc = keep_steps(p, ctx, err);
  if (!rc) rc = place_inputs(p, ctx, err);
  if (rc) return rc;
  ctx->outputs = calloc((size_t)p->nsinks + 1, sizeof *ctx->outputs);
  if (!ctx->outputs) return SL_ENOMEM;
  ctx->noutputs = p->nsinks;
  for (int i = 0; i < p->nsinks && !rc; i++) {
    ctx->outputs[i].name = strdup(p->sinks[i]->name);
    rc = ctx->outputs[i].name ? sl__test_sink_swap(p->sinks[i], &ctx->outputs[i]) : SL_ENOMEM;
  }
  for (int i = 0; i < p->nsources && !rc; i++) rc = sl__test_source_swap(p->sources[i], &ctx->inputs[i]);
  if (rc) sl_buf_puts(err, "out of memory");
  return rc;
}

static void on_ran(sl_pipeline *p, void *ud) {
  case_ctx *ctx = ud;
  ctx->dropped = p->records_dropped;
  ctx->interrupted = p->signals > 0;
}

static void ctx_free(case_ctx *ctx) {
  for (size_t i = 0; i < ctx->nitems; i++) {
    free(ctx->items[i].source);
    sl__test_rec_free(&ctx->items[i].rec);
  }
  free(ctx->items);
  for (int i = 0; i < ctx->ninputs; i++) sl__test_input_free(&ctx->inputs[i]);
  free(ctx->inputs);
  for (int i = 0; i < ctx->noutputs; i++) sl__test_output_free(&ctx->outputs[i]);
  free(ctx->outputs);
}

/* ---- what came out, back to Lua ---- */

static void push_strings(lua_State *L, sl_buf *list, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushlstring(L, list[i].ptr ? list[i].ptr : "", list[i].len);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* { output = {sink = {json}}, attrs = {sink = {json}}, dead = {json},
 * dropped = n } [-0,+1] */
static void push_raw(lua_State *L, case_ctx *ctx) {
  lua_createtable(L, 0, 4);
  lua_newtable(L);
  lua_newtable(L);
  for (int i = 0; i < ctx->noutputs - 1; i++) {
    sl_test_output *o = &ctx->outputs[i];
    /* With `to`, the first sink holds what that step put out. */
    const char *name = ctx->to && i == 0 ? ctx->to : o->name;
    push_strings(L, o->recs, o->n);
    lua_setfield(L, -3, name);
    push_strings(L, o->attrs, o->n);
    lua_setfield(L, -2, name);
    if (ctx->to) break;
  }
  lua_setfield(L, -3, "attrs");
  lua_setfield(L, -2, "output");
  sl_test_output *dlq = &ctx->outputs[ctx->noutputs - 1];
  push_strings(L, dlq->recs, dlq->n);
  lua_setfield(L, -2, "dead");
  lua_pushinteger(L, (lua_Integer)ctx->dropped);
  lua_setfield(L, -2, "dropped");
}

/* The sink names, the dead-letter sink aside. [-0,+1] */
static void push_sink_names(lua_State *L, case_ctx *ctx) {
  lua_createtable(L, ctx->noutputs, 0);
  for (int i = 0; i < ctx->noutputs - 1; i++) {
    lua_pushstring(L, ctx->to ? ctx->to : ctx->outputs[i].name);
    lua_rawseti(L, -2, i + 1);
    if (ctx->to) break;
  }
}

/* test.<fn>(args...) with nargs arguments on the stack: leaves nres
 * results, or returns SL_ELUA with the message in why. */
static int call_test(sl_lua *s, int test_idx, const char *fn, int nargs, int nres, sl_buf *why) {
  lua_State *L = sl_lua_state(s);
  lua_getfield(L, test_idx, fn);
  lua_insert(L, -nargs - 1);
  sl_buf err = SL_BUF_INIT;
  int rc = sl_lua_pcall(s, nargs, nres, &err, NULL);
  if (rc) sl_buf_append(why, err.ptr, err.len);
  sl_buf_free(&err);
  return rc;
}

/* ---- the environment and the clock of a case ---- */

typedef struct saved_env {
  char *name, *value;         /* value NULL: was unset */
} saved_env;

/* Sets the variables of the table at t (if one), saving what they were:
 * 0, or SL_ENOMEM with the variables set so far saved (a case run without
 * its environment would test something else). */
static int set_env(lua_State *L, int t, saved_env **saved, size_t *n) {
  if (!lua_istable(L, t)) return 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
      saved_env *g = realloc(*saved, (*n + 1) * sizeof *g);
      if (!g) goto oom;
      *saved = g;
      const char *name = lua_tostring(L, -2), *old = getenv(name);
      g[*n].name = strdup(name);
      g[*n].value = old ? strdup(old) : NULL;
      if (!g[*n].name || (old && !g[*n].value)) {
        free(g[*n].name);
        free(g[*n].value);
        goto oom;
      }
      (*n)++;
      if (setenv(name, lua_tostring(L, -1), 1)) goto oom;
    }
    lua_pop(L, 1);
  }
  return 0;

oom:
  lua_pop(L, 2);
  return SL_ENOMEM;
}

static void restore_env(saved_env *saved, size_t n) {
  while (n--) {
    if (saved[n].value) setenv(saved[n].name, saved[n].value, 1);
    else unsetenv(saved[n].name);
    free(saved[n].name);
    free(saved[n].value);
  }
  free(saved);
}

/* The case's `now`, else the suite's, into *ms (INT64_MIN: neither).
 * -1 with the reason in why when it is not an RFC 3339 time. */
static int case_now(lua_State *L, int suite_idx, int case_idx, int64_t *ms, sl_buf *why) {
  lua_getfield(L, case_idx, "now");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, suite_idx, "now");
  }
  *ms = INT64_MIN;
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  int rc = s && sl_parse_time_ms(s, n, ms) ? -1 : 0;
  if (rc) sl_buf_printf(why, "now: expected an RFC 3339 time such as \"2026-05-01T00:00:00Z\", got \"%s\"", s);
  lua_pop(L, 1);
  return rc;
}

/* ---- the case ---- */

static int run_pipeline(case_ctx *ctx, const char *pipeline, sl_test_opts *o, sl_buf *why) {
  static unsigned runs;
  sl_buf root = SL_BUF_INIT;
  sl_buf_printf(&root, "%s/%u", o->state_root, ++runs);
  sl_run_hooks hooks = {.ud = ctx, .loaded = on_loaded, .ran = on_ran};
  sl_buf err = SL_BUF_INIT;
  sl_run_opts ro = {.file = pipeline, .state_root = root.ptr, .workers = o->workers ? o->workers : 1,
                    .err_out = &err, .hooks = &hooks};
  int code = sl_pipeline_main(&ro);
  if (ctx->interrupted) {
    /* The pipeline drained on SIGINT or SIGTERM: the runner stops too. */
    o->interrupted = 1;
    sl_buf_puts(why, "interrupted");
    code = -1;
  } else if (code && (err.len || err.oom)) sl_buf_printf(why, "the pipeline did not run: %s", sl_buf_text(&err));
  else if (code) sl_buf_printf(why, "the pipeline stopped with exit code %d (see its log above)", code);
  else if (!ctx->outputs) sl_buf_puts(why, "the pipeline did not run");
  sl_buf_free(&err);
  sl_buf_free(&root);
  return code || !ctx->outputs ? -1 : 0;
}

static int push_raw_lua(lua_State *L) {
  push_raw(L, lua_touserdata(L, 1));
  return 1;
}

static int push_sink_names_lua(lua_State *L) {
  push_sink_names(L, lua_touserdata(L, 1));
  return 1;
}

/* Pushes what f(L) with ctx pushes, made in a protected call (the tables
 * allocate): 0, or SL_ELUA with the reason in why. [-0,+1|0] */
static int push_protected(sl_lua *runner, lua_CFunction f, case_ctx *ctx, sl_buf *why) {
  lua_State *L = sl_lua_state(runner);
  if (!lua_checkstack(L, 2)) {
    sl_buf_puts(why, "stack overflow");
    return SL_ELUA;
  }
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, ctx);
  return sl_lua_pcall(runner, 1, 1, why, NULL);
}

/* What came out of the run against the case's expect and check
 * (test.result, then test.compare). */
static sl_test_verdict judge(sl_lua *runner, int test_idx, int case_idx, case_ctx *ctx, sl_buf *why) {
  lua_State *L = sl_lua_state(runner);
  if (push_protected(runner, push_raw_lua, ctx, why)) return SL_TEST_FAIL;
  if (call_test(runner, test_idx, "result", 1, 1, why)) return SL_TEST_FAIL;
  lua_pushvalue(L, case_idx);
  lua_insert(L, -2);
  if (push_protected(runner, push_sink_names_lua, ctx, why)) return SL_TEST_FAIL;
  if (call_test(runner, test_idx, "compare", 3, 1, why)) return SL_TEST_FAIL;
  if (!lua_isstring(L, -1)) return SL_TEST_PASS;
  sl_buf_puts(why, lua_tostring(L, -1));
  return SL_TEST_FAIL;
}

sl_test_verdict sl__test_case_run(sl_lua *runner, int suite_idx, int test_idx, int i,
                                  const char *pipeline, sl_test_opts *o, sl_buf *why) {
  lua_State *L = sl_lua_state(runner);
  int top = lua_gettop(L);
  lua_getfield(L, suite_idx, "cases");
  lua_geti(L, -1, i);
  int case_idx = lua_gettop(L);
  lua_getfield(L, case_idx, "skip");
  if (lua_toboolean(L, -1)) {
    sl_buf_puts(why, lua_isstring(L, -1) ? lua_tostring(L, -1) : "skipped");
    lua_settop(L, top);
    return SL_TEST_SKIP;
  }
  lua_pop(L, 1);
  case_ctx ctx = {0};
  sl_test_verdict v = SL_TEST_FAIL;
  saved_env *saved = NULL;
  size_t nsaved = 0;
  lua_getfield(L, case_idx, "at");
  lua_getfield(L, case_idx, "to");
  char *at = lua_isstring(L, -2) ? strdup(lua_tostring(L, -2)) : NULL;
  char *to = lua_isstring(L, -1) ? strdup(lua_tostring(L, -1)) : NULL;
  int lost = (lua_isstring(L, -2) && !at) || (lua_isstring(L, -1) && !to);
  lua_pop(L, 2);
  ctx.at = at;
  ctx.to = to;
  if (lost) {
    sl_buf_puts(why, "out of memory");
    goto done;
  }
  int64_t now;
  lua_pushvalue(L, case_idx);
  if (call_test(runner, test_idx, "inputs", 1, 1, why) || take_items(L, &ctx, why) ||
      case_now(L, suite_idx, case_idx, &now, why))
    goto done;
  lua_getfield(L, suite_idx, "env");
  int rc = set_env(L, lua_gettop(L), &saved, &nsaved);
  lua_getfield(L, case_idx, "env");
  if (!rc) rc = set_env(L, lua_gettop(L), &saved, &nsaved);
  if (rc) sl_buf_puts(why, "env: out of memory");
  sl__clock_fix(now);
  int ran = rc ? 1 : run_pipeline(&ctx, pipeline, o, why);
  sl__clock_fix(INT64_MIN);
  restore_env(saved, nsaved);
  if (!ran) v = judge(runner, test_idx, case_idx, &ctx, why);
done:
  free(at);
  free(to);
  ctx_free(&ctx);
  lua_settop(L, top);
  return v;
}
