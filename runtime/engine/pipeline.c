/* A pipeline's life: load the file (load.c), then build (the state folder,
 * the loop, the stages' init, the workers, the signals), run the loop until
 * every source has finished and every batch is durable (or a signal asked
 * for a stop), and tear down.  sl_pipeline_main is that sequence. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "engine/tap.h"
#include "catalog/catalog_int.h"
#include "core/secrets.h"
#include "engine/batch.h"
#include "engine/flow.h"
#include "engine/lane_input.h"
#include "engine/lanes.h"
#include "engine/metrics.h"
#include "engine/pipeline.h"
#include "engine/state.h"
#include "engine/workers.h"
#include "sluice/log.h"

/* ---- build ---- */

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

/* The exit code for a stage whose init (or restore) returned rc. */
static int init_failed(sl_stage *st, int rc, const char *what, sl_buf *err) {
  sl_buf_printf(err, "%s: %s: %s (%s); see the error above", st->where, st->name, what,
                sl_strerror(rc));
  if (rc == SL_EOPTION) return 2;   /* the pipeline's mistake, not the run's */
  return rc == SL_ESTATE ? SL_EXIT_STATE : 1;
}

/* Stateful steps rebuild their state from where their results are durable
 * (sluice/stateful.h): after the sinks' and steps' init, before any source
 * exists to emit.  0, or the exit code with the reason in err. */
static int restore_stateful(sl_pipeline *p, sl_buf *err) {
  /* Under sluice test every case starts from nothing, and the tables a
   * restore reads are a service's. */
  if (p->testing) return 0;
  for (int j = 0; j < p->nlanes; j++) {
    sl_stage *st = p->steps[p->lane_step[j]];
    if (!st->plugin->stateful->restore) continue;
    int rc = st->plugin->stateful->restore(st);
    if (rc) return init_failed(st, rc, "cannot restore its state", err);
  }
  return 0;
}

/* Inits the stages: sinks first, then steps (and the stateful ones'
 * restore), then sources (which may emit at once).  0, or the exit code
 * with the reason in err. */
static int init_stages(sl_pipeline *p, sl_buf *err) {
  int code;
  sl_stage **lists[3] = {p->sinks, p->steps, p->sources};
  int counts[3] = {p->nsinks, p->nsteps, p->nsources};
  for (int l = 0; l < 3; l++) {
    if (l == 2 && preload_checkpoints(p, err)) return 1;
    for (int i = 0; i < counts[l]; i++) {
      sl_stage *st = lists[l][i];
      if (st->reset_state && sl__state_reset(st)) {
        sl_buf_printf(err, "%s: %s: cannot reset its checkpoint; see the error above", st->where, st->name);
        return 1;
      }
      st->inited = st->plugin != NULL;
      int rc = st->plugin && st->plugin->init ? st->plugin->init(st) : 0;
      if (rc) return init_failed(st, rc, "cannot start", err);
    }
    if (l == 1 && (code = restore_stateful(p, err))) return code;
  }
  /* Dead letters are JSON envelopes: a sink that writes JSON Lines (or raw
   * lines, which takes them as they are) keeps every detail; CSV would not. */
  const sl_codec *dc = p->sinks[p->nsinks - 1]->codec;
  if (!dc || dc == &sl_codec_csv) {
    sl_buf_printf(err, "%s: the dead-letter sink must write JSON Lines (such as sl.file.sink { format = \"jsonl\" })",
                  p->sinks[p->nsinks - 1]->where);
    return 2;
  }
  return 0;
}

/* Emitted batches go to the worker pool, or, in the phase of a stateful
 * step, to its lane... */
static void submit_to_workers(sl_pipeline *p, sl_batch *b) {
  if (b->phase % 2) sl__lanes_submit(p->lanes, b);
  else sl__workers_submit(p->workers, b);
}

/* ...and come back on that thread: queued for the loop thread. */
static void hand_back(sl_pipeline *p, sl_batch *b) {
  pthread_mutex_lock(&p->done_mu);
  sl__batch_enqueue(&p->done_head, &p->done_tail, b);
  pthread_mutex_unlock(&p->done_mu);
  uv_async_send(&p->done_async);
}

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
  sl__flow_drain(p);
}

/* Everything a run needs, on the given loop.  0, or the exit code with the
 * reason in err; what was built is torn down by teardown. */
