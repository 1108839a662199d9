-- A PostgreSQL URI that libpq cannot parse (a bracket left open) is shown
-- with its user information cut, in sluice's label and in libpq's message
-- that quotes it; the password never reaches the log.
local sl = require "sluice"
return sl.pipeline {
  name    = "p",
  sources = { sl.generate { count = 1 } },
  sinks   = { sl.pg.sink { dsn = "postgresql://u:Sup3rS3cret!@[::1/x", table = "t" } },
}
