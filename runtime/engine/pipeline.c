/* A pipeline's life: load and check the file, build the stages, start the
 * workers and the sources, run the loop until every source has finished and
 * every batch is durable (or a signal asked for a stop), then tear down. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "core/secrets.h"
#include "engine/engine.h"
#include "engine/metrics.h"
#include "sluice/clock.h"
#include "sluice/log.h"

/* ---- accessors for plugins ---- */

const char *sl_stage_name(const sl_stage *st) { return st->name; }
const char *sl_pipeline_name(const sl_pipeline *p) { return p->name; }
int sl_pipeline_exactly_once(const sl_pipeline *p) { return p->set.exactly_once; }
uint64_t sl_pipeline_max_inflight_records(const sl_pipeline *p) { return p->set.max_inflight_records; }
void *sl_stage_config(sl_stage *st) { return st->config; }
void *sl_stage_priv(sl_stage *st) { return st->priv; }
uv_loop_t *sl_stage_loop(sl_stage *st) { return st->p->loop; }
sl_pipeline *sl_stage_pipeline(sl_stage *st) { return st->p; }
const char *sl_stage_where(const sl_stage *st) { return st->where; }
const sl_plugin *sl_stage_plugin(const sl_stage *st) { return st->plugin; }
int sl_stage_is_dlq(const sl_stage *st) { return st->is_dlq; }
uint32_t sl_stage_batch_size(const sl_stage *st) { return st->p->set.batch_size; }
struct lua_State *sl_stage_lua(sl_stage *st) { return sl_lua_state(st->p->cfg); }
void sl_stage_push_descriptor(sl_stage *st) {
  lua_rawgeti(sl_lua_state(st->p->cfg), LUA_REGISTRYINDEX, st->desc_ref);
}

void sl_sink_set_codec(sl_stage *st, const sl_codec *codec, void *codec_ctx) {
  st->codec = codec;
  st->codec_ctx = codec_ctx;
}

/* ---- paths ---- */

static int mkdir_p(const char *path) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -1;
  return 0;
}

/* require() and plugin look-up: the pipeline's folder first, then
 * SLUICE_PLUGIN_PATH (colon-separated), then the shipped library. */
static const char **make_search_path(const char *dir) {
  const char *extra = getenv("SLUICE_PLUGIN_PATH");
  const char *lua_dir = getenv("SLUICE_LUA_DIR");
  size_t n = 3;
  for (const char *c = extra; c && *c; c++) n += *c == ':';
  const char **sp = calloc(n + 2, sizeof *sp);
  if (!sp) return NULL;
  size_t i = 0;
  sp[i++] = strdup(dir);
  if (extra && *extra) {
    char *copy = strdup(extra), *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
      sp[i++] = strdup(tok);
    free(copy);
  }
  sp[i++] = strdup(lua_dir && *lua_dir ? lua_dir : SLUICE_LUA_DIR);
  sp[i] = NULL;
  return sp;
}

static void free_search_path(const char **sp) {
  for (size_t i = 0; sp && sp[i]; i++) free((char *)sp[i]);
  free(sp);
}

/* ---- settings from the pipeline descriptor (on the stack top) ---- */

static lua_Integer get_int(lua_State *L, int t, const char *k, lua_Integer def) {
  lua_getfield(L, t, k);
  lua_Integer v = lua_isnumber(L, -1) ? lua_tointeger(L, -1) : def;
  lua_pop(L, 1);
  return v;
}

