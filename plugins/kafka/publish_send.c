/* The Kafka side of `sluice publish` (publish.h): an idempotent producer
 * (acks=all, enable.idempotence, forced as kafka.sink forces them) whose
 * delivery reports settle rows, and a consumer that reads the topic from
 * where a run began, to find the rows that a killed run had sent but not
 * yet recorded.  Everything runs on the calling thread: delivery reports
 * are served by pub_sender_poll. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "publish.h"
#include "sluice/clock.h"

struct pub_sender {
  kafka_client kc;        /* first: librdkafka's opaque is &kc */
  rd_kafka_t *rk;
  const pub_opts *o;
  const char *topic;
  pub_delivered_fn cb;
  void *ud;
  int inflight;
  char fatal[768];
};

static const char *const producer_defaults[] = {
    "linger.ms", "20",
    /* Java clients' partitioner: a key lands where a Java producer puts it. */
    "partitioner", "murmur2_random",
    NULL};
static const char *const producer_forced[] = {"enable.idempotence", "true", "acks", "all", NULL};
static const char *const scan_defaults[] = {
    "group.id", "sluice-publish-scan", "enable.auto.commit", "false", "enable.partition.eof", "true",
    "auto.offset.reset", "earliest", NULL};

static void on_fatal(kafka_client *kc, const char *reason) {
  pub_sender *s = (pub_sender *)kc;
  snprintf(s->fatal, sizeof s->fatal, "%s", reason);
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  pub_sender *s = opaque;
  s->inflight--;
  s->cb(s->ud, (uint64_t)(uintptr_t)m->_private, m->err, m->err ? rd_kafka_err2str(m->err) : NULL);
}

static rd_kafka_t *client(pub_sender *s, rd_kafka_type_t type, sl_buf *err) {
  char why[512];
  rd_kafka_conf_t *conf = type == RD_KAFKA_PRODUCER
                              ? kafka_conf_new(&s->kc, producer_defaults, s->o->xconf, NULL, producer_forced)
                              : kafka_conf_new(&s->kc, scan_defaults, s->o->xconf, NULL, NULL);
  if (!conf) {
    sl_buf_puts(err, "the Kafka settings were refused (see above)");
    return NULL;
  }
  if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf, delivered);
  rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof why);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    sl_buf_printf(err, "cannot make a Kafka client: %s", why);
  }
  return rk;
}

int pub_sender_new(const pub_opts *o, const char *topic, pub_delivered_fn cb, void *ud, pub_sender **out,
                   sl_buf *err) {
  pub_sender *s = calloc(1, sizeof *s);
  if (!s) return SL_ENOMEM;
  s->kc.name = "publish";
  s->kc.brokers = o->bootstrap;
  s->kc.on_fatal = on_fatal;
  s->o = o;
  s->topic = topic;
  s->cb = cb;
  s->ud = ud;
  s->rk = client(s, RD_KAFKA_PRODUCER, err);
  if (!s->rk) {
    free(s);
    return SL_EINVAL;
  }
  *out = s;
  return 0;
}

/* The topic's partitions (NULL and 0 when it does not exist yet). */
static int partitions(rd_kafka_t *rk, const char *topic, int32_t *ids, int max, sl_buf *err) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 15000);
  if (e) {
    sl_buf_printf(err, "cannot read the topics' metadata: %s", rd_kafka_err2str(e));
    return -1;
  }
  int n = 0;
  for (int t = 0; t < md->topic_cnt; t++) {
    if (strcmp(md->topics[t].topic, topic) || md->topics[t].err) continue;
    for (int p = 0; p < md->topics[t].partition_cnt && n < max; p++) ids[n++] = md->topics[t].partitions[p].id;
  }
  rd_kafka_metadata_destroy(md);
  return n;
}

/* A partition's first and end offsets.  A topic just created has no
 * leader for a moment ("not leader for partition"): errors are retried for
 * up to 30 s. */
static rd_kafka_resp_err_t watermarks(rd_kafka_t *rk, const char *topic, int32_t part, int64_t *lo, int64_t *hi) {
  int64_t deadline = sl_mono_ms() + 30000;
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, part, lo, hi, 10000);
    if (!e || sl_mono_ms() > deadline) return e;
    rd_kafka_poll(rk, 200);
  }
}

int pub_sender_ends(pub_sender *s, pub_journal *j, sl_buf *err) {
  int n = partitions(s->rk, s->topic, j->part, PUB_MAX_PARTS, err);
  if (n < 0) return SL_EIO;
  for (int i = 0; i < n; i++) {
    int64_t lo, hi;
    rd_kafka_resp_err_t e = watermarks(s->rk, s->topic, j->part[i], &lo, &hi);
    if (e) {
      sl_buf_printf(err, "%s [%d]: cannot read where it ends: %s", s->topic, (int)j->part[i], rd_kafka_err2str(e));
      return SL_EIO;
    }
    j->from[i] = hi;
  }
  j->nparts = n;
  return 0;
}

