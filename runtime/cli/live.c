/* sluice tap and sluice reload: clients of a running pipeline's admin
 * endpoint (GET /tap, POST /reload; docs/operating.md). */
#include "cli/live.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"

const char sl__tap_help[] =
    "usage: sluice tap [--admin HOST:PORT] [--token-file FILE] [--stage NAME]\n"
    "                  [--rate R] [--fields a,b] [--where FIELD=VALUE] [--limit N]\n"
    "                  [--format json|pretty]\n"
    "\n"
    "Prints copies of the records leaving one stage of a running pipeline, through\n"
    "its admin endpoint (sluice run --admin), one JSON line each:\n"
    "  {\"stage\":..., \"time\":..., \"origin\":..., \"partition\":..., \"offset\":...,\n"
    "   \"key\":..., \"record\":{...}}\n"
    "The pipeline never waits for the tap: when this command cannot keep up, samples\n"
    "are dropped and a line {\"dropped\":N} says how many.\n"
    "\n"
    "options:\n"
    "  --admin HOST:PORT     the pipeline's admin endpoint (default: $SLUICE_ADMIN)\n"
    "  --token-file FILE     the bearer token (default: $SLUICE_ADMIN_TOKEN)\n"
    "  --stage NAME          a source (its records once decoded), a step (what it\n"
    "                        outputs) or a sink (what it is given); names are in\n"
    "                        /status; default: the first sink\n"
    "  --rate R              keep one record in every 1/R: 0.01 or 1/100 (default 1)\n"
    "  --fields a,b          print only these fields of each record\n"
    "  --where FIELD=VALUE   only records whose FIELD holds VALUE (a string with that\n"
    "                        text, or a number, true, false, null); --rate counts those\n"
    "  --limit N             stop after N records (default: until interrupted)\n"
    "  --format FORMAT       json (default) or pretty: time, stage and record\n"
    "\n"
    "exit status: 0 the limit was reached or the pipeline stopped, 1 the endpoint\n"
    "could not be reached or refused, 2 usage (an unknown stage, a bad rate)\n";

const char sl__reload_help[] =
    "usage: sluice reload [--admin HOST:PORT] [--token-file FILE]\n"
    "\n"
    "Asks a running pipeline to reload its file, as SIGHUP does, and waits for the\n"
    "check: a valid file makes the pipeline drain and start again from it (this\n"
    "command then waits until the new one answers /ready); a file\n"
    "that is not valid leaves the old pipeline running, and the check's error\n"
    "(file:line: message) is printed.\n"
    "\n"
    "options:\n"
    "  --admin HOST:PORT     the pipeline's admin endpoint (default: $SLUICE_ADMIN)\n"
    "  --token-file FILE     the bearer token (default: $SLUICE_ADMIN_TOKEN)\n"
    "\n"
    "exit status: 0 reloaded (the new pipeline answers /ready), 2 the new file is not\n"
    "valid (or usage), 1 the endpoint could not be reached, the check could not run\n"
    "or end in time, or the new pipeline was not ready within 120 s\n";

/* Appends s to b %-escaped for a query string. */
static void put_escaped(sl_buf *b, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        strchr("-._~,/", c))
      sl_buf_putc(b, (char)c);
    else
      sl_buf_printf(b, "%%%02X", c);
  }
}

static void put_param(sl_buf *b, const char *name, const char *value) {
  if (!value) return;
  sl_buf_printf(b, "%c%s=", b->ptr && memchr(b->ptr, '?', b->len) ? '&' : '?', name);
  put_escaped(b, value);
}

/* The endpoint and token from the options or the environment.  0, or 2
 * with the reason printed. */
static int settle(sl_admin_conf *c, const char *cmd, const char *admin, const char *token_file) {
  if (!admin || !*admin) {
    fprintf(stderr, "sluice %s: give the pipeline's admin endpoint: --admin HOST:PORT (or $SLUICE_ADMIN)\n", cmd);
    return 2;
  }
  sl_buf err = SL_BUF_INIT;
  int rc = sl__admin_conf_client(c, admin, token_file, &err);
  if (rc) fprintf(stderr, "sluice %s: %s\n", cmd, sl_buf_text(&err));
  sl_buf_free(&err);
  return rc ? 2 : 0;
}

/* An answer that is not 200: its body says why.  1, or 2 for what the
 * user asked wrongly (400, 404). */
