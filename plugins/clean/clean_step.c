/* clean: the declarative cleansing step.
 *
 *   sl.clean {
 *     fields = { id_no = "cn_id", name = { "trim", "nfkc", "t2s" },
 *                phone = "cn_phone", birth = { "date", output = "date" },
 *                name_py = { "pinyin", from = "name" } },
 *     required = { "id_no", "name" },
 *     on_invalid = "keep",          -- or "null", "dlq"
 *   }
 *
 * The rules are parsed once, in init on the loop thread, into plain C
 * structures that every worker reads and nobody writes.  Per record, each
 * field's value runs through its chain; a changed value is written back
 * (from the batch arena), and the field's outcome (valid, fixed, invalid,
 * missing) goes to the record's metadata (rec:meta().clean) and to
 * counters per department, feed, field and rule.  Each worker counts in
 * its own blocks with relaxed atomics and no lock; readers merge them
 * (sl_clean_stats), and a summary is logged when the pipeline stops.
 *
 * A record with an invalid or missing required field, or any invalid field
 * with on_invalid = "dlq", goes to the dead-letter sink with every failed
 * field and its reason. */
#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean_step.h"
#include "fieldset.h"
#include "sluice/catalog.h"
#include "sluice/clock.h"
#include "sluice/codec.h"
#include "sluice/log.h"
#include "sluice/lua.h"
#include "sluice/text.h"


typedef struct clean_cfg {
  int fields;
  int catalog;
  char **required;
  char *on_invalid;
  char *tz;
  char *area;
  char *key_env;
  char *key_file;
} clean_cfg;

/* Counters of one worker for one (department, feed). */
typedef struct block {
  struct block *next;     /* the worker's list: written before being published */
  struct block *hnext;    /* the worker's hash chain (owner only) */
  uint64_t hash;
  const clean_fieldset *rs;      /* whose slots these are */
  sl_str dept, feed;      /* copies, in this allocation */
  _Atomic uint64_t n[];   /* nslots * 4, by sl_outcome */
} block;

#define NBUCKETS 64
/* Distinct (department, feed) pairs one worker counts apart; past that
 * they share one block, so hostile metadata cannot grow memory. */
#define MAX_BLOCKS 4096

typedef struct clean_priv clean_priv;

typedef struct clean_inst {
  clean_priv *pv;
  clean_ctx cx;
  _Atomic(block *) head;
  block *buckets[NBUCKETS];
  block *last;
  int nblocks;
  sl_buf msg;
  struct clean_inst *next;
} clean_inst;

struct clean_priv {
  clean_fieldset *sets;
  int nsets;
  sl_catalog *cat;        /* catalog = ...: sets[i] is feed i's */
  int on_invalid;
  sl_hmac_key *key;
  pthread_mutex_t mu;
  int mu_ready;
  clean_inst *insts;      /* live worker instances */
  block *retired;         /* blocks of instances that ended */
};

static const char *const outcome_names[4] = {"valid", "fixed", "invalid", "missing"};

/* ---- init: the rules ---- */

static void free_clean_fieldsets(clean_priv *pv) {
  for (int i = 0; i < pv->nsets; i++) clean_fieldset_free(&pv->sets[i]);
  free(pv->sets);
  pv->sets = NULL;
  pv->nsets = 0;
  sl_catalog_free(pv->cat);
  pv->cat = NULL;
}

/* required = {...}: mark the fields.  A name that is not among them is a
 * mistake (a misspelling would send every record to the dead-letter
 * sink); a field checked only for presence is written { required = true }. */
static int mark_required(clean_fieldset *rs, char **required, sl_buf *err) {
  for (char **r = required; r && *r; r++) {
    clean_field *f = NULL;
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; i < rs->nfields; i++) {
      if (!strcmp(rs->fields[i].name, *r)) f = &rs->fields[i];
      int d = sl_edit_distance(*r, rs->fields[i].name);
      if (d < bestd) {
        bestd = d;
        best = rs->fields[i].name;
      }
    }
    if (!f) {
      sl_buf_printf(err, "required: '%s' is not among fields", *r);
      if (best) sl_buf_printf(err, " (did you mean '%s'?)", best);
      sl_buf_printf(err, "; to require a field without rules, write fields = { %s = { required = true } }", *r);
      return SL_EOPTION;
    }
    f->required = 1;
  }
  return 0;
}

