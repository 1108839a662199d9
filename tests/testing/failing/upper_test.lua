local test = require "sluice.test"
return test.suite {
  cases = {
    { name = "names are upper-cased", input = { { name = "a", id = 1 } },
      expect = { output = { out = { { name = "A", id = 1 } } } } },
    { name = "a wrong expectation", input = { { name = "a", id = 2 }, { id = 3 } },
      expect = { output = { out = { { name = "B", id = 2, extra = true } } },
                 dead = { { reason = "no such reason" } } } },
    { name = "an unknown step", at = "nope", input = { { name = "a" } }, expect = { output = { out = {} } } },
    { name = "an unknown source", input = { elsewhere = { { name = "a" } } }, expect = { output = { out = {} } } },
    { name = "a failing check", input = { { name = "a" } },
      check = function (out) assert(#out.output.out == 2, "expected two records") end },
    { name = "skipped for now", skip = "not written yet", input = {}, expect = {} },
  },
}
