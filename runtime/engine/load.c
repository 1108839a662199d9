/* Loading a pipeline: the file evaluated (once to learn its limits and
 * grants, then for good under them), its settings read, its stages made
 * from the descriptor with their options filled and checked, the
 * dead-letter sink added, the state folder named.  No plugin code runs
 * here: building (pipeline.c) calls init. */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/pipeline.h"
#include "sluice/clock.h"
#include "engine/state.h"
#include "sluice/log.h"

/* ---- paths ---- */

static void free_search_path(const char **sp) {
  for (size_t i = 0; sp && sp[i]; i++) free((char *)sp[i]);
  free(sp);
}

/* The folders require() looks in, or NULL when out of memory. */
static const char **make_search_path(const char *dir) {
  const char *extra = getenv("SLUICE_PLUGIN_PATH");
  char lua_dir[4096];
  sl__lua_dir(lua_dir, sizeof lua_dir, NULL);
  size_t n = 3;
  for (const char *c = extra; c && *c; c++) n += *c == ':';
  const char **sp = calloc(n + 2, sizeof *sp);
  if (!sp) return NULL;
  size_t i = 0;
  int lost = !(sp[i++] = strdup(dir));
  if (extra && *extra) {
    char *copy = strdup(extra), *save = NULL;
    lost |= !copy;
    for (char *tok = copy ? strtok_r(copy, ":", &save) : NULL; tok && !lost; tok = strtok_r(NULL, ":", &save))
      lost |= !(sp[i++] = strdup(tok));
    free(copy);
  }
  if (!lost) lost = !(sp[i++] = strdup(lua_dir));
  if (!lost) return sp;
  /* The list ends at its first NULL: free what came before it. */
  free_search_path(sp);
  return NULL;
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

static void free_stage(sl_pipeline *p, sl_stage *st);

/* The stage of the descriptor at desc, or NULL when out of memory.  An
 * option that is wrong is reported in err, with the stage returned. */
static sl_stage *new_stage(sl_pipeline *p, lua_State *L, int desc, sl_plugin_kind kind,
                           int index, const char *default_name, sl_buf *err) {
  sl_stage *st = p->building = calloc(1, sizeof *st);
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
  int lost = !st->where || !st->name;
  if (kind == SL_SOURCE) {
    lua_getfield(L, opts, "department");
    lua_getfield(L, opts, "feed");
    if (lua_isstring(L, -2)) lost |= !(st->department = strdup(lua_tostring(L, -2)));
    if (lua_isstring(L, -1)) lost |= !(st->feed = strdup(lua_tostring(L, -1)));
    lua_pop(L, 2);
  }
  if (lost) goto oom;
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
    if (!st->config) goto oom;
    if (sl_options_fill(L, opts, st->plugin->options, st->config, p->dir, err)) {
      lua_pop(L, 2);
      return st;
    }
  }
  if (st->plugin && st->plugin->priv_size) {
    st->priv = calloc(1, st->plugin->priv_size);
    if (!st->priv) goto oom;
  }
  if (st->plugin && kind == SL_SINK) {
    for (const sl_option *o = st->plugin->options; o && o->name; o++)
      if (o->flags & (SL_RECORD_FN | SL_RECORD_FIELD | SL_RECORD_MAP)) st->nattrs++;
    if (st->nattrs) {
      st->attr_opts = calloc((size_t)st->nattrs, sizeof *st->attr_opts);
      if (!st->attr_opts) goto oom;
      int k = 0;
      for (const sl_option *o = st->plugin->options; o->name; o++)
        if (o->flags & (SL_RECORD_FN | SL_RECORD_FIELD | SL_RECORD_MAP)) st->attr_opts[k++] = o;
    }
  }
  lua_pop(L, 2);
  return st;

oom:
  lua_pop(L, 2);
  free_stage(p, st);
  p->building = NULL;
  return NULL;
}

static void free_stage(sl_pipeline *p, sl_stage *st) {
  if (!st) return;
  lua_State *L = p->cfg ? sl_lua_state(p->cfg) : NULL;
  if (st->plugin && st->config) sl_options_free(L, st->plugin->options, st->config);
  sl__state_close(st);
  free(st->unlaned);
  free(st->attr_opts);
  free(st->config);
  free(st->priv);
  free(st->name);
  free(st->department);
  free(st->feed);
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
      st = p->building = calloc(1, sizeof *st);
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
      if (!st->name || !st->where) {
        free_stage(p, st);
        p->building = NULL;
        return SL_ENOMEM;
      }
    } else {
      st = new_stage(p, L, lua_gettop(L), kind, i, NULL, err);
      if (!st) return SL_ENOMEM;
    }
    lua_pop(L, 1);
    (*out)[(*nout)++] = st;
    p->building = NULL;
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

