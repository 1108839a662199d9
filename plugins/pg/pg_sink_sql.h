/* pg.sink's SQL, built once at init (pg_sink_sql.c); pg_sink.c runs it. */
#ifndef SL_PG_SINK_SQL_H
#define SL_PG_SINK_SQL_H

#include "pg.h"

typedef struct pg_sink_cfg {
  char *dsn;
  char *table;
  char **key;
  char *mode;
  char **columns;
  char *newer_by;
  char *setup_sql;
  int64_t tx_rows;
  int64_t retry_max_ms;
  int64_t answer_timeout_ms;
  int tables;           /* several tables: a Lua table of tables (LUA_NOREF: one table) */
  char *route;          /* several tables: the field naming a record's table */
  char *others;         /* several tables: a record no table takes, "dlq" or "ignore" */
} pg_sink_cfg;

typedef struct pg_sink_sql {
  char *copy;           /* COPY into the target (insert) or the staging table (upsert) */
  char *merge;          /* upsert: staging table into the target */
  char *bisect_merge;   /* upsert, bisecting: merge, empty staging, release savepoint */
  char *bisect_merge_keep;  /* the same without the release (more tables follow) */
  char *stage;          /* upsert: create the staging table, once per connection */
  char *fast_copy;      /* upsert: COPY straight into the target */
} pg_sink_sql;

/* Upsert a source's position into sluice.checkpoints ($1 pipeline, $2 source,
 * $3 checkpoint), and read it back ($1, $2). */
extern const char *const pg_sink_ckpt_sql;
extern const char *const pg_sink_ckpt_get_sql;

/* Reads the table on c and fills out and *cctx (the COPY codec's context).
 * stage names the upsert's staging table (a plain identifier: one per
 * table of the sink).  Returns 0, SL_EOPTION (logged) or SL_ENOMEM; on
 * error the caller frees what was filled with pg_sink_sql_free. */
int pg_sink_sql_build(sl_stage *st, const pg_sink_cfg *cfg, int upsert, PGconn *c,
                      const char *label, const char *stage, pg_sink_sql *out, void **cctx);
void pg_sink_sql_free(pg_sink_sql *s);

/* newer_by: an upsert option naming a written column outside the key.  cols
 * is the columns written (NULL-terminated), or NULL when not known yet. */
int pg_sink_check_newer_by(sl_stage *st, const pg_sink_cfg *cfg, char **cols);

/* ---- several tables (pg_sink_tables.c) ---- */

/* One table of the sink: the single-table form has one, made of the
 * sink's own options; `tables = { ... }` one per entry. */
typedef struct pg_sink_table {
  pg_sink_cfg cfg;      /* table, mode, key, columns, newer_by */
  char *route;          /* the route field's value for it (several tables) */
  int owned;            /* cfg's strings are this table's (several tables) */
  int upsert;
  char stage[32];       /* its staging table */
  pg_sink_sql sql;
  void *cctx;           /* its COPY codec context (several tables: inside the router) */
  int fast_skip, fast_backoff;   /* the fast way (pg_sink.c) */
} pg_sink_table;

/* The sink's tables from its options: one for the single-table form, or
 * the `tables` entries, checked (names, routes, modes, keys, newer_by),
 * with errors logged at the stage's file and line.  0, SL_EOPTION or
 * SL_ENOMEM; *out is set either way (free with pg_sink_tables_free). */
int pg_sink_tables_parse(sl_stage *st, pg_sink_cfg *cfg, pg_sink_table **out, int *n);
void pg_sink_tables_free(pg_sink_table *t, int n);

#endif
