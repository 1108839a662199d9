/* The values read with sl.env, and cutting them out of text.  A pipeline
 * reads a handful: a linear scan per message is cheap next to writing a log
 * line. */
#include "core/secrets.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct secret {
  char *name;                 /* NULL: shown as *** */
  char *value;
  size_t len;
} secret;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static secret *g_secrets;
static int g_cap;
static atomic_int g_count;

/* A name that can be shown as is: an environment variable's usual letters. */
static int plain_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return 0;
  return 1;
}

void sl__secret_add(const char *name, const char *value) {
  size_t len = value ? strlen(value) : 0;
  if (len < SL_SECRET_MIN) return;
  pthread_mutex_lock(&g_mu);
  int n = atomic_load(&g_count);
  for (int i = 0; i < n; i++)
    if (g_secrets[i].len == len && memcmp(g_secrets[i].value, value, len) == 0) goto done;
  if (n == g_cap) {
    int cap = g_cap ? 2 * g_cap : 16;
    secret *grown = realloc(g_secrets, (size_t)cap * sizeof *grown);
    if (!grown) goto done;
    g_secrets = grown;
    g_cap = cap;
  }
  secret s = {.name = plain_name(name) ? strdup(name) : NULL, .value = strdup(value), .len = len};
  if (!s.value) {
    free(s.name);
    goto done;
  }
  /* Longest first, so that a value inside another is not cut out first. */
  int at = n;
  while (at > 0 && g_secrets[at - 1].len < len) {
    g_secrets[at] = g_secrets[at - 1];
    at--;
  }
  g_secrets[at] = s;
  atomic_store(&g_count, n + 1);
done:
  pthread_mutex_unlock(&g_mu);
}

static int word(char c) { return isalnum((unsigned char)c); }

/* Whether s at i holds secret v as a whole (not in the middle of a word). */
static int match(const char *s, size_t n, size_t i, const secret *v) {
  if (i + v->len > n || memcmp(s + i, v->value, v->len) != 0) return 0;
  if (i > 0 && word(v->value[0]) && word(s[i - 1])) return 0;
  if (i + v->len < n && word(v->value[v->len - 1]) && word(s[i + v->len])) return 0;
  return 1;
}

int sl__secret_redact(sl_buf *out, const char *s, size_t n) {
  if (!atomic_load(&g_count)) {
    sl_buf_append(out, s, n);
    return 0;
  }
  int hits = 0;
  pthread_mutex_lock(&g_mu);
  int count = atomic_load(&g_count);
  size_t i = 0, plain = 0;
  while (i < n) {
    const secret *hit = NULL;
    for (int k = 0; k < count && !hit; k++)
      if (match(s, n, i, &g_secrets[k])) hit = &g_secrets[k];
    if (!hit) {
      i++;
      continue;
    }
    sl_buf_append(out, s + plain, i - plain);
    if (hit->name) sl_buf_printf(out, "<from env %s>", hit->name);
    else sl_buf_puts(out, "***");
    i += hit->len;
    plain = i;
    hits++;
  }
  sl_buf_append(out, s + plain, n - plain);
  pthread_mutex_unlock(&g_mu);
  return hits;
}