static int get_bool(lua_State *L, int t, const char *k) {
  lua_getfield(L, t, k);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

static void read_settings(lua_State *L, int desc, sl_pipeline_settings *set, int workers_override) {
  set->batch_size = (uint32_t)get_int(L, desc, "batch_size", 1024);
  /* Under exactly_once a batch stays in flight until its transaction
   * commits, and a transaction holds half of what may be in flight: larger
   * bounds mean fewer commits (bench/kafka_run case d: 0.46-0.51 of
   * at-least-once with 16384, 0.81-1.03 with 65536). */
  set->exactly_once = get_bool(L, desc, "exactly_once");
  set->max_inflight_records =
      (uint64_t)get_int(L, desc, "max_inflight_records", set->exactly_once ? 65536 : 16384);
  lua_getfield(L, desc, "max_inflight_bytes");
  if (lua_type(L, -1) == LUA_TSTRING) {
    set->max_inflight_bytes = (uint64_t)sl_parse_size(lua_tostring(L, -1));
  } else {
    set->max_inflight_bytes = lua_isnumber(L, -1) ? (uint64_t)lua_tointeger(L, -1)
                                                  : (set->exactly_once ? 64u : 32u) << 20;
  }
  lua_pop(L, 1);
  if (set->max_inflight_records < set->batch_size) set->max_inflight_records = set->batch_size;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  set->workers = (int)get_int(L, desc, "workers", cores > 0 ? cores : 2);
  if (workers_override > 0) set->workers = workers_override;
  if (set->workers < 1) set->workers = 1;
  set->limits.call_ms = 1000;
  set->limits.memory_bytes = (size_t)256 << 20;
  if (lua_getfield(L, desc, "limits") == LUA_TTABLE) {
    lua_getfield(L, -1, "call_ms");
    if (lua_type(L, -1) == LUA_TSTRING) {
      set->limits.call_ms = (uint32_t)sl_parse_duration_ms(lua_tostring(L, -1));
    } else if (lua_isnumber(L, -1)) {
      set->limits.call_ms = (uint32_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    set->limits.memory_bytes = (size_t)get_int(L, -1, "memory_mb", 256) << 20;
  }
  lua_pop(L, 1);
  memset(&set->grants, 0, sizeof set->grants);
  if (lua_getfield(L, desc, "grants") == LUA_TTABLE) {
    set->grants.io = get_bool(L, -1, "io");
    set->grants.os = get_bool(L, -1, "os");
    set->grants.c_modules = get_bool(L, -1, "c_modules");
    set->grants.debug = get_bool(L, -1, "debug");
  }
  lua_pop(L, 1);
}

/* ---- stages ---- */

static sl_stage *new_stage(sl_pipeline *p, lua_State *L, int desc, sl_plugin_kind kind,
                           int index, const char *default_name, sl_buf *err) {
  sl_stage *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->p = p;
  st->kind = kind;
  st->index = index;
  lua_getfield(L, desc, "where");
  st->where = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : p->file);
  lua_pop(L, 1);
  lua_getfield(L, desc, "plugin");
  const char *pname = lua_tostring(L, -1);
  const sl_plugin *pl = sl_registry_find(pname);
  lua_getfield(L, desc, "def");
  int is_lua = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!pl && is_lua && kind != SL_STEP) {
    pl = sl_registry_lua_host(kind);
    if (!pl)
      sl_buf_printf(err, "%s: %s is a %s written in Lua, and this sluice was built without "
                    "the plugin that runs them (lua)", st->where, pname,
                    kind == SL_SOURCE ? "source" : "sink");
  }
  lua_getfield(L, desc, "options");
  int opts = lua_gettop(L);
  lua_getfield(L, opts, "name");
  char auto_name[256];
  snprintf(auto_name, sizeof auto_name, "%s.%d", pname ? pname : "step", index + 1);
  st->name = strdup(lua_isstring(L, -1) ? lua_tostring(L, -1) : default_name ? default_name : auto_name);
  lua_pop(L, 1);
  st->has_where = kind == SL_SINK && (lua_getfield(L, opts, "where"), !lua_isnil(L, -1));
  if (kind == SL_SINK) lua_pop(L, 1);
  st->plugin = kind == SL_STEP && is_lua ? NULL : pl;
  if (st->plugin && st->plugin->abi != SL_PLUGIN_ABI)
    sl_buf_printf(err, "%s: plugin %s was built for plugin ABI %d, this sluice has %d",
                  st->where, st->plugin->name, st->plugin->abi, SL_PLUGIN_ABI);
  lua_pushvalue(L, desc);
  st->desc_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  if (st->plugin && st->plugin->config_size) {
    st->config = calloc(1, st->plugin->config_size);
    if (!st->config ||
        sl_options_fill(L, opts, st->plugin->options, st->config, p->dir, err)) {
      lua_pop(L, 2);
      return st;
    }
  }
  if (st->plugin && st->plugin->priv_size) st->priv = calloc(1, st->plugin->priv_size);
  if (st->plugin && kind == SL_SINK) {
    for (const sl_option *o = st->plugin->options; o && o->name; o++)
      if (o->flags & (SL_RECORD_FN | SL_RECORD_FIELD | SL_RECORD_MAP)) st->nattrs++;
    if (st->nattrs) {
      st->attr_opts = calloc((size_t)st->nattrs, sizeof *st->attr_opts);
      int k = 0;
      for (const sl_option *o = st->plugin->options; st->attr_opts && o->name; o++)
        if (o->flags & (SL_RECORD_FN | SL_RECORD_FIELD | SL_RECORD_MAP)) st->attr_opts[k++] = o;
    }
  }
  lua_pop(L, 2);
  return st;
}

static void free_stage(sl_pipeline *p, sl_stage *st) {
  if (!st) return;
  lua_State *L = p->cfg ? sl_lua_state(p->cfg) : NULL;
  if (st->plugin && st->config) sl_options_free(L, st->plugin->options, st->config);
  sl__state_close(st);
  free(st->attr_opts);
  free(st->config);
  free(st->priv);
  free(st->name);
  free(st->where);
  free(st);
}

/* Builds the stage list t[field] of the pipeline descriptor at desc. */
static int build_list(sl_pipeline *p, lua_State *L, int desc, const char *field,
                      sl_plugin_kind kind, sl_stage ***out, int *nout, int extra, sl_buf *err) {
  lua_getfield(L, desc, field);
  int n = lua_istable(L, -1) ? (int)luaL_len(L, -1) : 0;
  *out = calloc((size_t)(n + extra + 1), sizeof **out);
  if (!*out) return SL_ENOMEM;
  for (int i = 0; i < n; i++) {
    lua_geti(L, -1, i + 1);
    sl_stage *st;
    if (lua_isfunction(L, -1)) {
      /* A Lua function step: the workers hold the function. */
      st = calloc(1, sizeof *st);
      if (!st) return SL_ENOMEM;
      st->p = p;
      st->kind = SL_STEP;
      st->index = i;
      lua_Debug ar;
      lua_pushvalue(L, -1);
      lua_getinfo(L, ">S", &ar);
      char name[64], where[PATH_MAX + 32];
      snprintf(name, sizeof name, "step.%d", i + 1);
      snprintf(where, sizeof where, "%s:%d", ar.short_src, ar.linedefined);
      st->name = strdup(name);
      st->where = strdup(where);
    } else {
      st = new_stage(p, L, lua_gettop(L), kind, i, NULL, err);
      if (!st) return SL_ENOMEM;
    }
    lua_pop(L, 1);
    (*out)[(*nout)++] = st;
    if (err->len) return SL_EOPTION;
  }
  lua_pop(L, 1);
  return 0;
}

static int check_unique_names(sl_pipeline *p, sl_buf *err) {
  sl_stage **lists[3] = {p->sources, p->steps, p->sinks};
  int counts[3] = {p->nsources, p->nsteps, p->nsinks};
  for (int a = 0; a < 3; a++)
    for (int i = 0; i < counts[a]; i++)
      for (int b = a; b < 3; b++)
        for (int j = (b == a ? i + 1 : 0); j < counts[b]; j++)
          if (strcmp(lists[a][i]->name, lists[b][j]->name) == 0) {
            sl_buf_printf(err, "%s: two stages are named '%s' (the other is at %s)",
                          lists[b][j]->where, lists[b][j]->name, lists[a][i]->where);
            return SL_EOPTION;
          }
  return 0;
}

/* exactly_once = true: every source hands its positions to the sink, and
 * one sink (besides the dead-letter sink) commits them with its records.
 * Two transactional sinks could not commit one position atomically. */
static int check_exactly_once(sl_pipeline *p, const char *pipeline_where, sl_buf *err) {
  if (!p->set.exactly_once) return 0;
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *st = p->sources[i];
    if (!(st->plugin->caps & SL_CAN_EXACTLY_ONCE)) {
      sl_buf_printf(err, "%s: exactly_once = true, but %s (%s) cannot hand its positions to a "
                    "transactional sink; exactly-once works from kafka.source to kafka.sink",
                    st->where, st->name, st->plugin->name);
      return SL_EOPTION;
    }
  }
  if (p->nsinks != 2) {
    sl_buf_printf(err, "%s: exactly_once = true needs exactly one sink (besides the dlq), got %d; "
                  "one kafka.sink can route to many topics with topic = function(rec)",
                  pipeline_where, p->nsinks - 1);
    return SL_EOPTION;
  }
  sl_stage *sink = p->sinks[0];
  if (!(sink->plugin->caps & SL_CAN_EXACTLY_ONCE)) {
    sl_buf_printf(err, "%s: exactly_once = true, but %s (%s) cannot commit the sources' positions "
                  "with its records; exactly-once works from kafka.source to kafka.sink",
                  sink->where, sink->name, sink->plugin->name);
    return SL_EOPTION;
  }
  /* The sink commits the positions: a batch's dead letters must be
   * durable before its records commit (see flow.c, dispatch). */
  p->dlq_first = 1;
  return 0;
}

