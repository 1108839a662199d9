/* pg.sink, pg.source and pg.cdc: what their files share (plugin-internal).
 *
 *   pg_conn.c      one libpq connection on the libuv loop: a non-blocking
 *                  connect, commands, COPY IN and a streaming mode, driven
 *                  by one uv_poll on PQsocket
 *   pg_redact.c    connection strings and libpq messages, secrets cut out
 *   pg_util.c      connection parameters, identifiers, SQLSTATE classes,
 *                  LSN text, blocking helpers for init
 *   pg_copy.c      the "pgcopy" codec: records as COPY text rows (workers),
 *                  and "pgcopy_routed", the same tagged with a table's index
 *   pg_values.c    PostgreSQL text values as JSON, by type OID
 *   pg_pgoutput.c  the pgoutput logical replication protocol, parsed
 *   pg_sink.c      pg.sink: the queue, transactions, bisecting, retries
 *   pg_sink_tables.c  pg.sink's tables: one, or the entries of `tables`
 *   pg_sink_sql.c  pg.sink's statements (COPY, staging, merge, checkpoints),
 *                  built once at init from each table's columns
 *   pg_source.c    pg.source (polling on a watermark)
 *   pg_cdc.c       pg.cdc (logical replication; pg_cdc.h)
 *   pg_cdc_snapshot.c  pg.cdc's initial snapshot
 *
 * Threads: everything runs on the loop thread, except the codec (workers)
 * and the blocking helpers, which only init and checkpoint_load call:
 * those run before the loop does. */
#ifndef SLUICE_PLUGIN_PG_H
#define SLUICE_PLUGIN_PG_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/plugin.h"

/* ---- pg_redact.c ---- */

/* The connection string as it may be logged: every parameter the caller
 * gave, secrets as *** ("host=db port=5432 dbname=x user=y password=***").
 * A string libpq cannot parse is shown as written with its secret parts
 * as ***: a URI's user information, password values, stray words.  Caller
 * frees. */
char *pg_dsn_redact(const char *dsn);
/* Appends the first n bytes of msg (a libpq message about dsn) to out with
 * dsn replaced by label and its secret parts by ***. */
void pg_dsn_scrub(sl_buf *out, const char *msg, size_t n, const char *dsn, const char *label);

/* ---- pg_util.c ---- */

/* sl_buf does not keep a NUL after its bytes: these add one.  pg_buf_cstr
 * takes the bytes as a C string (caller frees; NULL on ENOMEM);
 * pg_buf_nul leaves b as it was, with a NUL past its length. */
char *pg_buf_cstr(sl_buf *b);
void pg_buf_nul(sl_buf *b);


/* Connects and waits (init and checkpoint_load only: before the loop runs).
 * The session gets search_path = '' and UTC.  NULL after logging why. */
PGconn *pg_connect_blocking(sl_stage *st, const char *dsn, const char *redacted);

/* The SQL every session runs first (search_path = '', UTC, ISO dates). */
const char *pg_session_sql(void);

/* Keywords and values for PQconnectStartParams: sluice's defaults first
 * (application name, keepalives, session settings), then the user's DSN,
 * which may override them, then replication=database if asked.  Static
 * storage of the caller: kw and val must hold 16 entries. */
void pg_conn_params(const char *dsn, const char *app, int replication, const char **kw,
                    const char **val);

/* "schema.table" or "table" (schema public) as a quoted, qualified name:
 * "schema"."table".  Quoting is PQescapeIdentifier's.  NULL on a malformed
 * name (empty parts, more than one dot outside quotes).  Caller frees. */
char *pg_qualified_name(PGconn *c, const char *name);
/* One identifier, quoted.  Caller frees. */
char *pg_quote_ident(PGconn *c, const char *name);

/* What to do about a failed command. */
typedef enum pg_err_class {
  PG_ERR_CONNECTION = 1,  /* the connection is gone or going: reconnect */
  PG_ERR_TRANSIENT,       /* serialization failure, deadlock, lock timeout: retry */
  PG_ERR_DATA,            /* a value or a constraint: the rows are bad */
  PG_ERR_OTHER            /* anything else (permissions, a missing table): retry slowly */
} pg_err_class;

pg_err_class pg_classify(PGconn *c, const PGresult *r);

/* "SQLSTATE 23505: duplicate key value violates unique constraint "t_pkey"
 * (column id; Key (id)=(5) already exists.)" into out. */
void pg_error_reason(const PGresult *r, sl_buf *out);

/* LSNs as PostgreSQL writes them: "16/B374D848". */
void pg_lsn_format(uint64_t lsn, char out[24]);
int pg_lsn_parse(const char *s, uint64_t *lsn);

