/* What the quality step counts of one feed over one stretch of time (a
 * window, or since the start), and the scores of the quality dimensions
 * computed from it (docs/metrics.md says each formula). */
#ifndef SLUICE_QUALITY_COUNTS_H
#define SLUICE_QUALITY_COUNTS_H

#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/catalog.h"

/* Latency buckets (seconds, upper bounds), the last one +Inf. */
#define QC_NBUCKETS 14
extern const double qc_bucket_le_s[QC_NBUCKETS - 1];

/* A score that has no data behind it. */
#define QC_NONE (-1.0)
/* The six dimensions, then the overall score. */
#define QC_OVERALL SL_NDIMENSIONS
#define QC_NSCORES (SL_NDIMENSIONS + 1)

/* Per-field counters, indexed by the feed's field order (the catalog's,
 * sorted by name). */
enum {
  QC_F_PRESENT = 0,   /* the record had a value */
  QC_F_MISSING,       /* absent, null or empty */
  QC_F_INVALID,       /* a rule found it invalid */
  QC_F_FIXED,         /* a rule repaired it */
  QC_F_COMPARED,      /* compared with the golden record's value */
  QC_F_DISAGREED,     /* ... and it differed */
  QC_F_N
};

typedef struct qc_counts {
  int nfields;
  int64_t records;        /* applied (volume) */
  int64_t late;           /* came after their window closed (counted here, not there) */
  int64_t dead_letters;   /* sent to the dead-letter sink by the steps before */
  int64_t duplicates;     /* business key seen before in the day */
  int64_t on_time;        /* arrived by their schedule's deadline */
  int64_t slots;          /* schedule deadlines passed */
  int64_t missed;         /* ... with no record in their slot */
  int64_t valid, fixed, invalid;   /* rule outcomes of the fields as a whole */
  int64_t survived;       /* golden values whose surviving source is this feed's record */
  int64_t supplied;       /* values this feed's records supplied to the matcher */
  int64_t latency_ms_sum;
  int64_t latency[QC_NBUCKETS];    /* per bucket, not cumulative */
  int64_t *field;         /* nfields * QC_F_N: field i's counter k at [i * QC_F_N + k] */
} qc_counts;

/* What one record adds: built once, counted into each of its windows
 * (qc_count_record touches only what it holds). */
enum { QT_PRESENT = 1, QT_INVALID = 2, QT_FIXED = 4, QT_COMPARED = 8, QT_DISAGREED = 16 };
typedef struct qc_tally {
  int64_t latency_ms;
  int bucket;             /* the latency's */
  int on_time, duplicate;
  int valid, fixed, invalid;
  int64_t survived, supplied;
  uint8_t *field;         /* per field: QT_* bits (the caller's array, nfields long) */
} qc_tally;

/* The latency's bucket. */
int qc_bucket(int64_t ms);
/* c += one record. */
void qc_count_record(qc_counts *c, const qc_tally *t);
/* out = a - b (out may be neither). */
void qc_diff(qc_counts *out, const qc_counts *a, const qc_counts *b);
/* dst = src, the same feed. */
void qc_copy(qc_counts *dst, const qc_counts *src);

/* 0, or -1 out of memory. */
int qc_init(qc_counts *c, int nfields);
void qc_free(qc_counts *c);
void qc_clear(qc_counts *c);
int qc_is_zero(const qc_counts *c);
/* dst += src (the same feed). */
void qc_add(qc_counts *dst, const qc_counts *src);

static inline int64_t *qc_field(qc_counts *c, int field, int k) { return &c->field[field * QC_F_N + k]; }

/* Counts one latency (arrival minus event time, ms; a negative one, from a
 * clock ahead, as 0). */
void qc_latency(qc_counts *c, int64_t ms);
/* The q-quantile of the latencies (0 < q < 1), in seconds, interpolated
 * within its bucket as Prometheus's histogram_quantile does; QC_NONE with
 * no latency counted. */
double qc_quantile(const qc_counts *c, double q);

/* The scores (0..1, QC_NONE without data): out[0..5] by sl_dimension,
 * out[QC_OVERALL] weighted by w. */
void qc_scores(const qc_counts *c, const double w[SL_NDIMENSIONS], double out[QC_NSCORES]);

/* The counters as one flat JSON object of the ones that are not zero:
 * {"records": 10, "present.name": 9, "lat.3": 2, ...}. */
void qc_to_json(const qc_counts *c, const sl_catalog_feed *f, sl_buf *out);
/* Adds v to the counter that qc_to_json names key; 0, or -1 for a key it
 * does not know (a field no longer in the catalog: ignored by callers). */
int qc_add_named(qc_counts *c, const sl_catalog_feed *f, const char *key, int64_t v);

#endif
