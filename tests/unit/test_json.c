/* The JSON reader and writer, and the jsonl codec: framing, decoding,
 * pass-through and encoding from fields. */
#include <math.h>

#include "sluice/codec.h"
#include "sluice/errors.h"
#include "test.h"
#include "codec_test.h"
#include "record_test.h"

/* One arena for the whole run: it stays reachable, and tests only add. */
static sl_arena arena;

static int decode_n(sl_record *rec, const char *raw, size_t n, const char **why) {
  rec_init(rec, raw, n);
  *why = NULL;
  return sl_codec_jsonl.decode(NULL, rec, &arena, why);
}

static int decode(sl_record *rec, const char *raw, const char **why) {
  return decode_n(rec, raw, strlen(raw), why);
}

/* ---- decode: accepted records ---- */

TEST(decode_members_as_spans) {
  sl_record rec;
  const char *why;
  const char *raw = " {\"a\" : [1, 2] ,\"b\":\"x y\", \"c\":\"q\\n\",\"d\":{\"e\":null},"
                    "\"f\":-1.5e3,\"g\":true} ";
  ASSERT_EQ(decode(&rec, raw, &why), 0);
  ASSERT_EQ(rec.nfields, 6);
  static const char *names[] = {"a", "b", "c", "d", "f", "g"};
  static const char *spans[] = {"[1, 2]", "\"x y\"", "\"q\\n\"", "{\"e\":null}", "-1.5e3", "true"};
  for (int i = 0; i < 6; i++) {
    ASSERT_MEM_EQ(rec.fields[i].name.ptr, rec.fields[i].name.len, names[i], strlen(names[i]));
    ASSERT_EQ(rec.fields[i].value.type, SL_T_JSON);
    ASSERT_MEM_EQ(rec.fields[i].value.u.s.ptr, rec.fields[i].value.u.s.len, spans[i],
                  strlen(spans[i]));
  }
  /* Names and spans without escapes point into raw: no copies. */
  ASSERT(rec.fields[0].name.ptr == raw + 3);
  ASSERT(rec.fields[0].value.u.s.ptr == raw + 8);
  ASSERT_EQ(rec.fields[1].value.flags, SL_VF_PLAIN_STRING);
  ASSERT_EQ(rec.fields[2].value.flags, 0);
  ASSERT_EQ(rec.fields[0].value.flags, 0);
}

TEST(decode_empty_object_and_many_fields) {
  sl_record rec;
  const char *why;
  ASSERT_EQ(decode(&rec, "{}", &why), 0);
  ASSERT_EQ(rec.nfields, 0);
  ASSERT(rec.fields != NULL);
  /* More than the initial 16 slots: the array grows. */
  sl_buf b = SL_BUF_INIT;
  sl_buf_putc(&b, '{');
  for (int i = 0; i < 40; i++) sl_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
  sl_buf_putc(&b, '}');
  ASSERT_EQ(decode_n(&rec, b.ptr, b.len, &why), 0);
  ASSERT_EQ(rec.nfields, 40);
  ASSERT_MEM_EQ(rec.fields[39].name.ptr, rec.fields[39].name.len, "k39", 3);
  ASSERT_MEM_EQ(rec.fields[39].value.u.s.ptr, rec.fields[39].value.u.s.len, "39", 2);
  sl_buf_free(&b);
}

TEST(decode_escaped_names) {
  sl_record rec;
  const char *why;
  ASSERT_EQ(decode(&rec, "{\"a\\u00e9\\\"\":1,\"\\ud83d\\ude00\":2,\"\":3}", &why), 0);
  ASSERT_EQ(rec.nfields, 3);
  ASSERT_MEM_EQ(rec.fields[0].name.ptr, rec.fields[0].name.len, "a\xC3\xA9\"", 4);
  ASSERT_MEM_EQ(rec.fields[1].name.ptr, rec.fields[1].name.len, "\xF0\x9F\x98\x80", 4);
  ASSERT_EQ(rec.fields[2].name.len, 0);
}

TEST(decode_duplicates_last_wins) {
  sl_record rec;
  const char *why;
  ASSERT_EQ(decode(&rec, "{\"a\":1,\"b\":2,\"a\":3}", &why), 0);
  ASSERT_EQ(rec.nfields, 3);
  sl_value *v = sl_record_get(&rec, "a", 1);
  ASSERT(v != NULL);
  ASSERT_MEM_EQ(v->u.s.ptr, v->u.s.len, "3", 1);
}

