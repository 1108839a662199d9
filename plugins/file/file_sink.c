/* file.sink: appends records to a file (or standard output).  Writes go to
 * the libuv thread pool one at a time; whatever queues up meanwhile goes out
 * in the next write as one gather write, followed by one fdatasync, after
 * which every batch in it is acknowledged: group commit without a timer.
 * The queue, the retries and the acknowledgement are the sink queue's
 * (sluice/sink_queue.h); this file writes a group and classifies errors.
 * A line torn by a crash is cut off when the sink opens the file again; its
 * batch was never acknowledged, so the source replays it.
 *
 * A group whose write or fdatasync fails is cut off the file (ftruncate
 * back to where it began) before the queue writes it again: a write that
 * failed half-way would otherwise leave a torn line in the middle of the
 * file, and after a failed fdatasync the pages written are not durable
 * however a later sync ends (Linux forgets the error once reported), so
 * the group is written again whole, never merely synced again.  If the
 * cut fails too, the sink stops the pipeline unacknowledged. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "sluice/fault.h"
#include "sluice/log.h"

/* Cuts a torn last line (no '\n' at the end) left by a crash. */
static int repair_tail(file_sink *fk, off_t size) {
  char c;
  if (size == 0 || pread(fk->fd, &c, 1, size - 1) != 1 || c == '\n') return 0;
  char chunk[4096];
  off_t end = size;
  while (end > 0) {
    off_t start = end > (off_t)sizeof chunk ? end - (off_t)sizeof chunk : 0;
    ssize_t n = pread(fk->fd, chunk, (size_t)(end - start), start);
    if (n <= 0) return SL_EIO;
    for (ssize_t i = n - 1; i >= 0; i--)
      if (chunk[i] == '\n') {
        off_t keep = start + i + 1;
        sl_log_warn(sl_stage_name(fk->st), "%s: cut a torn last line of %lld bytes left by an earlier crash",
                    fk->cfg->path, (long long)(size - keep));
        return ftruncate(fk->fd, keep) < 0 ? SL_EIO : 0;
      }
    end = start;
  }
  sl_log_warn(sl_stage_name(fk->st), "%s: cut a torn line of %lld bytes left by an earlier crash",
              fk->cfg->path, (long long)size);
  return ftruncate(fk->fd, 0) < 0 ? SL_EIO : 0;
}

static const sl_sink_queue_ops file_sink_queue_ops;

int file_sink_init(sl_stage *st) {
  file_sink *fk = sl_stage_priv(st);
  file_sink_cfg *cfg = sl_stage_config(st);
  fk->st = st;
  fk->cfg = cfg;
  /* One group is one gather write: the header and a batch per iov. */
  sl_sink_queue_cfg qc = {.max_batches = MAX_IOV, .backoff_initial_ms = 100,
                          .backoff_max_ms = 10000};
  if (sl_sink_queue_init(&fk->q, st, &file_sink_queue_ops, fk, &qc)) return SL_ENOMEM;
  fk->codec = sl_codec_find(cfg->format);
  if (!fk->codec) {
    sl_log_error(sl_stage_name(st), "%s: unknown format '%s'", sl_stage_where(st), cfg->format);
    return SL_EOPTION;
  }
  sl_codec_opts co = {.delimiter = cfg->delimiter && cfg->delimiter[0] ? cfg->delimiter[0] : ',',
                      .header = cfg->header,
                      .columns = (const char **)cfg->columns,
                      .max_record = 0};
  if (check_delimiter(st, cfg->delimiter)) return SL_EOPTION;
  fk->cctx = fk->codec->ctx_new(&co);
  if (!fk->cctx && fk->codec->ctx_new) return SL_ENOMEM;
  sl_sink_set_codec(st, fk->codec, fk->cctx);

  fk->is_stdout = strcmp(cfg->path, "-") == 0;
  if (fk->is_stdout) {
    fk->fd = 1;
    fk->need_header = fk->codec->write_header && cfg->header;
    return 0;
  }
  fk->fd = open(cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fk->fd < 0) {
    sl_log_error(sl_stage_name(st), "%s: cannot open %s for writing: %s", sl_stage_where(st), cfg->path,
                 strerror(errno));
    return SL_EIO;
  }
  struct stat sb;
  if (fstat(fk->fd, &sb) < 0) return SL_EIO;
  fk->is_regular = S_ISREG(sb.st_mode);
  if (fk->is_regular) {
    /* pread needs a readable descriptor: repair through a second one. */
    int rfd = open(cfg->path, O_RDWR | O_CLOEXEC);
    if (rfd >= 0) {
      int wfd = fk->fd;
      fk->fd = rfd;
      int rc = repair_tail(fk, sb.st_size);
      fk->fd = wfd;
      close(rfd);
      if (rc) {
        sl_log_error(sl_stage_name(st), "%s: cannot repair %s", sl_stage_where(st), cfg->path);
        return rc;
      }
      fstat(fk->fd, &sb);
    }
  }
  fk->need_header = fk->codec->write_header && cfg->header && sb.st_size == 0;
  return 0;
}

