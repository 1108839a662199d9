/* `sluice publish`: a department's file of rows, checked against its feed
 * in the catalog and sent to the feed's topic (docs/publishing.md).
 *
 * publish.c runs the command (options, one file after another, the
 * summary); publish_input.c reads a file's rows (CSV, JSON Lines, .xlsx, in
 * whatever encoding it was saved); publish_journal.c keeps the progress
 * file that lets a re-run after an interruption send no row twice;
 * publish_send.c is the Kafka side (the idempotent producer, delivery
 * reports, and the scan of the topic for rows a killed run already sent). */
#ifndef SLUICE_KAFKA_PUBLISH_H
#define SLUICE_KAFKA_PUBLISH_H

#include <stdint.h>

#include "sluice/catalog.h"
#include "sluice/plugin.h"

/* The kafka.sink plugin's commands: publish. */
extern const sl_plugin_command publish_commands[];

/* Exit codes (docs/cli.md): every row sent; some rejected (the valid ones
 * sent); usage, catalog or unreadable file; Kafka failed (partly sent). */
enum { PUB_EXIT_ALL = 0, PUB_EXIT_REJECTED = 1, PUB_EXIT_USAGE = 2, PUB_EXIT_KAFKA = 3 };

typedef struct pub_opts {
  const char *catalog;
  const char *feed;
  const char *bootstrap;
  const char *format;     /* csv, jsonl, xlsx; NULL: from the file's extension */
  const char *encoding;   /* auto, utf-8, gb18030, gbk */
  const char *sheet;
  const char *rejects;    /* NULL: <input>.rejects.jsonl */
  int dry_run;
  int progress;
  char **xconf;           /* -X key=value as key, value, ..., NULL */
  int nxconf;
} pub_opts;

/* ---- publish.c ---- */

struct clean_fieldset;
/* Publishes one file (checks only, with o->dry_run); prints its summary.
 * Returns its exit code. */
int pub_file(const pub_opts *o, const sl_catalog *cat, const sl_catalog_feed *feed,
             const struct clean_fieldset *fs, const char *path);

/* ---- publish_input.c ---- */

typedef struct pub_input pub_input;

/* Opens path and reads it whole: decides its format and encoding (and
 * says which on stderr), converts it to UTF-8.  Column headers are the
 * feed's field names or their titles (姓名 for name).  0, or a negative
 * SL_E* with the reason in err. */
int pub_input_open(const char *path, const pub_opts *o, const sl_catalog *cat, const sl_catalog_feed *feed,
                   pub_input **out, sl_buf *err);
/* The next row as a record in a: text cells typed as the feed's schema
 * says (an int field's "3" is 3, an empty cell is no field, a time
 * without an offset takes the catalog's).  *line is its line in the file
 * (its row in the sheet); raw is the row as read.  1 with a row, 0 at the
 * end, or a negative SL_E* for a row that cannot be read (*why says why;
 * reading goes on with the next one). */
int pub_input_next(pub_input *in, sl_arena *a, sl_record *rec, int *line, const char **why);
/* How far reading got, 0..1, for the progress bar. */
double pub_input_done(const pub_input *in);
/* How it was read: "as GB18030 (detected; --encoding to override)", "from sheet 'Sheet1'". */
const char *pub_input_how(const pub_input *in);
/* The content's hash, as 32 hex digits. */
const char *pub_input_hash(const pub_input *in);
void pub_input_close(pub_input *in);

/* ---- publish_journal.c ---- */

#define PUB_MAX_PARTS 256

/* <input>.publish-state: which file (by content), feed and topic; how many
 * of its rows, from the first, are settled (sent and acknowledged, or
 * rejected); and where the topic's partitions ended when the first run for
 * this content began, from where a re-run looks for rows already sent. */
typedef struct pub_journal {
  char hash[40];
  char feed[256];
  char topic[256];
  uint64_t settled;
  int nparts;
  int32_t part[PUB_MAX_PARTS];
  int64_t from[PUB_MAX_PARTS];
} pub_journal;

/* 0, SL_ENOENT (no journal), SL_EIO (cannot read it) or SL_EPARSE (cut
 * short, edited, not one of ours), with the reason in why. */
int pub_journal_load(const char *path, pub_journal *j, sl_buf *why);
/* Writes it durably: a temporary file, fsync, rename, fsync of the folder. */
int pub_journal_save(const char *path, const pub_journal *j, sl_buf *err);

/* ---- publish_send.c ---- */

typedef struct pub_sender pub_sender;

/* Called from pub_sender_poll for each message's delivery: err 0 when the
 * broker acknowledged it (acks=all). */
typedef void (*pub_delivered_fn)(void *ud, uint64_t row, int err, const char *reason);

int pub_sender_new(const pub_opts *o, const char *topic, pub_delivered_fn cb, void *ud, pub_sender **out,
                   sl_buf *err);
/* Where each partition of the topic ends now (none if it does not exist). */
int pub_sender_ends(pub_sender *s, pub_journal *j, sl_buf *err);
/* Reads the topic from j's positions to its end and calls seen for every
 * message's ce_id. */
int pub_sender_scan(pub_sender *s, const pub_journal *j, void (*seen)(void *ud, const char *id, size_t n),
                    void *ud, sl_buf *err);
/* Queues one message (headers ce_* and content-type); waits while the
 * producer's queue is full. */
int pub_sender_send(pub_sender *s, uint64_t row, sl_str key, sl_str value, const char *const *headers,
                    sl_buf *err);
/* Serves delivery reports for up to ms milliseconds. */
void pub_sender_poll(pub_sender *s, int ms);
/* Messages queued and not yet reported. */
int pub_sender_inflight(pub_sender *s);
/* A fatal producer error (fenced, misconfigured), or NULL. */
const char *pub_sender_fatal(pub_sender *s);
void pub_sender_free(pub_sender *s);

#endif
