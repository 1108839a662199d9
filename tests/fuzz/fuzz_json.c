/* Fuzzes the JSON reader and writer through the jsonl codec.
 *
 * For every input: frame it whole and in uneven chunks (same records);
 * decode each record and compare with the full parser (they must agree on
 * what is a valid object); then write it every way a sink can (as it came,
 * from its spans, from materialized values, as CSV, as a dead-letter
 * envelope) and read each output back, which must succeed and give the same
 * data.  The first byte picks max_record. */
#include "fuzz_codec.h"

static sl_arena arena;

/* Writes rec with the jsonl codec (state as given) and decodes the line:
 * it must be one line that decodes to the same members. */
static void check_reencode(const sl_record *rec, int state) {
  sl_record w = *rec;
  w.state = (uint8_t)state;
  sl_buf out = SL_BUF_INIT;
  const char *why;
  CHECK(sl_codec_jsonl.encode(NULL, &w, &out, &why) == 0);
  CHECK(out.len >= 3 && out.ptr[out.len - 1] == '\n');
  CHECK(memchr(out.ptr, '\n', out.len) == out.ptr + out.len - 1);
  /* The line frames as exactly one record. */
  size_t len, used;
  CHECK(sl_codec_jsonl.frame(NULL, out.ptr, out.len, 0, &len, &used) == SL_OK);
  CHECK(used == out.len);
  sl_record back;
  memset(&back, 0, sizeof back);
  back.raw.ptr = out.ptr;
  back.raw.len = len;
  back.codec = &sl_codec_jsonl;
  CHECK(sl_record_decode(&back, &arena) == 0);
  CHECK(back.nfields == rec->nfields);
  for (uint32_t i = 0; i < rec->nfields; i++) {
    const sl_member *a = &rec->fields[i], *b = &back.fields[i];
    CHECK(a->name.len == b->name.len && !memcmp(a->name.ptr, b->name.ptr, a->name.len));
    sl_buf t = SL_BUF_INIT;
    sl_json_encode_value(&t, &a->value);
    check_same_json(&arena, t.ptr, t.len, b->value.u.s.ptr, b->value.u.s.len);
    sl_buf_free(&t);
  }
  sl_buf_free(&out);
}

/* Writes the record as CSV (columns: its names) and reads the row back:
 * one cell per column, strings unchanged. */
static void check_csv(const sl_record *rec) {
  sl_codec_opts o = {.delimiter = ',', .header = 0};
  void *sink = sl_codec_csv.ctx_new(&o), *src = sl_codec_csv.ctx_new(&o);
  CHECK(sink && src);
  sl_buf out = SL_BUF_INIT;
  const char *why;
  CHECK(sl_codec_csv.encode(sink, rec, &out, &why) == 0);
  size_t len, used;
  CHECK(sl_codec_csv.frame(src, out.ptr, out.len, 0, &len, &used) == SL_OK);
  CHECK(used == out.len && len > 0);
  sl_record row;
  memset(&row, 0, sizeof row);
  row.raw.ptr = out.ptr;
  row.raw.len = len;
  CHECK(sl_codec_csv.decode(src, &row, &arena, &why) == 0);
  /* Columns are the distinct names; at least one cell is always written. */
  uint32_t distinct = 0;
  for (uint32_t i = 0; i < rec->nfields; i++) {
    uint32_t j = 0;
    while (j < i && !(rec->fields[j].name.len == rec->fields[i].name.len &&
                      !memcmp(rec->fields[j].name.ptr, rec->fields[i].name.ptr,
                              rec->fields[i].name.len)))
      j++;
    if (j == i) distinct++;
  }
  CHECK(row.nfields == (distinct ? distinct : 1));
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(sink);
  sl_codec_csv.ctx_free(src);
}

static void check_envelope(const sl_record *rec) {
  sl_buf out = SL_BUF_INIT;
  sl_envelope_encode(&out, rec, "fuzz", 1795788000123);
  CHECK(out.len > 0 && out.ptr[out.len - 1] == '\n');
  CHECK(memchr(out.ptr, '\n', out.len) == out.ptr + out.len - 1);
  sl_value v;
  const char *why;
  CHECK(sl_json_parse(out.ptr, out.len - 1, &arena, &v, &why) == 0);
  CHECK(v.type == SL_T_OBJECT);
  sl_buf_free(&out);
}

