#!/usr/bin/env bash
# Checks deploy/nginx/nginx.conf for real, on loopback only: two CrossAttention.Api instances, nginx in front of
# them with a copy of the config pointing at them, then sessions encoded through nginx and decode steps sent through
# nginx in the path form. A session lives on one instance only, so every step succeeding proves session routing;
# the script also checks that each session exists on exactly one instance and that encodes were spread over both.
# Everything it starts is stopped on exit.
#
# Usage: deploy/nginx/affinity-check.sh            (from anywhere; needs dotnet, nginx, curl, python3)
# Env:   PORT_A=5101 PORT_B=5102 NGINX_PORT=8088 SESSIONS=4 STEPS=20
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
PORT_A=${PORT_A:-5101}
PORT_B=${PORT_B:-5102}
NGINX_PORT=${NGINX_PORT:-8088}
SESSIONS=${SESSIONS:-4}
STEPS=${STEPS:-20}
NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}

WORK=$(mktemp -d /tmp/cross-attention-affinity.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

port_free() { ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; }
for port in "$PORT_A" "$PORT_B" "$NGINX_PORT"; do port_free "$port" || fail "127.0.0.1:$port is already in use"; done

# Polls a URL until it answers 200; bounded (about 30 s).
wait_ok() {
    for _ in $(seq 1 150); do
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.2
    done
    fail "$1 did not become ready"
}

echo "== build"
dotnet build "$REPO/src/CrossAttention.Api/CrossAttention.Api.csproj" -c Release -v q -nologo >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; fail "build failed"; }
DLL="$REPO/src/CrossAttention.Api/bin/Release/net10.0/CrossAttention.Api.dll"

echo "== two instances on 127.0.0.1:$PORT_A and 127.0.0.1:$PORT_B"
for port in "$PORT_A" "$PORT_B"; do
    ASPNETCORE_ENVIRONMENT=Production dotnet "$DLL" --urls "http://127.0.0.1:$port" >"$WORK/instance-$port.log" 2>&1 &
    PIDS+=($!)
done
wait_ok "http://127.0.0.1:$PORT_A/health/ready"
wait_ok "http://127.0.0.1:$PORT_B/health/ready"

echo "== nginx on 127.0.0.1:$NGINX_PORT"
mkdir -p "$WORK/nginx/logs"
python3 - "$REPO/deploy/nginx/nginx.conf" "$WORK/nginx/nginx.conf" "$PORT_A" "$PORT_B" "$NGINX_PORT" "$WORK/nginx" <<'PY'
import re, sys
source, target, port_a, port_b, nginx_port, prefix = sys.argv[1:]
conf = open(source).read()
servers = f"# BEGIN instances\n        server 127.0.0.1:{port_a};\n        server 127.0.0.1:{port_b};\n        # END instances"
conf, n = re.subn(r"# BEGIN instances.*?# END instances", servers, conf, flags=re.S)
assert n == 2, f"expected 2 instance blocks, found {n}"
conf, n = re.subn(r"listen 8080;", f"listen 127.0.0.1:{nginx_port};", conf)
assert n == 1
conf = conf.replace("/var/log/nginx/cross-attention.access.log", f"{prefix}/logs/access.log")
# Temp files under the test prefix, so nothing outside it is written.
conf = conf.replace("http {", "http {\n    client_body_temp_path %s/body;\n    proxy_temp_path %s/proxy;" % (prefix, prefix), 1)
open(target, "w").write(conf)
PY
"$NGINX_BIN" -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g "error_log $WORK/nginx/logs/error.log; pid $WORK/nginx/nginx.pid;" \
    >"$WORK/nginx-t.log" 2>&1 || { cat "$WORK/nginx-t.log"; fail "nginx -t"; }
"$NGINX_BIN" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" \
    -g "daemon off; master_process on; error_log $WORK/nginx/logs/error.log; pid $WORK/nginx/nginx.pid;" &
PIDS+=($!)
wait_ok "http://127.0.0.1:$NGINX_PORT/health/live"

NGINX="http://127.0.0.1:$NGINX_PORT"
python3 - "$WORK" <<'PY'
import json, math, sys
work = sys.argv[1]
# The demo model: d_src = d_q = 64, 2 layers (GET /models).
json.dump({"model": "demo", "source": [[math.sin(0.1 * i + 0.01 * j) for j in range(64)] for i in range(12)]},
          open(f"{work}/encode.json", "w"))
for layer in (0, 1):
    json.dump({"layer": layer, "queries": [[math.cos(i + 0.02 * j + layer) for j in range(64)] for i in range(3)]},
              open(f"{work}/step-{layer}.json", "w"))
PY

