/* The admin endpoint: /metrics (Prometheus text), /health (the process and
 * its loop answer, no worker stuck), /ready (running, not draining, no
 * worker stuck), /status (JSON), and who may ask for what. */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/admin_routes.h"
#include "admin/http.h"
#include "core/secrets.h"
#include "engine/metrics.h"
#include "engine/workers.h"
#include "sluice/log.h"

static const char *run_name(sl_run_state r) {
  switch (r) {
    case SL_RUN_STARTING: return "starting";
    case SL_RUN_RUNNING: return "running";
    case SL_RUN_DRAINING: return "draining";
    case SL_RUN_FLUSHING: return "flushing";
    case SL_RUN_DONE: return "stopped";
  }
  return "?";
}

/* A name as a JSON string; a value read with sl.env shows as its name. */
static void put_name(sl_buf *b, const char *name) {
  sl_buf shown = SL_BUF_INIT;
  sl__secret_redact(&shown, name, strlen(name));
  sl_buf_json_string(b, shown.ptr ? shown.ptr : "", shown.len);
  sl_buf_free(&shown);
}

static void status_json(sl_pipeline *p, sl_buf *b) {
  sl_buf_puts(b, "{\"pipeline\":");
  put_name(b, p->name);
  sl_buf_printf(b, ",\"state\":\"%s\",\"inflight_records\":%llu,\"inflight_bytes\":%llu,"
                   "\"paused\":%s,\"dropped\":%llu,\"taps\":%d,\"sources\":[",
                run_name(p->run), (unsigned long long)p->inflight_records,
                (unsigned long long)p->inflight_bytes, p->flow_paused ? "true" : "false",
                (unsigned long long)p->records_dropped, atomic_load(&p->ntaps));
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *s = p->sources[i];
    sl_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    put_name(b, s->name);
    sl_buf_printf(b, ",\"plugin\":\"%s\",\"read\":%llu,\"acked\":%llu,\"paused\":%s,\"finished\":%s}",
                  s->plugin->name, (unsigned long long)s->records_in,
                  (unsigned long long)s->records_acked, s->paused ? "true" : "false",
                  s->finished ? "true" : "false");
  }
  sl_buf_puts(b, "],\"steps\":[");
  for (int i = 0; i < p->nsteps; i++) {
    sl_stage *s = p->steps[i];
    sl_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    put_name(b, s->name);
    sl_buf_printf(b, ",\"plugin\":\"%s\"}", s->plugin ? s->plugin->name : "lua");
  }
  sl_buf_puts(b, "],\"sinks\":[");
  for (int i = 0; i < p->nsinks; i++) {
    sl_stage *s = p->sinks[i];
    sl_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    put_name(b, s->name);
    sl_buf_printf(b, ",\"plugin\":\"%s\",\"written\":%llu,\"rejected\":%llu,\"dead_letters\":%s}",
                  s->plugin->name, (unsigned long long)s->records_done,
                  (unsigned long long)s->records_failed, s->is_dlq ? "true" : "false");
  }
  sl_buf_puts(b, "]}\n");
}

/* A worker is stuck when one Lua call has run for more than twice its
 * budget: the watchdog stops Lua code within 1.25 x call_ms, so such a call
 * is inside a C function that the budget cannot interrupt (a pathological
 * string.find).  Writes why into body and returns 1 if one is. */
static int worker_stuck(sl_pipeline *p, sl_buf *body) {
  uint32_t budget = p->set.limits.call_ms;
  int id = 0;
  int64_t age = sl__workers_longest_call(p->workers, &id);
  if (!budget || age <= 2 * (int64_t)budget + 100) return 0;
  sl_buf_printf(body, "stuck: worker.%d has been in one Lua call for %lld ms (budget %u ms)\n", id,
                (long long)age, budget);
  return 1;
}

static int authorized(const sl_admin_conf *c, const char *authorization) {
  return !c->token || sl_http_bearer_ok(c->token, authorization);
}

/* A page a step's plugin serves (sl_plugin_page): the first step whose
 * page is path or holds it.  1 when served. */
