/* Plugins: sources, steps and sinks.
 *
 * A C plugin is one `sl_plugin` struct, registered with designated
 * initializers.  The struct begins with its ABI version and only ever grows
 * at the end.  Options are declared, not hand-parsed: the runtime checks a
 * pipeline's options against the table (unknown names, types, required ones,
 * enum choices), fills the plugin's config struct at the given offsets, and
 * uses the same table for `sluice check` and `sluice help plugins`.
 *
 * Threads: every source and sink callback runs on the loop thread and must
 * not block.  Step callbacks run on worker threads, one instance per worker.
 *
 * The libuv promise holds here too: a function that takes a callback and
 * returns an error never calls the callback. */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/buf.h"
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "sluice/record.h"

#define SL_PLUGIN_ABI 1

typedef enum sl_plugin_kind { SL_SOURCE = 1, SL_STEP = 2, SL_SINK = 3 } sl_plugin_kind;

/* ---- options ---- */

typedef enum sl_opt_type {
  SL_OPT_STR = 1,     /* char *  (owned by the runtime) */
  SL_OPT_PATH,        /* char *, resolved against the pipeline file's folder */
  SL_OPT_INT,         /* int64_t */
  SL_OPT_DOUBLE,      /* double */
  SL_OPT_BOOL,        /* int */
  SL_OPT_DURATION,    /* int64_t milliseconds: "250ms", "5s", "1m" or a number of ms */
  SL_OPT_SIZE,        /* int64_t bytes: "64KiB", "16MiB" or a number */
  SL_OPT_ENUM,        /* char *, one of `choices` ("a|b|c") */
  SL_OPT_STRLIST,     /* char ** NULL-terminated; a single string is a list of one */
  SL_OPT_MAP,         /* char ** NULL-terminated key, value, key, value ...; values as strings */
  SL_OPT_LUA          /* int: a registry reference in the loop thread's Lua state
                         (functions, tables); LUA_NOREF when absent */
} sl_opt_type;

/* Option flags.  SL_REQUIRED: the pipeline must give the option. */
#define SL_REQUIRED 0x1
/* Per-record options of a sink (type SL_OPT_LUA): a function(rec) -> string
 * that the workers call for every record the sink receives, or a string.
 * With SL_RECORD_FN a string is a constant; with SL_RECORD_FIELD it names
 * the field whose value is used.  The sink reads the results with
 * sl_sink_attr(); k counts the sink's per-record options in table order. */
#define SL_RECORD_FN 0x2
#define SL_RECORD_FIELD 0x4
/* A per-record option (SL_OPT_LUA, choices "table") that is a table
 * { name = "value" or function(rec) -> string }: the workers evaluate each
 * entry for every record and the sink reads the pairs from the one
 * sl_sink_attr() value with sl_attr_pairs_next() (entries whose function
 * returned nil are left out; the order is the table's traversal order):
 * message headers built from the record, say. */
#define SL_RECORD_MAP 0x8

typedef struct sl_option {
  const char *name;
  sl_opt_type type;
  const char *def;        /* default as text (parsed like a pipeline value); NULL = none */
  int flags;              /* SL_REQUIRED, SL_RECORD_* */
  size_t offset;          /* where the value goes in the plugin's config struct */
  const char *doc;        /* one line for `sluice help plugins` */
  const char *choices;    /* SL_OPT_ENUM: "jsonl|csv|raw" */
} sl_option;

/* ---- stages ---- */

typedef struct sl_stage sl_stage;
typedef struct sl_batch sl_batch;
typedef struct sl_pipeline sl_pipeline;

/* Where a source may resume from: opaque to the runtime, given back to the
 * source in order once every record of the batch is durable downstream. */
typedef struct sl_checkpoint {
  int64_t a, b, c;
  int ref;                /* a Lua registry reference (Lua sources), else 0 */
  void *data;             /* more, in the batch's arena: valid until ack returns */
} sl_checkpoint;

/* What a sink receives: the records of one batch that passed its `where`,
 * already encoded by a worker when the sink has a codec. */
