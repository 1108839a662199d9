/* One libpq connection on the libuv loop.  Every libpq call here is
 * non-blocking: the connection is made with PQconnectStartParams and
 * PQconnectPoll, commands are sent with PQsend* in non-blocking mode, and
 * one uv_poll on PQsocket says when to flush (writable) and when to read
 * (readable).  The owner sees a small state machine: connected, one
 * `result` per PGresult, `done` when a command is finished, `broken` when
 * the connection is gone (it is closed by then; the owner decides when to
 * connect again). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "sluice/log.h"

static void on_poll(uv_poll_t *h, int status, int events);

static void free_poll(uv_handle_t *h) { free(h); }

static void close_poll(pg_conn *c) {
  if (!c->poll) return;
  /* uv_close takes the fd out of epoll at once: do it before PQfinish
   * closes the fd, so that a new socket with the same number is safe. */
  uv_close((uv_handle_t *)c->poll, free_poll);
  c->poll = NULL;
  c->fd = -1;
  c->events = 0;
}

static void on_notice(void *arg, const char *message) {
  pg_conn *c = arg;
  sl_log_debug(sl_stage_name(c->st), "server notice: %.*s", (int)strcspn(message, "\n"), message);
}

int pg_conn_init(pg_conn *c, sl_stage *st, const char *dsn, int replication,
                 const pg_conn_ops *ops, void *owner) {
  memset(c, 0, sizeof *c);
  c->st = st;
  c->ops = ops;
  c->owner = owner;
  c->replication = replication;
  c->fd = -1;
  c->connect_timeout_ms = 10000;
  c->setup_sql = pg_session_sql();
  c->dsn = strdup(dsn);
  c->label = pg_dsn_redact(dsn);
  sl_buf app = SL_BUF_INIT;
  /* The stage shows in pg_stat_activity: an administrator can tell which
   * pipeline holds a connection. */
  sl_buf_printf(&app, "sluice/%.40s", sl_stage_name(st));
  c->app = pg_buf_cstr(&app);
  if (!c->dsn || !c->label || !c->app) return SL_ENOMEM;
  if (uv_timer_init(sl_stage_loop(st), &c->timer)) return SL_ENOMEM;
  c->timer.data = c;
  c->timer_open = 1;
  return 0;
}

void pg_conn_close(pg_conn *c) {
  close_poll(c);
  if (c->pq) PQfinish(c->pq);
  c->pq = NULL;
  if (c->timer_open) uv_timer_stop(&c->timer);
  c->state = PGC_CLOSED;
  c->copy_p = NULL;
  c->copy_n = 0;
  c->copy_done = 0;
}

void pg_conn_destroy(pg_conn *c) {
  pg_conn_close(c);
  if (c->timer_open) uv_close((uv_handle_t *)&c->timer, NULL);
  c->timer_open = 0;
  free(c->dsn);
  free(c->label);
  free(c->app);
  c->dsn = c->label = c->app = NULL;
}

void pg_conn_fail(pg_conn *c, const char *why) {
  /* why may point into the PGconn: copy it before PQfinish frees it.
   * libpq's connection errors may quote the DSN. */
  sl_buf b = SL_BUF_INIT;
  pg_dsn_scrub(&b, why ? why : "", strcspn(why ? why : "", "\n"), c->dsn, c->label);
  char msg[512];
  size_t n = b.len < sizeof msg ? b.len : sizeof msg - 1;
  memcpy(msg, b.ptr ? b.ptr : "", n);
  msg[n] = 0;
  sl_buf_free(&b);
  if (!n) strcpy(msg, "connection lost");
  if (c->pq && c->state >= PGC_IDLE) c->stale_pid = PQbackendPID(c->pq);
  pg_conn_close(c);
  c->ops->broken(c, msg);
}

/* Watches the socket for ev, (re)creating the handle if libpq changed its
 * socket (it may while connecting, trying another address). */
