/* The in-memory source and sink of `sluice test`: put in place of a
 * loaded pipeline's sources and sinks (the dead-letter sink too), so that
 * a pipeline that reads Kafka and writes PostgreSQL runs with no service.
 * The source emits the case's records and ends; the sink keeps each record
 * as the JSON text the workers encoded, with its per-record options (a
 * Kafka key, headers, a topic). */
#include <stdlib.h>
#include <string.h>

#include "sluice/clock.h"
#include "testing/testing.h"

/* ---- the source ---- */

typedef struct mem_src_cfg {
  sl_test_input *in;
} mem_src_cfg;

typedef struct mem_src {
  size_t next;            /* the first record not emitted yet */
  int paused, done;
} mem_src;

static sl_str str_of(const char *s) { return (sl_str){s, s ? strlen(s) : 0}; }

/* 0, or SL_ENOMEM with nothing added. */
static int add_record(sl_batch *b, const sl_test_rec *r, size_t index) {
  sl_record *rec = sl_batch_add(b);
  char *raw = rec ? sl_arena_memdup(sl_batch_arena(b), r->json, r->len) : NULL;
  if (!raw) {
    if (rec) sl_batch_pop(b);
    return SL_ENOMEM;
  }
  rec->raw = (sl_str){raw, r->len};
  rec->codec = &sl_codec_jsonl;
  rec->meta.origin = SL_STR_LIT("test");
  rec->meta.offset = (int64_t)index;
  rec->meta.line = (int64_t)index + 1;
  rec->meta.arrival_ms = sl_now_ms();
  rec->meta.event_time_ms = r->time_ms;
  /* The strings live in the runner's input, which outlives the run. */
  if (r->department) rec->meta.department = str_of(r->department);
  if (r->feed) rec->meta.feed = str_of(r->feed);
  if (r->key) rec->meta.key = str_of(r->key);
  if (r->id) rec->meta.id = str_of(r->id);
  return 0;
}

/* Emits batches of batch_size records until paused or at the end. */
static void pump(sl_stage *st) {
  mem_src *m = sl_stage_priv(st);
  mem_src_cfg *cfg = sl_stage_config(st);
  uint32_t size = sl_stage_batch_size(st);
  while (!m->paused && !m->done && m->next < cfg->in->n) {
    sl_batch *b = sl_batch_new(st);
    if (!b) {
      sl_stage_fatal(st, "out of memory");
      return;
    }
    for (uint32_t k = 0; k < size && m->next < cfg->in->n; k++, m->next++)
      if (add_record(b, &cfg->in->recs[m->next], m->next)) {
        /* A record left out would make the case pass or fail on the wrong
         * input: the run stops instead. */
        sl_batch_discard(b);
        sl_stage_fatal(st, "out of memory");
        return;
      }
    sl_checkpoint cp = {.a = (int64_t)m->next};
    sl_batch_set_checkpoint(b, &cp);
    sl_source_emit(st, b);
  }
  if (!m->done && m->next >= cfg->in->n) {
    m->done = 1;
    sl_source_finished(st);
  }
}

static int src_start(sl_stage *st) {
  pump(st);
  return 0;
}

static void src_pause(sl_stage *st) { ((mem_src *)sl_stage_priv(st))->paused = 1; }

static void src_resume(sl_stage *st) {
  ((mem_src *)sl_stage_priv(st))->paused = 0;
  pump(st);
}

static void src_stop(sl_stage *st) {
  mem_src *m = sl_stage_priv(st);
  if (m->done) return;
  m->done = 1;
  sl_source_finished(st);
}

static void src_ack(sl_stage *st, const sl_checkpoint *cp) {
  (void)st;
  (void)cp;
}

static const sl_option no_options[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_plugin mem_source = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "test.source",
    .doc = "sluice test's in-memory source: the case's input records.",
    .options = no_options,
    .config_size = sizeof(mem_src_cfg),
    .priv_size = sizeof(mem_src),
    .start = src_start,
    .pause = src_pause,
    .resume = src_resume,
    .stop = src_stop,
    .ack = src_ack,
};

/* ---- the sink ---- */

typedef struct mem_sink_cfg {
  sl_test_output *out;
} mem_sink_cfg;

static int sink_init(sl_stage *st) {
  sl_sink_set_codec(st, &sl_codec_jsonl, NULL);
  return 0;
}

static int grow(sl_test_output *o) {
  if (o->n < o->cap) return 0;
  size_t cap = o->cap ? o->cap * 2 : 16;
  sl_buf *r = realloc(o->recs, cap * sizeof *r);
  if (!r) return SL_ENOMEM;
  o->recs = r;
  sl_buf *a = realloc(o->attrs, cap * sizeof *a);
  if (!a) return SL_ENOMEM;
  o->attrs = a;
  o->cap = cap;
  return 0;
}

