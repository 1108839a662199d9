/* The plugins built into sluice, and the options every stage takes. */
#include <string.h>

#include "engine/engine.h"

extern const sl_plugin file_source_plugin;
extern const sl_plugin file_sink_plugin;
extern const sl_plugin stdin_plugin;
extern const sl_plugin stdout_plugin;
extern const sl_plugin generate_plugin;
extern const sl_plugin null_plugin;
extern const sl_plugin clean_plugin;
extern const sl_plugin kafka_source_plugin;
extern const sl_plugin kafka_sink_plugin;
extern const sl_plugin pg_sink_plugin;
extern const sl_plugin pg_source_plugin;
extern const sl_plugin pg_cdc_plugin;

static const sl_plugin *const builtin[] = {
    &file_source_plugin, &file_sink_plugin, &stdin_plugin,        &stdout_plugin,
    &generate_plugin,    &null_plugin,      &kafka_source_plugin, &kafka_sink_plugin,
    &pg_sink_plugin,     &pg_source_plugin,   &pg_cdc_plugin,
    &clean_plugin,       NULL};

const sl_plugin *const *sl_registry_all(void) { return builtin; }

/* sl.clean.*: the cleansing primitives (plugins/clean/clean_lua.c). */
extern const sl_lua_lib clean_lua_lib;
static const sl_lua_lib *const libs[] = {&clean_lua_lib, NULL};

const sl_lua_lib *const *sl_registry_libs(void) { return libs; }

const sl_plugin *sl_registry_find(const char *name) {
  for (const sl_plugin *const *p = builtin; *p; p++)
    if (strcmp((*p)->name, name) == 0) return *p;
  return NULL;
}

static const sl_option common_source[] = {
    {"name", SL_OPT_STR, NULL, 0, 0, "Stage name in logs, metrics and the state folder.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option common_step[] = {
    {"name", SL_OPT_STR, NULL, 0, 0, "Stage name in logs, metrics and dead letters.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option common_sink[] = {
    {"name", SL_OPT_STR, NULL, 0, 0, "Stage name in logs, metrics and dead letters.", NULL},
    {"where", SL_OPT_LUA, NULL, 0, 0, "function(rec) -> boolean: only records it accepts reach this sink.", "function"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_option *sl_registry_common(sl_plugin_kind kind) {
  return kind == SL_SOURCE ? common_source : kind == SL_STEP ? common_step : common_sink;
}
