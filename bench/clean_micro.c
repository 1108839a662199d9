/* Cost per call of each cleansing primitive, in nanoseconds, on one core.
 * Built and run by bench/clean_run (not a default build target):
 *   cc -O2 bench/clean_micro.c -Iruntime -Iruntime/include <build>/libsluice_rt.a ...
 * Each row cycles through a few realistic inputs; the first call of each
 * primitive (table loading) happens before timing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clean.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile size_t sink;
static sl_text_scratch sc;
static sl_buf buf;
static sl_hmac_key *key;

typedef void (*fn)(const char *s, size_t n);

static void f_trim(const char *s, size_t n) {
  const char *o;
  size_t l;
  sl_text_clean(SL_TEXT_TRIM, s, n, &sc, &o, &l, NULL, NULL);
  sink += l;
}
static void f_nfkc(const char *s, size_t n) {
  const char *o;
  size_t l;
  sl_text_clean(SL_TEXT_NFKC, s, n, &sc, &o, &l, NULL, NULL);
  sink += l;
}
static void f_casefold(const char *s, size_t n) {
  const char *o;
  size_t l;
  sl_text_clean(SL_TEXT_CASEFOLD, s, n, &sc, &o, &l, NULL, NULL);
  sink += l;
}
static void f_t2s(const char *s, size_t n) {
  const char *o;
  size_t l;
  sl_text_clean(SL_TEXT_T2S, s, n, &sc, &o, &l, NULL, NULL);
  sink += l;
}
static void f_name(const char *s, size_t n) {
  const char *o;
  size_t l;
  sl_text_clean(SL_TEXT_TRIM | SL_TEXT_NFKC | SL_TEXT_T2S, s, n, &sc, &o, &l, NULL, NULL);
  sink += l;
}
static void f_cn_id(const char *s, size_t n) {
  sl_cn_id id;
  sink += (size_t)sl_cn_id_parse(s, n, 0, &id, NULL);
}
static void f_uscc(const char *s, size_t n) {
  sl_uscc u;
  sink += (size_t)sl_uscc_parse(s, n, &u, NULL);
}
static void f_phone(const char *s, size_t n) {
  sl_cn_phone p;
  sink += (size_t)sl_cn_phone_parse(s, n, NULL, &p, NULL);
}
static void f_date(const char *s, size_t n) {
  sl_date d;
  sink += (size_t)sl_date_parse(s, n, NULL, &d, NULL);
}
static void f_address(const char *s, size_t n) {
  sl_address a;
  buf.len = 0;
  sink += (size_t)sl_address_normalize(s, n, &a, &buf, NULL);
}
static void f_pinyin(const char *s, size_t n) {
  buf.len = 0;
  sl_pinyin_key(s, n, &buf);
  sink += buf.len;
}
static void f_bigram(const char *s, size_t n) {
  buf.len = 0;
  sl_bigram_key(s, n, &buf);
  sink += buf.len;
}
static void f_mask(const char *s, size_t n) {
  buf.len = 0;
  sl_mask(s, n, 6, 4, "*", &buf);
  sink += buf.len;
}
static void f_hmac(const char *s, size_t n) {
  buf.len = 0;
  sl_hmac_token(key, "id_no", s, n, 16, &buf);
  sink += buf.len;
}

static const struct {
  const char *name;
  fn f;
  const char *in[4];
} rows[] = {
    {"trim (clean already)", f_trim, {"张秀英", "Wang Fang", "李强", "user1@example.cn"}},
    {"trim (padded)", f_trim, {"\xE3\x80\x80张 秀英 ", "  Wang  Fang\t", "李\xE2\x80\x8B强", " 男 "}},
    {"nfkc (ASCII/CJK, fast path)", f_nfkc, {"张秀英", "Wang Fang", "13812345678", "user1@example.cn"}},
    {"nfkc (full width, utf8proc)", f_nfkc, {"ＬＩ　Ｎａ", "１３８１２３４５６７８", "ｕｓｅｒ２", "Ａ１"}},
    {"casefold (ASCII)", f_casefold, {"USER4@EXAMPLE.CN", "Wang Fang", "user1", "LI"}},
    {"t2s (Simplified, fast path)", f_t2s, {"张秀英", "王建国", "李强", "陈丽华"}},
    {"t2s (Traditional, OpenCC)", f_t2s, {"張秀英", "王建國", "劉強", "陳麗華"}},
    {"name: trim+nfkc+t2s", f_name, {"张秀英", "\xE3\x80\x80张 秀英 ", "張秀英", "ＬＩ　Ｎａ"}},
    {"cn_id", f_cn_id, {"11010519491231002X", "11010519491231002x", "110105491231002", "440402199001011236"}},
    {"uscc", f_uscc, {"91350100M000100Y43", "91350100m000100y43", "12100000400000122T", "9135 0100 M000 100Y 43"}},
    {"cn_phone", f_phone, {"13812345678", "+86 138-1234-5678", "0756-2123456", "(010) 8888 8888"}},
    {"date", f_date, {"1990-03-07", "1990/3/7", "19900307", "1990年3月7日"}},
    {"date (Chinese numerals)", f_date, {"一九九〇年三月七日", "二〇二〇年十二月三十一日", "二〇〇一年一月一日", "一九四九年十月一日"}},
    {"date (epoch, serial)", f_date, {"1577934245", "1577934245123", "43832", "43832.5"}},
    {"cn_address", f_address, {"广东省珠海市香洲区人民路1号", "广东珠海香洲人民路1号", "北京市朝阳区建国路", "上海浦东新区世纪大道"}},
    {"pinyin key", f_pinyin, {"张秀英", "王建国", "曾小贤", "Zhang San"}},
    {"bigram key", f_bigram, {"张秀英", "王建国", "欧阳修", "Li Na"}},
    {"mask", f_mask, {"440402199001011236", "13812345678", "张秀英", "91350100M000100Y43"}},
    {"hmac (16 bytes)", f_hmac, {"440402199001011236", "13812345678", "11010519491231002X", "91350100M000100Y43"}},
};

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 400000;
  sl_clean_why why;
  if (sl_hmac_key_new("a benchmark key, 32 bytes long!!", 32, &key, &why)) return 1;
  printf("%-30s %10s\n", "primitive", "ns/call");
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    size_t len[4];
    for (int k = 0; k < 4; k++) {
      len[k] = strlen(rows[r].in[k]);
      rows[r].f(rows[r].in[k], len[k]);   /* warm up: tables load here */
    }
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) rows[r].f(rows[r].in[i & 3], len[i & 3]);
    double t1 = now_ns();
    printf("%-30s %10.0f\n", rows[r].name, (t1 - t0) / iters);
  }
  sl_text_scratch_free(&sc);
  sl_buf_free(&buf);
  sl_hmac_key_free(key);
  return 0;
}
