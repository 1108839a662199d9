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
} pg_sink_cfg;

typedef struct pg_sink_sql {
  char *copy;           /* COPY into the target (insert) or the staging table (upsert) */
  char *merge;          /* upsert: staging table into the target */
  char *bisect_merge;   /* upsert, bisecting: merge, empty staging, release savepoint */
  char *stage;          /* upsert: create the staging table, once per connection */
  char *fast_copy;      /* upsert: COPY straight into the target */
} pg_sink_sql;

/* Upsert a source's position into sluice.checkpoints ($1 pipeline, $2 source,
 * $3 checkpoint), and read it back ($1, $2). */
extern const char *const pg_sink_ckpt_sql;
extern const char *const pg_sink_ckpt_get_sql;

/* Reads the table on c and fills out and *cctx (the COPY codec's context).
 * Returns 0, SL_EOPTION (logged) or SL_ENOMEM; on error the caller frees
 * what was filled with pg_sink_sql_free. */
int pg_sink_sql_build(sl_stage *st, const pg_sink_cfg *cfg, int upsert, PGconn *c,
                      const char *label, pg_sink_sql *out, void **cctx);
void pg_sink_sql_free(pg_sink_sql *s);

/* newer_by: an upsert option naming a written column outside the key.  cols
 * is the columns written (NULL-terminated), or NULL when not known yet. */
int pg_sink_check_newer_by(sl_stage *st, const pg_sink_cfg *cfg, char **cols);

#endif
