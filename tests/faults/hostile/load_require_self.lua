-- A module that requires itself: said at once, not a C stack overflow.
-- expect: refused pipeline\.lua:\d+: module 'pipeline' requires itself
require "pipeline"
