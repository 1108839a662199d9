/* kafka.sink: an idempotent producer (acks=all), at least once.
 *
 * Every record of a sink batch becomes one message: its value is the
 * record as the workers encoded it (sb->bytes between ends[i-1] and
 * ends[i], without the codec's trailing newline), referenced, not copied:
 * the bytes live until sl_sink_done.  topic, key and headers are per-record
 * options the workers computed (sl_sink_attr).  The message's opaque is
 * &slots[i] of the batch's kbatch, so a delivery report finds its batch and
 * record without a lookup.  When every message of a batch has its delivery
 * report, the batch is done: failures (final ones: librdkafka retried
 * retriable errors for as long as message.timeout.ms allows, forever by
 * default) are rejected to the dead-letter sink with librdkafka's reason.
 *
 * Delivery reports use dr_msg_cb, served by rd_kafka_poll from the main
 * queue, which is watched through kafka_uv (pipe + uv_poll + timer).  The
 * event API is avoided on purpose (DESIGN.md §9).
 *
 * Kafka checks a topic's max.message.bytes against a whole record batch,
 * so one oversized message fails the batch it travelled in, and the
 * delivery reports of every message in it say MSG_SIZE_TOO_LARGE (or
 * INVALID_RECORD, when one message broke a topic rule).  Those messages are
 * sent again one by one through a second producer that never batches
 * (made on first need); only what fails alone is rejected.  Their order
 * relative to later messages of the same partition is lost, which beats
 * dead-lettering good records.  Setting batch.size below the topic's
 * max.message.bytes avoids the detour.
 *
 * A full producer queue (QUEUE_FULL) stops producing; the rest of the
 * batch, and the batches after it, are produced when delivery reports have
 * made room, in the same order.  Nothing here blocks the loop: shutdown
 * waits for the last delivery report instead of calling rd_kafka_flush.
 *
 * Exactly-once (the pipeline says exactly_once = true): the producer is
 * transactional and kafka_txn.c writes the batches through the sink queue
 * (sluice/sink_queue.h), one group per transaction that also commits its
 * sources' offsets; a batch is done when its transaction commits, not on
 * its delivery reports.  The path above keeps its own queue: it has many
 * batches in flight, each done on its own delivery reports, where the sink
 * queue holds one group in flight.  The dead-letter sink is never
 * transactional. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "kafka_sink.h"
#include "publish.h"
#include "sluice/clock.h"
#include "sluice/fault.h"
#include "sluice/log.h"

#define POLL_EVERY_MS 100

/* Per-record options, in declaration order (the k of sl_sink_attr). */
enum { ATTR_TOPIC = 0, ATTR_KEY = 1, ATTR_HEADERS = 2 };

static rd_kafka_t *make_producer(ksink *k, int solo);

/* ---- topic handles ---- */

static uint64_t hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

static int topics_grow(ksink *k) {
  size_t cap = k->tcap ? k->tcap * 2 : 16;
  ktopic_ent *t = calloc(cap, sizeof *t);
  if (!t) return SL_ENOMEM;
  for (size_t i = 0; i < k->tcap; i++) {
    if (!k->topics[i].name) continue;
    size_t j = hash(k->topics[i].name, k->topics[i].len) & (cap - 1);
    while (t[j].name) j = (j + 1) & (cap - 1);
    t[j] = k->topics[i];
  }
  free(k->topics);
  k->topics = t;
  k->tcap = cap;
  return 0;
}

/* The topic handle for name (created on first use), or NULL with *why. */
static rd_kafka_topic_t *topic_get(ksink *k, const char *p, size_t n, const char **why) {
  if (k->tcount * 2 >= k->tcap && topics_grow(k)) {
    *why = "out of memory";
    return NULL;
  }
  size_t j = hash(p, n) & (k->tcap - 1);
  for (; k->topics[j].name; j = (j + 1) & (k->tcap - 1))
    if (k->topics[j].len == n && memcmp(k->topics[j].name, p, n) == 0) return k->topics[j].rkt;
  if (n == 0 || n > 249 || memchr(p, 0, n)) {
    *why = "invalid Kafka topic name";
    return NULL;
  }
  char *name = strndup(p, n);
  rd_kafka_topic_t *rkt = name ? rd_kafka_topic_new(k->kc.rk, name, NULL) : NULL;
  if (!rkt) {
    free(name);
    *why = name ? rd_kafka_err2str(rd_kafka_last_error()) : "out of memory";
    return NULL;
  }
  k->topics[j] = (ktopic_ent){name, n, rkt};
  k->tcount++;
  return rkt;
}