echo "== $SESSIONS sessions through nginx, $STEPS path-form decode steps each"
ids=()
for s in $(seq 1 "$SESSIONS"); do
    code=$(curl -s -o "$WORK/encode-$s.out" -D "$WORK/encode-$s.head" -w '%{http_code}' \
        -H 'Content-Type: application/json' --data-binary @"$WORK/encode.json" "$NGINX/encode")
    [ "$code" = 201 ] || fail "encode $s: HTTP $code $(cat "$WORK/encode-$s.out")"
    location=$(tr -d '\r' <"$WORK/encode-$s.head" | awk 'tolower($1)=="location:"{print $2}')
    id=${location#/sessions/}
    [ -n "$id" ] && [ "$location" = "/sessions/$id" ] || fail "encode $s: unexpected Location '$location'"
    ids+=("$id")

    owners=0
    for port in "$PORT_A" "$PORT_B"; do
        c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/sessions/$id")
        [ "$c" = 200 ] && owners=$((owners + 1)) && owner=$port
    done
    [ "$owners" = 1 ] || fail "session $id is on $owners instances, expected exactly 1"

    ok=0
    for step in $(seq 1 "$STEPS"); do
        c=$(curl -s -o "$WORK/step.out" -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary @"$WORK/step-$((step % 2)).json" "$NGINX/sessions/$id/decode-step")
        [ "$c" = 200 ] || fail "session $id step $step: HTTP $c $(cat "$WORK/step.out")"
        grep -q '"output"' "$WORK/step.out" || fail "session $id step $step: no output in $(head -c 200 "$WORK/step.out")"
        ok=$((ok + 1))
    done
    c=$(curl -s -o /dev/null -w '%{http_code}' "$NGINX/sessions/$id")
    [ "$c" = 200 ] || fail "GET /sessions/$id through nginx: HTTP $c"
    echo "session $id: owner 127.0.0.1:$owner, $ok/$STEPS steps 200"
done

echo "== delete through nginx, then the session is gone everywhere"
for id in "${ids[@]}"; do
    c=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$NGINX/sessions/$id")
    [ "$c" = 204 ] || [ "$c" = 200 ] || fail "DELETE /sessions/$id: HTTP $c"
    c=$(curl -s -o /dev/null -w '%{http_code}' "$NGINX/sessions/$id")
    [ "$c" = 404 ] || fail "GET after DELETE /sessions/$id: HTTP $c, expected 404"
done

echo "== what nginx saw (access log: upstream = every instance tried, in order)"
LOG="$WORK/nginx/logs/access.log"
for _ in $(seq 1 20); do [ -s "$LOG" ] && break; sleep 0.1; done
encode_upstreams=$(grep '"POST /encode ' "$LOG" | sed 's/.*upstream=\([^ ]*\).*/\1/' | sort | uniq -c)
echo "encodes per instance:"; echo "$encode_upstreams"
[ "$(echo "$encode_upstreams" | wc -l)" -ge 2 ] || [ "$SESSIONS" -lt 2 ] || fail "encodes were not spread over both instances"
first_hop_misses=$(grep 'decode-step ' "$LOG" | grep -c 'upstream=[^ ]*, ' || true)
total_steps=$(grep -c 'decode-step ' "$LOG" || true)
echo "decode steps: $total_steps through nginx, $first_hop_misses needed a second instance (hash pick was not the owner)"
for id in "${ids[@]}"; do
    routes=$(grep "/sessions/$id/decode-step " "$LOG" | sed 's/.*upstream=\(.*\) rt=.*/\1/' | sort -u)
    [ "$(echo "$routes" | wc -l)" = 1 ] || fail "session $id steps took different routes: $routes"
    echo "session $id steps all routed: $routes"
done
echo "== instance 127.0.0.1:$PORT_A stops: sessions on $PORT_B keep working through nginx, new encodes go to $PORT_B"
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
for _ in $(seq 1 50); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT_A/" || break; sleep 0.1; done
survivors=0
for s in $(seq 1 4); do
    curl -s -o /dev/null -D "$WORK/survivor.head" -H 'Content-Type: application/json' \
        --data-binary @"$WORK/encode.json" "$NGINX/encode"
    head -n 1 "$WORK/survivor.head" | grep -q ' 201' || fail "encode with one instance down: $(head -n 1 "$WORK/survivor.head")"
    id=$(tr -d '\r' <"$WORK/survivor.head" | awk 'tolower($1)=="location:"{print $2}'); id=${id#/sessions/}
    c=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_B/sessions/$id")
    [ "$c" = 200 ] || fail "session $id not on the surviving instance"
    for step in 1 2 3; do
        c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary @"$WORK/step-1.json" "$NGINX/sessions/$id/decode-step")
        [ "$c" = 200 ] || fail "session $id step $step with $PORT_A down: HTTP $c"
    done
    survivors=$((survivors + 1))
done
echo "$survivors sessions encoded with one instance down, all on 127.0.0.1:$PORT_B, 3/3 steps 200 each"
echo "PASS"
