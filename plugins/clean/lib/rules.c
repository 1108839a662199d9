/* Rule parsing and application for the clean step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "sluice/text.h"

void clean_ctx_free(clean_ctx *cx) {
  sl_text_scratch_free(&cx->text);
  sl_buf_free(&cx->out[0]);
  sl_buf_free(&cx->out[1]);
}

/* ---- the rule table ---- */

typedef struct rule_def {
  const char *name;
  rule_kind kind;
  unsigned text;          /* R_TEXT flags */
  const char *params;     /* the parameters it takes, space-separated */
  int a, b;               /* kind-specific defaults */
} rule_def;

static const rule_def defs[] = {
    {"trim", R_TEXT, SL_TEXT_TRIM, "", 0, 0},
    {"nfkc", R_TEXT, SL_TEXT_NFKC, "", 0, 0},
    {"casefold", R_TEXT, SL_TEXT_CASEFOLD, "", 0, 0},
    {"t2s", R_TEXT, SL_TEXT_T2S, "", 0, 0},
    {"utf8", R_TEXT, SL_TEXT_REPAIR, "", 0, 0},
    {"text", R_TEXT, SL_TEXT_TRIM | SL_TEXT_NFKC, "", 0, 0},
    {"cn_id", R_CN_ID, 0, "", 0, 0},
    {"uscc", R_USCC, 0, "", 0, 0},
    {"org_code", R_ORG_CODE, 0, "", 0, 0},
    {"cn_phone", R_PHONE, 0, "format area mobile_only", 0, 0},
    {"cn_phone_display", R_PHONE, 0, "area mobile_only", 1, 0},
    {"cn_mobile", R_PHONE, 0, "format", 0, 1},
    {"date", R_DATE, 0, "tz input output", SL_DATE_OUT_AUTO, 0},
    {"datetime", R_DATE, 0, "tz input", SL_DATE_OUT_DATETIME, 0},
    {"division_code", R_DIV_CODE, 0, "", 0, 0},
    {"division_name", R_DIV_NAME, 0, "", 0, 0},
    {"cn_address", R_ADDRESS, 0, "", 0, 0},
    {"pinyin", R_PINYIN, 0, "", 0, 0},
    {"bigrams", R_BIGRAMS, 0, "", 0, 0},
    {"mask", R_MASK, 0, "keep_start keep_end char", 0, 0},
    {"mask_id", R_MASK, 0, "char", 6, 4},
    {"mask_phone", R_MASK, 0, "char", -1, -1},
    {"mask_name", R_MASK, 0, "char", 1, 0},
    {"hmac", R_HMAC, 0, "bytes context", 0, 0},
};

static const rule_def *find_def(const char *name, size_t n, sl_buf *err, const char *where) {
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    if (strlen(defs[i].name) == n && !memcmp(defs[i].name, name, n)) return &defs[i];
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%.*s", (int)(n > 31 ? 31 : n), name);
  const char *best = NULL;
  int bd = 3;
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
    int d = sl_edit_distance(tmp, defs[i].name);
    if (d < bd) {
      bd = d;
      best = defs[i].name;
    }
  }
  sl_buf_printf(err, "%s: unknown rule '%.*s'", where, (int)(n > 64 ? 64 : n), name);
  if (best) sl_buf_printf(err, " (did you mean '%s'?)", best);
  return NULL;
}

void clean_rules_names(sl_buf *out) {
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    sl_buf_printf(out, "%s%s", i ? ", " : "", defs[i].name);
}

static int takes(const rule_def *d, const char *p, size_t n) {
  const char *s = d->params;
  while (*s) {
    const char *e = strchr(s, ' ');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len == n && !memcmp(s, p, n)) return 1;
    s += len + (e != NULL);
  }
  return 0;
}

/* A parameter as text or a number. */
static int param_str(const sl_value *v, char *out, size_t cap) {
  if (v->type != SL_T_STRING || v->u.s.len >= cap) return -1;
  memcpy(out, v->u.s.ptr, v->u.s.len);
  out[v->u.s.len] = 0;
  return 0;
}

static int param_int(const sl_value *v, int64_t lo, int64_t hi, uint32_t *out) {
  if (v->type != SL_T_INT || v->u.i < lo || v->u.i > hi) return -1;
  *out = (uint32_t)v->u.i;
  return 0;
}

