/* `sluice publish`'s command line (publish.h): options, the catalog and
 * the feed, then each file in turn (publish.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fieldset.h"
#include "publish.h"
#include "sluice/log.h"

static const char publish_help[] =
    "usage: sluice publish --feed DEPT/FEED [options] FILE...\n"
    "\n"
    "Checks every row of each FILE against the feed's schema in the catalog, as the\n"
    "platform's sl.clean { catalog = } does, and sends the valid rows to the feed's\n"
    "topic: one JSON object per row, the business key as the message key, the\n"
    "CloudEvents headers of docs/publishing.md, with the idempotent producer (acks=all).\n"
    "Rejected rows go to FILE.rejects.jsonl with their reasons.  A run that was\n"
    "interrupted can be run again as it was: no row is sent twice (FILE.publish-state).\n"
    "\n"
    "FILE is CSV, JSON Lines (.jsonl) or an Excel workbook (.xlsx); CSV and JSON Lines\n"
    "in UTF-8 (with or without a byte order mark) or GBK/GB18030, detected.  The first\n"
    "row names the columns: the feed's field names or their titles (姓名).\n"
    "\n"
    "options:\n"
    "  --feed DEPT/FEED      the feed, as the catalog names it (公安/户籍登记), or its topic\n"
    "  --catalog FILE        the feed catalog (default: $SLUICE_CATALOG, else ./catalog.lua,\n"
    "                        else pipelines/catalog.lua)\n"
    "  --bootstrap HOST:PORT Kafka brokers (also --brokers; default: $SLUICE_KAFKA_BOOTSTRAP)\n"
    "  -X KEY=VALUE          a librdkafka setting (SASL, TLS...); secrets are never printed\n"
    "  --format FORMAT       csv, jsonl or xlsx (default: from the file's extension)\n"
    "  --encoding ENC        auto (default), utf-8, gb18030, gbk, or any name iconv knows\n"
    "  --sheet NAME|N        the workbook's sheet to read (default: the first)\n"
    "  --rejects FILE        where rejected rows go (default: FILE.rejects.jsonl)\n"
    "  --dry-run             check only: send nothing, exit 1 if any row is invalid\n"
    "  --progress, --no-progress   a progress bar on stderr (default: when it is a terminal)\n"
    "\n"
    "exit codes: 0 every row sent (or valid, with --dry-run); 1 some rows rejected (the\n"
    "valid ones were sent); 2 usage, catalog or unreadable file; 3 Kafka failed (the\n"
    "summary says how far it got; run the same command again to send the rest).\n"
    "See docs/publishing.md.\n";

static const char *default_catalog(void) {
  const char *env = getenv("SLUICE_CATALOG");
  if (env && *env) return env;
  return access("catalog.lua", R_OK) == 0 ? "catalog.lua" : "pipelines/catalog.lua";
}

static const sl_catalog_feed *find_feed(const sl_catalog *cat, const char *name, const char *file) {
  const char *slash = strchr(name, '/');
  sl_str dept = {name, slash ? (size_t)(slash - name) : 0};
  sl_str feed = {slash ? slash + 1 : NULL, slash ? strlen(slash + 1) : 0};
  const sl_catalog_feed *f = sl_catalog_find(cat, dept, feed, (sl_str){name, strlen(name)});
  if (f) return f;
  fprintf(stderr, "sluice publish: %s has no feed '%s'; its feeds:\n", file, name);
  for (int i = 0; i < cat->nfeeds; i++)
    fprintf(stderr, "  %s%s%s\n", cat->feeds[i].id, cat->feeds[i].topic ? "  " : "",
            cat->feeds[i].topic ? cat->feeds[i].topic : "");
  return NULL;
}

/* -X key=value into o->xconf (key, value, ..., NULL). */
static int add_setting(pub_opts *o, char *kv) {
  char *eq = strchr(kv, '=');
  if (!eq || eq == kv) {
    fprintf(stderr, "sluice publish: -X needs KEY=VALUE\n");
    return -1;
  }
  char **x = realloc(o->xconf, ((size_t)o->nxconf + 3) * sizeof *x);
  if (!x) return -1;
  o->xconf = x;
  *eq = 0;
  x[o->nxconf++] = kv;
  x[o->nxconf++] = eq + 1;
  x[o->nxconf] = NULL;
  return 0;
}