static int refused(const char *cmd, int status, const sl_buf *body) {
  fprintf(stderr, "sluice %s: the admin endpoint answered %d: %.*s", cmd, status,
          (int)body->len, body->ptr ? body->ptr : "");
  if (!body->len || body->ptr[body->len - 1] != '\n') fputc('\n', stderr);
  return status == 400 || status == 404 ? 2 : 1;
}

/* Prints whole lines of in (what is left stays in it) as the format says. */
static void print_lines(sl_buf *in, int pretty) {
  size_t start = 0;
  for (size_t i = 0; i < in->len; i++) {
    if (in->ptr[i] != '\n') continue;
    const char *line = in->ptr + start;
    size_t n = i - start;
    start = i + 1;
    if (!pretty) {
      fwrite(line, 1, n + 1, stdout);
      continue;
    }
    /* time, stage and the record: the fields are where tap.c puts them */
    const char *st = strstr(line, "\"stage\":\""), *tm = strstr(line, "\"time\":\"");
    const char *rec = strstr(line, ",\"record\":");
    if (!rec) rec = strstr(line, ",\"raw\":");
    if (!st || !tm || !rec || rec > line + n) {
      fwrite(line, 1, n + 1, stdout);
      continue;
    }
    st += 9;
    tm += 8;
    const char *st_end = strchr(st, '"'), *tm_end = strchr(tm, '"');
    const char *body = strchr(rec + 1, ':') + 1;
    printf("%.*s  %.*s  %.*s\n", (int)(tm_end - tm), tm, (int)(st_end - st), st,
           (int)(line + n - 1 - body), body);
  }
  if (start) memmove(in->ptr, in->ptr + start, in->len - start);
  in->len -= start;
  fflush(stdout);
}

int sl__cli_tap(int argc, char **argv) {
  static const struct option longopts[] = {
      {"admin", required_argument, NULL, 'a'},   {"token-file", required_argument, NULL, 'T'},
      {"admin-token-file", required_argument, NULL, 'T'},
      {"stage", required_argument, NULL, 's'},   {"rate", required_argument, NULL, 'r'},
      {"fields", required_argument, NULL, 'f'},  {"limit", required_argument, NULL, 'l'},
      {"where", required_argument, NULL, 'w'},
      {"format", required_argument, NULL, 'F'},  {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *admin = getenv("SLUICE_ADMIN"), *token_file = NULL, *format = "json";
  const char *stage = NULL, *rate = NULL, *fields = NULL, *limit = NULL, *where = NULL;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case 'a': admin = optarg; break;
      case 'T': token_file = optarg; break;
      case 's': stage = optarg; break;
      case 'r': rate = optarg; break;
      case 'f': fields = optarg; break;
      case 'l': limit = optarg; break;
      case 'w': where = optarg; break;
      case 'F': format = optarg; break;
      case 'h': fputs(sl__tap_help, stdout); return 0;
      default: fputs(sl__tap_help, stderr); return 2;
    }
  }
  if (optind < argc || (strcmp(format, "json") && strcmp(format, "pretty"))) {
    fputs(sl__tap_help, stderr);
    return 2;
  }
  sl_admin_conf c;
  int rc = settle(&c, "tap", admin, token_file);
  if (rc) return rc;
  sl_buf target = SL_BUF_INIT, body = SL_BUF_INIT, err = SL_BUF_INIT;
  sl_buf_puts(&target, "/tap");
  put_param(&target, "stage", stage);
  put_param(&target, "rate", rate);
  put_param(&target, "fields", fields);
  put_param(&target, "where", where);
  put_param(&target, "limit", limit);
  sl_buf_putc(&target, 0);
  int status = 0;
  int fd = target.oom ? -1 : sl__admin_client_request(&c, "GET", target.ptr, 0, &status, &body, &err);
  if (fd < 0) {
    fprintf(stderr, "sluice tap: %s\n", sl_buf_text(&err));
    rc = 1;
  } else if (status != 200) {
    for (char chunk[4096];;) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      sl_buf_append(&body, chunk, (size_t)n);
    }
    rc = refused("tap", status, &body);
  } else {
    int pretty = !strcmp(format, "pretty");
    print_lines(&body, pretty);
    for (char chunk[65536];;) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      sl_buf_append(&body, chunk, (size_t)n);
      print_lines(&body, pretty);
    }
  }
  if (fd >= 0) close(fd);
  sl_buf_free(&target);
  sl_buf_free(&body);
  sl_buf_free(&err);
  sl__admin_conf_free(&c);
  return rc;
}

