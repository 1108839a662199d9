/* `sluice publish --feed DEPT/FEED FILE...`: a department's rows, checked
 * and sent to the feed's topic as docs/publishing.md asks (publish.h).
 *
 * Each row is read (publish_input.c), checked against the feed's schema and
 * rules by the clean library's field set, exactly as the platform's
 * sl.clean { catalog = } checks it, and then either written to the rejects
 * file with its reasons or sent: the value is the row as one JSON object,
 * the key its business key, the headers the CloudEvents binary mode's.
 *
 * A row's ce_id is a hash of the feed, the key and the value: the same row
 * sent again is the same event, and a corrected row is a new one.  Rows are
 * "settled" in file order, when the broker acknowledged them (or they were
 * rejected); the journal records how many are, and where the topic ended
 * before the first send.  A re-run of the same file skips the settled rows
 * and looks on the topic, from there, for the ce_ids of the rest: a row
 * that a killed run sent but did not record is found and not sent twice. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "fieldset.h"
#include "publish.h"
#include "sluice/clock.h"
#include "sluice/codec.h"


/* ce_ids found on the topic: an open-addressing set of 128-bit hashes. */
typedef struct idset {
  XXH128_hash_t *v;
  size_t cap, n;
} idset;

typedef struct pub_run {
  const pub_opts *o;
  const sl_catalog *cat;
  const sl_catalog_feed *feed;
  const clean_fieldset *fs;
  const char *path;
  char ce_type[300];
  pub_input *in;
  pub_sender *snd;
  pub_journal j;
  char *journal_path, *rejects_path;
  FILE *rejects;
  clean_ctx cx;
  sl_buf msg, line;
  /* rows: settled[i] once row i is acknowledged or rejected */
  unsigned char *settled;
  uint64_t cap, nrows, prefix, resume;
  idset seen;
  uint64_t valid, rejected, published, skipped;
  char kafka_error[512];
  int64_t started_ms, saved_ms, drawn_ms;
  int drawn;
} pub_run;

/* ---- the set of ce_ids already on the topic ---- */

static int id_parse(const char *p, size_t n, XXH128_hash_t *h) {
  if (n != 36 || memcmp(p, "pub-", 4)) return 0;
  char hex[17] = {0};
  memcpy(hex, p + 4, 16);
  h->high64 = strtoull(hex, NULL, 16);
  memcpy(hex, p + 20, 16);
  h->low64 = strtoull(hex, NULL, 16);
  return 1;
}

static int idset_has(const idset *s, XXH128_hash_t h) {
  if (!s->cap) return 0;
  for (size_t i = h.low64 & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->v[i].low64 && !s->v[i].high64) return 0;
    if (XXH128_isEqual(s->v[i], h)) return 1;
  }
}

static void idset_add(idset *s, XXH128_hash_t h) {
  if ((!h.low64 && !h.high64) || idset_has(s, h)) return;
  if ((s->n + 1) * 2 > s->cap) {
    idset big = {calloc(s->cap ? s->cap * 2 : 1024, sizeof *big.v), s->cap ? s->cap * 2 : 1024, 0};
    if (!big.v) return;   /* a re-send is recognised by its ce_id: not fatal */
    for (size_t i = 0; i < s->cap; i++)
      if (s->v[i].low64 || s->v[i].high64) idset_add(&big, s->v[i]);
    free(s->v);
    *s = big;
  }
  size_t i = h.low64 & (s->cap - 1);
  while (s->v[i].low64 || s->v[i].high64) i = (i + 1) & (s->cap - 1);
  s->v[i] = h;
  s->n++;
}

static void seen_id(void *ud, const char *id, size_t n) {
  XXH128_hash_t h;
  if (id_parse(id, n, &h)) idset_add(&((pub_run *)ud)->seen, h);
}

/* ---- settling rows ---- */

static int track(pub_run *r, uint64_t row) {
  if (row >= r->cap) {
    uint64_t cap = r->cap ? r->cap * 2 : 4096;
    unsigned char *s = realloc(r->settled, cap);
    if (!s) return SL_ENOMEM;
    memset(s + r->cap, 0, cap - r->cap);
    r->settled = s;
    r->cap = cap;
  }
  if (row >= r->nrows) r->nrows = row + 1;
  return 0;
}

static void settle(pub_run *r, uint64_t row) {
  r->settled[row] = 1;
  while (r->prefix < r->nrows && r->settled[r->prefix]) r->prefix++;
}

