-- wrk script: one decode step per request against one session, raw float32 or JSON.
-- Environment: SESSION_ID, BODY_FILE (request body), MODE ("binary" or "json"), LAYER (default 0), ROWS (default 1).
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

local failures = 0
response = function(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
    if failures <= 3 then io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n") end
  end
end