/* fields = { ... }: one rule set for every record. */
static int init_fields(clean_priv *pv, const clean_defaults *d, clean_cfg *cfg, lua_State *L, int *need_key, sl_arena *a,
                       sl_buf *err) {
  sl_value v;
  const char *why = NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cfg->fields);          /* [-0,+1] */
  int rc = sl_lua_to_value(L, -1, a, &v, &why);
  lua_pop(L, 1);
  if (rc) {
    sl_buf_printf(err, "fields: %s", why ? why : sl_strerror(rc));
    return rc;
  }
  if (v.type != SL_T_OBJECT || v.n == 0) {
    sl_buf_puts(err, "fields must be a table { field = rule, ... } with at least one field");
    return SL_EOPTION;
  }
  pv->sets = calloc(1, sizeof *pv->sets);
  if (!pv->sets) return SL_ENOMEM;
  pv->nsets = 1;
  if ((rc = clean_fieldset_parse(d, v.u.members, v.n, &pv->sets[0], a, err))) return rc;
  if ((rc = mark_required(&pv->sets[0], cfg->required, err))) return rc;
  if ((rc = clean_fieldset_slots(&pv->sets[0]))) return rc;
  *need_key = pv->sets[0].need_key;
  return 0;
}

/* catalog = cat: one rule set per feed, from its schema. */
static int init_catalog(clean_priv *pv, const clean_defaults *d, clean_cfg *cfg, lua_State *L, int *need_key,
                        sl_arena *a, sl_buf *err) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, cfg->catalog);
  int rc = sl_catalog_load(L, -1, &pv->cat, err);
  lua_pop(L, 1);
  if (rc) return rc;
  pv->sets = calloc((size_t)pv->cat->nfeeds + 1, sizeof *pv->sets);
  if (!pv->sets) return SL_ENOMEM;
  int unknown = 0;
  for (int i = 0; i < pv->cat->nfeeds; i++) {
    clean_fieldset *rs = &pv->sets[pv->nsets++];
    rc = clean_fieldset_of_feed(d, &pv->cat->feeds[i], rs, a, err);
    if (rc == SL_ENOENT) unknown = 1;
    else if (rc) return rc;
    *need_key |= rs->need_key;
  }
  return unknown ? SL_ENOENT : 0;
}