static int64_t from_of(const pub_journal *j, int32_t part) {
  for (int i = 0; i < j->nparts; i++)
    if (j->part[i] == part) return j->from[i];
  return 0;   /* a partition added since: all of it is newer */
}

/* Consumes the assigned partitions up to their ends (as they were when
 * the scan began), calling seen for each message's ce_id. */
static int consume(rd_kafka_t *rk, int pending, void (*seen)(void *ud, const char *id, size_t n), void *ud,
                   const rd_kafka_topic_partition_list_t *ends, sl_buf *err) {
  int64_t deadline = sl_mono_ms() + 120000;
  while (pending > 0) {
    if (sl_mono_ms() > deadline) {
      sl_buf_puts(err, "reading the topic for rows already sent took more than 2 minutes");
      return SL_EIO;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
    if (!m) continue;
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      sl_buf_printf(err, "reading the topic: %s", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      return SL_EIO;
    }
    rd_kafka_topic_partition_t *end = rd_kafka_topic_partition_list_find(ends, rd_kafka_topic_name(m->rkt),
                                                                         m->partition);
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t vn;
    if (!m->err && rd_kafka_message_headers(m, &h) == 0 && rd_kafka_header_get_last(h, "ce_id", &v, &vn) == 0)
      seen(ud, v, vn);
    /* Past its end, or at the end: this partition is done (once). */
    if (end && end->opaque == NULL && (m->err || m->offset + 1 >= end->offset)) {
      end->opaque = end;
      pending--;
    }
    rd_kafka_message_destroy(m);
  }
  return 0;
}

int pub_sender_scan(pub_sender *s, const pub_journal *j, void (*seen)(void *ud, const char *id, size_t n),
                    void *ud, sl_buf *err) {
  rd_kafka_t *rk = client(s, RD_KAFKA_CONSUMER, err);
  if (!rk) return SL_EINVAL;
  int32_t ids[PUB_MAX_PARTS];
  int n = partitions(rk, s->topic, ids, PUB_MAX_PARTS, err), rc = n < 0 ? SL_EIO : 0, pending = 0;
  rd_kafka_topic_partition_list_t *from = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
  rd_kafka_topic_partition_list_t *ends = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
  for (int i = 0; i < n && !rc; i++) {
    int64_t lo, hi, start = from_of(j, ids[i]);
    rd_kafka_resp_err_t e = watermarks(rk, s->topic, ids[i], &lo, &hi);
    if (e) {
      sl_buf_printf(err, "%s [%d]: %s", s->topic, (int)ids[i], rd_kafka_err2str(e));
      rc = SL_EIO;
      break;
    }
    if (start < lo) start = lo;
    if (start >= hi) continue;
    rd_kafka_topic_partition_list_add(from, s->topic, ids[i])->offset = start;
    rd_kafka_topic_partition_list_add(ends, s->topic, ids[i])->offset = hi;
    pending++;
  }
  if (!rc && pending) {
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, from);
    if (e) {
      sl_buf_printf(err, "reading the topic: %s", rd_kafka_err2str(e));
      rc = SL_EIO;
    } else {
      rc = consume(rk, pending, seen, ud, ends, err);
    }
  }
  for (int i = 0; i < ends->cnt; i++) ends->elems[i].opaque = NULL;
  rd_kafka_topic_partition_list_destroy(from);
  rd_kafka_topic_partition_list_destroy(ends);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}

int pub_sender_send(pub_sender *s, uint64_t row, sl_str key, sl_str value, const char *const *headers,
                    sl_buf *err) {
  for (;;) {
    if (s->fatal[0]) {
      sl_buf_puts(err, s->fatal);
      return SL_EIO;
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(8);
    for (const char *const *p = headers; *p; p += 2) rd_kafka_header_add(h, p[0], -1, p[1], -1);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.ptr, key.len), RD_KAFKA_V_VALUE((void *)value.ptr, value.len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)row), RD_KAFKA_V_END);
    if (!e) {
      s->inflight++;
      return 0;
    }
    rd_kafka_headers_destroy(h);
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      sl_buf_printf(err, "cannot queue a message: %s", rd_kafka_err2str(e));
      return SL_EIO;
    }
    rd_kafka_poll(s->rk, 100);   /* the queue drains as the broker acknowledges */
  }
}

void pub_sender_poll(pub_sender *s, int ms) { rd_kafka_poll(s->rk, ms); }
int pub_sender_inflight(pub_sender *s) { return s->inflight; }
const char *pub_sender_fatal(pub_sender *s) { return s->fatal[0] ? s->fatal : NULL; }

void pub_sender_free(pub_sender *s) {
  if (!s) return;
  /* What is still queued was not reported as sent: the journal does not
   * count it, and the next run looks for it on the topic. */
  rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(s->rk, 0);
  rd_kafka_destroy(s->rk);
  free(s);
}
