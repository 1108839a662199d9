/* dedup: a stateful step (sluice/stateful.h) that passes the first record
 * of each key and drops every later one.  It runs on its own lane, so the
 * "first" is the first in its source's order whatever the number of
 * workers, and its set of keys needs no lock.
 *
 * Restart: restore reads the keys of the records already written
 * (restore_from, the JSON Lines file its sink appends to), so a record
 * replayed after a crash is dropped as seen rather than written twice:
 * the key is the record's identity. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/log.h"
#include "sluice/plugin.h"

typedef struct dedup_cfg {
  char *key;              /* the field whose value identifies a record */
  char *restore_from;     /* JSON Lines whose records' keys count as seen, or NULL */
} dedup_cfg;

/* An open-addressing set of keys (copies), grown at 1/2 full. */
typedef struct dedup_priv {
  char **slot;            /* the key, length-prefixed (size_t then the bytes) */
  size_t cap, n;
} dedup_priv;

static uint64_t hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;   /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

static int same(const char *slot, const char *p, size_t n) {
  size_t len;
  memcpy(&len, slot, sizeof len);
  return len == n && memcmp(slot + sizeof len, p, n) == 0;
}

static int grow(dedup_priv *d) {
  size_t cap = d->cap ? d->cap * 2 : 1024;
  char **slot = calloc(cap, sizeof *slot);
  if (!slot) return SL_ENOMEM;
  for (size_t i = 0; i < d->cap; i++) {
    if (!d->slot[i]) continue;
    size_t len;
    memcpy(&len, d->slot[i], sizeof len);
    size_t at = hash(d->slot[i] + sizeof len, len) & (cap - 1);
    while (slot[at]) at = (at + 1) & (cap - 1);
    slot[at] = d->slot[i];
  }
  free(d->slot);
  d->slot = slot;
  d->cap = cap;
  return 0;
}

/* Adds the key: 1 if it is new, 0 if it was there, SL_ENOMEM. */
static int add_key(dedup_priv *d, const char *p, size_t n) {
  if ((d->n + 1) * 2 > d->cap && grow(d)) return SL_ENOMEM;
  size_t at = hash(p, n) & (d->cap - 1);
  for (; d->slot[at]; at = (at + 1) & (d->cap - 1))
    if (same(d->slot[at], p, n)) return 0;
  char *k = malloc(sizeof n + n);
  if (!k) return SL_ENOMEM;
  memcpy(k, &n, sizeof n);
  memcpy(k + sizeof n, p, n);
  d->slot[at] = k;
  d->n++;
  return 1;
}

/* The key's text: a string as it is, any other value as JSON.  0, or -1
 * when the value is missing or null. */
static int key_text(sl_value *v, sl_arena *a, sl_buf *tmp, sl_str *out) {
  if (!v) return -1;
  sl_value val = *v;
  const char *why = NULL;
  if (val.type == SL_T_JSON && sl_json_materialize(&val, a, &why)) return -1;
  if (val.type == SL_T_NULL) return -1;
  if (val.type == SL_T_STRING) {
    *out = val.u.s;
    return 0;
  }
  tmp->len = 0;
  sl_json_encode_value(tmp, &val);
  if (tmp->oom) return -1;
  *out = (sl_str){tmp->ptr, tmp->len};
  return 0;
}

static int dedup_apply(sl_stage *st, sl_step_out *out, sl_record *rec) {
  dedup_cfg *cfg = sl_stage_config(st);
  dedup_priv *d = sl_stage_priv(st);
  sl_arena *a = sl_step_arena(out);
  sl_buf tmp = SL_BUF_INIT;
  sl_str k;
  int rc = key_text(sl_record_get(rec, cfg->key, strlen(cfg->key)), a, &tmp, &k);
  if (rc) {
    char why[256];
    snprintf(why, sizeof why, "no value for the key field '%s'", cfg->key);
    sl_step_fail(out, rec, why);
    sl_buf_free(&tmp);
    return SL_EINVAL;
  }
  rc = add_key(d, k.ptr, k.len);
  sl_buf_free(&tmp);
  if (rc < 0) {
    sl_step_fail(out, rec, "out of memory");
    return rc;
  }
  return rc ? SL_STEP_KEEP : SL_STEP_DROP;
}

/* Every record in restore_from counts as seen (a missing file: nothing is). */
static int dedup_restore(sl_stage *st) {
  dedup_cfg *cfg = sl_stage_config(st);
  dedup_priv *d = sl_stage_priv(st);
  if (!cfg->restore_from) return 0;
  FILE *f = fopen(cfg->restore_from, "r");
  if (!f) return 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  sl_arena a;
  sl_arena_init(&a);
  sl_buf tmp = SL_BUF_INIT;
  int rc = 0;
  size_t lines = 0;
  while (rc >= 0 && (len = getline(&line, &cap, f)) > 0) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    if (!len) continue;
    lines++;
    sl_value v;
    const char *why = NULL;
    sl_str k;
    sl_arena_reset(&a);
    if (sl_json_parse(line, (size_t)len, &a, &v, &why) || v.type != SL_T_OBJECT) continue;
    for (uint32_t i = 0; i < v.n; i++) {
      sl_member *m = &v.u.members[i];
      if (m->name.len != strlen(cfg->key) || memcmp(m->name.ptr, cfg->key, m->name.len)) continue;
      if (key_text(&m->value, &a, &tmp, &k) == 0) rc = add_key(d, k.ptr, k.len);
      break;
    }
  }
  free(line);
  fclose(f);
  sl_arena_free(&a);
  sl_buf_free(&tmp);
  if (rc < 0) {
    sl_log_error(sl_stage_name(st), "out of memory restoring the keys of %s", cfg->restore_from);
    return rc;
  }
  sl_log_info(sl_stage_name(st), "restored %zu keys from %zu records of %s", d->n, lines,
              cfg->restore_from);
  return 0;
}

static void dedup_destroy(sl_stage *st) {
  dedup_priv *d = sl_stage_priv(st);
  for (size_t i = 0; i < d->cap; i++) free(d->slot[i]);
  free(d->slot);
}

static const sl_option dedup_options[] = {
    {"key", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(dedup_cfg, key), "Field whose value identifies a record; a record without it is a dead letter.", NULL},
    {"restore_from", SL_OPT_PATH, NULL, 0, offsetof(dedup_cfg, restore_from), "JSON Lines file (the sink's) whose keys count as seen at start.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const sl_stateful dedup_stateful = {
    .restore = dedup_restore,
    .apply = dedup_apply,
};

const sl_plugin dedup_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_STEP,
    .name = "dedup",
    .doc = "Passes the first record of each key, in each source's order, and drops the others (stateful).",
    .options = dedup_options,
    .config_size = sizeof(dedup_cfg),
    .priv_size = sizeof(dedup_priv),
    .destroy = dedup_destroy,
    .stateful = &dedup_stateful,
};
