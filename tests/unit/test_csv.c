/* The CSV codec: quote-aware framing, the header, decoding, encoding. */
#include <pthread.h>
#include <time.h>

#include "sluice/codec.h"
#include "sluice/errors.h"
#include "test.h"
#include "codec_test.h"
#include "record_test.h"

/* One arena for the whole run: it stays reachable, and tests only add. */
static sl_arena arena;

static void *ctx_with(char delim, int header, size_t max_record, const char **columns) {
  sl_codec_opts o = {.delimiter = delim, .header = header, .max_record = max_record,
                     .columns = columns};
  return sl_codec_csv.ctx_new(&o);
}

static int take_header(void *ctx, const char *row, const char **why) {
  *why = NULL;
  return sl_codec_csv.take_header(ctx, row, strlen(row), why);
}

static int decode(void *ctx, sl_record *rec, const char *raw, const char **why) {
  rec_init_with(rec, &sl_codec_csv, raw, strlen(raw));
  rec->codec_ctx = ctx;
  *why = NULL;
  int err = sl_codec_csv.decode(ctx, rec, &arena, why);
  if (!err) rec->state = SL_REC_DECODED;
  return err;
}

/* A jsonl record, decoded: what a CSV sink gets from a JSON source. */
static int decode_json(sl_record *rec, const char *raw, const char **why) {
  rec_init(rec, raw, strlen(raw));
  int err = sl_record_decode(rec, &arena);
  *why = rec->error;
  return err;
}

#define ASSERT_FIELD(rec, i, want_name, want_value)                                    \
  do {                                                                                \
    ASSERT((i) < (rec).nfields);                                                      \
    const sl_member *m_ = &(rec).fields[i];                                           \
    ASSERT_MEM_EQ(m_->name.ptr, m_->name.len, want_name, strlen(want_name));          \
    ASSERT_EQ(m_->value.type, SL_T_STRING);                                           \
    ASSERT_MEM_EQ(m_->value.u.s.ptr, m_->value.u.s.len, want_value, strlen(want_value)); \
  } while (0)

/* ---- framing ---- */

static frame_result frame(void *ctx, const char *p, int at_eof) {
  return frame_with(&sl_codec_csv, ctx, p, at_eof);
}

TEST(frame_rows) {
  void *ctx = ctx_with(',', 1, 0, NULL);
  ASSERT_FRAME(frame(ctx, "a,b\nc,d\n", 0), SL_OK, 3, 4);
  ASSERT_FRAME(frame(ctx, "a,b\r\nc", 0), SL_OK, 3, 5);
  /* A line break inside quotes does not end the row. */
  ASSERT_FRAME(frame(ctx, "\"x\ny\",b\nnext\n", 0), SL_OK, 7, 8);
  ASSERT_FRAME(frame(ctx, "\"x\r\n\"\"y\"\"\",b\r\nnext\n", 0), SL_OK, 12, 14);
  ASSERT_FRAME(frame(ctx, "\"x\ny", 0), SL_EAGAIN, 0, 0);
  /* At the end of the input an unterminated quote is the last record,
   * CR included: decode reports it. */
  ASSERT_FRAME(frame(ctx, "\"x\ny\r", 1), SL_OK, 5, 5);
  ASSERT_FRAME(frame(ctx, "a,b\r", 1), SL_OK, 3, 4);
  ASSERT_FRAME(frame(ctx, "a,b", 0), SL_EAGAIN, 0, 0);
  ASSERT_FRAME(frame(ctx, "a,b", 1), SL_OK, 3, 3);
  /* A stray quote inside a field does not swallow the lines after it. */
  ASSERT_FRAME(frame(ctx, "a\"b,c\nd\n", 0), SL_OK, 5, 6);
  ASSERT_FRAME(frame(ctx, "\"a\"x\"\nd\n", 0), SL_OK, 5, 6);
  /* Empty lines are no records; a line of spaces is one. */
  ASSERT_FRAME(frame(ctx, "\na,b\n", 0), SL_OK, 0, 1);
  ASSERT_FRAME(frame(ctx, "\r\na,b\n", 0), SL_OK, 0, 2);
  ASSERT_FRAME(frame(ctx, "  \n", 0), SL_OK, 2, 3);
  ASSERT_FRAME(frame(ctx, "", 1), SL_EAGAIN, 0, 0);
  sl_codec_csv.ctx_free(ctx);
}

