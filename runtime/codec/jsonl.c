/* The JSON Lines codec: one JSON object per line.
 *
 * Line framing lives here and is shared with the raw codec.  Decoding is
 * sl__json_decode_object; a record that no step changed is written back as
 * its original line, byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "codec/codec_int.h"
#include "sluice/errors.h"

/* The framing state of one stream.  Only frame touches it, on the loop
 * thread; decode and encode never read it, so workers can share the
 * context without locks. */
typedef struct line_ctx {
  size_t max_record;    /* 0: no limit */
  int skipping;         /* inside an oversized line already reported */
} line_ctx;

void *sl__line_ctx_new(const sl_codec_opts *o) {
  line_ctx *c = calloc(1, sizeof *c);
  if (c && o) c->max_record = o->max_record;
  return c;
}

void sl__line_ctx_free(void *ctx) {
  free(ctx);
}

static int is_blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
  return 1;
}

int sl__line_frame(void *ctx, const char *p, size_t n, int at_eof,
                   size_t *rec_len, size_t *consumed) {
  line_ctx *c = ctx;
  size_t max = c ? c->max_record : 0;
  if (n == 0) {
    if (c && at_eof) c->skipping = 0;
    return SL_EAGAIN;
  }
  const char *nl = memchr(p, '\n', n);
  if (c && c->skipping) {
    /* The rest of a line already reported as too big: drop it. */
    *rec_len = 0;
    *consumed = nl ? (size_t)(nl - p) + 1 : n;
    if (nl || at_eof) c->skipping = 0;
    return SL_OK;
  }
  size_t len, used;
  if (nl) {
    len = (size_t)(nl - p);
    used = len + 1;
  } else if (at_eof) {
    len = used = n;
  } else {
    /* An unfinished line: waiting for its end would buffer without bound,
     * so give up on it as soon as it is certainly too long.  A final CR may
     * still turn out to be half of its CRLF. */
    size_t seen = n - (p[n - 1] == '\r');
    if (max && seen > max) {
      c->skipping = 1;
      *rec_len = n;
      *consumed = n;
      return SL_ETOOBIG;
    }
    return SL_EAGAIN;
  }
  if (len && p[len - 1] == '\r') len--;
  *consumed = used;
  if (max && len > max) {
    *rec_len = len;
    return SL_ETOOBIG;
  }
  *rec_len = is_blank(p, len) ? 0 : len;
  return SL_OK;
}

static int jsonl_decode(void *ctx, sl_record *rec, sl_arena *a, const char **why) {
  (void)ctx;
  return sl__json_decode_object(rec, a, why);
}

static int jsonl_encode(void *ctx, const sl_record *rec, sl_buf *out, const char **why) {
  (void)ctx;
  if (rec->state == SL_REC_FAILED) {
    *why = "a failed record goes to the dead-letter sink, not to a jsonl sink";
    return SL_EINVAL;
  }
  size_t mark = out->len;
  if (rec->codec == &sl_codec_jsonl &&
      (rec->state == SL_REC_RAW || rec->state == SL_REC_DECODED)) {
    /* Pass-through: the line as it came in.  A message from a source that
     * is not line-framed (Kafka) may hold newlines between tokens. */
    sl__put_one_line(out, rec->raw.ptr, rec->raw.len);
    sl_buf_putc(out, '\n');
  } else {
    sl_record tmp;
    sl_arena scratch;
    const sl_record *view;
    sl_arena_init(&scratch);
    int err = sl__codec_view(rec, &tmp, &scratch, &view, why);
    if (err) {
      sl_arena_free(&scratch);
      return err;
    }
    sl_json_encode_record(out, view);
    sl_buf_putc(out, '\n');
    sl_arena_free(&scratch);
  }
  if (out->oom) {
    out->len = mark;
    *why = "out of memory";
    return SL_ENOMEM;
  }
  return 0;
}

const sl_codec sl_codec_jsonl = {
  .name = "jsonl",
  .ctx_new = sl__line_ctx_new,
  .ctx_free = sl__line_ctx_free,
  .frame = sl__line_frame,
  .take_header = NULL,
  .decode = jsonl_decode,
  .encode = jsonl_encode,
  .write_header = NULL,
};
