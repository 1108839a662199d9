/* Plugin commands of the `sluice` tool (sl_plugin_command): the pipeline
 * is loaded as `sluice check` loads it, nothing is started, and the stage
 * that offers the command runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pipeline.h"
#include "sluice/log.h"

static const sl_plugin_command *command_of(const sl_stage *st, const char *name) {
  if (!st->plugin || !st->plugin->commands) return NULL;
  for (const sl_plugin_command *c = st->plugin->commands; c->name; c++)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

int sl_pipeline_command(const sl_run_opts *o, const char *command, const char *step, int argc, char **argv) {
  sl_pipeline *p = calloc(1, sizeof *p);
  if (!p) return 1;
  sl_buf err = SL_BUF_INIT;
  int code = 2;
  if (sl__pipeline_load(p, o, &err)) {
    fprintf(stderr, "sluice: %.*s\n", (int)err.len, err.ptr ? err.ptr : "cannot load the pipeline");
    goto done;
  }
  sl_stage *found = NULL;
  const sl_plugin_command *cmd = NULL;
  int n = 0;
  for (int i = 0; i < p->nsteps + p->nsources + p->nsinks; i++) {
    sl_stage *st = i < p->nsteps ? p->steps[i]
                   : i < p->nsteps + p->nsources ? p->sources[i - p->nsteps]
                   : p->sinks[i - p->nsteps - p->nsources];
    const sl_plugin_command *c = command_of(st, command);
    if (!c) continue;
    if (step && strcmp(st->name, step) != 0) continue;
    if (!found) {
      found = st;
      cmd = c;
    }
    n++;
  }
  if (!found) {
    fprintf(stderr, "sluice: %s: no stage %s%s%soffers '%s'\n", o->file, step ? "named '" : "",
            step ? step : "", step ? "' " : "", command);
    goto done;
  }
  if (n > 1) {
    fprintf(stderr, "sluice: %s: %d stages offer '%s'; name one with --step NAME\n", o->file, n, command);
    goto done;
  }
  code = cmd->run(found, argc, argv);
done:
  sl_buf_free(&err);
  sl__pipeline_unload(p);
  return code;
}
