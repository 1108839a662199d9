/* Offset tracking (plugin-internal): what kafka.source keeps about its
 * partitions' positions, and the offsets a transactional kafka.sink
 * gathers for its commit.  A leaf: it calls nothing else of the plugin.
 * Loop thread, except kafka_offsets_send (the thread pool, while the loop
 * leaves the transaction alone). */
#ifndef SLUICE_PLUGIN_KAFKA_OFFSETS_H
#define SLUICE_PLUGIN_KAFKA_OFFSETS_H

#include "kafka.h"

/* ---- the source's positions ---- */

typedef struct ktopic {
  char *name;             /* records' meta.origin points here: kept until freed */
  size_t len;
} ktopic;

/* A partition the consumer was assigned at some point. */
typedef struct kpart {
  int32_t topic;          /* index into topics */
  int32_t partition;
  uint32_t epoch;         /* of the current assignment; 0 when not assigned */
} kpart;

/* One partition's position in a batch checkpoint (cp.data, cp.a entries). */
typedef struct kcp {
  int32_t topic;
  int32_t partition;
  int64_t next;           /* offset after the batch's last message of it */
  uint32_t epoch;
} kcp;

typedef struct kafka_positions {
  ktopic *topics;
  int ntopics, captopics, last_topic;
  kpart *parts;
  int nparts, capparts;
  uint32_t epoch_seq;
  kcp *cps;               /* the batch being built */
  int ncps, capcps;
} kafka_positions;

/* The index of topic name (added if new); -1 on ENOMEM. */
int kafka_pos_topic(kafka_positions *p, const char *name);
/* The partition's entry; with create, added if new (epoch 0).  NULL if
 * absent or on ENOMEM. */
kpart *kafka_pos_part(kafka_positions *p, int32_t topic, int32_t partition, int create);
/* The epoch of the partition's current assignment; 0 when not assigned. */
uint32_t kafka_pos_epoch(const kafka_positions *p, int32_t topic, int32_t partition);
/* The batch being built's entry for the partition (added if new, next -1);
 * NULL on ENOMEM.  Set p->ncps = 0 to start a batch. */
kcp *kafka_pos_track(kafka_positions *p, int32_t topic, int32_t partition);
/* Adds to l, for each partition of the batch checkpoint cp still assigned
 * as it was when the batch was read, the offset after the batch (the larger
 * one if l has the partition already); returns how many were not.  A
 * partition revoked since (even if assigned again) belongs to its new
 * assignment: its committed offset is where that one started. */
int kafka_pos_add_offsets(const kafka_positions *p, const sl_checkpoint *cp,
                          rd_kafka_topic_partition_list_t *l);
void kafka_pos_free(kafka_positions *p);

/* ---- a transaction's offsets, per source ---- */

typedef struct kafka_offsets_src {
  sl_stage *source;
  rd_kafka_topic_partition_list_t *offsets;
  rd_kafka_consumer_group_metadata_t *group;   /* NULL until the caller sets it */
} kafka_offsets_src;

typedef struct kafka_offsets {
  kafka_offsets_src *v;
  int n;
  int sent;               /* entries sent to the transaction so far */
} kafka_offsets;

/* The entry of source src (added, with an empty list, if new); NULL on
 * ENOMEM. */
kafka_offsets_src *kafka_offsets_for(kafka_offsets *o, sl_stage *src);
/* rd_kafka_send_offsets_to_transaction for each entry not sent yet: a
 * retried commit resumes where the last one failed.  NULL or the error. */
rd_kafka_error_t *kafka_offsets_send(kafka_offsets *o, rd_kafka_t *rk);
/* Frees every entry; o is empty again. */
void kafka_offsets_clear(kafka_offsets *o);

#endif
