/* The CloudEvents Kafka protocol binding (CloudEvents 1.0).
 *
 * Binary mode, the one departments are asked to use: the message value is
 * the event data, the attributes are headers ce_specversion, ce_id,
 * ce_source, ce_type, ce_time; kafka_source.c reads them on the loop thread
 * (a few header look-ups per message); both read `time` with sl_parse_time_ms.
 *
 * Structured mode (content-type: application/cloudevents+json): the value
 * is the whole event, {"specversion":..., "id":..., "source":..., "type":...,
 * "time":..., "data":{...}}.  Unwrapping it means parsing JSON, which is a
 * worker's job, not the loop thread's: the source gives such a record this
 * codec, whose decode (on a worker) reads the envelope into the record's
 * meta and then makes the record its `data` object.  The record ends up as
 * an ordinary jsonl record whose raw bytes are the data object's text, so
 * a jsonl sink still copies it without re-encoding. */
#include <string.h>
#include <strings.h>

#include "kafka.h"
#include "sluice/clock.h"

int kafka_ce_is_structured(const char *p, size_t n) {
  static const char ct[] = "application/cloudevents+json";
  size_t len = sizeof ct - 1;
  while (n && (*p == ' ' || *p == '\t')) p++, n--;
  if (n < len || strncasecmp(p, ct, len) != 0) return 0;
  return n == len || p[len] == ';' || p[len] == ' ';
}

/* ---- structured mode ---- */

/* The string value of member name of rec, or ptr NULL. */
static sl_str member_string(sl_record *rec, const char *name, sl_arena *a) {
  sl_str none = {NULL, 0};
  sl_value *v = sl_record_get(rec, name, strlen(name));
  if (!v) return none;
  sl_value tmp = *v;
  const char *why = NULL;
  if (sl_json_materialize(&tmp, a, &why) || tmp.type != SL_T_STRING) return none;
  return tmp.u.s;
}

static int ce_decode(void *ctx, sl_record *rec, sl_arena *a, const char **why) {
  (void)ctx;
  sl_str whole = rec->raw;
  int rc = sl_codec_jsonl.decode(NULL, rec, a, why);
  if (rc) return rc;
  if (!sl_record_get(rec, "specversion", 11)) {
    *why = "CloudEvents structured mode (content-type application/cloudevents+json) without specversion";
    return SL_EPARSE;
  }
  sl_value *data = sl_record_get(rec, "data", 4);
  if (!data) {
    *why = sl_record_get(rec, "data_base64", 11)
               ? "CloudEvents structured mode: data_base64 is not supported, send JSON data"
               : "CloudEvents structured mode: the event has no data";
    return SL_EPARSE;
  }
  /* Decoded members are spans of raw; the data object must be one. */
  const char *d = data->type == SL_T_JSON ? data->u.s.ptr : NULL;
  if (!d || data->u.s.len < 2 || d[0] != '{') {
    *why = "CloudEvents structured mode: data is not a JSON object";
    return SL_EPARSE;
  }
  sl_meta m = rec->meta;
  sl_str s = member_string(rec, "id", a);
  if (s.ptr) m.id = s;
  s = member_string(rec, "source", a);
  if (s.ptr) m.department = s;
  s = member_string(rec, "type", a);
  if (s.ptr) m.feed = s;
  s = member_string(rec, "time", a);
  int64_t t;
  if (s.ptr && sl_parse_time_ms(s.ptr, s.len, &t) == 0) m.event_time_ms = t;

  rec->raw = data->u.s;
  rec->fields = NULL;
  rec->nfields = rec->capfields = 0;
  rc = sl_codec_jsonl.decode(NULL, rec, a, why);
  if (rc) {
    rec->raw = whole;   /* the dead letter shows the message as it came */
    return rc;
  }
  rec->meta = m;
  rec->codec = &sl_codec_jsonl;
  rec->codec_ctx = NULL;
  return 0;
}

const sl_codec kafka_ce_structured_codec = {
    .name = "cloudevents-structured",
    .ctx_new = NULL,
    .ctx_free = NULL,
    .frame = NULL,
    .take_header = NULL,
    .decode = ce_decode,
    .encode = NULL,
    .write_header = NULL,
};