static void delivered(void *ud, uint64_t row, int err, const char *reason) {
  pub_run *r = ud;
  if (err) {
    if (!r->kafka_error[0]) snprintf(r->kafka_error, sizeof r->kafka_error, "%s", reason);
    return;
  }
  r->published++;
  settle(r, row);
}

/* The journal follows the settled rows at most once a second (and at the end). */
static void save_journal(pub_run *r, int force) {
  if (r->o->dry_run || !r->journal_path) return;
  int64_t now = sl_mono_ms();
  if (!force && (r->j.settled == r->prefix || now - r->saved_ms < 1000)) return;
  r->j.settled = r->prefix;
  r->saved_ms = now;
  sl_buf err = SL_BUF_INIT;
  if (pub_journal_save(r->journal_path, &r->j, &err))
    fprintf(stderr, "sluice publish: %.*s\n", (int)err.len, err.ptr);
  sl_buf_free(&err);
}

/* ---- the progress bar (stderr, a terminal) ---- */

static void draw(pub_run *r, int last) {
  if (!r->o->progress) return;
  int64_t now = sl_mono_ms();
  if (!last && now - r->drawn_ms < 100) return;
  r->drawn_ms = now;
  double f = pub_input_done(r->in);
  int w = 30, full = (int)(f * w);
  char bar[64];
  for (int i = 0; i < w; i++) bar[i] = i < full ? '#' : '.';
  bar[w] = 0;
  double secs = (double)(now - r->started_ms) / 1000.0;
  fprintf(stderr, "\r[%s] %3d%%  %llu rows  %llu sent  %llu rejected  %.0f rows/s ", bar, (int)(f * 100),
          (unsigned long long)r->nrows, (unsigned long long)r->published, (unsigned long long)r->rejected,
          secs > 0 ? (double)r->nrows / secs : 0.0);
  r->drawn = 1;
  if (last) fputc('\n', stderr);
}

/* ---- one row ---- */

static void json_field(sl_buf *b, const char *name, const char *v) {
  sl_buf_json_string(b, name, strlen(name));
  sl_buf_putc(b, ':');
  sl_buf_json_string(b, v, strlen(v));
}

/* One line of the rejects file: where the row is, every reason, the row. */
static void reject(pub_run *r, int line, const sl_record *rec, const sl_field_outcome *oc, int noc,
                   const char *why) {
  r->rejected++;
  if (!r->rejects) {
    r->rejects = fopen(r->rejects_path, "w");
    if (!r->rejects) {
      fprintf(stderr, "sluice publish: %s: %s\n", r->rejects_path, strerror(errno));
      return;
    }
  }
  sl_buf *b = &r->line;
  b->len = 0;
  sl_buf_putc(b, '{');
  json_field(b, "file", r->path);
  sl_buf_printf(b, ",\"line\":%d,\"errors\":[", line);
  int n = 0;
  for (int i = 0; i < noc; i++) {
    const sl_field_outcome *o = &oc[i];
    int req = r->fs->fields[i].required;
    if (o->outcome != SL_OUTCOME_INVALID && !(o->outcome == SL_OUTCOME_MISSING && req)) continue;
    sl_buf_puts(b, n++ ? ",{" : "{");
    sl_buf_json_string(b, "field", 5);
    sl_buf_putc(b, ':');
    sl_buf_json_string(b, o->field.ptr, o->field.len);
    if (o->rule) {
      sl_buf_putc(b, ',');
      json_field(b, "rule", o->rule);
    }
    sl_buf_putc(b, ',');
    json_field(b, "reason", o->reason ? o->reason : "invalid");
    sl_buf_putc(b, '}');
  }
  if (why) {
    sl_buf_puts(b, n ? ",{" : "{");
    json_field(b, "reason", why);
    sl_buf_putc(b, '}');
  }
  sl_buf_puts(b, "],");
  json_field(b, "reason", why ? why : r->msg.len ? r->msg.ptr : "invalid");
  if (rec->nfields) {
    sl_buf_puts(b, ",\"record\":");
    sl_json_encode_record(b, rec);
  }
  if (rec->raw.ptr) {
    sl_buf_puts(b, ",\"raw\":");
    sl_buf_json_string(b, rec->raw.ptr, rec->raw.len);
  }
  sl_buf_puts(b, "}\n");
  fwrite(b->ptr, 1, b->len, r->rejects);
}

