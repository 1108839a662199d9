/* The simulation's stages: an in-memory source that saves its checkpoint
 * from ack, "queue" sinks on the real sink queue and "reorder" sinks that
 * finish batches in any order.  They do what the scheduler (sim_run.c)
 * tells them, drawing outcomes from the seed's PRNG; what they make
 * durable goes into sim.total / sim.now, the only state that survives a
 * crash with the checkpoints. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sluice/errors.h"

/* The one error a queue sink's ops->permanent calls permanent. */
#define SIM_EBROKEN (-1000)

int sim_delivered(int src, int64_t pos, int now) {
  sim_route r = sim_route_of(src, pos);
  int dlq = sim.cfg.nsinks;
  uint8_t (*durable)[SIM_SOURCES][SIM_RECORDS] = now ? sim.now : sim.total;
  uint8_t (*away)[SIM_SOURCES][SIM_RECORDS] = now ? sim.away_now : sim.away_total;
  if (r.fate == SIM_DROPPED) return 1;
  if (r.fate == SIM_DEAD) return durable[dlq][src][pos] > 0;
  for (int k = 0; k < sim.cfg.nsinks; k++)
    if ((r.mask >> k & 1) && !durable[k][src][pos] && !(away[k][src][pos] && durable[dlq][src][pos]))
      return 0;
  return 1;
}

void sim_turned_away(const sl_sink_batch *sb, uint32_t i) {
  const sl_meta *m = &sb->recs[i]->meta;
  sim.away_now[sb->sink->index][m->partition][m->offset] = 1;
  sim.away_total[sb->sink->index][m->partition][m->offset] = 1;
}

void sim_durable(int k, const sl_sink_batch *sb) {
  for (uint32_t i = 0; i < sb->n; i++) {
    const sl_meta *m = &sb->recs[i]->meta;
    if (m->partition < 0 || m->partition >= sim.cfg.nsources || m->offset < 0 ||
        m->offset >= SIM_RECORDS) {
      sim_fail("%s made a record durable that no source read (partition %d, offset %lld)",
               sb->sink->name, m->partition, (long long)m->offset);
      return;
    }
    uint8_t *t = &sim.total[k][m->partition][m->offset], *n = &sim.now[k][m->partition][m->offset];
    if (*t < 255) (*t)++;
    if (*n < 255) (*n)++;
  }
}

/* ---- the source ---- */

static sim_source *src_of(sl_stage *st) { return (sim_source *)st; }

/* As state.c's start_write: the latest checkpoint goes to the "file". */
static void start_write(sim_source *s) {
  s->writing = s->latest;
  s->dirty = 0;
  s->held_writing += s->held_latest;
  s->held_latest = 0;
  s->busy = 1;
  live.p.statefiles_busy++;
}

/* The order and durability checks: the batch acknowledged is the oldest
 * one not acknowledged yet, and each of its records is durable in every
 * sink it goes to (or is a dead letter), in this run. */
static void src_ack(sl_stage *st, const sl_checkpoint *cp) {
  sim_source *s = src_of(st);
  if (s->nacked >= s->nemitted) {
    sim_fail("%s: ack of [%lld,%lld) but every batch it emitted was acknowledged", st->name,
             (long long)cp->b, (long long)cp->a);
    return;
  }
  sim_emitted e = s->emitted[s->nacked++];
  sim_trace("ack %s [%lld,%lld)", st->name, (long long)cp->b, (long long)cp->a);
  if (cp->b != e.from || cp->a != e.to) {
    sim_fail("%s: ack of [%lld,%lld), expected the oldest batch not acknowledged, [%lld,%lld)",
             st->name, (long long)cp->b, (long long)cp->a, (long long)e.from, (long long)e.to);
    return;
  }
  for (int64_t pos = e.from; pos < e.to; pos++)
    if (!sim_delivered(st->index, pos, 1)) {
      sim_fail("%s: position %lld acknowledged before every sink made it durable", st->name,
               (long long)pos);
      return;
    }
  /* What sl_state_save does when called from ack. */
  s->latest = cp->a;
  s->dirty = 1;
  if (st->ack && !st->ack->held) {
    s->held_latest += st->ack->records;
    st->ack->held = 1;
  }
  if (!s->busy) start_write(s);
}

static void src_pause(sl_stage *st) {
  sim_trace("pause %s", st->name);
  src_of(st)->paused = 1;
}
static void src_resume(sl_stage *st) {
  sim_trace("resume %s", st->name);
  src_of(st)->paused = 0;
}
static void src_stop(sl_stage *st) { sim_trace("stop %s", st->name); }

