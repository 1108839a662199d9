/* Stages: what a plugin may ask of its stage, its pipeline and a step's
 * output (the accessors behind sluice/plugin.h), in one place.  The
 * functions that move records (sl_source_emit, sl_sink_done...) belong to
 * the flow (flow.c), the state files' to state.c, metrics to metrics.c. */
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
