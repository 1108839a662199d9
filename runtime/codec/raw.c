/* The raw codec: each line is one record with a single string field,
 * "message".  For logs and other text that is not structured. */
#include <stdio.h>
#include <string.h>

#include "codec/codec_int.h"
#include "sluice/errors.h"
#include "sluice/text.h"

static int raw_decode(void *ctx, sl_record *rec, sl_arena *a, const char **why) {
  (void)ctx;
  size_t bad = sl_utf8_check(rec->raw.ptr, rec->raw.len);
  if (bad < rec->raw.len) {
    char msg[48];
    int n = snprintf(msg, sizeof msg, "invalid UTF-8 at byte %zu", bad);
    const char *m = sl_arena_strndup(a, msg, (size_t)n);
    *why = m ? m : "invalid UTF-8";
    return SL_EUTF8;
  }
  sl_member *f = sl_arena_alloc(a, sizeof *f);
  if (!f) {
    *why = "out of memory";
    return SL_ENOMEM;
  }
  f->name = SL_STR_LIT("message");
  f->value.type = SL_T_STRING;
  f->value.flags = 0;
  f->value.n = 0;
  f->value.u.s = rec->raw;
  rec->fields = f;
  rec->nfields = 1;
  rec->capfields = 1;
  return 0;
}

static const sl_value *find_field(const sl_record *rec, const char *name, size_t len) {
  for (uint32_t i = rec->nfields; i-- > 0;) {
    const sl_member *m = &rec->fields[i];
    if (m->name.len == len && memcmp(m->name.ptr, name, len) == 0) return &m->value;
  }
  return NULL;
}

static int raw_encode(void *ctx, const sl_record *rec, sl_buf *out, const char **why) {
  (void)ctx;
  if (rec->state == SL_REC_FAILED) {
    *why = "a failed record goes to the dead-letter sink, not to a raw sink";
    return SL_EINVAL;
  }
  size_t mark = out->len;
  if (rec->codec == &sl_codec_raw &&
      (rec->state == SL_REC_RAW || rec->state == SL_REC_DECODED)) {
    sl_buf_append(out, rec->raw.ptr, rec->raw.len);
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
    /* The message as text when it is a string, else whatever the record
     * has as JSON: nothing is silently dropped. */
    const sl_value *msg = find_field(view, "message", 7);
    if (!msg)
      sl_json_encode_record(out, view);
    else if (sl__json_put_string_content(out, msg) == SL_ETYPE)
      sl_json_encode_value(out, msg);
    sl_arena_free(&scratch);
  }
  sl_buf_putc(out, '\n');
  if (out->oom) {
    out->len = mark;
    *why = "out of memory";
    return SL_ENOMEM;
  }
  return 0;
}

const sl_codec sl_codec_raw = {
  .name = "raw",
  .ctx_new = sl__line_ctx_new,
  .ctx_free = sl__line_ctx_free,
  .frame = sl__line_frame,
  .take_header = NULL,
  .decode = raw_decode,
  .encode = raw_encode,
  .write_header = NULL,
};
