/* The rules of the clean step: parsed once from the pipeline's `fields`
 * (as an sl_value tree, on the loop thread), applied to values on the
 * workers.  A rule maps a text to a text or rejects it. */
#ifndef SLUICE_CLEAN_RULES_H
#define SLUICE_CLEAN_RULES_H

#include "clean.h"
#include "sluice/value.h"

typedef enum rule_kind {
  R_TEXT = 1,     /* trim, nfkc, casefold, t2s, utf8, text */
  R_CN_ID,
  R_USCC,
  R_ORG_CODE,
  R_PHONE,
  R_DATE,
  R_DIV_CODE,
  R_DIV_NAME,
  R_ADDRESS,
  R_PINYIN,
  R_BIGRAMS,
  R_MASK,
  R_HMAC
} rule_kind;

typedef struct clean_rule {
  rule_kind kind;
  char name[24];          /* as written: "trim", "cn_id", "mask_id" */
  /* R_TEXT: this rule's SL_TEXT_* flags.  Consecutive text rules run as
   * one sl_text_clean call (whose fixed pass order makes the result a
   * fixed point); the first of a run carries the run's flags and length. */
  unsigned text, run_flags;
  int run_len;
  int phone_format;       /* 0 E.164, 1 display, 2 national */
  int mobile_only;
  char area[8];           /* default landline area code */
  sl_date_opts date;
  uint32_t keep_start, keep_end;
  char mask[8];
  uint32_t bytes;         /* hmac: token bytes */
  char context[32];       /* hmac: context */
} clean_rule;

/* What a worker keeps between values. */
typedef struct clean_ctx {
  sl_text_scratch text;
  sl_buf out[2];
  sl_clean_why why;
  const sl_hmac_key *key;
} clean_ctx;

void clean_ctx_free(clean_ctx *cx);

/* Parses one rule: a string ("cn_id") or a table ({ "mask", keep_start = 6 }).
 * where names it in messages ("fields.phone").  0, or SL_EOPTION with a
 * message in err (SL_ENOENT: an unknown rule name, with the nearest one). */
int clean_rule_parse(const sl_value *v, const char *where, const char *default_tz,
                     const char *default_area, clean_rule *r, sl_buf *err);
/* Appends the names of every rule, comma-separated. */
void clean_rules_names(sl_buf *out);
/* Links consecutive text rules into runs (after parsing a chain). */
void clean_rules_link(clean_rule *rules, int n);

/* Applies rule r (for a text run, the whole run) to in.  0 when the value
 * stays as it is, 1 with *out (in cx's buffers, valid until the next call
 * but one) when it changed, or a negative SL_E* with cx->why.
 * *text_changed gets the SL_TEXT_* flags of the passes that changed it. */
int clean_rule_apply(const clean_rule *r, clean_ctx *cx, sl_str in, sl_str *out,
                     unsigned *text_changed);

/* The mask rules' shapes, shared with the Lua library. */
void clean_mask_phone(const char *s, size_t n, sl_buf *out);

#endif
