/* Cleansing primitives: normalise, validate and repair the values of Chinese
 * government records.  The library of the clean plugin (plugins/clean/lib/,
 * target sluice_clean): the clean step and the sl.clean Lua library are
 * built on it, and only what links the plugin links OpenCC, utf8proc and
 * libcrypto.
 *
 * Every parser takes bytes (not NUL-terminated), never allocates per call,
 * and returns 0 with the clean value, or a negative SL_E* with a one-line
 * reason in *why ("check character is 3, expected X").  The fixed-size
 * results live in the caller's struct; text results go to a caller-owned
 * scratch that is reused from call to call, so a worker that cleans millions
 * of values allocates only while its buffers grow.
 *
 * Each primitive is idempotent: cleaning its own output gives that output
 * back unchanged.  The tests check it on every example and the fuzzers on
 * every input. */
#ifndef SLUICE_CLEAN_H
#define SLUICE_CLEAN_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/clock.h"
#include "sluice/errors.h"
#include "sluice/text.h"

/* Why a value was rejected: a short sentence, NUL-terminated. */
typedef struct sl_clean_why {
  char msg[128];
} sl_clean_why;

/* Sets why->msg (printf style) and returns err: `return sl__why(why, SL_EINVAL, ...)`. */
int sl__why(sl_clean_why *why, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- text.c: whitespace, controls, UTF-8, NFKC, case, Traditional → Simplified ---- */

#define SL_TEXT_TRIM      0x01  /* trim both ends, collapse inner whitespace runs to one space
                                   (every Unicode White_Space character, U+3000 included) or
                                   to none between two Han characters ("张 三" → "张三"),
                                   and drop control, format and zero-width characters */
#define SL_TEXT_NFKC      0x02  /* Unicode NFKC: full-width forms to ASCII, compatibility forms */
#define SL_TEXT_CASEFOLD  0x04  /* Unicode case folding (implies NFKC: NFKC_Casefold) */
#define SL_TEXT_T2S       0x08  /* Traditional to Simplified Chinese (OpenCC t2s) */
#define SL_TEXT_REPAIR    0x10  /* invalid UTF-8 becomes U+FFFD instead of an error */

/* Buffers kept between calls (zero-initialise; free with sl_text_scratch_free). */
typedef struct sl_text_scratch {
  int32_t *cps;           /* code points for utf8proc */
  size_t cap;
  sl_buf a, b;            /* ping-pong outputs */
} sl_text_scratch;

void sl_text_scratch_free(sl_text_scratch *sc);

/* Cleans s[0..n) as flags ask.  The passes always run in one order, whatever
 * order the flags were listed in: UTF-8 repair, controls out, NFKC (and case
 * folding), Traditional → Simplified, whitespace last.  That order is what
 * makes the result a fixed point: cleaning it again changes nothing.
 * Returns 0 with *out = s when nothing changed, 1 with *out in sc when
 * something did (valid until the next call with sc), or SL_EUTF8 (invalid
 * UTF-8 without SL_TEXT_REPAIR) / SL_ENOMEM / SL_EIO (OpenCC data missing).
 * *changed, if not NULL, gets the flags of the passes that changed the text
 * (SL_TEXT_REPAIR for a repair). */
int sl_text_clean(unsigned flags, const char *s, size_t n, sl_text_scratch *sc,
                  const char **out, size_t *out_len, unsigned *changed, sl_clean_why *why);

/* Whether the Traditional → Simplified tables can be loaded (loads them once;
 * thread-safe).  0 or SL_EIO with why. */
int sl_text_t2s_ready(sl_clean_why *why);

/* ---- cn_id.c: resident identity numbers (GB 11643-1999) ---- */

typedef struct sl_cn_id {
  char id[19];            /* the 18-character number, check character upper case */
  char birth[11];         /* YYYY-MM-DD */
  char division[7];       /* the administrative division code of issue */
  char sex;               /* 'M' (odd sequence number) or 'F' */
  int upgraded;           /* the input was a 15-digit number, upgraded to 18 */
} sl_cn_id;

/* Parses and validates a resident identity number: 18 characters (17 digits
 * and a check character 0-9 or X, weights 2^(17-i) mod 11, "10X98765432"),
 * or 15 digits (before 1999: birth year without the century, no check
 * character), which is upgraded.  Full-width digits, a lower-case x and
 * spaces are accepted and normalised.  Rejects a wrong length, a non-digit,
 * an unknown province, an impossible birth date or one after today_days
 * (days since 1970-01-01; 0 for today's date), and a wrong check character. */
int sl_cn_id_parse(const char *s, size_t n, int32_t today_days, sl_cn_id *out, sl_clean_why *why);
/* The check character ('0'..'9' or 'X') of 17 digits. */
char sl_cn_id_check(const char *first17);

/* ---- uscc.c: Unified Social Credit Code (GB 32100-2015), organisation code (GB 11714) ---- */

typedef struct sl_uscc {
  char code[19];          /* 18 characters, upper case */
  char authority;         /* registration authority: '1'..'9', 'A', 'N', 'Y' */
  char type;              /* organisation type within the authority */
  const char *authority_name;   /* "工商", static */
  const char *type_name;        /* "企业", static */
  char division[7];       /* administrative division code of registration ("100000": central) */
  char org_code[10];      /* the embedded organisation code (GB 11714), 9 characters */
} sl_uscc;

/* Validates an 18-character code over the 31-character alphabet
 * 0-9 A-H J-N P-R T U W-Y (no I O Z S V): a known authority and type, six
 * digits of division with a known province, a valid embedded organisation
 * code, and the check character (weights 3^i mod 31).  Lower case,
 * full-width forms and spaces are accepted and normalised. */
int sl_uscc_parse(const char *s, size_t n, sl_uscc *out, sl_clean_why *why);
/* The check character of 17 code characters, or 0 if one is not in the alphabet. */
char sl_uscc_check(const char *first17);

/* Validates an organisation code: 8 characters 0-9 A-Z and a check
 * character (weights 3 7 9 10 5 8 4 2 mod 11, 10 → X, 11 → 0), written
 * with or without the hyphen before it.  out gets the 9 characters without
 * the hyphen, NUL-terminated. */
int sl_org_code_parse(const char *s, size_t n, char out[10], sl_clean_why *why);
char sl_org_code_check(const char *first8);

/* ---- phone.c: mainland mobile and landline numbers ---- */

typedef enum sl_phone_type { SL_PHONE_MOBILE = 1, SL_PHONE_LANDLINE, SL_PHONE_SERVICE } sl_phone_type;

typedef struct sl_cn_phone {
  sl_phone_type type;
  char national[16];      /* "13812345678", "07562123456", "4008108888" */
  char area[6];           /* landline area code with its 0 ("0756"), else "" */
  char ext[12];           /* extension digits, else "" */
  char e164[36];          /* "+8613812345678", with ";ext=123" after an extension */
  char display[40];       /* "138 1234 5678", "0756-2123456", "400-810-8888", "转123" after */
} sl_cn_phone;

/* Parses a mainland number as people write it: +86 / 0086 / 86 prefixes,
 * spaces, hyphens, dots, brackets, full-width digits, an extension after
 * 转 / ext / x / # / ",".  A mobile number is 11 digits starting 1[3-9]; a
 * landline is an area code (010, 02x, or 0 and three digits) and 7 or 8
 * digits (8 after 010/02x); 400/800 numbers are 10 digits.  A landline
 * without an area code takes default_area ("0756" or NULL: rejected). */
int sl_cn_phone_parse(const char *s, size_t n, const char *default_area, sl_cn_phone *out,
                      sl_clean_why *why);

/* ---- tz.c, date.c: dates and times ---- */

typedef struct sl_tz sl_tz;

/* A time zone by IANA name ("Asia/Shanghai", "UTC") read from the system's
 * zoneinfo, or a fixed offset ("+08:00", "Z").  Loaded once and kept for
 * the life of the process (thread-safe); NULL with why if unknown.
 * Asia/Shanghai falls back to a fixed +08:00 when no zoneinfo is installed. */
const sl_tz *sl_tz_get(const char *name, sl_clean_why *why);
/* Offset from UTC in seconds at a UTC instant. */
int32_t sl_tz_offset_utc(const sl_tz *tz, int64_t utc_s);
/* Offset for a local wall-clock time (seconds since 1970 as if it were UTC);
 * in a gap or an overlap, the offset in force before the change. */
int32_t sl_tz_offset_local(const sl_tz *tz, int64_t local_s);

/* How to read a bare number (digits only, maybe a fraction). */
typedef enum sl_date_input {
  SL_DATE_AUTO = 0,       /* 8 digits YYYYMMDD, 14 YYYYMMDDhhmmss, 10 epoch s,
                             13 epoch ms, below 2958466 a spreadsheet serial */
  SL_DATE_EPOCH,          /* seconds since 1970-01-01T00:00:00Z */
  SL_DATE_EPOCH_MS,
  SL_DATE_SERIAL          /* spreadsheet (1900 system) day number, fraction = time */
} sl_date_input;

typedef enum sl_date_output {
  SL_DATE_OUT_AUTO = 0,   /* a date stays a date, a time gets its offset */
  SL_DATE_OUT_DATE,       /* always YYYY-MM-DD (a time is taken in the zone) */
  SL_DATE_OUT_DATETIME    /* always YYYY-MM-DDThh:mm:ss±hh:mm (a date at midnight) */
} sl_date_output;

typedef struct sl_date_opts {
  const sl_tz *tz;        /* NULL: Asia/Shanghai */
  sl_date_input input;
  sl_date_output output;
} sl_date_opts;

typedef struct sl_date {
  int year, month, day;
  int hour, min, sec, ms; /* local time in the zone */
  int has_time, has_ms;
  int32_t offset;         /* seconds east of UTC */
  char iso[40];           /* the ISO 8601 text */
} sl_date;

/* Parses ISO 8601 (2020-01-02, 2020-01-02T03:04:05[.123][Z|+08:00], a space
 * for T), 2020/1/2 and 2020.1.2 (with an optional time), 20200102,
 * 2020年1月2日 (日 or 号, optional 3时4分5秒 or 03:04), 二〇二〇年一月二日,
 * Unix epoch seconds or milliseconds and spreadsheet serial numbers.  A time
 * without an offset is in the zone; one with an offset is converted to it.
 * Full-width digits are accepted.  Rejects impossible dates (2021-02-29). */
int sl_date_parse(const char *s, size_t n, const sl_date_opts *o, sl_date *out, sl_clean_why *why);

int sl_days_in_month(int y, int m);

/* ---- division.c: administrative divisions (GB/T 2260) ---- */

typedef enum sl_div_level { SL_DIV_PROVINCE = 1, SL_DIV_CITY, SL_DIV_COUNTY } sl_div_level;

typedef struct sl_division {
  char code[7];           /* "440402" */
  const char *name;       /* "香洲区": NUL-terminated, lives as long as the process */
  size_t name_len;
  sl_div_level level;     /* 0: none */
} sl_division;

/* Looks a code up: 6 digits (or 2 / 4 digits padded, or a 9/12-digit
 * statistical code cut to 6).  0, or SL_ENOENT with why. */
int sl_division_find(const char *code, size_t n, sl_division *out, sl_clean_why *why);
/* Appends the full name, province first: "广东省珠海市香洲区" (a municipality
 * once: "北京市朝阳区"). */
void sl_division_full_name(const sl_division *d, sl_buf *out);
/* Whether two digits are a province's code ("44"; "71", "81", "82" too). */
int sl_division_province_known(const char *two_digits);

typedef struct sl_address {
  sl_division province, city, county;   /* level 0 where not found */
  int found;              /* how many levels were found (0..3) */
  size_t rest;            /* offset in the input of what follows the divisions */
} sl_address;

/* Finds the province, city and county an address starts with, written in
 * full ("广东省珠海市香洲区") or short ("广东珠海香洲"), with levels left out
 * where the rest says them ("珠海香洲" → 广东省; "广东香洲" → 珠海市), and
 * appends the normalised form to out: full names, then the rest of the
 * input as it was.  0, or SL_ENOENT when it starts with no division. */
int sl_address_normalize(const char *s, size_t n, sl_address *a, sl_buf *out, sl_clean_why *why);

/* ---- pinyin.c: name keys for matching ---- */

/* Appends the pinyin key of a name: each CJK character as its toneless
 * pinyin (the common reading; a surname's reading for the first character
 * of a name that has one: 曾 → zeng, 单 → shan), ASCII letters folded to
 * lower case, digits kept, everything else (spaces, ·, punctuation)
 * dropped; a character without a reading is kept as it is.
 * "张三" → "zhangsan", "Zhang San" → "zhangsan".  Input must be valid UTF-8
 * (clean it first); invalid bytes are dropped. */
void sl_pinyin_key(const char *s, size_t n, sl_buf *out);
/* The readings of one code point, "zeng,ceng" style; NULL if none. */
const char *sl_pinyin_of(uint32_t cp);

/* Appends the character-bigram key: the name's letters and CJK characters
 * (spaces and punctuation dropped, ASCII folded to lower case), each
 * overlapping pair once, separated by spaces, in order: "张三丰" → "张三 三丰";
 * a one-character name is that character. */
void sl_bigram_key(const char *s, size_t n, sl_buf *out);

/* ---- mask.c: masking and keyed pseudonymisation ---- */

/* Appends s with all but the first keep_start and last keep_end characters
 * (UTF-8 code points) replaced by mask (one per character); a value with no
 * more characters than keep_start + keep_end is masked whole.
 * "440402199001011234", 6, 4 → "440402********1234". */
void sl_mask(const char *s, size_t n, size_t keep_start, size_t keep_end, const char *mask,
             sl_buf *out);

/* An HMAC-SHA-256 key, prepared once: the inner and outer hash states after
 * the padded key, so a token costs two short hashes and no allocation. */
typedef struct sl_hmac_key sl_hmac_key;

/* Reads a key from an environment variable (env) or a file (path), at least
 * 16 bytes (a file's trailing newline is not part of it).  The key never
 * appears in a message.  Free with sl_hmac_key_free. */
int sl_hmac_key_load(const char *env, const char *path, sl_hmac_key **out, sl_clean_why *why);
int sl_hmac_key_new(const void *key, size_t n, sl_hmac_key **out, sl_clean_why *why);
void sl_hmac_key_free(sl_hmac_key *k);
/* Appends the token: lower-case hex of the first nbytes (1..32) of
 * HMAC-SHA-256(key, context || 0x00 || s).  The context keeps equal
 * values of different kinds apart ("id_no" vs "phone"); "" for none. */
void sl_hmac_token(const sl_hmac_key *k, const char *context, const char *s, size_t n,
                   size_t nbytes, sl_buf *out);

/* ---- data.c: the tables built into the binary (data/ folder) ---- */

/* The text of data/cn_divisions.tsv and data/cn_pinyin.tsv, embedded at
 * build time; NUL-terminated, *len without the NUL. */
const char *sl__clean_divisions_tsv(size_t *len);
const char *sl__clean_pinyin_tsv(size_t *len);

/* ---- utf8 helpers shared by the primitives ---- */

/* Decodes one code point of valid UTF-8 at s[*i], advancing *i; returns
 * 0xFFFFFFFF (and advances one byte) at an invalid sequence.  Inline: every
 * primitive steps through its input with it. */
static inline uint32_t sl__utf8_next(const char *s, size_t n, size_t *i) {
  const unsigned char *p = (const unsigned char *)s + *i;
  if (p[0] < 0x80) {
    (*i)++;
    return p[0];
  }
  size_t k = sl_utf8_seq(p, n - *i);
  if (!k) {
    (*i)++;
    return 0xFFFFFFFFu;
  }
  *i += k;
  if (k == 2) return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
  if (k == 3) return ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
         ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}
/* Appends cp as UTF-8. */
void sl__utf8_put(sl_buf *b, uint32_t cp);

#endif