static int watch(pg_conn *c, int ev) {
  int fd = PQsocket(c->pq);
  if (fd < 0) return SL_EIO;
  if (c->poll && fd != c->fd) close_poll(c);
  if (!c->poll) {
    c->poll = malloc(sizeof *c->poll);
    if (!c->poll) return SL_ENOMEM;
    if (uv_poll_init(sl_stage_loop(c->st), c->poll, fd)) {
      free(c->poll);
      c->poll = NULL;
      return SL_EIO;
    }
    c->poll->data = c;
    c->fd = fd;
    c->events = 0;
  }
  if (ev == c->events && c->state != PGC_CONNECTING) return 0;
  c->events = ev;
  if (!ev) return uv_poll_stop(c->poll) ? SL_EIO : 0;
  /* While connecting, stop and start again: a socket closed and reopened
   * with the same number must be added to epoll afresh. */
  if (c->state == PGC_CONNECTING) uv_poll_stop(c->poll);
  return uv_poll_start(c->poll, ev, on_poll) ? SL_EIO : 0;
}

static void on_timeout(uv_timer_t *t) {
  pg_conn *c = t->data;
  if (c->state == PGC_CONNECTING || c->state == PGC_SETUP) {
    pg_conn_fail(c, "timed out connecting");
  } else if (c->state == PGC_BUSY || c->state == PGC_COPY_IN) {
    char why[96];
    snprintf(why, sizeof why, "no answer from the server for %lld ms (answer_timeout)",
             (long long)c->answer_timeout_ms);
    pg_conn_fail(c, why);
  }
}

/* (Re)starts the answer timeout of a command: at its start and on every
 * sign of life of its socket. */
static void answer_timer(pg_conn *c) {
  if (c->answer_timeout_ms > 0 && (c->state == PGC_BUSY || c->state == PGC_COPY_IN))
    uv_timer_start(&c->timer, on_timeout, (uint64_t)c->answer_timeout_ms, 0);
}

void pg_conn_connect(pg_conn *c) {
  pg_conn_close(c);
  const char *kw[16], *val[16];
  pg_conn_params(c->dsn, c->app, c->replication, kw, val);
  c->pq = PQconnectStartParams(kw, val, 1);
  if (!c->pq) {
    pg_conn_fail(c, "out of memory");
    return;
  }
  if (PQstatus(c->pq) == CONNECTION_BAD) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  c->state = PGC_CONNECTING;
  c->setup_failed = 0;
  c->reaping = 0;
  c->poll_errors = 0;
  uv_timer_start(&c->timer, on_timeout, (uint64_t)c->connect_timeout_ms, 0);
  /* PQconnectPoll's protocol starts as if it had asked for writable. */
  if (watch(c, UV_WRITABLE)) pg_conn_fail(c, "cannot watch the connection's socket");
}

/* ---- commands ---- */

static void drive(pg_conn *c, int events);
static void send_reap(pg_conn *c);

static int flush_out(pg_conn *c, int *more) {
  int r = PQflush(c->pq);
  if (r < 0) return SL_EIO;
  *more = r == 1;
  return 0;
}

static void after_send(pg_conn *c) {
  c->state = c->state == PGC_SETUP ? PGC_SETUP : PGC_BUSY;
  answer_timer(c);
  drive(c, UV_WRITABLE);
}

int pg_conn_send(pg_conn *c, const char *sql) {
  if (c->state != PGC_IDLE) return SL_EINVAL;
  if (!PQsendQuery(c->pq, sql)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return SL_EIO;
  }
  after_send(c);
  return 0;
}

int pg_conn_send_params(pg_conn *c, const char *sql, int n, const char *const *values) {
  if (c->state != PGC_IDLE) return SL_EINVAL;
  if (!PQsendQueryParams(c->pq, sql, n, NULL, values, NULL, NULL, 0)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return SL_EIO;
  }
  after_send(c);
  return 0;
}

/* Queues COPY data until the owner has none left or the socket is full. */
static void pump_copy(pg_conn *c) {
  for (;;) {
    if (!c->copy_p && !c->copy_done) {
      const char *p = NULL;
      size_t n = 0;
      c->ops->copy_next(c, &p, &n);
      if (c->state != PGC_COPY_IN) return;
      if (n == 0) c->copy_done = 1;
      else {
        c->copy_p = p;
        c->copy_n = n;
      }
    }
    int r;
    if (c->copy_p) {
      r = PQputCopyData(c->pq, c->copy_p, (int)c->copy_n);
      if (r == 1) {
        c->copy_p = NULL;
        c->copy_n = 0;
      }
    } else {
      r = PQputCopyEnd(c->pq, NULL);
      if (r == 1) {
        c->copy_done = 0;
        c->state = PGC_BUSY;
        drive(c, UV_WRITABLE);
        return;
      }
    }
    if (r < 0) {
      /* The server ended the COPY (an error): its result says why. */
      if (PQstatus(c->pq) == CONNECTION_BAD) {
        pg_conn_fail(c, PQerrorMessage(c->pq));
        return;
      }
      c->copy_p = NULL;
      c->copy_done = 0;
      c->state = PGC_BUSY;
      drive(c, UV_READABLE);
      return;
    }
    /* Keep libpq's buffer small: what it cannot send now waits for writable. */
    int more = 0;
    if (flush_out(c, &more)) {
      pg_conn_fail(c, PQerrorMessage(c->pq));
      return;
    }
    if (r == 0 || more) {
      if (watch(c, UV_READABLE | UV_WRITABLE)) pg_conn_fail(c, "cannot watch the socket");
      return;
    }
  }
}