static int set_param(const rule_def *d, clean_rule *r, sl_str name, const sl_value *v, const char *where,
                     sl_buf *err) {
  char tmp[64];
  const char *n = name.ptr;
  size_t nl = name.len;
#define IS(s) (nl == sizeof(s) - 1 && !memcmp(n, s, nl))
  if (!takes(d, n, nl)) {
    sl_buf_printf(err, "%s: rule '%s' takes no parameter '%.*s'%s%s", where, d->name, (int)nl, n,
                  *d->params ? " (it takes: " : "", *d->params ? d->params : "");
    if (*d->params) sl_buf_putc(err, ')');
    return SL_EOPTION;
  }
  const char *bad = NULL;
  if (IS("format")) {
    if (param_str(v, tmp, sizeof tmp)) bad = "\"e164\", \"display\" or \"national\"";
    else if (!strcmp(tmp, "e164")) r->phone_format = 0;
    else if (!strcmp(tmp, "display")) r->phone_format = 1;
    else if (!strcmp(tmp, "national")) r->phone_format = 2;
    else bad = "\"e164\", \"display\" or \"national\"";
  } else if (IS("area")) {
    if (param_str(v, r->area, sizeof r->area) || r->area[0] != '0') bad = "an area code such as \"0756\"";
  } else if (IS("mobile_only")) {
    if (v->type != SL_T_BOOL) bad = "true or false";
    else r->mobile_only = v->u.b;
  } else if (IS("tz")) {
    sl_clean_why why;
    if (param_str(v, tmp, sizeof tmp)) bad = "a time zone name such as \"Asia/Shanghai\"";
    else if (!(r->date.tz = sl_tz_get(tmp, &why))) {
      sl_buf_printf(err, "%s: rule '%s': %s", where, d->name, why.msg);
      return SL_EOPTION;
    }
  } else if (IS("input")) {
    if (param_str(v, tmp, sizeof tmp)) bad = "\"auto\", \"epoch\", \"epoch_ms\" or \"serial\"";
    else if (!strcmp(tmp, "auto")) r->date.input = SL_DATE_AUTO;
    else if (!strcmp(tmp, "epoch")) r->date.input = SL_DATE_EPOCH;
    else if (!strcmp(tmp, "epoch_ms")) r->date.input = SL_DATE_EPOCH_MS;
    else if (!strcmp(tmp, "serial")) r->date.input = SL_DATE_SERIAL;
    else bad = "\"auto\", \"epoch\", \"epoch_ms\" or \"serial\"";
  } else if (IS("output")) {
    if (param_str(v, tmp, sizeof tmp)) bad = "\"auto\", \"date\" or \"datetime\"";
    else if (!strcmp(tmp, "auto")) r->date.output = SL_DATE_OUT_AUTO;
    else if (!strcmp(tmp, "date")) r->date.output = SL_DATE_OUT_DATE;
    else if (!strcmp(tmp, "datetime")) r->date.output = SL_DATE_OUT_DATETIME;
    else bad = "\"auto\", \"date\" or \"datetime\"";
  } else if (IS("keep_start")) {
    if (param_int(v, 0, 1000, &r->keep_start)) bad = "a number of characters (0 to 1000)";
  } else if (IS("keep_end")) {
    if (param_int(v, 0, 1000, &r->keep_end)) bad = "a number of characters (0 to 1000)";
  } else if (IS("char")) {
    if (param_str(v, r->mask, sizeof r->mask) || !r->mask[0]) bad = "one character such as \"*\"";
  } else if (IS("bytes")) {
    if (param_int(v, 4, 32, &r->bytes)) bad = "a number of bytes from 4 to 32";
  } else if (IS("context")) {
    if (param_str(v, r->context, sizeof r->context)) bad = "a string of at most 31 bytes";
  }
#undef IS
  if (bad) {
    sl_buf_printf(err, "%s: rule '%s': parameter '%.*s' must be %s", where, d->name, (int)nl, n, bad);
    return SL_EOPTION;
  }
  return 0;
}

