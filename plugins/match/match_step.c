/* match: the sl.match step, record linkage as a stateful step
 * (sluice/stateful.h) on the matcher library (lib/matcher.h).
 *
 *   sl.match {
 *     domain = "person",
 *     identity = { dept = "dept", feed = "feed", id = "src_id" },
 *     preset = "person",
 *     model = "models/person.json",      -- `sluice train`'s; required unless final = true
 *     link = 0.99, review = 0.80,
 *     golden = { name = { "priority", "frequent" }, phone = { "recent" } },
 *     priority = { "公安", "民政", "卫健" },
 *   }
 *
 * Each record comes out with entity_id and match = {decision, probability,
 * with}; the step also emits the platform rows (a field _platform names
 * the table: member, entity, event, review) that sinks route with where.
 * docs/matching.md is the user's page, docs/internals/match-core.md the
 * maintainer's.
 *
 * Rows other than the record itself go through a queue of JSON texts,
 * drained a bounded number at a time (an apply may emit at most
 * max_inflight_records): the records held while training come out the
 * same way once the model is trained. */
#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match_step.h"
#include "platform_pg.h"
#include "sluice/clock.h"
#include "sluice/log.h"
#include "sluice/lua.h"
#include "sluice/plugin.h"

/* Rows emitted per apply or batch_end call at most (the rest wait): half
 * of what one call may emit (max_inflight_records), at least this. */
#define DRAIN_MIN 1024

typedef struct match_cfg {
  char *domain;
  int identity;
  char *preset;
  int fields;
  int compare;
  char **block;
  char **deps;
  char *id_rule;
  char *model;
  char *model_out;
  int64_t train_on;
  int64_t random_pairs;
  double link;
  double review;
  int64_t block_cap;
  int golden;
  char **priority;
  char *platform;
  int final;
  char *decisions;
  char *time;
} match_cfg;

/* Where an identity part comes from: a field, or a constant. */
typedef struct ident_part {
  char *field;            /* NULL: the constant */
  char *constant;
} ident_part;

/* A FIFO of JSON texts (length-prefixed) waiting to be emitted. */
typedef struct queue {
  sl_buf b;
  size_t head;            /* bytes already emitted */
  size_t n;               /* entries waiting */
} queue;

typedef struct match_priv {
  sl_match_config cfg;
  sl_match_golden_spec golden;
  ident_part dept, feed, id;
  char prefix;
  sl_match *m;            /* NULL while training */
  sl_match_sample sample; /* the training window's prepared values */
  sl_buf held;            /* and its records: [u32 len][i64 time][JSON] ... */
  size_t nheld;
  sl_buf held_decisions;  /* decisions that came while training: [u32 len][JSON] ... */
  sl_match_prepared prep;
  queue q;
  size_t drain;           /* rows a call emits at most */
  sl_buf tmp, row;
  sl_buf eid, mt;         /* a record's annotation, reused from record to record */
  int input_col[SL_MATCH_MAX_INPUTS];   /* each input's value column */
  int golden_col[SL_MATCH_MAX_INPUTS];  /* and the column its golden value is read from */
  /* The golden record entity_row computed last, for the annotation of the
   * record that made it (golden_slot: the record's slot, UINT32_MAX none). */
  uint32_t golden_from[SL_MATCH_MAX_INPUTS];
  uint32_t golden_slot;
  /* metrics, added per batch */
  sl_metric *m_records, *m_links, *m_reviews, *m_new, *m_capped, *m_bytes, *m_replays, *m_decisions, *m_splits;
  sl_match_stats last;
  int cap_logged;
  int64_t seq;            /* the last member or decision row's seq (restored as the tables' greatest) */
} match_priv;

/* ---- small JSON writers ---- */

static void jstr(sl_buf *b, sl_match_str s) {
  sl_buf_json_string(b, s.p ? s.p : "", s.n);
}

static void jkey(sl_buf *b, const char *k, int first) {
  if (!first) sl_buf_putc(b, ',');
  sl_buf_json_string(b, k, strlen(k));
  sl_buf_putc(b, ':');
}

static void entity_id(const match_priv *pv, uint64_t e, char out[18]) {
  snprintf(out, 18, "%c%016llx", pv->prefix, (unsigned long long)e);
}

static void identity_text(sl_buf *b, sl_match_str d, sl_match_str f, sl_match_str s) {
  sl_buf_printf(b, "%.*s/%.*s/%.*s", (int)d.n, d.p, (int)f.n, f.p, (int)s.n, s.p);
}

static void time_text(int64_t ms, char out[SL_TIME_MS_LEN]) {
  sl_format_time_ms(out, SL_TIME_MS_LEN, ms);
}

/* ---- the queue ---- */

static void q_push(queue *q, const sl_buf *j) {
  uint32_t n = (uint32_t)j->len;
  sl_buf_append(&q->b, &n, sizeof n);
  sl_buf_append(&q->b, j->ptr, j->len);
  q->n++;
}

/* Emits up to max queued rows; stops early when the engine refuses more. */
static void q_drain(sl_stage *st, match_priv *pv, sl_step_out *out, size_t max) {
  queue *q = &pv->q;
  sl_arena *a = sl_step_arena(out);
  size_t k = 0;
  while (q->n && k < max) {
    uint32_t n;
    memcpy(&n, q->b.ptr + q->head, sizeof n);
    sl_record *r = sl_record_from_json(a, q->b.ptr + q->head + sizeof n, n);
    if (r) {
      int rc = sl_step_emit(out, r);
      if (rc == SL_ETOOBIG) break;
      if (rc) sl_log_error(sl_stage_name(st), "cannot emit a row: %s", sl_strerror(rc));
    }
    q->head += sizeof n + n;
    q->n--;
    k++;
  }
  if (!q->n) q->b.len = q->head = 0;
  else if (q->head > (1u << 20) && q->head * 2 > q->b.len) {
    memmove(q->b.ptr, q->b.ptr + q->head, q->b.len - q->head);
    q->b.len -= q->head;
    q->head = 0;
  }
}

static const sl_value *get(const sl_value *o, const char *name);

/* ---- reading a record ---- */

/* The text of a field: a string as it is, a number as written; NULL/absent
 * is missing (*out empty, 0); anything else is the wrong type (-1). */
int match_field_text(sl_record *rec, sl_arena *a, const char *name, sl_buf *tmp, sl_match_str *out) {
  *out = (sl_match_str){"", 0};
  sl_value *pv = sl_record_get(rec, name, strlen(name));
  if (!pv) return 0;
  sl_value v = *pv;
  const char *why = NULL;
  if (v.type == SL_T_JSON && sl_json_materialize(&v, a, &why)) return -1;
  switch (v.type) {
  case SL_T_NULL: return 0;
  case SL_T_STRING: *out = (sl_match_str){v.u.s.ptr, (uint32_t)v.u.s.len}; return 0;
  case SL_T_INT:
  case SL_T_DOUBLE: {
    tmp->len = 0;
    sl_json_encode_value(tmp, &v);
    char *c = sl_arena_strndup(a, tmp->ptr ? tmp->ptr : "", tmp->len);
    if (!c) return -1;
    *out = (sl_match_str){c, (uint32_t)tmp->len};
    return 0;
  }
  default: return -1;
  }
}

static const char *type_of(sl_record *rec, sl_arena *a, const char *name) {
  sl_value *p = sl_record_get(rec, name, strlen(name));
  if (!p) return "absent";
  sl_value v = *p;
  const char *why = NULL;
  if (v.type == SL_T_JSON && sl_json_materialize(&v, a, &why)) return "malformed JSON";
  return sl_type_name((sl_type)v.type);
}

static int ident_value(sl_record *rec, sl_arena *a, const ident_part *ip, sl_str fallback, sl_buf *tmp,
                       sl_match_str *out) {
  if (!ip->field) {
    *out = (sl_match_str){ip->constant, (uint32_t)strlen(ip->constant)};
    return 0;
  }
  if (match_field_text(rec, a, ip->field, tmp, out)) return -1;
  if (!out->n && fallback.ptr) *out = (sl_match_str){fallback.ptr, (uint32_t)fallback.len};
  return 0;
}

