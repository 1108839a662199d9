/* Stages and their pipeline: what every plugin asks of the stage it runs as.
 *
 * A stage is one source, step or sink of a running pipeline: the plugin
 * that implements it, its options as the pipeline file gave them (filled
 * into the plugin's config struct) and the private state the runtime
 * allocated for it.  Every function here may be called from the stage's
 * callbacks; those that name the loop or its Lua state, from the loop
 * thread only. */
#ifndef SLUICE_STAGE_H
#define SLUICE_STAGE_H

#include <stdint.h>
#include <uv.h>

#include "sluice/buf.h"

typedef struct sl_stage sl_stage;
typedef struct sl_pipeline sl_pipeline;
typedef struct sl_plugin sl_plugin;
struct lua_State;

const char *sl_stage_name(const sl_stage *st);
/* "pipeline.lua:12" where the stage was declared. */
const char *sl_stage_where(const sl_stage *st);
const sl_plugin *sl_stage_plugin(const sl_stage *st);
/* The plugin's config struct, filled from the options (config_size bytes). */
void *sl_stage_config(sl_stage *st);
/* The plugin's private state, zeroed before init (priv_size bytes). */
void *sl_stage_priv(sl_stage *st);
uv_loop_t *sl_stage_loop(sl_stage *st);
/* The loop thread's Lua state, where SL_OPT_LUA options live (see
 * sluice/lua.h for calling into it). */
struct lua_State *sl_stage_lua(sl_stage *st);
/* Pushes onto sl_stage_lua(st) the table the stage's constructor returned
 * in the pipeline file: { kind = "source" | "step" | "sink", plugin = name,
 * options = { as written }, where = "file:line", def = the definition of a
 * stage a Lua plugin file defines (sl.plugin.source { ... }), else nil }.
 * [-0,+1,-] */
void sl_stage_push_descriptor(sl_stage *st);
/* A Lua state of the stage's own, for a stage that runs Lua off the loop
 * thread (a stateful step on its lane): made as a worker's (sandboxed
 * under the pipeline's limits and grants, the pipeline file evaluated in
 * it, call_ms for every call after that), with the stage's descriptor as
 * evaluated there on its stack (what sl_stage_push_descriptor pushes on
 * the loop thread's state).  From init, on the loop thread; after that the
 * state is the caller's alone, used by one thread at a time.  NULL with
 * the reason in err.  Call Lua in it only through sl_lua_pcall
 * (sluice/lua.h; sl_lua_from gives the sl_lua of the state). */
struct lua_State *sl_stage_lua_new(sl_stage *st, sl_buf *err);
/* Frees a state sl_stage_lua_new made (NULL: nothing). */
void sl_stage_lua_free(struct lua_State *L);
/* Records per batch the pipeline asks for (batch_size). */
uint32_t sl_stage_batch_size(const sl_stage *st);
/* Whether the stage is the pipeline's dead-letter sink (a sink that writes
 * dead letters may add the reason to its own format, e.g. Kafka headers). */
int sl_stage_is_dlq(const sl_stage *st);
/* Logs the error and stops the pipeline as on SIGTERM; the exit code becomes 1. */
void sl_stage_fatal(sl_stage *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

sl_pipeline *sl_stage_pipeline(sl_stage *st);
/* The pipeline's name (its `name` option, else the file name without .lua):
 * what a sink that stores checkpoints with its data keys them by, with the
 * source's name. */
const char *sl_pipeline_name(const sl_pipeline *p);
/* Whether the pipeline says exactly_once = true (see SL_CAN_EXACTLY_ONCE). */
int sl_pipeline_exactly_once(const sl_pipeline *p);
/* Whether a source of the pipeline will resume from a checkpoint saved in
 * the state folder rather than read its input from the start (a source
 * --reset-checkpoint names reads from the start); its name in *source.
 * For a stage whose results need the whole input (final = true), from
 * init or restore.  A position a sink stores with the data is not seen
 * here. */
int sl_pipeline_resumes(sl_pipeline *p, const char **source);
/* The pipeline's max_inflight_records: sources pause past it. */
uint64_t sl_pipeline_max_inflight_records(const sl_pipeline *p);

#endif
