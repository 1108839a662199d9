/* Records and batches.
 *
 * A batch is the unit that travels through the pipeline: records read together
 * by one source, with one arena that holds everything they point to.  It is
 * freed in one go once every sink has acknowledged it.  A batch is owned by one
 * thread at a time (the loop thread, then one worker, then the loop thread),
 * so nothing in it is locked. */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/value.h"

struct sl_codec;

/* ---- what steps found in a record's fields ---- */

/* What a checking step (the clean step) found in one field of a record:
 * valid as it was, fixed (normalised or repaired), invalid, or missing
 * (absent, null or empty).  They travel with the record so that Lua sees
 * them (rec:meta().clean) and the step can count them per department,
 * feed, field and rule for /metrics. */
typedef enum sl_outcome {
  SL_OUTCOME_VALID = 0,
  SL_OUTCOME_FIXED,
  SL_OUTCOME_INVALID,
  SL_OUTCOME_MISSING
} sl_outcome;

typedef struct sl_field_outcome {
  sl_str field;           /* the field's name */
  const char *rule;       /* the rule that decided: the one that failed, the last
                             one that changed the value, else the last one */
  const char *reason;     /* invalid or missing: why; NULL otherwise */
  const char *stage;      /* the step's name */
  uint8_t outcome;        /* sl_outcome */
} sl_field_outcome;

/* ---- records ---- */

/* Where a record came from and what the publisher said about it. */
typedef struct sl_meta {
  sl_str origin;          /* file path, topic or table; owned by the source */
  int32_t partition;      /* Kafka partition, -1 elsewhere */
  int64_t offset;         /* byte offset (file), offset (Kafka), -1 if none */
  int64_t line;           /* 1-based line number (file), 0 if none */
  sl_str key;             /* message key; ptr NULL if none */
  sl_str id;              /* publisher's record id (ce_id); ptr NULL if none */
  sl_str department;      /* publishing department (ce_source) */
  sl_str feed;            /* feed name (ce_type) */
  int64_t event_time_ms;  /* event time (Unix ms), 0 if unknown */
  int64_t arrival_ms;     /* when sluice read it (Unix ms) */
  int64_t published_ms;   /* when the publisher handed it over (Kafka message
                             timestamp), 0 if unknown */
  /* Transport headers as the publisher sent them (Kafka message headers),
   * in their order, duplicates kept: value SL_T_STRING (the bytes as sent)
   * or SL_T_NULL; in the batch arena.  NULL/0 where a source has none.
   * Lua reads them as rec:meta().headers. */
  sl_member *headers;
  uint32_t nheaders;
  /* Per-field outcomes of cleansing steps, in the order the steps ran
   * (a later step's outcome for a field comes after an earlier one's), in
   * the batch arena; NULL/0 when no clean step saw the record. */
  sl_field_outcome *outcomes;
  uint32_t noutcomes;
} sl_meta;

typedef enum sl_rec_state {
  SL_REC_RAW = 0,       /* raw bytes only: not decoded yet */
  SL_REC_DECODED,       /* fields[] indexes the raw bytes; raw is still the truth */
  SL_REC_CHANGED,       /* fields[] was changed: raw is stale, encode from fields */
  SL_REC_FAILED         /* decoding or a step failed: bound for the dead-letter sink */
} sl_rec_state;

typedef struct sl_record {
  sl_str raw;                     /* the bytes as read, without the line terminator */
  const struct sl_codec *codec;   /* how raw is decoded; NULL for records built in code */
  void *codec_ctx;                /* codec state the source owns (e.g. the CSV header) */
  uint8_t state;                  /* sl_rec_state */
  uint32_t nfields;
  uint32_t capfields;
  sl_member *fields;              /* in the arena of the record's batch */
  sl_meta meta;
  const char *error;              /* SL_REC_FAILED: why (arena string) */
  const char *error_stage;        /* SL_REC_FAILED: name of the stage that failed it */
} sl_record;

/* ---- what steps and sinks call on a record ---- */

/* Decodes raw into fields with the record's codec if not done yet.
 * 0, or a negative SL_E* with rec marked SL_REC_FAILED and rec->error set. */
int sl_record_decode(sl_record *rec, sl_arena *a);

/* Field access; the record must be decoded.  NULL when absent. */
sl_value *sl_record_get(sl_record *rec, const char *name, size_t len);
/* Sets (adds or replaces) a field: marks the record changed.  The name and any
 * strings in v must live at least as long as the batch (copy them into the arena). */
int sl_record_set(sl_record *rec, sl_arena *a, sl_str name, const sl_value *v);
/* Removes a field if present: marks the record changed. */
void sl_record_unset(sl_record *rec, const char *name, size_t len);

/* A record made in code from the JSON object text p[0..n), in a (a step's
 * extra output: a row of its own tables, say); NULL when p is not one. */
sl_record *sl_record_from_json(sl_arena *a, const char *p, size_t n);

/* Marks the record for the dead-letter sink.  reason is copied into the arena. */
void sl_record_fail(sl_record *rec, sl_arena *a, const char *stage, const char *reason);

#endif
