/* The pgoutput logical replication protocol (version 1), as the walsender
 * sends it inside XLogData messages: Begin, Commit, Relation, Insert,
 * Update, Delete, Truncate (and Type, Origin, Message, which are skipped).
 * Everything is big-endian; strings are NUL-terminated.  Parsing never
 * reads past the message: a short or malformed one is SL_EPARSE. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg.h"

uint16_t pg_be16(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint16_t)(u[0] << 8 | u[1]);
}

uint32_t pg_be32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

uint64_t pg_be64(const char *p) { return (uint64_t)pg_be32(p) << 32 | pg_be32(p + 4); }

void pg_put_be64(char *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (char)(v & 0xFF);
    v >>= 8;
  }
}

/* PostgreSQL's epoch is 2000-01-01 00:00:00 UTC. */
#define PG_EPOCH_UNIX_S 946684800LL

void pg_time_format(int64_t pg_us, char out[64]) {
  int64_t us = pg_us + PG_EPOCH_UNIX_S * 1000000LL;
  time_t s = (time_t)(us / 1000000);
  int64_t frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    s--;
  }
  struct tm tm;
  gmtime_r(&s, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
}

/* ---- relations ---- */

static void relation_clear(pgo_relation *r) {
  free(r->schema);
  free(r->name);
  free(r->qualified);
  for (int i = 0; i < r->ncols; i++) free(r->cols[i]);
  free(r->cols);
  free(r->types);
  free(r->key);
  memset(r, 0, sizeof *r);
}

void pgo_relations_free(pgo_relations *rs) {
  for (int i = 0; i < rs->n; i++) relation_clear(&rs->v[i]);
  free(rs->v);
  memset(rs, 0, sizeof *rs);
}

pgo_relation *pgo_relation_find(pgo_relations *rs, uint32_t oid) {
  for (int i = 0; i < rs->n; i++)
    if (rs->v[i].oid == oid) return &rs->v[i];
  return NULL;
}

/* ---- reading ---- */

typedef struct rd {
  const char *p, *end;
  int bad;
} rd;

static int need(rd *r, size_t n) {
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return 0;
  }
  return 1;
}

static uint8_t u8(rd *r) { return need(r, 1) ? (uint8_t)*r->p++ : 0; }
static uint16_t u16(rd *r) {
  if (!need(r, 2)) return 0;
  uint16_t v = pg_be16(r->p);
  r->p += 2;
  return v;
}
static uint32_t u32(rd *r) {
  if (!need(r, 4)) return 0;
  uint32_t v = pg_be32(r->p);
  r->p += 4;
  return v;
}
static uint64_t u64(rd *r) {
  if (!need(r, 8)) return 0;
  uint64_t v = pg_be64(r->p);
  r->p += 8;
  return v;
}
static const char *str(rd *r) {
  if (r->bad) return "";
  const char *z = memchr(r->p, 0, (size_t)(r->end - r->p));
  if (!z) {
    r->bad = 1;
    return "";
  }
  const char *s = r->p;
  r->p = z + 1;
  return s;
}

/* Skips one TupleData. */
static void skip_tuple(rd *r) {
  uint16_t n = u16(r);
  for (uint16_t i = 0; i < n && !r->bad; i++) {
    char k = (char)u8(r);
    if (k == 't' || k == 'b') {
      uint32_t len = u32(r);
      if (need(r, len)) r->p += len;
    } else if (k != 'n' && k != 'u') {
      r->bad = 1;
    }
  }
}

static int parse_relation(rd *r, pgo_relations *rs, pgo_msg *m) {
  uint32_t oid = u32(r);
  const char *schema = str(r);
  const char *name = str(r);
  (void)u8(r);   /* replica identity setting */
  uint16_t ncols = u16(r);
  if (r->bad) return SL_EPARSE;
  pgo_relation nr = {0};
  nr.oid = oid;
  nr.schema = strdup(schema);
  nr.name = strdup(name);
  size_t ql = strlen(schema) + strlen(name) + 2;
  nr.qualified = malloc(ql);
  if (nr.qualified) snprintf(nr.qualified, ql, "%s.%s", schema, name);
  nr.cols = calloc(ncols ? ncols : 1, sizeof *nr.cols);
  nr.types = calloc(ncols ? ncols : 1, sizeof *nr.types);
  nr.key = calloc(ncols ? ncols : 1, 1);
  if (!nr.schema || !nr.name || !nr.qualified || !nr.cols || !nr.types || !nr.key) {
    relation_clear(&nr);
    return SL_ENOMEM;
  }
  for (uint16_t i = 0; i < ncols; i++) {
    nr.key[i] = u8(r) & 1;
    const char *cn = str(r);
    nr.types[i] = u32(r);
    (void)u32(r);   /* typmod */
    if (r->bad) break;
    nr.cols[i] = strdup(cn);
    nr.ncols = i + 1;
    if (!nr.cols[i]) {
      relation_clear(&nr);
      return SL_ENOMEM;
    }
  }
  if (r->bad) {
    relation_clear(&nr);
    return SL_EPARSE;
  }
  pgo_relation *old = pgo_relation_find(rs, oid);
  if (old) {
    relation_clear(old);
    *old = nr;
  } else {
    if (rs->n == rs->cap) {
      int cap = rs->cap ? rs->cap * 2 : 8;
      pgo_relation *v = realloc(rs->v, (size_t)cap * sizeof *v);
      if (!v) {
        relation_clear(&nr);
        return SL_ENOMEM;
      }
      rs->v = v;
      rs->cap = cap;
    }
    rs->v[rs->n++] = nr;
  }
  m->relid = oid;
  return 0;
}

