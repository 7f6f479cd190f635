#!/usr/bin/env bash
# Builds the repository's Dockerfile with podman and checks the container on loopback: health, models, Swagger,
# an encode and a path-form decode step, the non-root user, the HEALTHCHECK command, and a run with the
# Kubernetes-like hardening of deploy/kubernetes (read-only root, tmpfs /tmp, no capabilities).
# Run deploy/podman/build-local-base-images.sh first when the registry cannot be reached.
#
# Env: OFFLINE=1 (default) builds with --network none and restores from ~/.nuget/packages mounted as a local feed
#      (NUGET_SOURCE build arg); OFFLINE=0 builds with the network and nuget.org, like a normal build.
#      HOST_PORT=18080 IMAGE=localhost/cross-attention-api:test
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
IMAGE=${IMAGE:-localhost/cross-attention-api:test}
HOST_PORT=${HOST_PORT:-18080}
OFFLINE=${OFFLINE:-1}
export CONTAINERS_CONF=${CONTAINERS_CONF:-/tmp/cross-attention-base-images/containers.conf}
NAME=cross-attention-smoke-$$
WORK=$(mktemp -d /tmp/cross-attention-smoke.XXXXXX)
cleanup() { podman rm -f "$NAME" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; podman logs "$NAME" 2>&1 | tail -20 >&2 || true; exit 1; }

echo "== build"
build_args=(--format docker --pull=never -t "$IMAGE")   # docker format: OCI images drop HEALTHCHECK
if [ "$OFFLINE" = 1 ]; then
    build_args+=(--network none -v "$HOME/.nuget/packages:/nuget-feed:ro" --build-arg NUGET_SOURCE=/nuget-feed)
fi
podman build "${build_args[@]}" "$REPO" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "podman build"; }
podman image inspect "$IMAGE" --format 'image size {{.Size}} bytes, user {{.Config.User}}'

wait_ready() {
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$HOST_PORT/health/ready" && return 0
        sleep 0.2
    done
    fail "not ready on 127.0.0.1:$HOST_PORT"
}
expect() { # expect CODE METHOD PATH [curl args...]
    local want=$1 method=$2 path=$3; shift 3
    local got
    got=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" "$@" "http://127.0.0.1:$HOST_PORT$path")
    [ "$got" = "$want" ] || fail "$method $path: HTTP $got, expected $want: $(head -c 300 "$WORK/body")"
    echo "$method $path -> $got"
}

python3 - "$WORK" <<'PY'
import json, math, sys
work = sys.argv[1]
json.dump({"model": "demo", "source": [[math.sin(0.1 * i + 0.01 * j) for j in range(64)] for i in range(8)]},
          open(f"{work}/encode.json", "w"))
json.dump({"layer": 1, "queries": [[math.cos(i + 0.02 * j) for j in range(64)] for i in range(2)]},
          open(f"{work}/step.json", "w"))
PY

check_service() {
    wait_ready
    expect 200 GET /health/live
    expect 200 GET /health/ready
    expect 200 GET /models
    grep -q '"name":"demo"' "$WORK/body" || fail "demo model not listed"
    expect 200 GET /swagger/index.html
    expect 200 GET /swagger/v1/swagger.json
    curl -s -D "$WORK/head" -o "$WORK/body" -H 'Content-Type: application/json' --data-binary @"$WORK/encode.json" \
        "http://127.0.0.1:$HOST_PORT/encode"
    head -n 1 "$WORK/head" | grep -q ' 201' || fail "encode: $(head -n 1 "$WORK/head")"
    local location
    location=$(tr -d '\r' <"$WORK/head" | awk 'tolower($1)=="location:"{print $2}')
    echo "POST /encode -> 201, Location $location"
    expect 200 POST "$location/decode-step" -H 'Content-Type: application/json' --data-binary @"$WORK/step.json"
    grep -q '"output"' "$WORK/body" || fail "decode step without output"
    expect 204 DELETE "$location"
    local user
    user=$(podman exec "$NAME" id -u)
    [ "$user" != 0 ] || fail "the process runs as root"
    echo "container user: $(podman exec "$NAME" id)"
    podman healthcheck run "$NAME" 2>/dev/null || fail "HEALTHCHECK command failed"
    echo "podman healthcheck run -> healthy"
}

mkdir -p "$WORK/models"
echo "== run (image defaults, empty models volume)"
podman run -d --name "$NAME" -p "127.0.0.1:$HOST_PORT:8080" -v "$WORK/models:/models:ro" "$IMAGE" >/dev/null 2>&1
check_service
podman rm -f "$NAME" >/dev/null 2>&1

echo "== run (read-only root, tmpfs /tmp, no capabilities, uid 1654: as deploy/kubernetes)"
podman run -d --name "$NAME" --read-only --tmpfs /tmp:rw,size=64m --user 1654:1654 --cap-drop ALL \
    --security-opt no-new-privileges -p "127.0.0.1:$HOST_PORT:8080" -v "$WORK/models:/models:ro" "$IMAGE" >/dev/null 2>&1
check_service
echo "PASS"