typedef struct sl_sink_batch {
  sl_batch *batch;
  sl_stage *sink;
  uint32_t n;             /* records */
  sl_record **recs;       /* the records (borrowed: valid until sl_sink_done) */
  sl_buf bytes;           /* the encoded records, back to back (sinks with a codec) */
  uint32_t *ends;         /* record i is bytes[ends[i-1] .. ends[i]) (ends[-1] = 0) */
  int late;               /* a dead-letter batch made on the loop thread */
  sl_str *attrs;          /* per-record option values: attrs[k * cap + i] (see sl_sink_attr) */
  uint32_t attr_cap;
  void *sink_data;        /* free for the sink's own use */
  struct sl_sink_batch *next;   /* free for the sink's own queues */
  struct sl_reject *rejects;    /* runtime-owned: records rejected with sl_sink_reject */
} sl_sink_batch;

typedef struct sl_step_out sl_step_out;
typedef struct sl_collector sl_collector;

/* Results of a step's process callback. */
#define SL_STEP_KEEP 0        /* pass the record on */
#define SL_STEP_DROP 1        /* drop it (counts as done) */

typedef struct sl_plugin {
  int abi;                        /* SL_PLUGIN_ABI */
  sl_plugin_kind kind;
  const char *name;               /* as written in a pipeline: "file.source" → sl.file.source */
  const char *doc;                /* one line */
  const sl_option *options;       /* ends with {NULL} */
  size_t config_size;             /* the struct the options fill */
  size_t priv_size;               /* private state the runtime allocates, zeroed */

  /* All kinds.  init checks and opens what the stage needs, before anything
   * runs: an error here stops the pipeline from starting, with the message
   * the plugin logged.  destroy frees what init made; it is called once init
   * was called, even if init failed, so it must cope with a partial init.
   * priv and config are zeroed before init. */
  int (*init)(sl_stage *st);
  void (*destroy)(sl_stage *st);

  /* Sources.  start begins reading; the source emits batches with
   * sl_source_emit until paused or stopped.  stop asks it to emit no more:
   * it calls sl_source_finished once it will emit nothing else (also at the
   * natural end of its input).  ack is called, in emission order, once every
   * record of a batch is durable downstream or dropped. */
  int (*start)(sl_stage *st);
  void (*pause)(sl_stage *st);
  void (*resume)(sl_stage *st);
  void (*stop)(sl_stage *st);
  void (*ack)(sl_stage *st, const sl_checkpoint *cp);
  /* Optional: the checkpoint as the bytes the source saves with
   * sl_state_save (and reads back with sl_state_load).  A sink that stores
   * checkpoints with its data (sl_sink_batch_checkpoint) needs it. */
  int (*checkpoint_encode)(sl_stage *st, const sl_checkpoint *cp, sl_buf *out);

  /* Sinks.  write takes a sink batch and later calls sl_sink_done on it once
   * the write is durable (or failed for good, after sl_sink_reject of the
   * records that failed).  Batches arrive in each source's order.  flush is
   * called at shutdown after the last write: it finishes what is buffered
   * and calls sl_stage_flushed (it may do so before returning). */
  int (*write)(sl_stage *st, sl_sink_batch *sb);
  void (*flush)(sl_stage *st);
  /* Optional, for sinks that commit source checkpoints in the same
   * transaction as the data: the checkpoint stored for the named source, or
   * SL_ENOENT.  Called after the sink's init and before the sources' init;
   * it may block.  When the pipeline's only sink (the dead-letter sink
   * aside) has it, a source resumes from what it returns rather than from
   * its state file: the data and the position cannot disagree. */
  int (*checkpoint_load)(sl_stage *st, const char *source, sl_buf *out);

  /* Steps (worker threads).  worker_init makes one instance per worker in
   * *inst; process handles one record: SL_STEP_KEEP, SL_STEP_DROP, or a
   * negative SL_E* after sl_step_fail.  Extra records go out with
   * sl_step_emit. */
  int (*worker_init)(sl_stage *st, void **inst);
  void (*worker_destroy)(sl_stage *st, void *inst);
  int (*process)(void *inst, sl_step_out *out, sl_record *rec);

  /* Optional, any kind: deeper checks of the options for `sluice check`
   * (rule names, patterns), opening nothing; it logs what is wrong and
   * returns a negative SL_E*.  `run` relies on init for the same checks. */
  int (*check)(sl_stage *st);
  /* Optional, any kind: reports counters the plugin keeps itself (say per
   * worker, without locks) when /metrics is read, with sl_collect.  Loop
   * thread. */
  void (*collect)(sl_stage *st, sl_collector *c);

  /* What the plugin can do beyond its kind (SL_CAN_* bits). */
  unsigned caps;
} sl_plugin;

