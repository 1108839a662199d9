/* Records for the unit tests, set up as a source sets them up: raw bytes
 * and a codec, not decoded yet, with no Kafka partition or offset. */
#ifndef SLUICE_RECORD_TEST_H
#define SLUICE_RECORD_TEST_H

#include <string.h>

#include "sluice/codec.h"
#include "sluice/record.h"

/* raw (n bytes, not copied) to be decoded by codec; codec NULL for a record
 * built in code. */
static inline void rec_init_with(sl_record *rec, const sl_codec *codec, const char *raw, size_t n) {
  memset(rec, 0, sizeof *rec);
  rec->raw.ptr = raw;
  rec->raw.len = n;
  rec->codec = codec;
  rec->meta.partition = -1;
  rec->meta.offset = -1;
}

/* A JSON Lines record. */
static inline void rec_init(sl_record *rec, const char *raw, size_t n) {
  rec_init_with(rec, &sl_codec_jsonl, raw, n);
}

/* A JSON Lines record from a NUL-terminated string. */
static inline void rec_init_str(sl_record *rec, const char *raw) { rec_init(rec, raw, strlen(raw)); }

#endif
