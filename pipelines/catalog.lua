-- The city's feed catalog (docs/metrics.md): the departments that share
-- resident and company records with the platform, their feeds, and each
-- feed's contract.  population.lua and legal-entities.lua measure their
-- feeds' sharing performance against it (sl.quality); `sluice check
-- pipelines/catalog.lua` checks it.
--
-- Departments are named as their records name them (the `department` field
-- or ce_source); topics are <code>.residents.v1 and <code>.companies.v1
-- (docs/publishing.md).  The schema lists the fields the platform relies
-- on; cleansing rules live in the pipelines' sl.clean.
local sl = require "sluice"

local resident = {
  src_id     = { type = "string", required = true, title = "记录编号" },
  name       = { type = "string", required = true, title = "姓名" },
  gender     = { type = "string", title = "性别" },
  birth      = { type = "date", title = "出生日期" },
  id_no      = { type = "string", title = "公民身份号码", sensitive = true },
  phone      = { type = "string", title = "联系电话", sensitive = true },
  addr       = { type = "string", title = "住址" },
  updated_at = { type = "timestamp", title = "更新时间" },
}

local company = {
  src_id     = { type = "string", required = true, title = "记录编号" },
  name       = { type = "string", required = true, title = "名称" },
  uscc       = { type = "string", title = "统一社会信用代码" },
  legal_rep  = { type = "string", title = "法定代表人", sensitive = true },
  phone      = { type = "string", title = "联系电话" },
  addr       = { type = "string", title = "住所" },
  est_date   = { type = "date", title = "成立日期" },
  updated_at = { type = "timestamp", title = "更新时间" },
}

local function residents(name, title, topic, schedule)
  return sl.feed { name = name, title = title, topic = topic, key = "src_id", time = "updated_at",
                   schedule = schedule, retention = "30y", access = "restricted", domain = "person",
                   fields = resident }
end

local function companies(name, title, topic, schedule, access)
  return sl.feed { name = name, title = title, topic = topic, key = "src_id", time = "updated_at",
                   schedule = schedule, retention = "10y", access = access or "open", domain = "company",
                   fields = company }
end

return sl.catalog {
  name = "city",
  timezone = "+08:00",
  -- Timeliness and accuracy weigh double in the city's evaluation.
  weights = { timeliness = 2, accuracy = 2 },
  departments = {
    sl.department { id = "公安", name = "市公安局", owner = "人口管理支队", feeds = {
      residents("户籍登记", "户籍人口登记", "gaj.residents.v1", "daily by 02:00"),
      residents("流动人口", "流动人口登记", nil, "daily by 02:00") } },
    sl.department { id = "民政", name = "市民政局", feeds = {
      residents("婚姻登记", "婚姻登记", "mzj.residents.v1", "daily by 06:00"),
      residents("救助对象", "社会救助对象", nil, "weekly on mon by 09:00") } },
    sl.department { id = "卫健", name = "市卫生健康委员会", feeds = {
      residents("门诊就诊", "门诊就诊记录", "wjw.residents.v1", "every 1 h"),
      residents("疫苗接种", "疫苗接种记录", nil, "daily by 02:00") } },
    sl.department { id = "税务", name = "市税务局", feeds = {
      residents("个税申报", "个人所得税申报", "swj.residents.v1", "daily by 02:00"),
      companies("税务登记", "纳税人登记", "swj.companies.v1", "daily by 02:00", "restricted") } },
    sl.department { id = "人社", name = "市人力资源和社会保障局", feeds = {
      residents("社保参保", "社会保险参保", "rsj.residents.v1", "daily by 04:00"),
      residents("就业登记", "就业登记", nil, "daily by 04:00"),
      companies("社保单位参保", "参保单位登记", "rsj.companies.v1", "daily by 04:00") } },
    sl.department { id = "市场监管", name = "市市场监督管理局", feeds = {
      companies("企业登记", "市场主体登记", "scjgj.companies.v1", "every 1 h"),
      companies("年度报告", "企业年度报告", nil, "daily by 02:00") } },
    sl.department { id = "住建", name = "市住房和城乡建设局", feeds = {
      companies("资质许可", "建筑业企业资质", "zjj.companies.v1", "daily by 08:00") } },
    sl.department { id = "统计", name = "市统计局", feeds = {
      companies("名录库", "基本单位名录库", "tjj.companies.v1", "monthly on 1 by 06:00") } },
  },
}