static int clean_init(sl_stage *st) {
  clean_cfg *cfg = sl_stage_config(st);
  clean_priv *pv = sl_stage_priv(st);
  pthread_mutex_init(&pv->mu, NULL);
  pv->mu_ready = 1;
  pv->on_invalid = clean_on_invalid_of(cfg->on_invalid ? cfg->on_invalid : "keep");
  sl_buf err = SL_BUF_INIT;
  int rc = 0, need_key = 0;
  sl_arena a;
  sl_arena_init(&a);
  /* A step option that is wrong is blamed on the option, not on the first
   * field whose rule uses it. */
  sl_clean_why tz_why;
  if (!sl_tz_get(cfg->tz, &tz_why)) {
    sl_buf_printf(&err, "tz: %s", tz_why.msg);
    rc = SL_EOPTION;
    goto fail;
  }
  int by_fields = cfg->fields != LUA_NOREF, by_catalog = cfg->catalog != LUA_NOREF;
  if (by_fields == by_catalog) {
    sl_buf_puts(&err, by_fields ? "give fields or catalog, not both"
                                : "give fields = { field = rule, ... } or catalog = <a catalog>");
    rc = SL_EOPTION;
    goto fail;
  }
  if (by_catalog && cfg->required) {
    sl_buf_puts(&err, "required: with a catalog, the catalog's fields say which are required");
    rc = SL_EOPTION;
    goto fail;
  }
  /* The fields table, converted to a value tree (no Lua error can escape
   * the conversion) and parsed in C. */
  lua_State *L = sl_stage_lua(st);
  clean_defaults d = {.tz = cfg->tz, .area = cfg->area, .on_invalid = pv->on_invalid};
  rc = by_fields ? init_fields(pv, &d, cfg, L, &need_key, &a, &err) : init_catalog(pv, &d, cfg, L, &need_key, &a, &err);
  if (rc == SL_ENOENT) {
    sl_buf_puts(&err, "; known rules: ");
    clean_rules_names(&err);
    rc = SL_EOPTION;
  }
  if (rc) goto fail;
  if (need_key) {
    sl_clean_why w;
    if (!cfg->key_env && !cfg->key_file) {
      sl_buf_puts(&err, "the hmac rule needs a key: give key_env or key_file");
      rc = SL_EOPTION;
      goto fail;
    }
    if ((rc = sl_hmac_key_load(cfg->key_env, cfg->key_file, &pv->key, &w))) {
      sl_buf_puts(&err, w.msg);   /* never the key itself */
      goto fail;
    }
  }
  /* Load the tables now rather than in the first batch. */
  sl_division_province_known("11");
  sl_pinyin_of(0x4E00);
  sl_arena_free(&a);
  sl_buf_free(&err);
  return 0;

fail:
  /* A rule parser that ran out of memory may have said nothing. */
  sl_log_error(sl_stage_name(st), "%s: %s", sl_stage_where(st),
               err.len || err.oom || !rc ? sl_buf_text(&err) : sl_strerror(rc));
  sl_arena_free(&a);
  sl_buf_free(&err);
  return rc ? rc : SL_EOPTION;
}

/* ---- counters ---- */

static uint64_t hash_pair(sl_str a, sl_str b) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < a.len; i++) h = (h ^ (unsigned char)a.ptr[i]) * 1099511628211ull;
  h = (h ^ 0xFF) * 1099511628211ull;
  for (size_t i = 0; i < b.len; i++) h = (h ^ (unsigned char)b.ptr[i]) * 1099511628211ull;
  return h;
}

static int str_eq(sl_str a, sl_str b) {
  return a.len == b.len && (a.len == 0 || !memcmp(a.ptr, b.ptr, a.len));
}

static block *get_block(clean_inst *in, const clean_fieldset *rs, sl_str dept, sl_str feed) {
  if (!dept.ptr) dept = (sl_str){"", 0};
  if (!feed.ptr) feed = (sl_str){"", 0};
  block *b = in->last;
  if (b && b->rs == rs && str_eq(b->dept, dept) && str_eq(b->feed, feed)) return b;
  if (in->nblocks >= MAX_BLOCKS) {
    dept = (sl_str){"(other)", 7};
    feed = (sl_str){"(other)", 7};
  }
  uint64_t h = hash_pair(dept, feed);
  for (b = in->buckets[h % NBUCKETS]; b; b = b->hnext)
    if (b->hash == h && b->rs == rs && str_eq(b->dept, dept) && str_eq(b->feed, feed)) return in->last = b;
  size_t ncount = (size_t)rs->nslots * 4;
  b = calloc(1, sizeof *b + ncount * sizeof b->n[0] + dept.len + feed.len + 2);
  if (!b) return NULL;
  char *p = (char *)&b->n[ncount];
  memcpy(p, dept.ptr, dept.len);
  b->dept = (sl_str){p, dept.len};
  memcpy(p + dept.len + 1, feed.ptr, feed.len);
  b->feed = (sl_str){p + dept.len + 1, feed.len};
  b->hash = h;
  b->rs = rs;
  b->hnext = in->buckets[h % NBUCKETS];
  in->buckets[h % NBUCKETS] = b;
  b->next = atomic_load_explicit(&in->head, memory_order_relaxed);
  /* Release: a reader that sees the block sees its fields initialised. */
  atomic_store_explicit(&in->head, b, memory_order_release);
  in->nblocks++;
  return in->last = b;
}

typedef struct group {
  sl_str dept, feed;
  const clean_fieldset *rs;
  uint64_t *n;
} group;