TEST(decode_valid_utf8_and_escapes) {
  sl_record rec;
  const char *why;
  static const char *ok[] = {
    "{\"s\":\"\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"}",
    "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\uFFFF\\uD83D\\uDE00\\udbff\\udfff\"}",
    "{\"n\":[0,-0,1.5,-1e10,1E+2,2e-2,123456789012345678901234567890]}",
    "{\"x\":[[],{},[{}],{\"a\":[]}],\"y\":\"\x7f\"}",
    "\t\r\n {\"a\":1}\t\r\n ",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int err = decode(&rec, ok[i], &why);
    if (err) TEST_FAIL_AT("case %zu: %s", i, why);
    ASSERT_EQ(err, 0);
  }
}

/* ---- decode: every error class, with its message ---- */

static const struct {
  const char *in;
  size_t n;             /* 0: strlen */
  int err;
  const char *why;
} bad[] = {
  {"", 0, SL_EPARSE, "empty record (no JSON object)"},
  {"  \t", 0, SL_EPARSE, "empty record (no JSON object)"},
  {"\xEF\xBB\xBF{}", 0, SL_EPARSE,
   "invalid JSON at byte 0: a byte order mark (U+FEFF) is not allowed before the object"},
  {"[1,2]", 0, SL_EPARSE, "expected a JSON object, got an array"},
  {"\"s\"", 0, SL_EPARSE, "expected a JSON object, got a string"},
  {"-12", 0, SL_EPARSE, "expected a JSON object, got a number"},
  {"true", 0, SL_EPARSE, "expected a JSON object, got true"},
  {"null", 0, SL_EPARSE, "expected a JSON object, got null"},
  {"[1,", 0, SL_EPARSE, "invalid JSON at byte 3: expected a value, got the end of the text"},
  {"hello", 0, SL_EPARSE, "invalid JSON at byte 0: expected a value, got 'h'"},
  {"{\"a\":1", 0, SL_EPARSE,
   "invalid JSON at byte 6: expected ',' or '}' after an object member, got the end of the text"},
  {"{\"a\" 1}", 0, SL_EPARSE, "invalid JSON at byte 5: expected ':' after object key, got '1'"},
  {"{\"a\":}", 0, SL_EPARSE, "invalid JSON at byte 5: expected a value, got '}'"},
  {"{\"a\":1,}", 0, SL_EPARSE,
   "invalid JSON at byte 7: expected a string (object key), got '}'"},
  {"{a:1}", 0, SL_EPARSE, "invalid JSON at byte 1: expected a string (object key), got 'a'"},
  {"{", 0, SL_EPARSE,
   "invalid JSON at byte 1: expected a string (object key), got the end of the text"},
  {"{\"a\":[1,]}", 0, SL_EPARSE, "invalid JSON at byte 8: expected a value, got ']'"},
  {"{\"a\":[1 2]}", 0, SL_EPARSE,
   "invalid JSON at byte 8: expected ',' or ']' after an array element, got '2'"},
  {"{\"a\":{\"b\":1 \"c\":2}}", 0, SL_EPARSE,
   "invalid JSON at byte 12: expected ',' or '}' after an object member, got '\"'"},
  {"{\"a\":{\"b\" 1}}", 0, SL_EPARSE,
   "invalid JSON at byte 10: expected ':' after object key, got '1'"},
  {"{\"a\":[1}", 0, SL_EPARSE,
   "invalid JSON at byte 7: expected ',' or ']' after an array element, got '}'"},
  {"{\"a\":01}", 0, SL_EPARSE, "invalid JSON at byte 5: number with a leading zero"},
  {"{\"a\":-}", 0, SL_EPARSE, "invalid JSON at byte 6: expected a digit after '-'"},
  {"{\"a\":1.}", 0, SL_EPARSE, "invalid JSON at byte 7: expected a digit after '.'"},
  {"{\"a\":1e}", 0, SL_EPARSE, "invalid JSON at byte 7: expected a digit in the exponent"},
  {"{\"a\":1e+}", 0, SL_EPARSE, "invalid JSON at byte 8: expected a digit in the exponent"},
  {"{\"a\":.5}", 0, SL_EPARSE, "invalid JSON at byte 5: expected a value, got '.'"},
  {"{\"a\":+1}", 0, SL_EPARSE, "invalid JSON at byte 5: expected a value, got '+'"},
  {"{\"a\":0x1}", 0, SL_EPARSE,
   "invalid JSON at byte 6: expected ',' or '}' after an object member, got 'x'"},
  {"{\"a\":tru}", 0, SL_EPARSE,
   "invalid JSON at byte 5: invalid literal (expected true, false or null)"},
  {"{\"a\":nulll}", 0, SL_EPARSE,
   "invalid JSON at byte 9: expected ',' or '}' after an object member, got 'l'"},
  {"{\"a\":True}", 0, SL_EPARSE, "invalid JSON at byte 5: expected a value, got 'T'"},
  {"{\"a\":\"x}", 0, SL_EPARSE, "invalid JSON at byte 5: unterminated string"},
  {"{\"a\":\"x\\", 0, SL_EPARSE, "invalid JSON at byte 7: unterminated string"},
  {"{\"a\":\"\\x\"}", 0, SL_EPARSE, "invalid JSON at byte 6: invalid escape in string"},
  {"{\"a\":\"\\'\"}", 0, SL_EPARSE, "invalid JSON at byte 6: invalid escape in string"},
  {"{\"a\":\"\\u12\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: \\u escape needs four hex digits"},
  {"{\"a\":\"\\u12G4\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: \\u escape needs four hex digits"},
  {"{\"a\":\"\\uD800\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: high surrogate in \\u escape not followed by a low one"},
  {"{\"a\":\"\\uD800\\u0041\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: high surrogate in \\u escape not followed by a low one"},
  {"{\"a\":\"\\uD800\\uD800\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: high surrogate in \\u escape not followed by a low one"},
  {"{\"a\":\"\\uDC00\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: lone low surrogate in \\u escape"},
  {"{\"a\":\"x\x01\"}", 0, SL_EPARSE,
   "invalid JSON at byte 7: control character in string (it must be escaped)"},
  {"{\"a\":\"\t\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: control character in string (it must be escaped)"},
  {"{\"a\":\"\n\"}", 0, SL_EPARSE,
   "invalid JSON at byte 6: control character in string (it must be escaped)"},
  {"{\"a\":\"x\0\"}", 9, SL_EPARSE,
   "invalid JSON at byte 7: control character in string (it must be escaped)"},
  {"{\"a\":1} x", 0, SL_EPARSE, "invalid JSON at byte 8: unexpected data after the object"},
  {"{\"a\":1}{}", 0, SL_EPARSE, "invalid JSON at byte 7: unexpected data after the object"},
  {"[1] x", 0, SL_EPARSE, "invalid JSON at byte 4: unexpected data after the JSON value"},
  /* Invalid UTF-8, in values and in names. */
  {"{\"a\":\"\xC3\x28\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},
  {"{\"a\":\"\xC0\xAF\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},          /* overlong */
  {"{\"a\":\"\xC1\xBF\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},          /* overlong */
  {"{\"a\":\"\xE0\x80\xAF\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},      /* overlong */
  {"{\"a\":\"\xF0\x80\x80\xAF\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},  /* overlong */
  {"{\"a\":\"\xED\xA0\x80\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},      /* U+D800 */
  {"{\"a\":\"\xED\xBF\xBF\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},      /* U+DFFF */
  {"{\"a\":\"\xF4\x90\x80\x80\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},  /* > U+10FFFF */
  {"{\"a\":\"\xF5\x80\x80\x80\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},
  {"{\"a\":\"\xFF\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},
  {"{\"a\":\"\x80\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},              /* stray continuation */
  {"{\"a\":\"\xE4\xB8\"}", 0, SL_EUTF8, "invalid UTF-8 at byte 6"},          /* cut short */
  {"{\"a\":\"ok\",\"b\":[\"\xE4\xB8\xAD\xE4\"]}", 0, SL_EUTF8, "invalid UTF-8 at byte 19"},
  {"{\"k\xFF\":1}", 0, SL_EUTF8, "invalid UTF-8 at byte 3"},
  {"{\"a\":1,\"\xC3\":1}", 0, SL_EUTF8, "invalid UTF-8 at byte 8"},
  /* Bytes outside strings are never valid, UTF-8 or not. */
  {"{\"a\":\xC3\xA9}", 0, SL_EPARSE, "invalid JSON at byte 5: expected a value, got byte 0xc3"},
};

TEST(decode_errors) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    sl_record rec;
    const char *why;
    size_t n = bad[i].n ? bad[i].n : strlen(bad[i].in);
    int err = decode_n(&rec, bad[i].in, n, &why);
    if (err != bad[i].err) TEST_FAIL_AT("case %zu (%s): err %d", i, bad[i].in, err);
    ASSERT_EQ(err, bad[i].err);
    ASSERT_STR_EQ(why, bad[i].why);
  }
}

static char *nested(int depth, const char *open, const char *close, const char *pre,
                    const char *post) {
  sl_buf b = SL_BUF_INIT;
  sl_buf_puts(&b, pre);
  for (int i = 0; i < depth; i++) sl_buf_puts(&b, open);
  for (int i = 0; i < depth; i++) sl_buf_puts(&b, close);
  sl_buf_puts(&b, post);
  sl_buf_putc(&b, 0);
  return sl_buf_steal(&b, NULL);
}

TEST(decode_depth_limit) {
  sl_record rec;
  const char *why;
  /* The record's object is level 1, so its member may nest 511 more. */
  char *ok = nested(511, "[", "]", "{\"a\":", "}");
  char *deep = nested(512, "[", "]", "{\"a\":", "}");
  char *deep_obj = nested(512, "{\"k\":", "}", "{\"a\":", "}");
  ASSERT_EQ(decode(&rec, ok, &why), 0);
  ASSERT_EQ(decode(&rec, deep, &why), SL_EPARSE);
  ASSERT_STR_EQ(why, "invalid JSON at byte 516: nesting deeper than 512 levels");
  ASSERT_EQ(decode(&rec, deep_obj, &why), SL_EPARSE);
  ASSERT(strstr(why, "nesting deeper than 512 levels") != NULL);
  free(ok);
  free(deep);
  free(deep_obj);
  /* A huge depth fails cleanly too: validation does not recurse. */
  char *huge = nested(100000, "[", "]", "{\"a\":", "}");
  ASSERT_EQ(decode(&rec, huge, &why), SL_EPARSE);
  free(huge);
}

/* ---- sl_json_parse ---- */

static int parse(const char *s, sl_value *v, const char **why) {
  return sl_json_parse(s, strlen(s), &arena, v, why);
}

TEST(parse_integers_and_overflow) {
  static const struct {
    const char *in;
    int type;
    int64_t i;
    double d;
  } nums[] = {
    {"0", SL_T_INT, 0, 0},
    {"-1", SL_T_INT, -1, 0},
    {"9223372036854775807", SL_T_INT, INT64_MAX, 0},
    {"-9223372036854775808", SL_T_INT, INT64_MIN, 0},
    {"9223372036854775808", SL_T_DOUBLE, 0, 9223372036854775808.0},
    {"-9223372036854775809", SL_T_DOUBLE, 0, -9223372036854775809.0},
    {"18446744073709551616", SL_T_DOUBLE, 0, 18446744073709551616.0},
    {"123456789012345678901234567890", SL_T_DOUBLE, 0, 1.2345678901234568e29},
    {"1.0", SL_T_DOUBLE, 0, 1.0},
    {"1e2", SL_T_DOUBLE, 0, 100.0},
    {"-2.5E-3", SL_T_DOUBLE, 0, -0.0025},
    {"0.1", SL_T_DOUBLE, 0, 0.1},
    {"4.9406564584124654e-324", SL_T_DOUBLE, 0, 5e-324},
    {"1.7976931348623157e308", SL_T_DOUBLE, 0, 1.7976931348623157e308},
  };
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    sl_value v;
    const char *why;
    ASSERT_EQ(parse(nums[i].in, &v, &why), 0);
    if (v.type != nums[i].type) TEST_FAIL_AT("case %s", nums[i].in);
    ASSERT_EQ(v.type, nums[i].type);
    if (v.type == SL_T_INT)
      ASSERT_EQ(v.u.i, nums[i].i);
    else
      ASSERT_DBL_EQ(v.u.d, nums[i].d);
  }
  /* -0 keeps its sign: it is a double. */
  sl_value v;
  const char *why;
  ASSERT_EQ(parse("-0", &v, &why), 0);
  ASSERT_EQ(v.type, SL_T_DOUBLE);
  ASSERT(signbit(v.u.d));
}

TEST(parse_doubles_round_trip) {
  static const double ds[] = {0.1, 1.0 / 3, 2.0 / 3, 1e300, 1e-300, 5e-324,
                              2.2250738585072014e-308, 1.7976931348623157e308,
                              0.30000000000000004, 123.456, -9.87654321e-12, 1e16};
  for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
    sl_buf b = SL_BUF_INIT;
    sl_value v = {.type = SL_T_DOUBLE, .u.d = ds[i]}, back;
    const char *why;
    sl_json_encode_value(&b, &v);
    ASSERT_EQ(sl_json_parse(b.ptr, b.len, &arena, &back, &why), 0);
    /* Integral doubles may come back as integers; the number is the same. */
    double d = back.type == SL_T_INT ? (double)back.u.i : back.u.d;
    ASSERT_DBL_EQ(d, ds[i]);
    sl_buf_free(&b);
  }
}

TEST(parse_strings_decoded_and_copied) {
  sl_value v;
  const char *why;
  const char *in = "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u4e2d\\ud83d\\ude00\\u0000z\"";
  ASSERT_EQ(parse(in, &v, &why), 0);
  ASSERT_EQ(v.type, SL_T_STRING);
  const char want[] = "a\"\\/\b\f\n\r\t\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\0z";
  ASSERT_MEM_EQ(v.u.s.ptr, v.u.s.len, want, sizeof want - 1);
  /* sl_json_parse copies even strings without escapes. */
  const char *plain = "\"plain\"";
  ASSERT_EQ(parse(plain, &v, &why), 0);
  ASSERT(v.u.s.ptr < plain || v.u.s.ptr > plain + 7);
  ASSERT_MEM_EQ(v.u.s.ptr, v.u.s.len, "plain", 5);
}

TEST(parse_tree) {
  sl_value v;
  const char *why;
  ASSERT_EQ(parse(" {\"a\":[1,{\"b\":null},\"s\"],\"c\":true,\"d\":{},\"e\":[]} ", &v, &why), 0);
  ASSERT_EQ(v.type, SL_T_OBJECT);
  ASSERT_EQ(v.n, 4);
  ASSERT_MEM_EQ(v.u.members[0].name.ptr, v.u.members[0].name.len, "a", 1);
  sl_value *a = &v.u.members[0].value;
  ASSERT_EQ(a->type, SL_T_ARRAY);
  ASSERT_EQ(a->n, 3);
  ASSERT_EQ(a->u.items[0].type, SL_T_INT);
  ASSERT_EQ(a->u.items[0].u.i, 1);
  ASSERT_EQ(a->u.items[1].type, SL_T_OBJECT);
  ASSERT_EQ(a->u.items[1].u.members[0].value.type, SL_T_NULL);
  ASSERT_EQ(a->u.items[2].type, SL_T_STRING);
  ASSERT_EQ(v.u.members[1].value.type, SL_T_BOOL);
  ASSERT_EQ(v.u.members[1].value.u.b, 1);
  ASSERT_EQ(v.u.members[2].value.type, SL_T_OBJECT);
  ASSERT_EQ(v.u.members[2].value.n, 0);
  ASSERT_EQ(v.u.members[3].value.type, SL_T_ARRAY);
  ASSERT_EQ(v.u.members[3].value.n, 0);
  /* Encoding the tree gives the canonical text back. */
  sl_buf b = SL_BUF_INIT;
  sl_json_encode_value(&b, &v);
  const char *want = "{\"a\":[1,{\"b\":null},\"s\"],\"c\":true,\"d\":{},\"e\":[]}";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  sl_buf_free(&b);
}

TEST(parse_errors_and_depth) {
  sl_value v;
  const char *why;
  ASSERT_EQ(parse("", &v, &why), SL_EPARSE);
  ASSERT_STR_EQ(why, "invalid JSON at byte 0: expected a value, got the end of the text");
  ASSERT_EQ(parse("1 2", &v, &why), SL_EPARSE);
  ASSERT_STR_EQ(why, "invalid JSON at byte 2: unexpected data after the JSON value");
  ASSERT_EQ(parse("\"\xFF\"", &v, &why), SL_EUTF8);
  ASSERT_STR_EQ(why, "invalid UTF-8 at byte 1");
  ASSERT_EQ(parse("[\"\\uDE00\"]", &v, &why), SL_EPARSE);
  ASSERT_STR_EQ(why, "invalid JSON at byte 2: lone low surrogate in \\u escape");
  char *ok = nested(512, "[", "]", "", "");
  char *deep = nested(513, "[", "]", "", "");
  ASSERT_EQ(parse(ok, &v, &why), 0);
  ASSERT_EQ(parse(deep, &v, &why), SL_EPARSE);
  ASSERT_STR_EQ(why, "invalid JSON at byte 512: nesting deeper than 512 levels");
  free(ok);
  free(deep);
}

TEST(materialize_spans) {
  sl_record rec;
  const char *why;
  const char *raw = "{\"s\":\"plain\",\"e\":\"a\\tb\",\"i\":42,\"d\":2.5,\"o\":{\"x\":[true]},\"n\":null}";
  ASSERT_EQ(decode(&rec, raw, &why), 0);
  sl_value *s = sl_record_get(&rec, "s", 1), *e = sl_record_get(&rec, "e", 1);
  sl_value *i = sl_record_get(&rec, "i", 1), *d = sl_record_get(&rec, "d", 1);
  sl_value *o = sl_record_get(&rec, "o", 1), *n = sl_record_get(&rec, "n", 1);
  for (uint32_t k = 0; k < rec.nfields; k++)
    ASSERT_EQ(sl_json_materialize(&rec.fields[k].value, &arena, &why), 0);
  ASSERT_EQ(s->type, SL_T_STRING);
  ASSERT(s->u.s.ptr == raw + 6);     /* no copy for a plain string */
  ASSERT_MEM_EQ(s->u.s.ptr, s->u.s.len, "plain", 5);
  ASSERT_EQ(e->type, SL_T_STRING);
  ASSERT_MEM_EQ(e->u.s.ptr, e->u.s.len, "a\tb", 3);
  ASSERT_EQ(i->type, SL_T_INT);
  ASSERT_EQ(i->u.i, 42);
  ASSERT_EQ(d->type, SL_T_DOUBLE);
  ASSERT_DBL_EQ(d->u.d, 2.5);
  ASSERT_EQ(o->type, SL_T_OBJECT);
  ASSERT_EQ(o->u.members[0].value.type, SL_T_ARRAY);
  ASSERT_EQ(n->type, SL_T_NULL);
  /* A decoded value is left alone. */
  ASSERT_EQ(sl_json_materialize(i, &arena, &why), 0);
  ASSERT_EQ(i->type, SL_T_INT);
}

/* ---- encoding ---- */

TEST(encode_values) {
  sl_value items[3] = {
    {.type = SL_T_NULL},
    {.type = SL_T_BOOL, .u.b = 0},
    {.type = SL_T_DOUBLE, .u.d = NAN},
  };
  sl_member members[4] = {
    {SL_STR_LIT("i"), {.type = SL_T_INT, .u.i = INT64_MIN}},
    {SL_STR_LIT("s\n"), {.type = SL_T_STRING, .u.s = SL_STR_LIT("x\"\xFF")}},
    {SL_STR_LIT("a"), {.type = SL_T_ARRAY, .n = 3, .u.items = items}},
    {SL_STR_LIT("j"), {.type = SL_T_JSON, .u.s = SL_STR_LIT("{\n\"k\" :\r\n1}")}},
  };
  sl_value obj = {.type = SL_T_OBJECT, .n = 4, .u.members = members};
  sl_buf b = SL_BUF_INIT;
  sl_json_encode_value(&b, &obj);
  const char *want = "{\"i\":-9223372036854775808,\"s\\n\":\"x\\\"\\u00ff\","
                     "\"a\":[null,false,null],\"j\":{ \"k\" :  1}}";
  ASSERT_MEM_EQ(b.ptr, b.len, want, strlen(want));
  sl_buf_free(&b);
}

TEST(encode_pass_through_is_verbatim) {
  sl_record rec;
  const char *why;
  const char *raw = " { \"b\" : 1.50 , \"a\":\"\\u0041\" } ";
  sl_buf out = SL_BUF_INIT;
  /* Undecoded and decoded records both go out as they came in. */
  rec_init(&rec, raw, strlen(raw));
  ASSERT_EQ(sl_codec_jsonl.encode(NULL, &rec, &out, &why), 0);
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(rec.state, SL_REC_DECODED);
  ASSERT_EQ(sl_codec_jsonl.encode(NULL, &rec, &out, &why), 0);
  const char *want = " { \"b\" : 1.50 , \"a\":\"\\u0041\" } \n"
                     " { \"b\" : 1.50 , \"a\":\"\\u0041\" } \n";
  ASSERT_MEM_EQ(out.ptr, out.len, want, strlen(want));
  sl_buf_free(&out);
}

TEST(encode_pass_through_keeps_one_line) {
  sl_record rec;
  const char *why;
  const char *raw = "{\n  \"a\": 1,\r\n  \"b\": [2]\n}";
  sl_buf out = SL_BUF_INIT;
  rec_init(&rec, raw, strlen(raw));
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(sl_codec_jsonl.encode(NULL, &rec, &out, &why), 0);
  const char *want = "{   \"a\": 1,    \"b\": [2] }\n";
  ASSERT_MEM_EQ(out.ptr, out.len, want, strlen(want));
  sl_buf_free(&out);
}

TEST(encode_changed_record) {
  sl_record rec;
  const char *why;
  const char *raw = "{\"a\": [1, 2], \"b\":\"x\", \"c\":{\"d\":\"\\u00e9\"}}";
  rec_init(&rec, raw, strlen(raw));
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  sl_value v = {.type = SL_T_INT, .u.i = 7};
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("b"), &v), 0);
  sl_value s = {.type = SL_T_STRING, .u.s = SL_STR_LIT("new\tline")};
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("z"), &s), 0);
  sl_record_unset(&rec, "a", 1);
  ASSERT_EQ(rec.state, SL_REC_CHANGED);
  sl_buf out = SL_BUF_INIT;
  ASSERT_EQ(sl_codec_jsonl.encode(NULL, &rec, &out, &why), 0);
  const char *want = "{\"b\":7,\"c\":{\"d\":\"\\u00e9\"},\"z\":\"new\\tline\"}\n";
  ASSERT_MEM_EQ(out.ptr, out.len, want, strlen(want));
  /* What was written decodes again to the same fields. */
  sl_record back;
  ASSERT_EQ(decode_n(&back, out.ptr, out.len - 1, &why), 0);
  ASSERT_EQ(back.nfields, 3);
  sl_value *z = sl_record_get(&back, "z", 1);
  ASSERT_EQ(sl_json_materialize(z, &arena, &why), 0);
  ASSERT_MEM_EQ(z->u.s.ptr, z->u.s.len, "new\tline", 8);
  sl_buf_free(&out);
}

TEST(encode_refuses_failed_and_keeps_buffer) {
  sl_record rec;
  const char *why;
  rec_init(&rec, "{\"a\":", 5);
  ASSERT_EQ(sl_record_decode(&rec, &arena), SL_EPARSE);
  ASSERT_EQ(rec.state, SL_REC_FAILED);
  sl_buf out = SL_BUF_INIT;
  sl_buf_puts(&out, "keep");
  ASSERT_EQ(sl_codec_jsonl.encode(NULL, &rec, &out, &why), SL_EINVAL);
  ASSERT_MEM_EQ(out.ptr, out.len, "keep", 4);
  sl_buf_free(&out);
}

TEST(encode_record_built_in_code) {
  sl_record rec;
  memset(&rec, 0, sizeof rec);
  sl_value v = {.type = SL_T_BOOL, .u.b = 1};
  ASSERT_EQ(sl_record_set(&rec, &arena, SL_STR_LIT("ok"), &v), 0);
  sl_buf out = SL_BUF_INIT;
  const char *why;
  ASSERT_EQ(sl_codec_jsonl.encode(NULL, &rec, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "{\"ok\":true}\n", 12);
  sl_buf_free(&out);
}

/* ---- framing ---- */

static frame_result frame(void *ctx, const char *p, int at_eof) {
  return frame_with(&sl_codec_jsonl, ctx, p, at_eof);
}

TEST(frame_lines) {
  sl_codec_opts o = {0};
  void *ctx = sl_codec_jsonl.ctx_new(&o);
  ASSERT_FRAME(frame(ctx, "{}\n{\"a\":1}\n", 0), SL_OK, 2, 3);
  ASSERT_FRAME(frame(ctx, "{}\r\nx", 0), SL_OK, 2, 4);
  ASSERT_FRAME(frame(ctx, "\n{}", 0), SL_OK, 0, 1);
  ASSERT_FRAME(frame(ctx, " \t\r\n{}", 0), SL_OK, 0, 4);
  ASSERT_FRAME(frame(ctx, "{\"a\":", 0), SL_EAGAIN, 0, 0);
  ASSERT_FRAME(frame(ctx, "{\"a\":", 1), SL_OK, 5, 5);
  ASSERT_FRAME(frame(ctx, "{}\r", 1), SL_OK, 2, 3);
  ASSERT_FRAME(frame(ctx, "   ", 1), SL_OK, 0, 3);
  ASSERT_FRAME(frame(ctx, "", 1), SL_EAGAIN, 0, 0);
  ASSERT_FRAME(frame(ctx, "", 0), SL_EAGAIN, 0, 0);
  /* A context is optional: no limit then. */
  ASSERT_FRAME(frame(NULL, "abc\n", 0), SL_OK, 3, 4);
  sl_codec_jsonl.ctx_free(ctx);
}

TEST(frame_max_record) {
  sl_codec_opts o = {.max_record = 4};
  void *ctx = sl_codec_jsonl.ctx_new(&o);
  /* Whole records in the buffer: too big ones are skipped with their LF. */
  ASSERT_FRAME(frame(ctx, "1234\n", 0), SL_OK, 4, 5);
  ASSERT_FRAME(frame(ctx, "1234\r\n", 0), SL_OK, 4, 6);
  ASSERT_FRAME(frame(ctx, "12345\nab\n", 0), SL_ETOOBIG, 5, 6);
  ASSERT_FRAME(frame(ctx, "ab\n", 0), SL_OK, 2, 3);
  ASSERT_FRAME(frame(ctx, "12345", 1), SL_ETOOBIG, 5, 5);
  /* A CR at the end of the buffer may be half of a CRLF: wait. */
  ASSERT_FRAME(frame(ctx, "1234\r", 0), SL_EAGAIN, 0, 0);
  /* An unfinished record already too long: give up now, then drop the rest
   * of it as no-record chunks until its LF. */
  ASSERT_FRAME(frame(ctx, "123456", 0), SL_ETOOBIG, 6, 6);
  ASSERT_FRAME(frame(ctx, "789", 0), SL_OK, 0, 3);
  ASSERT_FRAME(frame(ctx, "0\nab\n", 0), SL_OK, 0, 2);
  ASSERT_FRAME(frame(ctx, "ab\n", 0), SL_OK, 2, 3);
  /* The end of the input ends the skipping too. */
  ASSERT_FRAME(frame(ctx, "12345", 0), SL_ETOOBIG, 5, 5);
  ASSERT_FRAME(frame(ctx, "xyz", 1), SL_OK, 0, 3);
  ASSERT_FRAME(frame(ctx, "ab\n", 0), SL_OK, 2, 3);
  /* The size is checked before blankness, as it must be when unfinished. */
  ASSERT_FRAME(frame(ctx, "      \n", 0), SL_ETOOBIG, 6, 7);
  sl_codec_jsonl.ctx_free(ctx);
}

TEST(codec_find) {
  ASSERT(sl_codec_find("jsonl") == &sl_codec_jsonl);
  ASSERT(sl_codec_find("json") == &sl_codec_jsonl);
  ASSERT(sl_codec_find("ndjson") == &sl_codec_jsonl);
  ASSERT(sl_codec_find("csv") == &sl_codec_csv);
  ASSERT(sl_codec_find("raw") == &sl_codec_raw);
  ASSERT(sl_codec_find("xml") == NULL);
  ASSERT(sl_codec_find(NULL) == NULL);
}

/* ---- the raw codec ---- */

TEST(raw_codec) {
  sl_record rec;
  const char *why;
  rec_init_with(&rec, &sl_codec_raw, "a log line \xE4\xB8\xAD", strlen("a log line \xE4\xB8\xAD"));
  ASSERT_EQ(sl_record_decode(&rec, &arena), 0);
  ASSERT_EQ(rec.nfields, 1);
  sl_value *m = sl_record_get(&rec, "message", 7);
  ASSERT_EQ(m->type, SL_T_STRING);
  ASSERT_MEM_EQ(m->u.s.ptr, m->u.s.len, rec.raw.ptr, rec.raw.len);
  sl_buf out = SL_BUF_INIT;
  ASSERT_EQ(sl_codec_raw.encode(NULL, &rec, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "a log line \xE4\xB8\xAD\n", 15);
  out.len = 0;
  /* A jsonl record: its message as text, or all of it as JSON. */
  sl_record j;
  ASSERT_EQ(decode(&j, "{\"message\":\"tab\\there\",\"n\":1}", &why), 0);
  j.state = SL_REC_DECODED;
  ASSERT_EQ(sl_codec_raw.encode(NULL, &j, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "tab\there\n", 9);
  out.len = 0;
  ASSERT_EQ(decode(&j, "{\"message\":{\"k\":1}}", &why), 0);
  j.state = SL_REC_DECODED;
  ASSERT_EQ(sl_codec_raw.encode(NULL, &j, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "{\"k\":1}\n", 8);
  out.len = 0;
  ASSERT_EQ(decode(&j, "{\"msg\":1}", &why), 0);
  j.state = SL_REC_DECODED;
  ASSERT_EQ(sl_codec_raw.encode(NULL, &j, &out, &why), 0);
  ASSERT_MEM_EQ(out.ptr, out.len, "{\"msg\":1}\n", 10);
  sl_buf_free(&out);
  /* Invalid UTF-8 fails decoding with its position. */
  rec_init_with(&rec, &sl_codec_raw, "ok\xC0\xAF", 4);
  ASSERT_EQ(sl_record_decode(&rec, &arena), SL_EUTF8);
  ASSERT_STR_EQ(rec.error, "invalid UTF-8 at byte 2");
}

RUN_TESTS(decode_members_as_spans, decode_empty_object_and_many_fields,
          decode_escaped_names, decode_duplicates_last_wins,
          decode_valid_utf8_and_escapes, decode_errors, decode_depth_limit,
          parse_integers_and_overflow, parse_doubles_round_trip,
          parse_strings_decoded_and_copied, parse_tree, parse_errors_and_depth,
          materialize_spans, encode_values, encode_pass_through_is_verbatim,
          encode_pass_through_keeps_one_line, encode_changed_record,
          encode_refuses_failed_and_keeps_buffer, encode_record_built_in_code,
          frame_lines, frame_max_record, codec_find, raw_codec)
