/* sl.quality, the data-sharing performance step: what its files share.
 *
 * The step is stateful (sluice/stateful.h): its lane sees every record of
 * the catalog's feeds in each source's order and keeps, per feed, the open
 * event-time windows (hour, day, month) with their counters (lib/counts.h),
 * the schedule's slots, and the totals since the start.  quality_step.c
 * counts; quality_rows.c writes the rows of the history tables;
 * quality_export.c shares the totals and scores with /metrics and
 * /scorecard; quality_pg.c restores the open windows from the tables. */
#ifndef SLUICE_QUALITY_H
#define SLUICE_QUALITY_H

#include <pthread.h>
#include <stdint.h>

#include "counts.h"
#include "schedule.h"
#include "sluice/buf.h"
#include "sluice/catalog.h"
#include "sluice/plugin.h"
#include "sluice/step.h"
#include "window.h"

typedef struct quality_cfg {
  int catalog;            /* registry ref of the catalog table */
  char **periods;         /* "hour", "day", "month" */
  int64_t lateness_ms;    /* how far behind the newest event time a window stays open */
  int64_t tick_ms;        /* how often schedules are checked */
  int64_t on_time_ms;     /* without a schedule: on time when it arrives within this */
  char *arrival;          /* field holding the arrival time, else the transport's */
  char *schedule_from;    /* RFC 3339: the first slot starts here (else at start) */
  char *platform;         /* conninfo: restore from the history tables */
  char *schema;           /* the history tables' schema */
  char *domain;           /* measure only the feeds of this domain (NULL: all) */
  int emit;               /* emit the history rows */
  int64_t trend_days;     /* closed day windows kept for the live scorecard's trend */
} quality_cfg;

/* A set of 64-bit key hashes (open addressing; 0 stands for empty). */
typedef struct keyset {
  uint64_t *slots;
  uint32_t cap, n;
} keyset;

/* One open window of one feed. */
typedef struct qwin {
  struct qwin *next;
  int period;             /* qw_period */
  int64_t start, end;
  qc_counts total;        /* everything counted in it */
  qc_counts flushed;      /* total as of its last delta row (the next one is the difference) */
  keyset keys;            /* day windows: the business keys seen (duplicates) */
  uint64_t *new_keys;     /* day windows: keys added since the last delta row */
  uint32_t nnew, capnew;
  int touched;            /* changed since the last rows */
} qwin;

#define Q_FILLED 16

/* A dead letter to show: its reason, masked. */
#define Q_EXAMPLES 3
#define Q_EXAMPLE_LEN 160

typedef struct qtrend {
  int64_t start;
  double overall;
} qtrend;

/* What the lane keeps of one feed. */
typedef struct qfeed {
  const sl_catalog_feed *f;
  int measured;           /* of the step's domain: measured, exported, shown */
  sl_schedule sched;
  int has_sched;
  int64_t max_event;      /* newest event time seen (0: none) */
  int64_t last_arrival;
  int64_t slot_start;     /* the current slot: (slot_start, next_deadline] */
  int64_t next_deadline;
  /* The deadlines after slot_start whose slots a record arrived in (few:
   * records arrive mostly in order), and the last arrival's deadline. */
  int64_t filled[Q_FILLED];
  int nfilled;
  int64_t afrom, adue;
  int overdue;            /* the last deadline passed with nothing in its slot */
  qwin *wins;
  qwin *cur[QW_NPERIODS]; /* the window of each period a record went to last */
  qc_counts total;        /* since the start (the counters of /metrics) */
  uint8_t *tally;         /* scratch: a record's per-field flags (qc_tally) */
  int64_t due_from, due;  /* the last on-time deadline: for event times in [due_from, due) */
  int touched;
  char examples[Q_EXAMPLES][Q_EXAMPLE_LEN];
  int nexamples;
  qtrend *trend;          /* closed day windows, oldest first */
  int ntrend;
} qfeed;

/* What /metrics and /scorecard read: the lane copies it under mu at the
 * end of each batch and tick. */
typedef struct qshare {
  qc_counts total;
  qc_counts day;          /* the open day window of the newest event, or zero */
  double scores[QC_NSCORES];   /* of that window */
  double month_scores[QC_NSCORES];
  qc_counts month;
  int64_t max_event, watermark, last_arrival, next_deadline;
  int overdue, has_sched;
  char examples[Q_EXAMPLES][Q_EXAMPLE_LEN];
  int nexamples;
  qtrend *trend;
  int ntrend;
} qshare;

/* A source partition's last position counted (restore skips what came
 * before it again). */
typedef struct qmark {
  char *source;
  int32_t partition;
  int64_t offset;          /* the last counted */
  int64_t restored;        /* the last counted before this start: what comes again */
  int touched;
} qmark;

typedef struct quality_priv {
  sl_catalog *cat;
  int periods[QW_NPERIODS];
  int nperiods;
  const char *pipeline;
  qfeed *feeds;
  int nfeeds;
  qc_counts other;        /* records of no feed of the catalog (no fields) */
  int64_t seq;            /* numbers the delta rows; goes on from the tables' greatest */
  int64_t schedule_from;
  int arrival_field;      /* cfg->arrival set */
  qmark *marks;
  int nmarks, capmarks;
  sl_buf row;             /* scratch for one row's JSON */
  qc_counts delta;        /* scratch for a delta row */
  const sl_catalog_feed *last_feed;   /* the last record's feed, and what it carried */
  sl_str last_dept, last_name;
  char dept_buf[64], name_buf[64];
  int has_day;            /* the periods hold day: duplicates are counted */
  /* Shared with the loop thread. */
  pthread_mutex_t mu;
  int mu_ready;
  qshare *share;
  qc_counts share_other;
} quality_priv;

extern const sl_plugin quality_plugin;

/* quality_step.c */
qwin *quality_window(quality_priv *pv, qfeed *qf, int period, int64_t start);
void quality_window_free(qwin *w);
int keyset_add(keyset *s, uint64_t h);   /* 1 new, 0 there, -1 no memory */

/* quality_rows.c: the rows of the history tables, emitted after the
 * current record. */
void quality_rows_window(sl_stage *st, quality_priv *pv, sl_step_out *out, qfeed *qf, qwin *w,
                         int closed);
void quality_rows_marks(sl_stage *st, quality_priv *pv, sl_step_out *out);

/* quality_export.c */
int quality_share_init(quality_priv *pv);
void quality_share_free(quality_priv *pv);
void quality_share_update(quality_priv *pv);
void quality_collect(sl_stage *st, sl_collector *c);
extern const sl_plugin_page quality_pages[];

/* quality_report.c: `sluice report`. */
extern const char quality_report_help[];
int quality_report_command(sl_stage *st, int argc, char **argv);

/* quality_pg.c: 0, or a negative SL_E* after logging. */
int quality_restore(sl_stage *st);

#endif