static int build(sl_pipeline *p, const sl_run_opts *o, uv_loop_t *loop, sl_buf *err) {
  if (mark_resets(p, o->reset, err)) return 2;
  if (mkdir_p(p->state_dir) < 0) {
    sl_buf_printf(err, "cannot create the state folder %s: %s", p->state_dir, strerror(errno));
    return 1;
  }
  if (uv_loop_init(loop)) return 1;
  p->loop = loop;
  pthread_mutex_init(&p->metrics_mu, NULL);
  pthread_mutex_init(&p->done_mu, NULL);
  p->submit = submit_to_workers;
  p->state_hooks = &sl__flow_state_hooks;
  p->admin_conf = o->admin;
  if (p->admin_conf && sl__admin_start(p)) {
    sl_buf_printf(err, "cannot start the admin endpoint on %s", p->admin_conf->listen);
    return 1;
  }
  uv_async_init(loop, &p->done_async, on_done_async);
  p->done_async.data = p;
  int code = init_stages(p, err);
  if (code) return code;
  /* The lane sources exist before the lane threads that compare with them. */
  if (sl__workers_start(p, hand_back, err)) return 1;
  int rc = sl__lane_input_start(p, err);
  if (rc) return rc == SL_ESTATE ? SL_EXIT_STATE : 1;
  if (sl__lanes_start(p, hand_back, err)) return 1;
  uv_signal_init(loop, &p->sig_term);
  uv_signal_init(loop, &p->sig_int);
  p->sig_term.data = p->sig_int.data = p;
  uv_signal_start(&p->sig_term, on_signal, SIGTERM);
  uv_signal_start(&p->sig_int, on_signal, SIGINT);
  if (sl__reload_start(p)) return 1;
  sl__signals_take();
  return 0;
}

/* ---- check (sluice check) ---- */

/* [summary]: appends the catalog's summary to the sl_buf, if the file was
 * a catalog.  Protected: the key is a string, which may allocate. */
static int read_catalog_summary(lua_State *L) {
  sl_buf *summary = lua_touserdata(L, 1);
  size_t n;
  if (lua_getfield(L, LUA_REGISTRYINDEX, SL_CATALOG_SUMMARY_KEY) == LUA_TSTRING) {
    const char *s = lua_tolstring(L, -1, &n);
    sl_buf_append(summary, s, n);
  }
  return 0;
}

/* The plugins' own deeper checks (their errors are logged), then the
 * summary line.  The exit code, with the reason in err. */
static int check(sl_pipeline *p, const sl_run_opts *o, sl_buf *err) {
  sl_stage **cl[3] = {p->sources, p->steps, p->sinks};
  int cn[3] = {p->nsources, p->nsteps, p->nsinks};
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < cn[l]; i++) {
      sl_stage *st = cl[l][i];
      int rc = st->plugin && st->plugin->check ? st->plugin->check(st) : 0;
      if (rc) {
        /* A plugin that ran out of memory may not have said so. */
        sl_buf_printf(err, "%s: %s: %s", st->where, st->name,
                      rc == SL_ENOMEM ? "out of memory" : "invalid options (see above)");
        return 2;
      }
    }
  sl_buf summary = SL_BUF_INIT;
  if (p->cfg && sl_lua_cpcall(p->cfg, read_catalog_summary, &summary, 0, err)) return 2;
  if (summary.oom) {
    sl_buf_free(&summary);
    return 2;   /* reported as out of memory */
  }
  const char *catalog = summary.len ? sl_buf_text(&summary) : NULL;
  if (o->json) {
    sl_buf j = SL_BUF_INIT;
    sl_buf_puts(&j, "{\"file\":");
    sl_buf_json_string(&j, o->file, strlen(o->file));
    sl_buf_printf(&j, ",\"ok\":true,\"exit_code\":0,\"kind\":\"%s\",\"name\":", catalog ? "catalog" : "pipeline");
    sl_buf_json_string(&j, p->name, strlen(p->name));
    if (catalog) {
      sl_buf_puts(&j, ",\"summary\":");
      sl_buf_json_string(&j, catalog, strlen(catalog));
    } else {
      sl_buf_printf(&j, ",\"sources\":%d,\"steps\":%d,\"sinks\":%d", p->nsources, p->nsteps, p->nsinks - 1);
    }
    sl_buf_puts(&j, "}\n");
    fwrite(j.ptr, 1, j.len, stdout);
    sl_buf_free(&j);
  } else if (!o->quiet && catalog) printf("%s: ok: %s\n", o->file, catalog);
  else if (!o->quiet)
    printf("%s: ok: pipeline '%s' with %d source%s, %d step%s, %d sink%s and a dead-letter sink\n",
           o->file, p->name, p->nsources, p->nsources == 1 ? "" : "s", p->nsteps,
           p->nsteps == 1 ? "" : "s", p->nsinks - 1, p->nsinks == 2 ? "" : "s");
  sl_buf_free(&summary);
  return 0;
}

/* ---- run ---- */

/* Starts the sources and runs the loop to the end; the exit code. */
static int run(sl_pipeline *p, const sl_run_opts *o) {
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
  if (p->run != SL_RUN_DONE) sl__service_ready(p);
  if (p->run != SL_RUN_DONE) uv_run(p->loop, UV_RUN_DEFAULT);
  /* From here on no loop listens: a signal waits for the next run (a
   * reload), or is dropped with the process. */
  sl__signals_hold();
  sl__state_flush_all(p);

  uint64_t in = 0, dead = 0;
  for (int i = 0; i < p->nsources; i++) in += p->sources[i]->records_in;
  dead = p->sinks[p->nsinks - 1]->records_in;
  sl_log_info(NULL, "stopped: %llu records read, %llu dead-lettered",
              (unsigned long long)in, (unsigned long long)dead);
  if (p->exit_code == 0 && p->reload) {
    sl__reload_hand_over(p);
    return SL_EXIT_RELOAD;
  }
  return p->exit_code;
}

