# Sourced by the HTTP benchmarks (run.sh, access-ab.sh): their scratch folder and exit trap, the request bodies, a
# server of the demo model at whisper-base size (6 layers, d 512, 8 heads), and its sessions.

# Checks for wrk, makes the scratch folder $work, and on exit stops the server, closes fd 3 (run.sh feeds its
# in-process yardstick through it: closed, that process ends) and removes the folder.
begin_benchmark() {
  command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
  work=$(mktemp -d)
  server_pid=""
  trap end_benchmark EXIT
}

end_benchmark() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  exec 3>&- 2>/dev/null || true
  wait 2>/dev/null; rm -rf "$work"
}

# source.f32 ([1500, 512]), query.f32 ([1, 512]) and query.json (the same query) in $work, from a fixed seed.
write_bodies() {
  python3 - "$work" <<'PY'
import json, random, struct, sys
work = sys.argv[1]
rnd = random.Random(20261128)
source = [rnd.gauss(0, 1) for _ in range(1500 * 512)]
query = [rnd.gauss(0, 1) for _ in range(512)]
open(f"{work}/source.f32", "wb").write(struct.pack(f"<{len(source)}f", *source))
open(f"{work}/query.f32", "wb").write(struct.pack(f"<{len(query)}f", *query))
open(f"{work}/query.json", "w").write(json.dumps({"layer": 0, "queries": [query]}))
PY
}

# start_server PORT BATCH_ROWS [NAME=VALUE ...]: starts the built server with these settings on top of the benchmark's
# (its log in $work/server.log, its pid in server_pid) and returns once it is ready.
start_server() {
  local port=$1 batch_rows=$2; shift 2
  env CrossAttention__Demo__Layers=6 CrossAttention__Demo__DModel=512 CrossAttention__Demo__Heads=8 \
    CrossAttention__Limits__MaxSourceLength=4096 CrossAttention__Batching__MaxRows="$batch_rows" \
    ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning "$@" \
    dotnet src/CrossAttention.Api/bin/Release/net10.0/CrossAttention.Api.dll --urls "http://127.0.0.1:$port" \
    >"$work/server.log" 2>&1 3>&- &
  server_pid=$!  # fd 3 closed for the server, so that only run.sh holds the yardstick's input open
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "the server on port $port was not ready after 30 s" >&2; exit 1
}

# encode_sessions BASE COUNT [CURL ARGS ...]: encodes $work/source.f32 COUNT times; prints the session ids, one a line.
encode_sessions() {
  local base=$1 count=$2; shift 2
  for _ in $(seq 1 "$count"); do
    curl -sf -X POST "$base/encode?model=demo&rows=1500" -H 'Content-Type: application/octet-stream' "$@" \
      --data-binary "@$work/source.f32" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionId"])'
  done
}
