/* Stage metrics: families registered by plugins (counters and gauges with
 * labels), and the Prometheus text exposition of them and of the engine's
 * own counters. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/secrets.h"
#include "engine/engine.h"
#include "engine/metrics.h"

typedef struct series {
  char **values;          /* one per label */
  int64_t v;
  double d;               /* is_double: the value */
  int is_double;
  double *le;             /* SL_HISTOGRAM: nb upper bounds, counts[nb + 1], sum in d */
  int64_t *counts;
  int nb;
  struct series *next;
} series;

struct sl_metric {
  sl_stage *st;
  sl_metric_kind kind;
  char *name;
  char *help;
  char **labels;
  int nlabels;
  pthread_mutex_t mu;
  series *head;
  struct sl_metric *next;
};

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* Finds or makes the family `name` of st in *list (the caller locks). */
static sl_metric *family_in(sl_metric **list, sl_stage *st, sl_metric_kind kind,
                            const char *name, const char *help, const char *const *labels) {
  for (sl_metric *m = *list; m; m = m->next)
    if (m->st == st && strcmp(m->name, name) == 0) return m;
  sl_metric *m = calloc(1, sizeof *m);
  if (m) {
    m->st = st;
    m->kind = kind;
    m->name = strdup(name);
    m->help = dup_or_empty(help);
    while (labels && labels[m->nlabels]) m->nlabels++;
    m->labels = calloc((size_t)m->nlabels + 1, sizeof *m->labels);
    for (int i = 0; m->labels && i < m->nlabels; i++) m->labels[i] = strdup(labels[i]);
    pthread_mutex_init(&m->mu, NULL);
    m->next = *list;
    *list = m;
  }
  return m;
}

sl_metric *sl_stage_metric(sl_stage *st, sl_metric_kind kind, const char *name,
                           const char *help, const char *const *labels) {
  sl_pipeline *p = st->p;
  pthread_mutex_lock(&p->metrics_mu);
  sl_metric *m = family_in(&p->metrics, st, kind, name, help, labels);
  pthread_mutex_unlock(&p->metrics_mu);
  return m;
}

static series *find_series(sl_metric *m, const char *const *values) {
  for (series *s = m->head; s; s = s->next) {
    int same = 1;
    for (int i = 0; i < m->nlabels && same; i++)
      same = strcmp(s->values[i], values && values[i] ? values[i] : "") == 0;
    if (same) return s;
  }
  series *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->values = calloc((size_t)m->nlabels + 1, sizeof *s->values);
  for (int i = 0; s->values && i < m->nlabels; i++)
    s->values[i] = dup_or_empty(values ? values[i] : NULL);
  s->next = m->head;
  m->head = s;
  return s;
}

static void update(sl_metric *m, const char *const *values, int64_t v, int add) {
  if (!m) return;
  pthread_mutex_lock(&m->mu);
  series *s = find_series(m, values);
  if (s) s->v = add ? s->v + v : v;
  pthread_mutex_unlock(&m->mu);
}

void sl_metric_add(sl_metric *m, const char *const *values, int64_t delta) {
  update(m, values, delta, 1);
}

void sl_metric_set(sl_metric *m, const char *const *values, int64_t value) {
  update(m, values, value, 0);
}

struct sl_collector {
  sl_stage *st;
  sl_metric *list;
};

void sl_collect(sl_collector *c, sl_metric_kind kind, const char *name, const char *help,
                const char *const *labels, const char *const *values, int64_t value) {
  update(family_in(&c->list, c->st, kind, name, help, labels), values, value, 1);
}

static void free_list(sl_metric *m) {
  while (m) {
    sl_metric *next = m->next;
    series *s = m->head;
    while (s) {
      series *sn = s->next;
      for (int i = 0; i < m->nlabels; i++) free(s->values[i]);
      free(s->values);
      free(s->le);
      free(s->counts);
      free(s);
      s = sn;
    }
    for (int i = 0; i < m->nlabels; i++) free(m->labels[i]);
    free(m->labels);
    free(m->name);
    free(m->help);
    pthread_mutex_destroy(&m->mu);
    free(m);
    m = next;
  }
}

void sl_collect_double(sl_collector *c, sl_metric_kind kind, const char *name, const char *help,
                       const char *const *labels, const char *const *values, double value) {
  sl_metric *m = family_in(&c->list, c->st, kind, name, help, labels);
  if (!m) return;
  series *s = find_series(m, values);
  if (!s) return;
  s->d += value;
  s->is_double = 1;
}