/* When the pipeline's one sink stores checkpoints with its data, each
 * source resumes from there (called after the sinks' init). */
static int preload_checkpoints(sl_pipeline *p, sl_buf *err) {
  if (p->nsinks != 2 || !p->sinks[0]->plugin->checkpoint_load) return 0;
  sl_stage *sink = p->sinks[0];
  p->dlq_first = 1;
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *src = p->sources[i];
    if (!src->plugin->checkpoint_encode) continue;
    int rc = sink->plugin->checkpoint_load(sink, src->name, &src->preloaded);
    if (rc == 0) {
      src->has_preloaded = 1;
      sl_log_info(src->name, "resuming from the checkpoint stored by %s", sink->name);
    } else if (rc != SL_ENOENT) {
      sl_buf_printf(err, "%s: cannot read the checkpoint of %s: %s", sink->where, src->name,
                    sl_strerror(rc));
      return rc;
    }
  }
  return 0;
}

/* --reset-checkpoint: every name must be a source of the pipeline. */
static int mark_resets(sl_pipeline *p, const char *const *names, sl_buf *err) {
  for (; names && *names; names++) {
    sl_stage *found = NULL;
    for (int i = 0; i < p->nsources && !found; i++)
      if (strcmp(p->sources[i]->name, *names) == 0) found = p->sources[i];
    if (!found) {
      sl_buf_printf(err, "--reset-checkpoint %s: the pipeline has no source of that name (sources:", *names);
      for (int i = 0; i < p->nsources; i++) sl_buf_printf(err, " %s", p->sources[i]->name);
      sl_buf_puts(err, ")");
      return SL_EOPTION;
    }
    found->reset_state = 1;
  }
  return 0;
}

