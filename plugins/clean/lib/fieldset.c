/* Field sets (fieldset.h): parsing the rules of a step's fields or of a
 * catalog's feed, and judging one record against them.  The clean step
 * and `sluice publish` share this, so that a pipeline and a department
 * judge a row the same way. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fieldset.h"
#include "sluice/clock.h"
#include "sluice/codec.h"

int clean_on_invalid_of(const char *s) {
  return !strcmp(s, "null") ? CLEAN_ON_NULL : !strcmp(s, "dlq") ? CLEAN_ON_DLQ : CLEAN_ON_KEEP;
}

/* Appends one message to a "; "-separated list of them. */
static void add_error(sl_buf *err, const sl_buf *e) {
  if (err->len && e->len) sl_buf_puts(err, "; ");
  sl_buf_append(err, e->ptr, e->len);
}

static int parse_field(const clean_defaults *d, const sl_member *m, clean_field *f, sl_arena *a,
                       sl_buf *err) {
  char where[96];
  snprintf(where, sizeof where, "fields.%.*s", (int)(m->name.len > 64 ? 64 : m->name.len), m->name.ptr);
  f->name = strndup(m->name.ptr, m->name.len);
  f->name_len = m->name.len;
  f->on_invalid = d->on_invalid;
  if (!f->name) return SL_ENOMEM;
  const sl_value *v = &m->value;
  /* The chain: a string, a list, or a table of positional rules and the
   * field's own keys. */
  const sl_value *items = NULL;
  uint32_t nitems = 0;
  sl_value one;
  sl_member *params = NULL;
  uint32_t nparams = 0;
  if (v->type == SL_T_STRING) {
    items = v;
    nitems = 1;
  } else if (v->type == SL_T_ARRAY) {
    items = v->u.items;
    nitems = v->n;
  } else if (v->type == SL_T_OBJECT) {
    sl_value *pos = sl_arena_alloc(a, (v->n + 1) * sizeof *pos);
    params = sl_arena_alloc(a, (v->n + 1) * sizeof *params);
    if (!pos || !params) return SL_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++) {
      const sl_member *k = &v->u.members[i];
      sl_str n = k->name;
      if (n.len && n.ptr[0] >= '0' && n.ptr[0] <= '9') {
        pos[nitems++] = k->value;
      } else if (n.len == 4 && !memcmp(n.ptr, "from", 4)) {
        if (k->value.type != SL_T_STRING || !k->value.u.s.len) {
          sl_buf_printf(err, "%s: from must be a field name", where);
          return SL_EOPTION;
        }
        f->from = strndup(k->value.u.s.ptr, k->value.u.s.len);
        f->from_len = k->value.u.s.len;
        if (!f->from) return SL_ENOMEM;
      } else if (n.len == 8 && !memcmp(n.ptr, "required", 8)) {
        if (k->value.type != SL_T_BOOL) {
          sl_buf_printf(err, "%s: required must be true or false", where);
          return SL_EOPTION;
        }
        f->required = k->value.u.b;
      } else if (n.len == 10 && !memcmp(n.ptr, "on_invalid", 10)) {
        char tmp[8];
        if (k->value.type != SL_T_STRING || k->value.u.s.len >= sizeof tmp) goto bad_on_invalid;
        memcpy(tmp, k->value.u.s.ptr, k->value.u.s.len);
        tmp[k->value.u.s.len] = 0;
        if (strcmp(tmp, "keep") && strcmp(tmp, "null") && strcmp(tmp, "dlq")) goto bad_on_invalid;
        f->on_invalid = clean_on_invalid_of(tmp);
      } else {
        params[nparams++] = *k;
      }
      continue;
    bad_on_invalid:
      sl_buf_printf(err, "%s: on_invalid must be \"keep\", \"null\" or \"dlq\"", where);
      return SL_EOPTION;
    }
    items = pos;
    if (nparams) {
      /* { "mask", keep_start = 6, from = "id_no" }: one rule with its parameters. */
      if (nitems != 1) {
        sl_buf_printf(err, "%s: unknown key '%.*s' (a rule's parameters go in the rule's own table: { \"trim\", { \"mask\", keep_start = 6 } })",
                      where, (int)params[0].name.len, params[0].name.ptr);
        return SL_EOPTION;
      }
      params[nparams].name = (sl_str){"1", 1};
      params[nparams].value = pos[0];
      one.type = SL_T_OBJECT;
      one.n = nparams + 1;
      one.u.members = params;
      items = &one;
    }
  } else {
    sl_buf_printf(err, "%s: expected a rule name, a list of rules or a table, got %s", where,
                  sl_type_name((sl_type)v->type));
    return SL_EOPTION;
  }
  if (!f->from) {
    f->from = strndup(f->name, f->name_len);
    f->from_len = f->name_len;
    if (!f->from) return SL_ENOMEM;
  }
  f->rules = calloc(nitems + 1, sizeof *f->rules);
  if (!f->rules) return SL_ENOMEM;
  /* Every unknown rule is reported, not only the first. */
  int unknown = 0;
  for (uint32_t i = 0; i < nitems; i++) {
    sl_buf e = SL_BUF_INIT;
    int rc = clean_rule_parse(&items[i], where, d->tz, d->area, &f->rules[f->nrules], &e);
    if (rc) add_error(err, &e);
    sl_buf_free(&e);
    if (rc == SL_ENOENT) unknown = 1;
    else if (rc) return rc;
    else f->nrules++;
  }
  if (unknown) return SL_ENOENT;
  clean_rules_link(f->rules, f->nrules);
  return 0;
}