/* The per-record options of record i as one JSON object: a map option
 * (headers) as an object of its pairs, the others as strings, an absent
 * one left out. */
static void attrs_json(const sl_stage *st, const sl_sink_batch *sb, uint32_t i, sl_buf *b) {
  sl_buf_putc(b, '{');
  int first = 1;
  for (int k = 0; k < st->nattrs; k++) {
    sl_str v = sl_sink_attr(sb, k, i);
    if (!v.ptr) continue;
    const sl_option *o = st->attr_opts[k];
    if (!first) sl_buf_putc(b, ',');
    first = 0;
    sl_buf_json_string(b, o->name, strlen(o->name));
    sl_buf_putc(b, ':');
    if (!(o->flags & SL_RECORD_MAP)) {
      sl_buf_json_string(b, v.ptr, v.len);
      continue;
    }
    sl_buf_putc(b, '{');
    sl_str name, value, rest = v;
    for (int n = 0; sl_attr_pairs_next(&rest, &name, &value); n++) {
      if (n) sl_buf_putc(b, ',');
      sl_buf_json_string(b, name.ptr, name.len);
      sl_buf_putc(b, ':');
      sl_buf_json_string(b, value.ptr, value.len);
    }
    sl_buf_putc(b, '}');
  }
  sl_buf_putc(b, '}');
}

static int sink_write(sl_stage *st, sl_sink_batch *sb) {
  sl_test_output *o = ((mem_sink_cfg *)sl_stage_config(st))->out;
  for (uint32_t i = 0; i < sb->n; i++) {
    if (grow(o)) {
      sl_sink_failed(sb, "out of memory");
      return 0;
    }
    size_t from = i ? sb->ends[i - 1] : 0, to = sb->ends[i];
    while (to > from && sb->bytes.ptr[to - 1] == '\n') to--;
    sl_buf *r = &o->recs[o->n], *a = &o->attrs[o->n];
    *r = (sl_buf)SL_BUF_INIT;
    *a = (sl_buf)SL_BUF_INIT;
    sl_buf_append(r, sb->bytes.ptr + from, to - from);
    attrs_json(st, sb, i, a);
    if (r->oom || a->oom) {
      /* A record kept half would be compared as something else. */
      sl_buf_free(r);
      sl_buf_free(a);
      sl_sink_failed(sb, "out of memory");
      return 0;
    }
    o->n++;
  }
  sl_sink_done(sb);
  return 0;
}

static void sink_flush(sl_stage *st) { sl_stage_flushed(st); }

static const sl_plugin mem_sink = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "test.sink",
    .doc = "sluice test's in-memory sink: collects what it is given.",
    .options = no_options,
    .config_size = sizeof(mem_sink_cfg),
    .init = sink_init,
    .write = sink_write,
    .flush = sink_flush,
};

/* ---- swapping ---- */

/* The stage's own plugin, config and private state go; the in-memory
 * plugin's come.  Its name, place, `where` and per-record options stay. */
static int swap(sl_stage *st, const sl_plugin *pl, void *cfg_ptr) {
  if (st->plugin && st->config) sl_options_free(sl_lua_state(st->p->cfg), st->plugin->options, st->config);
  free(st->config);
  free(st->priv);
  st->priv = NULL;
  st->plugin = pl;
  st->config = calloc(1, pl->config_size);
  if (!st->config) return SL_ENOMEM;
  memcpy(st->config, &cfg_ptr, sizeof cfg_ptr);
  if (pl->priv_size && !(st->priv = calloc(1, pl->priv_size))) return SL_ENOMEM;
  return 0;
}

int sl__test_source_swap(sl_stage *st, sl_test_input *in) { return swap(st, &mem_source, in); }

int sl__test_sink_swap(sl_stage *st, sl_test_output *out) { return swap(st, &mem_sink, out); }

void sl__test_rec_free(sl_test_rec *r) {
  free(r->json);
  free(r->department);
  free(r->feed);
  free(r->key);
  free(r->id);
  memset(r, 0, sizeof *r);
}

void sl__test_input_free(sl_test_input *in) {
  for (size_t i = 0; i < in->n; i++) sl__test_rec_free(&in->recs[i]);
  free(in->recs);
  memset(in, 0, sizeof *in);
}

void sl__test_output_free(sl_test_output *out) {
  for (size_t i = 0; i < out->n; i++) {
    sl_buf_free(&out->recs[i]);
    sl_buf_free(&out->attrs[i]);
  }
  free(out->recs);
  free(out->attrs);
  free(out->name);
  memset(out, 0, sizeof *out);
}