/* ---- signals and completions ---- */

static void on_done_async(uv_async_t *h) {
  sl_pipeline *p = h->data;
  pthread_mutex_lock(&p->done_mu);
  sl_batch *b = p->done_head;
  p->done_head = p->done_tail = NULL;
  pthread_mutex_unlock(&p->done_mu);
  while (b) {
    sl_batch *next = b->qnext;
    sl__flow_processed(p, b);
    b = next;
  }
}

void sl__pipeline_drain(sl_pipeline *p) {
  if (p->run != SL_RUN_RUNNING) return;
  p->run = SL_RUN_DRAINING;
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *s = p->sources[i];
    if (!s->finished && !s->stopping) {
      s->stopping = 1;
      if (s->plugin->stop) s->plugin->stop(s);
    }
  }
  sl__flow_check_end(p);
}

static void on_signal(uv_signal_t *h, int signum) {
  sl_pipeline *p = h->data;
  p->signals++;
  if (p->signals > 1) {
    /* Checkpoints are replaced atomically, so stopping here loses nothing
     * durable: what was in flight is read again on the next start. */
    sl_log_warn(NULL, "second signal (%s): exiting now without draining", signum == SIGINT ? "SIGINT" : "SIGTERM");
    _exit(128 + signum);
  }
  sl_log_info(NULL, "%s: stopping the sources and draining what is in flight (again to exit at once)",
              signum == SIGINT ? "SIGINT" : "SIGTERM");
  sl__pipeline_drain(p);
}