/* ---- batches ---- */

static void ksink_check_flushed(ksink *k) {
  if (k->flushing && !k->qhead && k->open_batches == 0 && kafka_txn_idle(k)) {
    k->flushing = 0;
    sl_stage_flushed(k->kc.st);
  }
}

static void ksink_batch_done(ksink *k, kbatch *kb) {
  SL_CRASH_POINT("kafka.sink.delivered.before_ack");
  k->open_batches--;
  sl_sink_done(kb->sb);
}

static void ksink_reject(ksink *k, sl_sink_batch *sb, uint32_t i, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  k->rejected++;
  sl_sink_reject(sb, i, why);
}

/* The envelope's "error", "stage" and "pipeline", for a dead letter's
 * headers.  The envelope is a jsonl record: decode it (on the loop thread,
 * but dead letters are few). */
static void dlq_headers(sl_sink_batch *sb, uint32_t i, rd_kafka_headers_t *h) {
  sl_record *rec = sb->recs[i];
  sl_arena *a = sl_batch_arena(sb->batch);
  if (sl_record_decode(rec, a)) return;
  static const char *const names[][2] = {{"error", "sluice-error"},
                                         {"stage", "sluice-stage"},
                                         {"pipeline", "sluice-pipeline"}};
  for (int n = 0; n < 3; n++) {
    sl_value *v = sl_record_get(rec, names[n][0], strlen(names[n][0]));
    if (!v) continue;
    sl_value tmp = *v;
    const char *why = NULL;
    if (sl_json_materialize(&tmp, a, &why) || tmp.type != SL_T_STRING) continue;
    rd_kafka_header_add(h, names[n][1], -1, tmp.u.s.ptr, (ssize_t)tmp.u.s.len);
  }
}

static void ksink_fatal(ksink *k, const char *reason) {
  if (k->fatal) return;
  k->fatal = 1;
  /* The producer cannot go on, and whether its last messages were written
   * is unknown.  Acknowledging them (even as dead letters) could lose
   * them; exit without acknowledging, as the engine does when it cannot
   * go on, so that the sources read them again on restart.  A
   * transaction left open is aborted by the coordinator (at once when
   * the restart initialises the same transactional.id). */
  char buf[8];
  rd_kafka_resp_err_t fe = k->transactional ? rd_kafka_fatal_error(k->kc.rk, buf, sizeof buf) : 0;
  int fenced = fe == RD_KAFKA_RESP_ERR__FENCED || fe == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
               fe == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
  sl_log_error(sl_stage_name(k->kc.st), "%s; exiting without acknowledging the records in flight "
               "(they are read again on restart)%s%s%s",
               reason, fenced ? "; another producer took over transactional.id \"" : "",
               fenced ? k->tx.id : "",
               fenced ? "\": give each process its own transactional_id" : "");
  _exit(1);
}

static void on_fatal(kafka_client *kc, const char *reason) { ksink_fatal((ksink *)kc, reason); }

enum { PRODUCED = 0, SKIPPED = 1, BLOCKED = 2, TXFAILED = 3 };

