#!/usr/bin/env bash
# Process RSS with the K/V budget full: starts the API with a whisper-base-shaped demo model (6 layers, d_model 512,
# 8 heads), reads VmRSS idle, encodes m=1500 sources (raw float32) until the budget refuses one (507), reads VmRSS again.
# Usage: benchmarks/memory/kv-rss.sh [budget-bytes] [port]   (after `dotnet build -c Release src/CrossAttention.Api`)
set -euo pipefail
budget=${1:-536870912}
port=${2:-5097}
root=$(cd "$(dirname "$0")/../.." && pwd)
dll=$root/src/CrossAttention.Api/bin/Release/net10.0/CrossAttention.Api.dll
source=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$source"' EXIT
python3 -c "import struct,random,sys; random.seed(1); sys.stdout.buffer.write(struct.pack('<%df' % (1500*512), *[random.uniform(-1,1) for _ in range(1500*512)]))" >"$source"

CrossAttention__Cache__SizeLimitBytes=$budget CrossAttention__Demo__Layers=6 CrossAttention__Demo__DModel=512 \
CrossAttention__Demo__Heads=8 CrossAttention__Tutorial__Enabled=false Logging__LogLevel__Default=Warning \
  dotnet "$dll" --urls "http://127.0.0.1:$port" >/dev/null 2>&1 &
pid=$!
until curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null; do sleep 0.5; done
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status"; }
idle=$(rss)
sessions=0
while true; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/octet-stream' \
    --data-binary "@$source" "http://127.0.0.1:$port/encode?model=demo&rows=1500")
  [ "$status" = 201 ] || break
  sessions=$((sessions + 1))
done
full=$(rss)
ledger=$(curl -s "http://127.0.0.1:$port/metrics" | grep '^crossattention_kv_bytes' || true)
echo "refused with: $status after $sessions sessions"
echo "budget_bytes=$budget idle_rss_bytes=$idle full_rss_bytes=$full growth_bytes=$((full - idle))"
echo "$ledger"