/* A record's identity and inputs; on bad input, fails it with the reason. */
static int read_record(sl_stage *st, match_priv *pv, sl_step_out *out, sl_record *rec, sl_match_in *in,
                       sl_match_str *vals) {
  sl_arena *a = sl_step_arena(out);
  char why[512];
  memset(in, 0, sizeof *in);
  const ident_part *parts[3] = {&pv->dept, &pv->feed, &pv->id};
  sl_str fallback[3] = {rec->meta.department, rec->meta.feed, {NULL, 0}};
  sl_match_str *dst[3] = {&in->dept, &in->feed, &in->src_id};
  for (int i = 0; i < 3; i++)
    if (ident_value(rec, a, parts[i], fallback[i], &pv->tmp, dst[i])) {
      snprintf(why, sizeof why, "match: identity field '%s' is %s, not a string or number", parts[i]->field,
               type_of(rec, a, parts[i]->field));
      sl_step_fail(out, rec, why);
      return SL_ETYPE;
    }
  if (!in->src_id.n) {
    snprintf(why, sizeof why, "match: no record id (the identity's id field '%s' is missing or empty)",
             pv->id.field ? pv->id.field : "");
    sl_step_fail(out, rec, why);
    return SL_EINVAL;
  }
  for (int i = 0; i < pv->cfg.ninputs; i++)
    if (match_field_text(rec, a, pv->cfg.input[i], &pv->tmp, &vals[i])) {
      snprintf(why, sizeof why, "match: field '%s' is %s, not a string or number", pv->cfg.input[i],
               type_of(rec, a, pv->cfg.input[i]));
      sl_step_fail(out, rec, why);
      return SL_ETYPE;
    }
  in->value = vals;
  in->time_ms = rec->meta.event_time_ms ? rec->meta.event_time_ms : rec->meta.arrival_ms;
  if (!in->time_ms) in->time_ms = sl_now_ms();
  const match_cfg *cfg = sl_stage_config(st);
  sl_match_str t = {"", 0};
  if (cfg->time) {
    int not_text = match_field_text(rec, a, cfg->time, &pv->tmp, &t);
    if (not_text || (t.n && sl_parse_time_ms(t.p, t.n, &in->time_ms))) {
      if (not_text)
        snprintf(why, sizeof why, "match: time field '%s' is %s, not an RFC 3339 time", cfg->time,
                 type_of(rec, a, cfg->time));
      else
        snprintf(why, sizeof why, "match: time field '%s' is '%.*s', not an RFC 3339 time (2026-12-01T10:00:00+08:00)",
                 cfg->time, t.n > 64 ? 64 : (int)t.n, t.p);
      sl_step_fail(out, rec, why);
      return SL_EINVAL;
    }
  }
  return 0;
}

/* ---- the rows ---- */

static void begin_row(sl_buf *b, const char *platform, const match_priv *pv, const match_cfg *cfg) {
  b->len = 0;
  sl_buf_puts(b, "{\"_platform\":");
  sl_buf_json_string(b, platform, strlen(platform));
  jkey(b, "domain", 0);
  sl_buf_json_string(b, cfg->domain, strlen(cfg->domain));
  (void)pv;
}

/* The stored values of a slot's inputs as a JSON object. */
static void values_json(match_priv *pv, uint32_t slot, sl_buf *b) {
  sl_match_view v;
  sl_match_get(pv->m, slot, &v);
  sl_buf_putc(b, '{');
  for (int i = 0, first = 1; i < pv->cfg.ninputs; i++) {
    sl_match_str s = v.col[pv->input_col[i]];
    if (!s.n) continue;
    jkey(b, pv->cfg.input[i], first);
    jstr(b, s);
    first = 0;
  }
  sl_buf_putc(b, '}');
}

/* A member row: the record's identity, entity, decision and match values. */
static void member_row(match_priv *pv, const match_cfg *cfg, const sl_match_in *in, uint64_t entity, int decision,
                       double probability) {
  sl_buf *b = &pv->row;
  char eid[18], at[SL_TIME_MS_LEN];
  begin_row(b, "member", pv, cfg);
  jkey(b, "dept", 0);
  jstr(b, in->dept);
  jkey(b, "feed", 0);
  jstr(b, in->feed);
  jkey(b, "src_id", 0);
  jstr(b, in->src_id);
  entity_id(pv, entity, eid);
  jkey(b, "entity_id", 0);
  sl_buf_json_string(b, eid, strlen(eid));
  jkey(b, "decision", 0);
  sl_buf_puts(b, "\"");
  sl_buf_puts(b, sl_match_decision_name(decision));
  sl_buf_puts(b, "\"");
  jkey(b, "probability", 0);
  sl_buf_json_double(b, probability);
  jkey(b, "vals", 0);
  sl_buf_putc(b, '{');
  for (int i = 0, first = 1; i < pv->cfg.ninputs; i++) {
    if (!in->value[i].n) continue;
    jkey(b, pv->cfg.input[i], first);
    jstr(b, in->value[i]);
    first = 0;
  }
  sl_buf_putc(b, '}');
  time_text(in->time_ms, at);
  jkey(b, "updated_at", 0);
  sl_buf_json_string(b, at, strlen(at));
  sl_buf_printf(b, ",\"seq\":%lld}", (long long)++pv->seq);
  q_push(&pv->q, b);
}

/* After a merge or a split, the member rows of the live members of
 * slot's entity but skip (UINT32_MAX: none), so that the members table names each record's
 * entity as it is now (what a restore rebuilds the clusters from).  Their
 * vals are the stored, prepared values (validated IDs in full): preparing
 * them again gives the same. */
static void member_rows_of(match_priv *pv, const match_cfg *cfg, uint32_t slot, uint32_t skip) {
  uint64_t entity = sl_match_entity(pv->m, slot);
  uint32_t s = slot;
  size_t k = 0;
  do {
    if (sl_match_live(pv->m, s) && s != skip) {
      sl_match_view v;
      sl_match_get(pv->m, s, &v);
      sl_match_str vals[SL_MATCH_MAX_INPUTS];
      sl_match_inputs(pv->m, s, vals);
      sl_match_in in = {.dept = v.dept, .feed = v.feed, .src_id = v.src_id, .time_ms = v.time_ms, .value = vals};
      member_row(pv, cfg, &in, entity, v.decision, v.probability);
    }
    s = sl_match_next(pv->m, s);
  } while (s != slot && ++k < 4096);
}

/* The entity row of slot's entity: golden values with their provenance. */
static void entity_row(match_priv *pv, const match_cfg *cfg, uint32_t slot, int64_t now) {
  sl_buf *b = &pv->row;
  char eid[18], at[SL_TIME_MS_LEN];
  uint32_t *from = pv->golden_from;
  sl_match_golden(pv->m, slot, &pv->golden, from);
  pv->golden_slot = slot;
  begin_row(b, "entity", pv, cfg);
  entity_id(pv, sl_match_entity(pv->m, slot), eid);
  jkey(b, "entity_id", 0);
  sl_buf_json_string(b, eid, strlen(eid));
  sl_buf_puts(b, ",\"status\":\"active\",\"merged_into\":null");
  sl_buf golden = SL_BUF_INIT, prov = SL_BUF_INIT;
  sl_buf_putc(&golden, '{');
  sl_buf_putc(&prov, '{');
  for (int i = 0, first = 1; i < pv->cfg.ninputs; i++) {
    if (from[i] == UINT32_MAX) continue;
    sl_match_view v;
    sl_match_get(pv->m, from[i], &v);
    jkey(&golden, pv->cfg.input[i], first);
    jstr(&golden, v.col[pv->golden_col[i]]);
    jkey(&prov, pv->cfg.input[i], first);
    sl_buf_puts(&prov, "{\"dept\":");
    jstr(&prov, v.dept);
    sl_buf_puts(&prov, ",\"feed\":");
    jstr(&prov, v.feed);
    sl_buf_puts(&prov, ",\"src_id\":");
    jstr(&prov, v.src_id);
    time_text(v.time_ms, at);
    sl_buf_puts(&prov, ",\"at\":");
    sl_buf_json_string(&prov, at, strlen(at));
    sl_buf_putc(&prov, '}');
    first = 0;
  }
  sl_buf_putc(&golden, '}');
  sl_buf_putc(&prov, '}');
  jkey(b, "golden", 0);
  sl_buf_append(b, golden.ptr, golden.len);
  jkey(b, "provenance", 0);
  sl_buf_append(b, prov.ptr, prov.len);
  sl_buf_free(&golden);
  sl_buf_free(&prov);
  jkey(b, "members", 0);
  sl_buf_int64(b, sl_match_entity_members(pv->m, slot));
  jkey(b, "version", 0);
  sl_buf_int64(b, sl_match_entity_version(pv->m, slot));
  time_text(now, at);
  jkey(b, "updated_at", 0);
  sl_buf_json_string(b, at, strlen(at));
  sl_buf_putc(b, '}');
  q_push(&pv->q, b);
}

static void merged_row(match_priv *pv, const match_cfg *cfg, const sl_match_merge *mg, int64_t now) {
  sl_buf *b = &pv->row;
  char eid[18], sid[18], at[SL_TIME_MS_LEN];
  entity_id(pv, mg->absorbed, eid);
  entity_id(pv, mg->survivor, sid);
  time_text(now, at);
  begin_row(b, "entity", pv, cfg);
  sl_buf_printf(b, ",\"entity_id\":\"%s\",\"status\":\"merged\",\"merged_into\":\"%s\",\"golden\":{},"
                   "\"provenance\":{},\"members\":0,\"version\":%u,\"updated_at\":\"%s\"}",
                eid, sid, mg->absorbed_version, at);
  q_push(&pv->q, b);
}

/* A changelog event; its id is stable: XXH3 of domain, entity, version, kind. */
static void event_row(match_priv *pv, const match_cfg *cfg, const char *kind, uint64_t entity, uint64_t other,
                      const sl_match_in *in, uint32_t version, int64_t now) {
  sl_buf *b = &pv->row;
  char eid[18], oid[18], at[SL_TIME_MS_LEN];
  entity_id(pv, entity, eid);
  pv->tmp.len = 0;
  sl_buf_printf(&pv->tmp, "%s%c%s%c%u%c%s", cfg->domain, 0x1F, eid, 0x1F, version, 0x1F, kind);
  uint64_t h = sl_match_hash(pv->tmp.ptr, pv->tmp.len);
  begin_row(b, "event", pv, cfg);
  sl_buf_printf(b, ",\"event_id\":\"%016llx\",\"kind\":\"%s\",\"entity_id\":\"%s\",\"other_entity\":",
                (unsigned long long)h, kind, eid);
  if (other) {
    entity_id(pv, other, oid);
    sl_buf_printf(b, "\"%s\"", oid);
  } else sl_buf_puts(b, "null");
  sl_buf_puts(b, ",\"member\":");
  if (in) {
    pv->tmp.len = 0;
    identity_text(&pv->tmp, in->dept, in->feed, in->src_id);
    sl_buf_json_string(b, pv->tmp.ptr, pv->tmp.len);
  } else sl_buf_puts(b, "null");
  time_text(now, at);
  sl_buf_printf(b, ",\"version\":%u,\"at\":\"%s\"}", version, at);
  q_push(&pv->q, b);
}