TEST(frame_max_record_minds_quotes) {
  void *ctx = ctx_with(',', 1, 4, NULL);
  ASSERT_FRAME(frame(ctx, "a,bc\n", 0), SL_OK, 4, 5);
  ASSERT_FRAME(frame(ctx, "a,bcd\nx\n", 0), SL_ETOOBIG, 5, 6);
  /* Too long before its end is seen: give up, then skip the rest, which
   * holds a quoted LF that must not end it. */
  ASSERT_FRAME(frame(ctx, "\"abcdef", 0), SL_ETOOBIG, 7, 7);
  ASSERT_FRAME(frame(ctx, "g\nh", 0), SL_OK, 0, 3);
  ASSERT_FRAME(frame(ctx, "\",z\nnext\n", 0), SL_OK, 0, 4);
  ASSERT_FRAME(frame(ctx, "next\n", 0), SL_OK, 4, 5);
  sl_codec_csv.ctx_free(ctx);
}

/* ---- the header ---- */

TEST(header_names_fields) {
  void *ctx = ctx_with(',', 1, 0, NULL);
  const char *why;
  ASSERT_EQ(take_header(ctx, "\xEF\xBB\xBFid,\"full name\",\"a,b\",\"q\"\"\"", &why), 0);
  sl_record rec;
  ASSERT_EQ(decode(ctx, &rec, "1,Ann,x,y", &why), 0);
  ASSERT_EQ(rec.nfields, 4);
  ASSERT_FIELD(rec, 0, "id", "1");
  ASSERT_FIELD(rec, 1, "full name", "Ann");
  ASSERT_FIELD(rec, 2, "a,b", "x");
  ASSERT_FIELD(rec, 3, "q\"", "y");
  /* The header is taken once. */
  ASSERT_EQ(take_header(ctx, "x", &why), SL_EINVAL);
  sl_codec_csv.ctx_free(ctx);
}

static const struct {
  const char *row;
  int err;
  const char *why;
} bad_headers[] = {
  {"a,b,a", SL_EPARSE, "CSV header: columns 1 and 3 are both named \"a\""},
  {"a,,b", SL_EPARSE, "CSV header: column 2 has no name"},
  {"a,b,", SL_EPARSE, "CSV header: column 3 has no name"},
  {"", SL_EPARSE, "CSV header: column 1 has no name"},
  {"a,\"\"", SL_EPARSE, "CSV header: column 2 has no name"},
  {"a,\"b", SL_EPARSE, "invalid CSV header at byte 2: quoted field has no closing quote"},
  {"a,b\"c", SL_EPARSE,
   "invalid CSV header at byte 3: quote inside an unquoted field (quote the whole field)"},
  {"a,\xFF", SL_EUTF8, "invalid UTF-8 in the CSV header at byte 2"},
};

TEST(header_errors) {
  for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
    void *ctx = ctx_with(',', 1, 0, NULL);
    const char *why;
    ASSERT_EQ(take_header(ctx, bad_headers[i].row, &why), bad_headers[i].err);
    ASSERT_STR_EQ(why, bad_headers[i].why);
    /* A refused header leaves the context without one. */
    sl_record rec;
    ASSERT_EQ(decode(ctx, &rec, "1", &why), SL_EINVAL);
    ASSERT_STR_EQ(why, "the CSV header row has not been read");
    sl_codec_csv.ctx_free(ctx);
  }
}

/* ---- decoding ---- */

TEST(decode_quoting) {
  void *ctx = ctx_with(',', 1, 0, NULL);
  const char *why;
  ASSERT_EQ(take_header(ctx, "a,b,c,d", &why), 0);
  sl_record rec;
  const char *raw = "plain,\"with,comma\",\"say \"\"hi\"\"\",\"two\r\nlines\"";
  ASSERT_EQ(decode(ctx, &rec, raw, &why), 0);
  ASSERT_FIELD(rec, 0, "a", "plain");
  ASSERT_FIELD(rec, 1, "b", "with,comma");
  ASSERT_FIELD(rec, 2, "c", "say \"hi\"");
  ASSERT_FIELD(rec, 3, "d", "two\r\nlines");
  /* Values without doubled quotes point into the row. */
  ASSERT(rec.fields[0].value.u.s.ptr == raw);
  ASSERT(rec.fields[1].value.u.s.ptr == raw + 7);
  ASSERT(rec.fields[2].value.u.s.ptr < raw || rec.fields[2].value.u.s.ptr > raw + strlen(raw));
  /* Empty cells are empty strings; a short row lacks the missing fields. */
  ASSERT_EQ(decode(ctx, &rec, ",\"\"", &why), 0);
  ASSERT_EQ(rec.nfields, 2);
  ASSERT_FIELD(rec, 0, "a", "");
  ASSERT_FIELD(rec, 1, "b", "");
  ASSERT_EQ(decode(ctx, &rec, " x ,\xE4\xB8\xAD", &why), 0);
  ASSERT_FIELD(rec, 0, "a", " x ");
  ASSERT_FIELD(rec, 1, "b", "\xE4\xB8\xAD");
  sl_codec_csv.ctx_free(ctx);
}