static int produce_one(ksink *k, kbatch *kb, uint32_t i) {
  sl_sink_batch *sb = kb->sb;
  /* The topic: per record, or the constant; dead letters made late (on
   * the loop thread, sb->late) have no per-record values. */
  sl_str t = {NULL, 0};
  rd_kafka_topic_t *rkt = NULL;
  if (k->topic_fn && !sb->late) t = sl_sink_attr(sb, ATTR_TOPIC, i);
  else if (k->topic_const) rkt = k->topic_const_rkt;
  if (!t.ptr && !rkt && k->cfg->default_topic)
    t = (sl_str){k->cfg->default_topic, strlen(k->cfg->default_topic)};
  if (!t.ptr && !rkt) {
    ksink_reject(k, sb, i, "the topic function returned nil and there is no default_topic");
    return SKIPPED;
  }
  const char *why = NULL;
  if (!rkt) rkt = topic_get(k, t.ptr, t.len, &why);
  else t = (sl_str){k->topic_const, strlen(k->topic_const)};
  if (!rkt) {
    ksink_reject(k, sb, i, "topic \"%.*s\": %s", (int)(t.len > 300 ? 300 : t.len), t.ptr, why);
    return SKIPPED;
  }
  size_t start = i ? sb->ends[i - 1] : 0, end = sb->ends[i];
  if (end > start && sb->bytes.ptr[end - 1] == '\n') end--;

  rd_kafka_vu_t vu[7];
  size_t nv = 0;
  vu[nv].vtype = RD_KAFKA_VTYPE_RKT;
  vu[nv++].u.rkt = rkt;
  vu[nv].vtype = RD_KAFKA_VTYPE_VALUE;
  vu[nv].u.mem.ptr = sb->bytes.ptr + start;
  vu[nv++].u.mem.size = end - start;
  vu[nv].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vu[nv++].u.i = 0;     /* neither copy nor free: the bytes live until sl_sink_done */
  vu[nv].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vu[nv++].u.ptr = &kb->slots[i];
  /* One clock read per pass rather than one per message inside librdkafka. */
  vu[nv].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  vu[nv++].u.i64 = k->now_ms;
  if (k->has_key && !sb->late) {
    sl_str key = sl_sink_attr(sb, ATTR_KEY, i);
    if (key.ptr) {
      vu[nv].vtype = RD_KAFKA_VTYPE_KEY;
      vu[nv].u.mem.ptr = (void *)key.ptr;
      vu[nv++].u.mem.size = key.len;
    }
  }
  rd_kafka_headers_t *h = NULL;
  if (k->has_headers || k->is_dlq) {
    h = rd_kafka_headers_new(8);
    if (k->has_headers && !sb->late) {
      sl_str rest = sl_sink_attr(sb, ATTR_HEADERS, i), name, value;
      while (sl_attr_pairs_next(&rest, &name, &value))
        rd_kafka_header_add(h, name.ptr, (ssize_t)name.len, value.ptr, (ssize_t)value.len);
    } else {
      for (int j = 0; j < k->nhconst; j++)
        rd_kafka_header_add(h, k->hconst[j].name, -1, k->hconst[j].value, (ssize_t)k->hconst[j].len);
    }
    if (k->is_dlq) dlq_headers(sb, i, h);
    vu[nv].vtype = RD_KAFKA_VTYPE_HEADERS;
    vu[nv++].u.headers = h;
  }
  rd_kafka_error_t *err = rd_kafka_produceva(k->kc.rk, vu, nv);
  if (!err) {
    kb->outstanding++;
    k->outstanding++;
    return PRODUCED;
  }
  rd_kafka_resp_err_t code = rd_kafka_error_code(err);
  if (h) rd_kafka_headers_destroy(h);   /* not taken when produce fails */
  if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_error_destroy(err);
    return BLOCKED;
  }
  if (code == RD_KAFKA_RESP_ERR__FATAL) {
    rd_kafka_error_destroy(err);
    char reason[512];
    rd_kafka_fatal_error(k->kc.rk, reason, sizeof reason);
    ksink_fatal(k, reason);
    return BLOCKED;
  }
  if (k->transactional && (code == RD_KAFKA_RESP_ERR__STATE || rd_kafka_error_txn_requires_abort(err))) {
    /* The transaction failed (timed out, fenced by a rebalance, ...):
     * not this record's fault. */
    kafka_txn_produce_failed(k, rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
    return TXFAILED;
  }
  if (code == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    char max[32];
    size_t ml = sizeof max;
    if (rd_kafka_conf_get(rd_kafka_conf(k->kc.rk), "message.max.bytes", max, &ml) != RD_KAFKA_CONF_OK)
      strcpy(max, "?");
    ksink_reject(k, sb, i, "message of %zu bytes for topic %.*s is over the producer's message.max.bytes (%s)",
           end - start, (int)t.len, t.ptr, max);
  } else {
    ksink_reject(k, sb, i, "cannot produce to topic %.*s: %s", (int)t.len, t.ptr, rd_kafka_error_string(err));
  }
  rd_kafka_error_destroy(err);
  return SKIPPED;
}