/* ---- main ---- */

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static char *pipeline_name_from_file(const char *file) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  char *name = strdup(base);
  char *dot = name ? strrchr(name, '.') : NULL;
  if (dot && strcmp(dot, ".lua") == 0) *dot = 0;
  return name;
}

int sl_pipeline_main(const sl_run_opts *o) {
  sl_pipeline *p = calloc(1, sizeof *p);
  sl_buf err = SL_BUF_INIT;
  int exit_code = 2;
  uv_loop_t loop;
  int loop_ready = 0;
  sl_config_ctx ctx = {0};
  if (!p) return 1;
  /* A stop or reload signal that comes before this run listens waits for it. */
  if (!o->check_only) sl__signals_hold();
  p->file = strdup(o->file);

  struct stat sb;
  if (stat(o->file, &sb) < 0) {
    sl_buf_printf(&err, "%s: cannot open the pipeline file: %s", o->file, strerror(errno));
    goto fail;
  }
  char real[PATH_MAX];
  if (!realpath(o->file, real)) {
    sl_buf_printf(&err, "%s: %s", o->file, strerror(errno));
    goto fail;
  }
  char *slash = strrchr(real, '/');
  *slash = 0;
  p->dir = strdup(real[0] ? real : "/");
  p->search_path = make_search_path(p->dir);
  ctx.pipeline_dir = p->dir;
  ctx.search_path = p->search_path;

  /* First evaluation: with the default sandbox, to learn the pipeline's
   * limits and grants; then the real one under them. */
  /* The probe has every grant: the file may use at its top level what it
   * grants its scripts, and grants are only known once it has run. */
  sl_lua_limits lim = {.memory_bytes = (size_t)256 << 20, .call_ms = SL_LOAD_MS};
  sl_lua_grants all = {.io = 1, .os = 1, .c_modules = 1, .debug = 1};
  sl_lua *probe = sl_lua_new(&lim, &all, p->search_path);
  if (!probe) goto fail;
  sl_config_open(sl_lua_state(probe), &ctx);
  if (sl_config_load(probe, o->file, &err)) {
    sl_lua_free(probe);
    goto fail;
  }
  read_settings(sl_lua_state(probe), lua_gettop(sl_lua_state(probe)), &p->set, o->workers);
  sl_lua_free(probe);

  sl_lua_limits cfg_lim = p->set.limits;
  if (cfg_lim.call_ms < SL_LOAD_MS) cfg_lim.call_ms = SL_LOAD_MS;   /* evaluating the file may take a while */
  p->cfg = sl_lua_new(&cfg_lim, &p->set.grants, p->search_path);
  if (!p->cfg) goto fail;
  lua_State *L = sl_lua_state(p->cfg);
  sl_config_open(L, &ctx);
  if (sl_config_load(p->cfg, o->file, &err)) goto fail;
  /* What runs in this state from now on (template functions, Lua plugins)
   * runs on the loop thread, under the pipeline's own budget. */
  if (sl_lua_set_call_ms(p->cfg, p->set.limits.call_ms)) goto fail;
  int desc = lua_gettop(L);
  lua_getfield(L, desc, "name");
  int named = lua_isstring(L, -1);
  p->name = named ? strdup(lua_tostring(L, -1)) : pipeline_name_from_file(o->file);
  lua_pop(L, 1);
  if (!p->name) goto fail;
  const char *problem = sl__pipeline_name_problem(p->name, strlen(p->name));
  if (problem) {
    /* sl.pipeline checked a name it was given; this catches one set later. */
    if (named) sl_buf_printf(&err, "%s: the pipeline name %s, but it names a folder under the state root",
                             o->file, problem);
    else sl_buf_printf(&err, "%s: the pipeline has no 'name', and the one its file name gives %s; "
                       "set name = \"...\" in sl.pipeline (no '/', no leading '.')", o->file, problem);
    goto fail;
  }
  if (!o->err_out) sl_log_set_pipeline(p->name);

  if (build_list(p, L, desc, "sources", SL_SOURCE, &p->sources, &p->nsources, 0, &err) ||
      build_list(p, L, desc, "steps", SL_STEP, &p->steps, &p->nsteps, 0, &err) ||
      build_list(p, L, desc, "sinks", SL_SINK, &p->sinks, &p->nsinks, 1, &err)) {
    if (!err.len) sl_buf_puts(&err, "out of memory");
    goto fail;
  }
  /* The dead-letter sink is always the last sink; without one in the
   * pipeline, dead letters go to <state folder>/dlq.jsonl, never nowhere. */
  lua_getfield(L, desc, "dlq");
  sl_stage *dlq = NULL;
  char *state_root = NULL;
  if (o->state_root) state_root = strdup(o->state_root);
  else if (getenv("SLUICE_STATE_DIR")) state_root = strdup(getenv("SLUICE_STATE_DIR"));
  else {
    sl_buf sr = SL_BUF_INIT;
    sl_buf_printf(&sr, "%s/.sluice", p->dir);
    state_root = sl_buf_steal(&sr, NULL);
  }
  sl_buf sd = SL_BUF_INIT;
  sl_buf_printf(&sd, "%s/%s", state_root, p->name);
  p->state_dir = sl_buf_steal(&sd, NULL);
  free(state_root);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getglobal(L, "require");
    lua_pushstring(L, "sluice");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "file");
    lua_getfield(L, -1, "sink");
    lua_createtable(L, 0, 2);
    sl_buf dp = SL_BUF_INIT;
    sl_buf_printf(&dp, "%s/dlq.jsonl", p->state_dir);
    lua_pushlstring(L, dp.ptr, dp.len);
    sl_buf_free(&dp);
    lua_setfield(L, -2, "path");
    lua_call(L, 1, 1);
    lua_remove(L, -2);
    lua_remove(L, -2);
  }
  dlq = new_stage(p, L, lua_gettop(L), SL_SINK, p->nsinks, "dlq", &err);
  lua_pop(L, 1);
  if (!dlq || err.len) {
    if (!err.len) sl_buf_puts(&err, "out of memory");
    free_stage(p, dlq);
    goto fail;
  }
  dlq->is_dlq = 1;
  p->sinks[p->nsinks++] = dlq;
  if (check_unique_names(p, &err)) goto fail;
  lua_getfield(L, desc, "where");
  int eo = check_exactly_once(p, lua_isstring(L, -1) ? lua_tostring(L, -1) : p->file, &err);
  lua_pop(L, 1);
  if (eo) goto fail;

  if (o->check_only) {
    /* Plugins' own deeper checks (their errors are logged). */
    sl_stage **cl[3] = {p->sources, p->steps, p->sinks};
    int cn[3] = {p->nsources, p->nsteps, p->nsinks};
    for (int l = 0; l < 3; l++)
      for (int i = 0; i < cn[l]; i++) {
        sl_stage *st = cl[l][i];
        if (st->plugin && st->plugin->check && st->plugin->check(st)) {
          sl_buf_printf(&err, "%s: %s: invalid options (see above)", st->where, st->name);
          goto fail;
        }
      }
  }
  if (o->check_only && o->quiet) {
    exit_code = 0;
    goto done;
  }
  if (o->check_only) {
    printf("%s: ok: pipeline '%s' with %d source%s, %d step%s, %d sink%s and a dead-letter sink\n",
           o->file, p->name, p->nsources, p->nsources == 1 ? "" : "s", p->nsteps,
           p->nsteps == 1 ? "" : "s", p->nsinks - 1, p->nsinks == 2 ? "" : "s");
    exit_code = 0;
    goto done;
  }

  if (mark_resets(p, o->reset, &err)) goto fail;
  exit_code = 1;
  if (mkdir_p(p->state_dir) < 0) {
    sl_buf_printf(&err, "cannot create the state folder %s: %s", p->state_dir, strerror(errno));
    goto fail;
  }
  if (uv_loop_init(&loop)) goto fail;
  loop_ready = 1;
  p->loop = &loop;
  pthread_mutex_init(&p->metrics_mu, NULL);
  p->admin_conf = o->admin;
  if (p->admin_conf && sl__admin_start(p)) {
    sl_buf_printf(&err, "cannot start the admin endpoint on %s", p->admin_conf->listen);
    goto fail;
  }
  pthread_mutex_init(&p->done_mu, NULL);
  uv_async_init(&loop, &p->done_async, on_done_async);
  p->done_async.data = p;

  sl_stage **lists[3] = {p->sinks, p->steps, p->sources};
  int counts[3] = {p->nsinks, p->nsteps, p->nsources};
  for (int l = 0; l < 3; l++) {
    if (l == 2 && preload_checkpoints(p, &err)) goto fail;
    for (int i = 0; i < counts[l]; i++) {
      sl_stage *st = lists[l][i];
      if (st->reset_state && sl__state_reset(st)) {
        sl_buf_printf(&err, "%s: %s: cannot reset its checkpoint; see the error above", st->where, st->name);
        goto fail;
      }
      st->inited = st->plugin != NULL;
      int rc = st->plugin && st->plugin->init ? st->plugin->init(st) : 0;
      if (rc) {
        if (rc == SL_EOPTION) exit_code = 2;   /* the pipeline's mistake, not the run's */
        sl_buf_printf(&err, "%s: %s: cannot start (%s); see the error above", st->where,
                      st->name, sl_strerror(rc));
        if (rc == SL_ESTATE) exit_code = SL_EXIT_STATE;
        goto fail;
      }
    }
  }
  /* Dead letters are JSON envelopes: a sink that writes JSON Lines (or raw
   * lines, which takes them as they are) keeps every detail; CSV would not. */
  const sl_codec *dc = p->sinks[p->nsinks - 1]->codec;
  if (!dc || dc == &sl_codec_csv) {
    exit_code = 2;
    sl_buf_printf(&err, "%s: the dead-letter sink must write JSON Lines (such as sl.file.sink { format = \"jsonl\" })",
                  p->sinks[p->nsinks - 1]->where);
    goto fail;
  }
  if (sl__workers_start(p, &err)) goto fail;

  uv_signal_init(&loop, &p->sig_term);
  uv_signal_init(&loop, &p->sig_int);
  p->sig_term.data = p->sig_int.data = p;
  uv_signal_start(&p->sig_term, on_signal, SIGTERM);
  uv_signal_start(&p->sig_int, on_signal, SIGINT);
  if (sl__reload_start(p)) goto fail;
  sl__signals_take();

  sl_log_info(NULL, "running %s: %d source%s, %d step%s, %d sink%s, %d worker%s; state in %s",
              o->file, p->nsources, p->nsources == 1 ? "" : "s", p->nsteps,
              p->nsteps == 1 ? "" : "s", p->nsinks - 1, p->nsinks == 2 ? "" : "s",
              p->set.workers, p->set.workers == 1 ? "" : "s", p->state_dir);
  p->run = SL_RUN_RUNNING;
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *st = p->sources[i];
    int rc = st->plugin->start ? st->plugin->start(st) : 0;
    if (rc) sl_stage_fatal(st, "cannot start: %s", sl_strerror(rc));
  }
  sl__flow_check_end(p);
  if (p->run != SL_RUN_DONE) uv_run(&loop, UV_RUN_DEFAULT);
  /* From here on no loop listens: a signal waits for the next run (a
   * reload), or is dropped with the process. */
  sl__signals_hold();
  sl__state_flush_all(p);

  uint64_t in = 0, dead = 0;
  for (int i = 0; i < p->nsources; i++) in += p->sources[i]->records_in;
  dead = p->sinks[p->nsinks - 1]->records_in;
  sl_log_info(NULL, "stopped: %llu records read, %llu dead-lettered",
              (unsigned long long)in, (unsigned long long)dead);
  exit_code = p->exit_code;
  if (exit_code == 0 && p->reload) exit_code = SL_EXIT_RELOAD;
  goto done;

