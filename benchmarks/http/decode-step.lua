-- wrk script: one decode step per request against one session, raw float32 or JSON.
-- Environment: SESSION_ID, BODY_FILE (request body), MODE ("binary" or "json"), LAYER (default 0), ROWS (default 1),
-- API_KEY (optional).
local session = os.getenv("SESSION_ID")
local mode = os.getenv("MODE") or "binary"
local layer = os.getenv("LAYER") or "0"
local rows = os.getenv("ROWS") or "1"

local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()

wrk.method = "POST"
if mode == "binary" then
  wrk.path = "/sessions/" .. session .. "/decode-step?layer=" .. layer .. "&rows=" .. rows
  wrk.headers["Content-Type"] = "application/octet-stream"
  wrk.headers["Accept"] = "application/octet-stream"
else
  wrk.path = "/sessions/" .. session .. "/decode-step"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
end
-- run.sh --api-key: the service then authenticates (and rate-limits) every step.
local key = os.getenv("API_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
-- No response() callback: it would make wrk hand every response to Lua, costing the load generator more CPU than the
-- server spends; wrk counts non-2xx responses itself ("Non-2xx or 3xx responses"), which run.sh reports.