int pgo_parse(const char *p, size_t n, pgo_relations *rs, pgo_msg *m, const char **why) {
  rd r = {p, p + n, 0};
  memset(m, 0, sizeof *m);
  m->kind = (char)u8(&r);
  switch (m->kind) {
    case 'B':
      m->lsn = u64(&r);
      m->commit_time = (int64_t)u64(&r);
      m->xid = u32(&r);
      break;
    case 'C':
      (void)u8(&r);
      m->lsn = u64(&r);
      m->end_lsn = u64(&r);
      m->commit_time = (int64_t)u64(&r);
      break;
    case 'R': {
      int rc = parse_relation(&r, rs, m);
      if (rc) {
        *why = rc == SL_ENOMEM ? "out of memory" : "malformed Relation message";
        return rc;
      }
      break;
    }
    case 'I':
      m->relid = u32(&r);
      if (u8(&r) != 'N') r.bad = 1;
      m->new_tuple = r.p;
      skip_tuple(&r);
      break;
    case 'U': {
      m->relid = u32(&r);
      char k = (char)u8(&r);
      if (k == 'K' || k == 'O') {
        m->old_kind = k;
        m->old_tuple = r.p;
        skip_tuple(&r);
        k = (char)u8(&r);
      }
      if (k != 'N') r.bad = 1;
      m->new_tuple = r.p;
      skip_tuple(&r);
      break;
    }
    case 'D': {
      m->relid = u32(&r);
      char k = (char)u8(&r);
      if (k != 'K' && k != 'O') r.bad = 1;
      m->old_kind = k;
      m->old_tuple = r.p;
      skip_tuple(&r);
      break;
    }
    case 'T':
      m->nrels = u32(&r);
      m->truncate_flags = u8(&r);
      m->rels = r.p;
      if (need(&r, (size_t)m->nrels * 4)) r.p += (size_t)m->nrels * 4;
      break;
    default:
      /* Type, Origin, Message, and anything newer: nothing to do. */
      break;
  }
  if (r.bad) {
    *why = "malformed pgoutput message";
    return SL_EPARSE;
  }
  if ((m->kind == 'I' || m->kind == 'U' || m->kind == 'D') && !pgo_relation_find(rs, m->relid)) {
    *why = "a change for a relation that was never described";
    return SL_EPARSE;
  }
  return 0;
}

int pgo_tuple_json(const pgo_relation *rel, const char *p, const char *end, int key_only,
                   sl_buf *out) {
  rd r = {p, end, 0};
  uint16_t n = u16(&r);
  sl_buf_putc(out, '{');
  int first = 1;
  for (uint16_t i = 0; i < n && !r.bad; i++) {
    char k = (char)u8(&r);
    if (k == 'u') continue;   /* an unchanged TOASTed value: not sent */
    if (k != 'n' && k != 't') {
      r.bad = 1;
      break;
    }
    /* A 'K' image holds the key's values; the other columns come as nulls
     * that mean "not sent", not NULL. */
    int skip = key_only && i < rel->ncols && !rel->key[i];
    if (skip) {
      if (k == 't') {
        uint32_t len = u32(&r);
        if (!need(&r, len)) break;
        r.p += len;
      }
      continue;
    }
    if (!first) sl_buf_putc(out, ',');
    first = 0;
    const char *name = i < rel->ncols ? rel->cols[i] : "?";
    sl_buf_json_string(out, name, strlen(name));
    sl_buf_putc(out, ':');
    if (k == 'n') {
      sl_buf_puts(out, "null");
      continue;
    }
    uint32_t len = u32(&r);
    if (!need(&r, len)) break;
    pg_value_json(out, i < rel->ncols ? rel->types[i] : 0, r.p, len);
    r.p += len;
  }
  sl_buf_putc(out, '}');
  return r.bad ? SL_EPARSE : 0;
}
