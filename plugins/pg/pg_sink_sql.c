/* pg.sink's SQL: the statements one sink sends, built once at init.
 *
 * Reads the target table's columns (or checks the ones named in `columns`),
 * checks what upsert needs (a unique index on exactly the key, a newer_by
 * column whose values compare) and whether unchanged rows can be told
 * (equality on every column), and builds with quoted identifiers the COPY,
 * staging, merge (upsert, with or without newer_by) and checkpoint
 * statements.  pg_sink.c runs them; nothing here touches a connection
 * after init. */
#include <stdlib.h>
#include <string.h>

#include "pg_sink_sql.h"
#include "sluice/log.h"

const char *const pg_sink_ckpt_sql =
    "INSERT INTO sluice.checkpoints (pipeline, source, checkpoint, updated_at) "
    "VALUES ($1, $2, $3, now()) ON CONFLICT (pipeline, source) DO UPDATE "
    "SET checkpoint = EXCLUDED.checkpoint, updated_at = EXCLUDED.updated_at";
const char *const pg_sink_ckpt_get_sql =
    "SELECT checkpoint FROM sluice.checkpoints WHERE pipeline = $1 AND source = $2";

/* "a, b" with prefix "p." gives "p.a, p.b"; assign gives "a = EXCLUDED.a, ...". */
static char *join_quoted(PGconn *c, char **names, int n, const char *prefix, int assign) {
  sl_buf b = SL_BUF_INIT;
  for (int i = 0; i < n; i++) {
    char *q = pg_quote_ident(c, names[i]);
    if (!q) {
      sl_buf_free(&b);
      return NULL;
    }
    if (i) sl_buf_puts(&b, ", ");
    if (assign) sl_buf_printf(&b, "%s = EXCLUDED.%s", q, q);
    else sl_buf_printf(&b, "%s%s", prefix, q);
    free(q);
  }
  if (!b.len) sl_buf_puts(&b, "");
  return pg_buf_cstr(&b);
}

static int strlist_len(char **l) {
  int n = 0;
  while (l && l[n]) n++;
  return n;
}

static int in_list(char **l, const char *s) {
  for (int i = 0; l && l[i]; i++)
    if (strcmp(l[i], s) == 0) return 1;
  return 0;
}

/* A text[] literal of names for a bound parameter. */
static void array_literal(sl_buf *b, char **names) {
  sl_buf_putc(b, '{');
  for (int i = 0; names && names[i]; i++) {
    if (i) sl_buf_putc(b, ',');
    sl_buf_putc(b, '"');
    for (const char *p = names[i]; *p; p++) {
      if (*p == '"' || *p == '\\') sl_buf_putc(b, '\\');
      sl_buf_putc(b, *p);
    }
    sl_buf_putc(b, '"');
  }
  sl_buf_putc(b, '}');
}

/* newer_by: an upsert option, naming a written column that is not part of
 * the key.  cols is the columns written (NULL-terminated), or NULL when
 * they are not known yet (`sluice check` without `columns`). */
int pg_sink_check_newer_by(sl_stage *st, const pg_sink_cfg *cfg, char **cols) {
  const char *v = cfg->newer_by;
  if (!v) return 0;
  const char *name = sl_stage_name(st);
  if (strcmp(cfg->mode, "upsert") != 0) {
    sl_log_error(name, "%s: newer_by = \"%s\" needs mode = \"upsert\" (mode is \"%s\")",
                 sl_stage_where(st), v, cfg->mode);
    return SL_EOPTION;
  }
  if (in_list(cfg->key, v)) {
    sl_log_error(name, "%s: newer_by = \"%s\" is a key column; it must be a column that grows "
                 "with each version of a row (an event time or a version number)",
                 sl_stage_where(st), v);
    return SL_EOPTION;
  }
  if (cols && !in_list(cols, v)) {
    sl_log_error(name, "%s: newer_by = \"%s\" is not among the columns written (%s)",
                 sl_stage_where(st), v, cfg->columns ? "`columns`" : "the table's writable columns");
    return SL_EOPTION;
  }
  return 0;
}

/* Whether "(old columns) IS DISTINCT FROM (new columns)" can be asked of
 * the table: not if a column's type has no equality (json, point, xml).
 * Sets *ok; returns SL_ENOMEM or 0. */