void sl_collect_histogram(sl_collector *c, const char *name, const char *help,
                          const char *const *labels, const char *const *values, const double *le,
                          const int64_t *counts, int nb, double sum) {
  sl_metric *m = family_in(&c->list, c->st, SL_HISTOGRAM, name, help, labels);
  series *s = m ? find_series(m, values) : NULL;
  if (!s) return;
  if (!s->counts) {
    s->le = malloc((size_t)(nb ? nb : 1) * sizeof *s->le);
    s->counts = calloc((size_t)nb + 1, sizeof *s->counts);
    if (!s->le || !s->counts) {
      free(s->le);
      free(s->counts);
      s->le = NULL;
      s->counts = NULL;
      return;
    }
    memcpy(s->le, le, (size_t)nb * sizeof *le);
    s->nb = nb;
  }
  for (int i = 0; i <= nb && i <= s->nb; i++) s->counts[i] += counts[i];
  s->d += sum;
}

void sl__metrics_free(sl_pipeline *p) {
  free_list(p->metrics);
  p->metrics = NULL;
}

/* ---- exposition ---- */

/* A label value with \, " and newline escaped as the text format wants,
 * and a value read with sl.env shown as its name. */
static void put_label(sl_buf *b, const char *name, const char *value) {
  sl_buf shown = SL_BUF_INIT;
  sl__secret_redact(&shown, value, strlen(value));
  sl_buf_putc(&shown, 0);
  if (!shown.oom) value = shown.ptr;
  sl_buf_printf(b, "%s=\"", name);
  for (const char *c = value; *c; c++) {
    if (*c == '\\' || *c == '"') sl_buf_putc(b, '\\');
    if (*c == '\n') {
      sl_buf_puts(b, "\\n");
      continue;
    }
    sl_buf_putc(b, *c);
  }
  sl_buf_putc(b, '"');
  sl_buf_free(&shown);
}

static void family(sl_buf *b, const char *name, const char *type, const char *help) {
  sl_buf_printf(b, "# HELP sluice_%s %s\n# TYPE sluice_%s %s\n", name, help, name, type);
}

static void sample(sl_buf *b, const char *name, const sl_pipeline *p, const sl_stage *st,
                   int64_t v) {
  sl_buf_printf(b, "sluice_%s{", name);
  put_label(b, "pipeline", p->name);
  if (st) {
    sl_buf_putc(b, ',');
    put_label(b, "stage", st->name);
  }
  sl_buf_printf(b, "} %lld\n", (long long)v);
}

typedef int64_t (*stage_value)(const sl_stage *st);
static int64_t src_read(const sl_stage *s) { return (int64_t)s->records_in; }
static int64_t src_acked(const sl_stage *s) { return (int64_t)s->records_acked; }
static int64_t src_paused(const sl_stage *s) { return s->paused && !s->finished; }
static int64_t sink_written(const sl_stage *s) { return (int64_t)s->records_done; }
static int64_t sink_rejected(const sl_stage *s) { return (int64_t)s->records_failed; }

static void stage_family(sl_buf *b, const sl_pipeline *p, sl_stage *const *list, int n,
                         const char *name, const char *type, const char *help, stage_value f) {
  family(b, name, type, help);
  for (int i = 0; i < n; i++) sample(b, name, p, list[i], f(list[i]));
}

static void expose_families(sl_pipeline *p, sl_metric **fams, size_t n, sl_buf *b);
static void expose_series(sl_pipeline *p, sl_metric *m, sl_buf *b);

