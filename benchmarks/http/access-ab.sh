#!/usr/bin/env bash
# What API keys, per-key rate limits and metrics cost over HTTP: the 16-session decode-step load of run.sh (raw
# float32, whisper-base size, m = 1500, each connection stepping its own session), on a server with all of them on
# and one with all of them off, alternating, in the same minutes. Prints one JSON object on stdout.
#   bash benchmarks/http/access-ab.sh [--pairs 3] [--rounds 2] [--duration 8] [--warmup 12] [--sessions 16]
#   on:  one API key (sent as a Bearer token), rate limits with their defaults (on whenever keys are), /metrics on
#   off: no keys (so no rate limits), CrossAttention__Metrics__Enabled=false
# Each server is started fresh, encodes its sessions, is warmed up (tiered compilation), then measured --rounds times.
# Needs wrk (apt-get install -y wrk) and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
. benchmarks/http/server.sh

pairs=3 rounds=2 duration=8 warmup=12 sessions=16 port=5190
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --sessions) sessions=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
begin_benchmark

dotnet build -c Release src/CrossAttention.Api >&2
write_bodies

base="http://127.0.0.1:$port"
measure_server() { # on|off: starts a server, encodes, warms up, prints one steps/s figure per round
  local mode=$1 key="" auth=() settings=()
  if [ "$mode" = on ]; then
    key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
    settings=(CrossAttention__Auth__ApiKeys__0__Name=bench
      "CrossAttention__Auth__ApiKeys__0__Sha256=$(printf %s "$key" | sha256sum | cut -d' ' -f1)")
    auth=(-H "Authorization: Bearer $key")
  else
    settings=(CrossAttention__Metrics__Enabled=false)
  fi
  start_server "$port" 64 "${settings[@]}"
  # The two servers must differ as stated: /metrics answers 200 only when metrics are on.
  local metrics; metrics=$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")
  if { [ "$mode" = on ] && [ "$metrics" != 200 ]; } || { [ "$mode" = off ] && [ "$metrics" != 404 ]; }; then
    echo "$mode server: /metrics answered $metrics" >&2; exit 1
  fi
  local ids=()
  mapfile -t ids < <(encode_sessions "$base" "$sessions" "${auth[@]}")
  [ "${#ids[@]}" = "$sessions" ] || { echo "$mode server: encoded ${#ids[@]} of $sessions sessions" >&2; exit 1; }
  local all; all=$(IFS=,; echo "${ids[*]}")
  run() { API_KEY=$key SESSION_IDS=$all MODE=binary BODY_FILE=$work/query.f32 wrk -t1 -c"$sessions" -d"$1s" \
    -s benchmarks/http/decode-step.lua "$base" 2>&1; }
  run "$warmup" >/dev/null
  for _ in $(seq 1 "$rounds"); do
    local out; out=$(run "$duration")
    if echo "$out" | grep -qE "Non-2xx|Socket errors"; then echo "$mode server: $(echo "$out" | grep -E 'Non-2xx|Socket errors')" >&2; exit 1; fi
    echo "$out" | awk '/Requests\/sec/{print $2}'
  done
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

on=() off=()
for pair in $(seq 1 "$pairs"); do
  # Alternate which goes first, so neither always follows the other.
  for mode in $([ $((pair % 2)) = 1 ] && echo "on off" || echo "off on"); do
    echo "== pair $pair of $pairs: $mode (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    measure_server "$mode" >"$work/rates"
    while read -r rate; do
      echo "  $rate steps/s" >&2
      if [ "$mode" = on ]; then on+=("$rate"); else off+=("$rate"); fi
    done <"$work/rates"
  done
done

python3 - "${on[*]}" "${off[*]}" "$sessions" "$duration" "$warmup" <<'PY'
import json, statistics, subprocess, sys
on = [float(x) for x in sys.argv[1].split()]
off = [float(x) for x in sys.argv[2].split()]
sessions, duration, warmup = sys.argv[3:6]
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "unknown")
print(json.dumps({
    "_meta": {"cpu": model, "load": f"{sessions} connections, each stepping its own session (raw float32, m = 1500, "
                                     f"layer 0), {duration} s per round after {warmup} s of warm-up",
              "statistic": "steps/s per round; on_over_off: median(on) / median(off)"},
    "on_steps_per_second": on, "off_steps_per_second": off,
    "on_median": statistics.median(on), "off_median": statistics.median(off),
    "on_over_off": round(statistics.median(on) / statistics.median(off), 3),
}, indent=2))
PY
