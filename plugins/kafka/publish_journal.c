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
#include <stdint.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "publish.h"
#include "sluice/fault.h"

/* A whole number in s[0..n) (digits only, no sign or space), at most max. */
static int whole(const char *s, size_t n, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (n == 0) return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || v > (max - (uint64_t)(s[i] - '0')) / 10) return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* "0:1234 1:1180 ...": partitions and where they ended. */
static int parse_from(const char *v, pub_journal *j, sl_buf *why) {
  while (*v) {
    if (*v++ != ' ') break;
    const char *colon = strchr(v, ':');
    size_t end = strcspn(v, " ");
    uint64_t p, o;
    if (!colon || (size_t)(colon - v) >= end || j->nparts >= PUB_MAX_PARTS ||
        whole(v, (size_t)(colon - v), INT32_MAX, &p) || whole(colon + 1, end - (size_t)(colon - v) - 1,
                                                               INT64_MAX, &o)) {
      sl_buf_printf(why, "\"from %.*s\" is not a partition:offset pair", (int)(end > 40 ? 40 : end), v);
      return SL_EPARSE;
    }
    j->part[j->nparts] = (int32_t)p;
    j->from[j->nparts++] = (int64_t)o;
    v += end;
  }
  if (*v) {
    sl_buf_printf(why, "the line \"from\" is malformed");
    return SL_EPARSE;
  }
  return 0;
}

/* One "key value" line into j; seen marks the keys met. */
static int parse_line(char *line, pub_journal *j, unsigned *seen, sl_buf *why) {
  static const char *const keys[] = {"hash", "feed", "topic", "settled", "from"};
  size_t klen = strcspn(line, " ");
  const char *v = line[klen] ? line + klen + 1 : "";
  unsigned k = 0;
  while (k < 5 && (strlen(keys[k]) != klen || strncmp(line, keys[k], klen))) k++;
  if (k == 5) {
    sl_buf_printf(why, "unknown line \"%.40s\"", line);
    return SL_EPARSE;
  }
  if (*seen & 1u << k) {
    sl_buf_printf(why, "\"%s\" appears twice", keys[k]);
    return SL_EPARSE;
  }
  *seen |= 1u << k;
  size_t n = strlen(v);
  switch (k) {
    case 0:
      if (n != 32 || strspn(v, "0123456789abcdef") != 32) break;
      memcpy(j->hash, v, 33);
      return 0;
    case 1:
    case 2:
      if (!n || n >= sizeof j->feed) break;
      memcpy(k == 1 ? j->feed : j->topic, v, n + 1);
      return 0;
    case 3:
      if (whole(v, n, UINT64_MAX, &j->settled)) break;
      return 0;
    default:
      return parse_from(line + klen, j, why);
  }
  sl_buf_printf(why, "\"%s\" is \"%.64s\", not %s", keys[k], v,
                k == 0 ? "32 hexadecimal digits" : k == 3 ? "a whole number of rows" : "a name");
  return SL_EPARSE;
}

int pub_journal_load(const char *path, pub_journal *j, sl_buf *why) {
  memset(j, 0, sizeof *j);
  FILE *f = fopen(path, "r");
  if (!f && errno == ENOENT) return SL_ENOENT;
  char text[8192 + 16 * PUB_MAX_PARTS * 2];
  size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
  int err = !f || ferror(f) ? errno : 0;
  if (f) fclose(f);
  if (err) {
    sl_buf_printf(why, "cannot read it: %s", strerror(err));
    return SL_EIO;
  }
  text[n] = 0;
  const char *bad = n == 0                  ? "it is empty"
                    : strlen(text) != n       ? "it is not text (it holds a NUL byte)"
                    : n == sizeof text - 1    ? "it is too long"
                    : text[n - 1] != '\n'     ? "it is cut short (no end of line at its end)"
                                              : NULL;
  if (bad) {
    sl_buf_puts(why, bad);
    return SL_EPARSE;
  }
  char *save = NULL, *line = strtok_r(text, "\n", &save);
  if (!line || strcmp(line, "sluice-publish 1") != 0) {
    sl_buf_printf(why, "its first line is not \"sluice-publish 1\"");
    return SL_EPARSE;
  }
  unsigned seen = 0;
  while ((line = strtok_r(NULL, "\n", &save)))
    if (parse_line(line, j, &seen, why)) return SL_EPARSE;
  if (seen != 0x1f) {
    sl_buf_printf(why, "it lacks a line (hash, feed, topic, settled and from are all needed)");
    return SL_EPARSE;
  }
  return 0;
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

/* The whole journal, or -1 with errno (a short write means a full disk). */
static int write_all(int fd, const sl_buf *b) {
  int e = SL_FAULT_ERRNO("io/kafka.publish.journal.write");
  ssize_t w = e ? (errno = e, -1) : write(fd, b->ptr, b->len);
  if (w >= 0 && (size_t)w != b->len) errno = ENOSPC;
  return w >= 0 && (size_t)w == b->len ? 0 : -1;
}

static int sync_file(int fd) {
  int e = SL_FAULT_ERRNO("io/kafka.publish.journal.fsync");
  return e ? (errno = e, -1) : fsync(fd);
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
  if (!rc && (fd < 0 || write_all(fd, &b) != 0 || sync_file(fd) != 0 ||
              rename(tmp.ptr, path) != 0 || sync_dir_of(path) != 0)) {
    sl_buf_printf(err, "cannot save the progress to %s: %s", path, strerror(errno));
    rc = SL_EIO;
  }
  if (fd >= 0) close(fd);
  sl_buf_free(&b);
  sl_buf_free(&tmp);
  if (!rc) SL_CRASH_POINT("kafka.publish.journal.after_save");
  return rc;
}
