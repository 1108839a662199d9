/* Fault points: where the fault tests (tests/faults/) break sluice on purpose.
 *
 * A build configured with -DSLUICE_FAULT_POINTS=ON (the default for the
 * development and test trees; the Debian package is built without) compiles
 * them in; otherwise each macro is nothing.  Even compiled in, a point does
 * nothing unless the environment of the process asks for it:
 *
 *   SLUICE_CRASH_AT=NAME[:N]  SL_CRASH_POINT(NAME) kills the process with
 *                             SIGKILL the N-th time it is reached (N = 1 by
 *                             default): a kill -9 at a chosen moment.
 *   SLUICE_CRASH_LOG=FILE     every SL_CRASH_POINT reached appends its name
 *                             and a newline to FILE, so a test learns which
 *                             points a pipeline passes and how often.
 *   libfiu's control          SL_FAULT_ERRNO(NAME) fails when libfiu point
 *                             "sluice/NAME" is enabled, e.g.
 *                             fiu-run -c 'enable_random name=sluice/io/engine.state.fsync,probability=0.02' sluice run ...
 *                             (a name ending in an asterisk enables every
 *                             point under it; failinfo=N gives the errno,
 *                             EIO by default).
 *   SLUICE_FAULT_LOG=FILE     every SL_FAULT_ERRNO that fails appends
 *                             "sluice/NAME ERRNO" and a newline to FILE, so
 *                             a test counts the faults it injected.
 *
 * Names are dotted and say where: "<layer or plugin>.<what>.<before|after>",
 * e.g. "engine.checkpoint.before_rename", "pg.sink.after_commit".  I/O fault
 * names start with "io/": "io/file.sink.write".  A name must be a string
 * literal: the tests find every point by reading the sources. */
#ifndef SLUICE_FAULT_H
#define SLUICE_FAULT_H

#ifdef SLUICE_FAULT_POINTS
void sl_crash_point(const char *name);
int sl_fault_errno(const char *name);
#define SL_CRASH_POINT(name) sl_crash_point("" name "")
/* 0, or the errno the operation at this point must fail with. */
#define SL_FAULT_ERRNO(name) sl_fault_errno("sluice/" name)
#else
#define SL_CRASH_POINT(name) ((void)0)
#define SL_FAULT_ERRNO(name) 0
#endif

/* Whether this build has fault points (for `sluice version -v`). */
int sl_fault_points_built(void);

#endif
