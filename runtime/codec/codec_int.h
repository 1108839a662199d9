/* What the codecs share (runtime-internal): line framing, the JSON object
 * decoder and string helpers, and the decoded view an encoder works from. */
#ifndef SLUICE_CODEC_INT_H
#define SLUICE_CODEC_INT_H

#include <stddef.h>

#include "sluice/codec.h"

/* Containers nested deeper than this are an error, so that a hostile input
 * cannot exhaust a worker's stack or make a record arbitrarily costly. */
#define SL_JSON_MAX_DEPTH 512

/* ---- line framing (jsonl.c), shared by the jsonl and raw codecs ---- */

void *sl__line_ctx_new(const sl_codec_opts *o);
void sl__line_ctx_free(void *ctx);
/* sl_codec.frame for one record per line; see codec.h for the rules. */
int sl__line_frame(void *ctx, const char *p, size_t n, int at_eof,
                   size_t *rec_len, size_t *consumed);

/* ---- JSON (json_parse.c, json_encode.c) ---- */

/* Appends a JSON text with every CR and LF turned into a space: JSON allows
 * them only as whitespace between tokens, where a space means the same and
 * keeps the output one line.  (json_encode.c) */
void sl__put_one_line(sl_buf *b, const char *p, size_t n);

/* Fills rec->fields from rec->raw, which must hold one JSON object: each
 * member's value stays an SL_T_JSON span of raw, validated in full. */
int sl__json_decode_object(sl_record *rec, sl_arena *a, const char **why);
/* Decodes the contents of a validated JSON string literal (the bytes between
 * the quotes) into dst, which needs room for n bytes; returns the length.
 * An escaped string never grows when decoded. */
size_t sl__json_unescape(char *dst, const char *src, size_t n);
/* The decoded bytes of v when it is a string (SL_T_STRING, or SL_T_JSON
 * holding a string literal), appended to b; 0, or SL_ETYPE when v is not a
 * string (nothing appended). */
int sl__json_put_string_content(sl_buf *b, const sl_value *v);

/* ---- encoding from fields (codec.c) ---- */

/* Encoders work from fields.  *view is rec when it has them, or tmp filled
 * by decoding rec into scratch (a record the engine did not decode).  The
 * caller frees scratch after it has written the output. */
int sl__codec_view(const sl_record *rec, sl_record *tmp, sl_arena *scratch,
                   const sl_record **view, const char **why);

#endif