void file_sink_destroy(sl_stage *st) {
  file_sink *fk = sl_stage_priv(st);
  if (fk->fd > 2) close(fk->fd);
  fk->fd = -1;
  if (fk->cctx) fk->codec->ctx_free(fk->cctx);
  fk->cctx = NULL;
  sl_buf_free(&fk->header);
  sl_sink_queue_close(&fk->q);
}

/* Errors that retrying does not heal: the descriptor is not open for
 * writing (standard output was closed), or no one reads it any more. */
static int is_permanent(void *ctx, int err) {
  const file_sink *fk = ctx;
  return fk->broken || err == UV_EBADF || err == UV_EINVAL || err == UV_EPIPE || err == UV_ECONNRESET ||
         err == UV_ENOTCONN || err == UV_EISDIR || err == UV_EFBIG || err == UV_ENXIO ||
         err == UV_ENODEV;
}

static const char *target(const file_sink *fk) {
  return fk->is_stdout ? "standard output" : fk->cfg->path;
}

/* Cuts what the failed group left at the end of the file; 0, or an errno
 * (then the sink is broken: the queue fails everything). */
static int cut_group(file_sink *fk) {
  struct stat sb;
  /* Never longer: a file cut by someone else (copytruncate) stays as it is. */
  if (!fk->is_regular || (fstat(fk->fd, &sb) == 0 && sb.st_size <= fk->size)) return 0;
  int e = SL_FAULT_ERRNO("io/file.sink.truncate");
  if (!e && ftruncate(fk->fd, fk->size) < 0) e = errno;
  if (e) fk->broken = 1;
  return e;
}

/* A failed write or sync: the group is cut off and the queue writes it
 * again with a growing pause (nothing is acknowledged, so nothing is
 * lost), or fails everything when retrying cannot heal the error. */
static void failed(file_sink *fk, const char *what, int err) {
  char why[800];
  int n = snprintf(why, sizeof why, "%s %s failed: %s", what, target(fk), uv_strerror(err));
  int cut = cut_group(fk);
  if (n > 0 && (size_t)n < sizeof why && cut)
    snprintf(why + n, sizeof why - (size_t)n, ", and cutting the unwritten records off its end at byte %lld "
             "failed too: %s", (long long)fk->size, strerror(cut));
  else if (n > 0 && (size_t)n < sizeof why && !strcmp(what, "syncing") && !is_permanent(fk, err))
    snprintf(why + n, sizeof why - (size_t)n, "; the records written since the last sync are not durable: "
             "cut off, they are written again whole");
  sl_sink_queue_written(&fk->q, err, why);
}

/* The group is durable: the header with it, if it had one. */
static void written(file_sink *fk) {
  fk->need_header = 0;
  sl_sink_queue_written(&fk->q, 0, NULL);
}

static void on_sync(uv_fs_t *req) {
  file_sink *fk = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  /* Pipes and terminals cannot be synced: what was written is all there is. */
  if (r < 0 && r != UV_EINVAL && r != UV_EROFS && r != UV_ENOTSUP) {
    failed(fk, "syncing", (int)r);
    return;
  }
  SL_CRASH_POINT("file.sink.after_fdatasync");
  written(fk);
}

static void start_sync(file_sink *fk) {
  int fault = SL_FAULT_ERRNO("io/file.sink.fdatasync");
  if (fault) {
    failed(fk, "syncing", uv_translate_sys_error(fault));
    return;
  }
  fk->req.data = fk;
  SL_CRASH_POINT("file.sink.before_fdatasync");
  int rc = uv_fs_fdatasync(sl_stage_loop(fk->st), &fk->req, fk->fd, on_sync);
  if (rc) failed(fk, "syncing", rc);
}

static void on_write(uv_fs_t *req);

/* Writes what is left of the group (after a short write, from
 * fk->iov[fk->from] less fk->partial bytes): "io/file.sink.write" fails the
 * write with an errno, "io/file.sink.short_write" writes half its first
 * buffer only, as a disk filling up may. */
