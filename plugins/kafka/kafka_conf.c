/* librdkafka configuration for kafka.source and kafka.sink, and the two
 * callbacks every client gets: log lines go to sluice's log under the
 * stage's name, errors are logged with the broker list (a fatal one stops
 * the pipeline).
 *
 * Order of settings: sluice's defaults, then the pipeline's `librdkafka`
 * map (TLS, SASL, tuning: passed through verbatim), then what sluice
 * forces for its delivery guarantees.  A map that tries to change a forced
 * or managed setting is an error rather than a silent override: turning
 * enable.auto.offset.store back on, say, would commit offsets of records
 * not yet durable downstream. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kafka.h"
#include "sluice/clock.h"
#include "sluice/log.h"

int kafka_conf_is_secret(const char *key) {
  static const char *const words[] = {"password", "secret", "sasl.oauthbearer.config",
                                      "ssl.key.pem", "ssl_key", "ssl.keystore", "token",
                                      NULL};
  for (const char *const *w = words; *w; w++)
    if (strcasestr(key, *w)) return 1;
  return 0;
}

/* Who the client's messages are from: its stage, or the command that
 * made it (kc->st NULL: `sluice publish`). */
static const char *kc_name(const kafka_client *kc) { return kc->st ? sl_stage_name(kc->st) : kc->name; }
static const char *kc_where(const kafka_client *kc) { return kc->st ? sl_stage_where(kc->st) : kc->name; }

/* librdkafka's syslog levels (0 emerg .. 7 debug) to sluice's. */
static sl_log_level map_level(int level) {
  if (level <= 3) return SL_LOG_ERROR;
  if (level == 4) return SL_LOG_WARN;
  if (level <= 6) return SL_LOG_INFO;
  return SL_LOG_DEBUG;
}

/* Called on librdkafka's own threads: sl_log is safe there. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  kafka_client *kc = rd_kafka_opaque(rk);
  sl_log_level l = map_level(level);
  /* A broker connection failing is also reported to error_cb, which logs
   * it with the broker list and without repeating itself every backoff. */
  if (strcmp(fac, "FAIL") == 0) l = SL_LOG_DEBUG;
  if (!sl_log_enabled(l)) return;
  sl_log(l, kc ? kc_name(kc) : "kafka", "librdkafka %s: %s", fac, buf);
}

void kafka_client_alive(kafka_client *kc) {
  if (!kc->all_down) return;
  kc->all_down = 0;
  kc->last_err = 0;
  sl_log_info(kc_name(kc), "Kafka brokers %s are reachable again", kc->brokers);
}

/* Served from the client's queue: on the loop thread, or on the thread that
 * closes the consumer (kc->off_loop). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  kafka_client *kc = opaque;
  const char *name = kc_name(kc);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
    char msg[768];
    snprintf(msg, sizeof msg, "fatal Kafka error (%s): %s", rd_kafka_err2name(orig), why);
    if (kc->off_loop || !kc->on_fatal) sl_log_error(name, "%s", msg);
    else kc->on_fatal(kc, msg);
    return;
  }
  /* librdkafka reconnects by itself; repeating the same complaint every
   * backoff interval would flood the log, so repeats within a minute are
   * debug lines. */
  int64_t now = sl_mono_ms();
  int repeat = err == kc->last_err && now - kc->last_err_ms < 60000;
  if (!repeat) {
    kc->last_err = err;
    kc->last_err_ms = now;
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    if (!kc->all_down)
      sl_log_error(name, "cannot reach Kafka brokers %s: %s; retrying until they answer",
                   kc->brokers, reason);
    kc->all_down = 1;
    return;
  }
  if (repeat || kc->all_down) {
    sl_log_debug(name, "Kafka brokers %s: %s (%s)", kc->brokers, reason, rd_kafka_err2name(err));
    return;
  }
  sl_log_warn(name, "Kafka brokers %s: %s (%s)", kc->brokers, reason, rd_kafka_err2name(err));
}

static int in_list(const char *const *list, const char *key, int stride) {
  for (const char *const *p = list; p && *p; p += stride)
    if (strcmp(*p, key) == 0) return 1;
  return 0;
}

static int set(kafka_client *kc, rd_kafka_conf_t *conf, const char *k, const char *v,
               const char *origin) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof err) == RD_KAFKA_CONF_OK) return 0;
  /* librdkafka's message may quote the value: keep secrets out of the log. */
  if (kafka_conf_is_secret(k))
    sl_log_error(kc_name(kc), "%s: %s: invalid librdkafka setting '%s' (value not shown)",
                 kc_where(kc), origin, k);
  else
    sl_log_error(kc_name(kc), "%s: %s: %s", kc_where(kc), origin, err);
  return -1;
}

rd_kafka_conf_t *kafka_conf_new(kafka_client *kc, const char *const *defaults,
                                char **user_map, const char *const *managed,
                                const char *const *forced) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (!conf) return NULL;
  if (set(kc, conf, "bootstrap.servers", kc->brokers, "brokers")) goto fail;
  /* A request a broker does not answer in 10 s (librdkafka waits 60 s)
   * drops its connection and is retried on a new one: a broker that hung,
   * or a network path that holds the connection without a reset, costs
   * seconds rather than a minute of stalled fetches or produces. */
  if (set(kc, conf, "socket.timeout.ms", "10000", "default")) goto fail;
  for (const char *const *p = defaults; p && *p; p += 2)
    if (set(kc, conf, p[0], p[1], "default")) goto fail;
  for (char **p = user_map; p && *p; p += 2) {
    if (strcmp(p[0], "bootstrap.servers") == 0 || strcmp(p[0], "metadata.broker.list") == 0 ||
        in_list(managed, p[0], 1) || in_list(forced, p[0], 2)) {
      sl_log_error(kc_name(kc),
                   "%s: librdkafka setting '%s' is managed by sluice and cannot be set here "
                   "(see docs/kafka.md)",
                   kc_where(kc), p[0]);
      goto fail;
    }
    if (set(kc, conf, p[0], p[1], "librdkafka")) goto fail;
  }
  for (const char *const *p = forced; p && *p; p += 2)
    if (set(kc, conf, p[0], p[1], "sluice")) goto fail;
  rd_kafka_conf_set_opaque(conf, kc);
  rd_kafka_conf_set_log_cb(conf, log_cb);
  rd_kafka_conf_set_error_cb(conf, error_cb);
  return conf;
fail:
  rd_kafka_conf_destroy(conf);
  return NULL;
}
