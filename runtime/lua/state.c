/* Making and freeing the bare state: the sl_lua struct, the counting
 * allocator that enforces the memory budget, the panic handler, and the
 * owner kept in the state's extra space.
 *
 * Nothing here opens a library or runs Lua: sandbox.c, above this file,
 * opens what a script gets and registers the state with the watchdog;
 * sl_lua_free takes it off the watchdog's list again (budget.c, below). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/sl_lua_int.h"

/* ---- the allocator ---- */

/* A lua_Alloc that counts and refuses growth past the budget.  Lua runs a
 * full collection and retries once when an allocation fails, then raises a
 * memory error.  Shrinking and freeing are never refused: Lua assumes they
 * cannot fail. */
static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sl_lua *s = ud;
  /* With ptr NULL, osize is the type of the new object, not a size. */
  if (!ptr) osize = 0;
  size_t used = atomic_load_explicit(&s->mem_used, memory_order_relaxed);
  if (nsize == 0) {
    free(ptr);
    atomic_store_explicit(&s->mem_used, used - osize, memory_order_relaxed);
    return NULL;
  }
  if (nsize > osize && s->mem_limit &&
      (used > s->mem_limit || nsize - osize > s->mem_limit - used)) {
    s->mem_refused = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) {
    if (nsize > osize) return NULL;
    /* A shrink that realloc could not do leaves the block big enough; Lua
     * counts it as nsize from now on, and so do we. */
    p = ptr;
  }
  atomic_store_explicit(&s->mem_used, used - osize + nsize, memory_order_relaxed);
  return p;
}

/* An error outside any protected call is a bug in the runtime (everything
 * that can raise runs under sl_lua_pcall), so there is nothing to recover. */
static int panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "sluice: unprotected Lua error: %s\n", msg ? msg : "(not a string)");
  fflush(stderr);
  abort();
  return 0;
}

/* ---- the state ---- */

static void free_search_path(char **p) {
  if (!p) return;
  for (char **d = p; *d; d++) free(*d);
  free(p);
}

static char **copy_search_path(const char *const *src) {
  size_t n = 0;
  while (src && src[n]) n++;
  char **p = calloc(n + 1, sizeof *p);
  if (!p) return NULL;
  for (size_t i = 0; i < n; i++) {
    /* A trailing slash would give "dir//a.lua" in messages. */
    size_t len = strlen(src[i]);
    while (len > 1 && src[i][len - 1] == '/') len--;
    p[i] = strndup(src[i], len);
    if (!p[i]) {
      free_search_path(p);
      return NULL;
    }
  }
  return p;
}

sl_lua *sl__lua_state_new(const sl_lua_limits *limits, const sl_lua_grants *grants,
                          const char *const *search_path) {
  sl_lua *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (limits) {
    s->mem_limit = limits->memory_bytes;
    s->call_ms = limits->call_ms;
  }
  if (grants) s->grants = *grants;
  s->msgh_len = -1;
  sl_arena_init(&s->scratch);
  if (pthread_mutex_init(&s->run_mu, NULL) != 0) {
    free(s);
    return NULL;
  }
  s->search_path = copy_search_path(search_path);
  if (!s->search_path) goto fail;
  s->L = lua_newstate(budget_alloc, s);
  if (!s->L) goto fail;
  s->running = s->L;
  *(sl_lua **)lua_getextraspace(s->L) = s;
  lua_atpanic(s->L, panic);
  return s;

fail:
  free_search_path(s->search_path);
  pthread_mutex_destroy(&s->run_mu);
  free(s);
  return NULL;
}

void sl_lua_free(sl_lua *s) {
  if (!s) return;
  /* Off the watchdog's list first: after this it never touches s->L. */
  if (s->wd_registered) sl__budget_unregister(s);
  lua_close(s->L);
  free_search_path(s->search_path);
  sl_arena_free(&s->scratch);
  sl_buf_free(&s->tmp);
  pthread_mutex_destroy(&s->run_mu);
  free(s);
}

lua_State *sl_lua_state(sl_lua *s) { return s->L; }

sl_lua *sl_lua_from(lua_State *L) { return sl__lua_from(L); }

size_t sl_lua_memory(sl_lua *s) {
  return atomic_load_explicit(&s->mem_used, memory_order_relaxed);
}
