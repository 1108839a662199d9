/* The quality counters and the scores (counts.h). */
#include "counts.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const double qc_bucket_le_s[QC_NBUCKETS - 1] = {1,     5,     15,    60,     300,    900,   3600,
                                                7200,  21600, 43200, 86400, 172800, 604800};

/* The scalar counters, by the names qc_to_json writes. */
typedef struct named {
  const char *name;
  size_t offset;
} named;

#define N(f) {#f, offsetof(qc_counts, f)}
static const named scalars[] = {N(records),  N(late),    N(dead_letters), N(duplicates),
                                N(on_time),  N(slots),   N(missed),       N(valid),
                                N(fixed),    N(invalid), N(survived),     N(supplied),
                                N(latency_ms_sum)};
#undef N
#define NSCALARS (sizeof scalars / sizeof *scalars)
static const char *const field_names[QC_F_N] = {"present", "missing", "invalid", "fixed", "compared",
                                                "disagreed"};

static int64_t *scalar(qc_counts *c, size_t i) { return (int64_t *)((char *)c + scalars[i].offset); }

int qc_init(qc_counts *c, int nfields) {
  memset(c, 0, sizeof *c);
  c->nfields = nfields;
  c->field = calloc((size_t)(nfields ? nfields : 1) * QC_F_N, sizeof *c->field);
  return c->field ? 0 : -1;
}

void qc_free(qc_counts *c) {
  free(c->field);
  c->field = NULL;
}

void qc_clear(qc_counts *c) {
  int64_t *f = c->field;
  int n = c->nfields;
  memset(c, 0, sizeof *c);
  c->field = f;
  c->nfields = n;
  memset(f, 0, (size_t)(n ? n : 1) * QC_F_N * sizeof *f);
}

int qc_is_zero(const qc_counts *c) {
  for (size_t i = 0; i < NSCALARS; i++)
    if (*scalar((qc_counts *)c, i)) return 0;
  for (int i = 0; i < c->nfields * QC_F_N; i++)
    if (c->field[i]) return 0;
  return 1;
}

void qc_add(qc_counts *dst, const qc_counts *src) {
  for (size_t i = 0; i < NSCALARS; i++) *scalar(dst, i) += *scalar((qc_counts *)src, i);
  for (int i = 0; i < QC_NBUCKETS; i++) dst->latency[i] += src->latency[i];
  int n = dst->nfields < src->nfields ? dst->nfields : src->nfields;
  for (int i = 0; i < n * QC_F_N; i++) dst->field[i] += src->field[i];
}

int qc_bucket(int64_t ms) {
  int b = 0;
  while (b < QC_NBUCKETS - 1 && (double)ms > qc_bucket_le_s[b] * 1000.0) b++;
  return b;
}

void qc_latency(qc_counts *c, int64_t ms) {
  if (ms < 0) ms = 0;
  c->latency[qc_bucket(ms)]++;
  c->latency_ms_sum += ms;
}

void qc_count_record(qc_counts *c, const qc_tally *t) {
  c->records++;
  c->on_time += t->on_time;
  c->duplicates += t->duplicate;
  c->latency[t->bucket]++;
  c->latency_ms_sum += t->latency_ms;
  c->valid += t->valid;
  c->fixed += t->fixed;
  c->invalid += t->invalid;
  c->survived += t->survived;
  c->supplied += t->supplied;
  int64_t *f = c->field;
  for (int i = 0; i < c->nfields; i++, f += QC_F_N) {
    uint8_t b = t->field[i];
    f[b & QT_PRESENT ? QC_F_PRESENT : QC_F_MISSING]++;
    if (b & ~QT_PRESENT) {
      f[QC_F_INVALID] += (b & QT_INVALID) != 0;
      f[QC_F_FIXED] += (b & QT_FIXED) != 0;
      f[QC_F_COMPARED] += (b & QT_COMPARED) != 0;
      f[QC_F_DISAGREED] += (b & QT_DISAGREED) != 0;
    }
  }
}

void qc_diff(qc_counts *out, const qc_counts *a, const qc_counts *b) {
  for (size_t i = 0; i < NSCALARS; i++) *scalar(out, i) = *scalar((qc_counts *)a, i) - *scalar((qc_counts *)b, i);
  for (int i = 0; i < QC_NBUCKETS; i++) out->latency[i] = a->latency[i] - b->latency[i];
  for (int i = 0; i < out->nfields * QC_F_N; i++) out->field[i] = a->field[i] - b->field[i];
}

void qc_copy(qc_counts *dst, const qc_counts *src) {
  int64_t *f = dst->field;
  int n = dst->nfields;
  *dst = *src;
  dst->field = f;
  dst->nfields = n;
  memcpy(f, src->field, (size_t)(n ? n : 1) * QC_F_N * sizeof *f);
}