/* The stateful steps, each on a lane of its own; every source keeps, per
 * lane, its first batch not yet handed to it (flow.c). */
static int find_lanes(sl_pipeline *p, sl_buf *err) {
  for (int i = 0; i < p->nsteps; i++) {
    const sl_plugin *pl = p->steps[i]->plugin;
    if (!pl || !pl->stateful) continue;
    if (!pl->stateful->apply) {
      sl_buf_printf(err, "%s: plugin %s is stateful but has no apply", p->steps[i]->where, pl->name);
      return SL_EOPTION;
    }
    p->nlanes++;
  }
  if (!p->nlanes) return 0;
  p->lane_step = calloc((size_t)p->nlanes, sizeof *p->lane_step);
  if (!p->lane_step) return SL_ENOMEM;
  for (int i = 0, j = 0; i < p->nsteps; i++)
    if (p->steps[i]->plugin && p->steps[i]->plugin->stateful) p->lane_step[j++] = i;
  for (int i = 0; i < p->nsources; i++) {
    p->sources[i]->unlaned = calloc((size_t)p->nlanes, sizeof *p->sources[i]->unlaned);
    if (!p->sources[i]->unlaned) return SL_ENOMEM;
  }
  return 0;
}

static char *pipeline_name_from_file(const char *file) {
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  char *name = strdup(base);
  char *dot = name ? strrchr(name, '.') : NULL;
  if (dot && strcmp(dot, ".lua") == 0) *dot = 0;
  return name;
}

/* The state folder: <state root>/<name>, the root given, else
 * $SLUICE_STATE_DIR, else <pipeline folder>/.sluice. */
static char *state_dir_of(const sl_pipeline *p, const char *state_root) {
  char *root = NULL;
  if (state_root) root = strdup(state_root);
  else if (getenv("SLUICE_STATE_DIR")) root = strdup(getenv("SLUICE_STATE_DIR"));
  else {
    sl_buf sr = SL_BUF_INIT;
    sl_buf_printf(&sr, "%s/.sluice", p->dir);
    root = sl_buf_steal(&sr, NULL);
  }
  if (!root) return NULL;
  sl_buf sd = SL_BUF_INIT;
  sl_buf_printf(&sd, "%s/%s", root, p->name);
  free(root);
  return sl_buf_steal(&sd, NULL);
}

/* The dead-letter sink is always the last sink; without one in the
 * pipeline, dead letters go to <state folder>/dlq.jsonl, never nowhere. */
static int add_dlq(sl_pipeline *p, lua_State *L, int desc, sl_buf *err) {
  lua_getfield(L, desc, "dlq");
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
  sl_stage *dlq = new_stage(p, L, lua_gettop(L), SL_SINK, p->nsinks, "dlq", err);
  lua_pop(L, 1);
  p->building = NULL;
  if (!dlq || err->len) {
    free_stage(p, dlq);
    return SL_EOPTION;
  }
  dlq->is_dlq = 1;
  p->sinks[p->nsinks++] = dlq;
  return 0;
}

typedef struct settings_job {
  sl_pipeline_settings *set;
  int workers_override;
} settings_job;

/* [job, descriptor]: read_settings, protected (reading fields allocates). */
static int read_settings_lua(lua_State *L) {
  settings_job *j = lua_touserdata(L, 1);
  read_settings(L, 2, j->set, j->workers_override);
  return 0;
}

/* Evaluates the file in a probe state with the default sandbox and no
 * grant, to learn the pipeline's limits and grants.  A grant is what the
 * file says its scripts may do; nothing may use it before the file has said
 * so: `sluice check` of a file that grants nothing runs no command and
 * opens no file, whatever its top level tries (docs/pipelines.md).  A top
 * level that reaches for a granted library fails here, with a hint. */