void clean_fieldset_free(clean_fieldset *rs) {
  for (int i = 0; i < rs->nfields; i++) {
    free(rs->fields[i].name);
    free(rs->fields[i].from);
    free(rs->fields[i].rules);
  }
  free(rs->fields);
  free(rs->slot_field);
  free(rs->slot_rule);
  memset(rs, 0, sizeof *rs);
}

/* Fields computed from others (from = ...) come after the plain ones, so
 * that they see the cleaned values: id_masked = { "mask_id", from =
 * "id_no" } masks the corrected number. */
static void derived_last(clean_fieldset *rs) {
  for (int i = 1; i < rs->nfields; i++) {
    clean_field f = rs->fields[i];
    int derived = strcmp(f.from, f.name) != 0;
    int j = i;
    while (j > 0 && !derived && strcmp(rs->fields[j - 1].from, rs->fields[j - 1].name) != 0) {
      rs->fields[j] = rs->fields[j - 1];
      j--;
    }
    rs->fields[j] = f;
  }
}

/* The counters' slots: one per field (rule "*") and one per rule. */
int clean_fieldset_slots(clean_fieldset *rs) {
  for (int i = 0; i < rs->nfields; i++) {
    clean_field *f = &rs->fields[i];
    f->slot = rs->nslots;
    rs->nslots += 1 + f->nrules;
    for (int k = 0; k < f->nrules; k++) rs->need_key |= f->rules[k].kind == R_HMAC;
  }
  rs->slot_field = calloc((size_t)rs->nslots + 1, sizeof *rs->slot_field);
  rs->slot_rule = calloc((size_t)rs->nslots + 1, sizeof *rs->slot_rule);
  if (!rs->slot_field || !rs->slot_rule) return SL_ENOMEM;
  for (int i = 0; i < rs->nfields; i++) {
    clean_field *f = &rs->fields[i];
    rs->slot_field[f->slot] = f->name;
    rs->slot_rule[f->slot] = "*";
    for (int k = 0; k < f->nrules; k++) {
      rs->slot_field[f->slot + 1 + k] = f->name;
      rs->slot_rule[f->slot + 1 + k] = f->rules[k].name;
    }
  }
  return 0;
}

int clean_fieldset_parse(const clean_defaults *d, const sl_member *fields, uint32_t n,
                         clean_fieldset *rs, sl_arena *a, sl_buf *err) {
  rs->fields = calloc(n + 1, sizeof *rs->fields);
  if (!rs->fields) return SL_ENOMEM;
  int unknown = 0;
  for (uint32_t i = 0; i < n; i++) {
    sl_buf e = SL_BUF_INIT;
    int rc = parse_field(d, &fields[i], &rs->fields[rs->nfields], a, &e);
    add_error(err, &e);
    sl_buf_free(&e);
    rs->nfields++;
    if (rc == SL_ENOENT) unknown = 1;
    else if (rc) return rc;
  }
  derived_last(rs);
  return unknown ? SL_ENOENT : 0;
}