/* A value as key text: a string's bytes, anything else as JSON. */
static int text_of(sl_value *v, sl_arena *a, sl_buf *out) {
  if (!v) return 0;
  sl_value t = *v;
  const char *why;
  if (sl_json_materialize(&t, a, &why)) return 0;
  if (t.type == SL_T_NULL) return 0;
  if (t.type == SL_T_STRING) {
    if (!t.u.s.len) return 0;
    sl_buf_append(out, t.u.s.ptr, t.u.s.len);
  } else {
    sl_json_encode_value(out, &t);
  }
  return 1;
}

/* The business key: its fields' values joined with '-' ("330106-2026-05"). */
static const char *business_key(pub_run *r, sl_record *rec, sl_arena *a, sl_buf *key) {
  key->len = 0;
  for (const char **k = r->feed->key; k && *k; k++) {
    if (key->len) sl_buf_putc(key, '-');
    if (!text_of(sl_record_get(rec, *k, strlen(*k)), a, key)) return *k;
  }
  return NULL;
}

/* ce_time: the event's time from the feed's time field, else now. */
static void event_time(pub_run *r, sl_record *rec, sl_arena *a, char *out, size_t cap) {
  sl_buf t = SL_BUF_INIT;
  int64_t ms;
  if (r->feed->time_field && text_of(sl_record_get(rec, r->feed->time_field, strlen(r->feed->time_field)), a, &t) &&
      t.len < cap && sl_parse_time_ms(t.ptr, t.len, &ms) == 0) {
    memcpy(out, t.ptr, t.len);
    out[t.len] = 0;
  } else {
    sl_format_time_ms(out, cap, sl_now_ms());
  }
  sl_buf_free(&t);
}

static int send_row(pub_run *r, uint64_t row, sl_record *rec, sl_arena *a, sl_buf *key, sl_buf *value,
                    const char *id) {
  char when[64];
  event_time(r, rec, a, when, sizeof when);
  const char *headers[] = {"ce_specversion", "1.0",          "ce_id",   id,   "ce_source",
                           r->feed->dept_id, "ce_type",       r->ce_type, "ce_time", when,
                           "content-type",   "application/json", NULL};
  sl_buf err = SL_BUF_INIT;
  int rc = pub_sender_send(r->snd, row, (sl_str){key->ptr, key->len}, (sl_str){value->ptr, value->len}, headers,
                           &err);
  if (rc && !r->kafka_error[0]) snprintf(r->kafka_error, sizeof r->kafka_error, "%.*s", (int)err.len, err.ptr);
  sl_buf_free(&err);
  return rc;
}

/* What ce_id is made of: the feed, the key and the content, so that the
 * same row is the same event and a corrected one a new event ("a\0b" is
 * not "ab\0"). */
static int event_hash(pub_run *r, const sl_buf *key, const sl_buf *value, XXH128_hash_t *h) {
  sl_buf *ev = &r->line;
  ev->len = 0;
  sl_buf_append(ev, r->feed->id, strlen(r->feed->id) + 1);
  sl_buf_append(ev, key->ptr, key->len);
  sl_buf_putc(ev, 0);
  sl_buf_append(ev, value->ptr, value->len);
  if (ev->oom) return SL_ENOMEM;
  *h = XXH3_128bits(ev->ptr, ev->len);
  return 0;
}

