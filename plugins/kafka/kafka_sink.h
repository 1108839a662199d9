/* kafka.sink's state, shared by kafka_sink.c (the producer: records to
 * messages, delivery reports) and kafka_txn.c (its transactions under
 * exactly_once).  The transaction layer sits beneath the sink: the sink
 * calls its kafka_txn_* functions, and it calls the sink back only through
 * the ktx_ops table the sink hands to kafka_txn_start.  Plugin-internal;
 * everything here is loop-thread state unless said otherwise. */
#ifndef SLUICE_PLUGIN_KAFKA_SINK_H
#define SLUICE_PLUGIN_KAFKA_SINK_H

#include "kafka_offsets.h"

typedef struct ksink_cfg {
  char *brokers;
  int topic;              /* Lua refs in the loop thread's state */
  int key;
  int headers;
  char *default_topic;
  char *format;
  char **columns;
  char *delimiter;
  char **librdkafka;
  char *transactional_id;
  int64_t commit_interval_ms;
} ksink_cfg;

/* A record's state in a transactional sink (kbatch.rs). */
enum {
  R_NEW = 0,              /* to produce (again, after an abort) */
  R_SUSPECT,              /* its message was in a refused record batch: to be tried alone */
  R_TRYING,               /* produced alone: awaiting its delivery report */
  R_DONE                  /* rejected to the dead-letter sink: never produced again */
};

/* A sink batch being produced (in its batch's arena). */
typedef struct kbatch {
  sl_sink_batch *sb;
  uint32_t next;          /* next record to produce */
  uint32_t outstanding;   /* produced, no delivery report yet */
  struct kbatch **slots;  /* record i's msg_opaque is &slots[i]; each points back here */
  uint8_t *rs;            /* transactional: R_* per record; NULL otherwise */
  uint32_t ndone;         /* transactional: records R_DONE */
} kbatch;

typedef struct ktopic_ent {
  char *name;
  size_t len;
  rd_kafka_topic_t *rkt;
} ktopic_ent;

typedef struct kheader {
  char *name;
  char *value;
  size_t len;
} kheader;

typedef struct ksink ksink;

/* What the transaction layer (kafka_txn.c) may call in the sink above it:
 * the sink hands this table to kafka_txn_start, and the layer never calls
 * the sink by name (as pg_conn_ops does for PostgreSQL connections). */
typedef struct ktx_ops {
  /* Produce the group's records (a transaction began, or a delivery
   * report made room). */
  void (*produce_more)(ksink *k);
  /* The layer went idle: the sink may finish a flush. */
  void (*check_flushed)(ksink *k);
  /* Record i of sb failed alone: to the dead-letter sink with why. */
  void (*reject)(ksink *k, sl_sink_batch *sb, uint32_t i, const char *why);
  /* The producer cannot go on: exits without acknowledging. */
  void (*fatal)(ksink *k, const char *reason);
} ktx_ops;

/* The transactions of an exactly_once sink (kafka_txn.c). */
typedef enum {
  TX_INIT = 0,            /* init_transactions pending (or to retry) */
  TX_READY,               /* no transaction open */
  TX_OPEN,                /* a transaction is open: producing */
  TX_BUSY                 /* a commit or an abort runs on the thread pool */
} ktx_state;

typedef struct ktx {
  const ktx_ops *ops;     /* the sink above */
  ktx_state state;
  char *id;               /* transactional.id */
  sl_sink_queue q;        /* the batches; its group is one transaction */
  sl_sink_batch *group;   /* the group of the open transaction (the queue's) */
  sl_sink_batch *cur;     /* ... its first batch not wholly produced; NULL: all are */
  int pending_op;         /* TXOP_* to run again when the queue writes the group again */
  uint64_t max_records;   /* a group holds at most this many */
  int64_t interval_ms;    /* ... and waits this long for them to come */
  int64_t gather_since;   /* when the queue's head began to wait (0: nothing waits) */
  int failed;             /* a message or call failed: abort once nothing is outstanding */
  int purge_armed;        /* ... the timer will purge what is still in flight */
  int trying;             /* a suspect is out alone: produce nothing else until its report */
  int warned_suspects;    /* the hint about batch.size was logged */
  char why[512];
  uv_timer_t timer;       /* the first init, the gathering, the purge */
  int timer_open;
  uv_work_t req;
  int op;                 /* the thread pool's job: TXOP_* */
  int op_running;         /* from start to the after-callback (loop thread) */
  int work_busy;          /* while the call runs (atomic: destroy waits on it) */
  rd_kafka_error_t *err;  /* its result (set on the pool thread) */
  kafka_offsets offs;     /* the commit's offsets, one entry per source */
  sl_metric *m_tx;        /* counter {outcome} */
} ktx;

