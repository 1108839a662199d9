-- sluice.test: the test files of `sluice test` (docs/testing-pipelines.md).
--
--   local test = require "sluice.test"
--   return test.suite {
--     pipeline = "population.lua",          -- default: this file's name without _test
--     cases = {
--       { name = "a blank name is trimmed",
--         input = { { name = " 张三 ", id_no = "110101199003074477" } },
--         expect = { output = { out = { { name = "张三", id_no = "110101199003074477" } } } } },
--     },
--   }
--
-- The runner (runtime/testing/) loads the pipeline once per case with
-- in-memory sources and sinks, runs it, and hands what came out to
-- compare() below, which says what differs, field by field.
local sl = require "sluice"

---@class sluice.test.Suite
---@field pipeline? string the pipeline file, relative to the test file (default: its name without _test)
---@field cases sluice.test.Case[]
---@field now? string RFC 3339: sluice's clock during every case
---@field env? table<string, string> environment variables while each case runs

---@class sluice.test.Case
---@field name string
---@field input table a list of records (the first source), or lists by source name
---@field at? string the step the records go in at
---@field to? string the last step to run: expect.output[to] is what it put out
---@field expect? sluice.test.Expect
---@field check? fun(out: sluice.test.Out)
---@field now? string
---@field env? table<string, string>
---@field skip? boolean|string

---@class sluice.test.Expect
---@field output? table<string, table[]> each named sink's records, in order
---@field unordered? boolean compare each sink's records in any order
---@field dropped? integer
---@field dead? integer|{ reason?: string, stage?: string, record?: table }[] (none when absent)

---@class sluice.test.Out
---@field output table<string, table[]>
---@field attrs table<string, table[]> each record's per-record sink options (key, topic, headers)
---@field dead table[] the dead-letter envelopes
---@field dropped integer

local test = {}

-- Matches any value (the field must be there): ids, times, hashes.
test.any = setmetatable({}, { __tostring = function () return "test.any" end,
                              __name = "sluice.test.any" })

local LIKE = {}
-- test.like { f = v, ... }: a record (or table) with at least these fields,
-- equal to these values; its other fields are not compared.
---@param fields table
---@return table
function test.like(fields)
  if type(fields) ~= "table" then error("test.like: expected a table of fields, got " .. type(fields), 2) end
  return setmetatable({ fields = fields }, LIKE)
end

local CASE_KEYS = { name = true, input = true, at = true, to = true, expect = true, check = true, env = true,
                    now = true, skip = true }
local EXPECT_KEYS = { output = true, dropped = true, dead = true, unordered = true }
local SUITE_KEYS = { pipeline = true, cases = true, env = true, now = true }

local function check_keys(t, allowed, what, fail)
  for k in pairs(t) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      fail(string.format("%s: unknown key '%s' (expected %s)", what, tostring(k), table.concat(names, ", ")))
    end
  end
end

