/* Allocation failures on demand, for the fault build only (SLUICE_ALLOC_FAULTS,
 * on in build-asan/, never in a release or a package).
 *
 * The sluice binary is linked with -Wl,--wrap=malloc,... so every call that
 * sluice's own objects make (the runtime, the codecs, the Lua bridge and its
 * allocator, the built-in plugins) lands here first, while the libraries'
 * own calls (libuv, Lua's core outside our allocator, librdkafka, libpq) go
 * straight to the C library: what is counted is what sluice must handle.
 *
 * The countdown is SQLite's:
 *   SLUICE_FAIL_ALLOC=N       the N-th allocation fails, the others succeed
 *   SLUICE_FAIL_ALLOC=N+      every allocation from the N-th on fails
 *   SLUICE_FAIL_ALLOC_COUNT=1 at exit, print "sluice: allocations: COUNT"
 *                             on stderr, so a sweep knows how far to go
 * The first refusal prints "sluice: injected allocation failure N" on
 * stderr, so a sweep can tell a run that met its fault from one that ended
 * before the N-th allocation.  With neither variable set, each allocation
 * costs one predictable branch. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static int armed;            /* either variable set: count */
static long fail_at;         /* 0: never fail */
static int fail_after;       /* "N+": every one from fail_at on */
static atomic_long counted;
static atomic_int reported;

static void say(const char *what, long n) {
  char line[96];
  int len = snprintf(line, sizeof line, "sluice: %s %ld\n", what, n);
  if (len > 0 && write(2, line, (size_t)len) < 0) return;
}

static void print_count(void) {
  say("allocations:", atomic_load(&counted));
}

__attribute__((constructor)) static void read_env(void) {
  const char *f = getenv("SLUICE_FAIL_ALLOC");
  if (f && *f) {
    char *end;
    fail_at = strtol(f, &end, 10);
    fail_after = *end == '+';
    armed = 1;
  }
  const char *c = getenv("SLUICE_FAIL_ALLOC_COUNT");
  if (c && strcmp(c, "1") == 0) {
    armed = 1;
    atexit(print_count);
  }
}

/* Whether this allocation is the one (or one of those) to refuse. */
static int refuse(void) {
  if (__builtin_expect(!armed, 1)) return 0;
  long n = atomic_fetch_add(&counted, 1) + 1;
  if (fail_at <= 0 || n < fail_at || (n > fail_at && !fail_after)) return 0;
  if (atomic_exchange(&reported, 1) == 0) say("injected allocation failure", n);
  return 1;
}

void *__wrap_malloc(size_t n) {
  return refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n) {
  return refuse() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n) {
  /* realloc(p, 0) frees; refusing it would only leak. */
  if (p && n == 0) return __real_realloc(p, n);
  return refuse() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
  return refuse() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n) {
  return refuse() ? NULL : __real_strndup(s, n);
}