static int plugin_page(sl_pipeline *p, const char *path, sl_http_resp *r) {
  for (int i = 0; i < p->nsteps; i++) {
    sl_stage *st = p->steps[i];
    if (!st->plugin || !st->plugin->pages || !st->inited) continue;
    for (const sl_plugin_page *pg = st->plugin->pages; pg->path; pg++) {
      size_t n = strlen(pg->path);
      if (strncmp(path, pg->path, n) || (path[n] && path[n] != '/')) continue;
      r->type = "text/plain; charset=utf-8";
      r->status = pg->serve(st, path, &r->body, &r->type);
      return 1;
    }
  }
  return 0;
}

/* /health and /ready stay open: load balancers and kubelets probe them
 * without credentials, and they tell nothing but up and ready.  The rest
 * (counters, stage names) needs the token when there is one. */
static void handle(void *data, const sl_http_req *req, sl_http_resp *r) {
  sl_pipeline *p = data;
  const char *path = req->path;
  if (strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0) {
    if (strcmp(req->method, "GET") != 0) {
      r->status = 405;
      r->headers = "Allow: GET\r\n";
      sl_buf_puts(&r->body, "only GET here\n");
      return;
    }
  }
  if (strcmp(path, "/health") == 0) {
    if (worker_stuck(p, &r->body)) {
      r->status = 503;
      return;
    }
    sl_buf_puts(&r->body, "ok\n");
    return;
  }
  if (strcmp(path, "/ready") == 0) {
    if (worker_stuck(p, &r->body)) {
      r->status = 503;
      return;
    }
    int ready = p->run == SL_RUN_RUNNING;
    sl_buf_printf(&r->body, "%s\n", ready ? "ready" : run_name(p->run));
    r->status = ready ? 200 : 503;
    return;
  }
  if (!authorized(p->admin_conf, req->authorization)) {
    r->status = 401;
    r->headers = "WWW-Authenticate: Bearer realm=\"sluice\"\r\n";
    sl_buf_puts(&r->body, "unauthorized: send Authorization: Bearer <token>\n");
    return;
  }
  if (strcmp(path, "/tap") == 0) {
    sl__admin_tap(p, req, r);
    return;
  }
  if (strcmp(path, "/reload") == 0) {
    sl__admin_reload(p, req, r);
    return;
  }
  if (strcmp(req->method, "GET") != 0) {
    r->status = 405;
    r->headers = "Allow: GET\r\n";
    sl_buf_puts(&r->body, "only GET here; POST is for /reload\n");
    return;
  }
  if (strcmp(path, "/metrics") == 0) {
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    sl__metrics_expose(p, &r->body);
    return;
  }
  if (strcmp(path, "/status") == 0) {
    r->type = "application/json";
    status_json(p, &r->body);
    return;
  }
  if (plugin_page(p, path, r)) return;
  sl_buf_puts(&r->body, "not found: try /metrics, /health, /ready, /status, /tap, POST /reload");
  for (int i = 0; i < p->nsteps; i++)
    for (const sl_plugin_page *pg = p->steps[i]->plugin ? p->steps[i]->plugin->pages : NULL; pg && pg->path; pg++)
      sl_buf_printf(&r->body, ", %s", pg->path);
  sl_buf_putc(&r->body, '\n');
  r->status = 404;
}

int sl__admin_start(sl_pipeline *p) {
  const sl_admin_conf *c = p->admin_conf;
  int rc = sl_http_start(p->loop, c->addrs, c->naddrs, c->fds, c->max_conns, handle, p, &p->admin);
  if (rc) {
    sl_log_error(NULL, "cannot serve the admin endpoint on %s: %s", c->listen, uv_strerror(rc));
    return SL_EIO;
  }
  sl_log_info(NULL, "admin endpoint on http://%s (/metrics /health /ready /status /tap /reload; %s; "
                    "at most %d connections)",
              c->listen,
              c->token ? "all but /health and /ready need the bearer token" : "no token",
              c->max_conns);
  return 0;
}

void sl__admin_stop(sl_pipeline *p) {
  sl_http_stop(p->admin);
  p->admin = NULL;
}
