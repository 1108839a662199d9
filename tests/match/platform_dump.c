/* match_platform_dump: sl_match_platform_load from the command line.
 *
 *   match_platform_dump CONNINFO DOMAIN           every member row as a JSON
 *                                                 array [dept, feed, src_id,
 *                                                 entity_id, vals] (null for
 *                                                 NULL), one per line
 *   match_platform_dump CONNINFO DOMAIN --count   rows, bytes, seconds, rows/s
 *                                                 and peak RSS (bench/match_restore)
 *   match_platform_dump CONNINFO DOMAIN --entities
 *                                                 every entity row (sl_match_platform_
 *                                                 load_entities): [entity_id, status,
 *                                                 merged_into, version]
 *
 * Exit 0, or 1 with the loader's error on stderr. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "platform_pg.h"

typedef struct tally {
  unsigned long long rows, bytes;
  int print;
} tally;

static void put_json(sl_match_str s) {
  if (!s.p) {
    fputs("null", stdout);
    return;
  }
  putchar('"');
  for (uint32_t i = 0; i < s.n; i++) {
    unsigned char c = (unsigned char)s.p[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static int on_member(void *ud, const sl_match_member_row *r) {
  tally *t = ud;
  t->rows++;
  t->bytes += (unsigned long long)r->dept.n + r->feed.n + r->src_id.n + r->entity_id.n + r->vals_json.n;
  if (t->print) {
    sl_match_str v[5] = {r->dept, r->feed, r->src_id, r->entity_id, r->vals_json};
    putchar('[');
    for (int i = 0; i < 5; i++) {
      if (i) putchar(',');
      put_json(v[i]);
    }
    fputs("]\n", stdout);
  }
  return 0;
}

static int on_entity(void *ud, sl_match_str entity_id, sl_match_str status,
                     sl_match_str merged_into, int64_t version) {
  tally *t = ud;
  t->rows++;
  putchar('[');
  put_json(entity_id);
  putchar(',');
  put_json(status);
  putchar(',');
  put_json(merged_into);
  printf(",%lld]\n", (long long)version);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc == 4 ? argv[3] : "";
  if (argc < 3 || argc > 4 || (argc == 4 && strcmp(mode, "--count") && strcmp(mode, "--entities"))) {
    fprintf(stderr, "usage: match_platform_dump CONNINFO DOMAIN [--count | --entities]\n");
    return 2;
  }
  tally t = {0, 0, argc == 3};
  char err[512];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int rc = strcmp(mode, "--entities") == 0
               ? sl_match_platform_load_entities(argv[1], argv[2], on_entity, &t, err, sizeof err)
               : sl_match_platform_load(argv[1], argv[2], on_member, &t, err, sizeof err);
  clock_gettime(CLOCK_MONOTONIC, &b);
  if (rc) {
    fprintf(stderr, "match_platform_dump: %s (%s)\n", err, sl_strerror(rc));
    return 1;
  }
  if (strcmp(mode, "--count") == 0) {
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("rows %llu bytes %llu seconds %.3f rows_per_s %.0f peak_rss_mib %.1f\n", t.rows, t.bytes,
           s, s > 0 ? (double)t.rows / s : 0.0, (double)ru.ru_maxrss / 1024.0);
  }
  return 0;
}