static int parse_args(pub_opts *o, int argc, char **argv) {
  static const struct option longopts[] = {
      {"feed", required_argument, NULL, 'f'},      {"catalog", required_argument, NULL, 'c'},
      {"bootstrap", required_argument, NULL, 'b'}, {"brokers", required_argument, NULL, 'b'},
      {"format", required_argument, NULL, 'F'},    {"encoding", required_argument, NULL, 'e'},
      {"sheet", required_argument, NULL, 's'},     {"rejects", required_argument, NULL, 'r'},
      {"dry-run", no_argument, NULL, 'n'},         {"progress", no_argument, NULL, 'p'},
      {"no-progress", no_argument, NULL, 'P'},     {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  o->progress = isatty(2);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "hX:", longopts, NULL)) != -1) {
    switch (c) {
      case 'f': o->feed = optarg; break;
      case 'c': o->catalog = optarg; break;
      case 'b': o->bootstrap = optarg; break;
      case 'F': o->format = optarg; break;
      case 'e': o->encoding = optarg; break;
      case 's': o->sheet = optarg; break;
      case 'r': o->rejects = optarg; break;
      case 'n': o->dry_run = 1; break;
      case 'p': o->progress = 1; break;
      case 'P': o->progress = 0; break;
      case 'X':
        if (add_setting(o, optarg)) return PUB_EXIT_USAGE;
        break;
      case 'h': fputs(publish_help, stdout); return -1;
      default: fputs(publish_help, stderr); return PUB_EXIT_USAGE;
    }
  }
  const char *missing = !o->feed ? "--feed DEPT/FEED" : optind >= argc ? "a file to publish" : NULL;
  if (!missing && !o->dry_run && !o->bootstrap) missing = "--bootstrap HOST:PORT (or $SLUICE_KAFKA_BOOTSTRAP)";
  if (missing) {
    fprintf(stderr, "sluice publish: needs %s\n\n%s", missing, publish_help);
    return PUB_EXIT_USAGE;
  }
  if (o->rejects && argc - optind > 1) {
    fprintf(stderr, "sluice publish: --rejects names one file: publish one input with it\n");
    return PUB_EXIT_USAGE;
  }
  return 0;
}

/* The feed's checks, as sl.clean { catalog = } makes them. */
static int feed_checks(const sl_catalog_feed *feed, clean_fieldset *fs, sl_arena *a) {
  sl_buf err = SL_BUF_INIT;
  clean_defaults d = {.tz = "Asia/Shanghai", .area = NULL, .on_invalid = CLEAN_ON_KEEP};
  int rc = clean_fieldset_of_feed(&d, feed, fs, a, &err);
  if (rc) fprintf(stderr, "sluice publish: %.*s\n", (int)err.len, err.ptr ? err.ptr : sl_strerror(rc));
  else if (fs->need_key)
    fprintf(stderr, "sluice publish: feed %s: its rules pseudonymise with the platform's key (hmac), which a "
            "department does not hold\n", feed->id);
  sl_buf_free(&err);
  return rc || fs->need_key;
}

static int publish_main(int argc, char **argv) {
  /* librdkafka's warnings (a coordinator still loading) are retried and
   * would only worry a department; errors are shown. */
  sl_log_setup(SL_LOG_ERROR, SL_LOG_TEXT, 2);
  pub_opts o = {.bootstrap = getenv("SLUICE_KAFKA_BOOTSTRAP")};
  if (o.bootstrap && !*o.bootstrap) o.bootstrap = NULL;
  int code = parse_args(&o, argc, argv);
  if (code) {
    free(o.xconf);
    return code < 0 ? 0 : code;
  }
  if (!o.catalog) o.catalog = default_catalog();
  sl_catalog *cat = NULL;
  sl_buf err = SL_BUF_INIT;
  clean_fieldset fs = {0};
  sl_arena a;
  sl_arena_init(&a);
  code = PUB_EXIT_USAGE;
  if (sl_catalog_load_file(o.catalog, &cat, &err)) {
    fprintf(stderr, "sluice publish: %.*s\n", (int)err.len, err.ptr ? err.ptr : "cannot read the catalog");
    goto done;
  }
  const sl_catalog_feed *feed = find_feed(cat, o.feed, o.catalog);
  if (!feed || feed_checks(feed, &fs, &a)) goto done;
  if (!feed->topic && !o.dry_run) {
    fprintf(stderr, "sluice publish: feed %s has no topic in %s (%s)\n", feed->id, o.catalog,
            feed->where ? feed->where : "");
    goto done;
  }
  code = PUB_EXIT_ALL;
  for (int i = optind; i < argc; i++) {
    int c = pub_file(&o, cat, feed, &fs, argv[i]);
    if (c > code) code = c;
  }
done:
  clean_fieldset_free(&fs);
  sl_arena_free(&a);
  sl_catalog_free(cat);
  sl_buf_free(&err);
  free(o.xconf);
  return code;
}

const sl_plugin_command publish_commands[] = {
    {
        .name = "publish",
        .summary = "check a department's CSV, JSON Lines or .xlsx file, send it to its feed's topic",
        .help = publish_help,
        .run = NULL,
        .main = publish_main,
    },
    {NULL, NULL, NULL, NULL, NULL}};