/* A source's saved checkpoint as JSON (pg.source, pg.cdc): loads it
 * (sl_state_load) and parses it into *v, allocated in a; the text stays in
 * *b.  Returns 0, SL_ENOENT when there is none, SL_ENOMEM, or the refusal
 * of sl_state_corrupt (SL_ESTATE) when it cannot be read, is empty or is
 * not JSON.  The caller frees a and b whatever it returns. */
int pg_checkpoint_load(sl_stage *st, sl_buf *b, sl_arena *a, sl_value *v);
/* The member name of a JSON object, or NULL (not an object, or no such member). */
const sl_value *pg_json_member(const sl_value *obj, const char *name);

/* Runs a query that must succeed (init): logs the error and returns NULL
 * otherwise.  Values are bound, never spliced. */
PGresult *pg_exec_params(sl_stage *st, PGconn *c, const char *sql, int n,
                         const char *const *values);

/* Creates schema sluice and the checkpoint table if missing (blocking). */
int pg_ensure_checkpoint_table(sl_stage *st, PGconn *c);

/* ---- pg_conn.c ---- */

typedef struct pg_conn pg_conn;

/* What the owner of a connection is told.  Every callback runs on the loop
 * thread; any may start the next command. */
typedef struct pg_conn_ops {
  /* Connected, and the setup SQL ran: commands may be sent. */
  void (*connected)(pg_conn *c);
  /* One result of the current command; the connection PQclears it when the
   * callback returns. */
  void (*result)(pg_conn *c, PGresult *r);
  /* The current command finished: every result was delivered. */
  void (*done)(pg_conn *c);
  /* The connection failed or was lost (it is closed now).  why is libpq's
   * message, one line. */
  void (*broken)(pg_conn *c, const char *why);
  /* COPY IN: the next bytes to send; *n == 0 ends the COPY. */
  void (*copy_next)(pg_conn *c, const char **p, size_t *n);
  /* Streaming mode: the socket is readable (call PQconsumeInput and read). */
  void (*readable)(pg_conn *c);
} pg_conn_ops;

typedef enum pg_conn_state {
  PGC_CLOSED = 0,
  PGC_CONNECTING,
  PGC_SETUP,          /* running the setup SQL */
  PGC_IDLE,
  PGC_BUSY,           /* a command is running */
  PGC_COPY_IN,        /* sending COPY data */
  PGC_STREAM          /* COPY BOTH: the owner reads and writes */
} pg_conn_state;

struct pg_conn {
  sl_stage *st;
  const pg_conn_ops *ops;
  void *owner;
  char *dsn;
  char *label;              /* the redacted DSN, for messages */
  char *app;                /* application_name */
  int replication;          /* a replication=database connection */
  const char *setup_sql;    /* run once connected, before `connected` */
  PGconn *pq;
  uv_poll_t *poll;          /* heap: freed in its close callback */
  int fd;
  int events;               /* what poll watches */
  pg_conn_state state;
  uv_timer_t timer;         /* connect timeout, then answer timeout */
  int timer_open;
  const char *copy_p;       /* COPY IN: bytes not yet queued */
  size_t copy_n;
  int copy_done;            /* the owner has no more bytes */
  int setup_failed;
  int poll_errors;          /* socket errors reported by libuv in a row */
  int64_t connect_timeout_ms;
  /* A command (BUSY, COPY_IN) that sees no activity on its socket for this
   * long breaks the connection: a server that hung, or a network path that
   * holds the connection without a reset (which keepalives cannot see when
   * something in between answers for the server).  0: wait for ever. */
  int64_t answer_timeout_ms;
  /* The server process of the last connection that broke: the next
   * connection ends it (reap_sql) if the server still runs it. */
  int stale_pid;
  int reaping;              /* the setup's second step: reap_sql runs */
};

/* Sets up c (no I/O).  0 or SL_ENOMEM. */
int pg_conn_init(pg_conn *c, sl_stage *st, const char *dsn, int replication,
                 const pg_conn_ops *ops, void *owner);
/* Starts connecting; the outcome is `connected` or `broken`. */
void pg_conn_connect(pg_conn *c);
/* Sends a command; results come to `result`, then `done`.  0, or a
 * negative SL_E* (the connection is then broken: `broken` follows). */
int pg_conn_send(pg_conn *c, const char *sql);
int pg_conn_send_params(pg_conn *c, const char *sql, int n, const char *const *values);
/* Streaming mode (after a START_REPLICATION result of PGRES_COPY_BOTH):
 * `readable` is called when data arrives. */
void pg_conn_stream(pg_conn *c);
/* Streaming mode: stop or start watching for input (backpressure). */
void pg_conn_stream_read(pg_conn *c, int on);
/* Flushes what PQputCopyData queued, watching for writable if needed.
 * 0 or SL_EIO (then `broken` follows). */