static const sl_plugin source_plugin = {
    .kind = SL_SOURCE,
    .name = "sim.source",
    .ack = src_ack,
    .pause = src_pause,
    .resume = src_resume,
    .stop = src_stop,
};

void sim_source_emit(sim_source *s) {
  int i = s->st.index;
  int64_t left = sim.cfg.records[i] - s->next;
  int64_t n = sim_chance(5) ? 0 : 1 + (int64_t)(sim_rand() % sim.cfg.batch_size);
  if (n > left) n = left;
  sl_batch *b = sl_batch_new(&s->st);
  for (int64_t pos = s->next; pos < s->next + n; pos++) {
    sl_record *r = sl_batch_add(b);
    r->meta.partition = i;
    r->meta.offset = pos;
    char raw[32];
    int len = snprintf(raw, sizeof raw, "s%d:%lld", i, (long long)pos);
    r->raw.ptr = sl_arena_memdup(&b->arena, raw, (size_t)len);
    r->raw.len = (size_t)len;
  }
  sl_checkpoint cp = {.a = s->next + n, .b = s->next};
  sl_batch_set_checkpoint(b, &cp);
  s->emitted[s->nemitted++] = (sim_emitted){s->next, s->next + n};
  sim_trace("emit %s [%lld,%lld)", s->st.name, (long long)s->next, (long long)(s->next + n));
  s->next += n;
  sl_source_emit(&s->st, b);
}

/* The checkpoint file is written (or, in a faulty run, the write fails and
 * the pipeline stops, as state.c's save_failed). */
void sim_source_state_written(sim_source *s) {
  sl_pipeline *p = &live.p;
  s->busy = 0;
  p->statefiles_busy--;
  if (live.breakable && sim_chance(2)) {
    sim.faults++;
    sim_trace("checkpoint write of %s fails", s->st.name);
    if (!p->exit_code) p->exit_code = SL_EXIT_STATE;
    p->state_hooks->failed(p);
  } else {
    sim_trace("checkpoint of %s written: %lld", s->st.name, (long long)s->writing);
    sim.saved[s->st.index] = s->writing;
  }
  uint64_t held = s->held_writing;
  s->held_writing = 0;
  if (held) p->state_hooks->released(p, held);
  if (s->dirty) start_write(s);
  else p->state_hooks->settled(p);
}

/* Whether sink k may fail for good in this run.  Not the dead-letter sink
 * of an exactly_once pipeline, unless --known-holes: a sink that waits for
 * its rejected records' dead letters before committing (pg.sink,
 * sl_sink_send_rejects) is never told when they fail for good, and waits
 * forever (docs/internals/simulation.md, "Known holes"). */
static int may_break(const sim_sink *k) {
  return live.breakable && !(k->st.is_dlq && sim.cfg.exactly_once && !sim.known_holes);
}

/* ---- queue sinks ---- */

static sim_sink *sink_of(sl_stage *st) { return (sim_sink *)st; }

/* A mark on a sink batch whose rejects were decided (a retry decides none). */
static char rejects_decided;

/* Rejects the records of sb that sink k turns away, once. */
static int reject_once(sim_sink *k, sl_sink_batch *sb) {
  if (sb->sink_data == &rejects_decided) return 0;
  sb->sink_data = &rejects_decided;
  int any = 0;
  for (uint32_t i = 0; i < sb->n; i++) {
    const sl_meta *m = &sb->recs[i]->meta;
    if (sim_route_of(m->partition, m->offset).rejected_by == k->k) {
      sim_turned_away(sb, i);
      sl_sink_reject(sb, i, "sim: rejected");
      any = 1;
    }
  }
  return any;
}

/* exactly_once: whether the group was committed already (an attempt whose
 * outcome was lost): every batch at or before the position stored. */
static int committed_before(const sl_sink_batch *g) {
  for (; g; g = g->next) {
    int s = g->batch->source->index;
    if (!sim.has_stored[s] || g->batch->cp.a > sim.stored[s]) return 0;
  }
  return 1;
}

/* The group becomes durable: its records (not the rejected ones) and, for
 * exactly_once, its sources' positions, at once. */
static void commit(sim_sink *k, sl_sink_batch *g) {
  for (sl_sink_batch *sb = g; sb; sb = sb->next) {
    if (!k->st.is_dlq) reject_once(k, sb);
    sl_sink_batch durable = *sb;
    /* The rejected records are not written. */
    sl_record *kept[SIM_RECORDS];
    durable.recs = kept;
    durable.n = 0;
    for (uint32_t i = 0; i < sb->n; i++) {
      const sl_meta *m = &sb->recs[i]->meta;
      if (k->st.is_dlq || sim_route_of(m->partition, m->offset).rejected_by != k->k)
        kept[durable.n++] = sb->recs[i];
    }
    sim_durable(k->k, &durable);
    if (sim.cfg.exactly_once && !k->st.is_dlq) {
      int s = sb->batch->source->index;
      sim.stored[s] = sb->batch->cp.a;
      sim.has_stored[s] = 1;
    }
  }
}

