/* The feed catalog: the departments that share data with the platform, their
 * feeds, and each feed's contract (schema, business key, update schedule,
 * retention, access, quality weights).
 *
 * A catalog is a Lua file that returns sl.catalog { ... } (docs/metrics.md):
 *
 *   return sl.catalog {
 *     timezone = "+08:00",
 *     departments = {
 *       sl.department { id = "health", name = "卫健委", feeds = {
 *         sl.feed { name = "births", topic = "health.births.v1", key = "src_id",
 *                   schedule = "daily by 02:00", time = "reported_at",
 *                   fields = { src_id = { type = "string", required = true },
 *                              id_no  = { type = "string", rule = "cn_id" } } } } },
 *     },
 *   }
 *
 * The constructors check what they are given where they are called, so that
 * a mistake is reported with its file and line; sl_catalog_load turns the
 * table into the C model below, which the steps that use a catalog (sl.clean,
 * sl.quality) read from any thread and nobody writes. */
#ifndef SLUICE_CATALOG_H
#define SLUICE_CATALOG_H

#include <stdint.h>

#include "sluice/arena.h"
#include "sluice/buf.h"
#include "sluice/value.h"

struct lua_State;

/* The quality dimensions of GB/T 36344-2018, in the standard's order. */
typedef enum sl_dimension {
  SL_DIM_NORMATIVENESS = 0,
  SL_DIM_COMPLETENESS,
  SL_DIM_ACCURACY,
  SL_DIM_CONSISTENCY,
  SL_DIM_TIMELINESS,
  SL_DIM_ACCESSIBILITY,
  SL_NDIMENSIONS
} sl_dimension;

extern const char *const sl_dimension_names[SL_NDIMENSIONS];

/* What a field's value must be.  ANY accepts every JSON value. */
typedef enum sl_field_type {
  SL_FIELD_ANY = 0,
  SL_FIELD_STRING,      /* a JSON string */
  SL_FIELD_INT,         /* an integer */
  SL_FIELD_NUMBER,      /* an integer or a decimal */
  SL_FIELD_BOOL,
  SL_FIELD_DATE,        /* a string: a date ("2026-11-05"; the rule may repair others) */
  SL_FIELD_TIMESTAMP,   /* a string: RFC 3339 */
  SL_FIELD_OBJECT,
  SL_FIELD_ARRAY
} sl_field_type;

typedef struct sl_catalog_field {
  const char *name;
  const char *title;          /* what it holds, for people; NULL if not given */
  sl_field_type type;
  int required;               /* absent, null or empty: the record is a dead letter */
  int sensitive;              /* masked wherever it is shown (scorecard examples) */
  sl_value rule;              /* the cleansing rule as sl.clean takes it; SL_T_NULL if none */
} sl_catalog_field;

typedef struct sl_catalog_feed {
  int index;                  /* in sl_catalog.feeds */
  int dept;                   /* index in sl_catalog.depts */
  const char *dept_id;        /* the department's id, as records carry it */
  const char *name;           /* as records carry it ("births"; "births.v1" also matches) */
  const char *id;             /* "<department>/<feed>" */
  const char *title;
  const char *topic;          /* Kafka topic, or NULL */
  const char *table;          /* PostgreSQL table, or NULL */
  const char *schedule;       /* declared update schedule, or NULL (none declared) */
  const char *time_field;     /* field with the record's event time, or NULL (ce_time) */
  const char *retention;      /* as declared ("5y", "180d"), or NULL */
  int open;                   /* access: 1 open, 0 restricted */
  const char *domain;         /* what its records are about ("person"), or NULL */
  const char **key;           /* business key fields, NULL-terminated (may be empty) */
  sl_catalog_field *fields;
  int nfields;
  double weights[SL_NDIMENSIONS];   /* the catalog's, the department's, the feed's own */
  const char *where;          /* "catalog.lua:12": where the feed was declared */
} sl_catalog_feed;

typedef struct sl_catalog_dept {
  const char *id;
  const char *name;
  const char *owner;          /* NULL if not given */
  const char *contact;
  int first_feed, nfeeds;     /* its feeds, consecutive in sl_catalog.feeds */
  const char *where;
} sl_catalog_dept;

typedef struct sl_catalog {
  sl_arena arena;             /* everything below */
  const char *name;
  const char *timezone;       /* "+08:00" */
  int32_t utc_offset_s;
  sl_catalog_dept *depts;
  int ndepts;
  sl_catalog_feed *feeds;
  int nfeeds;
  const char *where;
} sl_catalog;

/* Whether the value at idx is a catalog (what sl.catalog returned). */
int sl_catalog_is(struct lua_State *L, int idx);

/* Builds the C model of the catalog at idx (loop thread).  0, or
 * SL_EOPTION with what is wrong in err ("catalog.lua:12: feed health/births:
 * ..."), or SL_ENOMEM.  Free with sl_catalog_free. */
int sl_catalog_load(struct lua_State *L, int idx, sl_catalog **out, sl_buf *err);
void sl_catalog_free(sl_catalog *c);

/* Reads the catalog that the Lua file at path returns (sl.catalog { ... }),
 * outside any pipeline: the file runs sandboxed, with require("sluice")
 * and its own folder on the module path.  0, or a negative SL_E* with
 * "path:line: message" in err.  Free with sl_catalog_free. */
int sl_catalog_load_file(const char *path, sl_catalog **out, sl_buf *err);

/* The feed a record belongs to: by department and feed (a feed "births.v2"
 * is feed "births"), else by the topic or table it came from (origin).
 * NULL when the catalog has none. */
const sl_catalog_feed *sl_catalog_find(const sl_catalog *c, sl_str dept, sl_str feed,
                                       sl_str origin);

struct sl_record;
/* The feed of a record, as sl_catalog_find, after its metadata took the
 * record's fields `department` and `feed` where it had none (a file of
 * several feeds, a publisher that writes them in the value): they become
 * its department and feed.  The record is decoded if need be (in a).
 * NULL when the catalog has none. */
const sl_catalog_feed *sl_catalog_find_record(const sl_catalog *c, struct sl_record *rec, sl_arena *a);

/* A field of a feed by name, or NULL. */
const sl_catalog_field *sl_catalog_field_of(const sl_catalog_feed *f, const char *name);

/* Parses a fixed UTC offset "+08:00", "-05:30", "Z" or "UTC" into seconds.
 * 0, or -1. */
int sl_utc_offset_parse(const char *s, int32_t *out);

#endif
