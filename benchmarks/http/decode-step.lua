-- wrk script: one decode step per request, raw float32 or JSON, rotating over one or more sessions.
-- Environment: SESSION_IDS (comma-separated; SESSION_ID is read too), BODY_FILE (request body), MODE ("binary" or
-- "json"), LAYER (default 0), ROWS (default 1), API_KEY (optional: sent as a Bearer token).
-- With -c equal to the number of sessions and one request in flight per connection, the round-robin keeps every
-- session stepped by about one connection at a time, as 16 clients each generating on their own session would.
local ids = {}
for id in string.gmatch(os.getenv("SESSION_IDS") or os.getenv("SESSION_ID") or "", "[^,]+") do ids[#ids + 1] = id end
assert(#ids > 0, "SESSION_IDS is empty")
local mode = os.getenv("MODE") or "binary"
local layer = os.getenv("LAYER") or "0"
local rows = os.getenv("ROWS") or "1"

local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
local body = file:read("*a")
file:close()

local headers = {}
local key = os.getenv("API_KEY")
if key and key ~= "" then headers["Authorization"] = "Bearer " .. key end
local suffix
if mode == "binary" then
  suffix = "/decode-step?layer=" .. layer .. "&rows=" .. rows
  headers["Content-Type"] = "application/octet-stream"
  headers["Accept"] = "application/octet-stream"
else
  suffix = "/decode-step"
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json"
end

-- Requests are built once per thread, in init (wrk sets the Host header only then); request() hands out the next one.
local requests = {}
local next = 0

function init(args)
  for i, id in ipairs(ids) do requests[i] = wrk.format("POST", "/sessions/" .. id .. suffix, headers, body) end
end

function request()
  next = next % #requests + 1
  return requests[next]
end
-- No response() callback: it would make wrk hand every response to Lua, costing the load generator more CPU than the
-- server spends; wrk counts non-2xx responses itself ("Non-2xx or 3xx responses"), which run.sh reports.
