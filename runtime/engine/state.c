/* Stage state that survives restarts (checkpoints): one small file per stage
 * in the pipeline's state folder.  A save is written on the libuv thread pool
 * as write-to-temporary, fsync, rename, fsync of the folder, so a crash
 * leaves either the old file or the new one, never a torn one.  Saves that
 * arrive while a write is under way are coalesced: only the latest is written.
 * A save that fails stops the pipeline (SL_EXIT_STATE): running on would
 * leave every later record unprotected, to be read again after a restart. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/state.h"
#include "sluice/fault.h"
#include "sluice/log.h"

struct sl_statefile {
  sl_stage *st;
  char *path;
  char *tmp;
  char *dir;
  sl_buf latest;          /* the value to write next */
  int dirty;              /* latest has not been handed to a write yet */
  int busy;               /* a write is under way on the thread pool */
  sl_buf writing;         /* the value being written (owned by the write) */
  int err;                /* errno of the last write, 0 if it succeeded */
  int failed;             /* a write failed: the pipeline is stopping */
  uint64_t held_latest;   /* records whose checkpoint is in latest */
  uint64_t held_writing;  /* records whose checkpoint is being written */
  uv_work_t work;
};

static int write_atomically(const char *path, const char *tmp, const char *dir,
                            const char *data, size_t len) {
  SL_CRASH_POINT("engine.state.before_write");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  size_t off = 0;
  while (off < len) {
    int fault = SL_FAULT_ERRNO("io/engine.state.write");
    ssize_t w = fault ? (errno = fault, -1) : write(fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return e;
    }
    off += (size_t)w;
  }
  SL_CRASH_POINT("engine.state.before_fsync");
  int fault = SL_FAULT_ERRNO("io/engine.state.fsync");
  if (fault || fsync(fd) < 0) {
    int e = fault ? fault : errno;
    close(fd);
    return e;
  }
  if (close(fd) < 0) return errno;
  SL_CRASH_POINT("engine.state.before_rename");
  if (rename(tmp, path) < 0) return errno;
  SL_CRASH_POINT("engine.state.after_rename");
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  SL_CRASH_POINT("engine.state.after_fsync_dir");
  return 0;
}

static void work_cb(uv_work_t *req) {
  sl_statefile *sf = req->data;
  sf->err = write_atomically(sf->path, sf->tmp, sf->dir, sf->writing.ptr, sf->writing.len);
}

/* Stops the pipeline: its sources stop and what is in flight drains (later
 * saves are still tried: one that succeeds means less to read again). */
static void save_failed(sl_statefile *sf, int err) {
  sl_pipeline *p = sf->st->p;
  if (sf->failed) {
    sl_log_debug(sf->st->name, "cannot save the checkpoint to %s: %s", sf->path, strerror(err));
    return;
  }
  sf->failed = 1;
  sl_log_error(sf->st->name, "cannot save the checkpoint to %s: %s; stopping the pipeline (exit %d): "
               "the next start resumes from the last checkpoint saved", sf->path, strerror(err),
               SL_EXIT_STATE);
  if (!p->exit_code) p->exit_code = SL_EXIT_STATE;
  if (p->state_hooks) p->state_hooks->failed(p);
}

static void start_write(sl_statefile *sf);

static void after_work_cb(uv_work_t *req, int status) {
  sl_statefile *sf = req->data;
  sl_pipeline *p = sf->st->p;
  sf->busy = 0;
  p->statefiles_busy--;
  if (status == 0 && sf->err) save_failed(sf, sf->err);
  uint64_t held = sf->held_writing;
  sf->held_writing = 0;
  if (held && p->state_hooks) p->state_hooks->released(p, held);
  if (sf->dirty) start_write(sf);
  else if (p->state_hooks) p->state_hooks->settled(p);
}

static void start_write(sl_statefile *sf) {
  sl_buf t = sf->writing;
  sf->writing = sf->latest;
  sf->latest = t;
  sf->latest.len = 0;
  sf->dirty = 0;
  sf->held_writing += sf->held_latest;
  sf->held_latest = 0;
  sf->busy = 1;
  sf->st->p->statefiles_busy++;
  sf->work.data = sf;
  if (uv_queue_work(sf->st->p->loop, &sf->work, work_cb, after_work_cb)) {
    /* The thread pool refused (it does not in practice): write here. */
    sf->err = write_atomically(sf->path, sf->tmp, sf->dir, sf->writing.ptr, sf->writing.len);
    after_work_cb(&sf->work, 0);
  }
}

/* Stage names become file names: keep letters, digits, '.', '-', '_'. */
static void sanitize(char *s) {
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '.' || *s == '-' || *s == '_'))
      *s = '_';
}

int sl__state_open(sl_stage *st) {
  if (st->state) return 0;
  sl_statefile *sf = calloc(1, sizeof *sf);
  if (!sf) return SL_ENOMEM;
  char *name = strdup(st->name);
  if (!name) {
    free(sf);
    return SL_ENOMEM;
  }
  sanitize(name);
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "%s/%s.json", st->p->state_dir, name);
  sf->path = sl_buf_steal(&b, NULL);
  sl_buf_printf(&b, "%s/.%s.json.tmp", st->p->state_dir, name);
  sf->tmp = sl_buf_steal(&b, NULL);
  sf->dir = strdup(st->p->state_dir);
  free(name);
  sf->st = st;
  if (!sf->path || !sf->tmp || !sf->dir) {
    free(sf->path);
    free(sf->tmp);
    free(sf->dir);
    free(sf);
    return SL_ENOMEM;
  }
  st->state = sf;
  return 0;
}

const char *sl__state_path(const sl_stage *st) {
  return st->state ? st->state->path : st->name;
}

