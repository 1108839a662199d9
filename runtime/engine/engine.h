/* The engine (runtime-internal): the structs its modules share (the
 * pipeline, its stages, a batch in flight) and the entry points of the
 * pipeline's life.  Each module declares its own functions beside its code:
 * batch.h, stage.h, state.h, workers.h, flow.h (see docs/internals/engine.md).
 *
 * One loop thread owns every source, sink, timer and signal.  Batches go from
 * a source to the worker pool (decode, steps, encode for each sink), come back
 * to the loop thread, are handed to the sinks in each source's emission
 * order, and are freed once every sink acknowledged them; the source is then
 * told, in order, so that its checkpoint never passes a record that is not
 * durable everywhere. */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "lua/sl_lua.h"
#include "sluice/plugin.h"

typedef struct sl_workers sl_workers;
typedef struct sl_lanes sl_lanes;
typedef struct sl_statefile sl_statefile;
typedef struct sl_lua_plugin sl_lua_plugin;
typedef struct sl_reload sl_reload;
typedef struct sl_state_hooks sl_state_hooks;

/* One acknowledgement on its way to a source's ack callback: what it
 * acknowledges.  A checkpoint the source saves from ack (sl_state_save)
 * takes the records (held): they stay in flight until the file is written,
 * so that a crash never replays more than the in-flight bound. */
typedef struct sl_ack {
  uint64_t records;           /* records of the acknowledged batch */
  int held;                   /* a state save took them */
} sl_ack;

struct sl_stage {
  const sl_plugin *plugin;    /* NULL for a Lua function step */
  sl_plugin_kind kind;
  int index;                  /* position in its list (sources, steps, sinks) */
  char *name;                 /* unique in the pipeline: "file.source.1" or the name option */
  char *where;                /* "pipeline.lua:12" */
  /* Sources: the department and feed of every record that does not say
   * (options department and feed); NULL when not given. */
  char *department, *feed;
  void *config;
  void *priv;
  sl_pipeline *p;
  int desc_ref;               /* the stage's descriptor in the config state */
  int inited;                 /* init was called: destroy is owed */

  /* sources */
  int paused;                 /* pause callback called, resume not yet */
  int stopping;
  int finished;
  uint64_t next_seq;
  sl_batch *head, *tail;      /* in-flight batches in emission order */
  sl_batch *undispatched;     /* first batch not yet handed to the sinks */
  sl_batch **unlaned;         /* per stateful stage: first batch not yet handed to its lane */
  sl_batch *unwritten;        /* first dispatched batch whose data sinks wait (dlq_first) */
  int lost;                   /* a batch was lost: it and later ones are not written nor acked */
  sl_statefile *state;
  sl_buf preloaded;           /* a checkpoint the only sink stored with its data */
  int has_preloaded;
  int reset_state;            /* --reset-checkpoint: start without the saved checkpoint */
  sl_ack *ack;                /* the acknowledgement being delivered to ack(), else NULL */
  int lane_of;                /* a lane's own source: 1 + the lane's index; 0 for the pipeline's */

  /* stateful steps */
  int64_t tick_ms;            /* sl_stateful_tick: call tick every tick_ms (0: never) */
  sl_stage *lane_src;         /* the source of the batches its lane makes (tick, finish) */

  /* sinks */
  const sl_codec *codec;
  void *codec_ctx;
  int has_where;
  int nattrs;                 /* per-record options (SL_RECORD_FN / SL_RECORD_FIELD) */
  const sl_option **attr_opts;
  int flushed;
  int is_dlq;

  /* taps attached to the stage (tap.c; the workers read it) */
  atomic_int taps;

  /* counters (loop thread) */
  uint64_t records_in;        /* sources: emitted; sinks: handed to write */
  uint64_t records_acked;     /* sources: durable everywhere or dropped */
  uint64_t records_done;      /* sinks: made durable */
  uint64_t records_failed;    /* sinks: rejected for good */
};

