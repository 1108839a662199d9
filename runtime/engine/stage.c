/* Stages: what a plugin may ask of its stage, its pipeline and a step's
 * output (the accessors behind sluice/plugin.h), in one place.  The
 * functions that move records (sl_source_emit, sl_sink_done...) belong to
 * the flow (flow.c), the state files' to state.c, metrics to metrics.c. */
#include <lauxlib.h>
#include <stdlib.h>

#include "engine/stage.h"

/* ---- stages and their pipeline ---- */

const char *sl_stage_name(const sl_stage *st) { return st->name; }
const char *sl_pipeline_name(const sl_pipeline *p) { return p->name; }
int sl_pipeline_exactly_once(const sl_pipeline *p) { return p->set.exactly_once; }
uint64_t sl_pipeline_max_inflight_records(const sl_pipeline *p) { return p->set.max_inflight_records; }
void *sl_stage_config(sl_stage *st) { return st->config; }
void *sl_stage_priv(sl_stage *st) { return st->priv; }
uv_loop_t *sl_stage_loop(sl_stage *st) { return st->p->loop; }
sl_pipeline *sl_stage_pipeline(sl_stage *st) { return st->p; }
const char *sl_stage_where(const sl_stage *st) { return st->where; }
const sl_plugin *sl_stage_plugin(const sl_stage *st) { return st->plugin; }
int sl_stage_is_dlq(const sl_stage *st) { return st->is_dlq; }
uint32_t sl_stage_batch_size(const sl_stage *st) { return st->p->set.batch_size; }
struct lua_State *sl_stage_lua(sl_stage *st) { return sl_lua_state(st->p->cfg); }
void sl_stage_push_descriptor(sl_stage *st) {
  lua_rawgeti(sl_lua_state(st->p->cfg), LUA_REGISTRYINDEX, st->desc_ref);
}

/* Set by the flow (pause_sources, sl__flow_drain). */
int sl_source_paused(const sl_stage *source) { return source->paused || source->stopping; }

void sl_sink_set_codec(sl_stage *st, const sl_codec *codec, void *codec_ctx) {
  st->codec = codec;
  st->codec_ctx = codec_ctx;
}

/* ---- a step's output ---- */

const char *sl_step_stage_name(sl_step_out *out) { return out->stage->name; }
sl_arena *sl_step_arena(sl_step_out *out) { return &out->batch->arena; }
int sl_step_emit(sl_step_out *out, sl_record *rec) { return out->emit(out, rec); }

void sl_step_fail(sl_step_out *out, sl_record *rec, const char *reason) {
  sl_record_fail(rec, &out->batch->arena, out->stage->name, reason);
}

sl_stage *sl_step_source(sl_step_out *out) { return out->batch->source; }

uint64_t sl__step_records_bound(const sl_pipeline *p) {
  size_t budget = p->set.limits.memory_bytes;
  return budget ? budget / (2 * sizeof(sl_record *)) : UINT64_MAX;
}

/* ---- stateful steps ---- */

void sl_stateful_tick(sl_stage *st, int64_t interval_ms) {
  st->tick_ms = interval_ms > 0 ? interval_ms : 0;
}

/* ---- Lua states of their own ---- */

/* The address of this is the registry key of the config context of a state
 * made here, freed with the state: a light userdata key, so reading it
 * (while freeing) allocates nothing. */
static const char own_ctx_key;

static int keep_ctx(lua_State *L) {
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &own_ctx_key);
  return 0;
}

int sl__pipeline_lua_new(sl_pipeline *p, sl_lua **out, sl_buf *err) {
  /* The file's top level runs under the same load budget as in the loop
   * thread's state (at least 10 s), the steps under call_ms. */
  sl_lua_limits lim = p->set.limits;
  if (lim.call_ms < SL_LOAD_MS) lim.call_ms = SL_LOAD_MS;
  sl_lua *s = *out = sl_lua_new(&lim, &p->set.grants, p->search_path);
  if (!s) {
    sl_buf_puts(err, "out of memory creating a Lua state");
    return SL_ENOMEM;
  }
  lua_State *L = sl_lua_state(s);
  sl_config_ctx *ctx = malloc(sizeof *ctx);
  if (!ctx) {
    sl_buf_puts(err, "out of memory creating a Lua state");
    return SL_ENOMEM;
  }
  ctx->pipeline_dir = p->dir;
  ctx->search_path = p->search_path;
  /* The context must outlive the state: it is freed with it. */
  if (sl_lua_cpcall(s, keep_ctx, ctx, 0, err)) {
    free(ctx);
    return SL_ENOMEM;
  }
  if (sl_config_open(L, ctx, err) || sl_config_load(s, p->file, &p->text, err)) return SL_ELUA;
  if (sl_lua_set_call_ms(s, p->set.limits.call_ms)) return SL_ENOMEM;
  return 0;
}

void sl__pipeline_lua_free(sl_lua *s) {
  if (!s) return;
  lua_State *L = sl_lua_state(s);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &own_ctx_key);
  void *ctx = lua_touserdata(L, -1);
  lua_pop(L, 1);
  sl_lua_free(s);
  free(ctx);
}

struct lua_State *sl_stage_lua_new(sl_stage *st, sl_buf *err) {
  sl_lua *s = NULL;
  if (sl__pipeline_lua_new(st->p, &s, err)) {
    sl__pipeline_lua_free(s);
    return NULL;
  }
  lua_State *L = sl_lua_state(s);
  /* The descriptor of the stage, where the loop thread's state has it. */
  static const char *const lists[] = {[SL_SOURCE] = "sources", [SL_STEP] = "steps", [SL_SINK] = "sinks"};
  if (st->is_dlq) lua_getfield(L, -1, "dlq");
  else {
    lua_getfield(L, -1, lists[st->kind]);
    lua_geti(L, -1, st->index + 1);
    lua_remove(L, -2);
  }
  lua_remove(L, -2);
  return L;
}

void sl_stage_lua_free(struct lua_State *L) {
  if (L) sl__pipeline_lua_free(sl_lua_from(L));
}