/* How long `sluice reload` waits for the new pipeline to answer /ready:
 * the old one drains first (its sinks flush), then the new one loads its
 * file (a request meanwhile waits in the kept listening socket). */
#define BACK_MS 120000

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until GET /ready answers 200.  The old pipeline answers 503
 * (draining) from the verdict on, so a 200 is the new one's.  0, or -1
 * after BACK_MS. */
static int wait_ready(const sl_admin_conf *c) {
  int64_t until = mono_ms() + BACK_MS;
  while (mono_ms() < until) {
    sl_buf body = SL_BUF_INIT, err = SL_BUF_INIT;
    int status = 0;
    int fd = sl__admin_client_request(c, "GET", "/ready", 2000, &status, &body, &err);
    if (fd >= 0) close(fd);
    sl_buf_free(&body);
    sl_buf_free(&err);
    if (fd >= 0 && status == 200) return 0;
    struct timespec pause = {0, 50 * 1000000};
    nanosleep(&pause, NULL);
  }
  return -1;
}

/* Waits for the new pipeline and says how it went: 0, or 1. */
static int report_back(const sl_admin_conf *c, const char *done) {
  if (wait_ready(c) == 0) {
    printf("sluice reload: %s: %s\n", c->listen, done);
    return 0;
  }
  fprintf(stderr, "sluice reload: %s: the pipeline drained for a reload, but the new one is not "
                  "ready after %d s (did it fail to start, or stop? see its log)\n",
          c->listen, BACK_MS / 1000);
  return 1;
}

/* Asks for a reload; the answer's body in body.  The request's descriptor
 * (closed) or its SL_ADMIN_* error. */
static int post_reload(const sl_admin_conf *c, int *status, sl_buf *body, sl_buf *err) {
  /* The server answers within the check's budget and some slack; this
   * bound is only for an endpoint that stopped answering altogether. */
  int fd = sl__admin_client_request(c, "POST", "/reload", 600000, status, body, err);
  if (fd >= 0) {
    for (char chunk[4096];;) {
      ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) break;
      sl_buf_append(body, chunk, (size_t)n);
    }
    close(fd);
  }
  return fd;
}

/* How many times a reload asked while the pipeline switched runs is asked
 * again of the new run. */
#define RETRIES 3

int sl__cli_reload(int argc, char **argv) {
  static const struct option longopts[] = {
      {"admin", required_argument, NULL, 'a'},   {"token-file", required_argument, NULL, 'T'},
      {"admin-token-file", required_argument, NULL, 'T'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  const char *admin = getenv("SLUICE_ADMIN"), *token_file = NULL;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case 'a': admin = optarg; break;
      case 'T': token_file = optarg; break;
      case 'h': fputs(sl__reload_help, stdout); return 0;
      default: fputs(sl__reload_help, stderr); return 2;
    }
  }
  if (optind < argc) {
    fputs(sl__reload_help, stderr);
    return 2;
  }
  sl_admin_conf c;
  int rc = settle(&c, "reload", admin, token_file);
  if (rc) return rc;
  sl_buf body = SL_BUF_INIT, err = SL_BUF_INIT;
  int status = 0, fd;
  /* The pipeline may be switching runs for a reload asked for earlier (409:
   * draining; no answer: it stopped listening before it read the request).
   * The new run runs the text that earlier check found valid, which may
   * not be the file as it is now: once it is ready, ask it again. */
  for (int tries = 0;; tries++) {
    body.len = 0;
    err.len = 0;
    status = 0;
    fd = post_reload(&c, &status, &body, &err);
    if (tries == RETRIES || (fd != SL_ADMIN_NO_ANSWER && status != 409)) break;
    if (wait_ready(&c)) break;
  }
  if (fd == SL_ADMIN_UNREACHABLE) {
    fprintf(stderr, "sluice reload: %s\n", sl_buf_text(&err));
    rc = 1;
  } else if (fd == SL_ADMIN_NO_ANSWER || status == 409) {
    rc = report_back(&c, "a reload was under way and is done; the pipeline is ready");
  } else if (status == 200) {
    rc = report_back(&c, "reloaded; the new pipeline is ready");
  } else if (status == 422) {
    fprintf(stderr, "sluice reload: the new pipeline file is not valid; the old pipeline goes on:\n%.*s",
            (int)body.len, body.ptr ? body.ptr : "\n");
    rc = 2;
  } else {
    rc = refused("reload", status, &body);
    if (rc == 2) rc = 1;
  }
  sl_buf_free(&body);
  sl_buf_free(&err);
  sl__admin_conf_free(&c);
  return rc;
}
