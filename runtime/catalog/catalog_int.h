/* The catalog inside the runtime: the constructors' registration and the
 * names both halves (catalog_lua.c, catalog.c) read. */
#ifndef SLUICE_CATALOG_INT_H
#define SLUICE_CATALOG_INT_H

#include <lua.h>

#include "sluice/buf.h"
#include "sluice/plugin.h"

#include "sluice/catalog.h"

/* Adds sl.feed, sl.department and sl.catalog to the sluice module at m. */
void sl__catalog_open(lua_State *L, int m);
/* Replaces the catalog at the top of the stack with the pipeline that
 * `sluice check` checks it with: the steps that read a catalog (sl.clean
 * and sl.quality, when built in) given it, so that their checks (rule
 * names, schedules) run as for a pipeline.  0, or an error in err with
 * the stack as it was. */
int sl__catalog_check_pipeline(lua_State *L, sl_buf *err);
/* Registry key of what `sluice check` says of a catalog it passed:
 * "catalog with 6 departments and 14 feeds". */
#define SL_CATALOG_SUMMARY_KEY "sluice.catalog_summary"
/* The options of sl.catalog ('c'), sl.department ('d'), sl.feed ('f'). */
const sl_option *sl__catalog_options(char which);
/* The dimension named s, or -1. */
int sl__dimension_of(const char *s);
/* The field type named s, or -1. */
int sl__field_type_of(const char *s);

#endif
