-- sluice.pgtables: what the modules that write sluice's own tables through
-- one pg.sink share (sluice.platform, sluice.quality): the check of a
-- schema name spliced into SQL, the sink's options, and the sink's table
-- entries from a module's table list.
local pgtables = {}

-- A schema name is a plain lower-case SQL identifier, so that it never
-- needs quoting and nothing from a pipeline reaches SQL unchecked; and it
-- is not a schema that belongs to someone else.  level: error's level.
function pgtables.check_schema(name, where, what, level)
  if type(name) ~= "string" or not name:match("^[a-z_][a-z0-9_]*$") or #name > 48 then
    error(where .. ": " .. what .. " must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 48 "
          .. "characters), got " .. tostring(name), level + 1)
  end
  if name == "sluice" or name == "public" or name:match("^pg_") then
    error(where .. ": " .. what .. " '" .. name .. "' names a schema that is not its own", level + 1)
  end
end

-- opts is a table whose keys are all in known (a set); conninfo is there.
function pgtables.check_options(opts, known, where, level)
  if type(opts) ~= "table" then error(where .. ": expected a table of options", level + 1) end
  for k in pairs(opts) do
    if not known[k] then error(where .. ": unknown option '" .. tostring(k) .. "'", level + 1) end
  end
  if opts.conninfo == nil then error(where .. ": conninfo is required", level + 1) end
end

local function copy_list(t)
  local out = {}
  for i = 1, #t do out[i] = t[i] end
  return out
end

-- pg.sink's `tables` from specs { kind, table, key, columns, newer_by }:
-- each an upsert of schema.table on its key, routed by its kind; newer_by
-- kept when exactly_once; only (a set of kinds, or nil for all).
function pgtables.entries(specs, schema, exactly_once, only)
  local tables = {}
  for _, t in ipairs(specs) do
    if not only or only[t.kind] then
      tables[#tables + 1] = { route = t.kind, table = schema .. "." .. t.table, mode = "upsert",
                              key = copy_list(t.key), columns = copy_list(t.columns),
                              newer_by = exactly_once and t.newer_by or nil }
    end
  end
  return tables
end

return pgtables