int clean_fieldset_of_feed(const clean_defaults *d, const sl_catalog_feed *feed,
                           clean_fieldset *rs, sl_arena *a, sl_buf *err) {
  rs->feed = feed;
  sl_member *ms = sl_arena_alloc(a, ((size_t)feed->nfields + 1) * sizeof *ms);
  if (!ms) return SL_ENOMEM;
  for (int k = 0; k < feed->nfields; k++) {
    ms[k].name = (sl_str){feed->fields[k].name, strlen(feed->fields[k].name)};
    ms[k].value = feed->fields[k].rule;
    if (ms[k].value.type == SL_T_NULL) ms[k].value = (sl_value){.type = SL_T_ARRAY};
  }
  sl_buf e = SL_BUF_INIT;
  int rc = clean_fieldset_parse(d, ms, (uint32_t)feed->nfields, rs, a, &e);
  if (e.len) {
    if (err->len) sl_buf_puts(err, "; ");
    sl_buf_printf(err, "%s: feed %s: %.*s", feed->where ? feed->where : "?", feed->id, (int)e.len, e.ptr);
  }
  sl_buf_free(&e);
  if (rc) return rc;
  for (int k = 0; k < rs->nfields; k++) {
    const sl_catalog_field *cf = sl_catalog_field_of(feed, rs->fields[k].name);
    rs->fields[k].required |= cf->required;
    rs->fields[k].type = cf->type;
  }
  return clean_fieldset_slots(rs);
}

/* One writer per block of counters: a relaxed load and store is an
 * increment that readers on other threads may see late but never torn. */