local function check_time(v, what, fail)
  if v ~= nil and (type(v) ~= "string" or not v:match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d:%d%d")) then
    fail(string.format("%s: now: expected an RFC 3339 time such as \"2026-05-01T00:00:00Z\", got %s",
                       what, tostring(v)))
  end
end

local function check_case(c, i, fail)
  local what = string.format("case %d", i)
  if type(c) ~= "table" then fail(what .. ": expected a table, got " .. type(c)) end
  check_keys(c, CASE_KEYS, what, fail)
  if type(c.name) ~= "string" or c.name == "" then fail(what .. ": name: a string is required") end
  what = string.format("case %d (%s)", i, c.name)
  if type(c.input) ~= "table" then fail(what .. ": input: a list of records, or a table of them by source name") end
  if c.at ~= nil and type(c.at) ~= "string" then fail(what .. ": at: the name of a step") end
  if c.to ~= nil and type(c.to) ~= "string" then fail(what .. ": to: the name of a step") end
  if c.check ~= nil and type(c.check) ~= "function" then fail(what .. ": check: a function(out)") end
  if c.env ~= nil and type(c.env) ~= "table" then fail(what .. ": env: a table of variables") end
  if c.expect == nil and c.check == nil then fail(what .. ": expect or check is required (what should come out)") end
  if c.expect ~= nil then
    if type(c.expect) ~= "table" then fail(what .. ": expect: a table") end
    check_keys(c.expect, EXPECT_KEYS, what .. ": expect", fail)
    local d = c.expect.dead
    if d ~= nil and type(d) ~= "number" and type(d) ~= "table" then
      fail(what .. ": expect.dead: a number or a list of { reason =, stage =, record = }")
    end
    if c.expect.output ~= nil and type(c.expect.output) ~= "table" then
      fail(what .. ": expect.output: a table of record lists by sink name")
    end
  end
  check_time(c.now, what, fail)
end

-- The suite a test file returns, checked here so that a mistake in a test
-- file is reported with its file and line.  `sluice test` calls it through
-- a C function that gives `where` ("file_test.lua:2: "), the call's place
-- in the test file.
---@param s sluice.test.Suite
---@param where? string
---@return sluice.test.Suite
function test.suite(s, where)
  local function fail(msg) error((where or "test.suite: ") .. msg, 0) end
  if type(s) ~= "table" then fail("test.suite: expected a table, got " .. type(s)) end
  check_keys(s, SUITE_KEYS, "test.suite", fail)
  if s.pipeline ~= nil and type(s.pipeline) ~= "string" then
    fail("test.suite: pipeline: the pipeline file, relative to the test file")
  end
  if s.env ~= nil and type(s.env) ~= "table" then fail("test.suite: env: a table of variables") end
  if type(s.cases) ~= "table" or #s.cases == 0 then fail("test.suite: cases: a list of at least one case") end
  check_time(s.now, "test.suite", fail)
  local names = {}
  for i, c in ipairs(s.cases) do
    check_case(c, i, fail)
    if names[c.name] then fail(string.format("case %d: two cases are named '%s'", i, c.name)) end
    names[c.name] = true
  end
  s.is_sluice_test = true
  return s
end

-- ---- for the runner ----

local function is_list(t)
  return type(t) == "table" and (t[1] ~= nil or next(t) == nil)
end

-- The case's input records in order: { source = name or false (the first
-- source), json = text, meta = { department, feed, key, id, time } or nil }.
function test.inputs(c)
  local out = {}
  local function add(source, recs)
    if not is_list(recs) then
      error(string.format("input%s: a list of records", source and ("." .. source) or ""), 0)
    end
    for _, r in ipairs(recs) do
      if type(r) ~= "table" then error("input: a record is a table of fields, got " .. type(r), 0) end
      local meta = r._meta
      local fields = r
      if meta ~= nil then
        fields = {}
        for k, v in pairs(r) do if k ~= "_meta" then fields[k] = v end end
      end
      out[#out + 1] = { source = source, json = sl.json.encode(fields), meta = meta }
    end
  end
  if is_list(c.input) then
    add(false, c.input)
  else
    local names = {}
    for name in pairs(c.input) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do add(name, c.input[name]) end
  end
  return out
end

-- ---- comparing ----

local function show(v)
  if v == test.any then return "test.any" end
  if getmetatable(v) == LIKE then return "test.like " .. show(v.fields) end
  if v == nil then return "(missing)" end
  local ok, s = pcall(sl.json.encode, v)
  return ok and s or tostring(v)
end

-- Appends to diffs a line for each difference between expected e and
-- actual a, at path ("" for the top).
local function diff(e, a, path, diffs)
  local at = path == "" and "" or path .. ": "
  if e == test.any then
    if a == nil then diffs[#diffs + 1] = at .. "expected a value (test.any), missing" end
    return
  end
  local partial = getmetatable(e) == LIKE
  if partial then e = e.fields end
  if type(e) == "table" and type(a) == "table" then
    local keys, seen = {}, {}
    for k in pairs(e) do keys[#keys + 1] = k; seen[k] = true end
    if not partial then for k in pairs(a) do if not seen[k] then keys[#keys + 1] = k end end end
    table.sort(keys, function (x, y)
      if type(x) == type(y) then return x < y end
      return type(x) == "number"
    end)
    for _, k in ipairs(keys) do
      local sub = path == "" and tostring(k) or (type(k) == "number" and path .. "[" .. k .. "]" or path .. "." .. k)
      if e[k] == nil then
        diffs[#diffs + 1] = string.format("%s: not expected, got %s", sub, show(a[k]))
      elseif a[k] == nil then
        diffs[#diffs + 1] = string.format("%s: expected %s, missing", sub, show(e[k]))
      else
        diff(e[k], a[k], sub, diffs)
      end
    end
    return
  end
  if e ~= a then diffs[#diffs + 1] = string.format("%sexpected %s, got %s", at, show(e), show(a)) end
end

local function differs(e, a)
  local d = {}
  diff(e, a, "", d)
  return #d > 0 and d or nil
end

local function indent(lines, prefix, out)
  for _, l in ipairs(lines) do out[#out + 1] = prefix .. l end
end

-- Compares two lists of records; in order, or as a multiset (unordered).
local function compare_list(what, expected, actual, unordered, out)
  if unordered then
    local used = {}
    for i, e in ipairs(expected) do
      local found
      for j, a in ipairs(actual) do
        if not used[j] and not differs(e, a) then found = j; break end
      end
      if found then used[found] = true
      else out[#out + 1] = string.format("%s: expected record %d not found: %s", what, i, show(e)) end
    end
    for j, a in ipairs(actual) do
      if not used[j] then out[#out + 1] = string.format("%s: record %d not expected: %s", what, j, show(a)) end
    end
    return
  end
  local n = math.max(#expected, #actual)
  if #expected ~= #actual then
    out[#out + 1] = string.format("%s: expected %d record%s, got %d", what, #expected,
                                  #expected == 1 and "" or "s", #actual)
  end
  for i = 1, n do
    local e, a = expected[i], actual[i]
    if a == nil then
      out[#out + 1] = string.format("%s record %d: missing, expected %s", what, i, show(e))
    elseif e == nil then
      out[#out + 1] = string.format("%s record %d: not expected: %s", what, i, show(a))
    else
      local d = differs(e, a)
      if d then
        out[#out + 1] = string.format("%s record %d:", what, i)
        indent(d, "  ", out)
      end
    end
  end
end

local function describe_dead(env)
  return string.format("%s: %s  %s", tostring(env.stage), tostring(env.error),
                       env.record ~= nil and show(env.record) or show(env.raw))
end

local function compare_dead(expected, dead, out)
  if expected == nil then expected = 0 end
  if type(expected) == "number" then
    if #dead ~= expected then
      out[#out + 1] = string.format("dead letters: expected %d, got %d", expected, #dead)
      for i, env in ipairs(dead) do out[#out + 1] = string.format("  %d: %s", i, describe_dead(env)) end
    end
    return
  end
  if #expected ~= #dead then
    out[#out + 1] = string.format("dead letters: expected %d, got %d", #expected, #dead)
  end
  for i = 1, math.max(#expected, #dead) do
    local e, a = expected[i], dead[i]
    if a == nil then
      out[#out + 1] = string.format("dead letter %d: missing, expected %s", i, show(e))
    elseif e == nil then
      out[#out + 1] = string.format("dead letter %d: not expected: %s", i, describe_dead(a))
    else
      local d = {}
      if e.reason ~= nil and not tostring(a.error):find(e.reason, 1, true) then
        d[#d + 1] = string.format("reason: expected one containing %q, got %q", e.reason, tostring(a.error))
      end
      if e.stage ~= nil and e.stage ~= a.stage then
        d[#d + 1] = string.format("stage: expected %q, got %q", e.stage, tostring(a.stage))
      end
      if e.record ~= nil then
        local rd = differs(e.record, a.record)
        if rd then indent(rd, "record ", d) end
      end
      if #d > 0 then
        out[#out + 1] = string.format("dead letter %d (%s):", i, describe_dead(a))
        indent(d, "  ", out)
      end
    end
  end
end

local function decode_all(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = sl.json.decode(s) end
  return out
end

-- What came out, as `check` sees it: output[sink] = records, dead = the
-- dead-letter envelopes (error, stage, record, source), dropped = the
-- count, attrs[sink][i] = the per-record options of the sink (key,
-- headers, topic ...) for record i.
function test.result(raw)
  local out = { output = {}, dead = decode_all(raw.dead), dropped = raw.dropped, attrs = {} }
  for sink, list in pairs(raw.output) do out.output[sink] = decode_all(list) end
  for sink, list in pairs(raw.attrs) do out.attrs[sink] = decode_all(list) end
  return out
end

-- nil when the case passed, else the lines that say why.
function test.compare(c, out, sinks)
  local lines = {}
  local ex = c.expect or {}
  for sink, expected in pairs(ex.output or {}) do
    if out.output[sink] == nil then
      lines[#lines + 1] = string.format("expect.output: the pipeline has no sink '%s' (sinks: %s)", tostring(sink),
                                        table.concat(sinks, ", "))
    else
      compare_list(string.format("output %q", sink), expected, out.output[sink], ex.unordered, lines)
    end
  end
  if ex.dropped ~= nil and ex.dropped ~= out.dropped then
    lines[#lines + 1] = string.format("dropped: expected %d, got %d", ex.dropped, out.dropped)
  end
  compare_dead(ex.dead, out.dead, lines)
  if c.check then
    local ok, err = pcall(c.check, out)
    if not ok then lines[#lines + 1] = "check: " .. tostring(err) end
  end
  return #lines > 0 and table.concat(lines, "\n") or nil
end

return test