struct ksink {
  kafka_client kc;        /* first: librdkafka's opaque */
  ksink_cfg *cfg;
  const sl_codec *codec;
  void *cctx;
  kafka_uv uv;
  rd_kafka_t *solo;       /* the producer that sends failed batches' messages one by one */
  kafka_uv solo_uv;
  int is_dlq;
  char *topic_const;      /* topic = "name" */
  rd_kafka_topic_t *topic_const_rkt;   /* its handle (owned by topics) */
  int64_t now_ms;         /* message timestamp, read once per produce_more */
  int topic_fn;           /* topic = function(rec) */
  int has_key;
  int has_headers;        /* headers = {...}: the workers evaluate it per record */
  kheader *hconst;        /* its constant entries, for dead letters made late */
  int nhconst;

  ktopic_ent *topics;     /* open addressing on the name */
  size_t tcap, tcount;

  sl_sink_batch *qhead, *qtail;   /* written, records still to produce (not transactional) */
  uint64_t open_batches;  /* written, not done */
  uint64_t outstanding;   /* messages awaiting their delivery report */
  int blocked;            /* the producer queue was full */
  int flushing;
  int fatal;
  uint64_t delivered, rejected, resent;
  /* metrics (admin endpoint), brought up to date after each poll */
  sl_metric *m_delivered, *m_rejected, *m_resent, *m_queue;
  uint64_t shown_delivered, shown_rejected, shown_resent;

  int transactional;      /* the pipeline says exactly_once (and this is not the dlq) */
  ktx tx;
};

/* ---- kafka_txn.c ---- */

/* Sets the producer configuration's transactional.id (and what goes with
 * it) and remembers the id.  0 or a negative SL_E*. */
int kafka_txn_configure(ksink *k, rd_kafka_conf_t *conf);
/* After the producer exists: starts init_transactions on the thread pool.
 * ops is how the layer calls the sink back (it must outlive the sink). */
int kafka_txn_start(ksink *k, const ktx_ops *ops);
/* A batch from sl_plugin.write: to the queue, for a transaction. */
void kafka_txn_push(ksink *k, sl_sink_batch *sb);
/* Whether records of the group may be produced now. */
int kafka_txn_may_produce(const ksink *k);
/* Before record i of kb is produced: 1 to produce it, 0 to skip it (it is
 * done), -1 to stop producing for now (wait for delivery reports). */
int kafka_txn_gate(ksink *k, kbatch *kb, uint32_t i);
/* Record i of kb was just produced / rejected at once. */
void kafka_txn_produced(ksink *k, kbatch *kb, uint32_t i);
void kafka_txn_rejected(kbatch *kb, uint32_t i);
/* The producer refused a message because the transaction failed. */
void kafka_txn_produce_failed(ksink *k, const char *why);
/* The delivery report of record i of kb (k->outstanding already counts it
 * off). */
void kafka_txn_delivered(ksink *k, kbatch *kb, uint32_t i, const rd_kafka_message_t *m);
/* Moves the transaction on: abort a failed one, commit one whose group is
 * produced and delivered. */
void kafka_txn_progress(ksink *k);
/* Flush: what is gathering goes now. */
void kafka_txn_flush(ksink *k);
/* Whether nothing runs on the thread pool (the sink may be flushed). */
int kafka_txn_idle(const ksink *k);
/* For destroy: frees what the transactions hold. */
void kafka_txn_destroy(ksink *k);

#endif
