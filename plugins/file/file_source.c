/* file.source: reads JSON Lines, CSV or raw lines from a file (or standard
 * input), in batches, on the libuv thread pool.  The checkpoint is the byte
 * offset and line number just past the last batch every sink has made
 * durable; a restart resumes there, provided it is still the same file
 * (device and inode). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "sluice/clock.h"
#include "sluice/log.h"

static void issue_read(file_source *fs);

static const char *input_name(const file_source *fs) {
  return fs->is_stdin ? "standard input" : fs->cfg->path;
}

/* The checkpoint as saved: {"path":"...","dev":1,"ino":2,"offset":3,"line":4}. */
static int encode_checkpoint(sl_stage *st, const sl_checkpoint *cp, sl_buf *b) {
  file_source *fs = sl_stage_priv(st);
  sl_buf_puts(b, "{\"path\":");
  sl_buf_json_string(b, fs->cfg->path, strlen(fs->cfg->path));
  sl_buf_printf(b, ",\"dev\":%llu,\"ino\":%llu,\"offset\":%lld,\"line\":%lld}\n",
                (unsigned long long)fs->dev, (unsigned long long)fs->ino, (long long)cp->a,
                (long long)cp->b);
  return b->oom ? SL_ENOMEM : 0;
}

/* The member name of a checkpoint object: its value, or NULL if absent. */
static const sl_value *member(const sl_value *obj, const char *name) {
  for (uint32_t i = 0; i < obj->n; i++) {
    const sl_member *m = &obj->u.members[i];
    if (m->name.len == strlen(name) && memcmp(m->name.ptr, name, m->name.len) == 0) return &m->value;
  }
  return NULL;
}

/* Where to start: the saved checkpoint, which must name this very file
 * (device and inode) and the start of a line within it.  Anything else is
 * refused (SL_ESTATE): reading from the start again would write records
 * twice, and a wrong offset would skip records or cut one. */
static int load_checkpoint(file_source *fs, int64_t size, int64_t *off, int64_t *line) {
  sl_stage *st = fs->st;
  *off = 0;
  *line = 0;
  sl_buf b = SL_BUF_INIT;
  int rc = sl_state_load(st, &b);
  if (rc) {
    sl_buf_free(&b);
    if (rc == SL_ENOENT) return 0;
    return rc == SL_ENOMEM ? rc : sl_state_corrupt(st, "cannot read it: %s", sl_strerror(rc));
  }
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  const char *why = NULL;
  const char *const keys[] = {"dev", "ino", "offset", "line"};
  int64_t val[4] = {0};
  if (b.len == 0) {
    rc = sl_state_corrupt(st, "it is empty");
  } else if (sl_json_parse(b.ptr, b.len, &a, &v, &why) != 0) {
    rc = sl_state_corrupt(st, "it is not JSON (%s)", why ? why : "malformed");
  } else if (v.type != SL_T_OBJECT) {
    rc = sl_state_corrupt(st, "it is a JSON %s, not an object", sl_type_name(v.type));
  } else {
    const sl_value *path = member(&v, "path");
    if (!path || path->type != SL_T_STRING)
      rc = sl_state_corrupt(st, "\"path\" must be a string, got %s",
                            path ? sl_type_name(path->type) : "nothing");
    for (int k = 0; k < 4 && !rc; k++) {
      const sl_value *m = member(&v, keys[k]);
      if (!m || m->type != SL_T_INT || m->u.i < 0)
        rc = sl_state_corrupt(st, "\"%s\" must be a whole number >= 0, got %s", keys[k],
                              !m ? "nothing" : m->type == SL_T_INT ? "a negative one" : sl_type_name(m->type));
      else val[k] = m->u.i;
    }
  }
  sl_arena_free(&a);
  sl_buf_free(&b);
  if (rc) return rc;
  int64_t o = val[2], l = val[3];
  if ((uint64_t)val[0] != fs->dev || (uint64_t)val[1] != fs->ino)
    return sl_state_corrupt(st, "it is for another file (device %lld, inode %lld) than %s (device %llu, "
                            "inode %llu): the file was replaced, or the checkpoint edited",
                            (long long)val[0], (long long)val[1], fs->cfg->path,
                            (unsigned long long)fs->dev, (unsigned long long)fs->ino);
  if (o > size)
    return sl_state_corrupt(st, "offset %lld is past the end of %s (%lld bytes): the file was cut "
                            "short, or the checkpoint edited", (long long)o, fs->cfg->path, (long long)size);
  if (l > o)
    return sl_state_corrupt(st, "line %lld cannot come after offset %lld", (long long)l, (long long)o);
  /* A checkpoint is at the end of a record: after its newline, or at the
   * end of a file whose last line has none. */
  char c = '\n';
  if (o > 0 && o < size && pread(fs->fd, &c, 1, (off_t)(o - 1)) != 1)
    return sl_state_corrupt(st, "cannot read %s at offset %lld: %s", fs->cfg->path, (long long)o,
                            strerror(errno));
  if (c != '\n')
    return sl_state_corrupt(st, "offset %lld of %s is inside a line, not at the start of one",
                            (long long)o, fs->cfg->path);
  *off = o;
  *line = l;
  sl_log_info(sl_stage_name(st), "resuming %s at byte %lld (line %lld)", fs->cfg->path, (long long)o,
              (long long)l);
  return 0;
}