static void drive(pg_conn *c, int events) {
  int more = 0;
  if (c->state == PGC_STREAM) {
    if (events & UV_WRITABLE) {
      if (flush_out(c, &more)) {
        pg_conn_fail(c, PQerrorMessage(c->pq));
        return;
      }
      if (watch(c, (c->events & UV_READABLE) | (more ? UV_WRITABLE : 0)))
        pg_conn_fail(c, "cannot watch the socket");
    }
    if ((events & UV_READABLE) && c->state == PGC_STREAM) c->ops->readable(c);
    return;
  }
  if (c->state == PGC_COPY_IN) {
    if (events & UV_READABLE) {
      if (!PQconsumeInput(c->pq)) {
        pg_conn_fail(c, PQerrorMessage(c->pq));
        return;
      }
    }
    if (events & UV_WRITABLE) {
      if (flush_out(c, &more)) {
        pg_conn_fail(c, PQerrorMessage(c->pq));
        return;
      }
      if (more) return;
    }
    pump_copy(c);
    return;
  }
  if (c->state != PGC_BUSY && c->state != PGC_SETUP) return;
  if (flush_out(c, &more)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  if ((events & UV_READABLE) && !PQconsumeInput(c->pq)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  while (!PQisBusy(c->pq)) {
    PGresult *r = PQgetResult(c->pq);
    if (!r) {
      if (c->state == PGC_SETUP) {
        if (c->setup_failed) {
          pg_conn_fail(c, "the session setup failed");
          return;
        }
        if (c->stale_pid && !c->reaping) {
          send_reap(c);
          return;
        }
        c->reaping = 0;
        c->stale_pid = 0;
        c->state = PGC_IDLE;
        if (watch(c, UV_READABLE)) {
          pg_conn_fail(c, "cannot watch the socket");
          return;
        }
        c->ops->connected(c);
        return;
      }
      c->state = PGC_IDLE;
      if (c->answer_timeout_ms > 0) uv_timer_stop(&c->timer);
      /* Idle: readable only tells of a server going away (or a notice). */
      if (watch(c, UV_READABLE)) {
        pg_conn_fail(c, "cannot watch the socket");
        return;
      }
      c->ops->done(c);
      return;
    }
    ExecStatusType s = PQresultStatus(r);
    if (c->state == PGC_SETUP && c->reaping) {
      /* Best effort: a server that refuses leaves the old session to its
       * own timeouts, as before. */
      if (s != PGRES_TUPLES_OK) {
        const char *m = PQresultErrorMessage(r);
        sl_log_warn(sl_stage_name(c->st), "cannot end the previous session (%s): %.*s",
                    c->label, (int)strcspn(m, "\n"), m);
      } else if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        sl_log_info(sl_stage_name(c->st), "ended the previous session (server process %d), "
                    "which the server still ran", c->stale_pid);
      }
      PQclear(r);
      continue;
    }
    if (c->state == PGC_SETUP) {
      if (s != PGRES_COMMAND_OK) {
        const char *m = PQresultErrorMessage(r);
        sl_log_error(sl_stage_name(c->st), "session setup failed (%s): %.*s", c->label,
                     (int)strcspn(m, "\n"), m);
        c->setup_failed = 1;
      }
      PQclear(r);
      continue;
    }
    if (s == PGRES_COPY_IN) {
      c->state = PGC_COPY_IN;
      c->ops->result(c, r);
      PQclear(r);
      if (c->state == PGC_COPY_IN) pump_copy(c);
      return;
    }
    if (s == PGRES_COPY_BOTH) {
      c->state = PGC_STREAM;
      c->ops->result(c, r);
      PQclear(r);
      return;
    }
    c->ops->result(c, r);
    PQclear(r);
    if (c->state == PGC_CLOSED) return;
    if (PQstatus(c->pq) == CONNECTION_BAD) {
      pg_conn_fail(c, PQerrorMessage(c->pq));
      return;
    }
  }
  if (watch(c, UV_READABLE | (more ? UV_WRITABLE : 0))) pg_conn_fail(c, "cannot watch the socket");
}

/* After a connection broke, the server may still run its session: the
 * server has not seen the break (a hung path, a proxy holding it open), and
 * the session's open transaction holds its locks (a pg.sink's checkpoint
 * row: the next transaction would wait on it until answer_timeout, again
 * and again).  So the setup's second step ends that session, if the
 * server still runs it under this connection's application name and user,
 * and waits up to 5 s for it to go: a COMMIT it had in hand is then
 * decided before the owner checks it.  A plain query, so that it also
 * works on a replication connection. */
static void send_reap(pg_conn *c) {
  char *app = PQescapeLiteral(c->pq, c->app, strlen(c->app));
  if (!app) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT coalesce(bool_or(pg_terminate_backend(pid, 5000)), false) "
           "FROM pg_catalog.pg_stat_activity WHERE pid = %d AND pid <> pg_catalog.pg_backend_pid() "
           "AND usename = current_user AND application_name = %s",
           c->stale_pid, app);
  PQfreemem(app);
  c->reaping = 1;
  if (!PQsendQuery(c->pq, sql)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  drive(c, UV_WRITABLE);
}

static void connect_step(pg_conn *c) {
  PostgresPollingStatusType s = PQconnectPoll(c->pq);
  switch (s) {
    case PGRES_POLLING_READING:
      if (watch(c, UV_READABLE)) pg_conn_fail(c, "cannot watch the socket");
      return;
    case PGRES_POLLING_WRITING:
      if (watch(c, UV_WRITABLE)) pg_conn_fail(c, "cannot watch the socket");
      return;
    case PGRES_POLLING_OK:
      break;
    default:
      pg_conn_fail(c, PQerrorMessage(c->pq));
      return;
  }
  if (PQsetnonblocking(c->pq, 1) != 0) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  PQsetNoticeProcessor(c->pq, on_notice, c);
  c->state = PGC_SETUP;
  if (watch(c, UV_READABLE)) {
    pg_conn_fail(c, "cannot watch the socket");
    return;
  }
  if (!PQsendQuery(c->pq, c->setup_sql)) {
    pg_conn_fail(c, PQerrorMessage(c->pq));
    return;
  }
  drive(c, UV_WRITABLE);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  pg_conn *c = h->data;
  if (status < 0) {
    /* libuv reports a socket error (POLLERR: a refused connection, a
     * reset) as UV_EBADF and stops watching.  libpq's next read or write
     * finds the real error and says it better, so let it try, a few times
     * at most in a row. */
    if (++c->poll_errors > 3) {
      pg_conn_fail(c, uv_strerror(status));
      return;
    }
    c->events = 0;
    events = UV_READABLE | UV_WRITABLE;
  } else {
    c->poll_errors = 0;
  }
  if (c->state == PGC_CONNECTING) {
    connect_step(c);
    return;
  }
  answer_timer(c);
  drive(c, events);
}

/* ---- streaming (COPY BOTH) ---- */

void pg_conn_stream(pg_conn *c) {
  c->state = PGC_STREAM;
  if (watch(c, UV_READABLE)) pg_conn_fail(c, "cannot watch the socket");
}

void pg_conn_stream_read(pg_conn *c, int on) {
  if (c->state != PGC_STREAM) return;
  int ev = (c->events & UV_WRITABLE) | (on ? UV_READABLE : 0);
  if (watch(c, ev)) pg_conn_fail(c, "cannot watch the socket");
}

int pg_conn_flush(pg_conn *c) {
  int more = 0;
  if (!c->pq || flush_out(c, &more)) {
    pg_conn_fail(c, c->pq ? PQerrorMessage(c->pq) : "not connected");
    return SL_EIO;
  }
  if (more && !(c->events & UV_WRITABLE) && watch(c, c->events | UV_WRITABLE)) {
    pg_conn_fail(c, "cannot watch the socket");
    return SL_EIO;
  }
  return 0;
}
