-- A file that grants nothing cannot run a command at its top level, even
-- under `sluice check` (the first evaluation has no grant).
-- expect: refused pipeline\.lua:\d+: attempt to call a nil value \(field 'execute'\)
os.execute("touch /tmp/sluice-hostile-pwned")