/* Reads the CSV header row synchronously (init runs before the loop). */
static int read_header(file_source *fs, int64_t *header_end) {
  size_t cap = 64 * 1024, len = 0, start = 0;
  char *h = malloc(cap);
  if (!h) return SL_ENOMEM;
  for (;;) {
    ssize_t n = pread(fs->fd, h + len, cap - len, (off_t)len);
    if (n < 0) {
      free(h);
      return SL_EIO;
    }
    len += (size_t)n;
    size_t rec_len, consumed;
    int rc;
    /* Blank lines before the header are skipped, as when reading from the start. */
    while ((rc = fs->codec->frame(fs->cctx, h + start, len - start, n == 0, &rec_len, &consumed)) == SL_OK &&
           rec_len == 0 && consumed > 0)
      start += consumed;
    if (rc == SL_OK) {
      const char *why = NULL;
      rc = fs->codec->take_header(fs->cctx, h + start, rec_len, &why);
      if (rc) sl_log_error(sl_stage_name(fs->st), "%s: bad header row: %s", fs->cfg->path, why ? why : "");
      free(h);
      *header_end = (int64_t)(start + consumed);
      return rc;
    }
    if (n == 0 || rc != SL_EAGAIN) {
      sl_log_error(sl_stage_name(fs->st), "%s: no header row", fs->cfg->path);
      free(h);
      return SL_EPARSE;
    }
    if (len == cap) {
      if (cap >= (size_t)fs->cfg->max_record) {
        free(h);
        return SL_ETOOBIG;
      }
      char *g = realloc(h, cap * 2);
      if (!g) {
        free(h);
        return SL_ENOMEM;
      }
      h = g;
      cap *= 2;
    }
  }
}

int check_delimiter(sl_stage *st, const char *d) {
  if (d && strlen(d) == 1 && (unsigned char)d[0] < 0x80 && d[0] != '"' && d[0] != '\r' &&
      d[0] != '\n')
    return 0;
  sl_log_error(sl_stage_name(st), "%s: delimiter must be one ASCII character other than a quote, CR or LF, got \"%s\"",
               sl_stage_where(st), d ? d : "");
  return -1;
}

