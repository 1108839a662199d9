/* SIGHUP: reload the pipeline file.  The new file is loaded and checked on
 * a thread of its own, with its own Lua states, so a file whose top level
 * runs long (or never ends) cannot stop the live pipeline: records, /health
 * and signals go on while it is checked.  A valid file: drain as for
 * SIGTERM, then sl_pipeline_main returns SL_EXIT_RELOAD and runs it again.
 * A file that is not valid, or whose check is still running after its time
 * budget: say why and go on with the old pipeline.  A SIGHUP during a check
 * is kept, and the newest file is checked once the current check ends.
 *
 * The check reads the file once, and the reload runs the text it found
 * valid, not the file as it is after the drain: a file rewritten (broken)
 * meanwhile cannot take the service down.  A SIGHUP during the drain is
 * kept too: the new run checks the file as soon as it starts.
 *
 * POST /reload on the admin endpoint (sl__reload_request) starts the same
 * check and waits for its verdict: a request made while a check runs is
 * answered by the check after it, as a SIGHUP then would be. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"
#include "engine/flow.h"
#include "sluice/log.h"

/* One check.  The loop thread and the check thread share it under mu; the
 * one that finds the other gone frees it (abandoned: the loop no longer
 * waits; finished: the thread no longer touches it). */
typedef struct check_job {
  pthread_mutex_t mu;
  int abandoned;
  int finished;
  int rc;                      /* sl_pipeline_main's exit code for the check */
  sl_buf err;                  /* why the file is not valid */
  sl_buf text;                 /* the file's text as read for the check */
  char *file;
  uv_async_t *done;            /* signalled once finished, unless abandoned */
} check_job;

/* One request waiting for a verdict (sl__reload_request). */
typedef struct waiter {
  sl_reload_cb cb;
  void *arg;
  int next;                    /* waits for the check after the current one */
  struct waiter *link;
} waiter;

struct sl_reload {
  sl_pipeline *p;
  waiter *waiters;
  uv_signal_t sig_hup;
  uv_async_t done;
  uv_timer_t timer;            /* the check's time budget */
  check_job *job;              /* the check in progress, or NULL */
  int again;                   /* a SIGHUP came during the check */
  sl_buf text;                 /* what the check that started the drain found valid */
};

static void job_free(check_job *j) {
  pthread_mutex_destroy(&j->mu);
  sl_buf_free(&j->err);
  sl_buf_free(&j->text);
  free(j->file);
  free(j);
}

static void *check_main(void *arg) {
  check_job *j = arg;
  sl_run_opts o = {.file = j->file, .text = &j->text, .check_only = 1, .quiet = 1,
                   .err_out = &j->err};
  int rc = sl__pipeline_text_read(j->file, &j->text, &j->err) ? 2 : sl_pipeline_main(&o);
  pthread_mutex_lock(&j->mu);
  j->rc = rc;
  j->finished = 1;
  int abandoned = j->abandoned;
  if (!abandoned) uv_async_send(j->done);
  pthread_mutex_unlock(&j->mu);
  if (abandoned) job_free(j);
  return NULL;
}

/* The loop stops waiting for the check; a thread still running frees the
 * job when it ends (or never: the process may exit under it). */
static void job_abandon(check_job *j) {
  pthread_mutex_lock(&j->mu);
  int finished = j->finished;
  j->abandoned = 1;
  pthread_mutex_unlock(&j->mu);
  if (finished) job_free(j);
}

/* Two evaluations of the file, each with a budget of at least 10 s
 * (pipeline.c), and some slack for the plugins' checks. */
uint64_t sl__reload_budget_ms(const sl_pipeline *p) {
  uint64_t call = p->set.limits.call_ms > 10000 ? p->set.limits.call_ms : 10000;
  return 2 * call + 10000;
}

static void on_check_timeout(uv_timer_t *h);

/* Answers the waiters of the check that ended (those not waiting for the
 * next one), and moves the others on to the check that starts now. */
