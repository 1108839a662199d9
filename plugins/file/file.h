/* The file source and sink, shared with the stdin and stdout plugins. */
#ifndef SLUICE_PLUGIN_FILE_H
#define SLUICE_PLUGIN_FILE_H

#include <stdint.h>
#include <sys/types.h>

#include "sluice/plugin.h"

typedef struct file_source_cfg {
  char *path;             /* "-" is standard input */
  char *format;
  char *delimiter;
  int header;
  int checkpoint;
  int follow;
  int64_t poll_ms;
  int64_t read_size;
  int64_t max_record;
} file_source_cfg;

typedef struct file_sink_cfg {
  char *path;             /* "-" is standard output */
  char *format;
  char *delimiter;
  int header;
  char **columns;
  int fsync;
} file_sink_cfg;

/* The plugins' private state (the runtime allocates it, priv_size). */
typedef struct file_source {
  sl_stage *st;
  file_source_cfg *cfg;
  const sl_codec *codec;
  void *cctx;
  uv_file fd;
  int is_stdin;
  uint64_t dev, ino;

  char *buf;              /* unframed bytes: buf[0..len) starts at file offset buf_off */
  size_t len, cap;
  int64_t buf_off;
  int64_t line;           /* lines before buf[0] */
  int need_header;        /* CSV: the header row is still to come */
  int eof_pending;        /* the end was read while paused, with records left */

  int is_stream;          /* standard input is a pipe or a terminal */
  union {
    uv_handle_t handle;
    uv_pipe_t pipe;
    uv_tty_t tty;
  } stream;

  uv_fs_t req;
  int reading;
  int eof;
  int stopped;            /* stop() was called */
  int finished;
  uv_timer_t timer;       /* follow: wait for the file to grow */
  int timer_open;
} file_source;

#define MAX_IOV 256

typedef struct file_sink {
  sl_stage *st;
  file_sink_cfg *cfg;
  const sl_codec *codec;
  void *cctx;
  uv_file fd;
  int is_stdout;
  int is_regular;                   /* a regular file: a failed group can be cut off */
  int need_header;                  /* until the group with the header is durable */
  int broken;                       /* a failed group could not be cut off: stop */
  sl_buf header;
  off_t size;                       /* the file's end when the group in flight began */

  sl_sink_queue q;                  /* the queue, retries, acknowledgement */
  uv_buf_t iov[MAX_IOV + 1];        /* the header, then one per batch */
  unsigned niov;
  unsigned from;                    /* a short write: the rest starts at iov[from] */
  size_t partial;                   /* ... and this many of its bytes went out */
  uv_fs_t req;
} file_sink;

/* The CSV delimiter must be one ASCII byte other than a quote, CR or LF.
 * Logs the error and returns -1 if not. */
int check_delimiter(sl_stage *st, const char *d);

extern const sl_plugin file_source_plugin;
extern const sl_plugin file_sink_plugin;
extern const sl_plugin stdin_plugin;
extern const sl_plugin stdout_plugin;

/* The callbacks, for plugins that are the file source or sink on a
 * standard stream. */
int file_source_init(sl_stage *st);
void file_source_destroy(sl_stage *st);
int file_source_start(sl_stage *st);
void file_source_pause(sl_stage *st);
void file_source_resume(sl_stage *st);
void file_source_stop(sl_stage *st);
void file_source_ack(sl_stage *st, const sl_checkpoint *cp);
int file_source_checkpoint_encode(sl_stage *st, const sl_checkpoint *cp, sl_buf *out);

int file_sink_init(sl_stage *st);
void file_sink_destroy(sl_stage *st);
int file_sink_write(sl_stage *st, sl_sink_batch *sb);
void file_sink_flush(sl_stage *st);

#endif