static void ksink_produce_more(ksink *k) {
  if (k->transactional && !kafka_txn_may_produce(k)) return;
  k->now_ms = sl_now_ms();
  /* Transactional: the group's batches, which stay linked (the queue's). */
  sl_sink_batch **cur = k->transactional ? &k->tx.cur : &k->qhead;
  while (*cur && !k->fatal) {
    sl_sink_batch *sb = *cur;
    kbatch *kb = sb->sink_data;
    while (kb->next < sb->n) {
      uint32_t i = kb->next;
      if (k->transactional) {
        int g = kafka_txn_gate(k, kb, i);
        if (g < 0) return;
        if (g == 0) {
          kb->next++;
          continue;
        }
      }
      if (i == 0) SL_CRASH_POINT("kafka.sink.before_produce");
      int r = produce_one(k, kb, i);
      if (r == TXFAILED) return;
      if (r == BLOCKED) {
        if (!k->blocked)
          sl_log_debug(sl_stage_name(k->kc.st), "producer queue full (%d messages): waiting for delivery reports",
                       rd_kafka_outq_len(k->kc.rk));
        k->blocked = 1;
        return;
      }
      kb->next++;
      if (k->transactional) {
        if (r == PRODUCED) kafka_txn_produced(k, kb, i);
        else kafka_txn_rejected(kb, i);
        if (k->tx.trying) return;
      }
    }
    *cur = sb->next;
    SL_CRASH_POINT("kafka.sink.after_produce");
    if (k->transactional) continue;
    if (!k->qhead) k->qtail = NULL;
    if (kb->outstanding == 0) ksink_batch_done(k, kb);
  }
  k->blocked = 0;
  if (k->transactional) kafka_txn_progress(k);
  ksink_check_flushed(k);
}

static void serve_solo(void *arg) {
  ksink *k = arg;
  rd_kafka_poll(k->solo, 0);
}

/* Sends m again through the producer that does not batch (see the top of
 * the file).  1 if it went. */