typedef enum sl_run_state {
  SL_RUN_STARTING = 0,
  SL_RUN_RUNNING,
  SL_RUN_DRAINING,            /* sources stopped, in-flight batches finishing */
  SL_RUN_FLUSHING,            /* everything acked, sinks flushing */
  SL_RUN_DONE
} sl_run_state;

/* What a batch a lane made itself carries instead of records (b->made). */
typedef enum sl_lane_made {
  SL_MADE_NONE = 0,           /* a source's batch */
  SL_MADE_TICK,               /* the lane calls tick (b->made_ms) */
  SL_MADE_FINISH              /* the lane calls finish */
} sl_lane_made;

typedef struct sl_pipeline_settings {
  uint32_t batch_size;
  uint64_t max_inflight_records;
  uint64_t max_inflight_bytes;
  int workers;
  int exactly_once;
  sl_lua_limits limits;
  sl_lua_grants grants;
} sl_pipeline_settings;

struct sl_pipeline {
  char *name;
  char *file;                 /* the pipeline file as given */
  sl_buf text;                /* its text, read once: every Lua state of the run evaluates these
                                 bytes, whatever happens to the file meanwhile */
  struct sl_reload_carry *carry;  /* sl_run_opts.carry */
  char *dir;                  /* its folder (absolute) */
  char *state_dir;            /* <state root>/<name> */
  const char **search_path;   /* Lua require path: lua/, the pipeline's folder, SLUICE_PLUGIN_PATH */
  uv_loop_t *loop;
  sl_lua *cfg;                /* the loop thread's Lua state: the pipeline as evaluated */
  int desc_ref;               /* the pipeline descriptor in cfg */
  sl_pipeline_settings set;

  sl_stage **sources; int nsources;
  sl_stage **steps;   int nsteps;
  sl_stage **sinks;   int nsinks;    /* sinks[nsinks - 1] is the dead-letter sink */
  sl_stage *building;         /* a stage being made, not yet in a list: freed by unload
                                 if making it stopped on a Lua error (out of memory) */
  /* Stateful steps (sluice/stateful.h), in step order: lane j runs
   * steps[lane_step[j]].  A batch goes through 2 * nlanes + 1 phases: even
   * phase 2j on the workers (the steps after lane j - 1 up to lane j; the
   * last one also `where` and encoding), odd phase 2j + 1 on lane j. */
  int *lane_step;     int nlanes;
  /* Lane j's own source, lane_src[j]: the batches the lane makes (tick,
   * finish) belong to it, carry no position, and start at phase 2j + 1
   * (lane_input.c).  Not among p->sources: nothing pauses or stops it. */
  sl_stage **lane_src;
  struct sl_lane_input *lane_input;   /* the tick timers and the end of input */
  /* The flow asks at its end whether the lanes are done too: at the end of
   * input (input_ended) their finish batches go first, on a stop only what
   * is in flight drains.  1 when done; NULL without lanes. */
  int (*lanes_at_end)(sl_pipeline *p, int input_ended);
  /* Called at the first batch with records a source emits, if set (a lane
   * marks its last finish as followed by new input). */
  void (*first_input)(sl_pipeline *p);

  uint64_t inflight_records;
  uint64_t inflight_bytes;
  int flow_paused;

  /* Where emitted batches go to be processed, for their phase (b->phase):
   * the worker pool or a stateful stage's lane (a test may process them
   * itself).  They come back through sl__flow_processed. */
  void (*submit)(sl_pipeline *p, sl_batch *b);
  const sl_state_hooks *state_hooks;   /* what a checkpoint write tells the flow */
  sl_workers *workers;
  sl_lanes *lanes;
  uv_async_t done_async;
  pthread_mutex_t done_mu;
  sl_batch *done_head, *done_tail;   /* processed by workers, not yet taken back */

