-- Cleansing benchmark: a 10-field clean step over synthetic resident
-- records (bench/clean_gen.py), records thrown away (sl.null), so the run
-- measures reading, decoding and cleansing.  Path from BENCH_IN.
local sl = require "sluice"
return sl.pipeline {
  name    = "bench-clean",
  sources = { sl.file.source { path = sl.env("BENCH_IN"), format = "jsonl" } },
  steps   = {
    sl.clean {
      fields = {
        id_no   = "cn_id",
        name    = { "trim", "nfkc", "t2s" },
        phone   = "cn_phone",
        tel     = "cn_phone",
        birth   = { "date", output = "date" },
        addr    = "cn_address",
        org     = "uscc",
        updated = "datetime",
        email   = { "trim", "nfkc", "casefold" },
        gender  = "trim",
      },
      required = { "id_no", "name" },
    },
  },
  sinks   = { sl.null {} },
  -- No dlq: dead letters (invalid identity numbers) go to the state folder.
}
