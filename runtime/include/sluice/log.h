/* Logging: one line per event, naming the pipeline and the stage.
 * Human-readable text on a terminal, JSON lines otherwise (or as asked).
 * Safe from any thread: each line is written with one write(2). */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

typedef enum sl_log_level {
  SL_LOG_DEBUG = 0,
  SL_LOG_INFO,
  SL_LOG_WARN,
  SL_LOG_ERROR,
  SL_LOG_OFF
} sl_log_level;

typedef enum sl_log_format { SL_LOG_AUTO = 0, SL_LOG_TEXT, SL_LOG_JSON } sl_log_format;

void sl_log_setup(sl_log_level level, sl_log_format format, int fd);
void sl_log_set_pipeline(const char *name);
/* "debug", "info", "warn", "error", "off" → level; -1 if unknown. */
int sl_log_level_parse(const char *s);
int sl_log_enabled(sl_log_level level);

/* stage may be NULL (the runtime itself).  The message is one line. */
void sl_log(sl_log_level level, const char *stage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sl_log_debug(stage, ...)                                        \
  do {                                                                  \
    if (sl_log_enabled(SL_LOG_DEBUG)) sl_log(SL_LOG_DEBUG, stage, __VA_ARGS__); \
  } while (0)
#define sl_log_info(stage, ...)  sl_log(SL_LOG_INFO, stage, __VA_ARGS__)
#define sl_log_warn(stage, ...)  sl_log(SL_LOG_WARN, stage, __VA_ARGS__)
#define sl_log_error(stage, ...) sl_log(SL_LOG_ERROR, stage, __VA_ARGS__)

#endif
