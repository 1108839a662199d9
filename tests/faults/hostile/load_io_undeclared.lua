-- A file that grants nothing cannot read a file at its top level.
-- expect: refused pipeline\.lua:\d+: attempt to index a nil value \(global 'io'\)
local secret = io.open("/etc/shadow")
