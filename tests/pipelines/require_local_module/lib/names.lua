local M = {}
function M.slug(s) return (s:lower():gsub("[^a-z0-9]+", "-")) end
return M