static const struct {
  const char *row;
  int err;
  const char *why;
} bad_rows[] = {
  {"1,2,3,4,5", SL_EPARSE, "row has 5 fields, header has 4"},
  {"1,2,3,4,", SL_EPARSE, "row has 5 fields, header has 4"},
  {"1,2,3,4,\"x", SL_EPARSE, "invalid CSV at byte 8: quoted field has no closing quote"},
  {"1,\"2\"x,3", SL_EPARSE, "invalid CSV at byte 5: text after the closing quote of a field"},
  {"1,\"2\" ,3", SL_EPARSE, "invalid CSV at byte 5: text after the closing quote of a field"},
  {"1,2\"x\",3", SL_EPARSE,
   "invalid CSV at byte 3: quote inside an unquoted field (quote the whole field)"},
  {"1,2\r3", SL_EPARSE, "invalid CSV at byte 3: line break inside an unquoted field"},
  {"\"abc", SL_EPARSE, "invalid CSV at byte 0: quoted field has no closing quote"},
  {"1,\xC3\x28", SL_EUTF8, "invalid UTF-8 at byte 2"},
  {"\"\xED\xA0\x80\"", SL_EUTF8, "invalid UTF-8 at byte 1"},
};

TEST(decode_errors) {
  void *ctx = ctx_with(',', 1, 0, NULL);
  const char *why;
  ASSERT_EQ(take_header(ctx, "a,b,c,d", &why), 0);
  for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
    sl_record rec;
    int err = decode(ctx, &rec, bad_rows[i].row, &why);
    if (err != bad_rows[i].err) TEST_FAIL_AT("case %zu: %d", i, err);
    ASSERT_EQ(err, bad_rows[i].err);
    ASSERT_STR_EQ(why, bad_rows[i].why);
  }
  sl_codec_csv.ctx_free(ctx);
}

TEST(decode_without_header) {
  void *ctx = ctx_with(';', 0, 0, NULL);
  const char *why;
  sl_record rec;
  ASSERT_EQ(decode(ctx, &rec, "x;\"y;z\";", &why), 0);
  ASSERT_EQ(rec.nfields, 3);
  ASSERT_FIELD(rec, 0, "c1", "x");
  ASSERT_FIELD(rec, 1, "c2", "y;z");
  ASSERT_FIELD(rec, 2, "c3", "");
  /* Wider than the names made up front. */
  sl_buf row = SL_BUF_INIT;
  for (int i = 0; i < 100; i++) sl_buf_printf(&row, "%sv%d", i ? ";" : "", i);
  sl_buf_putc(&row, 0);
  ASSERT_EQ(decode(ctx, &rec, row.ptr, &why), 0);
  ASSERT_EQ(rec.nfields, 100);
  ASSERT_FIELD(rec, 64, "c65", "v64");
  ASSERT_FIELD(rec, 99, "c100", "v99");
  sl_buf_free(&row);
  sl_codec_csv.ctx_free(ctx);
}

TEST(tab_delimiter) {
  void *ctx = ctx_with('\t', 1, 0, NULL);
  const char *why;
  ASSERT_EQ(take_header(ctx, "a\tb", &why), 0);
  sl_record rec;
  ASSERT_EQ(decode(ctx, &rec, "x,y\t\"p\tq\"", &why), 0);
  ASSERT_FIELD(rec, 0, "a", "x,y");
  ASSERT_FIELD(rec, 1, "b", "p\tq");
  sl_codec_csv.ctx_free(ctx);
}

