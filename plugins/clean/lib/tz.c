/* Time zones: IANA zones from the system's zoneinfo (TZif files, read once
 * and kept), and fixed offsets.  libc's localtime_r cannot serve here: it
 * knows one zone per process (TZ), and changing it is not thread-safe.
 *
 * Times past a zone's last transition use the zone's POSIX footer when it
 * has no daylight saving time (Asia/Shanghai: "CST-8"), else the last
 * transition's offset; zoneinfo as Debian ships it lists transitions up to
 * 2037, so this matters only beyond. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"

struct sl_tz {
  char name[64];
  int ntrans, ntypes;
  int64_t *trans;           /* UTC instants of the transitions */
  uint8_t *idx;             /* type in force from trans[i] */
  int32_t *offs;            /* offset of each type */
  int32_t first;            /* offset before the first transition */
  int32_t after;            /* offset after the last transition */
  struct sl_tz *next;
};

static pthread_mutex_t zones_mu = PTHREAD_MUTEX_INITIALIZER;
static sl_tz *zones;

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* "+08:00", "+0800", "+08", "-05:30", "Z", "UTC": 0 and *off, or -1. */
static int parse_fixed(const char *s, int32_t *off) {
  if (!strcmp(s, "Z") || !strcmp(s, "UTC") || !strcmp(s, "Etc/UTC")) {
    *off = 0;
    return 0;
  }
  if ((s[0] != '+' && s[0] != '-') || strlen(s) < 3) return -1;
  int h, m = 0;
  char extra;
  if (strlen(s) == 3 && sscanf(s + 1, "%2d%c", &h, &extra) == 1) {
  } else if (strlen(s) == 5 && sscanf(s + 1, "%2d%2d%c", &h, &m, &extra) == 2) {
  } else if (strlen(s) == 6 && s[3] == ':' && sscanf(s + 1, "%2d:%2d%c", &h, &m, &extra) == 2) {
  } else {
    return -1;
  }
  if (h > 18 || m > 59) return -1;
  *off = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  return 0;
}

/* The standard offset of a POSIX TZ string without DST ("CST-8"), or -1. */
static int footer_offset(const char *p, size_t n, int32_t *off) {
  size_t i = 0;
  if (i < n && p[i] == '<') {
    while (i < n && p[i] != '>') i++;
    i++;
  } else {
    while (i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z'))) i++;
  }
  int sign = 1;
  if (i < n && (p[i] == '+' || p[i] == '-')) sign = p[i++] == '-' ? -1 : 1;
  int parts[3] = {0, 0, 0}, np = 0;
  while (i < n && np < 3) {
    if (p[i] < '0' || p[i] > '9') return -1;
    while (i < n && p[i] >= '0' && p[i] <= '9') parts[np] = parts[np] * 10 + (p[i++] - '0');
    np++;
    if (i < n && p[i] == ':') i++;
    else break;
  }
  if (!np || i != n) return -1;   /* anything after the offset is a DST rule */
  /* POSIX counts west of Greenwich as positive: CST-8 is UTC+8. */
  *off = -sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return 0;
}

static sl_tz *load_tzif(const char *name, sl_clean_why *why) {
  const char *dir = getenv("TZDIR");
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
  FILE *f = fopen(path, "rb");
  if (!f) return sl__why(why, SL_ENOENT, "unknown time zone '%s'", name), NULL;
  unsigned char *d = malloc(1 << 20);
  size_t n = d ? fread(d, 1, 1 << 20, f) : 0;
  fclose(f);
  sl_tz *tz = NULL;
  if (!d || n < 44 || memcmp(d, "TZif", 4) != 0 || d[4] < '2') goto bad;
  /* Skip the 32-bit block to the 64-bit one. */
  size_t v1 = 44 + be32(d + 32) * 5 + be32(d + 36) * 6 + be32(d + 40) + be32(d + 28) * 8 +
              be32(d + 24) + be32(d + 20);
  if (v1 + 44 > n || memcmp(d + v1, "TZif", 4) != 0) goto bad;
  const unsigned char *h = d + v1;
  size_t isut = be32(h + 20), isstd = be32(h + 24), leap = be32(h + 28), timecnt = be32(h + 32),
         typecnt = be32(h + 36), charcnt = be32(h + 40);
  size_t body = timecnt * 9 + typecnt * 6 + charcnt + leap * 12 + isstd + isut;
  if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || v1 + 44 + body > n) goto bad;
  tz = calloc(1, sizeof *tz);
  if (!tz) goto bad;
  tz->trans = malloc((timecnt + 1) * sizeof *tz->trans);
  tz->idx = malloc(timecnt + 1);
  tz->offs = malloc(typecnt * sizeof *tz->offs);
  if (!tz->trans || !tz->idx || !tz->offs) goto bad;
  const unsigned char *p = h + 44;
  for (size_t i = 0; i < timecnt; i++) tz->trans[i] = be64(p + 8 * i);
  p += 8 * timecnt;
  for (size_t i = 0; i < timecnt; i++) {
    tz->idx[i] = p[i];
    if (p[i] >= typecnt) goto bad;
  }
  p += timecnt;
  int first = -1;
  for (size_t i = 0; i < typecnt; i++) {
    tz->offs[i] = (int32_t)be32(p + 6 * i);
    if (first < 0 && !p[6 * i + 4]) first = (int)i;   /* the first standard-time type */
  }
  p += 6 * typecnt + charcnt + leap * 12 + isstd + isut;
  tz->ntrans = (int)timecnt;
  tz->ntypes = (int)typecnt;
  tz->first = tz->offs[first < 0 ? 0 : first];
  tz->after = timecnt ? tz->offs[tz->idx[timecnt - 1]] : tz->first;
  /* The footer: "\nCST-8\n". */
  if ((size_t)(p - d) < n && *p == '\n') {
    const unsigned char *end = memchr(p + 1, '\n', n - (size_t)(p + 1 - d));
    int32_t off;
    if (end && footer_offset((const char *)p + 1, (size_t)(end - p - 1), &off) == 0) tz->after = off;
  }
  free(d);
  return tz;
bad:
  free(d);
  if (tz) {
    free(tz->trans);
    free(tz->idx);
    free(tz->offs);
    free(tz);
  }
  return sl__why(why, SL_EINVAL, "cannot read time zone '%s' from %s", name, path), NULL;
}

