local test = require "sluice.test"
return test.suite {
  now = "2026-05-01T00:00:00Z",
  env = { STAMP_TAG = "suite" },
  cases = {
    { name = "meta, the fixed clock and the environment reach the steps",
      input = { a = { { id = 1, _meta = { department = "公安", feed = "户籍登记", key = "k1" } } } },
      expect = { output = { out = { { id = 1, dept = "公安", feed = "户籍登记", key = "k1",
                                      now = 1777593600000, tag = "suite" } } } } },
    { name = "a case's own clock and environment win",
      now = "2026-05-01T00:00:01Z", env = { STAMP_TAG = "case" },
      input = { { id = 2 } },
      expect = { output = { out = { test.like { now = 1777593601000, tag = "case" } } } } },
    { name = "test.any and test.like",
      input = { { id = 3, extra = "x" } },
      expect = { output = { out = { test.like { id = 3, extra = test.any } } } } },
    { name = "records of two sources compared in any order",
      input = { a = { { id = 4 }, { id = 5, skip = true } }, b = { { id = 6 } } },
      expect = { unordered = true, dropped = 1,
                 output = { out = { test.like { id = 6 }, test.like { id = 4 } } } } },
  },
}