int file_source_init(sl_stage *st) {
  file_source *fs = sl_stage_priv(st);
  file_source_cfg *cfg = sl_stage_config(st);
  fs->st = st;
  fs->cfg = cfg;
  fs->fd = -1;
  fs->codec = sl_codec_find(cfg->format);
  if (!fs->codec) {
    sl_log_error(sl_stage_name(st), "%s: unknown format '%s'", sl_stage_where(st), cfg->format);
    return SL_EOPTION;
  }
  sl_codec_opts co = {.delimiter = cfg->delimiter && cfg->delimiter[0] ? cfg->delimiter[0] : ',',
                      .header = cfg->header,
                      .columns = NULL,
                      .max_record = (size_t)cfg->max_record};
  if (check_delimiter(st, cfg->delimiter)) return SL_EOPTION;
  fs->cctx = fs->codec->ctx_new(&co);
  if (!fs->cctx && fs->codec->ctx_new) return SL_ENOMEM;

  fs->is_stdin = strcmp(cfg->path, "-") == 0;
  int64_t start = 0, line = 0, header_end = 0;
  fs->need_header = fs->codec->take_header && cfg->header;
  if (fs->is_stdin) {
    fs->fd = 0;
    (void)header_end;
    uv_handle_type t = uv_guess_handle(0);
    if (t == UV_NAMED_PIPE || t == UV_TTY) {
      int rc = t == UV_TTY ? uv_tty_init(sl_stage_loop(st), &fs->stream.tty, 0, 1)
                           : uv_pipe_init(sl_stage_loop(st), &fs->stream.pipe, 0);
      if (!rc && t == UV_NAMED_PIPE) rc = uv_pipe_open(&fs->stream.pipe, 0);
      if (rc) {
        sl_log_error(sl_stage_name(st), "cannot read standard input: %s", uv_strerror(rc));
        return SL_EIO;
      }
      fs->stream.handle.data = fs;
      fs->is_stream = 1;
    }
  } else {
    fs->fd = open(cfg->path, O_RDONLY | O_CLOEXEC);
    if (fs->fd < 0) {
      int missing = errno == ENOENT;
      sl_log_error(sl_stage_name(st), "%s: cannot open %s: %s", sl_stage_where(st), cfg->path,
                   strerror(errno));
      /* A path that names no file is the pipeline's mistake (exit 2), not
       * a failure of the run. */
      return missing ? SL_EOPTION : SL_EIO;
    }
    struct stat sb;
    if (fstat(fs->fd, &sb) < 0 || S_ISDIR(sb.st_mode)) {
      sl_log_error(sl_stage_name(st), "%s: cannot read %s: %s", sl_stage_where(st), cfg->path,
                   S_ISDIR(sb.st_mode) ? "it is a directory" : strerror(errno));
      return SL_EIO;
    }
    fs->dev = (uint64_t)sb.st_dev;
    fs->ino = (uint64_t)sb.st_ino;
    if (cfg->checkpoint && S_ISREG(sb.st_mode)) {
      int rc = load_checkpoint(fs, sb.st_size, &start, &line);
      if (rc) return rc;
    }
    if (fs->codec->take_header && cfg->header) {
      /* Resuming past the header: read it now.  From the start, the header
       * is framed like any row when it arrives (the file may be empty yet). */
      if (start > 0) {
        int rc = read_header(fs, &header_end);
        if (rc) return rc;
        if (start < header_end)
          return sl_state_corrupt(st, "offset %lld of %s is inside its CSV header row", (long long)start,
                                  cfg->path);
        fs->need_header = 0;
      } else {
        fs->need_header = 1;
      }
    }
  }
  fs->buf_off = start;
  fs->line = line;
  fs->cap = (size_t)cfg->read_size;
  fs->buf = malloc(fs->cap);
  if (!fs->buf) return SL_ENOMEM;
  return 0;
}

void file_source_destroy(sl_stage *st) {
  file_source *fs = sl_stage_priv(st);
  if (fs->is_stream && !uv_is_closing(&fs->stream.handle)) uv_close(&fs->stream.handle, NULL);
  fs->is_stream = 0;
  if (fs->fd > 0) close(fs->fd);
  if (fs->cctx) fs->codec->ctx_free(fs->cctx);
  free(fs->buf);
  fs->buf = NULL;
}

static void finish(file_source *fs) {
  if (fs->finished) return;
  fs->finished = 1;
  if (fs->timer_open) {
    uv_close((uv_handle_t *)&fs->timer, NULL);
    fs->timer_open = 0;
  }
  sl_source_finished(fs->st);
}

static size_t count_lines(const char *p, size_t n) {
  size_t c = 0;
  const char *end = p + n;
  while ((p = memchr(p, '\n', (size_t)(end - p)))) {
    c++;
    p++;
  }
  return c;
}

/* The CSV header row of a stream read from its start (an empty file that
 * grows, standard input).  Returns 1 if it has not arrived yet. */
static int take_stream_header(file_source *fs, size_t *pos, int at_eof) {
  for (;;) {
    size_t rec_len = 0, consumed = 0;
    int rc = fs->codec->frame(fs->cctx, fs->buf + *pos, fs->len - *pos, at_eof, &rec_len, &consumed);
    if (rc == SL_EAGAIN || (rc == SL_OK && consumed == 0)) return 1;
    fs->line += (int64_t)count_lines(fs->buf + *pos, consumed);
    if (rc == SL_OK && rec_len == 0) {   /* blank lines before the header */
      *pos += consumed;
      continue;
    }
    const char *why = NULL;
    if (rc != SL_OK || fs->codec->take_header(fs->cctx, fs->buf + *pos, rec_len, &why)) {
      sl_stage_fatal(fs->st, "%s: bad header row: %s", fs->cfg->path,
                     why ? why : sl_strerror(rc));
      *pos += consumed;
      fs->stopped = 1;
      return 1;
    }
    *pos += consumed;
    fs->need_header = 0;
    return 0;
  }
}