fail:
  if (!err.len) sl_buf_puts(&err, "cannot start the pipeline (out of memory)");
  /* check's errors are for a person at a terminal: one plain line. */
  if (o->err_out) sl_buf_append(o->err_out, err.ptr, err.len);
  else if (o->check_only && !o->quiet) {
    sl_buf shown = SL_BUF_INIT;
    sl__secret_redact(&shown, err.ptr, err.len);
    fprintf(stderr, "sluice: %.*s\n", (int)shown.len, shown.ptr ? shown.ptr : "");
    sl_buf_free(&shown);
  }
  else sl_log_error(NULL, "%.*s", (int)err.len, err.ptr);
done:
  if (p->workers) sl__workers_stop(p->workers);
  {
    sl_stage **lists2[3] = {p->sources, p->steps, p->sinks};
    int counts2[3] = {p->nsources, p->nsteps, p->nsinks};
    for (int l = 0; l < 3; l++)
      for (int i = 0; i < counts2[l]; i++) {
        sl_stage *st = lists2[l][i];
        if (st->inited && st->plugin->destroy) st->plugin->destroy(st);
      }
  }
  /* Batches still in flight (a failed start): free them. */
  for (int i = 0; i < p->nsources; i++) {
    sl_batch *b = p->sources[i]->head;
    while (b) {
      sl_batch *next = b->next;
      sl__batch_free(b);
      b = next;
    }
  }
  if (loop_ready) {
    sl__reload_stop(p);
    sl__admin_stop(p);
    uv_walk(&loop, close_walk_cb, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    pthread_mutex_destroy(&p->done_mu);
    sl__metrics_free(p);
    pthread_mutex_destroy(&p->metrics_mu);
    sl__reload_free(p);
  }
  {
    sl_stage **lists3[3] = {p->sources, p->steps, p->sinks};
    int counts3[3] = {p->nsources, p->nsteps, p->nsinks};
    for (int l = 0; l < 3; l++) {
      for (int i = 0; i < counts3[l]; i++) free_stage(p, lists3[l][i]);
      free(lists3[l]);
    }
  }
  if (p->cfg) sl_lua_free(p->cfg);
  free_search_path(p->search_path);
  sl_buf_free(&err);
  free(p->name);
  free(p->file);
  free(p->dir);
  free(p->state_dir);
  free(p);
  return exit_code;
}
