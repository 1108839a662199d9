-- Open data: the identity number and phone become keyed tokens (HMAC-SHA-256
-- with a key from the environment, never logged) after they are cleaned,
-- so the two spellings of one number give one token; masks keep a readable
-- part; the originals are dropped.
local sl = require "sluice"
return sl.pipeline {
  name    = "clean-hmac",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    sl.clean {
      fields = {
        id_no = "cn_id",
        phone = "cn_phone",
        id_token = { "hmac", bytes = 16, context = "id_no", from = "id_no" },
        phone_token = { "hmac", bytes = 8, context = "phone", from = "phone" },
        id_masked = { "mask_id", from = "id_no" },
        phone_masked = { "mask_phone", from = "phone" },
        name_masked = { "mask_name", from = "name" },
      },
      key_env = "CLEAN_TEST_KEY",
    },
    function (rec)
      rec.id_no, rec.phone, rec.name = nil, nil, nil
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
