/* Fuzzes the CSV codec.
 *
 * The first byte picks the delimiter, whether there is a header and
 * max_record.  For every input: frame it whole and in uneven chunks (same
 * records); take the header; decode each row; write it back as CSV and as
 * JSON and read both back, which must succeed and give the same strings. */
#include "fuzz_codec.h"

static sl_arena arena;

static const sl_value *field(const sl_record *rec, const char *name, size_t len) {
  for (uint32_t i = rec->nfields; i-- > 0;)
    if (rec->fields[i].name.len == len && !memcmp(rec->fields[i].name.ptr, name, len))
      return &rec->fields[i].value;
  return NULL;
}

/* The row written as CSV with its own names as columns reads back, cell
 * for cell, as the same strings. */
static void check_csv_round_trip(const sl_record *rec, char delim) {
  sl_codec_opts o = {.delimiter = delim, .header = 1};
  void *sink = sl_codec_csv.ctx_new(&o);
  CHECK(sink);
  sl_buf out = SL_BUF_INIT;
  const char *why;
  CHECK(sl_codec_csv.write_header(sink, rec, &out) == 0);
  CHECK(sl_codec_csv.encode(sink, rec, &out, &why) == 0);

  void *src = sl_codec_csv.ctx_new(&o);
  CHECK(src);
  size_t len, used;
  CHECK(sl_codec_csv.frame(src, out.ptr, out.len, 0, &len, &used) == SL_OK);
  CHECK(len > 0);
  CHECK(sl_codec_csv.take_header(src, out.ptr, len, &why) == 0);
  size_t pos = used;
  CHECK(sl_codec_csv.frame(src, out.ptr + pos, out.len - pos, 0, &len, &used) == SL_OK);
  CHECK(pos + used == out.len && len > 0);
  sl_record back;
  memset(&back, 0, sizeof back);
  back.raw.ptr = out.ptr + pos;
  back.raw.len = len;
  CHECK(sl_codec_csv.decode(src, &back, &arena, &why) == 0);
  CHECK(back.nfields == rec->nfields);
  for (uint32_t i = 0; i < rec->nfields; i++) {
    const sl_value *a = &rec->fields[i].value, *b = &back.fields[i].value;
    CHECK(b->type == SL_T_STRING);
    CHECK(a->u.s.len == b->u.s.len && !memcmp(a->u.s.ptr, b->u.s.ptr, a->u.s.len));
  }
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(sink);
  sl_codec_csv.ctx_free(src);
}

/* The row written as JSON decodes to the same strings. */
static void check_json_round_trip(const sl_record *rec) {
  sl_buf out = SL_BUF_INIT;
  const char *why;
  CHECK(sl_codec_jsonl.encode(NULL, rec, &out, &why) == 0);
  CHECK(memchr(out.ptr, '\n', out.len) == out.ptr + out.len - 1);
  sl_record back;
  memset(&back, 0, sizeof back);
  back.raw.ptr = out.ptr;
  back.raw.len = out.len - 1;
  back.codec = &sl_codec_jsonl;
  CHECK(sl_record_decode(&back, &arena) == 0);
  CHECK(back.nfields == rec->nfields);
  for (uint32_t i = 0; i < rec->nfields; i++) {
    sl_value *v = &back.fields[i].value;
    CHECK(sl_json_materialize(v, &arena, &why) == 0);
    const sl_value *a = &rec->fields[i].value;
    CHECK(v->type == SL_T_STRING);
    CHECK(a->u.s.len == v->u.s.len && !memcmp(a->u.s.ptr, v->u.s.ptr, a->u.s.len));
  }
  sl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char delims[] = {',', ';', '\t', '|'};
  sl_arena_reset(&arena);
  if (size == 0) return 0;
  char delim = delims[data[0] & 3];
  int header = !(data[0] & 4);
  sl_codec_opts o = {.delimiter = delim, .header = header,
                     .max_record = data[0] & 8 ? (data[0] >> 4) * 4 + 1 : 0};
  const char *text = (const char *)data + 1;
  size_t n = size - 1;

  void *ctx = sl_codec_csv.ctx_new(&o);
  CHECK(ctx);
  framed recs[256];
  size_t nrec = frame_whole(&sl_codec_csv, ctx, text, n, recs, 256);
  if (nrec < 256) check_chunked(&sl_codec_csv, &o, text, n, recs, nrec, data[0]);

  int have_header = !header;
  for (size_t k = 0; k < nrec; k++) {
    if (recs[k].toobig || recs[k].len == 0) continue;
    const char *why;
    if (!have_header) {
      if (sl_codec_csv.take_header(ctx, text + recs[k].off, recs[k].len, &why) != 0) break;
      have_header = 1;
      continue;
    }
    sl_record rec;
    memset(&rec, 0, sizeof rec);
    rec.raw.ptr = text + recs[k].off;
    rec.raw.len = recs[k].len;
    rec.codec = &sl_codec_csv;
    rec.codec_ctx = ctx;
    rec.meta.partition = -1;
    rec.meta.offset = -1;
    if (sl_record_decode(&rec, &arena) != 0) {
      CHECK(rec.state == SL_REC_FAILED && rec.error);
      continue;
    }
    for (uint32_t i = 0; i < rec.nfields; i++) {
      const sl_value *v = &rec.fields[i].value;
      CHECK(v->type == SL_T_STRING);
      /* Names are unique, so a lookup finds each field itself. */
      CHECK(field(&rec, rec.fields[i].name.ptr, rec.fields[i].name.len) == v);
    }
    check_csv_round_trip(&rec, delim);
    check_json_round_trip(&rec);
  }
  sl_codec_csv.ctx_free(ctx);
  return 0;
}