/* The id of a pair of identities (texts "dept/feed/src_id"): XXH3 of the
 * two in byte order, so that the pair has one id whichever came first;
 * *swap says whether b is the first.  A review and the decision taken on
 * it share it. */
static uint64_t pair_id(match_priv *pv, const char *a, size_t na, const char *b, size_t nb, int *swap) {
  int c = memcmp(a, b, na < nb ? na : nb);
  *swap = c > 0 || (!c && na > nb);
  pv->tmp.len = 0;
  sl_buf_append(&pv->tmp, *swap ? b : a, *swap ? nb : na);
  sl_buf_putc(&pv->tmp, 0x1F);
  sl_buf_append(&pv->tmp, *swap ? a : b, *swap ? na : nb);
  return sl_match_hash(pv->tmp.ptr, pv->tmp.len);
}

static void review_row(match_priv *pv, const match_cfg *cfg, uint32_t a, uint32_t bslot, double p) {
  sl_buf *b = &pv->row;
  sl_match_view va, vb;
  sl_match_get(pv->m, a, &va);
  sl_match_get(pv->m, bslot, &vb);
  sl_buf ia = SL_BUF_INIT, ib = SL_BUF_INIT;
  identity_text(&ia, va.dept, va.feed, va.src_id);
  identity_text(&ib, vb.dept, vb.feed, vb.src_id);
  int swap;
  uint64_t h = pair_id(pv, ia.ptr ? ia.ptr : "", ia.len, ib.ptr ? ib.ptr : "", ib.len, &swap);
  sl_buf *first = swap ? &ib : &ia, *second = swap ? &ia : &ib;
  uint32_t sa = swap ? bslot : a, sb = swap ? a : bslot;
  begin_row(b, "review", pv, cfg);
  sl_buf_printf(b, ",\"review_id\":\"%016llx\",\"a\":", (unsigned long long)h);
  sl_buf_json_string(b, first->ptr, first->len);
  sl_buf_puts(b, ",\"b\":");
  sl_buf_json_string(b, second->ptr, second->len);
  sl_buf_puts(b, ",\"probability\":");
  sl_buf_json_double(b, p);
  sl_match_explanation e;
  sl_match_explain(pv->m, sa, sb, &e);
  sl_buf_puts(b, ",\"explanation\":");
  sl_match_explanation_json(&pv->cfg, &e, b);
  sl_buf_puts(b, ",\"record_a\":");
  values_json(pv, sa, b);
  sl_buf_puts(b, ",\"record_b\":");
  values_json(pv, sb, b);
  sl_buf_putc(b, '}');
  q_push(&pv->q, b);
  sl_buf_free(&ia);
  sl_buf_free(&ib);
}