static void check_decoded(const sl_record *rec) {
  /* As it came: the raw bytes, CR and LF aside. */
  sl_buf out = SL_BUF_INIT;
  const char *why;
  CHECK(sl_codec_jsonl.encode(NULL, rec, &out, &why) == 0);
  CHECK(out.len == rec->raw.len + 1);
  for (size_t i = 0; i < rec->raw.len; i++) {
    char c = rec->raw.ptr[i];
    CHECK(out.ptr[i] == (c == '\n' || c == '\r' ? ' ' : c));
  }
  sl_buf_free(&out);
  check_reencode(rec, SL_REC_CHANGED);
  check_csv(rec);

  /* From materialized values: every span turned into a tree. */
  sl_record m = *rec;
  m.fields = sl_arena_alloc(&arena, (rec->nfields ? rec->nfields : 1) * sizeof *m.fields);
  CHECK(m.fields);
  memcpy(m.fields, rec->fields, rec->nfields * sizeof *m.fields);
  for (uint32_t i = 0; i < m.nfields; i++)
    CHECK(sl_json_materialize(&m.fields[i].value, &arena, &why) == 0);
  check_reencode(&m, SL_REC_CHANGED);
  check_csv(&m);
  /* The raw codec writes any record. */
  m.state = SL_REC_CHANGED;
  CHECK(sl_codec_raw.encode(NULL, &m, &out, &why) == 0);
  sl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_arena_reset(&arena);
  if (size == 0) return 0;
  sl_codec_opts o = {.max_record = data[0] % 4 == 0 ? 0 : data[0] % 64};
  const char *text = (const char *)data + 1;
  size_t n = size - 1;

  void *ctx = sl_codec_jsonl.ctx_new(&o);
  CHECK(ctx);
  framed recs[256];
  size_t nrec = frame_whole(&sl_codec_jsonl, ctx, text, n, recs, 256);
  sl_codec_jsonl.ctx_free(ctx);
  if (nrec < 256) check_chunked(&sl_codec_jsonl, &o, text, n, recs, nrec, data[0]);

  for (size_t k = 0; k < nrec; k++) {
    if (recs[k].toobig || recs[k].len == 0) continue;
    sl_record rec;
    memset(&rec, 0, sizeof rec);
    rec.raw.ptr = text + recs[k].off;
    rec.raw.len = recs[k].len;
    rec.codec = &sl_codec_jsonl;
    rec.meta.partition = -1;
    rec.meta.offset = (int64_t)recs[k].off;
    CHECK(memchr(rec.raw.ptr, '\n', rec.raw.len) == NULL);
    int err = sl_record_decode(&rec, &arena);

    /* The full parser agrees on what is a valid object. */
    sl_value tree;
    const char *why;
    int perr = sl_json_parse(rec.raw.ptr, rec.raw.len, &arena, &tree, &why);
    if (err == 0) {
      CHECK(perr == 0 && tree.type == SL_T_OBJECT && tree.n == rec.nfields);
    } else {
      CHECK(rec.state == SL_REC_FAILED && rec.error && rec.fields == NULL);
      CHECK(perr != 0 || tree.type != SL_T_OBJECT);
    }
    if (err == 0) check_decoded(&rec);
    check_envelope(&rec);
  }

  /* The whole input as one JSON text: the parser must not crash, and what
   * it accepts must write and read back the same. */
  sl_value v;
  const char *why;
  if (sl_json_parse(text, n, &arena, &v, &why) == 0) {
    sl_buf out = SL_BUF_INIT;
    sl_json_encode_value(&out, &v);
    sl_value back;
    CHECK(sl_json_parse(out.ptr, out.len, &arena, &back, &why) == 0);
    CHECK(values_equal(&v, &back));
    sl_buf_free(&out);
  }
  return 0;
}