static int resend_alone(ksink *k, const rd_kafka_message_t *m) {
  if (!k->solo) {
    k->solo = make_producer(k, 1);
    if (!k->solo) return 0;
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(k->solo);
    if (!q || kafka_uv_start(&k->solo_uv, sl_stage_loop(k->kc.st), q, POLL_EVERY_MS, serve_solo, k)) {
      if (q && !k->solo_uv.q) rd_kafka_queue_destroy(q);
      return 0;
    }
    sl_log_warn(sl_stage_name(k->kc.st),
                "topic %s refused a batch as too large or invalid: sending its messages one by one "
                "(a batch.size below the topic's max.message.bytes avoids this)",
                rd_kafka_topic_name(m->rkt));
  }
  rd_kafka_headers_t *h = NULL, *orig = NULL;
  if (rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
    h = rd_kafka_headers_copy(orig);
  rd_kafka_vu_t vu[6];
  size_t nv = 0;
  vu[nv].vtype = RD_KAFKA_VTYPE_TOPIC;
  vu[nv++].u.cstr = rd_kafka_topic_name(m->rkt);
  vu[nv].vtype = RD_KAFKA_VTYPE_PARTITION;
  vu[nv++].u.i32 = m->partition;
  vu[nv].vtype = RD_KAFKA_VTYPE_VALUE;
  vu[nv].u.mem.ptr = m->payload;
  vu[nv++].u.mem.size = m->len;
  vu[nv].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vu[nv++].u.ptr = m->_private;
  if (m->key) {
    vu[nv].vtype = RD_KAFKA_VTYPE_KEY;
    vu[nv].u.mem.ptr = m->key;
    vu[nv++].u.mem.size = m->key_len;
  }
  if (h) {
    vu[nv].vtype = RD_KAFKA_VTYPE_HEADERS;
    vu[nv++].u.headers = h;
  }
  rd_kafka_error_t *err = rd_kafka_produceva(k->solo, vu, nv);
  if (err) {
    if (h) rd_kafka_headers_destroy(h);
    rd_kafka_error_destroy(err);
    return 0;
  }
  k->resent++;
  return 1;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  ksink *k = opaque;
  kbatch **slot = m->_private;
  if (!slot || k->fatal) return;
  kbatch *kb = *slot;
  uint32_t i = (uint32_t)(slot - kb->slots);
  if (k->transactional) {
    k->outstanding--;
    kb->outstanding--;
    kafka_txn_delivered(k, kb, i, m);
    return;
  }
  if (m->err && rk == k->kc.rk &&
      (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || m->err == RD_KAFKA_RESP_ERR_INVALID_RECORD) &&
      resend_alone(k, m))
    return;   /* still outstanding, now in the other producer */
  k->outstanding--;
  kb->outstanding--;
  if (m->err) {
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    ksink_reject(k, kb->sb, i, "Kafka did not take the message for topic %s: %s", topic, rd_kafka_err2str(m->err));
  } else {
    k->delivered++;
    kafka_client_alive(&k->kc);
  }
  if (kb->outstanding == 0 && kb->next == kb->sb->n) {
    ksink_batch_done(k, kb);
    ksink_check_flushed(k);
  }
}

/* Counters move per poll, not per message: each update takes a lock. */
static void update_metrics(ksink *k) {
  if (!k->m_delivered) return;
  sl_metric_add(k->m_delivered, NULL, (int64_t)(k->delivered - k->shown_delivered));
  sl_metric_add(k->m_rejected, NULL, (int64_t)(k->rejected - k->shown_rejected));
  sl_metric_add(k->m_resent, NULL, (int64_t)(k->resent - k->shown_resent));
  sl_metric_set(k->m_queue, NULL, rd_kafka_outq_len(k->kc.rk));
  k->shown_delivered = k->delivered;
  k->shown_rejected = k->rejected;
  k->shown_resent = k->resent;
}

static void serve(void *arg) {
  ksink *k = arg;
  /* While a transaction call runs on the thread pool, it has the client. */
  if (!kafka_txn_idle(k)) return;
  /* Delivery reports and errors; the reports may make room to produce. */
  rd_kafka_poll(k->kc.rk, 0);
  if (k->blocked) ksink_produce_more(k);
  update_metrics(k);
}

/* ---- plugin callbacks ---- */

/* The one place producers are made.  solo: the one that sends messages
 * one per request. */
static rd_kafka_t *make_producer(ksink *k, int solo) {
  sl_stage *st = k->kc.st;
  char client_id[300];
  snprintf(client_id, sizeof client_id, "sluice.%s", sl_stage_name(st));
  const char *defaults[] = {
      "client.id", client_id,
      "linger.ms", "5",
      /* Retriable failures (a broker down, a leader moving) are retried
       * until they succeed: giving up would turn an outage into dead
       * letters.  Backpressure holds the pipeline meanwhile.  A
       * transactional producer's messages live as long as its transaction
       * (transaction.timeout.ms); a failed one is aborted and redone.  (Last:
       * for a transactional producer NULL ends the list here.) */
      k->transactional ? NULL : "message.timeout.ms", "0",
      NULL};
  const char *forced[] = {
      "enable.idempotence", "true",
      "acks", "all",
      NULL};
  const char *managed[] = {"request.required.acks", "transactional.id", NULL};
  rd_kafka_conf_t *conf = kafka_conf_new(&k->kc, defaults, k->cfg->librdkafka, managed, forced);
  if (!conf) return NULL;
  if (solo) {
    /* Over whatever the pipeline's map said for the batching producer. */
    rd_kafka_conf_set(conf, "batch.num.messages", "1", NULL, 0);
    rd_kafka_conf_set(conf, "linger.ms", "0", NULL, 0);
    rd_kafka_conf_set(conf, "client.id", "sluice.solo", NULL, 0);
  } else if (k->transactional && kafka_txn_configure(k, conf)) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
  char err[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    sl_log_error(sl_stage_name(st), "%s: cannot create the Kafka producer: %s", sl_stage_where(st), err);
  }
  return rk;
}

/* Reads the Lua values of topic, key and headers (loop thread's state). */
static int read_lua_options(ksink *k) {
  sl_stage *st = k->kc.st;
  const char *name = sl_stage_name(st);
  lua_State *L = sl_stage_lua(st);
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->cfg->topic);       /* [-0,+1] */
  if (lua_type(L, -1) == LUA_TSTRING) {
    k->topic_const = strdup(lua_tostring(L, -1));
    if (!k->topic_const) return SL_ENOMEM;
  } else {
    k->topic_fn = 1;
  }
  lua_pop(L, 1);
  k->has_key = k->cfg->key != LUA_NOREF && k->cfg->key != LUA_REFNIL;
  if (k->cfg->headers == LUA_NOREF || k->cfg->headers == LUA_REFNIL) return 0;
  k->has_headers = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, k->cfg->headers);     /* [-0,+1] the table */
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) n++, lua_pop(L, 1);
  k->hconst = calloc((size_t)n + 1, sizeof *k->hconst);
  if (!k->hconst) {
    lua_pop(L, 1);
    return SL_ENOMEM;
  }
  int rc = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {                                /* [-1,+2] key, value */
    int vt = lua_type(L, -1);
    if (lua_type(L, -2) != LUA_TSTRING) {
      sl_log_error(name, "%s: headers: names must be strings", sl_stage_where(st));
      rc = SL_EOPTION;
    } else if (vt == LUA_TSTRING || vt == LUA_TNUMBER) {
      size_t len;
      lua_pushvalue(L, -1);                                /* tolstring on a copy: keep the key intact */
      const char *v = lua_tolstring(L, -1, &len);
      kheader *e = &k->hconst[k->nhconst++];
      e->name = strdup(lua_tostring(L, -3));
      e->value = malloc(len + 1);
      if (e->value) memcpy(e->value, v, len + 1);
      e->len = len;
      lua_pop(L, 1);
      if (!e->name || !e->value) rc = SL_ENOMEM;
    } else if (vt != LUA_TFUNCTION) {
      sl_log_error(name, "%s: headers.%s must be a string or a function(rec), got %s",
                   sl_stage_where(st), lua_tostring(L, -2), lua_typename(L, vt));
      rc = SL_EOPTION;
    }
    lua_pop(L, 1);
    if (rc) {
      lua_pop(L, 2);
      return rc;
    }
  }
  lua_pop(L, 1);
  return 0;
}