static void add_blocks(group **gs, int *ng, int *cap, block *b) {
  for (; b; b = b->next) {
    group *g = NULL;
    int nslots = b->rs->nslots;
    for (int i = 0; i < *ng && !g; i++)
      if ((*gs)[i].rs == b->rs && str_eq((*gs)[i].dept, b->dept) && str_eq((*gs)[i].feed, b->feed))
        g = &(*gs)[i];
    if (!g) {
      if (*ng == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        group *t = realloc(*gs, (size_t)nc * sizeof *t);
        if (!t) return;
        *gs = t;
        *cap = nc;
      }
      g = &(*gs)[*ng];
      g->n = calloc((size_t)nslots * 4, sizeof *g->n);
      if (!g->n) return;
      g->dept = b->dept;
      g->feed = b->feed;
      g->rs = b->rs;
      (*ng)++;
    }
    for (int i = 0; i < nslots * 4; i++) g->n[i] += atomic_load_explicit(&b->n[i], memory_order_relaxed);
  }
}

void sl_clean_stats(sl_stage *st, void (*cb)(void *ud, const sl_clean_count *c), void *ud) {
  clean_priv *pv = sl_stage_priv(st);
  if (!pv || !pv->mu_ready) return;
  group *gs = NULL;
  int ng = 0, cap = 0;
  pthread_mutex_lock(&pv->mu);
  for (clean_inst *in = pv->insts; in; in = in->next)
    add_blocks(&gs, &ng, &cap, atomic_load_explicit(&in->head, memory_order_acquire));
  add_blocks(&gs, &ng, &cap, pv->retired);
  for (int g = 0; g < ng; g++) {
    const clean_fieldset *rs = gs[g].rs;
    for (int s = 0; s < rs->nslots; s++) {
      sl_clean_count c = {gs[g].dept, gs[g].feed, rs->slot_field[s], rs->slot_rule[s], {0, 0, 0, 0}};
      uint64_t any = 0;
      for (int o = 0; o < 4; o++) any |= c.n[o] = gs[g].n[s * 4 + o];
      if (any) cb(ud, &c);
    }
  }
  pthread_mutex_unlock(&pv->mu);
  for (int g = 0; g < ng; g++) free(gs[g].n);
  free(gs);
}

/* The summary at shutdown: one line per department, feed and field. */
typedef struct summary {
  sl_stage *st;
  sl_buf line;
  int lines;
} summary;

static void summary_flush(summary *s) {
  if (!s->line.len) return;
  if (s->lines < 200) sl_log_info(sl_stage_name(s->st), "%.*s", (int)s->line.len, s->line.ptr);
  else if (s->lines == 200) sl_log_info(sl_stage_name(s->st), "... (more counters not shown)");
  s->lines++;
  s->line.len = 0;
}

static void summary_cb(void *ud, const sl_clean_count *c) {
  summary *s = ud;
  if (!strcmp(c->rule, "*")) {
    summary_flush(s);
    sl_buf_printf(&s->line, "counts: department \"%.*s\" feed \"%.*s\" field %s:", (int)c->department.len,
                  c->department.ptr, (int)c->feed.len, c->feed.ptr, c->field);
  } else {
    sl_buf_printf(&s->line, "; %s", c->rule);
  }
  for (int o = 0; o < 4; o++)
    if (c->n[o]) sl_buf_printf(&s->line, " %s %llu", outcome_names[o], (unsigned long long)c->n[o]);
}

static void clean_destroy(sl_stage *st) {
  clean_priv *pv = sl_stage_priv(st);
  if (pv->mu_ready && pv->nsets) {
    summary s = {st, SL_BUF_INIT, 0};
    sl_clean_stats(st, summary_cb, &s);
    summary_flush(&s);
    sl_buf_free(&s.line);
  }
  while (pv->retired) {
    block *b = pv->retired;
    pv->retired = b->next;
    free(b);
  }
  free_clean_fieldsets(pv);
  sl_hmac_key_free(pv->key);
  if (pv->mu_ready) pthread_mutex_destroy(&pv->mu);
}

