/* Where the shipped Lua library (lua/: sluice.*, plugins/) is found. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* <prefix>/share/sluice/lua when the binary runs from <prefix>/bin and the
 * library was installed beside it (cmake --install, the .deb). */
static int installed_dir(char *out, size_t n) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return 0;
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return 0;
  *slash = '\0';
  char probe[PATH_MAX + 64];
  int w = snprintf(probe, sizeof probe, "%s/../share/sluice/lua", exe);
  if (w < 0 || (size_t)w + sizeof "/sluice" > sizeof probe) return 0;
  memcpy(probe + w, "/sluice", sizeof "/sluice");
  if (!is_dir(probe)) return 0;
  probe[w] = '\0';                      /* the library folder, its sluice/ found */
  char *real = realpath(probe, NULL);
  if (!real) return 0;
  int ok = strlen(real) < n;
  if (ok) memcpy(out, real, strlen(real) + 1);
  free(real);
  return ok;
}

const char *sl__lua_dir(char *out, size_t n, const char **why) {
  const char *env = getenv("SLUICE_LUA_DIR");
  if (env && *env) {
    snprintf(out, n, "%s", env);
    if (why) *why = "$SLUICE_LUA_DIR";
  } else if (installed_dir(out, n)) {
    if (why) *why = "installed beside the binary";
  } else {
    snprintf(out, n, "%s", SLUICE_LUA_DIR);
    if (why) *why = "the source tree it was built from";
  }
  return out;
}