/* The annotation every record gets: entity_id and match. */
static int same_str(sl_match_str a, sl_match_str b) {
  return a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

/* The record against its entity's golden record, for the measures of a
 * feed's consistency and contribution (sl.quality): "compared", the
 * inputs it has a value of that the golden record has too; "disagreed",
 * those where the two differ; "supplied", the inputs it has a value of;
 * "survived", the golden values that are its own. */
static void golden_annotation(match_priv *pv, uint32_t slot, sl_buf *out) {
  if (pv->golden_slot != slot) {
    sl_match_golden(pv->m, slot, &pv->golden, pv->golden_from);
    pv->golden_slot = slot;
  }
  sl_match_view own, g;
  sl_match_get(pv->m, slot, &own);
  int supplied = 0, survived = 0, nc = 0, nd = 0;
  sl_buf_puts(out, ",\"compared\":[");
  pv->tmp.len = 0;
  for (int i = 0; i < pv->cfg.ninputs; i++) {
    sl_match_str mine = own.col[pv->golden_col[i]];
    uint32_t from = pv->golden_from[i];
    if (!mine.n) continue;
    supplied++;
    if (from == UINT32_MAX) continue;
    if (from == slot) survived++;
    sl_buf *list[2] = {out, &pv->tmp};
    int differs = 0;
    if (from != slot) {
      sl_match_get(pv->m, from, &g);
      differs = !same_str(mine, g.col[pv->golden_col[i]]);
    }
    for (int k = 0; k < 1 + differs; k++) {
      if (k ? nd++ : nc++) sl_buf_putc(list[k], ',');
      sl_buf_json_string(list[k], pv->cfg.input[i], strlen(pv->cfg.input[i]));
    }
  }
  sl_buf_puts(out, "],\"disagreed\":[");
  sl_buf_append(out, pv->tmp.ptr, pv->tmp.len);
  sl_buf_printf(out, "],\"supplied\":%d,\"survived\":%d", supplied, survived);
}

static void annotation(match_priv *pv, const sl_match_result *r, sl_buf *eid_out, sl_buf *match_out) {
  char eid[18];
  entity_id(pv, r->entity, eid);
  eid_out->len = 0;
  sl_buf_json_string(eid_out, eid, strlen(eid));
  match_out->len = 0;
  sl_buf_printf(match_out, "{\"decision\":\"%s\",\"probability\":", sl_match_decision_name(r->decision));
  sl_buf_json_double(match_out, r->probability);
  sl_buf_puts(match_out, ",\"with\":");
  if (r->with == UINT32_MAX) sl_buf_puts(match_out, "null");
  else {
    sl_match_view v;
    sl_match_get(pv->m, r->with, &v);
    pv->tmp.len = 0;
    identity_text(&pv->tmp, v.dept, v.feed, v.src_id);
    sl_buf_json_string(match_out, pv->tmp.ptr, pv->tmp.len);
  }
  golden_annotation(pv, r->slot, match_out);
  sl_buf_putc(match_out, '}');
}

/* The rows of the entities an update or an operator's decision split: per
 * new entity a split event on the entity it came from and its created
 * event, its members' rows (but the record being added: its own row names
 * its entity) and its entity row; then the row of each entity split. */
static void split_rows(match_priv *pv, const match_cfg *cfg, const sl_match_result *r, uint32_t skip, int64_t now) {
  for (size_t i = 0; i < r->nsplits; i++) {
    const sl_match_split *sp = &r->splits[i];
    event_row(pv, cfg, "split", sp->from, sp->entity, NULL, sp->from_version, now);
    event_row(pv, cfg, "created", sp->entity, 0, NULL, 1, now);
    member_rows_of(pv, cfg, sp->slot, skip);
    entity_row(pv, cfg, sp->slot, now);
    if (sp->from_slot != UINT32_MAX && (i + 1 == r->nsplits || r->splits[i + 1].from != sp->from))
      entity_row(pv, cfg, sp->from_slot, now);
  }
}

/* Queues the platform rows of a decision: the member, merged entities,
 * the changelog events, the entity with its golden record, the reviews. */
static void queue_rows(match_priv *pv, const match_cfg *cfg, const sl_match_in *in, const sl_match_result *r) {
  if (r->replay) return;
  int64_t now = in->time_ms;
  member_row(pv, cfg, in, r->entity, r->decision, r->probability);
  split_rows(pv, cfg, r, r->slot, now);
  uint32_t ver = sl_match_entity_version(pv->m, r->slot);
  for (size_t i = 0; i < r->nmerges; i++) {
    merged_row(pv, cfg, &r->merges[i], now);
    event_row(pv, cfg, "merged", r->merges[i].absorbed, r->merges[i].survivor, NULL,
              r->merges[i].absorbed_version, now);
  }
  if (r->nmerges) member_rows_of(pv, cfg, r->slot, r->slot);
  if (r->left) {
    event_row(pv, cfg, "member_removed", r->left, 0, in, r->left_version, now);
    entity_row(pv, cfg, r->left_slot, now);
  }
  if (r->created) event_row(pv, cfg, "created", r->entity, 0, in, ver, now);
  else if (r->updated && !r->left) event_row(pv, cfg, "updated", r->entity, 0, in, ver, now);
  else event_row(pv, cfg, "member_added", r->entity, 0, in, ver, now);
  entity_row(pv, cfg, r->slot, now);
  for (size_t i = 0; i < r->nreviews; i++) review_row(pv, cfg, r->slot, r->reviews[i].other, r->reviews[i].probability);
}

/* Sets the record's entity_id and match (JSON texts) from the arena. */
static int annotate(sl_record *rec, sl_arena *a, const sl_buf *eid, const sl_buf *mt) {
  sl_value ve = {.type = SL_T_JSON, .flags = SL_VF_PLAIN_STRING}, vm = {.type = SL_T_JSON};
  char *pe = sl_arena_memdup(a, eid->ptr, eid->len), *pm = sl_arena_memdup(a, mt->ptr, mt->len);
  if (!pe || !pm) return SL_ENOMEM;
  ve.u.s = (sl_str){pe, eid->len};
  vm.u.s = (sl_str){pm, mt->len};
  if (sl_record_set(rec, a, SL_STR_LIT("entity_id"), &ve) || sl_record_set(rec, a, SL_STR_LIT("match"), &vm))
    return SL_ENOMEM;
  return 0;
}

/* ---- operators' decisions ---- */

/* A decision record: {review_id?, a, b, decision, by?, at?}. */
typedef struct decision {
  int op;                 /* sl_match_op */
  sl_match_str a, b, review_id, by, at;
  sl_match_ident ia, ib;
  int64_t time_ms;
} decision;

/* "dept/feed/src_id": the department up to the first '/', the feed up to
 * the second, the source id the rest (it may hold '/'). */
static int parse_identity(sl_match_str t, sl_match_ident *id) {
  const char *s1 = t.n ? memchr(t.p, '/', t.n) : NULL;
  if (!s1) return -1;
  const char *end = t.p + t.n, *s2 = memchr(s1 + 1, '/', (size_t)(end - s1 - 1));
  if (!s2 || s2 + 1 == end) return -1;
  id->dept = (sl_match_str){t.p, (uint32_t)(s1 - t.p)};
  id->feed = (sl_match_str){s1 + 1, (uint32_t)(s2 - s1 - 1)};
  id->src_id = (sl_match_str){s2 + 1, (uint32_t)(end - s2 - 1)};
  return 0;
}

/* Reads a decision record; on bad input, why says what is wrong. */
static int read_decision(sl_record *rec, sl_arena *a, match_priv *pv, decision *d, char *why, size_t n) {
  static const char *const names[] = {"decision", "a", "b", "review_id", "by", "at"};
  sl_match_str v[6];
  memset(d, 0, sizeof *d);
  for (int i = 0; i < 6; i++)
    if (match_field_text(rec, a, names[i], &pv->tmp, &v[i])) {
      snprintf(why, n, "match: decision field '%s' is %s, not a string", names[i], type_of(rec, a, names[i]));
      return SL_ETYPE;
    }
  d->a = v[1];
  d->b = v[2];
  d->review_id = v[3];
  d->by = v[4];
  d->at = v[5];
  if (!(d->op = sl_match_op_parse(v[0].p, v[0].n))) {
    snprintf(why, n, "match: decision '%.*s' is not link, no_link or split", (int)(v[0].n > 64 ? 64 : v[0].n), v[0].p);
    return SL_EINVAL;
  }
  if (parse_identity(d->a, &d->ia) || (d->op != SL_MATCH_OP_SPLIT && parse_identity(d->b, &d->ib))) {
    snprintf(why, n, "match: decision %s: %s must name a record as \"dept/feed/src_id\"", sl_match_op_name(d->op),
             parse_identity(d->a, &d->ia) ? "a" : "b");
    return SL_EINVAL;
  }
  d->time_ms = rec->meta.event_time_ms ? rec->meta.event_time_ms : rec->meta.arrival_ms;
  if (!d->time_ms) d->time_ms = sl_now_ms();
  return 0;
}

static void jstr_or_null(sl_buf *b, sl_match_str s) {
  if (s.n) jstr(b, s);
  else sl_buf_puts(b, "null");
}

/* The decision's row for the decisions table, which a restore reads back:
 * its id is the review id of the pair (a later decision on the pair
 * replaces it), or for a split the XXH3 of "split" and the record. */
static void decision_row(match_priv *pv, const match_cfg *cfg, const decision *d) {
  sl_buf *b = &pv->row;
  sl_match_str first = d->a, second = d->b;
  uint64_t h;
  if (d->op == SL_MATCH_OP_SPLIT) {
    pv->tmp.len = 0;
    sl_buf_printf(&pv->tmp, "split%c%.*s", 0x1F, (int)d->a.n, d->a.p);
    h = sl_match_hash(pv->tmp.ptr, pv->tmp.len);
    second = (sl_match_str){"", 0};
  } else {
    int swap;
    h = pair_id(pv, d->a.p, d->a.n, d->b.p, d->b.n, &swap);
    if (swap) first = d->b, second = d->a;
  }
  char at[SL_TIME_MS_LEN];
  begin_row(b, "decision", pv, cfg);
  sl_buf_printf(b, ",\"decision_id\":\"%016llx\",\"a\":", (unsigned long long)h);
  jstr(b, first);
  sl_buf_puts(b, ",\"b\":");
  jstr_or_null(b, second);
  sl_buf_printf(b, ",\"decision\":\"%s\",\"review_id\":", sl_match_op_name(d->op));
  jstr_or_null(b, d->review_id);
  sl_buf_puts(b, ",\"by\":");
  jstr_or_null(b, d->by);
  sl_buf_puts(b, ",\"at\":");
  if (d->at.n) jstr(b, d->at);
  else {
    time_text(d->time_ms, at);
    sl_buf_json_string(b, at, strlen(at));
  }
  sl_buf_printf(b, ",\"seq\":%lld}", (long long)++pv->seq);
  q_push(&pv->q, b);
}

/* Applies a decision and queues what it changed (splits, merges, the
 * entities' rows) and, if it holds, its row.  0, or a negative SL_E* with
 * why. */
static int apply_decision(match_priv *pv, const match_cfg *cfg, const decision *d, char *why, size_t n) {
  sl_match_result r;
  int rc = sl_match_decide(pv->m, (sl_match_op)d->op, &d->ia, d->op == SL_MATCH_OP_SPLIT ? NULL : &d->ib, &r);
  split_rows(pv, cfg, &r, UINT32_MAX, d->time_ms);
  for (size_t i = 0; i < r.nmerges; i++) {
    merged_row(pv, cfg, &r.merges[i], d->time_ms);
    event_row(pv, cfg, "merged", r.merges[i].absorbed, r.merges[i].survivor, NULL, r.merges[i].absorbed_version,
              d->time_ms);
  }
  if (r.nmerges) {
    member_rows_of(pv, cfg, r.slot, UINT32_MAX);
    entity_row(pv, cfg, r.slot, d->time_ms);
  }
  switch (rc) {
    case 0: decision_row(pv, cfg, d); return 0;
    case SL_EINVAL: snprintf(why, n, "match: decision %s: a and b are the same record", sl_match_op_name(d->op)); break;
    case SL_ESTATE:
      snprintf(why, n, "match: decision link refused: the two records' entities hold different valid IDs, or a "
                       "no_link keeps them apart");
      break;
    default: snprintf(why, n, "match: decision: %s", sl_strerror(rc)); break;
  }
  return rc;
}

/* A record of the decisions source: applied, or held while the model is
 * trained; it does not go on (its row does). */
static int decision_record(sl_stage *st, match_priv *pv, sl_step_out *out, sl_record *rec) {
  char why[512];
  decision d;
  int rc = read_decision(rec, sl_step_arena(out), pv, &d, why, sizeof why);
  if (!rc && !pv->m) {
    pv->tmp.len = 0;
    sl_json_encode_record(&pv->tmp, rec);
    uint32_t n = (uint32_t)pv->tmp.len;
    sl_buf_append(&pv->held_decisions, &n, sizeof n);
    sl_buf_append(&pv->held_decisions, pv->tmp.ptr, pv->tmp.len);
    return SL_STEP_DROP;
  }
  if (!rc) rc = apply_decision(pv, sl_stage_config(st), &d, why, sizeof why);
  q_drain(st, pv, out, pv->drain);
  if (!rc) return SL_STEP_DROP;
  sl_step_fail(out, rec, why);
  return rc;
}

/* The decisions that came while training, once the matcher is there. */
static void release_decisions(sl_stage *st, match_priv *pv) {
  sl_arena a;
  sl_arena_init(&a);
  char why[512];
  for (size_t at = 0; at + sizeof(uint32_t) <= pv->held_decisions.len;) {
    uint32_t n;
    memcpy(&n, pv->held_decisions.ptr + at, sizeof n);
    sl_arena_reset(&a);
    sl_record *rec = sl_record_from_json(&a, pv->held_decisions.ptr + at + sizeof n, n);
    at += sizeof n + n;
    decision d;
    if (rec && !read_decision(rec, &a, pv, &d, why, sizeof why) &&
        apply_decision(pv, sl_stage_config(st), &d, why, sizeof why))
      sl_log_warn(sl_stage_name(st), "%s", why);
  }
  sl_arena_free(&a);
  sl_buf_free(&pv->held_decisions);
}

/* ---- training on the first records ---- */

/* Holds a record of the training window: [u32 JSON length][i64 time]
 * [u16 x3 identity lengths] the identity's three parts, the JSON. */
static int hold(match_priv *pv, sl_record *rec, const sl_match_in *in) {
  sl_match_prepare(&pv->cfg, in->value, &pv->prep);
  if (sl_match_sample_add(&pv->sample, &pv->prep, 0)) return SL_ENOMEM;
  pv->tmp.len = 0;
  sl_json_encode_record(&pv->tmp, rec);
  uint32_t n = (uint32_t)pv->tmp.len;
  sl_match_str id[3] = {in->dept, in->feed, in->src_id};
  sl_buf_append(&pv->held, &n, sizeof n);
  sl_buf_append(&pv->held, &in->time_ms, sizeof in->time_ms);
  for (int i = 0; i < 3; i++) {
    uint16_t k = (uint16_t)(id[i].n > 65535 ? 65535 : id[i].n);
    sl_buf_append(&pv->held, &k, sizeof k);
  }
  for (int i = 0; i < 3; i++) sl_buf_append(&pv->held, id[i].p, id[i].n > 65535 ? 65535 : id[i].n);
  sl_buf_append(&pv->held, pv->tmp.ptr, pv->tmp.len);
  pv->nheld++;
  return pv->held.oom || pv->tmp.oom ? SL_ENOMEM : 0;
}

static int start_matching(sl_stage *st, match_priv *pv, sl_match_model *mo) {
  pv->m = sl_match_new(&pv->cfg, mo);
  if (!pv->m) {
    sl_log_error(sl_stage_name(st), "out of memory");
    return SL_ENOMEM;
  }
  return 0;
}

/* Trains on the window, then decides its records in order and queues them
 * annotated, each before its rows. */
static int train_and_release(sl_stage *st, match_priv *pv) {
  match_cfg *cfg = sl_stage_config(st);
  sl_match_model mo;
  sl_match_config_model(&pv->cfg, &mo);
  sl_match_train_opts o = {.random_pairs = cfg->random_pairs, .seed = 1};
  sl_match_train_report rep;
  int64_t t0 = sl_mono_ms();
  if (sl_match_train(&mo, &pv->cfg, &pv->sample, &o, &rep)) {
    sl_match_model_free(&mo);
    return SL_ENOMEM;
  }
  sl_log_info(sl_stage_name(st),
              "trained on %zu records in %lld ms: EM %s after %d iterations (lambda %.3g among %llu candidate pairs)",
              pv->nheld, (long long)(sl_mono_ms() - t0), rep.em.converged ? "converged" : "did not converge",
              rep.em.iterations, rep.em.lambda, (unsigned long long)rep.candidate_pairs);
  if (cfg->model_out) {
    sl_buf err = SL_BUF_INIT;
    if (sl_match_model_write(&mo, cfg->model_out, &err)) {
      sl_buf_putc(&err, 0);
      sl_log_error(sl_stage_name(st), "%s", err.ptr ? err.ptr : "cannot write the model");
    }
    sl_buf_free(&err);
  }
  sl_match_sample_free(&pv->sample);
  if (start_matching(st, pv, &mo)) return SL_ENOMEM;
  sl_buf row = SL_BUF_INIT;
  sl_match_str vals[SL_MATCH_MAX_INPUTS];
  size_t at = 0;
  int rc = 0;
  sl_arena local;         /* one held record at a time */
  sl_arena_init(&local);
  sl_arena *a = &local;
  for (size_t h = 0; h < pv->nheld && !rc; h++) {
    sl_arena_reset(&local);
    uint32_t n;
    int64_t t;
    uint16_t k[3];
    const char *p = pv->held.ptr + at;
    memcpy(&n, p, sizeof n);
    memcpy(&t, p + sizeof n, sizeof t);
    memcpy(k, p + sizeof n + sizeof t, sizeof k);
    p += sizeof n + sizeof t + sizeof k;
    sl_match_in in = {.dept = {p, k[0]}, .feed = {p + k[0], k[1]}, .src_id = {p + k[0] + k[1], k[2]}};
    const char *js = p + k[0] + k[1] + k[2];
    at = (size_t)(js - pv->held.ptr) + n;
    sl_record *rec = sl_record_from_json(a, js, n);
    if (!rec) continue;
    /* Read as on arrival, when they passed read_record. */
    for (int i = 0; i < pv->cfg.ninputs; i++) match_field_text(rec, a, pv->cfg.input[i], &pv->tmp, &vals[i]);
    in.value = vals;
    in.time_ms = t;
    sl_match_result r;
    if ((rc = sl_match_add(pv->m, &in, &r))) break;
    /* The record first (annotated), then its rows. */
    annotation(pv, &r, &pv->eid, &pv->mt);
    if (annotate(rec, a, &pv->eid, &pv->mt)) {
      rc = SL_ENOMEM;
      break;
    }
    row.len = 0;
    sl_json_encode_record(&row, rec);
    q_push(&pv->q, &row);
    queue_rows(pv, cfg, &in, &r);
  }
  sl_arena_free(&local);
  sl_buf_free(&row);
  sl_buf_free(&pv->held);
  pv->nheld = 0;
  if (!rc) release_decisions(st, pv);
  return rc;
}

/* ---- the stateful callbacks ---- */

static void report_cap(sl_stage *st, match_priv *pv) {
  sl_match_stats s;
  sl_match_stats_get(pv->m, &s);
  if (s.index.capped_blocks && !pv->cap_logged) {
    match_cfg *cfg = sl_stage_config(st);
    sl_log_warn(sl_stage_name(st),
                "a blocking key reached the block cap of %lld records: it is no longer looked up (its records "
                "are found through their other keys); see the metric match_capped_blocks_total",
                (long long)cfg->block_cap);
    pv->cap_logged = 1;
  }
}

static int match_apply(sl_stage *st, sl_step_out *out, sl_record *rec) {
  match_cfg *cfg = sl_stage_config(st);
  match_priv *pv = sl_stage_priv(st);
  sl_arena *a = sl_step_arena(out);
  sl_stage *src = cfg->decisions ? sl_step_source(out) : NULL;
  if (src && !strcmp(sl_stage_name(src), cfg->decisions))
    return decision_record(st, pv, out, rec);
  sl_match_in in;
  sl_match_str vals[SL_MATCH_MAX_INPUTS];
  int rc = read_record(st, pv, out, rec, &in, vals);
  if (rc) return rc;
  if (!pv->m) {
    if (hold(pv, rec, &in)) {
      sl_step_fail(out, rec, "match: out of memory holding the training window");
      return SL_ENOMEM;
    }
    if (pv->nheld < (size_t)cfg->train_on) return SL_STEP_DROP;
    if (train_and_release(st, pv)) {
      sl_stage_fatal(st, "out of memory training the model");
      return SL_STEP_DROP;
    }
    q_drain(st, pv, out, pv->drain);
    return SL_STEP_DROP;   /* it comes out of the queue, annotated */
  }
  sl_match_result r;
  if (sl_match_add(pv->m, &in, &r)) {
    sl_step_fail(out, rec, "match: out of memory");
    return SL_ENOMEM;
  }
  queue_rows(pv, cfg, &in, &r);
  annotation(pv, &r, &pv->eid, &pv->mt);
  rc = annotate(rec, a, &pv->eid, &pv->mt);
  if (rc) {
    sl_step_fail(out, rec, "match: out of memory");
    return SL_ENOMEM;
  }
  q_drain(st, pv, out, pv->drain);
  return SL_STEP_KEEP;
}

static void match_batch_end(sl_stage *st, sl_step_out *out) {
  match_priv *pv = sl_stage_priv(st);
  q_drain(st, pv, out, pv->drain);
  if (!pv->m) return;
  report_cap(st, pv);
  sl_match_stats s;
  sl_match_stats_get(pv->m, &s);
  if (pv->m_records) {
    sl_metric_add(pv->m_records, NULL, (int64_t)(s.records + s.replays - pv->last.records - pv->last.replays));
    sl_metric_add(pv->m_replays, NULL, (int64_t)(s.replays - pv->last.replays));
    sl_metric_add(pv->m_links, NULL, (int64_t)(s.links - pv->last.links));
    sl_metric_add(pv->m_reviews, NULL, (int64_t)(s.reviews - pv->last.reviews));
    sl_metric_add(pv->m_new, NULL, (int64_t)(s.new_entities - pv->last.new_entities));
    sl_metric_add(pv->m_capped, NULL, (int64_t)(s.index.capped_hits - pv->last.index.capped_hits));
    sl_metric_add(pv->m_decisions, NULL, (int64_t)(s.decisions - pv->last.decisions));
    sl_metric_add(pv->m_splits, NULL, (int64_t)(s.splits - pv->last.splits));
    sl_metric_set(pv->m_bytes, NULL, (int64_t)s.bytes);
  }
  pv->last = s;
}

/* End of input: a window shorter than train_on is trained on now; with
 * final = true every record's entity goes out as {"id", "entity"}. */
static void match_finish(sl_stage *st, sl_step_out *out) {
  match_cfg *cfg = sl_stage_config(st);
  match_priv *pv = sl_stage_priv(st);
  if (!pv->m && pv->nheld && train_and_release(st, pv)) {
    sl_stage_fatal(st, "out of memory training the model");
    return;
  }
  if (pv->m && cfg->final) {
    size_t n = sl_match_slots(pv->m);
    for (uint32_t s = 0; s < n; s++) {
      if (!sl_match_live(pv->m, s)) continue;
      sl_match_view v;
      sl_match_get(pv->m, s, &v);
      char eid[18];
      entity_id(pv, sl_match_entity(pv->m, s), eid);
      pv->row.len = 0;
      sl_buf_puts(&pv->row, "{\"id\":");
      jstr(&pv->row, v.src_id);
      sl_buf_printf(&pv->row, ",\"entity\":\"%s\"}", eid);
      q_push(&pv->q, &pv->row);
    }
  }
  size_t before;
  do {
    before = pv->q.n;
    q_drain(st, pv, out, (size_t)-1);
  } while (pv->q.n && pv->q.n < before);
  if (pv->q.n)
    sl_log_error(sl_stage_name(st), "%zu rows could not be emitted at the end of input (max_inflight_records)",
                 pv->q.n);
  if (pv->m) {
    match_batch_end(st, out);
    sl_match_stats s;
    sl_match_stats_get(pv->m, &s);
    sl_log_info(sl_stage_name(st),
                "%llu records (%llu replays, %llu of them stale, %llu updates), %llu pairs scored, %llu links, %llu reviews, %llu "
                "entities created, %llu decisions, %llu splits, %llu capped blocks, %.0f bytes a record",
                (unsigned long long)s.records, (unsigned long long)s.replays, (unsigned long long)s.stale,
                (unsigned long long)s.updates,
                (unsigned long long)s.pairs, (unsigned long long)s.links, (unsigned long long)s.reviews,
                (unsigned long long)s.new_entities, (unsigned long long)s.decisions, (unsigned long long)s.splits,
                (unsigned long long)s.index.capped_blocks,
                s.records ? (double)s.bytes / (double)s.records : 0.0);
  }
}

/* Restore from the platform tables: the loaders (plugins/match/platform_pg.c:
 * COPY of the members table, then of the decisions table when the step
 * takes decisions) feed every member back into its entity
 * (sl_match_restore) and every decision back as a constraint
 * (sl_match_restore_decision). */

/* An entity id's hash: the 16 hex digits after its prefix letter. */
static uint64_t entity_hash(sl_match_str entity_id) {
  char hex[17];
  snprintf(hex, sizeof hex, "%.*s", entity_id.n > 1 ? (int)entity_id.n - 1 : 0, entity_id.p + 1);
  return strtoull(hex, NULL, 16);
}

typedef struct restore_ctx {
  match_priv *pv;
  sl_arena a;
  size_t n;
} restore_ctx;

/* One member: its vals (the raw match fields, JSON) as the inputs, with
 * the decision, probability and time it came with. */
int match_vals_inputs(const sl_match_config *c, sl_match_str vals_json, sl_arena *a, sl_match_str *vals) {
  sl_value v;
  const char *why = NULL;
  for (int i = 0; i < c->ninputs; i++) vals[i] = (sl_match_str){"", 0};
  if (sl_json_parse(vals_json.p, vals_json.n, a, &v, &why) || v.type != SL_T_OBJECT) return -1;
  for (int i = 0; i < c->ninputs; i++) {
    const sl_value *x = get(&v, c->input[i]);
    if (x && x->type == SL_T_STRING) vals[i] = (sl_match_str){x->u.s.ptr, (uint32_t)x->u.s.len};
  }
  return 0;
}

int match_decision_parse(sl_match_str name) {
  for (int d = SL_MATCH_NEW; d <= SL_MATCH_ID; d++) {
    const char *n = sl_match_decision_name(d);
    if (name.n == strlen(n) && !memcmp(name.p, n, name.n)) return d;
  }
  return SL_MATCH_NEW;
}

void match_step_platform(sl_stage *st, const char **conninfo, const char **domain) {
  match_cfg *cfg = sl_stage_config(st);
  *conninfo = cfg->platform;
  *domain = cfg->domain;
}

static int restore_member(void *ud, const sl_match_member_row *row) {
  restore_ctx *rc = ud;
  match_priv *pv = rc->pv;
  sl_arena_reset(&rc->a);
  sl_match_str vals[SL_MATCH_MAX_INPUTS];
  match_vals_inputs(&pv->cfg, row->vals_json, &rc->a, vals);
  int how = match_decision_parse(row->decision);
  sl_match_in in = {.dept = row->dept, .feed = row->feed, .src_id = row->src_id, .time_ms = row->updated_ms,
                    .value = vals};
  rc->n++;
  return sl_match_restore_member(pv->m, &in, entity_hash(row->entity_id), how, row->probability);
}

/* One entity row, after the members: an active entity's version. */
static int restore_entity(void *ud, sl_match_str entity_id, sl_match_str status, sl_match_str merged_into,
                          int64_t version) {
  restore_ctx *rc = ud;
  (void)merged_into;
  if (status.n != 6 || memcmp(status.p, "active", 6) || version < 1 || version > UINT32_MAX) return 0;
  if (!sl_match_restore_version(rc->pv->m, entity_hash(entity_id), (uint32_t)version)) rc->n++;
  return 0;
}

/* One decision row, after the members: a constraint again (the members
 * table holds what it changed).  A row that does not read is skipped. */
static int restore_decision(void *ud, sl_match_str a, sl_match_str b, sl_match_str what) {
  restore_ctx *rc = ud;
  sl_match_ident ia, ib;
  int op = sl_match_op_parse(what.p, what.n);
  if (!op || parse_identity(a, &ia) || (op != SL_MATCH_OP_SPLIT && parse_identity(b, &ib))) return 0;
  rc->n++;
  return sl_match_restore_decision(rc->pv->m, (sl_match_op)op, &ia, op == SL_MATCH_OP_SPLIT ? NULL : &ib);
}

static int match_restore(sl_stage *st) {
  match_cfg *cfg = sl_stage_config(st);
  const char *source = NULL;
  /* final = true holds its state in memory only and writes its results at
   * the end of input: a run resumed past the start would silently give
   * the results of part of the input. */
  if (cfg->final && sl_pipeline_resumes(sl_stage_pipeline(st), &source)) {
    sl_log_error(sl_stage_name(st),
                 "%s: final = true is a batch job over its whole input, but source '%s' would resume from a "
                 "saved checkpoint (an interrupted or finished run): rerun it from the start with "
                 "--reset-checkpoint %s",
                 sl_stage_where(st), source, source);
    return SL_ESTATE;
  }
  if (!cfg->platform) return 0;
  match_priv *pv = sl_stage_priv(st);
  restore_ctx rc = {.pv = pv};
  char err[512] = "";
  sl_arena_init(&rc.a);
  int64_t t0 = sl_mono_ms();
  int r = sl_match_platform_load(cfg->platform, cfg->domain, restore_member, &rc, err, sizeof err);
  size_t members = rc.n;
  rc.n = 0;
  if (!r) r = sl_match_platform_max_seq(cfg->platform, cfg->domain, &pv->seq, err, sizeof err);
  if (!r) r = sl_match_platform_load_entities(cfg->platform, cfg->domain, restore_entity, &rc, err, sizeof err);
  size_t versions = rc.n;
  rc.n = 0;
  if (!r && cfg->decisions) r = sl_match_platform_load_decisions(cfg->platform, cfg->domain, restore_decision, &rc, err, sizeof err);
  sl_arena_free(&rc.a);
  sl_match_restore_done(pv->m);
  if (r) {
    sl_log_error(sl_stage_name(st), "restore from the platform tables: %s", err[0] ? err : sl_strerror(r));
    return r;
  }
  sl_log_info(sl_stage_name(st),
              "restored %zu members, %zu entity versions and %zu decisions from the platform tables in %lld ms",
              members, versions, rc.n, (long long)(sl_mono_ms() - t0));
  return 0;
}

/* ---- configuration ---- */

static int lua_value(sl_stage *st, int ref, sl_arena *a, sl_value *v, const char *what, sl_buf *err) {
  lua_State *L = sl_stage_lua(st);
  const char *why = NULL;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);          /* [-0,+1] */
  int rc = sl_lua_to_value(L, -1, a, v, &why);
  lua_pop(L, 1);
  if (rc) sl_buf_printf(err, "%s: %s", what, why ? why : sl_strerror(rc));
  return rc;
}