/* sluice check: parse the rules as init does, then let them go. */
static int clean_check(sl_stage *st) {
  int rc = clean_init(st);
  clean_destroy(st);
  memset(sl_stage_priv(st), 0, sizeof(clean_priv));
  return rc;
}

/* /metrics: sluice_clean_outcomes_total{department,feed,field,rule,outcome}. */
static void collect_cb(void *ud, const sl_clean_count *c) {
  static const char *const labels[] = {"department", "feed", "field", "rule", "outcome", NULL};
  char dept[256], feed[256];
  snprintf(dept, sizeof dept, "%.*s", (int)c->department.len, c->department.ptr ? c->department.ptr : "");
  snprintf(feed, sizeof feed, "%.*s", (int)c->feed.len, c->feed.ptr ? c->feed.ptr : "");
  for (int o = 0; o < 4; o++) {
    if (!c->n[o]) continue;
    const char *values[] = {dept, feed, c->field, c->rule, outcome_names[o]};
    sl_collect(ud, SL_COUNTER, "clean_outcomes_total",
               "Outcomes of cleansing rules per department, feed, field and rule (rule \"*\": the field as a whole).",
               labels, values, (int64_t)c->n[o]);
  }
}

static void clean_collect(sl_stage *st, sl_collector *c) {
  sl_clean_stats(st, collect_cb, c);
}

/* ---- workers ---- */

static int clean_worker_init(sl_stage *st, void **inst) {
  clean_priv *pv = sl_stage_priv(st);
  clean_inst *in = calloc(1, sizeof *in);
  if (!in) return SL_ENOMEM;
  in->pv = pv;
  in->cx.key = pv->key;
  atomic_init(&in->head, NULL);
  pthread_mutex_lock(&pv->mu);
  in->next = pv->insts;
  pv->insts = in;
  pthread_mutex_unlock(&pv->mu);
  *inst = in;
  return 0;
}

static void clean_worker_destroy(sl_stage *st, void *inst) {
  clean_priv *pv = sl_stage_priv(st);
  clean_inst *in = inst;
  /* The counters outlive the worker: its blocks join the retired list. */
  pthread_mutex_lock(&pv->mu);
  for (clean_inst **p = &pv->insts; *p; p = &(*p)->next)
    if (*p == in) {
      *p = in->next;
      break;
    }
  block *b = atomic_load_explicit(&in->head, memory_order_relaxed);
  while (b) {
    block *next = b->next;
    b->next = pv->retired;
    pv->retired = b;
    b = next;
  }
  pthread_mutex_unlock(&pv->mu);
  clean_ctx_free(&in->cx);
  sl_buf_free(&in->msg);
  free(in);
}

/* A record of no feed of the catalog: a dead letter that says what it
 * carried, so that the publisher can tell which of the two is wrong. */
static int not_in_catalog(sl_step_out *out, sl_record *rec) {
  char msg[400];
  const sl_meta *m = &rec->meta;
  snprintf(msg, sizeof msg, "not in the catalog: department \"%.*s\", feed \"%.*s\", from \"%.*s\"",
           (int)(m->department.len > 80 ? 80 : m->department.len), m->department.ptr ? m->department.ptr : "",
           (int)(m->feed.len > 80 ? 80 : m->feed.len), m->feed.ptr ? m->feed.ptr : "",
           (int)(m->origin.len > 120 ? 120 : m->origin.len), m->origin.ptr ? m->origin.ptr : "");
  sl_step_fail(out, rec, msg);
  return SL_EINVAL;
}