static int probe_settings(sl_pipeline *p, const sl_run_opts *o, const sl_config_ctx *ctx,
                          sl_buf *err) {
  sl_lua_limits lim = {.memory_bytes = (size_t)256 << 20, .call_ms = SL_LOAD_MS};
  sl_lua_grants none = {0};
  sl_lua *probe = sl_lua_new(&lim, &none, p->search_path);
  if (!probe) return SL_ENOMEM;
  int rc = sl_config_open(sl_lua_state(probe), ctx, err);
  if (!rc) rc = sl_config_load(probe, o->file, &p->text, err);
  if (!rc) {
    settings_job job = {&p->set, o->workers};
    lua_pushvalue(sl_lua_state(probe), -1);
    rc = sl_lua_cpcall(probe, read_settings_lua, &job, 1, err);
  } else if (err->ptr && strstr(err->ptr, "a nil value (")) {
    err->len = strcspn(err->ptr, "\n");
    sl_buf_puts(err, " (the top level of a pipeline file runs once without grants before they are "
                     "known: use io, os and debug inside functions; docs/pipelines.md)");
  }
  sl_lua_free(probe);
  return rc;
}

/* Evaluates the file for good, under its own limits and grants, into
 * p->cfg; leaves the descriptor on that state's stack. */
static int evaluate(sl_pipeline *p, const sl_run_opts *o, const sl_config_ctx *ctx, sl_buf *err) {
  sl_lua_limits cfg_lim = p->set.limits;
  if (cfg_lim.call_ms < SL_LOAD_MS) cfg_lim.call_ms = SL_LOAD_MS;   /* evaluating the file may take a while */
  p->cfg = sl_lua_new(&cfg_lim, &p->set.grants, p->search_path);
  if (!p->cfg) return SL_ENOMEM;
  int rc = sl_config_open(sl_lua_state(p->cfg), ctx, err);
  if (!rc) rc = sl_config_load(p->cfg, o->file, &p->text, err);
  return rc;
}

/* The pipeline's name: its 'name', else its file's name. */
static int take_name(sl_pipeline *p, lua_State *L, int desc, const char *file, sl_buf *err) {
  lua_getfield(L, desc, "name");
  int named = lua_isstring(L, -1);
  p->name = named ? strdup(lua_tostring(L, -1)) : pipeline_name_from_file(file);
  lua_pop(L, 1);
  if (!p->name) return SL_ENOMEM;
  const char *problem = sl__pipeline_name_problem(p->name, strlen(p->name));
  if (!problem) return 0;
  /* sl.pipeline checked a name it was given; this catches one set later. */
  if (named) sl_buf_printf(err, "%s: the pipeline name %s, but it names a folder under the state root",
                           file, problem);
  else sl_buf_printf(err, "%s: the pipeline has no 'name', and the one its file name gives %s; "
                     "set name = \"...\" in sl.pipeline (no '/', no leading '.')", file, problem);
  return SL_EOPTION;
}

int sl__pipeline_text_read(const char *file, sl_buf *out, sl_buf *err) {
  FILE *f = fopen(file, "rb");
  if (!f) {
    sl_buf_printf(err, "%s: cannot open the pipeline file: %s", file, strerror(errno));
    return SL_EIO;
  }
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(out, chunk, n);
  int failed = ferror(f);
  fclose(f);
  if (failed) {
    sl_buf_printf(err, "%s: cannot read the pipeline file", file);
    return SL_EIO;
  }
  if (out->oom) {
    sl_buf_printf(err, "%s: out of memory reading the pipeline file", file);
    return SL_ENOMEM;
  }
  return 0;
}

typedef struct load_job {
  sl_pipeline *p;
  const sl_run_opts *o;
  sl_buf *err;
  int rc;
} load_job;

/* [job, descriptor]: the stages, the dead-letter sink and the checks across
 * them, with job->rc the result. */
static int load_stages(lua_State *L) {
  load_job *j = lua_touserdata(L, 1);
  sl_pipeline *p = j->p;
  sl_buf *err = j->err;
  const int desc = 2;
  int rc;
  if ((rc = take_name(p, L, desc, j->o->file, err))) goto done;
  if (!j->o->err_out) sl_log_set_pipeline(p->name);

  if (build_list(p, L, desc, "sources", SL_SOURCE, &p->sources, &p->nsources, 0, err) ||
      build_list(p, L, desc, "steps", SL_STEP, &p->steps, &p->nsteps, 0, err) ||
      build_list(p, L, desc, "sinks", SL_SINK, &p->sinks, &p->nsinks, 1, err)) {
    if (!err->len) sl_buf_puts(err, "out of memory");
    rc = SL_EOPTION;
    goto done;
  }
  if ((rc = find_lanes(p, err))) goto done;
  p->state_dir = state_dir_of(p, j->o->state_root);
  if (!p->state_dir) {
    rc = SL_ENOMEM;
    goto done;
  }
  if ((rc = add_dlq(p, L, desc, err))) {
    if (!err->len) sl_buf_puts(err, "out of memory");
    goto done;
  }
  if ((rc = check_unique_names(p, err))) goto done;
  lua_getfield(L, desc, "where");
  rc = check_exactly_once(p, lua_isstring(L, -1) ? lua_tostring(L, -1) : p->file, err);
done:
  j->rc = rc;
  return 0;
}

