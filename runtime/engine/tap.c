/* Taps: sampled copies of the records leaving a stage, from the worker
 * threads to the loop thread through a bounded queue per tap (tap.h). */
#include "engine/tap.h"

#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"
#include "sluice/catalog.h"
#include "sluice/clock.h"
#include "sluice/codec.h"

/* The taps of a pipeline.  Workers hold lock for reading while they look
 * at the slots and fill queues; the loop thread takes it for writing to
 * attach and detach, so that a detached tap is no worker's any more. */
typedef struct sl_taps {
  pthread_rwlock_t lock;
  sl_tap *slot[SL_TAP_MAX];
} sl_taps;

struct sl_tap {
  sl_pipeline *p;
  sl_stage *stage;
  sl_tap_opts o;
  char *names;                /* the field names' storage */
  sl_buf where_json;          /* where_value as a JSON string */
  /* Fields marked sensitive in a feed of a catalog a step uses: shown as
   * "***", whatever the stage's output holds. */
  char **sensitive;
  int nsensitive;
  atomic_uint_fast64_t seen;  /* records that left the stage since attach */
  pthread_mutex_t mu;         /* the queue and the counts below */
  sl_buf queue;               /* whole lines, at most SL_TAP_QUEUE bytes */
  uint64_t lines;             /* lines queued since attach */
  int full;                   /* the limit was reached */
  atomic_uint_fast64_t dropped;  /* samples lost since the last take */
  atomic_int no_room;         /* a line did not fit: until the next take, samples are
                                 dropped without being encoded */
  uv_timer_t timer;           /* the loop thread takes the queue every SL_TAP_FLUSH_MS */
  void (*wake)(void *arg);
  void *arg;
};

/* The loop thread looks at the queue on a timer rather than being woken
 * by the workers: no system call on their side, and some tens of wake-ups
 * a second however many lines come. */
static void on_timer(uv_timer_t *h) {
  sl_tap *t = h->data;
  t->wake(t->arg);
}

/* Keeps the options' strings in storage of the tap's own. */
static int copy_opts(sl_tap *t, const sl_tap_opts *o) {
  t->o = *o;
  if (!t->o.every) t->o.every = 1;
  size_t n = 0;
  for (int i = 0; i < o->nfields; i++) n += strlen(o->fields[i]) + 1;
  if (o->where_field) n += strlen(o->where_field) + strlen(o->where_value) + 2;
  if (!n) return 0;
  char *at = t->names = malloc(n);
  if (!at) return SL_ENOMEM;
  const char **strs[SL_TAP_MAX_FIELDS + 2];
  int nstrs = 0;
  for (int i = 0; i < o->nfields; i++) strs[nstrs++] = &t->o.fields[i];
  if (o->where_field) {
    strs[nstrs++] = &t->o.where_field;
    strs[nstrs++] = &t->o.where_value;
    sl_buf_json_string(&t->where_json, o->where_value, strlen(o->where_value));
    if (t->where_json.oom) return SL_ENOMEM;
  }
  for (int i = 0; i < nstrs; i++) {
    size_t len = strlen(*strs[i]) + 1;
    memcpy(at, *strs[i], len);
    *strs[i] = at;
    at += len;
  }
  return 0;
}

static int is_listed(char **names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return 1;
  return 0;
}

/* Gathers the sensitive fields of every catalog the steps were given
 * (sl_plugin.catalog): in any feed, whichever feed a record is of. */
static int gather_sensitive(sl_tap *t, sl_pipeline *p) {
  for (int i = 0; i < p->nsteps; i++) {
    sl_stage *st = p->steps[i];
    const sl_catalog *c = st->plugin && st->plugin->catalog && st->inited ? st->plugin->catalog(st) : NULL;
    for (int f = 0; c && f < c->nfeeds; f++)
      for (int k = 0; k < c->feeds[f].nfields; k++) {
        const sl_catalog_field *fd = &c->feeds[f].fields[k];
        if (!fd->sensitive || is_listed(t->sensitive, t->nsensitive, fd->name)) continue;
        char **more = realloc(t->sensitive, (size_t)(t->nsensitive + 1) * sizeof *more);
        if (!more) return SL_ENOMEM;
        t->sensitive = more;
        if (!(more[t->nsensitive] = strdup(fd->name))) return SL_ENOMEM;
        t->nsensitive++;
      }
  }
  return 0;
}

static void tap_free(sl_tap *t) {
  sl_buf_free(&t->where_json);
  for (int i = 0; i < t->nsensitive; i++) free(t->sensitive[i]);
  free(t->sensitive);
  free(t->names);
  free(t);
}