static int clean_process(void *inst, sl_step_out *out, sl_record *rec) {
  clean_inst *in = inst;
  clean_priv *pv = in->pv;
  sl_arena *a = sl_step_arena(out);
  const char *stage = sl_step_stage_name(out);
  const clean_fieldset *rs = &pv->sets[0];
  if (pv->cat) {
    const sl_catalog_feed *feed = sl_catalog_find_record(pv->cat, rec, a);
    if (!feed) return not_in_catalog(out, rec);
    /* Found by its topic or table: the record says which feed it is from
     * now on.  Found by what it carried: that stays ("births.v2"). */
    if (!rec->meta.department.len || !rec->meta.feed.len ||
        !sl_catalog_find(pv->cat, rec->meta.department, rec->meta.feed, (sl_str){NULL, 0})) {
      rec->meta.department = (sl_str){feed->dept_id, strlen(feed->dept_id)};
      rec->meta.feed = (sl_str){feed->name, strlen(feed->name)};
    }
    rs = &pv->sets[feed->index];
  }
  block *b = get_block(in, rs, rec->meta.department, rec->meta.feed);

  uint32_t base = rec->meta.noutcomes;
  sl_field_outcome *oc = sl_arena_alloc(a, (base + (size_t)rs->nfields) * sizeof *oc);
  if (!oc) {
    sl_step_fail(out, rec, "out of memory");
    return SL_ENOMEM;
  }
  if (base) memcpy(oc, rec->meta.outcomes, base * sizeof *oc);
  in->msg.len = 0;

  int failed = clean_fieldset_check(rs, &in->cx, rec, a, stage, oc + base, b ? b->n : NULL, &in->msg);
  if (failed < 0) {
    sl_step_fail(out, rec, "out of memory");
    return failed;
  }
  rec->meta.outcomes = oc;
  rec->meta.noutcomes = base + (uint32_t)rs->nfields;
  if (failed) {
    sl_buf_putc(&in->msg, 0);
    sl_step_fail(out, rec, in->msg.oom ? "invalid fields" : in->msg.ptr);
    return SL_EINVAL;
  }
  return SL_STEP_KEEP;
}

static const sl_option clean_options[] = {
    {"fields", SL_OPT_LUA, NULL, 0, offsetof(clean_cfg, fields),
     "{ field = rule | { rule, ..., from =, required =, on_invalid = } }: what to check and fix (docs/cleansing.md).",
     "table"},
    {"catalog", SL_OPT_LUA, NULL, 0, offsetof(clean_cfg, catalog),
     "A feed catalog (sl.catalog): each record checked against its feed's schema and rules (docs/metrics.md).",
     "table"},
    {"required", SL_OPT_STRLIST, NULL, 0, offsetof(clean_cfg, required),
     "Fields that must be present and valid, else the record goes to the dead-letter sink.", NULL},
    {"on_invalid", SL_OPT_ENUM, "keep", 0, offsetof(clean_cfg, on_invalid),
     "An invalid field that is not required: keep it, set it to null, or dead-letter the record.", "keep|null|dlq"},
    {"tz", SL_OPT_STR, "Asia/Shanghai", 0, offsetof(clean_cfg, tz),
     "Time zone of dates and times written without an offset, and of the output.", NULL},
    {"area", SL_OPT_STR, NULL, 0, offsetof(clean_cfg, area),
     "Area code for landline numbers written without one (\"0756\").", NULL},
    {"key_env", SL_OPT_STR, NULL, 0, offsetof(clean_cfg, key_env),
     "Environment variable holding the hmac rule's key (at least 16 bytes; never logged).", NULL},
    {"key_file", SL_OPT_PATH, NULL, 0, offsetof(clean_cfg, key_file),
     "File holding the hmac rule's key (its trailing newline is not part of it).", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

/* The catalog given with catalog = (NULL with fields =): sluice tap masks
 * its sensitive fields. */
static const sl_catalog *clean_catalog(sl_stage *st) {
  return ((clean_priv *)sl_stage_priv(st))->cat;
}

const sl_plugin clean_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_STEP,
    .name = "clean",
    .doc = "Normalises, validates and repairs fields (IDs, credit codes, phones, dates, divisions, text).",
    .options = clean_options,
    .config_size = sizeof(clean_cfg),
    .priv_size = sizeof(clean_priv),
    .init = clean_init,
    .destroy = clean_destroy,
    .worker_init = clean_worker_init,
    .worker_destroy = clean_worker_destroy,
    .process = clean_process,
    .check = clean_check,
    .collect = clean_collect,
    .catalog = clean_catalog,
};