/* Frames as many records as buf holds into batches and emits them. */
static void frame_and_emit(file_source *fs, int at_eof) {
  uint32_t per_batch = sl_stage_batch_size(fs->st);
  size_t pos = 0;
  int64_t now = sl_now_ms();
  while (pos < fs->len) {
    if (fs->need_header && take_stream_header(fs, &pos, at_eof)) break;
    sl_batch *b = sl_batch_new(fs->st);
    if (!b) {
      sl_stage_fatal(fs->st, "out of memory");
      return;
    }
    size_t region = pos;
    while (pos < fs->len && sl_batch_count(b) < per_batch) {
      size_t rec_len = 0, consumed = 0;
      int rc = fs->codec->frame(fs->cctx, fs->buf + pos, fs->len - pos, at_eof, &rec_len, &consumed);
      if (rc == SL_EAGAIN) break;
      if (rc != SL_OK && rc != SL_ETOOBIG) {
        /* The framer gave up on these bytes: fail one line of them. */
        const char *nl = memchr(fs->buf + pos, '\n', fs->len - pos);
        consumed = nl ? (size_t)(nl - fs->buf - pos) + 1 : fs->len - pos;
        rec_len = nl ? consumed - 1 : consumed;
      }
      sl_record *rec = sl_batch_add(b);
      if (!rec) {
        sl_stage_fatal(fs->st, "out of memory");
        sl_batch_discard(b);
        return;
      }
      rec->raw.ptr = fs->buf + pos;   /* rebased below, once the region is copied */
      rec->raw.len = rc == SL_ETOOBIG ? (rec_len > 1024 ? 1024 : rec_len) : rec_len;
      rec->codec = fs->codec;
      rec->codec_ctx = fs->cctx;
      rec->meta.origin.ptr = fs->cfg->path;
      rec->meta.origin.len = strlen(fs->cfg->path);
      rec->meta.offset = fs->buf_off + (int64_t)pos;
      rec->meta.line = fs->line + 1;
      rec->meta.arrival_ms = now;
      if (rc == SL_ETOOBIG) {
        char why[128];
        snprintf(why, sizeof why, "record exceeds max_record_size (%lld bytes); its first %zu bytes are kept",
                 (long long)fs->cfg->max_record, rec->raw.len);
        /* The framer drops the rest of the record as it arrives. */
        sl_record_fail(rec, sl_batch_arena(b), "decode", why);
      } else if (rc != SL_OK) {
        sl_record_fail(rec, sl_batch_arena(b), "decode", sl_strerror(rc));
      } else if (rec_len == 0) {
        sl_batch_pop(b);   /* framing consumed only blank lines */
      }
      fs->line += (int64_t)count_lines(fs->buf + pos, consumed);
      pos += consumed;
      if (consumed == 0) break;
    }
    uint32_t n = sl_batch_count(b);
    if (n == 0 && pos == region) {
      sl_batch_discard(b);
      break;
    }
    /* One copy of the framed region into the batch's arena; records point into it. */
    char *copy = sl_arena_memdup(sl_batch_arena(b), fs->buf + region, pos - region);
    if (!copy) {
      sl_batch_discard(b);
      sl_stage_fatal(fs->st, "out of memory");
      return;
    }
    for (uint32_t i = 0; i < n; i++) {
      sl_record *r = sl_batch_record(b, i);
      r->raw.ptr = copy + (r->raw.ptr - (fs->buf + region));
    }
    sl_checkpoint cp = {.a = fs->buf_off + (int64_t)pos, .b = fs->line};
    sl_batch_set_checkpoint(b, &cp);
    sl_source_emit(fs->st, b);
    /* Paused: the rest of the buffer waits for resume, so the in-flight
     * bound is overshot by one batch at most. */
    if (sl_source_paused(fs->st)) break;
  }
  /* Keep the unframed tail at the front of the buffer. */
  if (pos) {
    memmove(fs->buf, fs->buf + pos, fs->len - pos);
    fs->len -= pos;
    fs->buf_off += (int64_t)pos;
  }
}

static void on_poll_timer(uv_timer_t *t) {
  file_source *fs = t->data;
  fs->eof = 0;
  issue_read(fs);
}

/* The end of the input: what is left is the last record, or a fragment
 * the framer would not take (an unterminated CSV quote), which is failed. */
