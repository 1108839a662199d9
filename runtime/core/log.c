/* Log lines: "2026-11-27T14:00:00.123Z INFO  residents/file.source.1: message"
 * on a terminal; {"time":...,"level":...,"pipeline":...,"stage":...,"msg":...}
 * otherwise.  Names and messages may hold text from data and pipelines (a
 * newline in sl.log, in a stage name): in text lines control characters are
 * escaped, so that one call is one line and cannot forge others. */
#include "sluice/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/secrets.h"
#include "sluice/buf.h"
#include "sluice/clock.h"

static sl_log_level g_level = SL_LOG_INFO;
static int g_json;
static int g_fd = 2;
static char g_pipeline[128] = "sluice";

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_tags[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void sl_log_setup(sl_log_level level, sl_log_format format, int fd) {
  g_level = level;
  g_fd = fd;
  g_json = format == SL_LOG_JSON || (format == SL_LOG_AUTO && !isatty(fd));
}

void sl_log_set_pipeline(const char *name) {
  snprintf(g_pipeline, sizeof g_pipeline, "%s", name ? name : "sluice");
}

int sl_log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (strcmp(s, level_names[i]) == 0) return i;
  if (strcmp(s, "warning") == 0) return SL_LOG_WARN;
  if (strcmp(s, "off") == 0) return SL_LOG_OFF;
  return -1;
}

int sl_log_enabled(sl_log_level level) { return level >= g_level; }

/* Appends s with C0 controls and DEL as \n, \r or \xHH, and C1 controls
 * (U+0080..U+009F, which terminals also obey) as \u00HH.  A tab stays: it
 * cannot start a line, and print() puts tabs between its arguments. */
static void put_text(sl_buf *b, const char *s, size_t n) {
  if (!s) return;
  const unsigned char *p = (const unsigned char *)s;
  size_t run = 0, i = 0;
  for (; i < n; i++) {
    unsigned c = p[i];
    int c1 = c == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F;
    if ((c >= 0x20 && c != 0x7F && !c1) || c == '\t') continue;
    sl_buf_append(b, s + run, i - run);
    if (c1) sl_buf_printf(b, "\\u%04x", p[++i]);
    else if (c == '\n') sl_buf_puts(b, "\\n");
    else if (c == '\r') sl_buf_puts(b, "\\r");
    else sl_buf_printf(b, "\\x%02x", c);
    run = i + 1;
  }
  sl_buf_append(b, s + run, i - run);
}

void sl_log(sl_log_level level, const char *stage, const char *fmt, ...) {
  if (level < g_level || level >= SL_LOG_OFF) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);

  char ts[32];
  sl_format_time_ms(ts, sizeof ts, sl_now_ms());

  /* Values read with sl.env may be credentials: never in a log line. */
  sl_buf pipe = SL_BUF_INIT, stg = SL_BUF_INIT, text = SL_BUF_INIT;
  sl__secret_redact(&pipe, g_pipeline, strlen(g_pipeline));
  if (stage) sl__secret_redact(&stg, stage, strlen(stage));
  sl__secret_redact(&text, msg, strlen(msg));

  sl_buf b = SL_BUF_INIT;
  if (g_json) {
    sl_buf_puts(&b, "{\"time\":\"");
    sl_buf_puts(&b, ts);
    sl_buf_puts(&b, "\",\"level\":\"");
    sl_buf_puts(&b, level_names[level]);
    sl_buf_puts(&b, "\",\"pipeline\":");
    sl_buf_json_string(&b, pipe.ptr ? pipe.ptr : "", pipe.len);
    if (stage) {
      sl_buf_puts(&b, ",\"stage\":");
      sl_buf_json_string(&b, stg.ptr ? stg.ptr : "", stg.len);
    }
    sl_buf_puts(&b, ",\"msg\":");
    sl_buf_json_string(&b, text.ptr ? text.ptr : "", text.len);
    sl_buf_puts(&b, "}\n");
  } else {
    sl_buf_printf(&b, "%s %s ", ts, level_tags[level]);
    put_text(&b, pipe.ptr, pipe.len);
    if (stage) {
      sl_buf_puts(&b, "/");
      put_text(&b, stg.ptr, stg.len);
    }
    sl_buf_puts(&b, ": ");
    put_text(&b, text.ptr, text.len);
    sl_buf_puts(&b, "\n");
  }
  if (!b.oom && !pipe.oom && !stg.oom && !text.oom) {
    ssize_t w = write(g_fd, b.ptr, b.len);
    (void)w;
  } else {
    /* The message itself may hold a secret that was not redacted: say only
     * that a line was lost, from the stack. */
    char line[128];
    int n = snprintf(line, sizeof line, g_json ? "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n"
                                               : "%s %s %s\n",
                     ts, g_json ? level_names[level] : level_tags[level],
                     "a log line was lost: out of memory");
    ssize_t w = write(g_fd, line, (size_t)n);
    (void)w;
  }
  sl_buf_free(&b);
  sl_buf_free(&pipe);
  sl_buf_free(&stg);
  sl_buf_free(&text);
}
