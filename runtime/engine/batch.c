/* Batches: one source's records on their way, in one arena, with the
 * source's checkpoint after them, and what the workers made of them for
 * each sink (sink batches).  Everything here works on one batch and calls
 * nothing else of the engine, so the flow, the workers and the tests stand
 * on it. */
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "sluice/clock.h"

/* ---- records and checkpoint ---- */

sl_batch *sl_batch_new(sl_stage *source) {
  sl_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  sl_arena_init(&b->arena);
  b->source = source;
  b->cap = sl_stage_batch_size(source);
  b->recs = malloc(b->cap * sizeof *b->recs);
  if (!b->recs) {
    free(b);
    return NULL;
  }
  return b;
}

sl_arena *sl_batch_arena(sl_batch *b) { return &b->arena; }
uint32_t sl_batch_count(const sl_batch *b) { return b->n; }
sl_record *sl_batch_record(sl_batch *b, uint32_t i) { return i < b->n ? &b->recs[i] : NULL; }
sl_stage *sl_batch_source(const sl_batch *b) { return b->source; }
const sl_checkpoint *sl_batch_checkpoint(const sl_batch *b) { return &b->cp; }

void sl_batch_pop(sl_batch *b) {
  if (b->n) b->n--;
}
void sl_batch_set_checkpoint(sl_batch *b, const sl_checkpoint *cp) { b->cp = *cp; }

sl_record *sl_batch_add(sl_batch *b) {
  if (b->n == b->cap) {
    uint32_t cap = b->cap ? b->cap * 2 : 64;
    sl_record *r = realloc(b->recs, cap * sizeof *r);
    if (!r) return NULL;
    b->recs = r;
    b->cap = cap;
  }
  sl_record *rec = &b->recs[b->n++];
  memset(rec, 0, sizeof *rec);
  rec->meta.partition = -1;
  rec->meta.offset = -1;
  return rec;
}

void sl__batch_free(sl_batch *b) {
  if (!b) return;
  if (b->sbs && b->source) {
    for (int i = 0; i < b->source->p->nsinks; i++) sl_buf_free(&b->sbs[i].bytes);
  }
  sl_arena_free(&b->arena);
  free(b->recs);
  free(b);
}

void sl_batch_discard(sl_batch *b) { sl__batch_free(b); }

/* ---- sink batches ---- */

int sl_sink_batch_checkpoint(const sl_sink_batch *sb, const char **source, sl_buf *out) {
  sl_stage *src = sb->batch->source;
  *source = src->name;
  if (!src->plugin->checkpoint_encode) return SL_ENOENT;
  return src->plugin->checkpoint_encode(src, &sb->batch->cp, out);
}

sl_str sl_sink_attr(const sl_sink_batch *sb, int k, uint32_t i) {
  if (!sb->attrs || k < 0 || k >= sb->sink->nattrs || i >= sb->n) return (sl_str){NULL, 0};
  return sb->attrs[(size_t)k * sb->attr_cap + i];
}

/* SL_RECORD_MAP values are pairs, each a uint32_t name length, the name, a
 * uint32_t value length and the value (lengths in host order, unaligned);
 * workers.c writes them. */
int sl_attr_pairs_next(sl_str *rest, sl_str *name, sl_str *value) {
  uint32_t n;
  if (!rest->ptr || rest->len < sizeof n) return 0;
  memcpy(&n, rest->ptr, sizeof n);
  if (rest->len - sizeof n < n) return 0;
  *name = (sl_str){rest->ptr + sizeof n, n};
  size_t off = sizeof n + n;
  if (rest->len - off < sizeof n) return 0;
  memcpy(&n, rest->ptr + off, sizeof n);
  off += sizeof n;
  if (rest->len - off < n) return 0;
  *value = (sl_str){rest->ptr + off, n};
  rest->ptr += off + n;
  rest->len -= off + n;
  return 1;
}

const char *sl__dlq_lost_reason(const sl_record *env, int rc) {
  if (!env) return "out of memory building a dead letter";
  return rc == SL_ENOMEM ? "out of memory encoding a dead letter" : "a dead letter could not be encoded";
}

sl_record *sl__dlq_record(sl_pipeline *p, sl_arena *a, const sl_record *rec) {
  sl_buf env = SL_BUF_INIT;
  sl_envelope_encode(&env, rec, p->name, sl_now_ms());
  if (env.oom) {
    sl_buf_free(&env);
    return NULL;
  }
  /* The envelope is a JSON line: keep it as the raw bytes of a jsonl record,
   * so the dead-letter sink writes it like any other record. */
  size_t n = env.len && env.ptr[env.len - 1] == '\n' ? env.len - 1 : env.len;
  sl_record *d = sl_arena_alloc(a, sizeof *d);
  char *raw = d ? sl_arena_memdup(a, env.ptr, n) : NULL;
  sl_buf_free(&env);
  if (!raw) return NULL;
  memset(d, 0, sizeof *d);
  d->raw.ptr = raw;
  d->raw.len = n;
  d->codec = &sl_codec_jsonl;
  d->state = SL_REC_RAW;
  d->meta = rec->meta;
  return d;
}

int sl__sink_batch_add(sl_stage *sink, sl_sink_batch *sb, sl_arena *a, sl_record *rec,
                       uint32_t cap, const char **why) {
  if (!sb->recs) {
    sb->recs = sl_arena_alloc(a, cap * sizeof *sb->recs);
    sb->ends = sl_arena_alloc(a, cap * sizeof *sb->ends);
    if (!sb->recs || !sb->ends) {
      *why = "out of memory";
      return SL_ENOMEM;
    }
  }
  if (sink->codec) {
    /* Codecs copy a record verbatim only when it is their own and unchanged;
     * anything else they encode from fields, which must be decoded first. */
    if (rec->state == SL_REC_RAW && rec->codec != sink->codec &&
        sl_record_decode(rec, a) != 0) {
      *why = rec->error;
      return SL_EPARSE;
    }
    size_t before = sb->bytes.len;
    int rc = sink->codec->encode(sink->codec_ctx, rec, &sb->bytes, why);
    if (rc) {
      sb->bytes.len = before;
      return rc;
    }
    if (sb->bytes.oom) {
      *why = "out of memory";
      return SL_ENOMEM;
    }
    sb->ends[sb->n] = (uint32_t)sb->bytes.len;
  }
  sb->recs[sb->n++] = rec;
  return 0;
}