static char *str_dup(sl_str s) {
  return strndup(s.ptr ? s.ptr : "", s.len);
}

static int parse_ident_part(const sl_value *v, const char *def, ident_part *ip, const char *name, sl_buf *err) {
  if (!v) {
    ip->field = strdup(def);
    return ip->field ? 0 : SL_ENOMEM;
  }
  if (v->type == SL_T_STRING) {
    ip->field = str_dup(v->u.s);
    return ip->field ? 0 : SL_ENOMEM;
  }
  if (v->type == SL_T_OBJECT && v->n == 1 && v->u.members[0].name.len == 5 &&
      !memcmp(v->u.members[0].name.ptr, "const", 5) && v->u.members[0].value.type == SL_T_STRING) {
    ip->constant = str_dup(v->u.members[0].value.u.s);
    return ip->constant ? 0 : SL_ENOMEM;
  }
  sl_buf_printf(err, "identity.%s: a field name or sl.match.const(\"value\")", name);
  return SL_EOPTION;
}

static const sl_value *get(const sl_value *o, const char *name) {
  for (uint32_t i = 0; o && o->type == SL_T_OBJECT && i < o->n; i++)
    if (o->u.members[i].name.len == strlen(name) && !memcmp(o->u.members[i].name.ptr, name, strlen(name)))
      return &o->u.members[i].value;
  return NULL;
}

