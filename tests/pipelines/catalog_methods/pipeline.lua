-- A pipeline refers to feeds by name: catalog:topics() lists the topics of
-- the catalog's feeds (a Kafka source's topics), catalog:feed("dept/feed")
-- one feed's declaration, and a name that is not there is an error.
local sl = require "sluice"
local catalog = require "catalog"
sl.log.info("topics: %s", table.concat(catalog:topics(), ","))
sl.log.info("topics of health: %s", table.concat(catalog:topics("health"), ","))
sl.log.info("births: key %s, schedule %s", catalog:feed("health/births").key, catalog:feed("health/births").schedule)
local ok, err = pcall(catalog.feed, catalog, "health/deaths")
sl.log.info("deaths: %s %s", tostring(ok), err)
return sl.pipeline { name = "catalog-methods", sources = { sl.generate { count = 1 } }, sinks = { sl.null {} } }