  uv_signal_t sig_term, sig_int;
  sl_reload *reloader;        /* SIGHUP: checks the new file off the loop thread */
  uv_timer_t watchdog;        /* service.c: WATCHDOG=1 to the service manager */
  int watchdog_on;
  int signals;
  sl_run_state run;
  int statefiles_busy;        /* state writes in flight */
  int reload;                 /* drain, then return SL_EXIT_RELOAD */
  int dlq_first;              /* the one sink commits source positions: dead letters go first */
  int testing;                /* sluice test: in-memory sources and sinks, no state restored */
  uint64_t records_dropped;   /* by steps */
  pthread_mutex_t metrics_mu;
  struct sl_metric *metrics;  /* families registered by plugins */
  const struct sl_admin_conf *admin_conf;  /* the admin endpoint's, or NULL */
  struct sl_http_server *admin;
  /* tap.c: the taps attached (read by the workers, set on the loop thread) */
  atomic_int ntaps;
  struct sl_taps *taps;
  int exit_code;
};

struct sl_batch {
  sl_arena arena;
  sl_stage *source;
  uint64_t seq;
  sl_checkpoint cp;
  sl_record *recs;            /* input records (malloc) */
  uint32_t n, cap;
  size_t bytes;               /* accounted against max_inflight_bytes */
  sl_sink_batch *sbs;         /* one per sink after processing (arena) */
  int phase;                  /* 0 .. 2 * p->nlanes: where it is (see sl_pipeline.lane_step) */
  int phase_done;             /* a phase before the last is done with it */
  sl_lane_made made;          /* a batch a lane made: what the lane calls for it */
  int64_t made_ms;            /* SL_MADE_TICK: the time tick is given (Unix ms) */
  sl_record **live;           /* between phases: the records going on (arena) */
  uint32_t nlive;
  sl_record **dead;           /* between phases: the records that failed so far (arena) */
  uint32_t ndead;
  int processed;             /* the workers are done with it */
  int dispatched;            /* handed to the sinks */
  int deferred;              /* the data sinks wait for the dead letters (dlq_first) */
  int pending;                /* sink batches not yet done */
  uint64_t dropped;           /* records dropped by steps */
  const char *lost;           /* why it cannot be written whole (static); NULL if it can */
  sl_batch *next;             /* source's in-flight list */
  sl_batch *qnext;            /* worker queue or done list */
};

/* ---- pipeline.c ---- */
/* What `sluice test` (runtime/testing/) does to a run: loaded is called
 * once the pipeline is loaded and before anything is built (it puts
 * in-memory stages in place of the sources and sinks; non-zero: the run
 * does not happen, with the reason in err); ran after the run, before
 * tear-down.  With hooks, no stateful step restores its state (no service
 * is reached). */
typedef struct sl_run_hooks {
  void *ud;
  int (*loaded)(sl_pipeline *p, void *ud, sl_buf *err);
  void (*ran)(sl_pipeline *p, void *ud);
} sl_run_hooks;

/* What a reload hands from one run to the next (sluice run keeps it). */
typedef struct sl_reload_carry {
  sl_buf text;                /* the file's text as the reload's check read it and found valid */
  int again;                  /* a SIGHUP came during the drain: check the file once running */
} sl_reload_carry;

typedef struct sl_run_opts {
  const char *file;
  const sl_buf *text;         /* file's text to evaluate instead of reading file (a reload runs
                                 the text its check found valid), or NULL */
  sl_reload_carry *carry;     /* run: where a reload leaves what the next run needs, or NULL */
  const char *state_root;     /* NULL: $SLUICE_STATE_DIR or <pipeline folder>/.sluice */
  int workers;                /* 0: from the pipeline or the number of cores */
  const struct sl_admin_conf *admin;  /* --admin, or NULL for none */
  int check_only;
  int json;                   /* check_only: the verdict as one JSON object on standard output */
  int quiet;                  /* check_only: report errors through the log, print nothing */
  sl_buf *err_out;            /* check_only: append the error here instead, leave the log's
                                 pipeline name alone (a check beside a running pipeline) */
  const char *const *reset;   /* --reset-checkpoint: source names, NULL-terminated, or NULL */
  const sl_run_hooks *hooks;  /* sluice test, else NULL */
} sl_run_opts;

