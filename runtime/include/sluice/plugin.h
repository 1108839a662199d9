/* Plugins: sources, steps and sinks.
 *
 * A C plugin is one `sl_plugin` struct, registered with designated
 * initializers and named in its folder's sluice_plugin() CMake call.  The
 * struct begins with its ABI version and only ever grows at the end.
 * Options are declared, not hand-parsed: the runtime checks a pipeline's
 * options against the table (unknown names, types, required ones, enum
 * choices), fills the plugin's config struct at the given offsets, and uses
 * the same table for `sluice check` and `sluice help plugins`.
 *
 * Threads: every source and sink callback runs on the loop thread and must
 * not block.  Step callbacks run on worker threads, one instance per worker;
 * a stateful step's on its own lane (sluice/stateful.h).
 *
 * The libuv promise holds here too: a function that takes a callback and
 * returns an error never calls the callback.
 *
 * This header is all a plugin needs to include: it brings the calls a
 * plugin makes, grouped by concern (sluice/stage.h, source.h, sink.h,
 * sink_queue.h, step.h, stateful.h, metrics.h, state.h; records, values, codecs, buffers,
 * errors).
 * sluice/clock.h, lua.h, text.h and log.h are included where used. */
#ifndef SLUICE_PLUGIN_H
#define SLUICE_PLUGIN_H

#include <stddef.h>

#include "sluice/buf.h"
#include "sluice/codec.h"
#include "sluice/errors.h"
#include "sluice/metrics.h"
#include "sluice/record.h"
#include "sluice/sink.h"
#include "sluice/sink_queue.h"
#include "sluice/source.h"
#include "sluice/stage.h"
#include "sluice/state.h"
#include "sluice/stateful.h"
#include "sluice/step.h"

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

/* ---- commands a plugin adds to the `sluice` tool ---- */

/* `sluice NAME PIPELINE.lua ARGS...` (`sluice train`, `sluice explain`):
 * the runtime loads the pipeline as `sluice check` does (options parsed,
 * no stage started, no init), finds the stage whose plugin offers the
 * command (the one --step names, else the only one) and calls run with
 * the arguments after the pipeline file (argv[0] is the command's name,
 * --step removed).  run prints what it has to say and returns the exit
 * code (0 done, 1 failed, 2 usage or invalid input). */
typedef struct sl_plugin_command {
  const char *name;
  const char *summary;    /* one line for `sluice help` */
  const char *help;       /* `sluice help NAME` */
  int (*run)(sl_stage *st, int argc, char **argv);
  /* Instead of run, for a command that takes no pipeline (`sluice
   * publish`): called with every argument after `sluice` (argv[0] is the
   * command's name); returns the exit code.  Logging goes to stderr at
   * warn. */
  int (*main)(int argc, char **argv);
} sl_plugin_command;

/* ---- pages a plugin adds to the admin endpoint ---- */

/* GET <path> and the paths below it (<path>/<more>) on the admin endpoint,
 * behind its bearer token like /metrics.  serve runs on the loop thread:
 * it reads what the stage shares under a lock of its own (a stateful
 * stage's lane state is not for it), writes the page into body, sets
 * *type (text/html; charset=utf-8, say) and returns the HTTP status. */
typedef struct sl_plugin_page {
  const char *path;       /* "/scorecard" */
  const char *summary;    /* one line, for the endpoint's index */
  int (*serve)(sl_stage *st, const char *path, sl_buf *body, const char **type);
} sl_plugin_page;

/* ---- the plugin ---- */

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

  /* Steps that keep state (sluice/stateful.h): set instead of worker_init
   * and process; the step then runs on a lane of its own, in each source's
   * order.  NULL for every other plugin. */
  const sl_stateful *stateful;

  /* Optional: commands of the `sluice` tool, ending with {NULL}. */
  const sl_plugin_command *commands;

  /* Optional: pages of the admin endpoint, ending with {NULL}. */
  const sl_plugin_page *pages;

  /* Optional: the feed catalog (sluice/catalog.h) the stage was given, or
   * NULL.  Its `sensitive` fields are masked wherever sluice shows the
   * values of a record (sluice tap).  Called on the loop thread after
   * init; the catalog must live until destroy. */
  const struct sl_catalog *(*catalog)(sl_stage *st);
} sl_plugin;

/* sl_plugin.caps.  SL_CAN_EXACTLY_ONCE: a source that, under exactly_once =
 * true, leaves its positions to the sink (it commits nothing itself); a
 * sink that commits its batches' source positions in the same transaction
 * as their records.  A pipeline with exactly_once needs it of every source
 * and of its one sink. */
#define SL_CAN_EXACTLY_ONCE 1u
/* SL_CAN_HOST_LUA: a source or sink that runs the stages of its kind which
 * Lua plugin files define (sl.plugin.source { ... }, sl.plugin.sink
 * { ... }): the runtime gives every such stage to the plugin of its kind
 * with this bit, which finds the definition in the stage's descriptor
 * (sl_stage_push_descriptor).  It is not a constructor of its own: the
 * `sluice` module and `sluice help plugins` leave it out. */
#define SL_CAN_HOST_LUA 2u

#endif