int pg_conn_flush(pg_conn *c);
/* Closes the connection without calling `broken`. */
void pg_conn_close(pg_conn *c);
/* Closes it and its handles for good (the stage's destroy). */
void pg_conn_destroy(pg_conn *c);
/* The connection went bad under the owner (streaming): close it and call
 * `broken` with why. */
void pg_conn_fail(pg_conn *c, const char *why);

/* ---- pg_values.c ---- */

/* Appends the text value v of a column of type oid as JSON: numbers and
 * booleans as such, json and jsonb verbatim, timestamps as ISO 8601 (the
 * way row_to_json writes them), anything else as a JSON string. */
void pg_value_json(sl_buf *out, uint32_t oid, const char *v, size_t n);

/* ---- pg_copy.c ---- */

/* The pgcopy codec writes records as rows of COPY's text format, the
 * columns in the order given. */
extern const sl_codec pg_copy_codec;
typedef struct pg_copy_col {
  char *name;
  int is_array;             /* a PostgreSQL array: JSON arrays become {...} literals */
} pg_copy_col;
/* Takes ownership of cols (malloc'd names). */
void *pg_copy_ctx_new(pg_copy_col *cols, int ncols);

/* The pgcopy_routed codec, for a sink writing several tables: a record
 * is one byte, the index of the table whose route equals the record's
 * field `field`, then its row in that table's columns (as pgcopy); a
 * record no table takes is a dead letter (others_dlq) or no bytes at all.
 * Takes ownership of the tables' contexts (pg_copy_ctx_new), even on
 * failure (NULL). */
#define PG_COPY_MAX_TABLES 64
extern const sl_codec pg_copy_routed_codec;
void *pg_copy_routed_new(const char *field, char *const *routes, void *const *tables, int n,
                         int others_dlq);

/* Appends p[0..n) escaped for COPY text (backslash, tab, newline, CR). */
void pg_copy_escape(sl_buf *b, const char *p, size_t n);

/* ---- pg_pgoutput.c ---- */

typedef struct pgo_relation {
  uint32_t oid;
  char *schema, *name;      /* as sent */
  char *qualified;          /* "schema.name", for records */
  int ncols;
  char **cols;
  uint32_t *types;
  uint8_t *key;             /* part of the replica identity */
} pgo_relation;

typedef struct pgo_relations {
  pgo_relation *v;
  int n, cap;
} pgo_relations;

void pgo_relations_free(pgo_relations *rs);
pgo_relation *pgo_relation_find(pgo_relations *rs, uint32_t oid);

/* One decoded pgoutput message. */
typedef struct pgo_msg {
  char kind;                /* 'B' 'C' 'R' 'I' 'U' 'D' 'T' 'Y' 'O' 'M' ... */
  uint64_t lsn;             /* B: final (commit) LSN; C: commit LSN */
  uint64_t end_lsn;         /* C: end of the commit record */
  int64_t commit_time;      /* B, C: microseconds since 2000-01-01 */
  uint32_t xid;
  uint32_t relid;           /* I U D */
  /* I U D: tuples as given: old ('K' key or 'O' old row) and new. */
  const char *old_tuple, *new_tuple;
  char old_kind;            /* 'K', 'O' or 0 */
  uint32_t nrels;           /* T */
  const char *rels;         /* T: nrels big-endian OIDs */
  uint8_t truncate_flags;
} pgo_msg;

/* Decodes one pgoutput message (the payload of an XLogData).  A Relation
 * message updates rs.  0, or SL_EPARSE with *why. */
int pgo_parse(const char *p, size_t n, pgo_relations *rs, pgo_msg *m, const char **why);

/* Appends a tuple (TupleData at p, for relation r) as a JSON object.
 * Unchanged TOASTed values ('u') are left out, and so are the columns
 * outside the replica identity when key_only (a 'K' image).  0 or SL_EPARSE. */
int pgo_tuple_json(const pgo_relation *r, const char *p, const char *end, int key_only,
                   sl_buf *out);

/* Reads big-endian integers. */
uint64_t pg_be64(const char *p);
uint32_t pg_be32(const char *p);
uint16_t pg_be16(const char *p);
void pg_put_be64(char *p, uint64_t v);

/* Microseconds since 2000-01-01 as RFC 3339 UTC ("2026-01-02T03:04:05.123456Z"). */
void pg_time_format(int64_t pg_us, char out[64]);

/* ---- pg_cdc.c ---- */

/* Replication lag of a pg.cdc stage, for metrics: bytes of WAL the server
 * has that are not yet confirmed, and milliseconds since the oldest
 * unconfirmed change committed (0 when everything is confirmed).
 * SL_EINVAL if st is not a pg.cdc stage. */
int pg_cdc_lag(sl_stage *st, int64_t *bytes, int64_t *ms);

extern const sl_plugin pg_sink_plugin;
extern const sl_plugin pg_source_plugin;
extern const sl_plugin pg_cdc_plugin;

#endif