/* ---- the transaction layer's way back up ---- */

static void txn_reject(ksink *k, sl_sink_batch *sb, uint32_t i, const char *why) {
  ksink_reject(k, sb, i, "%s", why);
}

static const ktx_ops txn_ops = {
    .produce_more = ksink_produce_more,
    .check_flushed = ksink_check_flushed,
    .reject = txn_reject,
    .fatal = ksink_fatal,
};

static int ksink_init(sl_stage *st) {
  ksink *k = sl_stage_priv(st);
  ksink_cfg *cfg = sl_stage_config(st);
  const char *name = sl_stage_name(st);
  k->cfg = cfg;
  k->kc.st = st;
  k->kc.brokers = cfg->brokers;
  k->kc.on_fatal = on_fatal;
  k->is_dlq = sl_stage_is_dlq(st);
  k->m_delivered = sl_stage_metric(st, SL_COUNTER, "kafka_delivered_total",
                                   "Messages Kafka acknowledged (acks=all).", NULL);
  k->m_rejected = sl_stage_metric(st, SL_COUNTER, "kafka_rejected_total",
                                  "Records Kafka refused for good, sent to the dead-letter sink.", NULL);
  k->m_resent = sl_stage_metric(st, SL_COUNTER, "kafka_resent_alone_total",
                                "Messages of refused batches sent again one by one.", NULL);
  k->m_queue = sl_stage_metric(st, SL_GAUGE, "kafka_producer_queue",
                               "Messages in the producer's queue or in flight to the brokers.", NULL);
  k->transactional = !k->is_dlq && sl_pipeline_exactly_once(sl_stage_pipeline(st));
  if (!k->transactional && cfg->transactional_id) {
    sl_log_error(name, "%s: transactional_id is for exactly_once = true in sl.pipeline%s", sl_stage_where(st),
                 k->is_dlq ? " (the dead-letter sink is never transactional)" : "");
    return SL_EOPTION;
  }
  int rc = read_lua_options(k);
  if (rc) return rc;
  if (k->is_dlq && k->topic_fn && !cfg->default_topic) {
    /* Records another sink rejects become dead letters on the loop thread,
     * where no function runs: they need a topic of their own. */
    sl_log_error(name, "%s: a dead-letter kafka.sink with a topic function needs default_topic",
                 sl_stage_where(st));
    return SL_EOPTION;
  }
  k->codec = sl_codec_find(cfg->format);
  if (!k->codec) {
    sl_log_error(name, "%s: unknown format '%s'", sl_stage_where(st), cfg->format);
    return SL_EOPTION;
  }
  sl_codec_opts co = {.delimiter = cfg->delimiter && cfg->delimiter[0] ? cfg->delimiter[0] : ',',
                      .header = 0,
                      .columns = (const char **)cfg->columns,
                      .max_record = 0};
  k->cctx = k->codec->ctx_new ? k->codec->ctx_new(&co) : NULL;
  if (!k->cctx && k->codec->ctx_new) {
    sl_log_error(name, "%s: invalid CSV delimiter", sl_stage_where(st));
    return SL_EOPTION;
  }
  sl_sink_set_codec(st, k->codec, k->cctx);
  k->kc.rk = make_producer(k, 0);
  if (!k->kc.rk) return SL_EOPTION;
  if (k->topic_const) {
    const char *why = NULL;
    k->topic_const_rkt = topic_get(k, k->topic_const, strlen(k->topic_const), &why);
    if (!k->topic_const_rkt) {
      sl_log_error(name, "%s: topic \"%s\": %s", sl_stage_where(st), k->topic_const, why);
      return SL_EOPTION;
    }
  }
  rd_kafka_queue_t *q = rd_kafka_queue_get_main(k->kc.rk);
  if (!q) return SL_ENOMEM;
  rc = kafka_uv_start(&k->uv, sl_stage_loop(st), q, POLL_EVERY_MS, serve, k);
  if (rc == 0 && k->transactional) rc = kafka_txn_start(k, &txn_ops);
  return rc;
}

