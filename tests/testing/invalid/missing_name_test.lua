local test = require "sluice.test"
return test.suite {
  pipeline = "../failing/upper.lua",
  cases = {
    { input = { { name = "a" } }, expect = {} },
  },
}
