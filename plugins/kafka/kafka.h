/* kafka.source and kafka.sink: what their files share (plugin-internal).
 *
 *   kafka_conf.c         librdkafka configuration, logging and error callbacks
 *   kafka_uv.c           a librdkafka queue on the libuv loop (pipe + uv_poll + timer)
 *   kafka_cloudevents.c  the CloudEvents Kafka binding: headers, time, structured mode
 *   kafka_offsets.c      offset tracking: the consumer's partition positions, a
 *                        transaction's offsets per source (kafka_offsets.h)
 *   kafka_source.c       the consumer
 *   kafka_sink.c         the producer (kafka_sink.h)
 *   kafka_txn.c          its transactions under exactly_once, beneath it
 *
 * Threads: everything here runs on the loop thread, except the log
 * callback (librdkafka's own threads), the structured-mode codec (workers)
 * and the consumer's final commit and close (the libuv thread pool, while
 * the loop thread leaves the client alone). */
#ifndef SLUICE_PLUGIN_KAFKA_H
#define SLUICE_PLUGIN_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <uv.h>

#include "sluice/plugin.h"

/* ---- kafka_conf.c ---- */

/* What a source or sink shares with the callbacks librdkafka calls: the
 * opaque of its rd_kafka_t. */
typedef struct kafka_client {
  sl_stage *st;               /* NULL for a command's client (sluice publish) */
  const char *name;           /* its name in messages when st is NULL */
  rd_kafka_t *rk;
  const char *brokers;        /* for messages: "cannot reach Kafka brokers ..." */
  int all_down;               /* every broker was down and none answered since */
  int last_err;               /* the last error reported, to quiet repeats */
  int64_t last_err_ms;
  /* Set while another thread (the consumer's close) owns rk: the callbacks
   * then only log. */
  volatile int off_loop;
  /* A fatal error (idempotent producer fenced, ...): called on the loop
   * thread with librdkafka's reason. */
  void (*on_fatal)(struct kafka_client *kc, const char *reason);
} kafka_client;

/* Builds a configuration: bootstrap.servers = brokers, then the plugin's
 * defaults (key, value, ..., NULL), then the pipeline's librdkafka map
 * (which may override the defaults), then the forced settings.  A key of
 * the map that sluice manages (forced or in managed) is an error.  Sets
 * the log and error callbacks and kc as the opaque.  NULL after logging
 * the reason. */
rd_kafka_conf_t *kafka_conf_new(kafka_client *kc, const char *const *defaults,
                                char **user_map, const char *const *managed,
                                const char *const *forced);

/* A message or delivery report arrived: the brokers are reachable (logs
 * once after an outage). */
void kafka_client_alive(kafka_client *kc);

/* Whether a librdkafka setting holds a secret (its value is never logged). */
int kafka_conf_is_secret(const char *key);

/* ---- kafka_uv.c ---- */

/* A librdkafka queue served on the loop thread.  librdkafka writes a byte
 * into a non-blocking pipe when the queue goes from empty to non-empty; a
 * uv_poll on the read end calls serve.  Because that happens only on that
 * transition, serve must drain the queue, or call kafka_uv_again to come
 * back from a uv_idle.  A timer calls serve too, so that a quiet queue is
 * still polled (callbacks, max.poll.interval.ms) and a paused consumer
 * still serves its rebalances. */
typedef struct kafka_uv {
  rd_kafka_queue_t *q;        /* owned */
  int rfd, wfd;
  int have_pipe;
  uv_poll_t poll;
  uv_timer_t timer;
  uv_idle_t idle;
  int open;                   /* the handles were initialised: uv_close owed */
  int running;
  void (*serve)(void *arg);
  void *arg;
} kafka_uv;

/* Takes ownership of q and starts watching it; 0 or a negative SL_E*. */
int kafka_uv_start(kafka_uv *u, uv_loop_t *loop, rd_kafka_queue_t *q, uint64_t every_ms,
                   void (*serve)(void *arg), void *arg);
/* serve again from the next loop iteration (more is queued). */
void kafka_uv_again(kafka_uv *u);
/* Stops calling serve (the queue and pipe stay until kafka_uv_close). */
void kafka_uv_stop(kafka_uv *u);
/* Stops, detaches the pipe from the queue, destroys the queue, closes the
 * handles and the pipe.  Safe on a zeroed or half-started kafka_uv. */
void kafka_uv_close(kafka_uv *u);

/* ---- kafka_cloudevents.c ---- */

/* Whether a content-type header value says structured mode
 * ("application/cloudevents+json", parameters allowed). */
int kafka_ce_is_structured(const char *p, size_t n);
/* The record codec of a structured-mode message: decoding (on a worker)
 * reads the envelope into meta (id, source, type, time) and leaves the
 * record as its `data` object, a jsonl record whose raw bytes are that
 * object, so that a jsonl sink copies them as they came. */
extern const sl_codec kafka_ce_structured_codec;

/* ---- kafka_source.c, for the transactional sink (exactly_once) ---- */

/* The consumer group metadata of source st, for
 * rd_kafka_send_offsets_to_transaction (free it with
 * rd_kafka_consumer_group_metadata_destroy); NULL if st is not a
 * kafka.source.  Loop thread. */
rd_kafka_consumer_group_metadata_t *kafka_source_group_metadata(sl_stage *st);
/* The partitions' positions of source st (kafka_offsets.h), for
 * kafka_pos_add_offsets on its batches' checkpoints; NULL if st is not a
 * kafka.source.  Loop thread. */
struct kafka_positions;
const struct kafka_positions *kafka_source_positions(sl_stage *st);

/* ---- the plugins ---- */

extern const sl_plugin kafka_source_plugin;
extern const sl_plugin kafka_sink_plugin;

#endif