static int ksink_write(sl_stage *st, sl_sink_batch *sb) {
  ksink *k = sl_stage_priv(st);
  kbatch *kb = sl_arena_alloc(sl_batch_arena(sb->batch), sizeof *kb + sb->n * sizeof(kbatch *));
  if (!kb) return SL_ENOMEM;
  kb->sb = sb;
  kb->next = 0;
  kb->outstanding = 0;
  kb->slots = (kbatch **)(kb + 1);
  for (uint32_t i = 0; i < sb->n; i++) kb->slots[i] = kb;
  kb->rs = NULL;
  kb->ndone = 0;
  if (k->transactional) {
    kb->rs = sl_arena_alloc(sl_batch_arena(sb->batch), sb->n);
    if (!kb->rs) return SL_ENOMEM;
    memset(kb->rs, R_NEW, sb->n);
  }
  sb->sink_data = kb;
  k->open_batches++;
  if (k->transactional) {
    kafka_txn_push(k, sb);
    return 0;
  }
  sb->next = NULL;
  if (k->qtail) k->qtail->next = sb;
  else k->qhead = sb;
  k->qtail = sb;
  /* Behind a full queue, this batch waits its turn. */
  if (!k->blocked) ksink_produce_more(k);
  return 0;
}

static void ksink_flush(sl_stage *st) {
  ksink *k = sl_stage_priv(st);
  k->flushing = 1;
  if (k->transactional) kafka_txn_flush(k);
  ksink_check_flushed(k);
}