static int configure(sl_stage *st, match_priv *pv, sl_buf *err) {
  match_cfg *cfg = sl_stage_config(st);
  sl_match_config *c = &pv->cfg;
  sl_arena a;
  sl_arena_init(&a);
  sl_value v;
  int rc = 0;
  sl_match_config_init(c);
  if (cfg->preset && (rc = sl_match_config_preset(c, cfg->preset, err))) goto done;

  if (cfg->fields != LUA_NOREF) {
    if ((rc = lua_value(st, cfg->fields, &a, &v, "fields", err))) goto done;
    for (uint32_t i = 0; i < v.n && v.type == SL_T_OBJECT; i++) {
      sl_member *m = &v.u.members[i];
      char name[256], kind[64];
      snprintf(name, sizeof name, "%.*s", (int)m->name.len, m->name.ptr);
      sl_match_kind k = 0;
      if (m->value.type == SL_T_STRING) {
        snprintf(kind, sizeof kind, "%.*s", (int)m->value.u.s.len, m->value.u.s.ptr);
        if (strcmp(kind, "raw") && sl_match_kind_parse(kind, &k)) {
          sl_buf_printf(err, "fields.%s: unknown kind '%s' (cn_name, cn_id, uscc, date, gender, phone, address, company, text, raw)",
                        name, kind);
          rc = SL_EOPTION;
          goto done;
        }
      } else {
        sl_buf_printf(err, "fields.%s: a kind name", name);
        rc = SL_EOPTION;
        goto done;
      }
      if ((rc = sl_match_config_input(c, name, k))) {
        sl_buf_printf(err, "fields: more than %d", SL_MATCH_MAX_INPUTS);
        goto done;
      }
    }
  }
  if (cfg->compare != LUA_NOREF) {
    if ((rc = lua_value(st, cfg->compare, &a, &v, "compare", err))) goto done;
    for (uint32_t i = 0; i < v.n && v.type == SL_T_OBJECT; i++) {
      sl_member *m = &v.u.members[i];
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)m->name.len, m->name.ptr);
      const char *lv[SL_MATCH_MAX_LEVELS + 1];
      char *owned[SL_MATCH_MAX_LEVELS + 1];
      int n = 0, tf = 0;
      const sl_value *x = &m->value;
      if (x->type == SL_T_ARRAY) {
        for (uint32_t k = 0; k < x->n && n <= SL_MATCH_MAX_LEVELS; k++)
          if (x->u.items[k].type == SL_T_STRING) lv[n] = owned[n] = str_dup(x->u.items[k].u.s), n++;
      } else if (x->type == SL_T_OBJECT) {
        for (uint32_t k = 0; k < x->n; k++) {
          sl_member *e = &x->u.members[k];
          if (e->name.len == 2 && !memcmp(e->name.ptr, "tf", 2)) tf = e->value.type == SL_T_BOOL && e->value.u.b;
          else if (e->value.type == SL_T_STRING && n <= SL_MATCH_MAX_LEVELS)
            lv[n] = owned[n] = str_dup(e->value.u.s), n++;
        }
      } else if (x->type == SL_T_STRING) {
        lv[n] = owned[n] = str_dup(x->u.s), n++;
      }
      rc = sl_match_config_compare(c, name, lv, n, tf, err);
      for (int k = 0; k < n; k++) free(owned[k]);
      if (rc) goto done;
    }
  }
  if (cfg->block) {
    sl_match_config_clear_blocks(c);
    for (char **b = cfg->block; *b; b++)
      if ((rc = sl_match_config_block(c, *b, err))) goto done;
  }
  if (cfg->deps) {
    sl_match_config_clear_deps(c);
    for (char **d = cfg->deps; *d; d++)
      if ((rc = sl_match_config_dep(c, *d, err))) goto done;
  }
  if (cfg->id_rule) sl_match_config_id_rule(c, *cfg->id_rule ? cfg->id_rule : NULL);
  c->link = cfg->link;
  c->review = cfg->review;
  c->block_cap = cfg->block_cap > 0 ? (uint32_t)cfg->block_cap : 0;
  if ((rc = sl_match_config_finish(c, err))) goto done;
  for (int i = 0; i < c->ncols; i++)
    if (c->col_part[i] == 0) pv->input_col[c->col_input[i]] = i;
  sl_match_golden_columns(c, pv->golden_col);

  /* identity */
  v = (sl_value){.type = SL_T_NULL};
  if (cfg->identity != LUA_NOREF && (rc = lua_value(st, cfg->identity, &a, &v, "identity", err))) goto done;
  if ((rc = parse_ident_part(get(&v, "dept"), "dept", &pv->dept, "dept", err)) ||
      (rc = parse_ident_part(get(&v, "feed"), "feed", &pv->feed, "feed", err)) ||
      (rc = parse_ident_part(get(&v, "id"), "src_id", &pv->id, "id", err)))
    goto done;

  /* golden */
  pv->golden.priority = cfg->priority;
  if (cfg->golden != LUA_NOREF) {
    if ((rc = lua_value(st, cfg->golden, &a, &v, "golden", err))) goto done;
    for (uint32_t i = 0; i < v.n && v.type == SL_T_OBJECT; i++) {
      sl_member *m = &v.u.members[i];
      char name[256];
      snprintf(name, sizeof name, "%.*s", (int)m->name.len, m->name.ptr);
      int in = -1;
      for (int k = 0; k < c->ninputs; k++)
        if (!strcmp(c->input[k], name)) in = k;
      if (in < 0) {
        sl_buf_printf(err, "golden.%s: not a field the step reads (", name);
        for (int k = 0; k < c->ninputs; k++) sl_buf_printf(err, "%s%s", k ? ", " : "", c->input[k]);
        sl_buf_puts(err, ")");
        rc = SL_EOPTION;
        goto done;
      }
      const sl_value *rules = &m->value;
      uint32_t nr = rules->type == SL_T_ARRAY ? rules->n : 1;
      for (uint32_t k = 0; k < nr && k < SL_MATCH_MAX_SURVIVE; k++) {
        const sl_value *r = rules->type == SL_T_ARRAY ? &rules->u.items[k] : rules;
        char rn[64] = "";
        if (r->type == SL_T_STRING) snprintf(rn, sizeof rn, "%.*s", (int)r->u.s.len, r->u.s.ptr);
        if (!strcmp(rn, "longest_valid")) strcpy(rn, "longest");
        if (sl_match_survive_parse(rn, &pv->golden.rule[in][pv->golden.nrules[in]])) {
          sl_buf_printf(err, "golden.%s: unknown rule '%s' (priority, recent, frequent, longest)", name, rn);
          rc = SL_EOPTION;
          goto done;
        }
        pv->golden.nrules[in]++;
      }
    }
  }
