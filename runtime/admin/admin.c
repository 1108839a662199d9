/* The admin endpoint: /metrics (Prometheus text), /health (the process and
 * its loop answer, no worker stuck), /ready (running, not draining, no
 * worker stuck), /status (JSON). */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/http.h"
#include "engine/metrics.h"
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

static void status_json(sl_pipeline *p, sl_buf *b) {
  sl_buf_puts(b, "{\"pipeline\":");
  sl_buf_json_string(b, p->name, strlen(p->name));
  sl_buf_printf(b, ",\"state\":\"%s\",\"inflight_records\":%llu,\"inflight_bytes\":%llu,"
                   "\"paused\":%s,\"dropped\":%llu,\"sources\":[",
                run_name(p->run), (unsigned long long)p->inflight_records,
                (unsigned long long)p->inflight_bytes, p->flow_paused ? "true" : "false",
                (unsigned long long)p->records_dropped);
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *s = p->sources[i];
    sl_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    sl_buf_json_string(b, s->name, strlen(s->name));
    sl_buf_printf(b, ",\"plugin\":\"%s\",\"read\":%llu,\"acked\":%llu,\"paused\":%s,\"finished\":%s}",
                  s->plugin->name, (unsigned long long)s->records_in,
                  (unsigned long long)s->records_acked, s->paused ? "true" : "false",
                  s->finished ? "true" : "false");
  }
  sl_buf_puts(b, "],\"sinks\":[");
  for (int i = 0; i < p->nsinks; i++) {
    sl_stage *s = p->sinks[i];
    sl_buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    sl_buf_json_string(b, s->name, strlen(s->name));
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

static int handle(void *data, const char *path, sl_buf *body, const char **type) {
  sl_pipeline *p = data;
  if (strcmp(path, "/metrics") == 0) {
    *type = "text/plain; version=0.0.4; charset=utf-8";
    sl__metrics_expose(p, body);
    return 200;
  }
  if (strcmp(path, "/health") == 0) {
    if (worker_stuck(p, body)) return 503;
    sl_buf_puts(body, "ok\n");
    return 200;
  }
  if (strcmp(path, "/ready") == 0) {
    if (worker_stuck(p, body)) return 503;
    int ready = p->run == SL_RUN_RUNNING;
    sl_buf_printf(body, "%s\n", ready ? "ready" : run_name(p->run));
    return ready ? 200 : 503;
  }
  if (strcmp(path, "/status") == 0) {
    *type = "application/json";
    status_json(p, body);
    return 200;
  }
  sl_buf_puts(body, "not found: try /metrics, /health, /ready, /status\n");
  return 404;
}

int sl__admin_start(sl_pipeline *p) {
  int rc = sl_http_start(p->loop, p->admin_listen, handle, p, &p->admin);
  if (rc) {
    sl_log_error(NULL, "cannot serve the admin endpoint on %s: %s", p->admin_listen, uv_strerror(rc));
    return SL_EIO;
  }
  sl_log_info(NULL, "admin endpoint on http://%s (/metrics /health /ready /status)", p->admin_listen);
  return 0;
}

void sl__admin_stop(sl_pipeline *p) {
  sl_http_stop(p->admin);
  p->admin = NULL;
}
