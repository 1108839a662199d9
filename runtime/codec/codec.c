/* The codec registry, and the decoded view encoders work from. */
#include <string.h>

#include "codec/codec_int.h"
#include "sluice/errors.h"

const sl_codec *sl_codec_find(const char *name) {
  if (!name) return NULL;
  if (!strcmp(name, "jsonl") || !strcmp(name, "json") || !strcmp(name, "ndjson"))
    return &sl_codec_jsonl;
  if (!strcmp(name, "csv")) return &sl_codec_csv;
  if (!strcmp(name, "raw")) return &sl_codec_raw;
  return NULL;
}

int sl__codec_view(const sl_record *rec, sl_record *tmp, sl_arena *scratch,
                   const sl_record **view, const char **why) {
  if (rec->state != SL_REC_RAW || !rec->codec) {
    *view = rec;
    return 0;
  }
  /* The engine decodes before it encodes; this path only keeps a record it
   * did not decode from being written without its fields. */
  *tmp = *rec;
  const char *reason = NULL;
  int err = rec->codec->decode(rec->codec_ctx, tmp, scratch, &reason);
  if (err) {
    /* reason lives in scratch, which the caller frees. */
    *why = "the record could not be decoded from its own format";
    return err;
  }
  tmp->state = SL_REC_DECODED;
  *view = tmp;
  return 0;
}
