/* null: a sink that discards what it is given, at once. */
#include "sluice/plugin.h"

static int null_write(sl_stage *st, sl_sink_batch *sb) {
  (void)st;
  sl_sink_done(sb);
  return 0;
}

static const sl_option null_options[] = {{NULL, 0, NULL, 0, 0, NULL, NULL}};

const sl_plugin null_plugin = {
    .abi = SL_PLUGIN_ABI,
    .kind = SL_SINK,
    .name = "null",
    .doc = "Discards records (benchmarks, tests, dropping a stream on purpose).",
    .options = null_options,
    .write = null_write,
};