static void rejects_durable(void *arg) {
  sim_sink *k = arg;
  k->waiting_rejects--;
  sim_trace("%s: dead letters durable, %d to go", k->st.name, k->waiting_rejects);
}

/* exactly_once: the group's rejected records go to the dead-letter sink
 * before the commit (as pg.sink does).  1 if the commit must wait. */
static int send_rejects_first(sim_sink *k, sl_sink_batch *g) {
  for (sl_sink_batch *sb = g; sb; sb = sb->next) {
    if (!reject_once(k, sb)) continue;
    k->waiting_rejects++;   /* before: durable may be called inside */
    if (sl_sink_send_rejects(sb, rejects_durable, k) != 0) k->waiting_rejects--;
  }
  return k->waiting_rejects > 0;
}

void sim_queue_group_ends(sim_sink *k) {
  sl_sink_batch *g = k->group;
  int eo = sim.cfg.exactly_once && !k->st.is_dlq;
  int r = (int)(sim_rand() % 100);
  if (r < sim.cfg.pct_retry) {
    sim.errors++;
    sim_trace("%s: write of %u batches fails, retry", k->st.name, k->group_n);
    k->group = NULL;
    sl_sink_queue_written(&k->q, SL_EIO, "sim: write failed");
    return;
  }
  if (may_break(k) && r < sim.cfg.pct_retry + 2) {
    sim.faults++;
    sim_trace("%s: write of %u batches fails for good", k->st.name, k->group_n);
    k->group = NULL;
    sl_sink_queue_written(&k->q, SIM_EBROKEN, "sim: broken for good");
    return;
  }
  int again = eo && committed_before(g);
  if (eo && !again && send_rejects_first(k, g)) {
    sim_trace("%s: commit waits for dead letters", k->st.name);
    return;   /* the group ends at a later event, once they are durable */
  }
  if (again) sim_trace("%s: group was committed already", k->st.name);
  else commit(k, g);
  k->group = NULL;
  if (sim_chance(sim.cfg.pct_unknown)) {
    sim.faults++;
    sim_trace("%s: %u batches committed, outcome lost", k->st.name, k->group_n);
    sl_sink_queue_written(&k->q, SL_EIO, "sim: commit outcome unknown");
    return;
  }
  sim_trace("%s: %u batches committed", k->st.name, k->group_n);
  sl_sink_queue_written(&k->q, 0, NULL);
}

static void q_write(void *ctx, sl_sink_batch *first, uint32_t n) {
  sim_sink *k = ctx;
  k->group = first;
  k->group_n = n;
  sim_trace("%s: group of %u batches handed over", k->st.name, n);
  if (sim_chance(sim.cfg.pct_inline)) sim_queue_group_ends(k);
}

static int q_permanent(void *ctx, int err) {
  (void)ctx;
  return err == SIM_EBROKEN;
}

static int q_ready(void *ctx) { return ((sim_sink *)ctx)->connected; }

static void q_resume(void *ctx) {
  sim_sink *k = ctx;
  if (sim_chance(30)) {
    sim.errors++;
    sim_trace("%s: reconnect fails", k->st.name);
    sl_sink_queue_retry(&k->q, "sim: reconnect failed");
    return;
  }
  sim_trace("%s: reconnected", k->st.name);
  k->connected = 1;
}

static const sl_sink_queue_ops queue_ops = {
    .write = q_write,
    .permanent = q_permanent,
    .ready = q_ready,
    .resume = q_resume,
};

/* The connection drops while idle: reconnect after a pause. */
void sim_queue_drop(sim_sink *k) {
  k->drops++;
  sim.errors++;
  k->connected = 0;
  sim_trace("%s: connection lost", k->st.name);
  sl_sink_queue_retry(&k->q, "sim: connection lost");
}

static int queue_write(sl_stage *st, sl_sink_batch *sb) {
  sl_sink_queue_push(&sink_of(st)->q, sb);
  return 0;
}
static void queue_flush(sl_stage *st) {
  sim_trace("flush %s", st->name);
  sl_sink_queue_flush(&sink_of(st)->q);
}

static const sl_plugin queue_plugin = {
    .kind = SL_SINK,
    .name = "sim.queue_sink",
    .write = queue_write,
    .flush = queue_flush,
};

/* ---- reorder sinks ---- */

/* Batch sb of sink k is durable, or (in a faulty run, rarely) failed for
 * good. */
