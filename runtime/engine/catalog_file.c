/* A catalog file read on its own (sl_catalog_load_file), for the commands
 * that need a feed's contract without a pipeline (`sluice publish`): the
 * file runs in a sandboxed state with require("sluice"), as a pipeline
 * that requires it would run it, and must return sl.catalog { ... }. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "lua/sl_lua.h"
#include "sluice/catalog.h"

int sl_catalog_load_file(const char *path, sl_catalog **out, sl_buf *err) {
  *out = NULL;
  char *copy = strdup(path);
  if (!copy) return SL_ENOMEM;
  const char *lua_dir = getenv("SLUICE_LUA_DIR");
  const char *sp[] = {dirname(copy), lua_dir && *lua_dir ? lua_dir : SLUICE_LUA_DIR, NULL};
  sl_lua_limits lim = {.memory_bytes = (size_t)256 << 20, .call_ms = SL_LOAD_MS};
  sl_lua_grants none = {0};
  sl_lua *s = sl_lua_new(&lim, &none, sp);
  int rc = SL_ENOMEM;
  if (!s) goto done;
  lua_State *L = sl_lua_state(s);
  sl_config_ctx ctx = {.pipeline_dir = sp[0], .search_path = sp, .check_only = 1};
  if ((rc = sl_config_open(L, &ctx, err)) || (rc = sl_lua_dofile(s, path, 1, err))) goto done;
  if (!sl_catalog_is(L, -1)) {
    sl_buf_printf(err, "%s: the file must return sl.catalog { ... } (docs/metrics.md)", path);
    rc = SL_EINVAL;
    goto done;
  }
  rc = sl_catalog_load(L, -1, out, err);
done:
  sl_lua_free(s);
  free(copy);
  return rc;
}
