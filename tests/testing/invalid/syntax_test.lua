local test = require "sluice.test"
return test.suite {
  pipeline = "../failing/upper.lua",
  cases = {
    { name = "x", input = {} expect = {} },
  },
}