static void at_end(file_source *fs) {
  frame_and_emit(fs, 1);
  if (fs->len && sl_source_paused(fs->st) && !fs->stopped) {
    fs->eof_pending = 1;   /* resume frames the rest */
    return;
  }
  fs->eof_pending = 0;
  if (fs->len) {
    sl_batch *b = sl_batch_new(fs->st);
    sl_record *rec = b ? sl_batch_add(b) : NULL;
    char *raw = rec ? sl_arena_memdup(sl_batch_arena(b), fs->buf, fs->len) : NULL;
    if (raw) {
      rec->raw.ptr = raw;
      rec->raw.len = fs->len;
      rec->meta.origin.ptr = fs->cfg->path;
      rec->meta.origin.len = strlen(fs->cfg->path);
      rec->meta.offset = fs->buf_off;
      rec->meta.line = fs->line + 1;
      sl_record_fail(rec, sl_batch_arena(b), "decode", "incomplete record at the end of the input");
      sl_checkpoint cp = {.a = fs->buf_off + (int64_t)fs->len, .b = fs->line};
      sl_batch_set_checkpoint(b, &cp);
      sl_source_emit(fs->st, b);
    } else {
      /* Skipped, the incomplete record would not even be a dead letter:
       * stop, and the next start reads it again. */
      if (b) sl_batch_discard(b);
      sl_stage_fatal(fs->st, "out of memory");
    }
    fs->len = 0;
  }
  fs->eof = 1;
  finish(fs);
}

/* Makes room for the next read: a record longer than the buffer grows it,
 * up to the record size limit (the framer reports larger ones). */
static int make_room(file_source *fs) {
  if (fs->len < fs->cap) return 0;
  size_t cap = fs->cap * 2;
  char *g = realloc(fs->buf, cap);
  if (!g) {
    sl_stage_fatal(fs->st, "out of memory");
    return SL_ENOMEM;
  }
  fs->buf = g;
  fs->cap = cap;
  return 0;
}

static void on_read(uv_fs_t *req) {
  file_source *fs = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  fs->reading = 0;
  if (fs->finished || !fs->buf) return;
  if (fs->stopped) {
    /* Bytes read after stop are not emitted: the checkpoint will resume there. */
    finish(fs);
    return;
  }
  if (n < 0) {
    sl_stage_fatal(fs->st, "cannot read %s: %s", input_name(fs), uv_strerror((int)n));
    finish(fs);
    return;
  }
  if (n == 0) {
    if (fs->cfg->follow && !fs->is_stdin) {
      frame_and_emit(fs, 0);
      fs->eof = 1;
      if (!fs->timer_open) {
        uv_timer_init(sl_stage_loop(fs->st), &fs->timer);
        fs->timer.data = fs;
        fs->timer_open = 1;
      }
      uv_timer_start(&fs->timer, on_poll_timer, (uint64_t)fs->cfg->poll_ms, 0);
      return;
    }
    at_end(fs);
    return;
  }
  fs->len += (size_t)n;
  frame_and_emit(fs, 0);
  if (!sl_source_paused(fs->st)) issue_read(fs);
}

/* ---- standard input as a stream (a pipe or a terminal) ----
 * A read of a pipe on the thread pool cannot be cancelled, so a stop would
 * wait for the writer; a libuv stream stops at once. */

static void on_stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  file_source *fs = h->data;
  (void)suggested;
  if (make_room(fs)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(fs->buf + fs->len, (unsigned)(fs->cap - fs->len));
}

static void on_stream_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf) {
  file_source *fs = h->data;
  (void)buf;
  if (fs->finished) return;
  if (n == UV_EOF) {
    uv_read_stop(h);
    at_end(fs);
    return;
  }
  if (n < 0) {
    uv_read_stop(h);
    sl_stage_fatal(fs->st, "cannot read standard input: %s", uv_strerror((int)n));
    finish(fs);
    return;
  }
  fs->len += (size_t)n;
  frame_and_emit(fs, 0);
  if (sl_source_paused(fs->st)) uv_read_stop(h);
}

static void start_stream(file_source *fs) {
  if (fs->finished || fs->stopped) return;
  int rc = uv_read_start((uv_stream_t *)&fs->stream, on_stream_alloc, on_stream_read);
  if (rc) {
    sl_stage_fatal(fs->st, "cannot read standard input: %s", uv_strerror(rc));
    finish(fs);
  }
}

