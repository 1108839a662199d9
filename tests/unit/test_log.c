/* Log lines: in the text format a call is one line, whatever its names and
 * message hold, so that data cannot forge log lines. */
#include <unistd.h>

#include "sluice/log.h"
#include "test.h"

/* Logs one line in text format through a pipe and reads it back into out. */
static ssize_t log_text_line(const char *pipeline, const char *stage, const char *msg, char *out,
                             size_t cap) {
  int fd[2];
  if (pipe(fd) < 0) return -1;
  sl_log_setup(SL_LOG_INFO, SL_LOG_TEXT, fd[1]);
  sl_log_set_pipeline(pipeline);
  sl_log_info(stage, "%s", msg);
  close(fd[1]);
  ssize_t n = read(fd[0], out, cap - 1);
  close(fd[0]);
  out[n > 0 ? n : 0] = 0;
  return n;
}

static int count_newlines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* What follows the time stamp and level: "pipeline/stage: message\n". */
static const char *after_level(const char *line) {
  const char *p = strchr(line, ' ');
  return p ? p + 1 + 6 : line;   /* "INFO  " */
}

TEST(newlines_are_escaped) {
  char line[1024];
  ASSERT(log_text_line("p", "s", "ok\n2026-01-01T00:00:00.000Z ERROR p: forged", line, sizeof line) > 0);
  ASSERT_EQ(count_newlines(line), 1);
  ASSERT_STR_EQ(after_level(line), "p/s: ok\\n2026-01-01T00:00:00.000Z ERROR p: forged\n");
}

TEST(names_are_escaped_too) {
  char line[1024];
  ASSERT(log_text_line("pipe\nline", "stage\r\n1", "msg", line, sizeof line) > 0);
  ASSERT_EQ(count_newlines(line), 1);
  ASSERT_STR_EQ(after_level(line), "pipe\\nline/stage\\r\\n1: msg\n");
}

TEST(other_controls_are_escaped) {
  char line[1024];
  /* ESC (a terminal colour), DEL and C1 CSI (U+009B) are escaped; a tab
   * (print's separator) and UTF-8 text stay. */
  ASSERT(log_text_line("p", NULL, "\x1b[31mred\tx\x7fy\xc2\x9b" "2J 居民 \xc2\xa0", line, sizeof line) > 0);
  ASSERT_STR_EQ(after_level(line), "p: \\x1b[31mred\tx\\x7fy\\u009b2J 居民 \xc2\xa0\n");
}

TEST(json_format_unchanged) {
  int fd[2];
  ASSERT_EQ(pipe(fd), 0);
  sl_log_setup(SL_LOG_INFO, SL_LOG_JSON, fd[1]);
  sl_log_set_pipeline("p");
  sl_log_info(NULL, "a\nb");
  close(fd[1]);
  char out[512];
  ssize_t n = read(fd[0], out, sizeof out - 1);
  close(fd[0]);
  ASSERT(n > 0);
  out[n] = 0;
  ASSERT_EQ(count_newlines(out), 1);
  ASSERT(strstr(out, "\"msg\":\"a\\nb\"") != NULL);
}

RUN_TESTS(newlines_are_escaped, names_are_escaped_too, other_controls_are_escaped, json_format_unchanged)