done:
  sl_arena_free(&a);
  return rc;
}

/* A streaming run needs a model: training on the stream holds the first
 * train_on records, and their batches are acknowledged to the source before
 * they are written, so a crash would lose them.  Only a run over files to
 * their end (final = true) may hold its input; it is a batch job. */
static int model_required(sl_stage *st, sl_buf *err) {
  match_cfg *cfg = sl_stage_config(st);
  if (cfg->model || cfg->final) return 0;
  sl_buf_printf(err,
                "%s: model: required (a streaming run decides from the first record; train one with "
                "`sluice train PIPELINE.lua SAMPLE`), unless final = true (a batch job over files, trained "
                "on its whole input)",
                sl_stage_where(st));
  return SL_EOPTION;
}

static int match_init(sl_stage *st) {
  match_cfg *cfg = sl_stage_config(st);
  match_priv *pv = sl_stage_priv(st);
  sl_buf err = SL_BUF_INIT;
  pv->golden_slot = UINT32_MAX;
  int rc = configure(st, pv, &err);
  if (!rc) rc = model_required(st, &err);
  if (!rc && cfg->platform && !cfg->model) {
    sl_buf_puts(&err, "platform: restoring needs a model (model = ...): the restored members are not trained on");
    rc = SL_EOPTION;
  }
  if (!rc && cfg->train_on < 2) {
    sl_buf_puts(&err, "train_on: at least 2 records");
    rc = SL_EOPTION;
  }
  if (rc) {
    sl_buf_putc(&err, 0);
    sl_log_error(sl_stage_name(st), "%s", err.ptr ? err.ptr : sl_strerror(rc));
    sl_buf_free(&err);
    return rc == SL_ENOMEM ? rc : SL_EOPTION;
  }
  const char *d = cfg->domain;
  pv->prefix = !strcmp(d, "person") ? 'P' : !strcmp(d, "company") ? 'C'
               : (*d >= 'a' && *d <= 'z') ? (char)(*d - 32) : *d ? *d : 'E';
  sl_match_sample_init(&pv->sample, &pv->cfg);
  pv->drain = (size_t)(sl_pipeline_max_inflight_records(sl_stage_pipeline(st)) / 2);
  if (pv->drain < DRAIN_MIN) pv->drain = DRAIN_MIN;
  if (cfg->model) {
    sl_match_model mo;
    sl_match_config_model(&pv->cfg, &mo);
    rc = sl_match_model_read(&mo, cfg->model, &err);
    if (rc) {
      sl_buf_putc(&err, 0);
      sl_log_error(sl_stage_name(st), "%s: model: %s", sl_stage_where(st), err.ptr ? err.ptr : sl_strerror(rc));
      sl_match_model_free(&mo);
      sl_buf_free(&err);
      return rc == SL_ENOMEM ? rc : SL_EOPTION;
    }
    if ((rc = start_matching(st, pv, &mo))) return rc;
  }
  sl_buf_free(&err);
  pv->m_records = sl_stage_metric(st, SL_COUNTER, "match_records_total", "Records matched (replays included).", NULL);
  pv->m_replays = sl_stage_metric(st, SL_COUNTER, "match_replays_total", "Records seen before with the same values, or older than the version held: nothing changed.", NULL);
  pv->m_links = sl_stage_metric(st, SL_COUNTER, "match_links_total", "Pairs linked (above the link threshold or by the ID rule).", NULL);
  pv->m_reviews = sl_stage_metric(st, SL_COUNTER, "match_reviews_total", "Pairs sent to review.", NULL);
  pv->m_new = sl_stage_metric(st, SL_COUNTER, "match_new_entities_total", "Entities created.", NULL);
  pv->m_capped = sl_stage_metric(st, SL_COUNTER, "match_capped_blocks_total", "Lookups that met a block over the cap.", NULL);
  pv->m_decisions = sl_stage_metric(st, SL_COUNTER, "match_decisions_total", "Operators' decisions applied (link, no_link, split).", NULL);
  pv->m_splits = sl_stage_metric(st, SL_COUNTER, "match_splits_total", "Entities split off by a decision or an update.", NULL);
  pv->m_bytes = sl_stage_metric(st, SL_GAUGE, "match_index_bytes", "Memory the matcher holds (index, values, clusters).", NULL);
  return 0;
}