double qc_quantile(const qc_counts *c, double q) {
  int64_t total = 0;
  for (int b = 0; b < QC_NBUCKETS; b++) total += c->latency[b];
  if (!total) return QC_NONE;
  double rank = q * (double)total, seen = 0;
  for (int b = 0; b < QC_NBUCKETS; b++) {
    double in = (double)c->latency[b];
    if (seen + in >= rank && in > 0) {
      /* The last bucket has no upper bound: its lower one, as Prometheus. */
      if (b == QC_NBUCKETS - 1) return qc_bucket_le_s[b - 1];
      double lo = b ? qc_bucket_le_s[b - 1] : 0, hi = qc_bucket_le_s[b];
      return lo + (hi - lo) * (rank - seen) / in;
    }
    seen += in;
  }
  return qc_bucket_le_s[QC_NBUCKETS - 2];
}

/* part / whole, or QC_NONE when there is no whole. */
static double ratio(int64_t part, int64_t whole) {
  return whole > 0 ? (double)part / (double)whole : QC_NONE;
}

/* The mean of the components that have data. */
static double mean2(double a, double b) {
  if (a == QC_NONE) return b;
  if (b == QC_NONE) return a;
  return (a + b) / 2;
}

void qc_scores(const qc_counts *c, const double w[SL_NDIMENSIONS], double out[QC_NSCORES]) {
  int64_t checked = c->valid + c->fixed + c->invalid, present = 0, missing = 0, compared = 0,
          disagreed = 0;
  for (int i = 0; i < c->nfields; i++) {
    present += c->field[i * QC_F_N + QC_F_PRESENT];
    missing += c->field[i * QC_F_N + QC_F_MISSING];
    compared += c->field[i * QC_F_N + QC_F_COMPARED];
    disagreed += c->field[i * QC_F_N + QC_F_DISAGREED];
  }
  out[SL_DIM_NORMATIVENESS] = ratio(c->valid, checked);
  out[SL_DIM_COMPLETENESS] = ratio(present, present + missing);
  double unique = c->records ? 1.0 - ratio(c->duplicates, c->records) : QC_NONE;
  out[SL_DIM_ACCURACY] = mean2(ratio(c->valid + c->fixed, checked), unique);
  out[SL_DIM_CONSISTENCY] = compared ? 1.0 - ratio(disagreed, compared) : QC_NONE;
  double met = c->slots ? 1.0 - ratio(c->missed, c->slots) : QC_NONE;
  out[SL_DIM_TIMELINESS] = mean2(ratio(c->on_time, c->records), met);
  out[SL_DIM_ACCESSIBILITY] = ratio(c->records, c->records + c->dead_letters);
  double sum = 0, wsum = 0;
  for (int d = 0; d < SL_NDIMENSIONS; d++)
    if (out[d] != QC_NONE && w[d] > 0) {
      sum += w[d] * out[d];
      wsum += w[d];
    }
  out[QC_OVERALL] = wsum > 0 ? sum / wsum : QC_NONE;
}

void qc_to_json(const qc_counts *c, const sl_catalog_feed *f, sl_buf *out) {
  int first = 1;
  sl_buf_putc(out, '{');
#define SEP() (first ? (void)(first = 0) : sl_buf_putc(out, ','))
  for (size_t i = 0; i < NSCALARS; i++) {
    int64_t v = *scalar((qc_counts *)c, i);
    if (!v) continue;
    SEP();
    sl_buf_printf(out, "\"%s\":%lld", scalars[i].name, (long long)v);
  }
  for (int b = 0; b < QC_NBUCKETS; b++)
    if (c->latency[b]) {
      SEP();
      sl_buf_printf(out, "\"lat.%d\":%lld", b, (long long)c->latency[b]);
    }
  /* Field names come from the catalog: printable, but escaped all the same. */
  for (int i = 0; i < c->nfields && i < f->nfields; i++)
    for (int k = 0; k < QC_F_N; k++) {
      int64_t v = c->field[i * QC_F_N + k];
      if (!v) continue;
      SEP();
      sl_buf_printf(out, "\"%s.", field_names[k]);
      for (const char *p = f->fields[i].name; *p; p++) {
        if (*p == '"' || *p == '\\') sl_buf_putc(out, '\\');
        if ((unsigned char)*p >= 0x20) sl_buf_putc(out, *p);
      }
      sl_buf_printf(out, "\":%lld", (long long)v);
    }
#undef SEP
  sl_buf_putc(out, '}');
}

int qc_add_named(qc_counts *c, const sl_catalog_feed *f, const char *key, int64_t v) {
  for (size_t i = 0; i < NSCALARS; i++)
    if (!strcmp(key, scalars[i].name)) {
      *scalar(c, i) += v;
      return 0;
    }
  if (!strncmp(key, "lat.", 4)) {
    int b = atoi(key + 4);
    if (b < 0 || b >= QC_NBUCKETS) return -1;
    c->latency[b] += v;
    return 0;
  }
  const char *dot = strchr(key, '.');
  if (!dot) return -1;
  for (int k = 0; k < QC_F_N; k++) {
    size_t n = strlen(field_names[k]);
    if ((size_t)(dot - key) != n || strncmp(key, field_names[k], n)) continue;
    const sl_catalog_field *fd = sl_catalog_field_of(f, dot + 1);
    if (!fd || fd - f->fields >= c->nfields) return -1;
    *qc_field(c, (int)(fd - f->fields), k) += v;
    return 0;
  }
  return -1;
}