/* ---- tear-down ---- */

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Undoes whatever build got to (it may have stopped half-way), then what
 * load made, p included. */
static void teardown(sl_pipeline *p) {
  if (p->workers) sl__workers_stop(p->workers);
  sl__lanes_stop(p->lanes);
  sl_stage **lists[3] = {p->sources, p->steps, p->sinks};
  int counts[3] = {p->nsources, p->nsteps, p->nsinks};
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < counts[l]; i++) {
      sl_stage *st = lists[l][i];
      if (st->inited && st->plugin->destroy) st->plugin->destroy(st);
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
  if (p->loop) {
    sl__reload_stop(p);
    sl__admin_stop(p);
    sl__lane_input_stop(p);
    uv_walk(p->loop, close_walk_cb, NULL);
    /* A uv_stop made outside uv_run (a stage that failed to start) makes
     * the next uv_run return at once: run until the closes are done. */
    while (uv_run(p->loop, UV_RUN_DEFAULT)) {
    }
    uv_loop_close(p->loop);
    pthread_mutex_destroy(&p->done_mu);
    sl__metrics_free(p);
    pthread_mutex_destroy(&p->metrics_mu);
    sl__reload_free(p);
    sl__taps_free(p);
  }
  sl__lane_input_free(p);
  sl__pipeline_unload(p);
}

/* Why the pipeline could not start (or is invalid), where it is wanted. */
static void report(const sl_run_opts *o, sl_buf *err, int code) {
  /* A reason that could not be written whole (or at all) ran out of memory
   * itself: say that, from memory that needs no allocation. */
  static const char oom[] = "cannot start the pipeline: out of memory";
  const char *why = err->ptr;
  size_t why_len = err->len;
  if (!why_len || err->oom) why = oom, why_len = sizeof oom - 1;
  if (o->check_only && o->json) {
    sl_buf shown = SL_BUF_INIT, j = SL_BUF_INIT;
    sl__secret_redact(&shown, why, why_len);
    sl_buf_puts(&j, "{\"file\":");
    sl_buf_json_string(&j, o->file, strlen(o->file));
    sl_buf_printf(&j, ",\"ok\":false,\"exit_code\":%d,\"error\":", code);
    if (shown.oom) sl_buf_json_string(&j, oom, sizeof oom - 1);
    else sl_buf_json_string(&j, shown.ptr ? shown.ptr : "", shown.len);
    sl_buf_puts(&j, "}\n");
    if (j.oom) fprintf(stderr, "sluice: %s\n", oom);
    else fwrite(j.ptr, 1, j.len, stdout);
    sl_buf_free(&j);
    sl_buf_free(&shown);
  }
  /* check's errors are for a person at a terminal: one plain line. */
  if (o->err_out) {
    sl_buf_append(o->err_out, why, why_len);
  } else if (o->check_only && !o->quiet) {
    sl_buf shown = SL_BUF_INIT;
    sl__secret_redact(&shown, why, why_len);
    if (shown.oom) fprintf(stderr, "sluice: %s\n", oom);
    else fprintf(stderr, "sluice: %.*s\n", (int)shown.len, shown.ptr ? shown.ptr : "");
    sl_buf_free(&shown);
  } else {
    sl_log_error(NULL, "%.*s", (int)why_len, why);
  }
}

int sl_pipeline_main(const sl_run_opts *o) {
  sl_pipeline *p = calloc(1, sizeof *p);
  if (!p) {
    sl_buf none = SL_BUF_INIT;
    report(o, &none, 1);   /* says out of memory */
    return 1;
  }
  /* A stop or reload signal that comes before this run listens waits for it. */
  if (!o->check_only) sl__signals_hold();
  sl_buf err = SL_BUF_INIT;
  uv_loop_t loop;
  int code = sl__pipeline_load(p, o, &err) ? 2 : 0;
  int ran = 0;
  if (!code && o->hooks) {
    p->testing = 1;
    code = o->hooks->loaded(p, o->hooks->ud, &err) ? 2 : 0;
  }
  if (!code && o->check_only) {
    code = check(p, o, &err);
  } else if (!code) {
    code = build(p, o, &loop, &err);
    if (!code) {
      code = run(p, o);
      ran = 1;
      if (o->hooks && o->hooks->ran) o->hooks->ran(p, o->hooks->ud);
    }
  }
  if (code && !ran) report(o, &err, code);
  teardown(p);
  sl_buf_free(&err);
  return code;
}