int clean_rule_parse(const sl_value *v, const char *where, const char *default_tz,
                     const char *default_area, clean_rule *r, sl_buf *err) {
  memset(r, 0, sizeof *r);
  sl_str name = {NULL, 0};
  if (v->type == SL_T_STRING) {
    name = v->u.s;
  } else if (v->type == SL_T_ARRAY && v->n >= 1 && v->u.items[0].type == SL_T_STRING && v->n == 1) {
    name = v->u.items[0].u.s;
  } else if (v->type == SL_T_OBJECT) {
    /* { "mask", keep_start = 6 }: the name is the member "1". */
    for (uint32_t i = 0; i < v->n; i++)
      if (v->u.members[i].name.len == 1 && v->u.members[i].name.ptr[0] == '1' &&
          v->u.members[i].value.type == SL_T_STRING)
        name = v->u.members[i].value.u.s;
  }
  if (!name.ptr) {
    sl_buf_printf(err, "%s: a rule is a name (\"cn_id\") or a table ({ \"mask\", keep_start = 6 })", where);
    return SL_EOPTION;
  }
  const rule_def *d = find_def(name.ptr, name.len, err, where);
  if (!d) return SL_ENOENT;
  snprintf(r->name, sizeof r->name, "%s", d->name);
  r->kind = d->kind;
  r->text = d->text;
  r->bytes = 16;
  strcpy(r->mask, "*");
  if (default_area) snprintf(r->area, sizeof r->area, "%s", default_area);
  switch (d->kind) {
    case R_PHONE:
      r->phone_format = d->a;
      r->mobile_only = d->b;
      break;
    case R_DATE: {
      r->date.output = (sl_date_output)d->a;
      sl_clean_why why;
      r->date.tz = sl_tz_get(default_tz, &why);
      if (!r->date.tz) {
        sl_buf_printf(err, "%s: %s", where, why.msg);
        return SL_EOPTION;
      }
      break;
    }
    case R_MASK:
      r->keep_start = d->a < 0 ? 0 : (uint32_t)d->a;
      r->keep_end = d->b < 0 ? 0 : (uint32_t)d->b;
      break;
    case R_TEXT:
      if (d->text & SL_TEXT_T2S) {
        sl_clean_why why;
        if (sl_text_t2s_ready(&why)) {
          sl_buf_printf(err, "%s: rule 't2s': %s", where, why.msg);
          return SL_EOPTION;
        }
      }
      break;
    default:
      break;
  }
  if (v->type == SL_T_OBJECT) {
    for (uint32_t i = 0; i < v->n; i++) {
      const sl_member *m = &v->u.members[i];
      if (m->name.len == 1 && m->name.ptr[0] == '1') continue;
      if (m->name.len && m->name.ptr[0] >= '0' && m->name.ptr[0] <= '9') {
        sl_buf_printf(err, "%s: a rule table holds one rule name, then named parameters", where);
        return SL_EOPTION;
      }
      if (set_param(d, r, m->name, &m->value, where, err)) return SL_EOPTION;
    }
  }
  return 0;
}

void clean_rules_link(clean_rule *rules, int n) {
  for (int i = 0; i < n;) {
    if (rules[i].kind != R_TEXT) {
      i++;
      continue;
    }
    int j = i;
    unsigned flags = 0;
    while (j < n && rules[j].kind == R_TEXT) flags |= rules[j++].text;
    rules[i].run_flags = flags;
    rules[i].run_len = j - i;
    i = j;
  }
}

/* ---- applying ---- */

void clean_mask_phone(const char *s, size_t n, sl_buf *out) {
  /* +86 stays readable; the national number keeps 3 + 4 digits. */
  if (n > 3 && !memcmp(s, "+86", 3)) {
    sl_buf_append(out, s, 3);
    s += 3;
    n -= 3;
  }
  sl_mask(s, n, 3, 4, "*", out);
}

/* Sets *out to the text in dst when it differs from in. */
static int result(sl_str in, sl_buf *dst, sl_str *out) {
  if (dst->oom) return SL_ENOMEM;
  if (dst->len == in.len && (in.len == 0 || !memcmp(dst->ptr, in.ptr, in.len))) return 0;
  out->ptr = dst->ptr;
  out->len = dst->len;
  return 1;
}