/* Checks one row and rejects, skips or sends it.  Non-zero stops the file. */
static int one_row(pub_run *r, uint64_t row, int line, sl_record *rec, sl_arena *a, const char *unreadable,
                   sl_buf *key, sl_buf *value) {
  if (unreadable) {
    reject(r, line, rec, NULL, 0, unreadable);
    settle(r, row);
    return 0;
  }
  sl_field_outcome *oc = sl_arena_alloc(a, ((size_t)r->fs->nfields + 1) * sizeof *oc);
  if (!oc) return SL_ENOMEM;
  r->msg.len = 0;
  int failed = clean_fieldset_check(r->fs, &r->cx, rec, a, "publish", oc, NULL, &r->msg);
  if (failed < 0) return failed;
  sl_buf_putc(&r->msg, 0);
  const char *nokey = failed ? NULL : business_key(r, rec, a, key);
  if (failed || nokey) {
    char why[320];
    if (nokey) snprintf(why, sizeof why, "%s: the business key is empty", nokey);
    reject(r, line, rec, oc, r->fs->nfields, nokey ? why : NULL);
    settle(r, row);
    return 0;
  }
  r->valid++;
  value->len = 0;
  sl_json_encode_record(value, rec);
  XXH128_hash_t h;
  if (event_hash(r, key, value, &h)) return SL_ENOMEM;
  if (r->o->dry_run || row < r->resume || idset_has(&r->seen, h)) {
    r->skipped += !r->o->dry_run;
    settle(r, row);
    return 0;
  }
  char id[40];
  snprintf(id, sizeof id, "pub-%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
  return send_row(r, row, rec, a, key, value, id);
}

/* ---- one file ---- */

static char *beside(const char *path, const char *suffix) {
  size_t n = strlen(path) + strlen(suffix) + 1;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s%s", path, suffix);
  return p;
}

/* Resumes from the journal of an earlier run on the same content, or
 * starts one.  0, or an exit code. */
static int start_journal(pub_run *r) {
  sl_buf err = SL_BUF_INIT;
  pub_journal old;
  int rc = pub_journal_load(r->journal_path, &old, &err);
  if (rc != 0 && rc != SL_ENOENT) {
    /* Starting over would send again what the topic has; a guess at the
     * settled rows could skip some. */
    fprintf(stderr, "%s: unusable journal %s: %.*s. Not sending, since a guess would send rows twice "
            "or skip them. To send the file from its first row, delete %s (rows an earlier run sent "
            "reach the topic again); or restore it\n", r->path, r->journal_path, (int)err.len,
            err.ptr ? err.ptr : "", r->journal_path);
    snprintf(r->kafka_error, sizeof r->kafka_error, "unusable journal %s", r->journal_path);
    sl_buf_free(&err);
    return PUB_EXIT_USAGE;
  }
  if (!rc && !strcmp(old.hash, pub_input_hash(r->in)) && !strcmp(old.feed, r->feed->id) &&
      !strcmp(old.topic, r->feed->topic)) {
    r->j = old;
    r->resume = old.settled;
    fprintf(stderr, "%s: resuming after the %llu rows an earlier run settled (%s); looking on %s for rows it sent\n",
            r->path, (unsigned long long)old.settled, r->journal_path, r->feed->topic);
    rc = pub_sender_scan(r->snd, &r->j, seen_id, r, &err);
  } else {
    if (!rc) fprintf(stderr, "%s: the file or its feed changed since %s was written: starting over\n", r->path,
                     r->journal_path);
    memset(&r->j, 0, sizeof r->j);
    snprintf(r->j.hash, sizeof r->j.hash, "%s", pub_input_hash(r->in));
    snprintf(r->j.feed, sizeof r->j.feed, "%s", r->feed->id);
    snprintf(r->j.topic, sizeof r->j.topic, "%s", r->feed->topic);
    rc = pub_sender_ends(r->snd, &r->j, &err);
    if (!rc) rc = pub_journal_save(r->journal_path, &r->j, &err);
  }
  if (rc) {
    snprintf(r->kafka_error, sizeof r->kafka_error, "%.*s", (int)err.len, err.ptr ? err.ptr : "");
    sl_buf_free(&err);
    return PUB_EXIT_KAFKA;
  }
  sl_buf_free(&err);
  return 0;
}

/* Reads every row and hands it on; then waits for the last reports. */
static int read_rows(pub_run *r) {
  sl_arena a;
  sl_arena_init(&a);
  sl_buf key = SL_BUF_INIT, value = SL_BUF_INIT;
  int rc = 0;
  for (uint64_t row = 0;; row++) {
    sl_record rec;
    int line = 0;
    const char *why = NULL;
    sl_arena_reset(&a);
    int got = pub_input_next(r->in, &a, &rec, &line, &why);
    if (got == 0) break;
    if (got < 0 && !why) why = sl_strerror(got);
    if ((rc = track(r, row))) break;
    if ((rc = one_row(r, row, line, &rec, &a, got < 0 ? why : NULL, &key, &value))) break;
    if (r->snd) {
      pub_sender_poll(r->snd, 0);
      if (r->kafka_error[0] || pub_sender_fatal(r->snd)) break;
    }
    save_journal(r, 0);
    draw(r, 0);
  }
  while (r->snd && pub_sender_inflight(r->snd) > 0) {
    pub_sender_poll(r->snd, 100);
    save_journal(r, 0);
    draw(r, 0);
  }
  if (r->snd && pub_sender_fatal(r->snd) && !r->kafka_error[0])
    snprintf(r->kafka_error, sizeof r->kafka_error, "%s", pub_sender_fatal(r->snd));
  save_journal(r, 1);
  if (r->drawn) draw(r, 1);
  sl_buf_free(&key);
  sl_buf_free(&value);
  sl_arena_free(&a);
  return rc;
}

static void summary(pub_run *r, int code) {
  double secs = (double)(sl_mono_ms() - r->started_ms) / 1000.0;
  printf("%s: feed %s%s%s\n", r->path, r->feed->id, r->o->dry_run ? "" : " -> ",
         r->o->dry_run ? " (dry run: nothing sent)" : r->feed->topic);
  if (code != PUB_EXIT_ALL && code != PUB_EXIT_REJECTED && !r->nrows) {
    printf("  %s%s\n  nothing was sent\n", code == PUB_EXIT_KAFKA ? "Kafka failed: " : "", r->kafka_error);
    fflush(stdout);
    return;
  }
  printf("  read       %8llu rows %s\n", (unsigned long long)r->nrows, pub_input_how(r->in));
  printf("  valid      %8llu\n", (unsigned long long)r->valid);
  printf("  rejected   %8llu%s%s\n", (unsigned long long)r->rejected, r->rejected ? " -> " : "",
         r->rejected ? r->rejects_path : "");
  if (!r->o->dry_run) {
    printf("  published  %8llu\n", (unsigned long long)r->published);
    printf("  skipped    %8llu (already published)\n", (unsigned long long)r->skipped);
  }
  printf("  elapsed    %8.1f s\n", secs);
  if (code == PUB_EXIT_KAFKA)
    printf("  Kafka failed: %s\n  %llu rows of this file are settled; run the same command again to send the "
           "rest (no row is sent twice)\n",
           r->kafka_error, (unsigned long long)r->prefix);
  fflush(stdout);
}

int pub_file(const pub_opts *o, const sl_catalog *cat, const sl_catalog_feed *feed, const clean_fieldset *fs,
             const char *path) {
  pub_run r = {.o = o, .cat = cat, .feed = feed, .fs = fs, .path = path, .started_ms = sl_mono_ms()};
  sl_buf err = SL_BUF_INIT;
  int code = PUB_EXIT_USAGE;
  if (pub_input_open(path, o, cat, feed, &r.in, &err)) {
    fprintf(stderr, "sluice publish: %.*s\n", (int)err.len, err.ptr);
    goto done;
  }
  fprintf(stderr, "reading %s %s\n", path, pub_input_how(r.in));
  const char *v = feed->topic ? strrchr(feed->topic, '.') : NULL;
  int versioned = v && v[1] == 'v' && v[2] >= '0' && v[2] <= '9';
  snprintf(r.ce_type, sizeof r.ce_type, "%s%s", feed->name, versioned ? v : "");
  r.rejects_path = o->rejects ? strdup(o->rejects) : beside(path, ".rejects.jsonl");
  r.journal_path = beside(path, ".publish-state");
  if (!r.rejects_path || !r.journal_path) goto done;
  /* The rejects file says what the last run rejected, nothing older. */
  if (unlink(r.rejects_path) != 0 && errno != ENOENT) {
    fprintf(stderr, "sluice publish: %s: %s\n", r.rejects_path, strerror(errno));
    goto done;
  }
  code = PUB_EXIT_KAFKA;
  if (!o->dry_run && pub_sender_new(o, feed->topic, delivered, &r, &r.snd, &err)) {
    snprintf(r.kafka_error, sizeof r.kafka_error, "%.*s", (int)err.len, err.ptr);
    code = PUB_EXIT_USAGE;   /* the settings given were refused */
    summary(&r, code);
    goto done;
  }
  if (!o->dry_run && (code = start_journal(&r))) {
    summary(&r, code);
    goto done;
  }
  if (read_rows(&r)) {
    fprintf(stderr, "sluice publish: out of memory\n");
    code = PUB_EXIT_KAFKA;
  } else {
    code = r.kafka_error[0] ? PUB_EXIT_KAFKA : r.rejected ? PUB_EXIT_REJECTED : PUB_EXIT_ALL;
  }
  summary(&r, code);
done:
  pub_sender_free(r.snd);
  if (r.rejects) fclose(r.rejects);
  pub_input_close(r.in);
  clean_ctx_free(&r.cx);
  sl_buf_free(&r.msg);
  sl_buf_free(&r.line);
  sl_buf_free(&err);
  free(r.settled);
  free(r.seen.v);
  free(r.rejects_path);
  free(r.journal_path);
  return code;
}