static void reorder_finish(sim_sink *k, sl_sink_batch *sb) {
  if (may_break(k) && sim_chance(1)) {
    sim.faults++;
    sim_trace("%s: batch %llu of %s fails for good", k->st.name,
              (unsigned long long)sb->batch->seq, sb->batch->source->name);
    sl_sink_failed(sb, "sim: delivery failed for good");
    return;
  }
  sim_trace("%s: batch %llu of %s durable", k->st.name, (unsigned long long)sb->batch->seq,
            sb->batch->source->name);
  sb->next = NULL;   /* commit takes a group: this batch alone */
  commit(k, sb);
  sl_sink_done(sb);
}

static void reorder_flushed_yet(sim_sink *k) {
  if (k->flushing && !k->npending) {
    k->flushing = 0;
    sl_stage_flushed(&k->st);
  }
}

static int reorder_write(sl_stage *st, sl_sink_batch *sb) {
  sim_sink *k = sink_of(st);
  if (!st->is_dlq && sim_chance(sim.cfg.pct_sync_error)) {
    sim.errors++;
    sim_trace("%s: write refused at once", st->name);
    for (uint32_t i = 0; i < sb->n; i++) sim_turned_away(sb, i);
    return SL_EIO;   /* the flow dead-letters its records */
  }
  if (sim_chance(sim.cfg.pct_inline)) {
    reorder_finish(k, sb);   /* inside write */
    return 0;
  }
  k->pending[k->npending++] = sb;
  return 0;
}

static void reorder_flush(sl_stage *st) {
  sim_trace("flush %s", st->name);
  sink_of(st)->flushing = 1;
  reorder_flushed_yet(sink_of(st));
}

void sim_reorder_done(sim_sink *k, int i) {
  sl_sink_batch *sb = k->pending[i];
  k->pending[i] = k->pending[--k->npending];
  reorder_finish(k, sb);
  reorder_flushed_yet(k);
}

static const sl_plugin reorder_plugin = {
    .kind = SL_SINK,
    .name = "sim.reorder_sink",
    .write = reorder_write,
    .flush = reorder_flush,
};

/* ---- a run's stages ---- */

static char names[SIM_SOURCES + SIM_SINKS + 1][16];

void sim_stages_setup(sim_pipe *sp) {
  const sim_cfg *c = &sim.cfg;
  sl_pipeline *p = &sp->p;
  for (int i = 0; i < c->nsources; i++) {
    sim_source *s = &sp->src[i];
    snprintf(names[i], sizeof names[i], "src%d", i);
    s->st = (sl_stage){.plugin = &source_plugin, .kind = SL_SOURCE, .name = names[i], .index = i,
                       .p = p, .unlaned = sp->unlaned[i]};
    s->emitted = calloc((size_t)c->records[i] + SIM_PENDING, sizeof *s->emitted);
    s->next = c->exactly_once && sim.has_stored[i] ? sim.stored[i] : sim.saved[i];
    sp->sources[i] = &s->st;
  }
  for (int k = 0; k <= c->nsinks; k++) {
    sim_sink *s = &sp->sink[k];
    char *name = names[SIM_SOURCES + k];
    snprintf(name, sizeof names[0], k < c->nsinks ? "sink%d" : "dlq", k);
    s->kind = c->kind[k];
    s->k = k;
    s->st = (sl_stage){.plugin = s->kind == SIM_QUEUE ? &queue_plugin : &reorder_plugin,
                       .kind = SL_SINK, .name = name, .index = k, .p = p, .is_dlq = k == c->nsinks};
    if (s->kind == SIM_QUEUE) {
      sl_sink_queue_cfg qc = {.max_batches = c->max_batches[k], .max_records = c->max_records[k],
                              .backoff_initial_ms = 1, .backoff_max_ms = 8};
      sl_sink_queue_init(&s->q, &s->st, &queue_ops, s, &qc);
      s->connected = 1;
    } else {
      s->pending = calloc(SIM_PENDING, sizeof *s->pending);
    }
    sp->sinks[k] = &s->st;
  }
}

/* After a crash or the end: frees what the run held; what was in flight
 * is gone, as in a killed process. */
void sim_stages_teardown(sim_pipe *sp) {
  for (int i = 0; i < sim.cfg.nsources; i++) {
    sl_batch *b = sp->src[i].st.head;
    while (b) {
      sl_batch *next = b->next;
      sl__batch_free(b);
      b = next;
    }
    free(sp->src[i].emitted);
  }
  for (int k = 0; k <= sim.cfg.nsinks; k++) {
    if (sp->sink[k].kind == SIM_QUEUE) sl_sink_queue_close(&sp->sink[k].q);
    free(sp->sink[k].pending);
  }
}
