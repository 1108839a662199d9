/* Field sets: what a record is checked on, and the check itself.
 *
 * A field set is the fields of a clean step (fields = { ... }) or of one
 * feed of a catalog, each with its chain of rules, its schema type and
 * whether it is required.  It is parsed once and then read by any number of
 * threads.  clean_fieldset_check judges one record: the clean step runs it
 * on every record of a pipeline, and `sluice publish` on every row before
 * it is sent, so that a department and the platform judge a row the same
 * way. */
#ifndef SLUICE_CLEAN_FIELDSET_H
#define SLUICE_CLEAN_FIELDSET_H

#include <stdatomic.h>
#include <stdint.h>

#include "rules.h"
#include "sluice/arena.h"
#include "sluice/catalog.h"
#include "sluice/record.h"

enum { CLEAN_ON_KEEP = 0, CLEAN_ON_NULL, CLEAN_ON_DLQ };

/* "keep", "null" or "dlq" as CLEAN_ON_*. */
int clean_on_invalid_of(const char *s);

typedef struct clean_field {
  char *name;             /* the field written */
  size_t name_len;
  char *from;             /* the field read (the same unless `from` says) */
  size_t from_len;
  clean_rule *rules;
  int nrules;
  int required;
  int on_invalid;         /* CLEAN_ON_* */
  int type;               /* sl_field_type: what the value must be (a catalog's schema) */
  int slot;               /* counters: slot (the field) and slot + 1 + i (rule i) */
} clean_field;

typedef struct clean_fieldset {
  clean_field *fields;
  int nfields;
  int nslots;             /* counters: 1 + nrules per field */
  const char **slot_field, **slot_rule;
  const sl_catalog_feed *feed;    /* the catalog's feed, or NULL */
  int need_key;           /* a rule (hmac) needs a key */
} clean_fieldset;

/* What parsing rules needs to know beyond the rules themselves. */
typedef struct clean_defaults {
  const char *tz;         /* time zone of dates without an offset */
  const char *area;       /* landline area code, or NULL */
  int on_invalid;         /* CLEAN_ON_* for fields that do not say */
} clean_defaults;

/* The field set of the members (field = rule) of fields: messages in err,
 * every unknown rule reported (SL_ENOENT), not only the first.  Slots are
 * numbered by clean_fieldset_slots.  Free with clean_fieldset_free (also
 * after a failure). */
int clean_fieldset_parse(const clean_defaults *d, const sl_member *fields, uint32_t n,
                         clean_fieldset *fs, sl_arena *a, sl_buf *err);
/* The field set of a catalog's feed: each field's rule (or none: presence
 * and type only), type and whether it is required; slots numbered.  err
 * says "<where>: feed <id>: ..." */
int clean_fieldset_of_feed(const clean_defaults *d, const sl_catalog_feed *feed,
                           clean_fieldset *fs, sl_arena *a, sl_buf *err);
/* Numbers the counters' slots (one per field, one per rule). */
int clean_fieldset_slots(clean_fieldset *fs);
void clean_fieldset_free(clean_fieldset *fs);

/* Checks rec against fs and repairs it: a fixed value is written back (from
 * a), an invalid optional field is set to null where on_invalid says so.
 * oc[0..fs->nfields) gets each field's outcome (stage names where).
 * counts, if not NULL, is fs->nslots * 4 counters (by sl_outcome) that one
 * thread increments.  msg gets every invalid or missing required field,
 * "field (rule): reason (required); ...".  Returns 1 when the record fails
 * (a required field missing or invalid, a type the schema refuses, an
 * invalid field with on_invalid dlq), 0 when it passes, or SL_ENOMEM. */
int clean_fieldset_check(const clean_fieldset *fs, clean_ctx *cx, sl_record *rec, sl_arena *a,
                         const char *stage, sl_field_outcome *oc, _Atomic uint64_t *counts,
                         sl_buf *msg);

#endif
