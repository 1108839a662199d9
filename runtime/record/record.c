/* Record fields: decoding on first use, lookup, set, unset, failing.
 *
 * Fields are a flat array in the batch arena, searched linearly: records
 * have tens of fields, and a scan with a length check first beats hashing
 * at that size.  Duplicate names are kept as the input had them; lookups
 * see the last one, as most JSON readers do. */
#include "sluice/record.h"

#include <string.h>

#include "sluice/codec.h"
#include "sluice/errors.h"

/* Room for a typical record, so that decoding rarely grows the array. */
#define SL_FIELDS_INITIAL 16

int sl_record_decode(sl_record *rec, sl_arena *a) {
  switch ((sl_rec_state)rec->state) {
    case SL_REC_DECODED:
    case SL_REC_CHANGED:
      return 0;
    case SL_REC_FAILED:
      /* A record failed by a step may still be decoded for the dead-letter
       * envelope; decoding it now must not replace the reason it failed. */
      if (rec->fields || !rec->codec) return 0;
      {
        const char *why = NULL;
        sl_record tmp = *rec;
        int err = rec->codec->decode(rec->codec_ctx, &tmp, a, &why);
        if (err) return err;
        rec->fields = tmp.fields;
        rec->nfields = tmp.nfields;
        rec->capfields = tmp.capfields;
        return 0;
      }
    case SL_REC_RAW:
      break;
  }
  /* A record built in code has its fields already. */
  if (!rec->codec) {
    rec->state = SL_REC_DECODED;
    return 0;
  }
  const char *why = NULL;
  int err = rec->codec->decode(rec->codec_ctx, rec, a, &why);
  if (err) {
    /* No half-decoded fields: the envelope shows "record" only for records
     * that decoded. */
    rec->fields = NULL;
    rec->nfields = 0;
    rec->capfields = 0;
    sl_record_fail(rec, a, "decode", why ? why : sl_strerror(err));
    return err;
  }
  rec->state = SL_REC_DECODED;
  return 0;
}

static int name_is(const sl_member *m, const char *name, size_t len) {
  return m->name.len == len && (len == 0 || memcmp(m->name.ptr, name, len) == 0);
}

sl_value *sl_record_get(sl_record *rec, const char *name, size_t len) {
  /* From the end, so that of duplicate names the last one wins. */
  for (uint32_t i = rec->nfields; i-- > 0;)
    if (name_is(&rec->fields[i], name, len)) return &rec->fields[i].value;
  return NULL;
}

static void mark_changed(sl_record *rec) {
  /* A failed record stays failed: it is bound for the dead-letter sink. */
  if (rec->state == SL_REC_DECODED || rec->state == SL_REC_RAW)
    rec->state = SL_REC_CHANGED;
}

int sl_record_set(sl_record *rec, sl_arena *a, sl_str name, const sl_value *v) {
  /* Appending to an undecoded record would lose the fields in raw. */
  if (rec->state == SL_REC_RAW) {
    int err = sl_record_decode(rec, a);
    if (err) return err;
  }
  sl_member *f = rec->fields;
  uint32_t n = rec->nfields, last = n;
  for (uint32_t i = n; i-- > 0;) {
    if (name_is(&f[i], name.ptr, name.len)) {
      last = i;
      break;
    }
  }
  if (last < n) {
    f[last].value = *v;
    /* Drop earlier duplicates so that the record holds the name once, as
     * the caller asked, and an encoder cannot write a stale value. */
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++)
      if (i >= last || !name_is(&f[i], name.ptr, name.len)) f[w++] = f[i];
    rec->nfields = w;
  } else {
    if (n == rec->capfields) {
      uint32_t cap = rec->capfields ? rec->capfields * 2 : SL_FIELDS_INITIAL;
      if (cap < rec->capfields) return SL_ENOMEM;
      f = sl_arena_grow(a, f, (size_t)n * sizeof *f, (size_t)cap * sizeof *f);
      if (!f) return SL_ENOMEM;
      rec->fields = f;
      rec->capfields = cap;
    }
    f[n].name = name;
    f[n].value = *v;
    rec->nfields = n + 1;
  }
  mark_changed(rec);
  return 0;
}

void sl_record_unset(sl_record *rec, const char *name, size_t len) {
  /* Every occurrence goes, or a get after the unset would find an older
   * duplicate. */
  uint32_t w = 0, n = rec->nfields;
  for (uint32_t i = 0; i < n; i++)
    if (!name_is(&rec->fields[i], name, len)) rec->fields[w++] = rec->fields[i];
  if (w == n) return;
  rec->nfields = w;
  mark_changed(rec);
}

void sl_record_fail(sl_record *rec, sl_arena *a, const char *stage, const char *reason) {
  if (!reason) reason = "unknown error";
  if (!stage) stage = "unknown";
  const char *r = sl_arena_strndup(a, reason, strlen(reason));
  const char *s = sl_arena_strndup(a, stage, strlen(stage));
  /* Out of memory must not lose the fact that the record failed. */
  rec->error = r ? r : "out of memory while recording the failure";
  rec->error_stage = s ? s : "unknown";
  rec->state = SL_REC_FAILED;
}

sl_record *sl_record_from_json(sl_arena *a, const char *p, size_t n) {
  sl_value v;
  const char *why = NULL;
  if (sl_json_parse(p, n, a, &v, &why) || v.type != SL_T_OBJECT) return NULL;
  sl_record *r = sl_arena_alloc(a, sizeof *r);
  if (!r) return NULL;
  memset(r, 0, sizeof *r);
  r->state = SL_REC_CHANGED;
  r->fields = v.u.members;
  r->nfields = r->capfields = v.n;
  r->meta.partition = -1;
  r->meta.offset = -1;
  return r;
}
