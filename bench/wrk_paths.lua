-- wrk request generator: cycles through the paths listed in the file named by WRK_PATHS,
-- asking for gzip like a browser; with WRK_CLOSE=1 on a new connection each time
-- (used by harness.wrk_load).
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do
  paths[#paths + 1] = line
end
local headers = { ["Accept-Encoding"] = "gzip" }
if os.getenv("WRK_CLOSE") == "1" then
  headers["Connection"] = "close"
end
local i = 0

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], headers)
end