/* sl_plugin.caps.  SL_CAN_EXACTLY_ONCE: a source that, under exactly_once =
 * true, leaves its positions to the sink (it commits nothing itself); a
 * sink that commits its batches' source positions in the same transaction
 * as their records.  A pipeline with exactly_once needs it of every source
 * and of its one sink. */
#define SL_CAN_EXACTLY_ONCE 1u

/* ---- what plugins call: the stage and its pipeline ---- */

const char *sl_stage_name(const sl_stage *st);
/* "pipeline.lua:12" where the stage was declared. */
const char *sl_stage_where(const sl_stage *st);
const sl_plugin *sl_stage_plugin(const sl_stage *st);
void *sl_stage_config(sl_stage *st);
void *sl_stage_priv(sl_stage *st);
uv_loop_t *sl_stage_loop(sl_stage *st);
/* The loop thread's Lua state, where SL_OPT_LUA options live. */
struct lua_State;
struct lua_State *sl_stage_lua(sl_stage *st);
/* Records per batch the pipeline asks for (batch_size). */
uint32_t sl_stage_batch_size(const sl_stage *st);
/* Whether the stage is the pipeline's dead-letter sink (a sink that writes
 * dead letters may add the reason to its own format, e.g. Kafka headers). */
int sl_stage_is_dlq(const sl_stage *st);
/* Logs the error and stops the pipeline as on SIGTERM; the exit code becomes 1. */
void sl_stage_fatal(sl_stage *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

sl_pipeline *sl_stage_pipeline(sl_stage *st);
/* The pipeline's name (its `name` option, else the file name without .lua):
 * what a sink that stores checkpoints with its data keys them by, with the
 * source's name. */
const char *sl_pipeline_name(const sl_pipeline *p);
/* Whether the pipeline says exactly_once = true (see SL_CAN_EXACTLY_ONCE). */
int sl_pipeline_exactly_once(const sl_pipeline *p);
/* The pipeline's max_inflight_records: sources pause past it. */
uint64_t sl_pipeline_max_inflight_records(const sl_pipeline *p);

/* ---- sources: batches out, acknowledgements back ---- */

/* A new empty batch, its records allocated from its arena. */
sl_batch *sl_batch_new(sl_stage *source);
sl_arena *sl_batch_arena(sl_batch *b);
/* Appends a record slot (zeroed, meta.partition = -1, offset = -1); NULL on
 * ENOMEM.  The pointer is valid until the next sl_batch_add on the batch. */
sl_record *sl_batch_add(sl_batch *b);
uint32_t sl_batch_count(const sl_batch *b);
sl_record *sl_batch_record(sl_batch *b, uint32_t i);
/* Removes the last record added. */
void sl_batch_pop(sl_batch *b);
void sl_batch_set_checkpoint(sl_batch *b, const sl_checkpoint *cp);
/* Hands the batch to the pipeline (ownership moves).  May call the source's
 * pause callback before it returns. */
void sl_source_emit(sl_stage *source, sl_batch *b);
/* Frees a batch that was never emitted. */
void sl_batch_discard(sl_batch *b);
/* Whether the source is paused (backpressure or shutdown). */
int sl_source_paused(const sl_stage *source);
/* The source will emit nothing more. */
void sl_source_finished(sl_stage *source);

/* ---- sinks: writing, acknowledging, rejecting ---- */

/* Sinks set their codec in init; a sink without one gets records only. */
void sl_sink_set_codec(sl_stage *st, const sl_codec *codec, void *codec_ctx);

/* The write of sb is durable (or failed for the rejected records). */
void sl_sink_done(sl_sink_batch *sb);
/* In place of sl_sink_done: the write of sb failed in a way that retrying
 * cannot heal (the descriptor is closed, the reader went away), and nothing
 * of it is known to be durable.  The pipeline stops with exit code 1,
 * acknowledging neither this batch nor any later one of its source, so the
 * next start reads them again; why (copied) is logged, naming the sink. */
void sl_sink_failed(sl_sink_batch *sb, const char *why);
/* Ends flush: everything the sink buffered is durable. */
void sl_stage_flushed(sl_stage *st);

/* Record i of sb failed for good; it goes to the dead-letter sink with the
 * reason when sl_sink_done is called (or sl_sink_send_rejects). */
void sl_sink_reject(sl_sink_batch *sb, uint32_t i, const char *reason);
/* Sends the records of sb rejected so far, and not sent yet, to the
 * dead-letter sink now rather than at sl_sink_done, and calls durable(arg)
 * on the loop thread once they are durable there (or failed for good,
 * which is logged).  A sink that stores its sources' positions with its
 * data (sl_sink_batch_checkpoint) commits them only after durable: were
 * the position stored first, a crash before the dead letters are durable
 * would lose them, as the restart resumes after them.  Returns 0 when
 * durable will be called (perhaps before this returns); a negative SL_E*
 * when there was nothing to send or it could not be sent (logged), and
 * then durable is never called. */
int sl_sink_send_rejects(sl_sink_batch *sb, void (*durable)(void *arg), void *arg);

/* Per-record options (SL_RECORD_FN, SL_RECORD_FIELD, SL_RECORD_MAP): the
 * value of the sink's k-th per-record option for record i of sb; ptr NULL
 * when absent (the function returned nil, the field is missing). */
sl_str sl_sink_attr(const sl_sink_batch *sb, int k, uint32_t i);
/* Walks the pairs of an SL_RECORD_MAP value: returns 1 and sets *name and
 * *value (pointing into the value) for the next pair, advancing *rest;
 * 0 at the end.  Start with *rest = the sl_sink_attr() value. */
int sl_attr_pairs_next(sl_str *rest, sl_str *name, sl_str *value);

/* Source positions, for sinks that commit them with their data.  The
 * position the source of sb's batch will resume from once the batch is
 * durable, encoded by the source's checkpoint_encode, and the source's name.
 * A sink that writes it in the same transaction as the records makes the
 * pipeline effectively-once (see checkpoint_load).  SL_ENOENT if the source
 * cannot encode its checkpoints. */
int sl_sink_batch_checkpoint(const sl_sink_batch *sb, const char **source, sl_buf *out);
/* The batch behind a sink batch: its source and its checkpoint as the
 * source set it (a transactional sink sends these positions itself). */
sl_stage *sl_batch_source(const sl_batch *b);
const sl_checkpoint *sl_batch_checkpoint(const sl_batch *b);

/* ---- steps (worker threads) ---- */

const char *sl_step_stage_name(sl_step_out *out);
sl_arena *sl_step_arena(sl_step_out *out);
/* Adds a record after the current one; rec must live in the step's arena.
 * 0, SL_ENOMEM, or SL_ETOOBIG past the records that a batch may hold
 * (limits.memory_mb, see worker.c). */
int sl_step_emit(sl_step_out *out, sl_record *rec);
/* Marks the current record failed with reason (copied). */
void sl_step_fail(sl_step_out *out, sl_record *rec, const char *reason);

/* ---- metrics ---- */

/* Metrics of a stage, exported on the admin endpoint's /metrics as
 * sluice_<name>{pipeline="...",stage="..."[,label="value"...]}.  labels is
 * NULL or a NULL-terminated list of label names; each update gives values
 * for them in the same order (NULL when there are none).  Safe from any
 * thread; each update takes a lock, so add per batch, not per record. */
typedef struct sl_metric sl_metric;
typedef enum sl_metric_kind { SL_COUNTER = 1, SL_GAUGE } sl_metric_kind;
sl_metric *sl_stage_metric(sl_stage *st, sl_metric_kind kind, const char *name,
                           const char *help, const char *const *labels);
void sl_metric_add(sl_metric *m, const char *const *values, int64_t delta);
void sl_metric_set(sl_metric *m, const char *const *values, int64_t value);

/* In a plugin's collect callback: one sample of a family (series with the
 * same labels add up). */
void sl_collect(sl_collector *c, sl_metric_kind kind, const char *name, const char *help,
                const char *const *labels, const char *const *values, int64_t value);

/* ---- state that survives restarts ---- */

/* One small file per stage in the pipeline's
 * state folder, replaced atomically.  save is asynchronous and coalesces:
 * only the latest value is written.  load returns SL_ENOENT if none. */
int sl_state_load(sl_stage *st, sl_buf *out);
void sl_state_save(sl_stage *st, const char *data, size_t len);
/* For init, when the checkpoint sl_state_load returned cannot be used
 * (what, printf-style: "not JSON", "offset 7 is inside a line"): logs it
 * with the file and how to start over, and returns SL_ESTATE for init to
 * return; the pipeline does not start.  Never guess instead: starting over
 * reads records twice, a wrong position skips or cuts them. */
int sl_state_corrupt(sl_stage *st, const char *what, ...) __attribute__((format(printf, 2, 3)));

#endif