int sl__tap_attach(sl_pipeline *p, sl_stage *st, const sl_tap_opts *o, void (*wake)(void *arg),
                   void *arg, sl_tap **out) {
  if (!p->taps) {
    sl_taps *ts = calloc(1, sizeof *ts);
    if (!ts) return SL_ENOMEM;
    pthread_rwlock_init(&ts->lock, NULL);
    p->taps = ts;
  }
  sl_taps *ts = p->taps;
  int free_slot = -1;
  for (int i = SL_TAP_MAX - 1; i >= 0; i--)
    if (!ts->slot[i]) free_slot = i;
  if (free_slot < 0) return SL_EAGAIN;
  sl_tap *t = calloc(1, sizeof *t);
  if (!t) return SL_ENOMEM;
  if (copy_opts(t, o) || gather_sensitive(t, p)) {
    tap_free(t);
    return SL_ENOMEM;
  }
  t->p = p;
  t->stage = st;
  t->wake = wake;
  t->arg = arg;
  pthread_mutex_init(&t->mu, NULL);
  uv_timer_init(p->loop, &t->timer);
  t->timer.data = t;
  uv_timer_start(&t->timer, on_timer, SL_TAP_FLUSH_MS, SL_TAP_FLUSH_MS);
  pthread_rwlock_wrlock(&ts->lock);
  ts->slot[free_slot] = t;
  atomic_fetch_add_explicit(&st->taps, 1, memory_order_relaxed);
  pthread_rwlock_unlock(&ts->lock);
  atomic_fetch_add_explicit(&p->ntaps, 1, memory_order_release);
  *out = t;
  return 0;
}

int sl__tap_take(sl_tap *t, sl_buf *out) {
  pthread_mutex_lock(&t->mu);
  sl_buf_append(out, t->queue.ptr, t->queue.len);
  t->queue.len = 0;
  atomic_store_explicit(&t->no_room, 0, memory_order_relaxed);
  uint64_t dropped = atomic_exchange_explicit(&t->dropped, 0, memory_order_relaxed);
  if (dropped) sl_buf_printf(out, "{\"dropped\":%llu}\n", (unsigned long long)dropped);
  int complete = t->full;
  pthread_mutex_unlock(&t->mu);
  return complete;
}

static void free_tap(uv_handle_t *h) {
  sl_tap *t = h->data;
  pthread_mutex_destroy(&t->mu);
  sl_buf_free(&t->queue);
  tap_free(t);
}

void sl__tap_detach(sl_tap *t) {
  sl_taps *ts = t->p->taps;
  pthread_rwlock_wrlock(&ts->lock);
  for (int i = 0; i < SL_TAP_MAX; i++)
    if (ts->slot[i] == t) ts->slot[i] = NULL;
  atomic_fetch_sub_explicit(&t->stage->taps, 1, memory_order_relaxed);
  pthread_rwlock_unlock(&ts->lock);
  atomic_fetch_sub_explicit(&t->p->ntaps, 1, memory_order_release);
  uv_close((uv_handle_t *)&t->timer, free_tap);
}

void sl__taps_free(sl_pipeline *p) {
  if (!p->taps) return;
  pthread_rwlock_destroy(&p->taps->lock);
  free(p->taps);
  p->taps = NULL;
}

/* ---- the workers' side ---- */

static int is_sensitive(const sl_tap *t, sl_str name) {
  for (int i = 0; i < t->nsensitive; i++)
    if (strlen(t->sensitive[i]) == name.len && !memcmp(t->sensitive[i], name.ptr, name.len)) return 1;
  return 0;
}

static void put_member(sl_buf *b, const sl_tap *t, int *first, sl_str name, const sl_value *v) {
  if (!*first) sl_buf_putc(b, ',');
  *first = 0;
  sl_buf_json_string(b, name.ptr, name.len);
  sl_buf_putc(b, ':');
  if (is_sensitive(t, name)) sl_buf_puts(b, "\"***\"");
  else sl_json_encode_value(b, v);
}

/* The record's fields, or those of them the tap keeps, as a JSON object;
 * sensitive fields masked. */
static void put_record(sl_buf *b, const sl_tap *t, sl_record *rec) {
  if (!t->o.nfields && !t->nsensitive) {
    sl_json_encode_record(b, rec);
    return;
  }
  sl_buf_putc(b, '{');
  int first = 1;
  if (!t->o.nfields) {
    for (uint32_t i = 0; i < rec->nfields; i++)
      put_member(b, t, &first, rec->fields[i].name, &rec->fields[i].value);
  }
  for (int i = 0; i < t->o.nfields; i++) {
    const char *name = t->o.fields[i];
    sl_value *v = sl_record_get(rec, name, strlen(name));
    if (v) put_member(b, t, &first, (sl_str){name, strlen(name)}, v);
  }
  sl_buf_putc(b, '}');
}

/* One line: the stage, the time, where the record came from, the record.
 * A record not decoded (a dead letter's envelope, built as text) shows as
 * its raw text. */