static void match_destroy(sl_stage *st) {
  match_priv *pv = sl_stage_priv(st);
  sl_match_free(pv->m);
  sl_match_sample_free(&pv->sample);
  sl_match_prepared_free(&pv->prep);
  sl_match_config_free(&pv->cfg);
  sl_buf_free(&pv->held);
  sl_buf_free(&pv->held_decisions);
  sl_buf_free(&pv->q.b);
  sl_buf_free(&pv->tmp);
  sl_buf_free(&pv->row);
  sl_buf_free(&pv->eid);
  sl_buf_free(&pv->mt);
  ident_part *parts[] = {&pv->dept, &pv->feed, &pv->id};
  for (int i = 0; i < 3; i++) {
    free(parts[i]->field);
    free(parts[i]->constant);
  }
}

static int match_check(sl_stage *st) {
  match_priv pv = {0};
  sl_buf err = SL_BUF_INIT;
  int rc = configure(st, &pv, &err);
  if (rc) {
    sl_buf_putc(&err, 0);
    sl_log_error(sl_stage_name(st), "%s", err.ptr ? err.ptr : sl_strerror(rc));
  }
  match_cfg *cfg = sl_stage_config(st);
  if (!rc && (rc = model_required(st, &err))) {
    sl_buf_putc(&err, 0);
    sl_log_error(sl_stage_name(st), "%s", err.ptr);
  }
  if (!rc && cfg->model) {
    sl_match_model mo;
    sl_match_config_model(&pv.cfg, &mo);
    err.len = 0;
    rc = sl_match_model_read(&mo, cfg->model, &err);
    if (rc) {
      sl_buf_putc(&err, 0);
      sl_log_error(sl_stage_name(st), "%s: model: %s", sl_stage_where(st), err.ptr ? err.ptr : sl_strerror(rc));
    }
    sl_match_model_free(&mo);
  }
  sl_buf_free(&err);
  sl_match_config_free(&pv.cfg);
  for (ident_part *p = &pv.dept; p <= &pv.id; p++) {
    free(p->field);
    free(p->constant);
  }
  return rc ? SL_EOPTION : 0;
}

int match_step_setup(sl_stage *st, sl_match_config *c, const char **model, sl_buf *err) {
  match_priv pv = {0};
  int rc = configure(st, &pv, err);
  for (ident_part *p = &pv.dept; p <= &pv.id; p++) {
    free(p->field);
    free(p->constant);
  }
  if (rc) {
    sl_match_config_free(&pv.cfg);
    return rc == SL_ENOMEM ? rc : SL_EOPTION;
  }
  *c = pv.cfg;
  *model = ((match_cfg *)sl_stage_config(st))->model;
  return 0;
}

int match_command_setup(sl_stage *st, sl_match_config *c, const char **model) {
  sl_buf err = SL_BUF_INIT;
  int rc = match_step_setup(st, c, model, &err);
  if (rc)
    fprintf(stderr, "sluice: %s: %s: %.*s\n", sl_stage_where(st), sl_stage_name(st), (int)err.len,
            err.ptr ? err.ptr : "out of memory");
  sl_buf_free(&err);
  return rc ? 2 : 0;
}

/* sl.match.const("gaj"): a constant identity part. */
static int l_const(lua_State *L) {
  luaL_checkstring(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "const");
  return 1;
}

static int open_match(lua_State *L) {
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_const);
  lua_setfield(L, -2, "const");
  return 1;
}

const sl_lua_lib match_lua_lib = {
    .name = "match",
    .open = open_match,
};

static const sl_option match_options[] = {
    {"domain", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(match_cfg, domain), "What is matched (person, company, ...): the entity ids' prefix and the platform schema.", NULL},
    {"identity", SL_OPT_LUA, NULL, 0, offsetof(match_cfg, identity), "{ dept =, feed =, id = }: the fields (or sl.match.const(\"v\")) that identify a record; default dept, feed, src_id.", "table"},
    {"preset", SL_OPT_ENUM, NULL, 0, offsetof(match_cfg, preset), "Fields, comparisons, blocking and ID rule for Chinese residents or companies.", "person|company"},
    {"fields", SL_OPT_LUA, NULL, 0, offsetof(match_cfg, fields), "{ field = kind }: how each field is prepared (cn_name, cn_id, uscc, date, gender, phone, address, company, text, raw).", "table"},
    {"compare", SL_OPT_LUA, NULL, 0, offsetof(match_cfg, compare), "{ column = { level, ..., tf = true } }: comparison levels (exact, jwX, dlN, jacX, absX, relX, daysN, swap, pinyin, companyX, addressX).", "table"},
    {"deps", SL_OPT_STRLIST, NULL, 0, offsetof(match_cfg, deps), "Dependences among non-matches, \"A:B[:LB[:LA]]\": field A at a level <= LA discounts field B's level LB (replaces the preset's).", NULL},
    {"block", SL_OPT_STRLIST, NULL, 0, offsetof(match_cfg, block), "Blocking rules: columns joined by +, each maybe cut with /N (replaces the preset's).", NULL},
    {"id_rule", SL_OPT_STR, NULL, 0, offsetof(match_cfg, id_rule), "Column of validated identifiers: equal ones link, different ones never do (\"\": none).", NULL},
    {"model", SL_OPT_PATH, NULL, 0, offsetof(match_cfg, model), "Model file (JSON) that `sluice train` writes; required unless final = true.", NULL},
    {"model_out", SL_OPT_PATH, NULL, 0, offsetof(match_cfg, model_out), "Where to write the model trained on the stream.", NULL},
    {"train_on", SL_OPT_INT, "100000", 0, offsetof(match_cfg, train_on), "final = true without a model: records held and trained on before deciding (all of them if the input ends first).", NULL},
    {"random_pairs", SL_OPT_INT, "1000000", 0, offsetof(match_cfg, random_pairs), "Without a model: random pairs for u.", NULL},
    {"link", SL_OPT_DOUBLE, "0.99", 0, offsetof(match_cfg, link), "Match probability from which a pair links.", NULL},
    {"review", SL_OPT_DOUBLE, "0.8", 0, offsetof(match_cfg, review), "Match probability from which a pair not linked goes to review.", NULL},
    {"block_cap", SL_OPT_INT, "1000", 0, offsetof(match_cfg, block_cap), "Largest block looked up; larger ones are counted and reported (0: no cap).", NULL},
    {"golden", SL_OPT_LUA, NULL, 0, offsetof(match_cfg, golden), "{ field = { rule, ... } }: survivorship (priority, recent, frequent, longest); default frequent, recent.", "table"},
    {"priority", SL_OPT_STRLIST, NULL, 0, offsetof(match_cfg, priority), "Departments in the order the priority rule prefers them.", NULL},
    {"platform", SL_OPT_STR, NULL, 0, offsetof(match_cfg, platform), "PostgreSQL conninfo of the platform tables to restore from.", NULL},
    {"final", SL_OPT_BOOL, "false", 0, offsetof(match_cfg, final), "At the end of input, emit every record's entity as {id, entity}.", NULL},
    {"time", SL_OPT_STR, NULL, 0, offsetof(match_cfg, time), "Field holding the record's own time (RFC 3339), for `recent` and provenance; default the event time, else arrival.", NULL},
    {"decisions", SL_OPT_STR, NULL, 0, offsetof(match_cfg, decisions), "Name of the source whose records are operators' decisions {a, b, decision = link|no_link|split, review_id, by, at}.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const sl_stateful match_stateful = {
    .restore = match_restore,
    .apply = match_apply,
    .batch_end = match_batch_end,
    .finish = match_finish,
};

static const sl_plugin_command match_commands[] = {
    {"train", "train an sl.match step's model on a sample (u, m by EM, no labels)", match_train_help,
     match_train_command, NULL},
    {"explain", "why two records match or not under an sl.match step's model", match_explain_help,
     match_explain_command, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

const sl_plugin match_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_STEP,
    .name = "match",
    .doc = "Links records about the same person or company into entities, with golden records (stateful).",
    .options = match_options,
    .config_size = sizeof(match_cfg),
    .priv_size = sizeof(match_priv),
    .init = match_init,
    .destroy = match_destroy,
    .check = match_check,
    .stateful = &match_stateful,
    .commands = match_commands,
};
