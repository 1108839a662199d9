/* POST /reload: checks the pipeline file as SIGHUP does and answers with
 * the verdict once it is known (`sluice reload`): 200 valid (the pipeline
 * drains and runs the new file), 422 not valid (the check's error, with
 * its file and line), 503 the check could not run or end in time, or the
 * pipeline is not running, 409 a reload is already draining. */
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/admin_routes.h"
#include "admin/http.h"

/* The time the answer may take beyond the check's own budget. */
#define SLACK_MS 5000

/* One request waiting for its verdict. */
typedef struct reload_req {
  sl_pipeline *p;
  sl_http_later *l;
} reload_req;

static void on_verdict(void *arg, int rc, const char *why, size_t n) {
  reload_req *q = arg;
  int status = rc == 0 ? 200 : rc == 2 ? 422 : 503;
  sl_http_answer(q->l, status, "text/plain; charset=utf-8", why, n);
  free(q);
}

/* The client left, or its deadline passed: the verdict has no one to go to. */
static void on_gone(void *arg) {
  reload_req *q = arg;
  sl__reload_cancel(q->p, q);
  free(q);
}

void sl__admin_reload(sl_pipeline *p, const sl_http_req *req, sl_http_resp *r) {
  if (strcmp(req->method, "POST") != 0) {
    r->status = 405;
    r->headers = "Allow: POST\r\n";
    sl_buf_puts(&r->body, "reload with POST /reload\n");
    return;
  }
  reload_req *q = calloc(1, sizeof *q);
  sl_http_later_cbs cbs = {.gone = on_gone};
  int ms = (int)(sl__reload_budget_ms(p) + SLACK_MS);
  if (!q || !(q->l = sl_http_defer(req, ms, &cbs, q))) {
    free(q);
    r->status = 503;
    sl_buf_puts(&r->body, "out of memory\n");
    return;
  }
  q->p = p;
  int rc = sl__reload_request(p, on_verdict, q);
  if (rc == 0) return;
  const char *why = rc == SL_EAGAIN ? "a reload is already under way: the pipeline is draining\n"
                  : rc == SL_ECLOSED ? "the pipeline is not running\n"
                                     : "out of memory\n";
  sl_http_answer(q->l, rc == SL_EAGAIN ? 409 : 503, "text/plain; charset=utf-8", why, strlen(why));
  free(q);
}
