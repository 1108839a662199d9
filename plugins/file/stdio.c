/* stdin and stdout: the file source and sink on the standard streams.
 * Standard input has no checkpoint: what was read is not read again. */
#include <stdlib.h>
#include <string.h>

#include "file.h"

static int stdin_init(sl_stage *st) {
  file_source_cfg *cfg = sl_stage_config(st);
  cfg->path = strdup("-");
  if (!cfg->path) return SL_ENOMEM;
  cfg->checkpoint = 0;
  cfg->follow = 0;
  return file_source_init(st);
}

static void stdin_destroy(sl_stage *st) {
  file_source_destroy(st);
  file_source_cfg *cfg = sl_stage_config(st);
  free(cfg->path);
  cfg->path = NULL;
}

static int stdout_init(sl_stage *st) {
  file_sink_cfg *cfg = sl_stage_config(st);
  cfg->path = strdup("-");
  if (!cfg->path) return SL_ENOMEM;
  cfg->fsync = 0;
  return file_sink_init(st);
}

static void stdout_destroy(sl_stage *st) {
  file_sink_destroy(st);
  file_sink_cfg *cfg = sl_stage_config(st);
  free(cfg->path);
  cfg->path = NULL;
}

static const sl_option stdin_options[] = {
    {"format", SL_OPT_ENUM, "jsonl", 0, offsetof(file_source_cfg, format), "Record format.", "jsonl|csv|raw"},
    {"delimiter", SL_OPT_STR, ",", 0, offsetof(file_source_cfg, delimiter), "CSV field separator.", NULL},
    {"header", SL_OPT_BOOL, "true", 0, offsetof(file_source_cfg, header), "CSV: the first row names the fields.", NULL},
    {"read_size", SL_OPT_SIZE, "1MiB", 0, offsetof(file_source_cfg, read_size), "Bytes per read.", NULL},
    {"max_record_size", SL_OPT_SIZE, "16MiB", 0, offsetof(file_source_cfg, max_record), "Larger records go to the dead-letter sink.", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

static const sl_option stdout_options[] = {
    {"format", SL_OPT_ENUM, "jsonl", 0, offsetof(file_sink_cfg, format), "Record format.", "jsonl|csv|raw"},
    {"delimiter", SL_OPT_STR, ",", 0, offsetof(file_sink_cfg, delimiter), "CSV field separator.", NULL},
    {"header", SL_OPT_BOOL, "true", 0, offsetof(file_sink_cfg, header), "CSV: write a header row first.", NULL},
    {"columns", SL_OPT_STRLIST, NULL, 0, offsetof(file_sink_cfg, columns), "CSV: output columns (default: the first record's fields).", NULL},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin stdin_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SOURCE,
    .name = "stdin",
    .doc = "Reads records from standard input until it ends.",
    .options = stdin_options,
    .config_size = sizeof(file_source_cfg),
    .priv_size = sizeof(file_source),
    .init = stdin_init,
    .destroy = stdin_destroy,
    .start = file_source_start,
    .pause = file_source_pause,
    .resume = file_source_resume,
    .stop = file_source_stop,
    .ack = file_source_ack,
};

const sl_plugin stdout_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "stdout",
    .doc = "Writes records to standard output.",
    .options = stdout_options,
    .config_size = sizeof(file_sink_cfg),
    .priv_size = sizeof(file_sink),
    .init = stdout_init,
    .destroy = stdout_destroy,
    .write = file_sink_write,
    .flush = file_sink_flush,
};
