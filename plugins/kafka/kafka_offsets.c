/* Offset tracking: the source's topics, partitions and assignment epochs,
 * the positions a batch checkpoint carries, and the per-source offsets a
 * transactional sink sends with its commit (kafka_offsets.h). */
#include <stdlib.h>
#include <string.h>

#include "kafka_offsets.h"

/* ---- the source's positions ---- */

int kafka_pos_topic(kafka_positions *p, const char *name) {
  if (p->last_topic < p->ntopics && strcmp(p->topics[p->last_topic].name, name) == 0)
    return p->last_topic;
  for (int i = 0; i < p->ntopics; i++)
    if (strcmp(p->topics[i].name, name) == 0) return p->last_topic = i;
  if (p->ntopics == p->captopics) {
    int cap = p->captopics ? p->captopics * 2 : 8;
    ktopic *t = realloc(p->topics, (size_t)cap * sizeof *t);
    if (!t) return -1;
    p->topics = t;
    p->captopics = cap;
  }
  char *copy = strdup(name);
  if (!copy) return -1;
  p->topics[p->ntopics] = (ktopic){copy, strlen(copy)};
  return p->last_topic = p->ntopics++;
}

static int part_index(const kafka_positions *p, int32_t topic, int32_t partition) {
  for (int i = 0; i < p->nparts; i++)
    if (p->parts[i].topic == topic && p->parts[i].partition == partition) return i;
  return -1;
}

kpart *kafka_pos_part(kafka_positions *p, int32_t topic, int32_t partition, int create) {
  int i = part_index(p, topic, partition);
  if (i >= 0) return &p->parts[i];
  if (!create) return NULL;
  if (p->nparts == p->capparts) {
    int cap = p->capparts ? p->capparts * 2 : 16;
    kpart *n = realloc(p->parts, (size_t)cap * sizeof *n);
    if (!n) return NULL;
    p->parts = n;
    p->capparts = cap;
  }
  p->parts[p->nparts] = (kpart){topic, partition, 0};
  return &p->parts[p->nparts++];
}

uint32_t kafka_pos_epoch(const kafka_positions *p, int32_t topic, int32_t partition) {
  int i = part_index(p, topic, partition);
  return i >= 0 ? p->parts[i].epoch : 0;
}

kcp *kafka_pos_track(kafka_positions *p, int32_t topic, int32_t partition) {
  for (int i = p->ncps; i-- > 0;)
    if (p->cps[i].topic == topic && p->cps[i].partition == partition) return &p->cps[i];
  if (p->ncps == p->capcps) {
    int cap = p->capcps ? p->capcps * 2 : 16;
    kcp *c = realloc(p->cps, (size_t)cap * sizeof *c);
    if (!c) return NULL;
    p->cps = c;
    p->capcps = cap;
  }
  p->cps[p->ncps] = (kcp){topic, partition, -1, 0};
  return &p->cps[p->ncps++];
}

int kafka_pos_add_offsets(const kafka_positions *p, const sl_checkpoint *cp,
                          rd_kafka_topic_partition_list_t *l) {
  const kcp *e = cp->data;
  int stale = 0;
  for (int64_t i = 0; i < cp->a; i++) {
    if (!e[i].epoch || kafka_pos_epoch(p, e[i].topic, e[i].partition) != e[i].epoch) {
      stale++;
      continue;
    }
    const char *topic = p->topics[e[i].topic].name;
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(l, topic, e[i].partition);
    if (!tp) tp = rd_kafka_topic_partition_list_add(l, topic, e[i].partition);
    if (e[i].next > tp->offset) tp->offset = e[i].next;
  }
  return stale;
}

void kafka_pos_free(kafka_positions *p) {
  for (int i = 0; i < p->ntopics; i++) free(p->topics[i].name);
  free(p->topics);
  free(p->parts);
  free(p->cps);
  p->topics = NULL;
  p->parts = NULL;
  p->cps = NULL;
  p->ntopics = p->nparts = p->ncps = 0;
}

/* ---- a transaction's offsets, per source ---- */

kafka_offsets_src *kafka_offsets_for(kafka_offsets *o, sl_stage *src) {
  for (int i = 0; i < o->n; i++)
    if (o->v[i].source == src) return &o->v[i];
  kafka_offsets_src *more = realloc(o->v, (size_t)(o->n + 1) * sizeof *more);
  if (!more) return NULL;
  o->v = more;
  kafka_offsets_src *e = &o->v[o->n++];
  e->source = src;
  e->offsets = rd_kafka_topic_partition_list_new(8);
  e->group = NULL;
  return e;
}

rd_kafka_error_t *kafka_offsets_send(kafka_offsets *o, rd_kafka_t *rk) {
  rd_kafka_error_t *e = NULL;
  for (; o->sent < o->n && !e; o->sent += e ? 0 : 1)
    e = rd_kafka_send_offsets_to_transaction(rk, o->v[o->sent].offsets, o->v[o->sent].group, -1);
  return e;
}

void kafka_offsets_clear(kafka_offsets *o) {
  for (int i = 0; i < o->n; i++) {
    if (o->v[i].offsets) rd_kafka_topic_partition_list_destroy(o->v[i].offsets);
    if (o->v[i].group) rd_kafka_consumer_group_metadata_destroy(o->v[i].group);
  }
  free(o->v);
  o->v = NULL;
  o->n = o->sent = 0;
}