int sl__pipeline_load(sl_pipeline *p, const sl_run_opts *o, sl_buf *err) {
  p->file = strdup(o->file);
  p->carry = o->carry;
  if (!p->file) return SL_ENOMEM;
  struct stat sb;
  if (stat(o->file, &sb) < 0) {
    sl_buf_printf(err, "%s: cannot open the pipeline file: %s", o->file, strerror(errno));
    return SL_EIO;
  }
  /* Read once: the probe, the loop thread's state and each worker's
   * evaluate the same text, even if the file is rewritten while they load. */
  if (o->text) {
    sl_buf_append(&p->text, o->text->ptr ? o->text->ptr : "", o->text->len);
    if (p->text.oom) return SL_ENOMEM;
  } else {
    int rc = sl__pipeline_text_read(o->file, &p->text, err);
    if (rc) return rc;
  }
  char real[PATH_MAX];
  if (!realpath(o->file, real)) {
    sl_buf_printf(err, "%s: %s", o->file, strerror(errno));
    return SL_EIO;
  }
  char *slash = strrchr(real, '/');
  *slash = 0;
  p->dir = strdup(real[0] ? real : "/");
  p->search_path = p->dir ? make_search_path(p->dir) : NULL;
  if (!p->search_path) return SL_ENOMEM;
  sl_config_ctx ctx = {.pipeline_dir = p->dir, .search_path = p->search_path,
                       .check_only = o->check_only};
  int rc = probe_settings(p, o, &ctx, err);
  if (!rc) rc = evaluate(p, o, &ctx, err);
  if (rc) return rc;
  /* The stages are made from the descriptor by C code that calls Lua
   * (fields, options, references): protected, so that running out of memory
   * there is an error rather than a panic. */
  lua_State *L = sl_lua_state(p->cfg);
  if (!lua_checkstack(L, 3)) return SL_ENOMEM;
  load_job job = {p, o, err, 0};
  lua_pushvalue(L, -1);
  sl_buf lua_err = SL_BUF_INIT;
  if (sl_lua_cpcall(p->cfg, load_stages, &job, 1, &lua_err)) {
    if (!err->len) sl_buf_puts(err, sl_buf_text(&lua_err));
    sl_buf_free(&lua_err);
    return SL_ELUA;
  }
  if (job.rc) return job.rc;
  /* What runs in this state from now on (template functions, Lua plugins)
   * runs on the loop thread, under the pipeline's own budget. */
  return sl_lua_set_call_ms(p->cfg, p->set.limits.call_ms);
}

int sl__pipeline_keep_steps(sl_pipeline *p, int first, int last, sl_buf *err) {
  if (first < 0) first = 0;
  if (last >= p->nsteps) last = p->nsteps - 1;
  if (first == 0 && last == p->nsteps - 1) return 0;
  for (int i = 0; i < p->nsteps; i++)
    if (i < first || i > last) free_stage(p, p->steps[i]);
  int kept = last >= first ? last - first + 1 : 0;
  memmove(p->steps, p->steps + first, (size_t)kept * sizeof *p->steps);
  p->steps[kept] = NULL;
  p->nsteps = kept;
  /* The lanes are found again among the steps left; a step keeps its
   * index, its place in the file, where the workers find its function. */
  free(p->lane_step);
  p->lane_step = NULL;
  p->nlanes = 0;
  for (int i = 0; i < p->nsources; i++) {
    free(p->sources[i]->unlaned);
    p->sources[i]->unlaned = NULL;
  }
  return find_lanes(p, err);
}

void sl__pipeline_unload(sl_pipeline *p) {
  free_stage(p, p->building);
  sl_stage **lists[3] = {p->sources, p->steps, p->sinks};
  int counts[3] = {p->nsources, p->nsteps, p->nsinks};
  for (int l = 0; l < 3; l++) {
    for (int i = 0; i < counts[l]; i++) free_stage(p, lists[l][i]);
    free(lists[l]);
  }
  if (p->cfg) sl_lua_free(p->cfg);
  free(p->lane_step);
  free_search_path(p->search_path);
  free(p->name);
  free(p->file);
  sl_buf_free(&p->text);
  free(p->dir);
  free(p->state_dir);
  free(p);
}
