local test = require "sluice.test"
return test.suite {
  cases = {
    { name = "a small n is not big", input = { { n = 1 } },
      expect = { output = { out = { { n = 1, big = false } } } } },
  },
}