void sl__metrics_expose(sl_pipeline *p, sl_buf *b) {
  family(b, "up", "gauge", "1 while the pipeline runs, 0 while it drains or stops.");
  sample(b, "up", p, NULL, p->run == SL_RUN_RUNNING);
  stage_family(b, p, p->sources, p->nsources, "source_records_total", "counter",
               "Records read by the source.", src_read);
  stage_family(b, p, p->sources, p->nsources, "source_acked_records_total", "counter",
               "Records durable in every sink (or dropped), so the source may move past them.",
               src_acked);
  stage_family(b, p, p->sources, p->nsources, "source_paused", "gauge",
               "1 while the source is paused by backpressure.", src_paused);
  stage_family(b, p, p->sinks, p->nsinks, "sink_records_total", "counter",
               "Records the sink made durable.", sink_written);
  stage_family(b, p, p->sinks, p->nsinks, "sink_rejected_records_total", "counter",
               "Records the sink refused for good (sent to the dead-letter sink).", sink_rejected);
  family(b, "dead_letters_total", "counter", "Records handed to the dead-letter sink.");
  sample(b, "dead_letters_total", p, NULL, (int64_t)p->sinks[p->nsinks - 1]->records_in);
  family(b, "dropped_records_total", "counter", "Records dropped on purpose by steps.");
  sample(b, "dropped_records_total", p, NULL, (int64_t)p->records_dropped);
  family(b, "inflight_records", "gauge", "Records read and not yet durable everywhere.");
  sample(b, "inflight_records", p, NULL, (int64_t)p->inflight_records);
  family(b, "inflight_bytes", "gauge", "Bytes held by batches in flight.");
  sample(b, "inflight_bytes", p, NULL, (int64_t)p->inflight_bytes);

  /* Families that plugins count themselves, gathered now, and those the
   * runtime keeps: one list, so that a family two stages have (two Kafka
   * sources, two pg.sinks) gets one HELP and TYPE, as the text format wants. */
  sl_stage **lists[3] = {p->sources, p->steps, p->sinks};
  int counts[3] = {p->nsources, p->nsteps, p->nsinks};
  sl_metric *collected = NULL;
  for (int l = 0; l < 3; l++)
    for (int i = 0; i < counts[l]; i++) {
      sl_stage *st = lists[l][i];
      if (!st->plugin || !st->plugin->collect || !st->inited) continue;
      sl_collector c = {st, NULL};
      st->plugin->collect(st, &c);
      sl_metric **tail = &c.list;
      while (*tail) tail = &(*tail)->next;
      *tail = collected;
      collected = c.list;
    }
  pthread_mutex_lock(&p->metrics_mu);
  size_t n = 0;
  for (sl_metric *m = p->metrics; m; m = m->next) n++;
  for (sl_metric *m = collected; m; m = m->next) n++;
  sl_metric **fams = malloc((n ? n : 1) * sizeof *fams);
  if (fams) {
    size_t k = 0;
    for (sl_metric *m = p->metrics; m; m = m->next) fams[k++] = m;
    for (sl_metric *m = collected; m; m = m->next) fams[k++] = m;
    expose_families(p, fams, n, b);
    free(fams);
  } else {
    b->oom = 1;
  }
  pthread_mutex_unlock(&p->metrics_mu);
  free_list(collected);
}

/* "sluice_<name><suffix>{pipeline=...,stage=...,labels...[,le=...]}". */
static void series_head(sl_buf *b, const sl_pipeline *p, const sl_metric *m, const series *s,
                        const char *suffix, const char *le) {
  sl_buf_printf(b, "sluice_%s%s{", m->name, suffix);
  put_label(b, "pipeline", p->name);
  sl_buf_putc(b, ',');
  put_label(b, "stage", m->st->name);
  for (int i = 0; i < m->nlabels; i++) {
    sl_buf_putc(b, ',');
    put_label(b, m->labels[i], s->values[i]);
  }
  if (le) {
    sl_buf_putc(b, ',');
    put_label(b, "le", le);
  }
  sl_buf_puts(b, "} ");
}

static void put_double(sl_buf *b, double d) {
  sl_buf_printf(b, "%.17g\n", d);
}

static void expose_histogram(sl_buf *b, const sl_pipeline *p, const sl_metric *m, const series *s) {
  int64_t cum = 0;
  char le[32];
  for (int i = 0; i <= s->nb && s->counts; i++) {
    cum += s->counts[i];
    if (i < s->nb) snprintf(le, sizeof le, "%.17g", s->le[i]);
    else snprintf(le, sizeof le, "+Inf");
    series_head(b, p, m, s, "_bucket", le);
    sl_buf_printf(b, "%lld\n", (long long)cum);
  }
  series_head(b, p, m, s, "_sum", NULL);
  put_double(b, s->d);
  series_head(b, p, m, s, "_count", NULL);
  sl_buf_printf(b, "%lld\n", (long long)cum);
}


/* Every family once, in the order first seen, with the series of every
 * stage's family of that name under it. */
static void expose_families(sl_pipeline *p, sl_metric **fams, size_t n, sl_buf *b) {
  static const char *const kinds[] = {"", "counter", "gauge", "histogram"};
  for (size_t i = 0; i < n; i++) {
    sl_metric *first = fams[i];
    if (!first) continue;
    family(b, first->name, kinds[first->kind], first->help);
    for (size_t j = i; j < n; j++) {
      if (!fams[j] || strcmp(fams[j]->name, first->name)) continue;
      expose_series(p, fams[j], b);
      fams[j] = NULL;
    }
  }
}

static void expose_series(sl_pipeline *p, sl_metric *m, sl_buf *b) {
  pthread_mutex_lock(&m->mu);
  for (series *s = m->head; s; s = s->next) {
    if (m->kind == SL_HISTOGRAM) {
      expose_histogram(b, p, m, s);
      continue;
    }
    series_head(b, p, m, s, "", NULL);
    if (s->is_double) put_double(b, s->d);
    else sl_buf_printf(b, "%lld\n", (long long)s->v);
  }
  pthread_mutex_unlock(&m->mu);
}