static int put(sl_str in, sl_buf *dst, const char *s, sl_str *out) {
  dst->len = 0;
  sl_buf_append(dst, s, strlen(s));
  return result(in, dst, out);
}

int clean_rule_apply(const clean_rule *r, clean_ctx *cx, sl_str in, sl_str *out, unsigned *text_changed) {
  sl_buf *dst = in.ptr == cx->out[0].ptr ? &cx->out[1] : &cx->out[0];
  sl_clean_why *why = &cx->why;
  int rc;
  *text_changed = 0;
  switch (r->kind) {
    case R_TEXT: {
      const char *o;
      size_t ol;
      rc = sl_text_clean(r->run_flags, in.ptr, in.len, &cx->text, &o, &ol, text_changed, why);
      if (rc <= 0) return rc;
      out->ptr = o;
      out->len = ol;
      return 1;
    }
    case R_CN_ID: {
      sl_cn_id id;
      if ((rc = sl_cn_id_parse(in.ptr, in.len, 0, &id, why))) return rc;
      return put(in, dst, id.id, out);
    }
    case R_USCC: {
      sl_uscc u;
      if ((rc = sl_uscc_parse(in.ptr, in.len, &u, why))) return rc;
      return put(in, dst, u.code, out);
    }
    case R_ORG_CODE: {
      char c[10];
      if ((rc = sl_org_code_parse(in.ptr, in.len, c, why))) return rc;
      return put(in, dst, c, out);
    }
    case R_PHONE: {
      sl_cn_phone p;
      if ((rc = sl_cn_phone_parse(in.ptr, in.len, r->area[0] ? r->area : NULL, &p, why))) return rc;
      if (r->mobile_only && p.type != SL_PHONE_MOBILE)
        return sl__why(why, SL_EINVAL, "not a mobile number");
      return put(in, dst, r->phone_format == 1 ? p.display : r->phone_format == 2 ? p.national : p.e164, out);
    }
    case R_DATE: {
      sl_date d;
      if ((rc = sl_date_parse(in.ptr, in.len, &r->date, &d, why))) return rc;
      return put(in, dst, d.iso, out);
    }
    case R_DIV_CODE:
    case R_DIV_NAME: {
      sl_division d;
      int digits = in.len > 0;
      for (size_t i = 0; i < in.len; i++) digits &= in.ptr[i] >= '0' && in.ptr[i] <= '9';
      if (digits) {
        if ((rc = sl_division_find(in.ptr, in.len, &d, why))) return rc;
      } else {
        sl_address a;
        if ((rc = sl_address_normalize(in.ptr, in.len, &a, NULL, why))) return rc;
        if (a.rest != in.len) return sl__why(why, SL_EINVAL, "not only a division name: '%.40s' follows", in.ptr + a.rest);
        d = a.county.level ? a.county : a.city.level ? a.city : a.province;
      }
      dst->len = 0;
      if (r->kind == R_DIV_CODE) sl_buf_append(dst, d.code, 6);
      else sl_division_full_name(&d, dst);
      return result(in, dst, out);
    }
    case R_ADDRESS: {
      sl_address a;
      dst->len = 0;
      if ((rc = sl_address_normalize(in.ptr, in.len, &a, dst, why))) return rc;
      return result(in, dst, out);
    }
    case R_PINYIN:
      dst->len = 0;
      sl_pinyin_key(in.ptr, in.len, dst);
      return result(in, dst, out);
    case R_BIGRAMS:
      dst->len = 0;
      sl_bigram_key(in.ptr, in.len, dst);
      return result(in, dst, out);
    case R_MASK:
      dst->len = 0;
      if (!strcmp(r->name, "mask_phone")) clean_mask_phone(in.ptr, in.len, dst);
      else sl_mask(in.ptr, in.len, r->keep_start, r->keep_end, r->mask, dst);
      return result(in, dst, out);
    case R_HMAC:
      if (!cx->key) return sl__why(why, SL_EINVAL, "no pseudonymisation key");
      dst->len = 0;
      sl_hmac_token(cx->key, r->context, in.ptr, in.len, r->bytes, dst);
      return result(in, dst, out);
  }
  return sl__why(why, SL_EINVAL, "unknown rule");
}