/* sl_pipeline_main's exit code when SIGHUP asked for a reload: the pipeline
 * drained and saved its checkpoints; run it again from the (new) file. */
#define SL_EXIT_RELOAD (-1)
/* The exit code when a checkpoint could not be saved, or the saved one
 * cannot be used: the state folder needs a person. */
#define SL_EXIT_STATE 3

/* Loads, checks and (unless check_only) runs a pipeline to its end.
 * Returns the process exit code: 0, 1 (runtime failure), 2 (invalid
 * pipeline or usage), SL_EXIT_STATE. */
int sl_pipeline_main(const sl_run_opts *o);
/* command.c: loads o->file as `sluice check` does and runs the plugin
 * command of that name (sl_plugin_command) on the stage that offers it
 * (the one named step, if not NULL).  The exit code. */
int sl_pipeline_command(const sl_run_opts *o, const char *command, const char *step, int argc, char **argv);

/* ---- reload.c ---- */
/* Handles SIGHUP on p's loop (call once the loop runs the pipeline). */
int sl__reload_start(sl_pipeline *p);
/* Stops waiting for a check in progress (before the loop's handles close);
 * its thread may go on, and never touches p again. */
void sl__reload_stop(sl_pipeline *p);
/* After the loop's handles are closed. */
void sl__reload_free(sl_pipeline *p);
/* The verdict of a reload request, on the loop thread: 0 the file is valid
 * and the pipeline drains to run it; 2 it is not (why: the check's error,
 * "file:line: ..."); 1 the check could not run, did not end in time, or
 * the pipeline stopped first (why says which). */
typedef void (*sl_reload_cb)(void *arg, int rc, const char *why, size_t n);
/* Checks the file as SIGHUP does and calls cb(arg, ...) once with the
 * verdict (of the check after the current one, if one runs).  0, or
 * SL_ECLOSED (not running), SL_EAGAIN (draining for a reload already),
 * SL_ENOMEM. */
int sl__reload_request(sl_pipeline *p, sl_reload_cb cb, void *arg);
/* At the end of a run that drained for a reload: leaves in p->carry the
 * text the check found valid (a SIGHUP during the drain sets carry->again
 * itself). */
void sl__reload_hand_over(sl_pipeline *p);
/* How long a check may run before it counts as failed, in ms. */
uint64_t sl__reload_budget_ms(const sl_pipeline *p);
/* Forgets the requests of arg (the client left): cb is not called. */
void sl__reload_cancel(sl_pipeline *p, void *arg);

/* ---- signals.c ---- */
/* Blocks SIGTERM, SIGINT and SIGHUP on the calling thread (the threads it
 * starts later inherit that); the first call also starts libuv's thread
 * pool with them blocked.  Outside a run they wait, pending. */
void sl__signals_hold(void);
/* Unblocks them on the loop thread, once its uv_signal handlers listen. */
void sl__signals_take(void);

/* ---- config.c: the "sluice" Lua module and the pipeline descriptor ---- */
typedef struct sl_config_ctx {
  const char *pipeline_dir;
  const char *const *search_path;
  int check_only;             /* `sluice check`: a file may return a catalog */
} sl_config_ctx;

/* Installs require("sluice") into a state: 0, or SL_ELUA with the reason in
 * err (out of memory).  ctx must outlive the state. */
int sl_config_open(lua_State *L, const sl_config_ctx *ctx, sl_buf *err);
/* Runs the pipeline file and checks what it returns; leaves the pipeline
 * descriptor on the stack.  On error *err holds "file:line: message". */
