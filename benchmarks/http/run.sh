#!/usr/bin/env bash
# HTTP throughput of decode steps over loopback: the demo model at whisper-base size (6 layers, d 512, 8 heads),
# one session of m = 1500, 16 connections, binary and JSON bodies. Prints one JSON object on stdout.
#   bash benchmarks/http/run.sh [--duration 10] [--warmup 15] [--connections 16] [--threads 1] [--batch-rows 64] [--api-key]
# --api-key configures one API key (a fresh random one; rate limits then apply with their defaults) and sends it.
# --batch-rows 1 runs every step alone (CrossAttention:Batching:MaxRows), which measures the per-request overhead.
# It first measures the yardstick on the same machine, right before: the in-process kernel-only decode-whisper-base
# median on 1 thread (the anchor benchmark), and reports each HTTP rate as a fraction of 2 × 1e6 ÷ that median.
# Needs wrk (apt-get install -y wrk) and python3 (to write the request bodies).
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=10 warmup=15 connections=16 threads=1 port=5180 batch_rows=64 api_key=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --batch-rows) batch_rows=$2; shift 2 ;;
    --api-key) api_key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))'); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

dotnet build -c Release src/CrossAttention.Api >&2
dotnet build -c Release benchmarks/CrossAttention.Benchmarks >&2
dotnet run -c Release --no-build --project benchmarks/CrossAttention.Benchmarks -- anchor --threads 1 --only decode-whisper-base \
  >"$work/kernel.json" 2>/dev/null
auth=()
if [ -n "$api_key" ]; then
  export CrossAttention__Auth__ApiKeys__0__Name=bench
  CrossAttention__Auth__ApiKeys__0__Sha256=$(printf %s "$api_key" | sha256sum | cut -d' ' -f1)
  export CrossAttention__Auth__ApiKeys__0__Sha256
  auth=(-H "Authorization: Bearer $api_key")
fi
CrossAttention__Demo__Layers=6 CrossAttention__Demo__DModel=512 CrossAttention__Demo__Heads=8 \
CrossAttention__Limits__MaxSourceLength=4096 CrossAttention__Batching__MaxRows=$batch_rows ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
  dotnet src/CrossAttention.Api/bin/Release/net10.0/CrossAttention.Api.dll --urls "http://127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
  curl -sf "$base/health/ready" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

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

session=$(curl -sf -X POST "$base/encode?model=demo&rows=1500" -H 'Content-Type: application/octet-stream' "${auth[@]}" \
  --data-binary "@$work/source.f32" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessionId"])')

run_wrk() { # mode body-file
  API_KEY=$api_key SESSION_ID=$session MODE=$1 BODY_FILE=$2 wrk -t"$threads" -c"$connections" -d"${duration}s" --latency \
    -s benchmarks/http/decode-step.lua "$base" 2>&1
}
# Each form is warmed up under the same load before it is measured: tiered compilation (with dynamic PGO) takes about
# 10 s of load on 2 busy cores to reach its final code, and a shorter warm-up measures part-instrumented code.
warm() { API_KEY=$api_key SESSION_ID=$session MODE=$1 BODY_FILE=$2 wrk -t"$threads" -c"$connections" -d"${warmup}s" \
  -s benchmarks/http/decode-step.lua "$base" >/dev/null 2>&1; }
warm binary "$work/query.f32"
run_wrk binary "$work/query.f32" >"$work/binary.txt"
warm json "$work/query.json"
run_wrk json "$work/query.json" >"$work/json.txt"
cat "$work/binary.txt" "$work/json.txt" >&2

python3 - "$work" "$connections" "$duration" "$batch_rows" "$warmup" "${api_key:+1}" <<'PY'
import json, re, sys
work, connections, duration, batch_rows, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
api_key = sys.argv[6] == "1"
def to_us(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit], 1)
def parse(path):
    text = open(path).read()
    out = {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        out[f"p{pct}_us"] = to_us(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else "none"
    return out
kernel = json.load(open(f"{work}/kernel.json"))["decode-whisper-base"]["median_us"]
kernel_only = 2e6 / kernel
binary, js = parse(f"{work}/binary.txt"), parse(f"{work}/json.txt")
binary["fraction_of_kernel_only"] = round(binary["requests_per_second"] / kernel_only, 3)
js["fraction_of_kernel_only"] = round(js["requests_per_second"] / kernel_only, 3)
print(json.dumps({"kernel_only": {"decode_whisper_base_1_thread_median_us": kernel, "steps_per_second": round(kernel_only)},
                  "binary": binary, "json": js,
                  "_meta": {"connections": connections, "duration_s": duration, "warmup_s": warmup, "batch_max_rows": batch_rows, "api_key": api_key,
                            "model": "demo 6 layers, d 512, 8 heads (whisper-base size)", "m": 1500, "n": 1, "layer": 0}}, indent=2))
PY