static void answer(sl_reload *r, int rc, const char *why) {
  waiter **at = &r->waiters;
  while (*at) {
    waiter *w = *at;
    if (w->next) {
      w->next = 0;
      at = &w->link;
      continue;
    }
    *at = w->link;
    w->cb(w->arg, rc, why, strlen(why));
    free(w);
  }
}

/* A valid file whose reload a newer request supersedes: its waiters wait
 * for the next check too. */
static void carry_over(sl_reload *r) {
  for (waiter *w = r->waiters; w; w = w->link) w->next = 0;
}

static void start_check(sl_reload *r) {
  sl_pipeline *p = r->p;
  check_job *j = calloc(1, sizeof *j);
  if (!j || !(j->file = strdup(p->file))) {
    free(j);
    sl_log_error(NULL, "SIGHUP: cannot check %s (out of memory); still running the pipeline as loaded",
                 p->file);
    answer(r, 1, "cannot check the file (out of memory)\n");
    return;
  }
  pthread_mutex_init(&j->mu, NULL);
  j->done = &r->done;
  /* The check thread takes no signal: SIGTERM and SIGINT stay with the loop. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int rc = pthread_create(&t, &attr, check_main, j);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    job_free(j);
    sl_log_error(NULL, "SIGHUP: cannot start the check of %s (%s); still running the pipeline as loaded",
                 p->file, strerror(rc));
    answer(r, 1, "cannot start the check\n");
    return;
  }
  r->job = j;
  r->again = 0;
  sl_log_info(NULL, "SIGHUP: checking %s before reloading", p->file);
  uv_timer_start(&r->timer, on_check_timeout, sl__reload_budget_ms(p), 0);
}

/* The current check is over (j is NULL when it ran out of time): swap, or
 * go on; then check again if a SIGHUP came meanwhile. */
static void check_over(sl_reload *r, check_job *j) {
  sl_pipeline *p = r->p;
  r->job = NULL;
  uv_timer_stop(&r->timer);
  if (p->run != SL_RUN_RUNNING) {
    if (j) job_free(j);
    carry_over(r);
    answer(r, 1, "the pipeline stopped during the check\n");
    return;
  }
  /* A failed check is reported even when a newer SIGHUP makes it moot:
   * the operator learns what was wrong with the file they sent first. */
  int failed = j && j->rc != 0;
  if (failed) {
    sl_log_error(NULL, "%.*s", (int)j->err.len, j->err.ptr ? j->err.ptr : "");
    sl_log_error(NULL, "SIGHUP: %s is not valid (see above); still running the pipeline as loaded",
                 p->file);
    sl_buf why = SL_BUF_INIT;
    sl__secret_redact(&why, j->err.ptr ? j->err.ptr : "", j->err.len);
    sl_buf_putc(&why, '\n');
    sl_buf_putc(&why, '\0');
    answer(r, 2, why.ptr && !why.oom ? why.ptr : "not valid\n");
    sl_buf_free(&why);
  } else if (!j) {
    static const char late[] = "the check did not end in time; still running the pipeline as loaded\n";
    answer(r, 1, late);
  } else if (r->again) {
    carry_over(r);
  }
  if (r->again) {
    if (j) job_free(j);
    sl_log_info(NULL, "SIGHUP: another SIGHUP came during the check; checking the file again");
    start_check(r);
    return;
  }
  if (!j) return;
  if (failed) {
    job_free(j);
    return;
  }
  sl_buf_free(&r->text);
  r->text = j->text;
  j->text = (sl_buf)SL_BUF_INIT;
  job_free(j);
  static const char ok[] = "valid: draining, then reloading\n";
  answer(r, 0, ok);
  sl_log_info(NULL, "SIGHUP: draining, then reloading %s", p->file);
  p->reload = 1;
  sl__flow_drain(p);
}

static void on_check_done(uv_async_t *h) {
  sl_reload *r = h->data;
  check_job *j = r->job;
  if (!j) return;
  pthread_mutex_lock(&j->mu);
  int finished = j->finished;
  pthread_mutex_unlock(&j->mu);
  if (finished) check_over(r, j);
}

static void on_check_timeout(uv_timer_t *h) {
  sl_reload *r = h->data;
  if (!r->job) return;
  sl_log_error(NULL, "SIGHUP: the check of %s did not end within %llu ms (does its top level "
               "loop?); still running the pipeline as loaded",
               r->p->file, (unsigned long long)sl__reload_budget_ms(r->p));
  job_abandon(r->job);
  check_over(r, NULL);
}

/* A SIGHUP or a request: check now, or again after the check running. */
static void ask(sl_reload *r) {
  if (r->job) {
    r->again = 1;
    sl_log_info(NULL, "SIGHUP: a check is running; the file will be checked again after it");
    return;
  }
  start_check(r);
}

static void on_sighup(uv_signal_t *h, int signum) {
  sl_reload *r = h->data;
  (void)signum;
  /* Straight into the carry: the drain may be over (and the text handed
   * over) by the time the loop, tearing down, runs this. */
  sl_reload_carry *carry = r->p->carry;
  if (r->p->reload && carry && !carry->again) {
    carry->again = 1;
    sl_log_info(NULL, "SIGHUP: draining for a reload already; the file will be checked again once "
                      "the new pipeline runs");
  }
  if (r->p->run != SL_RUN_RUNNING || r->p->reload) return;
  ask(r);
}

void sl__reload_hand_over(sl_pipeline *p) {
  sl_reload *r = p->reloader;
  if (!r || !p->carry) return;
  sl_buf_free(&p->carry->text);
  p->carry->text = r->text;
  r->text = (sl_buf)SL_BUF_INIT;
}

int sl__reload_request(sl_pipeline *p, sl_reload_cb cb, void *arg) {
  sl_reload *r = p->reloader;
  /* Draining for a reload first: the client then asks the new run. */
  if (r && p->reload) {
    if (p->carry) p->carry->again = 1;
    return SL_EAGAIN;
  }
  if (!r || p->run != SL_RUN_RUNNING) return SL_ECLOSED;
  waiter *w = calloc(1, sizeof *w);
  if (!w) return SL_ENOMEM;
  w->cb = cb;
  w->arg = arg;
  w->next = r->job != NULL;
  w->link = r->waiters;
  r->waiters = w;
  ask(r);
  return 0;
}

void sl__reload_cancel(sl_pipeline *p, void *arg) {
  sl_reload *r = p->reloader;
  for (waiter **at = r ? &r->waiters : NULL; at && *at;) {
    waiter *w = *at;
    if (w->arg != arg) {
      at = &w->link;
      continue;
    }
    *at = w->link;
    free(w);
  }
}

int sl__reload_start(sl_pipeline *p) {
  sl_reload *r = calloc(1, sizeof *r);
  if (!r) return SL_ENOMEM;
  r->p = p;
  uv_signal_init(p->loop, &r->sig_hup);
  uv_async_init(p->loop, &r->done, on_check_done);
  uv_timer_init(p->loop, &r->timer);
  r->sig_hup.data = r->done.data = r->timer.data = r;
  uv_signal_start(&r->sig_hup, on_sighup, SIGHUP);
  p->reloader = r;
  if (p->carry && p->carry->again) {
    p->carry->again = 0;
    sl_log_info(NULL, "SIGHUP: one came during the drain for the reload; checking the file again");
    ask(r);
  }
  return 0;
}

void sl__reload_stop(sl_pipeline *p) {
  sl_reload *r = p->reloader;
  if (!r) return;
  /* Before the handles close: from here the check thread never signals. */
  if (r->job) job_abandon(r->job);
  r->job = NULL;
  carry_over(r);
  answer(r, 1, "the pipeline stopped before the check ended\n");
}

void sl__reload_free(sl_pipeline *p) {
  if (p->reloader) sl_buf_free(&p->reloader->text);
  free(p->reloader);
  p->reloader = NULL;
}