static void ksink_destroy(sl_stage *st) {
  ksink *k = sl_stage_priv(st);
  if (k->kc.rk) {
    /* After a clean run nothing is outstanding.  Otherwise (a failed
     * start) the messages are dropped unacknowledged: their sources read
     * them again on restart.  No callback may reach a torn-down engine. */
    k->fatal = 1;
    rd_kafka_purge(k->kc.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    kafka_uv_close(&k->uv);
    kafka_txn_destroy(k);
    if (k->solo) {
      rd_kafka_purge(k->solo, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      kafka_uv_close(&k->solo_uv);
      rd_kafka_destroy(k->solo);
      k->solo = NULL;
    }
    for (size_t i = 0; i < k->tcap; i++)
      if (k->topics[i].rkt) rd_kafka_topic_destroy(k->topics[i].rkt);
    rd_kafka_destroy(k->kc.rk);
    k->kc.rk = NULL;
  } else {
    kafka_uv_close(&k->uv);
    kafka_txn_destroy(k);
  }
  for (size_t i = 0; i < k->tcap; i++) free(k->topics[i].name);
  free(k->topics);
  k->topics = NULL;
  k->tcap = k->tcount = 0;
  for (int i = 0; i < k->nhconst; i++) {
    free(k->hconst[i].name);
    free(k->hconst[i].value);
  }
  free(k->hconst);
  k->hconst = NULL;
  free(k->topic_const);
  k->topic_const = NULL;
  if (k->cctx && k->codec->ctx_free) k->codec->ctx_free(k->cctx);
  k->cctx = NULL;
}

static const sl_option ksink_options[] = {
    {"brokers", SL_OPT_STR, NULL, SL_REQUIRED, offsetof(ksink_cfg, brokers), "Bootstrap brokers, \"host:port,host:port\".", NULL},
    {"topic", SL_OPT_LUA, NULL, SL_REQUIRED | SL_RECORD_FN, offsetof(ksink_cfg, topic), "Topic name, or function(rec) -> topic name.", "function|string"},
    {"key", SL_OPT_LUA, NULL, SL_RECORD_FIELD, offsetof(ksink_cfg, key), "Message key: a field name, or function(rec) -> string.", "function|string"},
    {"headers", SL_OPT_LUA, NULL, SL_RECORD_MAP, offsetof(ksink_cfg, headers), "Message headers: { name = \"value\" or function(rec) -> string }.", "table"},
    {"default_topic", SL_OPT_STR, NULL, 0, offsetof(ksink_cfg, default_topic), "Topic when the topic function returns nil (and for late dead letters).", NULL},
    {"format", SL_OPT_ENUM, "json", 0, offsetof(ksink_cfg, format), "Message value format (json: one JSON object per message; jsonl is the same).", "json|jsonl|csv|raw"},
    {"columns", SL_OPT_STRLIST, NULL, 0, offsetof(ksink_cfg, columns), "csv: output columns (default: the first record's fields).", NULL},
    {"delimiter", SL_OPT_STR, ",", 0, offsetof(ksink_cfg, delimiter), "csv: field separator.", NULL},
    {"librdkafka", SL_OPT_MAP, NULL, 0, offsetof(ksink_cfg, librdkafka), "librdkafka settings passed through (TLS, SASL, compression, tuning).", NULL},
    {"transactional_id", SL_OPT_STR, NULL, 0, offsetof(ksink_cfg, transactional_id), "exactly_once: the producer's transactional.id, one per process (default sluice.<pipeline>.<sink>.<host>).", NULL},
    {"commit_interval", SL_OPT_DURATION, "100ms", 0, offsetof(ksink_cfg, commit_interval_ms), "exactly_once: how long a transaction gathers records before it commits.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin kafka_sink_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "kafka.sink",
    .doc = "Produces records to Kafka (idempotent, acks=all); acknowledges on delivery reports, or on commit under exactly_once.",
    .options = ksink_options,
    .config_size = sizeof(ksink_cfg),
    .priv_size = sizeof(ksink),
    .init = ksink_init,
    .destroy = ksink_destroy,
    .write = ksink_write,
    .flush = ksink_flush,
    .caps = SL_CAN_EXACTLY_ONCE,
    .commands = publish_commands,
};