static inline void count(_Atomic uint64_t *counts, int slot, int outcome) {
  if (!counts) return;
  _Atomic uint64_t *c = &counts[slot * 4 + outcome];
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

/* The value of a field as text for the rules; 0, 1 for missing, or -1
 * for a value that is not text (why set). */
static int value_text(sl_value *v, sl_arena *a, char *numbuf, size_t cap, sl_str *s, const char **why) {
  if (!v) return 1;
  sl_value tmp = *v;
  if (tmp.type == SL_T_JSON) {
    if (tmp.flags & SL_VF_PLAIN_STRING) {
      *s = (sl_str){tmp.u.s.ptr + 1, tmp.u.s.len - 2};
      return s->len ? 0 : 1;
    }
    if (sl_json_materialize(&tmp, a, why)) return -1;
  }
  switch (tmp.type) {
    case SL_T_NULL:
      return 1;
    case SL_T_STRING:
      *s = tmp.u.s;
      return s->len ? 0 : 1;
    case SL_T_INT: {
      /* By hand: snprintf would cost more than cleaning the value. */
      char t[24];
      int k = 0, neg = tmp.u.i < 0;
      uint64_t u = neg ? 0 - (uint64_t)tmp.u.i : (uint64_t)tmp.u.i;
      do {
        t[k++] = (char)('0' + u % 10);
        u /= 10;
      } while (u);
      size_t len = 0;
      if (neg) numbuf[len++] = '-';
      while (k && len + 1 < cap) numbuf[len++] = t[--k];
      s->ptr = numbuf;
      s->len = len;
      return 0;
    }
    case SL_T_DOUBLE:
      s->len = (size_t)snprintf(numbuf, cap, "%.15g", tmp.u.d);
      s->ptr = numbuf;
      return 0;
    default:
      *why = tmp.type == SL_T_BOOL ? "expected text, got a boolean" : "expected text, got an object or array";
      return -1;
  }
}

/* Why a present value does not have the type the schema declares, or
 * NULL when it has (null is missing, not a wrong type). */
static const char *type_problem(int type, const sl_value *v, sl_str text) {
  int t = v->type;
  if (t == SL_T_JSON) {
    char c = v->u.s.len ? v->u.s.ptr[0] : 'n';
    int frac = memchr(v->u.s.ptr, '.', v->u.s.len) || memchr(v->u.s.ptr, 'e', v->u.s.len) ||
               memchr(v->u.s.ptr, 'E', v->u.s.len);
    t = c == '"' ? SL_T_STRING : c == '{' ? SL_T_OBJECT : c == '[' ? SL_T_ARRAY : c == 'n' ? SL_T_NULL
        : c == 't' || c == 'f' ? SL_T_BOOL : frac ? SL_T_DOUBLE : SL_T_INT;
  }
  if (t == SL_T_NULL) return NULL;
  switch ((sl_field_type)type) {
    case SL_FIELD_ANY: return NULL;
    case SL_FIELD_STRING:
    case SL_FIELD_DATE:
      return t == SL_T_STRING ? NULL : "expected a string";
    case SL_FIELD_TIMESTAMP: {
      int64_t ms;
      if (t != SL_T_STRING) return "expected a string";
      return !text.len || sl_parse_time_ms(text.ptr, text.len, &ms) == 0
                 ? NULL : "expected a time in RFC 3339 (2026-11-05T08:00:00+08:00)";
    }
    case SL_FIELD_INT: return t == SL_T_INT ? NULL : "expected an integer";
    case SL_FIELD_NUMBER: return t == SL_T_INT || t == SL_T_DOUBLE ? NULL : "expected a number";
    case SL_FIELD_BOOL: return t == SL_T_BOOL ? NULL : "expected true or false";
    case SL_FIELD_OBJECT: return t == SL_T_OBJECT ? NULL : "expected an object";
    case SL_FIELD_ARRAY: return t == SL_T_ARRAY ? NULL : "expected an array";
  }
  return NULL;
}

int clean_fieldset_check(const clean_fieldset *rs, clean_ctx *cx, sl_record *rec, sl_arena *a,
                         const char *stage, sl_field_outcome *oc, _Atomic uint64_t *counts,
                         sl_buf *msg) {
  int failed = 0;
  for (int fi = 0; fi < rs->nfields; fi++) {
    clean_field *f = &rs->fields[fi];
    sl_field_outcome *o = &oc[fi];
    o->field = (sl_str){f->name, f->name_len};
    o->rule = f->nrules ? f->rules[f->nrules - 1].name : NULL;
    o->reason = NULL;
    o->stage = stage;
    sl_value *v = sl_record_get(rec, f->from, f->from_len);
    char numbuf[40];
    sl_str s = {NULL, 0}, cur;
    const char *why = NULL;
    int vt = value_text(v, a, numbuf, sizeof numbuf, &s, &why);
    int outcome = SL_OUTCOME_VALID, changed = 0;
    const char *reason = NULL;
    /* The schema's type first: a value of the wrong type is a dead letter
     * whatever on_invalid says (the contract is broken, not a value). */
    const char *schema = v && f->type != SL_FIELD_ANY ? type_problem(f->type, v, vt == 0 ? s : (sl_str){NULL, 0}) : NULL;
    /* A value that is not text (a number of an int field, an object) with
     * no rule to run is present, and that is all there is to check. */
    if (vt < 0 && !schema && !f->nrules && !strcmp(f->from, f->name)) {
      vt = 0;
      s = (sl_str){"", 0};
    }
    if (schema) {
      outcome = SL_OUTCOME_INVALID;
      reason = schema;
      o->rule = "type";
    } else if (vt == 1) {
      outcome = SL_OUTCOME_MISSING;
      reason = f->from_len == f->name_len && !memcmp(f->from, f->name, f->name_len) ? "missing" : "source field missing";
      o->rule = NULL;
    } else if (vt < 0) {
      outcome = SL_OUTCOME_INVALID;
      reason = why ? why : "unreadable value";
      o->rule = NULL;
    } else {
      cur = s;
      for (int ri = 0; ri < f->nrules; ri++) {
        const clean_rule *r = &f->rules[ri];
        if (r->kind == R_TEXT && !r->run_len) continue;   /* ran with the first of its run */
        sl_str next;
        unsigned tch = 0;
        int rc = clean_rule_apply(r, cx, cur, &next, &tch);
        if (rc < 0) {
          outcome = SL_OUTCOME_INVALID;
          reason = sl_arena_strndup(a, cx->why.msg, strlen(cx->why.msg));
          o->rule = r->name;
          count(counts, f->slot + 1 + ri, SL_OUTCOME_INVALID);
          break;
        }
        if (r->kind == R_TEXT) {
          for (int k = ri; k < ri + r->run_len; k++) {
            int fixed = rc == 1 && (f->rules[k].text & tch);
            count(counts, f->slot + 1 + k, fixed ? SL_OUTCOME_FIXED : SL_OUTCOME_VALID);
            if (fixed) o->rule = f->rules[k].name;
          }
        } else {
          count(counts, f->slot + 1 + ri, rc == 1 ? SL_OUTCOME_FIXED : SL_OUTCOME_VALID);
          if (rc == 1) o->rule = r->name;
        }
        if (rc == 1) {
          cur = next;
          changed = 1;
        }
      }
      if (outcome == SL_OUTCOME_VALID && changed) {
        if (cur.len == 0) {
          outcome = SL_OUTCOME_MISSING;   /* nothing left once cleaned (only spaces) */
          reason = "empty once cleaned";
        } else {
          outcome = SL_OUTCOME_FIXED;
        }
      }
    }
    /* A field computed from another is valid when it already holds what
     * the rules give (so cleaning twice changes nothing), else fixed. */
    int derived = f->from_len != f->name_len || memcmp(f->from, f->name, f->name_len);
    int write = outcome == SL_OUTCOME_FIXED;
    if (derived && (outcome == SL_OUTCOME_FIXED || outcome == SL_OUTCOME_VALID)) {
      char tbuf[40];
      sl_str t = {NULL, 0};
      const char *twhy;
      sl_value *tv = sl_record_get(rec, f->name, f->name_len);
      int same = value_text(tv, a, tbuf, sizeof tbuf, &t, &twhy) == 0 && t.len == cur.len &&
                 !memcmp(t.ptr, cur.ptr, cur.len);
      outcome = same ? SL_OUTCOME_VALID : SL_OUTCOME_FIXED;
      write = !same;
    }
    o->outcome = (uint8_t)outcome;
    o->reason = reason;
    count(counts, f->slot, outcome);

    if (write) {
      sl_value nv;
      if (changed || s.ptr == numbuf) {
        char *copy = sl_arena_strndup(a, cur.ptr, cur.len);
        if (!copy) {
          return SL_ENOMEM;
        }
        nv.type = SL_T_STRING;
        nv.flags = 0;
        nv.n = 0;
        nv.u.s = (sl_str){copy, cur.len};
      } else {
        nv = *v;
      }
      if (sl_record_set(rec, a, (sl_str){f->name, f->name_len}, &nv)) {
        return SL_ENOMEM;
      }
    } else if (outcome == SL_OUTCOME_MISSING || outcome == SL_OUTCOME_INVALID) {
      failed |= f->required || schema || (outcome == SL_OUTCOME_INVALID && f->on_invalid == CLEAN_ON_DLQ);
      /* Every invalid field is listed, so a dead letter says all that is
       * wrong with the record, not only what sent it there. */
      if (outcome == SL_OUTCOME_INVALID || f->required) {
        if (msg->len) sl_buf_puts(msg, "; ");
        sl_buf_printf(msg, "%s", f->name);
        if (o->rule) sl_buf_printf(msg, " (%s)", o->rule);
        sl_buf_printf(msg, ": %s%s", reason, f->required ? " (required)" : "");
      }
      if (outcome == SL_OUTCOME_INVALID && f->on_invalid == CLEAN_ON_NULL && !f->required) {
        sl_value nv = {.type = SL_T_NULL};
        if (sl_record_set(rec, a, (sl_str){f->name, f->name_len}, &nv)) {
          return SL_ENOMEM;
        }
      }
    }
  }
  return failed ? 1 : 0;
}
