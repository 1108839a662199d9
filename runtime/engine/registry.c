/* The plugins built into sluice, and the options every stage takes.  Which
 * plugins there are is decided at configure time (plugins/<name>/CMakeLists.txt,
 * one sluice_plugin() call each): the generated plugins_builtin.c holds the
 * tables and the sluice binary passes them to sl__registry_init. */
#include <string.h>

#include "engine/engine.h"

/* Empty until the binary hands over its tables: the runtime library knows
 * no plugin by name, so it links none of their libraries. */
static const sl_plugin *const no_plugins[] = {NULL};
static const sl_lua_lib *const no_libs[] = {NULL};
static const sl_plugin *const *builtin = no_plugins;
static const sl_lua_lib *const *libs = no_libs;

void sl__registry_init(const sl_plugin *const *plugins, const sl_lua_lib *const *lua_libs) {
  builtin = plugins ? plugins : no_plugins;
  libs = lua_libs ? lua_libs : no_libs;
}

const sl_plugin *const *sl_registry_all(void) { return builtin; }

const sl_lua_lib *const *sl_registry_libs(void) { return libs; }

const sl_plugin *sl_registry_find(const char *name) {
  for (const sl_plugin *const *p = builtin; *p; p++)
    if (!((*p)->caps & SL_CAN_HOST_LUA) && strcmp((*p)->name, name) == 0) return *p;
  return NULL;
}

const sl_plugin *sl_registry_lua_host(sl_plugin_kind kind) {
  for (const sl_plugin *const *p = builtin; *p; p++)
    if ((*p)->kind == kind && ((*p)->caps & SL_CAN_HOST_LUA)) return *p;
  return NULL;
}

static const sl_option common_source[] = {
    {"name", SL_OPT_STR, NULL, 0, 0, "Stage name in logs, metrics and the state folder.", NULL},
    {"department", SL_OPT_STR, NULL, 0, 0, "The department of records that do not say (no ce_source).", NULL},
    {"feed", SL_OPT_STR, NULL, 0, 0, "The feed of records that do not say (no ce_type).", NULL},
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
