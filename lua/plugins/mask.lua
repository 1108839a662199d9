-- mask: a step that hides the middle of fields for open data.
--
--   sl.mask { fields = { "id_no", "phone" }, keep_start = 6, keep_end = 4 }
--
-- "440402199001011234" becomes "440402********1234".  Characters are counted
-- as UTF-8 code points, so Chinese names mask correctly ("张三丰" with
-- keep_start = 1, keep_end = 0 becomes "张**").  A value too short to keep both
-- ends is masked whole; a field that is absent or not a string is left alone.
local sl = require "sluice"

local function mask_value(s, keep_start, keep_end, char)
  local n = utf8.len(s)
  if not n then return s end            -- not UTF-8: leave it for validation to catch
  if n <= keep_start + keep_end then return string.rep(char, n) end
  local head_end = utf8.offset(s, keep_start + 1) - 1
  local tail_start = utf8.offset(s, n - keep_end + 1)
  return s:sub(1, head_end) .. string.rep(char, n - keep_start - keep_end) .. s:sub(tail_start)
end

return sl.plugin.step {
  name = "mask",
  doc = "Masks the middle of string fields, keeping a number of characters at each end.",
  options = {
    fields     = { type = "list", required = true, doc = "Fields to mask." },
    keep_start = { type = "int", default = 3, doc = "Characters kept at the start." },
    keep_end   = { type = "int", default = 4, doc = "Characters kept at the end." },
    char       = { type = "string", default = "*", doc = "The masking character." },
  },
  new = function (opts)
    local fields = type(opts.fields) == "string" and { opts.fields } or opts.fields
    local ks, ke, ch = opts.keep_start, opts.keep_end, opts.char
    return function (rec)
      for i = 1, #fields do
        local f = fields[i]
        local v = rec[f]
        if type(v) == "string" then rec[f] = mask_value(v, ks, ke, ch) end
      end
      return rec
    end
  end,
}
