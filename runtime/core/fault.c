/* Fault points (sluice/fault.h): crash points armed by SLUICE_CRASH_AT and
 * logged to SLUICE_CRASH_LOG, and I/O fault points controlled by libfiu.
 * The environment is read once, on the first point reached, by whichever
 * thread gets there first. */
#include "sluice/fault.h"

#ifdef SLUICE_FAULT_POINTS

#include <errno.h>
#include <fcntl.h>
/* fiu.h makes its calls nothing unless FIU_ENABLE is defined. */
#define FIU_ENABLE 1
#include <fiu.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char crash_name[256]; /* empty: no crash point armed */
static long crash_at = 1;    /* which hit of crash_name kills */
static atomic_long crash_hits;
static int log_fd = -1;
static int fault_log_fd = -1; /* SLUICE_FAULT_LOG: the I/O faults that fired */

static void read_environment(void) {
  fiu_init(0);
  const char *at = getenv("SLUICE_CRASH_AT");
  if (at && *at) {
    snprintf(crash_name, sizeof crash_name, "%s", at);
    char *colon = strrchr(crash_name, ':');
    if (colon) {
      *colon = '\0';
      crash_at = strtol(colon + 1, NULL, 10);
      if (crash_at < 1) crash_at = 1;
    }
  }
  const char *log = getenv("SLUICE_CRASH_LOG");
  if (log && *log) log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const char *faults = getenv("SLUICE_FAULT_LOG");
  if (faults && *faults) fault_log_fd = open(faults, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}


void sl_crash_point(const char *name) {
  pthread_once(&once, read_environment);
  if (log_fd >= 0) {
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", name);
    if (n > 0 && (size_t)n < sizeof line && write(log_fd, line, (size_t)n) < 0) {
      /* the log is the test's; a failed line only weakens its coverage count */
    }
  }
  if (!crash_name[0] || strcmp(name, crash_name) != 0) return;
  if (atomic_fetch_add(&crash_hits, 1) + 1 != crash_at) return;
  char msg[320];
  int n = snprintf(msg, sizeof msg, "sluice: crash point %s (hit %ld): SIGKILL\n", name, crash_at);
  if (n > 0 && write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0) {
    /* dying anyway */
  }
  kill(getpid(), SIGKILL);
}

int sl_fault_errno(const char *name) {
  pthread_once(&once, read_environment);
  if (!fiu_fail(name)) return 0;
  int e = (int)(intptr_t)fiu_failinfo();
  if (e <= 0) e = EIO;
  if (fault_log_fd >= 0) {
    /* One write per line: O_APPEND keeps the lines of threads whole. */
    char line[300];
    int n = snprintf(line, sizeof line, "%s %d\n", name, e);
    if (n > 0 && (size_t)n < sizeof line && write(fault_log_fd, line, (size_t)n) < 0) {
      /* the log is the test's; a failed line only weakens its count */
    }
  }
  return e;
}

int sl_fault_points_built(void) { return 1; }

#else

int sl_fault_points_built(void) { return 0; }

#endif