int sl_config_load(sl_lua *s, const char *file, const sl_buf *text, sl_buf *err);
/* load.c: reads the pipeline file whole into out; 0, or SL_EIO / SL_ENOMEM
 * with "file: why" in err. */
int sl__pipeline_text_read(const char *file, sl_buf *out, sl_buf *err);
/* The least time budget of a pipeline file's top level, in ms (call_ms if
 * that is longer): evaluating the file may take a while. */
#define SL_LOAD_MS 10000
/* Why name cannot be a pipeline name ("contains '/'"), or NULL if it can:
 * it is one folder under the state root, so no '/', no leading '.' (which
 * also rules out "." and ".."), no control characters, at most 200 bytes. */
const char *sl__pipeline_name_problem(const char *name, size_t n);

/* ---- options.c ---- */
/* Checks the table at t against opts (and common, may be NULL).  0, or
 * SL_EOPTION with a message in err ("unknown option 'pth' (did you mean 'path'?)"). */
/* Pushes "file.lua:12: " for the nearest Lua function on the call stack
 * (through C wrappers such as a library table's __call), or "". [-0,+1] */
void sl__lua_where(lua_State *L);
int sl_options_check(lua_State *L, int t, const sl_option *opts,
                     const sl_option *common, sl_buf *err);
/* Fills cfg from the table at t, defaults included. */
int sl_options_fill(lua_State *L, int t, const sl_option *opts, void *cfg,
                    const char *basedir, sl_buf *err);
void sl_options_free(lua_State *L, const sl_option *opts, void *cfg);
/* Appends one line per option for `sluice help plugins`. */
void sl_options_describe(const sl_option *opts, sl_buf *out);
const char *sl_opt_type_name(sl_opt_type t);

/* ---- registry.c ---- */
/* The built-in C plugins and Lua libraries (sl_lua_lib: sluice/lua.h),
 * NULL-terminated, generated at configure time (plugins_builtin.c,
 * cmake/SluicePlugin.cmake) and linked into the sluice binary only. */
extern const sl_plugin *const sl__builtin_plugins[];
extern const sl_lua_lib *const sl__builtin_libs[];
/* Sets the tables the registry serves (borrowed, static); called once
 * before any pipeline is loaded.  Until then the registry is empty. */
void sl__registry_init(const sl_plugin *const *plugins, const sl_lua_lib *const *libs);
/* The plugin constructed by that name (hosts of Lua stages have none). */
const sl_plugin *sl_registry_find(const char *name);
/* The plugin that runs the stages of kind that Lua plugin files define
 * (SL_CAN_HOST_LUA), or NULL when none was built in. */
const sl_plugin *sl_registry_lua_host(sl_plugin_kind kind);
/* The C plugins, NULL-terminated. */
const sl_plugin *const *sl_registry_all(void);
const sl_lua_lib *const *sl_registry_libs(void);

/* The service manager's notifications (service.c): READY=1 once the
 * sources run (and the watchdog timer), STOPPING=1 or RELOADING=1 when
 * the drain starts. */
void sl__service_ready(sl_pipeline *p);
void sl__service_draining(sl_pipeline *p);

/* sl.pipeline's options (meta.c describes them for editors). */
const sl_option *sl__pipeline_options(void);
/* `sluice meta ...` (meta.c). */
int sl__meta_main(int argc, char **argv);

/* The shipped Lua library's folder, written into out (n bytes): $SLUICE_LUA_DIR,
 * else <prefix>/share/sluice/lua when the binary is installed as
 * <prefix>/bin/sluice beside it, else the source tree it was built from
 * (lua_dir.c).  *why (when why is not NULL) says which. */
const char *sl__lua_dir(char *out, size_t n, const char **why);

/* Stage options every plugin of a kind takes (name; where for sinks). */
const sl_option *sl_registry_common(sl_plugin_kind kind);


#endif