static void start_write(file_sink *fk) {
  int fault = SL_FAULT_ERRNO("io/file.sink.write");
  if (fault) {
    failed(fk, "writing", uv_translate_sys_error(fault));
    return;
  }
  uv_buf_t bufs[MAX_IOV + 1];
  unsigned n = fk->niov - fk->from;
  memcpy(bufs, fk->iov + fk->from, n * sizeof bufs[0]);
  bufs[0].base += fk->partial;
  bufs[0].len -= fk->partial;
  if (SL_FAULT_ERRNO("io/file.sink.short_write")) {
    n = 1;
    bufs[0].len = (bufs[0].len + 1) / 2;
  }
  fk->req.data = fk;
  SL_CRASH_POINT("file.sink.before_write");
  /* libuv copies the buffer list, not the bytes: those are the batches'. */
  int rc = uv_fs_write(sl_stage_loop(fk->st), &fk->req, fk->fd, bufs, n, -1, on_write);
  if (rc) failed(fk, "writing", rc);
}

static void on_write(uv_fs_t *req) {
  file_sink *fk = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  if (r < 0) {
    failed(fk, "writing", (int)r);
    return;
  }
  /* A short write: skip what went out and write the rest. */
  size_t done = (size_t)r + fk->partial;
  unsigned i = fk->from;
  while (i < fk->niov && done >= fk->iov[i].len) done -= fk->iov[i++].len;
  if (i < fk->niov) {
    fk->from = i;
    fk->partial = done;
    start_write(fk);
    return;
  }
  SL_CRASH_POINT("file.sink.after_write");
  if (fk->cfg->fsync && !fk->is_stdout) {
    start_sync(fk);
    return;
  }
  written(fk);
}

/* The group goes out as one gather write (the header first, until a group
 * with it is durable). */
static void write_group(void *ctx, sl_sink_batch *first, uint32_t n) {
  file_sink *fk = ctx;
  (void)n;
  fk->niov = 0;
  if (fk->need_header) {
    fk->header.len = 0;
    fk->codec->write_header(fk->cctx, first->recs[0], &fk->header);
    fk->iov[fk->niov++] = uv_buf_init(fk->header.ptr, (unsigned)fk->header.len);
  }
  for (sl_sink_batch *sb = first; sb; sb = sb->next)
    fk->iov[fk->niov++] = uv_buf_init(sb->bytes.ptr, (unsigned)sb->bytes.len);
  /* Where the group begins: the end now, whoever else changed the file. */
  struct stat sb;
  if (fk->is_regular && fstat(fk->fd, &sb) == 0) fk->size = sb.st_size;
  fk->from = 0;
  fk->partial = 0;
  start_write(fk);
}

static const sl_sink_queue_ops file_sink_queue_ops = {
    .write = write_group,
    .permanent = is_permanent,
};

int file_sink_write(sl_stage *st, sl_sink_batch *sb) {
  file_sink *fk = sl_stage_priv(st);
  sl_sink_queue_push(&fk->q, sb);
  return 0;
}

void file_sink_flush(sl_stage *st) {
  file_sink *fk = sl_stage_priv(st);
  sl_sink_queue_flush(&fk->q);
}

static const sl_option file_sink_options[] = {
    {"path", SL_OPT_PATH, NULL, SL_REQUIRED, offsetof(file_sink_cfg, path), "File to append to, relative to the pipeline file.", NULL},
    {"format", SL_OPT_ENUM, "jsonl", 0, offsetof(file_sink_cfg, format), "Record format.", "jsonl|csv|raw"},
    {"delimiter", SL_OPT_STR, ",", 0, offsetof(file_sink_cfg, delimiter), "CSV field separator.", NULL},
    {"header", SL_OPT_BOOL, "true", 0, offsetof(file_sink_cfg, header), "CSV: write a header row into a new file.", NULL},
    {"columns", SL_OPT_STRLIST, NULL, 0, offsetof(file_sink_cfg, columns), "CSV: output columns (default: the first record's fields).", NULL},
    {"fsync", SL_OPT_BOOL, "true", 0, offsetof(file_sink_cfg, fsync), "Acknowledge only after fdatasync.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin file_sink_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "file.sink",
    .doc = "Appends JSON Lines, CSV or raw lines to a file; durable before it acknowledges.",
    .options = file_sink_options,
    .config_size = sizeof(file_sink_cfg),
    .priv_size = sizeof(file_sink),
    .init = file_sink_init,
    .destroy = file_sink_destroy,
    .write = file_sink_write,
    .flush = file_sink_flush,
};
