/* The commands that talk to a running pipeline through its admin
 * endpoint (live.c). */
#ifndef SLUICE_CLI_LIVE_H
#define SLUICE_CLI_LIVE_H

extern const char sl__tap_help[];
extern const char sl__reload_help[];

/* sluice tap ... / sluice reload ...: argv[0] is the command's name.  The
 * exit code. */
int sl__cli_tap(int argc, char **argv);
int sl__cli_reload(int argc, char **argv);

#endif