static int valid_name(const char *s) {
  if (!*s || *s == '/' || strlen(s) >= 64 || strstr(s, "..")) return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '/' || *s == '_' || *s == '-' || *s == '+'))
      return 0;
  return 1;
}

const sl_tz *sl_tz_get(const char *name, sl_clean_why *why) {
  if (!name || !*name) name = "Asia/Shanghai";
  pthread_mutex_lock(&zones_mu);
  sl_tz *tz;
  for (tz = zones; tz; tz = tz->next)
    if (!strcmp(tz->name, name)) break;
  if (!tz) {
    int32_t off;
    if (parse_fixed(name, &off) == 0) {
      tz = calloc(1, sizeof *tz);
      if (tz) tz->first = tz->after = off;
    } else if (valid_name(name)) {
      tz = load_tzif(name, why);
      /* Without zoneinfo, China's zone is still known: +08:00 since 1991
       * (daylight saving time was used 1986-1991 only). */
      if (!tz && !strcmp(name, "Asia/Shanghai")) {
        tz = calloc(1, sizeof *tz);
        if (tz) tz->first = tz->after = 8 * 3600;
      }
    } else {
      sl__why(why, SL_EINVAL, "'%s' is not a time zone name", name);
    }
    if (tz) {
      snprintf(tz->name, sizeof tz->name, "%s", name);
      tz->next = zones;
      zones = tz;
    }
  }
  pthread_mutex_unlock(&zones_mu);
  return tz;
}

int32_t sl_tz_offset_utc(const sl_tz *tz, int64_t t) {
  if (!tz->ntrans || t < tz->trans[0]) return tz->first;
  if (t >= tz->trans[tz->ntrans - 1]) return tz->after;
  int lo = 0, hi = tz->ntrans - 1;     /* trans[lo] <= t < trans[hi] */
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (tz->trans[mid] <= t) lo = mid;
    else hi = mid;
  }
  return tz->offs[tz->idx[lo]];
}

int32_t sl_tz_offset_local(const sl_tz *tz, int64_t local) {
  /* The offsets a day before and a day after: a local time is valid under
   * one of them (zones change at most once a day). */
  int32_t before = sl_tz_offset_utc(tz, local - 86400), after = sl_tz_offset_utc(tz, local + 86400);
  if (sl_tz_offset_utc(tz, local - before) == before) return before;
  if (sl_tz_offset_utc(tz, local - after) == after) return after;
  return before;   /* in a gap */
}
