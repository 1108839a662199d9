/* Codecs: how records are framed in a byte stream, decoded into fields and
 * encoded back.  A codec is stateless; what a stream needs (a CSV header, the
 * sink's columns) lives in a context the codec makes from its options.
 * Decoding and encoding run on worker threads, several at once on one context:
 * a context is read-only once set up, except where a function says it locks. */
#ifndef SLUICE_CODEC_H
#define SLUICE_CODEC_H

#include <stddef.h>

#include "sluice/buf.h"
#include "sluice/record.h"

typedef struct sl_codec_opts {
  char delimiter;         /* CSV field separator; ',' by default (0); not '"', CR, LF
                           * or a byte >= 0x80: ctx_new returns NULL for those */
  int header;             /* CSV: the first row names the fields (default 1) */
  const char **columns;   /* CSV sink: output columns, NULL-terminated; NULL = the first record's fields */
  size_t max_record;      /* largest record in bytes (framing) */
} sl_codec_opts;

typedef struct sl_codec {
  const char *name;                       /* "jsonl", "csv", "raw" */

  void *(*ctx_new)(const sl_codec_opts *o);   /* NULL on ENOMEM */
  void (*ctx_free)(void *ctx);

  /* Finds the first record in p[0..n).  On SL_OK, *rec_len is the record's
   * length without its terminator and *consumed the bytes to skip past it
   * (terminator included).  SL_EAGAIN: no complete record yet; with at_eof
   * set, the remaining bytes are the last record (no terminator) and SL_OK is
   * returned for them if n > 0.  Runs on the loop thread: must be cheap.
   *
   * Records end at LF; a CR right before it is dropped (CRLF).  For csv an
   * LF inside a quoted field does not end the record.
   *
   * SL_OK with *rec_len == 0 means "no record here: drop *consumed bytes".
   * That is how blank lines are skipped (jsonl and raw: lines of only
   * spaces, tabs and CRs; csv: empty lines) and how the rest of an
   * oversized record is dropped (below).  One call consumes at most one
   * record; the line of a record is 1 + the LFs consumed before it.
   *
   * SL_ETOOBIG: the record at p is longer than opts->max_record (0 = no
   * limit); report it once and drop *consumed bytes.  *rec_len is its length
   * if its end is in p[0..n), else the bytes of it seen so far.  If its end
   * was seen, *consumed includes the terminator and the stream goes on as
   * usual.  If not, *consumed == n: frame gives up as soon as the record is
   * certainly too long, so the caller never buffers much more than
   * max_record; the context remembers that it is inside that record, and
   * the next calls return SL_OK with *rec_len == 0 until its terminator is
   * consumed.  This state is why one context frames one stream.  After
   * SL_EAGAIN, call again with the same start p and more bytes; reading in
   * growing chunks keeps rescanning of a long record linear. */
  int (*frame)(void *ctx, const char *p, size_t n, int at_eof,
               size_t *rec_len, size_t *consumed);

  /* Takes the header row (CSV); NULL for codecs without one.  Loop thread,
   * once per context and before any decode.  p[0..n) is the first record
   * that frame returned; a UTF-8 byte order mark before it is dropped.
   * Empty or duplicate names are an error; *why then points into the
   * context (valid until ctx_free).  Field names of decoded records point
   * into the context too: it must outlive the batches it decoded. */
  int (*take_header)(void *ctx, const char *p, size_t n, const char **why);

  /* Fills rec->fields from rec->raw, allocating from a.  On failure returns
   * a negative SL_E* and points *why at a static or arena string.
   * jsonl: raw must be one JSON object (no byte order mark); the members'
   * values are SL_T_JSON spans of raw, validated in full; duplicate names
   * are kept, and sl_record_get finds the last.  csv: SL_T_STRING values; a
   * row with more fields than the header is an error, a shorter row lacks
   * the missing fields.  raw: one SL_T_STRING field "message".  Strings
   * are always valid UTF-8. */
  int (*decode)(void *ctx, sl_record *rec, sl_arena *a, const char **why);

  /* Appends one record, terminator included.  A record still SL_REC_RAW or
   * SL_REC_DECODED whose codec is this one is copied as its raw bytes
   * (jsonl: CR and LF between tokens become spaces, so a record from a
   * source that is not line-framed still takes one line).  csv never copies
   * raw bytes: the sink's columns and delimiter need not be the source's.
   * Every other record is encoded from its fields, so it should be decoded
   * first (sl_record_decode); one still SL_REC_RAW is decoded into a
   * temporary arena on each call, which works but is slow.  An
   * SL_REC_FAILED record is refused (it belongs to the dead-letter sink).
   * Fails (negative SL_E*, *why set to a static string) only if the record
   * cannot be written in this format; nothing is appended then.  csv fixes
   * its columns from the first record encoded unless opts->columns gave
   * them (locks once); fields outside the columns are not written. */
  int (*encode)(void *ctx, const sl_record *rec, sl_buf *out, const char **why);

  /* Appends the header row (CSV), if the codec has one, for a sink writing a
   * new file; sets the columns from rec if not fixed yet (locks).  NULL if none.
   * csv writes nothing when opts->header is 0. */
  int (*write_header)(void *ctx, const sl_record *rec, sl_buf *out);
} sl_codec;

extern const sl_codec sl_codec_jsonl;
extern const sl_codec sl_codec_csv;
extern const sl_codec sl_codec_raw;

/* The codec with this name, or NULL. */
const sl_codec *sl_codec_find(const char *name);

/* ---- JSON helpers (runtime/codec/json*.c) ---- */

/* Parses one complete JSON text into a value tree; strings are decoded into
 * the arena.  Rejects trailing garbage and invalid UTF-8.  Strict RFC 8259:
 * lone surrogates and nesting deeper than 512 are errors.  Integers that fit
 * int64 are SL_T_INT, other numbers (and -0) SL_T_DOUBLE.  *why names the
 * byte: "invalid JSON at byte 17: expected ':' after object key, got '='". */
int sl_json_parse(const char *p, size_t n, sl_arena *a, sl_value *out, const char **why);
/* Turns an SL_T_JSON value into a decoded one (numbers to INT or DOUBLE,
 * strings unescaped, containers parsed); other values are left as they are.
 * Strings without escapes point into the span, so live as long as it does. */
int sl_json_materialize(sl_value *v, sl_arena *a, const char **why);
/* Appends v as JSON text (SL_T_JSON spans verbatim, but CR and LF between
 * tokens become spaces: the output never holds a line break). */
void sl_json_encode_value(sl_buf *b, const sl_value *v);
/* Appends the record's fields as one JSON object, without a terminator. */
void sl_json_encode_record(sl_buf *b, const sl_record *rec);

/* ---- the dead-letter envelope (runtime/codec/envelope.c) ---- */

/* Appends one JSON line describing a failed record:
 * {"time":..., "pipeline":..., "stage":..., "error":..., "source":{...},
 *  "record":<the record as JSON, when it decoded>, "raw":<original text>}
 * (raw_base64 instead of raw when the original bytes are not UTF-8). */
void sl_envelope_encode(sl_buf *b, const sl_record *rec, const char *pipeline,
                        int64_t now_ms);

#endif
