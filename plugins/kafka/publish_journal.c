/* The progress file of `sluice publish` (publish.h), <input>.publish-state:
 *
 *   sluice-publish 1
 *   hash 5f0c...            the input's content (xxh3-128)
 *   feed 公安/户籍登记
 *   topic gaj.residents.v1
 *   settled 12000           rows, from the first, sent and acknowledged or rejected
 *   from 0:1234 1:1180 2:1302   where the partitions ended before the first send
 *
 * It is written whole to a temporary file, fsync'd and renamed over the
 * old one, so that a crash leaves the old or the new, never half of one;
 * `settled` only grows from the broker's delivery reports (acks=all). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publish.h"
#include "sluice/fault.h"

int pub_journal_load(const char *path, pub_journal *j) {
  memset(j, 0, sizeof *j);
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? SL_ENOENT : SL_EIO;
  char line[4096];
  int ok = fgets(line, sizeof line, f) && !strcmp(line, "sluice-publish 1\n");
  while (ok && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *v = strchr(line, ' ');
    if (!v) continue;
    *v++ = 0;
    if (!strcmp(line, "hash")) snprintf(j->hash, sizeof j->hash, "%s", v);
    else if (!strcmp(line, "feed")) snprintf(j->feed, sizeof j->feed, "%s", v);
    else if (!strcmp(line, "topic")) snprintf(j->topic, sizeof j->topic, "%s", v);
    else if (!strcmp(line, "settled")) j->settled = strtoull(v, NULL, 10);
    else if (!strcmp(line, "from")) {
      for (char *save = NULL, *t = strtok_r(v, " ", &save); t && j->nparts < PUB_MAX_PARTS;
           t = strtok_r(NULL, " ", &save)) {
        long long p, o;
        if (sscanf(t, "%lld:%lld", &p, &o) != 2) {
          ok = 0;
          break;
        }
        j->part[j->nparts] = (int32_t)p;
        j->from[j->nparts++] = o;
      }
    }
  }
  fclose(f);
  return ok && j->hash[0] && j->topic[0] ? 0 : SL_EPARSE;
}

static int sync_dir_of(const char *path) {
  char *copy = strdup(path);
  if (!copy) return -1;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  free(copy);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

int pub_journal_save(const char *path, const pub_journal *j, sl_buf *err) {
  SL_CRASH_POINT("kafka.publish.journal.before_save");
  sl_buf b = SL_BUF_INIT;
  sl_buf_printf(&b, "sluice-publish 1\nhash %s\nfeed %s\ntopic %s\nsettled %llu\nfrom", j->hash, j->feed,
                j->topic, (unsigned long long)j->settled);
  for (int i = 0; i < j->nparts; i++) sl_buf_printf(&b, " %d:%lld", (int)j->part[i], (long long)j->from[i]);
  sl_buf_putc(&b, '\n');
  sl_buf tmp = SL_BUF_INIT;
  sl_buf_printf(&tmp, "%s.tmp", path);
  sl_buf_putc(&tmp, 0);
  int rc = b.oom || tmp.oom ? SL_ENOMEM : 0;
  int fd = rc ? -1 : open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (!rc && (fd < 0 || write(fd, b.ptr, b.len) != (ssize_t)b.len || fsync(fd) != 0 ||
              rename(tmp.ptr, path) != 0 || sync_dir_of(path) != 0)) {
    sl_buf_printf(err, "%s: %s", path, strerror(errno));
    rc = SL_EIO;
  }
  if (fd >= 0) close(fd);
  sl_buf_free(&b);
  sl_buf_free(&tmp);
  if (!rc) SL_CRASH_POINT("kafka.publish.journal.after_save");
  return rc;
}
