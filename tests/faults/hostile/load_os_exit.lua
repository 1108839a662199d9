-- os.exit at load: the first evaluation has no grant, so no file can end the process (or run a command) before saying it may.
-- expect: refused pipeline\.lua:\d+: attempt to call a nil value \(field 'exit'\) \(the top level of a pipeline file runs once without grants
os.exit(0)