static int changed_rows_only(PGconn *c, const char *target, const char *oldlist, int *ok) {
  sl_buf q = SL_BUF_INIT;
  sl_buf_printf(&q, "SELECT (%s) IS DISTINCT FROM (%s) FROM %s AS sluice_old LIMIT 0", oldlist,
                oldlist, target);
  pg_buf_nul(&q);
  if (q.oom) {
    sl_buf_free(&q);
    return SL_ENOMEM;
  }
  PGresult *r = PQexec(c, q.ptr);
  *ok = PQresultStatus(r) == PGRES_TUPLES_OK;
  PQclear(r);
  sl_buf_free(&q);
  return 0;
}

int pg_sink_sql_build(sl_stage *st, const pg_sink_cfg *cfg, int upsert, PGconn *c,
                      const char *label, const char *stage, pg_sink_sql *out, void **cctx) {
  const char *name = sl_stage_name(st);
  int rc = SL_EOPTION;
  PGresult *r = NULL;
  char **cols = NULL, *target = NULL, *collist = NULL, *keylist = NULL, *setlist = NULL;
  char *newer = NULL, *oldlist = NULL, *newlist = NULL;
  int ncols = 0, changed = 0;
  pg_copy_col *ccols = NULL;
  sl_buf sql = SL_BUF_INIT;

  target = pg_qualified_name(c, cfg->table);
  if (!target) {
    sl_log_error(name, "%s: table '%s' is not a table name (\"table\" or \"schema.table\")",
                 sl_stage_where(st), cfg->table);
    goto done;
  }
  const char *v1[1] = {target};
  r = PQexecParams(c,
                   "SELECT a.attname, t.typcategory = 'A', a.attidentity, a.attgenerated "
                   "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
                   "WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped "
                   "ORDER BY a.attnum",
                   1, NULL, v1, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    sl_buf why = SL_BUF_INIT;
    pg_error_reason(r, &why);
    sl_log_error(name, "%s: cannot read the columns of %s (%s): %s", sl_stage_where(st), target,
                 label, why.ptr ? why.ptr : "");
    sl_buf_free(&why);
    /* A lost connection is the run's failure (exit 1), not the pipeline's mistake (2). */
    if (PQstatus(c) == CONNECTION_BAD) rc = SL_EIO;
    goto done;
  }
  int ntab = PQntuples(r);
  cols = calloc((size_t)ntab + (size_t)strlist_len(cfg->columns) + 1, sizeof *cols);
  ccols = calloc((size_t)ntab + (size_t)strlist_len(cfg->columns) + 1, sizeof *ccols);
  if (!cols || !ccols) {
    rc = SL_ENOMEM;
    goto done;
  }
  if (cfg->columns) {
    for (int i = 0; cfg->columns[i]; i++) {
      int found = -1;
      for (int j = 0; j < ntab; j++)
        if (strcmp(PQgetvalue(r, j, 0), cfg->columns[i]) == 0) found = j;
      if (found < 0) {
        sl_log_error(name, "%s: table %s has no column \"%s\"", sl_stage_where(st), target,
                     cfg->columns[i]);
        goto done;
      }
      cols[ncols] = cfg->columns[i];
      ccols[ncols].name = strdup(cfg->columns[i]);
      ccols[ncols].is_array = PQgetvalue(r, found, 1)[0] == 't';
      ncols++;
    }
  } else {
    for (int j = 0; j < ntab; j++) {
      /* Generated columns and GENERATED ALWAYS identities cannot be written. */
      if (PQgetvalue(r, j, 3)[0] || PQgetvalue(r, j, 2)[0] == 'a') continue;
      cols[ncols] = PQgetvalue(r, j, 0);
      ccols[ncols].name = strdup(cols[ncols]);
      ccols[ncols].is_array = PQgetvalue(r, j, 1)[0] == 't';
      ncols++;
    }
  }
  if (!ncols) {
    sl_log_error(name, "%s: no columns to write in %s", sl_stage_where(st), target);
    goto done;
  }
  for (int i = 0; i < ncols; i++)
    if (!ccols[i].name) {
      rc = SL_ENOMEM;
      goto done;
    }
  collist = join_quoted(c, cols, ncols, "", 0);
  if (!collist) goto done;
  if (pg_sink_check_newer_by(st, cfg, cols)) goto done;

  if (upsert) {
    int nkey = strlist_len(cfg->key);
    if (!nkey) {
      sl_log_error(name, "%s: mode \"upsert\" needs key = { ... }: the columns of a unique key of %s",
                   sl_stage_where(st), target);
      goto done;
    }
    for (int i = 0; i < nkey; i++)
      if (!in_list(cols, cfg->key[i])) {   /* cols is NULL-terminated (calloc) */
        sl_log_error(name, "%s: key column \"%s\" is not among the columns written to %s",
                     sl_stage_where(st), cfg->key[i], target);
        goto done;
      }
    /* ON CONFLICT (key) needs a unique index on exactly those columns:
     * say so now rather than at the first batch. */
    sl_buf arr = SL_BUF_INIT;
    array_literal(&arr, cfg->key);
    sl_buf_putc(&arr, 0);
    const char *v2[2] = {target, arr.ptr};
    /* A result of its own: cols points into r. */
    PGresult *ri = PQexecParams(c,
                     "SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = $1::regclass "
                     "AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL "
                     "AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) "
                     "     FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indrelid "
                     "     AND a.attnum = ANY (i.indkey)) = "
                     "    (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) x)",
                     2, NULL, v2, NULL, NULL, 0);
    sl_buf_free(&arr);
    int unique = PQresultStatus(ri) == PGRES_TUPLES_OK && PQntuples(ri) > 0;
    PQclear(ri);
    if (!unique && PQstatus(c) == CONNECTION_BAD) {
      const char *e = PQerrorMessage(c);
      sl_log_error(name, "%s: cannot look for the unique index of %s (%s): %.*s", sl_stage_where(st),
                   target, label, (int)strcspn(e, "\n"), e);
      rc = SL_EIO;
      goto done;
    }
    if (!unique) {
      sl_log_error(name, "%s: %s has no unique index or constraint on exactly the key columns; "
                   "upsert (ON CONFLICT) needs one", sl_stage_where(st), target);
      goto done;
    }
    keylist = join_quoted(c, cfg->key, nkey, "", 0);
    char **rest = calloc((size_t)ncols + 1, sizeof *rest);
    int nrest = 0;
    for (int i = 0; rest && i < ncols; i++)
      if (!in_list(cfg->key, cols[i])) rest[nrest++] = cols[i];
    setlist = rest ? join_quoted(c, rest, nrest, "", 1) : NULL;
    oldlist = rest ? join_quoted(c, rest, nrest, "sluice_old.", 0) : NULL;
    newlist = rest ? join_quoted(c, rest, nrest, "EXCLUDED.", 0) : NULL;
    free(rest);
    newer = cfg->newer_by ? pg_quote_ident(c, cfg->newer_by) : NULL;
    if (!keylist || !setlist || !oldlist || !newlist || (cfg->newer_by && !newer)) {
      rc = SL_ENOMEM;
      goto done;
    }
    if (nrest && changed_rows_only(c, target, oldlist, &changed) == SL_ENOMEM) {
      rc = SL_ENOMEM;
      goto done;
    }
    if (nrest && !changed)
      sl_log_info(name, "%s: a column of %s has a type without equality (json, point, xml...): "
                  "the upsert rewrites every row it is given, changed or not (jsonb has "
                  "equality)", sl_stage_where(st), target);
    if (newer) {
      /* A type without "<" (json, point) would fail every batch: say so now. */
      sl_buf_printf(&sql, "SELECT sluice_old.%s < sluice_old.%s FROM %s AS sluice_old LIMIT 0",
                    newer, newer, target);
      pg_buf_nul(&sql);
      PGresult *rv = sql.oom ? NULL : PQexec(c, sql.ptr);
      sql.len = 0;
      int ok = PQresultStatus(rv) == PGRES_TUPLES_OK;
      if (!ok) {
        sl_buf why = SL_BUF_INIT;
        pg_error_reason(rv, &why);
        sl_log_error(name, "%s: newer_by = \"%s\": its values cannot be compared (%s)",
                     sl_stage_where(st), cfg->newer_by, why.ptr ? why.ptr : "out of memory");
        sl_buf_free(&why);
      }
      PQclear(rv);
      if (!ok) goto done;
    }
    sl_buf_printf(&sql,
                  "CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS "
                  "SELECT %s FROM %s WITH NO DATA; "
                  "ALTER TABLE pg_temp.%s ADD COLUMN IF NOT EXISTS sluice_seq bigserial",
                  stage, collist, target, stage);
    out->stage = pg_buf_cstr(&sql);
    sl_buf_printf(&sql, "COPY pg_temp.%s (%s) FROM STDIN", stage, collist);
    out->copy = pg_buf_cstr(&sql);
    sl_buf_printf(&sql, "COPY %s (%s) FROM STDIN", target, collist);
    out->fast_copy = pg_buf_cstr(&sql);
    /* DISTINCT ON keeps the first row of each key in ORDER BY: the last
     * one copied, since sluice_seq grows with the COPY.  With newer_by, the
     * row with the greatest version (a null is older than any value), the
     * first copied among equals; and it replaces the stored row only if
     * newer: equal versions keep what is stored, so a replay changes
     * nothing. */
    if (newer)
      sl_buf_printf(&sql,
                    "INSERT INTO %s AS sluice_old (%s) SELECT DISTINCT ON (%s) %s "
                    "FROM pg_temp.%s ORDER BY %s, %s DESC NULLS LAST, sluice_seq "
                    "ON CONFLICT (%s) DO UPDATE SET %s WHERE EXCLUDED.%s IS NOT NULL AND "
                    "(sluice_old.%s IS NULL OR sluice_old.%s < EXCLUDED.%s)",
                    target, collist, keylist, collist, stage, keylist, newer, keylist, setlist, newer,
                    newer, newer, newer);
    else {
      sl_buf_printf(&sql,
                    "INSERT INTO %s AS sluice_old (%s) SELECT DISTINCT ON (%s) %s "
                    "FROM pg_temp.%s ORDER BY %s, sluice_seq DESC ON CONFLICT (%s) ",
                    target, collist, keylist, collist, stage, keylist, keylist);
      if (nrest) sl_buf_printf(&sql, "DO UPDATE SET %s", setlist);
      else sl_buf_puts(&sql, "DO NOTHING");
    }
    /* A row that would not change is left alone: no new row version, no
     * index entries, only a row lock (a feed sent again in full is mostly
     * such rows). */
    if (nrest && changed)
      sl_buf_printf(&sql, " %s (%s) IS DISTINCT FROM (%s)", newer ? "AND" : "WHERE", oldlist,
                    newlist);
    out->merge = pg_buf_cstr(&sql);
    sl_buf_printf(&sql, "%s; DELETE FROM pg_temp.%s", out->merge, stage);
    out->bisect_merge_keep = pg_buf_cstr(&sql);
    sl_buf_printf(&sql, "%s; DELETE FROM pg_temp.%s; RELEASE SAVEPOINT sluice_try", out->merge,
                  stage);
    out->bisect_merge = pg_buf_cstr(&sql);
  } else {
    sl_buf_printf(&sql, "COPY %s (%s) FROM STDIN", target, collist);
    out->copy = pg_buf_cstr(&sql);
  }
  if (!out->copy ||
      (upsert && (!out->merge || !out->stage || !out->bisect_merge || !out->bisect_merge_keep ||
                  !out->fast_copy))) {
    rc = SL_ENOMEM;
    goto done;
  }
  *cctx = pg_copy_ctx_new(ccols, ncols);
  if (!*cctx) {
    rc = SL_ENOMEM;
    goto done;
  }
  ccols = NULL;
  sl_log_debug(name, "writing %d columns to %s (%s): %s", ncols, target, cfg->mode, collist);
  rc = 0;

done:
  if (ccols) {
    for (int i = 0; i < ncols; i++) free(ccols[i].name);
    free(ccols);
  }
  PQclear(r);
  free(cols);
  free(target);
  free(collist);
  free(keylist);
  free(setlist);
  free(oldlist);
  free(newlist);
  free(newer);
  sl_buf_free(&sql);
  return rc;
}

void pg_sink_sql_free(pg_sink_sql *s) {
  free(s->copy);
  free(s->merge);
  free(s->bisect_merge);
  free(s->bisect_merge_keep);
  free(s->stage);
  free(s->fast_copy);
  memset(s, 0, sizeof *s);
}