void sl__state_close(sl_stage *st) {
  sl_buf_free(&st->preloaded);
  sl_statefile *sf = st->state;
  if (!sf) return;
  sl_buf_free(&sf->latest);
  sl_buf_free(&sf->writing);
  free(sf->path);
  free(sf->tmp);
  free(sf->dir);
  free(sf);
  st->state = NULL;
}

int sl_state_load(sl_stage *st, sl_buf *out) {
  int rc = sl__state_open(st);
  if (rc) return rc;
  if (st->has_preloaded) {
    /* The sink that holds the data holds the position too: it wins. */
    sl_buf_append(out, st->preloaded.ptr ? st->preloaded.ptr : "", st->preloaded.len);
    return out->oom ? SL_ENOMEM : 0;
  }
  FILE *f = fopen(st->state->path, "rb");
  if (!f) return errno == ENOENT ? SL_ENOENT : SL_EIO;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sl_buf_append(out, chunk, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) return SL_EIO;
  return out->oom ? SL_ENOMEM : 0;
}

void sl_state_save(sl_stage *st, const char *data, size_t len) {
  if (!st->state && sl__state_open(st)) {
    sl_log_error(st->name, "out of memory saving state");
    return;
  }
  sl_statefile *sf = st->state;
  sf->latest.len = 0;
  sl_buf_append(&sf->latest, data, len);
  sf->dirty = 1;
  /* Saved from ack: the acked records stay in flight until this is written. */
  if (st->ack && !st->ack->held) {
    sf->held_latest += st->ack->records;
    st->ack->held = 1;
  }
  if (!sf->busy) start_write(sf);
}

int sl__state_write_now(sl_stage *st, const char *data, size_t len) {
  int rc = sl__state_open(st);
  if (rc) return rc;
  sl_statefile *sf = st->state;
  if (sf->busy || sf->dirty) return SL_EAGAIN;
  int e = write_atomically(sf->path, sf->tmp, sf->dir, data, len);
  if (e) {
    sl_log_error(st->name, "cannot write %s: %s", sf->path, strerror(e));
    return SL_EIO;
  }
  return 0;
}

void sl__state_flush_all(sl_pipeline *p) {
  sl_stage **lists[2] = {p->sources, p->sinks};
  int counts[2] = {p->nsources, p->nsinks};
  for (int l = 0; l < 2; l++)
    for (int i = 0; i < counts[l]; i++) {
      sl_statefile *sf = lists[l][i]->state;
      if (!sf || !sf->dirty || sf->busy) continue;
      int e = write_atomically(sf->path, sf->tmp, sf->dir, sf->latest.ptr, sf->latest.len);
      if (e) save_failed(sf, e);
      sf->dirty = 0;
      sf->held_latest = 0;
    }
}

int sl_state_corrupt(sl_stage *st, const char *what, ...) {
  char why[512];
  va_list ap;
  va_start(ap, what);
  vsnprintf(why, sizeof why, what, ap);
  va_end(ap);
  sl_buf where = SL_BUF_INIT;
  if (st->has_preloaded) sl_buf_printf(&where, "the checkpoint stored by %s", st->p->sinks[0]->name);
  else if (st->state) sl_buf_puts(&where, st->state->path);
  else sl_buf_puts(&where, "the checkpoint");
  sl_log_error(st->name, "%.*s: unusable checkpoint: %s. Not starting, since a guess would skip records "
               "or read them twice. To read this source from the start, run once with "
               "--reset-checkpoint %s (%s); or restore the checkpoint",
               where.oom ? 14 : (int)where.len, where.oom ? "the checkpoint" : where.ptr, why, st->name,
               st->has_preloaded ? "the stored checkpoint is replaced at the first commit"
                                 : "the file is moved aside");
  sl_buf_free(&where);
  return SL_ESTATE;
}

int sl__state_reset(sl_stage *st) {
  int rc = sl__state_open(st);
  if (rc) return rc;
  if (st->has_preloaded) {
    sl_buf_free(&st->preloaded);
    st->has_preloaded = 0;
    sl_log_info(st->name, "--reset-checkpoint: ignoring the checkpoint stored by %s; it is replaced "
                "at the first commit", st->p->sinks[0]->name);
  }
  sl_buf aside = SL_BUF_INIT;
  sl_buf_printf(&aside, "%s.before-reset", st->state->path);
  if (aside.oom) return SL_ENOMEM;
  if (rename(st->state->path, aside.ptr) == 0) {
    sl_log_info(st->name, "--reset-checkpoint: moved %s to %s; reading from the start",
                st->state->path, aside.ptr);
  } else if (errno == ENOENT) {
    sl_log_info(st->name, "--reset-checkpoint: no checkpoint in %s; reading from the start",
                st->state->path);
  } else {
    sl_log_error(st->name, "--reset-checkpoint: cannot move %s to %s: %s", st->state->path,
                 aside.ptr, strerror(errno));
    rc = SL_EIO;
  }
  sl_buf_free(&aside);
  return rc;
}

int sl_pipeline_resumes(sl_pipeline *p, const char **source) {
  for (int i = 0; i < p->nsources; i++) {
    sl_stage *st = p->sources[i];
    if (st->reset_state) continue;
    if (st->has_preloaded) goto resumes;
    char *name = strdup(st->name);
    if (!name) continue;
    sanitize(name);
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "%s/%s.json", p->state_dir ? p->state_dir : ".", name);
    free(name);
    struct stat sb;
    int saved = b.ptr && stat(b.ptr, &sb) == 0;
    sl_buf_free(&b);
    if (saved) goto resumes;
    continue;
  resumes:
    if (source) *source = st->name;
    return 1;
  }
  return 0;
}