static void issue_read(file_source *fs) {
  if (fs->reading || fs->finished || fs->stopped) return;
  if (fs->is_stream) {
    start_stream(fs);
    return;
  }
  if (make_room(fs)) return;
  uv_buf_t ub = uv_buf_init(fs->buf + fs->len, (unsigned)(fs->cap - fs->len));
  fs->req.data = fs;
  fs->reading = 1;
  int64_t off = fs->is_stdin ? -1 : fs->buf_off + (int64_t)fs->len;
  int rc = uv_fs_read(sl_stage_loop(fs->st), &fs->req, fs->fd, &ub, 1, off, on_read);
  if (rc) {
    fs->reading = 0;
    sl_stage_fatal(fs->st, "cannot read %s: %s", input_name(fs), uv_strerror(rc));
    finish(fs);
  }
}

int file_source_start(sl_stage *st) {
  issue_read(sl_stage_priv(st));
  return 0;
}

void file_source_pause(sl_stage *st) { (void)st; /* on_read does not read on */ }

void file_source_resume(sl_stage *st) {
  file_source *fs = sl_stage_priv(st);
  if (fs->finished) return;
  if (fs->eof_pending) {
    at_end(fs);
    return;
  }
  if (fs->len) frame_and_emit(fs, 0);   /* what was read before the pause */
  if (!fs->eof && !sl_source_paused(st)) issue_read(fs);
}

void file_source_stop(sl_stage *st) {
  file_source *fs = sl_stage_priv(st);
  fs->stopped = 1;
  if (fs->timer_open) uv_timer_stop(&fs->timer);
  if (fs->is_stream) {
    /* Records read so far were emitted; a partial line cannot be. */
    uv_read_stop((uv_stream_t *)&fs->stream);
    if (fs->len)
      sl_log_warn(sl_stage_name(st), "stopped with %zu bytes of an unfinished record from standard input",
                  fs->len);
  }
  if (!fs->reading) finish(fs);
}

void file_source_ack(sl_stage *st, const sl_checkpoint *cp) {
  file_source *fs = sl_stage_priv(st);
  if (!fs->cfg->checkpoint || fs->is_stdin) return;
  sl_buf b = SL_BUF_INIT;
  if (encode_checkpoint(st, cp, &b) == 0) sl_state_save(st, b.ptr, b.len);
  sl_buf_free(&b);
}

int file_source_checkpoint_encode(sl_stage *st, const sl_checkpoint *cp, sl_buf *out) {
  file_source *fs = sl_stage_priv(st);
  if (!fs->cfg->checkpoint || fs->is_stdin) return SL_ENOENT;
  return encode_checkpoint(st, cp, out);
}

static const sl_option file_source_options[] = {
    {"path", SL_OPT_PATH, NULL, SL_REQUIRED, offsetof(file_source_cfg, path), "File to read, relative to the pipeline file.", NULL},
    {"format", SL_OPT_ENUM, "jsonl", 0, offsetof(file_source_cfg, format), "Record format.", "jsonl|csv|raw"},
    {"delimiter", SL_OPT_STR, ",", 0, offsetof(file_source_cfg, delimiter), "CSV field separator.", NULL},
    {"header", SL_OPT_BOOL, "true", 0, offsetof(file_source_cfg, header), "CSV: the first row names the fields.", NULL},
    {"checkpoint", SL_OPT_BOOL, "true", 0, offsetof(file_source_cfg, checkpoint), "Resume after the last durable record on restart.", NULL},
    {"follow", SL_OPT_BOOL, "false", 0, offsetof(file_source_cfg, follow), "Keep reading as the file grows (like tail -f).", NULL},
    {"poll_interval", SL_OPT_DURATION, "1s", 0, offsetof(file_source_cfg, poll_ms), "follow: how often to look for new data.", NULL},
    {"read_size", SL_OPT_SIZE, "1MiB", 0, offsetof(file_source_cfg, read_size), "Bytes per read.", NULL},
    {"max_record_size", SL_OPT_SIZE, "16MiB", 0, offsetof(file_source_cfg, max_record), "Larger records go to the dead-letter sink.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin file_source_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "file.source",
    .doc = "Reads JSON Lines, CSV or raw lines from a file; resumes from its checkpoint.",
    .options = file_source_options,
    .config_size = sizeof(file_source_cfg),
    .priv_size = sizeof(file_source),
    .init = file_source_init,
    .destroy = file_source_destroy,
    .start = file_source_start,
    .pause = file_source_pause,
    .resume = file_source_resume,
    .stop = file_source_stop,
    .ack = file_source_ack,
    .checkpoint_encode = file_source_checkpoint_encode,
};