TEST(bad_delimiters_refused) {
  ASSERT(ctx_with('"', 1, 0, NULL) == NULL);
  ASSERT(ctx_with('\n', 1, 0, NULL) == NULL);
  ASSERT(ctx_with('\r', 1, 0, NULL) == NULL);
  ASSERT(ctx_with((char)0xC3, 1, 0, NULL) == NULL);
  void *ctx = sl_codec_csv.ctx_new(NULL);   /* defaults: ',' and a header */
  ASSERT(ctx != NULL);
  sl_codec_csv.ctx_free(ctx);
}

/* ---- encoding ---- */

TEST(encode_cells) {
  static const char *cols[] = {"s", "q", "n", "d", "b", "nul", "absent", "js", "je", "jn",
                               "jo", "arr", "sp", "nl", NULL};
  void *ctx = ctx_with(',', 1, 0, cols);
  sl_record rec;
  memset(&rec, 0, sizeof rec);
  sl_value items[2] = {{.type = SL_T_INT, .u.i = 1}, {.type = SL_T_STRING, .u.s = SL_STR_LIT("x")}};
  const struct {
    const char *name;
    sl_value v;
  } fields[] = {
    {"s", {.type = SL_T_STRING, .u.s = SL_STR_LIT("plain")}},
    {"q", {.type = SL_T_STRING, .u.s = SL_STR_LIT("a,\"b\"")}},
    {"n", {.type = SL_T_INT, .u.i = -42}},
    {"d", {.type = SL_T_DOUBLE, .u.d = 0.5}},
    {"b", {.type = SL_T_BOOL, .u.b = 1}},
    {"nul", {.type = SL_T_NULL}},
    {"js", {.type = SL_T_JSON, .flags = SL_VF_PLAIN_STRING, .u.s = SL_STR_LIT("\"hi\"")}},
    {"je", {.type = SL_T_JSON, .u.s = SL_STR_LIT("\"a\\nb\"")}},
    {"jn", {.type = SL_T_JSON, .u.s = SL_STR_LIT("null")}},
    {"jo", {.type = SL_T_JSON, .u.s = SL_STR_LIT("{\"k\": 1}")}},
    {"arr", {.type = SL_T_ARRAY, .n = 2, .u.items = items}},
    {"sp", {.type = SL_T_STRING, .u.s = SL_STR_LIT(" pad")}},
    {"nl", {.type = SL_T_STRING, .u.s = SL_STR_LIT("cr\r")}},
    {"extra", {.type = SL_T_STRING, .u.s = SL_STR_LIT("dropped")}},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    ASSERT_EQ(sl_record_set(&rec, &arena, (sl_str){fields[i].name, strlen(fields[i].name)},
                            &fields[i].v), 0);
  sl_buf out = SL_BUF_INIT;
  const char *why;
  ASSERT_EQ(sl_codec_csv.write_header(ctx, &rec, &out), 0);
  ASSERT_EQ(sl_codec_csv.encode(ctx, &rec, &out, &why), 0);
  const char *want = "s,q,n,d,b,nul,absent,js,je,jn,jo,arr,sp,nl\n"
                     "plain,\"a,\"\"b\"\"\",-42,0.5,true,,,hi,\"a\nb\",,\"{\"\"k\"\": 1}\","
                     "\"[1,\"\"x\"\"]\",\" pad\",\"cr\r\"\n";
  ASSERT_MEM_EQ(out.ptr, out.len, want, strlen(want));
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(ctx);
}

TEST(encode_columns_from_first_record) {
  void *ctx = ctx_with(';', 1, 0, NULL);
  sl_record a, b;
  const char *why;
  ASSERT_EQ(decode_json(&a, "{\"x\":1,\"y\":\"a;b\",\"x\":2}", &why), 0);
  ASSERT_EQ(decode_json(&b, "{\"y\":\"only y\",\"z\":3}", &why), 0);
  sl_buf out = SL_BUF_INIT;
  ASSERT_EQ(sl_codec_csv.write_header(ctx, &a, &out), 0);
  ASSERT_EQ(sl_codec_csv.encode(ctx, &a, &out, &why), 0);
  ASSERT_EQ(sl_codec_csv.encode(ctx, &b, &out, &why), 0);
  /* A name twice in the record is one column, with its last value. */
  const char *want = "x;y\n2;\"a;b\"\n;only y\n";
  ASSERT_MEM_EQ(out.ptr, out.len, want, strlen(want));
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(ctx);
}

TEST(encode_never_writes_an_empty_line) {
  static const char *cols[] = {"only", NULL};
  void *ctx = ctx_with(',', 0, 0, cols);
  sl_record rec;
  memset(&rec, 0, sizeof rec);
  sl_buf out = SL_BUF_INIT;
  const char *why;
  /* header off: no header row. */
  ASSERT_EQ(sl_codec_csv.write_header(ctx, &rec, &out), 0);
  ASSERT_EQ(out.len, 0);
  ASSERT_EQ(sl_codec_csv.encode(ctx, &rec, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "\"\"\n", 3);
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(ctx);
}

TEST(round_trip) {
  void *src = ctx_with(',', 1, 0, NULL);
  const char *why;
  const char *input = "id,name,note\r\n"
                      "1,\"Smith, J\",\"said \"\"hi\"\"\"\r\n"
                      "2,\xE5\xBC\xA0\xE4\xB8\x89,\"multi\nline\"\n"
                      "3, lead,\n"
                      "4\n";
  size_t n = strlen(input), pos = 0, len, used;
  ASSERT_EQ(sl_codec_csv.frame(src, input, n, 1, &len, &used), 0);
  ASSERT_EQ(sl_codec_csv.take_header(src, input, len, &why), 0);
  pos = used;
  void *sink = ctx_with(',', 1, 0, NULL);
  sl_buf out = SL_BUF_INIT;
  sl_record recs[8];
  int nrec = 0;
  while (pos < n) {
    ASSERT_EQ(sl_codec_csv.frame(src, input + pos, n - pos, 1, &len, &used), 0);
    sl_record *r = &recs[nrec++];
    rec_init_with(r, &sl_codec_csv, input + pos, len);
    r->codec_ctx = src;
    ASSERT_EQ(sl_record_decode(r, &arena), 0);
    if (nrec == 1) ASSERT_EQ(sl_codec_csv.write_header(sink, r, &out), 0);
    ASSERT_EQ(sl_codec_csv.encode(sink, r, &out, &why), 0);
    pos += used;
  }
  ASSERT_EQ(nrec, 4);
  const char *want = "id,name,note\n"
                     "1,\"Smith, J\",\"said \"\"hi\"\"\"\n"
                     "2,\xE5\xBC\xA0\xE4\xB8\x89,\"multi\nline\"\n"
                     "3,\" lead\",\n"
                     "4,,\n";
  ASSERT_MEM_EQ(out.ptr, out.len, want, strlen(want));
  /* Reading the output back gives the same values (absent ones empty). */
  void *again = ctx_with(',', 1, 0, NULL);
  pos = 0;
  ASSERT_EQ(sl_codec_csv.frame(again, out.ptr, out.len, 1, &len, &used), 0);
  ASSERT_EQ(sl_codec_csv.take_header(again, out.ptr, len, &why), 0);
  pos = used;
  for (int i = 0; i < nrec; i++) {
    ASSERT_EQ(sl_codec_csv.frame(again, out.ptr + pos, out.len - pos, 1, &len, &used), 0);
    sl_record back;
    rec_init_with(&back, NULL, out.ptr + pos, len);
    ASSERT_EQ(sl_codec_csv.decode(again, &back, &arena, &why), 0);
    ASSERT_EQ(back.nfields, 3);
    for (uint32_t k = 0; k < 3; k++) {
      sl_value *v = k < recs[i].nfields ? &recs[i].fields[k].value : NULL;
      sl_str want_s = v ? v->u.s : (sl_str){"", 0};
      ASSERT_MEM_EQ(back.fields[k].value.u.s.ptr, back.fields[k].value.u.s.len, want_s.ptr,
                    want_s.len);
    }
    pos += used;
  }
  ASSERT_EQ(pos, out.len);
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(src);
  sl_codec_csv.ctx_free(sink);
  sl_codec_csv.ctx_free(again);
}

TEST(encode_raw_record_decodes_it) {
  /* A record the engine did not decode is still written from its fields. */
  void *src = ctx_with(',', 0, 0, NULL);
  void *sink = ctx_with('|', 1, 0, NULL);
  sl_record rec;
  rec_init_with(&rec, &sl_codec_csv, "a,\"b|c\"", strlen("a,\"b|c\""));
  rec.codec_ctx = src;
  sl_buf out = SL_BUF_INIT;
  const char *why;
  ASSERT_EQ(sl_codec_csv.write_header(sink, &rec, &out), 0);
  ASSERT_EQ(sl_codec_csv.encode(sink, &rec, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "c1|c2\na|\"b|c\"\n", 14);
  /* ...and a failed one is refused, with nothing written. */
  rec.state = SL_REC_FAILED;
  size_t before = out.len;
  ASSERT_EQ(sl_codec_csv.encode(sink, &rec, &out, &why), SL_EINVAL);
  ASSERT_EQ(out.len, before);
  sl_buf_free(&out);
  sl_codec_csv.ctx_free(src);
  sl_codec_csv.ctx_free(sink);
}

typedef struct {
  void *ctx;
  sl_record *rec;
  sl_buf out;
  int err;
} enc_job;

static void *encode_many(void *arg) {
  enc_job *j = arg;
  const char *why;
  for (int i = 0; i < 200 && !j->err; i++) j->err = sl_codec_csv.encode(j->ctx, j->rec, &j->out, &why);
  return NULL;
}

TEST(concurrent_encoders_agree_on_columns) {
  void *ctx = ctx_with(',', 1, 0, NULL);
  sl_record recs[8];
  enc_job jobs[8];
  pthread_t th[8];
  const char *why;
  for (int i = 0; i < 8; i++) {
    /* Each thread's record has its fields in another order. */
    const char *raw = i % 2 ? "{\"a\":1,\"b\":2}" : "{\"b\":2,\"a\":1}";
    ASSERT_EQ(decode_json(&recs[i], raw, &why), 0);
    jobs[i] = (enc_job){ctx, &recs[i], SL_BUF_INIT, 0};
    ASSERT_EQ(pthread_create(&th[i], NULL, encode_many, &jobs[i]), 0);
  }
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  /* Every row of every thread follows the one column order fixed first. */
  char first[4];
  memcpy(first, jobs[0].out.ptr, 4);
  for (int i = 0; i < 8; i++) {
    ASSERT_EQ(jobs[i].err, 0);
    ASSERT_EQ(jobs[i].out.len, 200 * 4);
    for (int k = 0; k < 200; k++) ASSERT_MEM_EQ(jobs[i].out.ptr + 4 * k, 4, first, 4);
    sl_buf_free(&jobs[i].out);
  }
  sl_codec_csv.ctx_free(ctx);
}

/* 100,000 columns: the check for repeated names is linear, not quadratic
 * (which took seconds). */
static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(wide_header_is_fast) {
  enum { N = 100000 };
  sl_buf row = SL_BUF_INIT;
  for (int i = 0; i < N; i++) sl_buf_printf(&row, "%scolumn_%d", i ? "," : "", i);
  size_t unique_len = row.len;
  sl_buf_puts(&row, ",column_5");   /* a repeat at the very end */
  const char *why = NULL;
  void *ctx = ctx_with(',', 1, 0, NULL);
  double t0 = seconds_now();
  ASSERT_EQ(sl_codec_csv.take_header(ctx, row.ptr, row.len, &why), SL_EPARSE);
  double repeat_s = seconds_now() - t0;
  ASSERT_STR_EQ(why, "CSV header: columns 6 and 100001 are both named \"column_5\"");
  sl_codec_csv.ctx_free(ctx);

  ctx = ctx_with(',', 1, 0, NULL);
  t0 = seconds_now();
  ASSERT_EQ(sl_codec_csv.take_header(ctx, row.ptr, unique_len, &why), 0);
  double unique_s = seconds_now() - t0;
  sl_codec_csv.ctx_free(ctx);
  sl_buf_free(&row);
  /* Linear takes milliseconds even under ASan on a loaded machine. */
  if (repeat_s > 2.0 || unique_s > 2.0)
    TEST_FAIL_AT("a %d-column header took %.2f s (with a repeat) and %.2f s; expected < 2 s each",
                 N + 1, repeat_s, unique_s);
}

RUN_TESTS(frame_rows, frame_max_record_minds_quotes, header_names_fields, header_errors,
          decode_quoting, decode_errors, decode_without_header, tab_delimiter,
          bad_delimiters_refused, encode_cells, encode_columns_from_first_record,
          encode_never_writes_an_empty_line, round_trip, encode_raw_record_decodes_it,
          concurrent_encoders_agree_on_columns, wide_header_is_fast)