static void put_line(sl_buf *b, const sl_tap *t, const char *when, sl_record *rec) {
  sl_buf_puts(b, "{\"stage\":");
  sl_buf_json_string(b, t->stage->name, strlen(t->stage->name));
  sl_buf_printf(b, ",\"time\":\"%s\"", when);
  const sl_meta *m = &rec->meta;
  if (m->origin.ptr) {
    sl_buf_puts(b, ",\"origin\":");
    sl_buf_json_string(b, m->origin.ptr, m->origin.len);
  }
  if (m->partition >= 0) sl_buf_printf(b, ",\"partition\":%d", (int)m->partition);
  if (m->offset >= 0) sl_buf_printf(b, ",\"offset\":%lld", (long long)m->offset);
  if (m->key.ptr) {
    sl_buf_puts(b, ",\"key\":");
    sl_buf_json_string(b, m->key.ptr, m->key.len);
  }
  if (rec->state == SL_REC_RAW) {
    sl_buf_puts(b, ",\"raw\":");
    sl_buf_json_string(b, rec->raw.ptr ? rec->raw.ptr : "", rec->raw.len);
  } else {
    sl_buf_puts(b, ",\"record\":");
    put_record(b, t, rec);
  }
  sl_buf_puts(b, "}\n");
}

/* Queues one line, or counts it dropped when the queue has no room. */
static void offer(sl_tap *t, const sl_buf *line) {
  pthread_mutex_lock(&t->mu);
  if (t->full) {
    /* the limit is reached: nothing more is wanted */
  } else if (line->oom || t->queue.len + line->len > SL_TAP_QUEUE) {
    atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
    atomic_store_explicit(&t->no_room, 1, memory_order_relaxed);
  } else {
    sl_buf_append(&t->queue, line->ptr, line->len);
    t->lines++;
    if (t->o.limit && t->lines >= t->o.limit) t->full = 1;
  }
  pthread_mutex_unlock(&t->mu);
}

/* Whether rec passes the tap's where: its field's JSON text is the value
 * as a JSON string, or the value itself (a number, true, false, null).
 * scratch is the caller's. */
static int passes(const sl_tap *t, sl_record *rec, sl_buf *scratch) {
  if (!t->o.where_field) return 1;
  if (rec->state == SL_REC_RAW) return 0;
  sl_value *v = sl_record_get(rec, t->o.where_field, strlen(t->o.where_field));
  if (!v) return 0;
  scratch->len = 0;
  sl_json_encode_value(scratch, v);
  size_t vn = strlen(t->o.where_value);
  return (scratch->len == t->where_json.len &&
          !memcmp(scratch->ptr, t->where_json.ptr, t->where_json.len)) ||
         (scratch->len == vn && !memcmp(scratch->ptr, t->o.where_value, vn));
}

/* One sampled record into the queue, unless the client is behind. */
static void take_sample(sl_tap *t, sl_record *rec, const char *when, sl_buf *line, sl_buf *shown) {
  if (atomic_load_explicit(&t->no_room, memory_order_relaxed)) {
    /* the client is behind: a line would not fit, so none is made */
    atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
    return;
  }
  line->len = shown->len = 0;
  line->oom = shown->oom = 0;
  put_line(line, t, when, rec);
  sl__secret_redact(shown, line->ptr ? line->ptr : "", line->len);
  if (line->oom) shown->oom = 1;
  offer(t, shown);
}

/* The records of one batch that t samples: one in every `every` (of those
 * that pass its where), counted across the workers from the tap's attach.
 * Without a where, one atomic add per batch. */
static void sample(sl_tap *t, sl_record *const *recs, size_t n) {
  uint64_t every = t->o.every;
  uint64_t first = 0;
  if (!t->o.where_field) {
    uint64_t base = atomic_fetch_add_explicit(&t->seen, n, memory_order_relaxed);
    first = (every - base % every) % every;
    if (first >= n) return;
  }
  char when[SL_TIME_MS_LEN];
  sl_format_time_ms(when, sizeof when, sl_now_ms());
  sl_buf line = SL_BUF_INIT, shown = SL_BUF_INIT, scratch = SL_BUF_INIT;
  for (uint64_t i = first; i < n; i += t->o.where_field ? 1 : every) {
    if (recs[i]->state == SL_REC_FAILED) continue;
    if (t->o.where_field) {
      if (!passes(t, recs[i], &scratch)) continue;
      if (atomic_fetch_add_explicit(&t->seen, 1, memory_order_relaxed) % every) continue;
    }
    take_sample(t, recs[i], when, &line, &shown);
  }
  sl_buf_free(&line);
  sl_buf_free(&shown);
  sl_buf_free(&scratch);
}

void sl__tap_records(sl_pipeline *p, sl_stage *st, sl_record *const *recs, size_t n) {
  /* Another stage's tap costs this one a relaxed load per call. */
  if (!n || !atomic_load_explicit(&st->taps, memory_order_relaxed)) return;
  if (!atomic_load_explicit(&p->ntaps, memory_order_acquire)) return;
  sl_taps *ts = p->taps;
  pthread_rwlock_rdlock(&ts->lock);
  for (int i = 0; i < SL_TAP_MAX; i++)
    if (ts->slot[i] && ts->slot[i]->stage == st) sample(ts->slot[i], recs, n);
  pthread_rwlock_unlock(&ts->lock);
}
