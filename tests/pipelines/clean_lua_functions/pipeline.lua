-- The primitives as Lua functions (sl.clean.*): each returns the clean
-- value, or nil and the reason; the *_info functions return tables.
local sl = require "sluice"
local c = sl.clean
local function either(v, why) return v or ("error: " .. why) end
return sl.pipeline {
  name    = "clean-lua",
  sources = { sl.file.source { path = "in.jsonl", format = "jsonl" } },
  steps   = {
    function (rec)
      local out = {
        id = either(c.cn_id(rec.id_no)),
        credit = either(c.uscc(rec.credit)),
        phone = either(c.cn_phone(rec.phone)),
        phone_display = either(c.cn_phone(rec.phone, { format = "display" })),
        birth = either(c.date(rec.birth)),
        addr = either(c.address(rec.addr)),
        name = either(c.text(rec.name, { t2s = true })),
        missing = either(c.cn_id(rec.nothing)),
      }
      local info = c.cn_id_info(rec.id_no)
      if info then
        out.id_info = string.format("%s %s %s %s upgraded=%s", info.birth, info.sex, info.division,
                                    info.division_name, tostring(info.upgraded))
      end
      local u = c.uscc_info(rec.credit)
      if u then
        out.credit_info = string.format("%s/%s %s %s %s", u.authority_name, u.type_name, u.division,
                                        u.division_name, u.org_code)
      end
      local p = c.cn_phone_info(rec.phone)
      if p then out.phone_info = p.type .. " " .. p.area .. " ext " .. (p.ext or "-") end
      local norm, a = c.address(rec.addr)
      if norm then out.addr_code = a.code .. " " .. a.county.full_name .. " | " .. a.rest end
      if out.name:sub(1, 6) ~= "error:" then
        out.pinyin = c.pinyin(out.name)
        out.bigrams = table.concat(c.bigrams(out.name), ",")
      end
      out.masked = c.mask_id(rec.id_no)
      out.masked_phone = c.mask_phone(c.cn_phone(rec.phone, { format = "national" }) or rec.phone)
      out.div = c.division_name("440402") .. " " .. c.division_code("广东省珠海市香洲区")
      out.serial = c.date(43832.5, { output = "date" }) .. " " .. c.date("1577934245", { tz = "UTC" })
      return out
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl", format = "jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
