#!/usr/bin/env bash
# HTTP throughput of decode steps over loopback: the demo model at whisper-base size (6 layers, d 512, 8 heads),
# sessions of m = 1500, raw float32 and JSON bodies. Prints one JSON object on stdout.
#   bash benchmarks/http/run.sh [--sessions 16] [--duration 10] [--warmup 15] [--connections 16] [--threads 1] [--batch-rows 64] [--rounds 3] [--api-key]
# --api-key configures one API key (a fresh random one; rate limits then apply with their defaults) and sends it.
# Three loads, each in raw float32 and JSON (the last one raw only):
#   many     --connections connections over --sessions sessions (connection i steps session i mod sessions)
#   one      the same connections all on ONE session (the earlier benchmark, kept for continuity)
#   sequential  one connection, one session, one step at a time: the per-token latency a generation loop sees
# The yardstick is the same work in-process (the benchmark's `sessions` mode): the same number of concurrent callers
# on the same number of sessions through the service's scheduler (ComputeGate) and the endpoint's decode call.
# The machine is shared and its speed drifts over minutes, so yardstick and HTTP are measured alternately: --rounds
# rounds, in each every HTTP measurement right after its own in-process one (never both computing at once: the
# in-process process waits on its stdin while wrk runs, the server is idle while it measures). Each figure is the
# median over rounds; each fraction the median of the per-round fractions, with their spread (min, max).
# The sequential latency minus the in-process one is what the HTTP layer adds to each step. Each load also says where
# the time went (its `cpu` entry): the CPU the server, the load generator (wrk, on the same cores) and the in-process
# process spent per step, the cores each took, and the server's context switches per step. The one-session loads are
# also set against the older kernel-only yardstick, measured in each round just before them.
# Needs wrk (apt-get install -y wrk) and python3 (to write the request bodies).
set -euo pipefail
cd "$(dirname "$0")/../.."
. benchmarks/http/server.sh

sessions=16 duration=10 warmup=15 connections=16 threads=1 port=5180 batch_rows=64 rounds=3 api_key=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sessions) sessions=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --batch-rows) batch_rows=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --api-key) api_key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))'); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
begin_benchmark

dotnet build -c Release src/CrossAttention.Api >&2
dotnet build -c Release benchmarks/CrossAttention.Benchmarks >&2
# The built program directly: `dotnet run` re-evaluates the project each time, which takes tens of seconds on a busy host.
bench_dll=benchmarks/CrossAttention.Benchmarks/bin/Release/net10.0/CrossAttention.Benchmarks.dll
bench() { dotnet "$bench_dll" "$@"; }
# The in-process yardstick: one warm process that measures once per line written to it (fd 3), answering on its stdout.
mkfifo "$work/inproc.in"
# Started without the bench function, so that $! is the process itself (its CPU time is read from /proc).
dotnet "$bench_dll" sessions --serve --sessions "$sessions" --callers "$connections" --seconds "$duration" --warmup 5 \
  --batch-rows "$batch_rows" --layers 6 --d 512 --heads 8 --m 1500 <"$work/inproc.in" >"$work/inproc.jsonl" &
inproc_pid=$!
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system time of all the process's threads
# Context switches of each of its threads, one "tid count" line each (a thread may end mid-read: that is not an error).
switches() {
  local task
  for task in /proc/"$1"/task/*; do
    awk -v tid="${task##*/}" '/ctxt_switches/ {s += $2} END {if (NR) print tid, s}' "$task/status" 2>/dev/null || true
  done
}
exec 3>"$work/inproc.in"
wait_for_line() { # count: until the in-process process has written that many lines
  until [ "$(wc -l <"$work/inproc.jsonl")" -ge "$1" ]; do
    kill -0 "$inproc_pid" 2>/dev/null || { echo "the in-process yardstick exited" >&2; exit 1; }
    sleep 0.2
  done
}
wait_for_line 1 # its first line says it has encoded and warmed up: the server starts only now
inproc() { # name sessions callers: measures once, blocking until its line is written
  local lines cpu; lines=$(wc -l <"$work/inproc.jsonl") cpu=$(cpu_ticks "$inproc_pid")
  echo "$2 $3 $duration" >&3
  wait_for_line $((lines + 1))
  tail -n 1 "$work/inproc.jsonl" >"$work/$1.json"
  echo "$cpu $(cpu_ticks "$inproc_pid")" >"$work/$1.cpu" # ticks before, after
}

auth=() keys=()
if [ -n "$api_key" ]; then
  keys=(CrossAttention__Auth__ApiKeys__0__Name=bench
    "CrossAttention__Auth__ApiKeys__0__Sha256=$(printf %s "$api_key" | sha256sum | cut -d' ' -f1)")
  auth=(-H "Authorization: Bearer $api_key")
fi
start_server "$port" "$batch_rows" "${keys[@]}"
base="http://127.0.0.1:$port"
write_bodies
mapfile -t ids < <(encode_sessions "$base" "$sessions" "${auth[@]}")
[ "${#ids[@]}" = "$sessions" ] || { echo "encoded ${#ids[@]} of $sessions sessions" >&2; exit 1; }
all_ids=$(IFS=,; echo "${ids[*]}")

run_wrk() { # ids mode body-file connections seconds [--latency]
  API_KEY=$api_key SESSION_IDS=$1 MODE=$2 BODY_FILE=$3 wrk -t"$threads" -c"$4" -d"$5s" ${6:-} -s benchmarks/http/decode-step.lua "$base" 2>&1
}
# Each form is warmed up under the same load once, before the rounds: tiered compilation (with dynamic PGO) takes
# about 10 s of load on 2 busy cores to reach its final code, and a shorter warm-up measures part-instrumented code.
run_wrk "$all_ids" binary "$work/query.f32" "$connections" "$warmup" >/dev/null
run_wrk "$all_ids" json "$work/query.json" "$connections" "$warmup" >/dev/null
measure() { # name ids mode body-file connections
  local cpu; cpu=$(cpu_ticks "$server_pid"); switches "$server_pid" >"$work/$1.switches-before"
  # bash's `time` gives wrk's own user and system seconds
  { TIMEFORMAT='%U %S'; time run_wrk "$2" "$3" "$4" "$5" "$duration" --latency >"$work/$1.txt"; } 2>"$work/$1.wrk-cpu"
  echo "$cpu $(cpu_ticks "$server_pid")" >"$work/$1.cpu" # before, after
  switches "$server_pid" >"$work/$1.switches-after"
  echo "== $1" >&2; grep -E "Requests/sec|Latency |Non-2xx|Socket errors" "$work/$1.txt" >&2 || true
}
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  inproc "inproc-many-binary-$round" "$sessions" "$connections"
  measure "many-binary-$round" "$all_ids" binary "$work/query.f32" "$connections"
  inproc "inproc-many-json-$round" "$sessions" "$connections"
  measure "many-json-$round" "$all_ids" json "$work/query.json" "$connections"
  # The one-session loads' older yardstick, kernel-only (2 × 1e6 ÷ the 1-thread decode-whisper-base median), is
  # measured in every round too: once per run, it read 86 µs in one run and 116 µs in another on the same day.
  bench anchor --threads 1 --rounds 1 --only decode-whisper-base >"$work/kernel-$round.json" 2>/dev/null
  inproc "inproc-one-binary-$round" 1 "$connections"
  measure "one-binary-$round" "${ids[0]}" binary "$work/query.f32" "$connections"
  inproc "inproc-one-json-$round" 1 "$connections"
  measure "one-json-$round" "${ids[0]}" json "$work/query.json" "$connections"
  inproc "inproc-sequential-binary-$round" 1 1
  measure "sequential-binary-$round" "${ids[0]}" binary "$work/query.f32" 1
done
exec 3>&-

python3 - "$work" "$connections" "$duration" "$batch_rows" "$warmup" "$sessions" "$rounds" "${api_key:+1}" "$(getconf CLK_TCK)" <<'PY'
import json, re, statistics, sys
work, connections, duration, batch_rows, warmup, sessions, rounds = sys.argv[1], *map(int, sys.argv[2:8])
api_key = sys.argv[8] == "1"
clock_ticks = int(sys.argv[9])
def to_us(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return round(float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit], 1)
def parse(name):
    text = open(f"{work}/{name}.txt").read()
    out = {"requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        out[f"p{pct}_us"] = to_us(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else "none"
    return out
def load(name): return json.load(open(f"{work}/{name}.json"))
def cpu(name, inproc_name):
    """Where one round's time went: CPU per step of the server, wrk and the in-process process, their cores, and
    the server's context switches per step (steps: the measured rate × the measured seconds)."""
    steps = parse(name)["requests_per_second"] * duration
    before, after = map(int, open(f"{work}/{name}.cpu").read().split())
    # Per thread: a thread started during the load counts from 0; one that ended is lost (never a negative count).
    def switches(suffix):
        return dict(tuple(map(int, line.split())) for line in open(f"{work}/{name}.switches-{suffix}") if line.strip())
    switched_before, switched_after = switches("before"), switches("after")
    switched = sum(count - switched_before.get(tid, 0) for tid, count in switched_after.items())
    server_s = (after - before) / clock_ticks
    wrk_s = sum(map(float, open(f"{work}/{name}.wrk-cpu").read().split()[-2:]))
    inproc_before, inproc_after = map(int, open(f"{work}/{inproc_name}.cpu").read().split())
    inproc_s = (inproc_after - inproc_before) / clock_ticks
    inproc_steps = load(inproc_name)["steps_per_second"] * duration
    return {"server_cores": server_s / duration, "server_us_per_step": server_s * 1e6 / steps,
            "server_switches_per_step": switched / steps,
            "load_generator_cores": wrk_s / duration, "load_generator_us_per_step": wrk_s * 1e6 / steps,
            "in_process_cores": inproc_s / duration, "in_process_us_per_step": inproc_s * 1e6 / inproc_steps}
def cpu_medians(rounds_cpu):
    return {k: round(statistics.median(r[k] for r in rounds_cpu), 2) for k in rounds_cpu[0]}
def median(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None
def spread(values): return [min(values), max(values)]
R = range(1, rounds + 1)
kernels = [load(f"kernel-{r}")["decode-whisper-base"]["median_us"] for r in R]
# The yardstick of a load: its fields are medians over every in-process measurement of that load (both forms' rounds).
yard_fields = ("steps_per_second", "p50_us", "p90_us", "p99_us", "mean_batch_steps")
runs = {"many": [f"inproc-many-{f}-{r}" for r in R for f in ("binary", "json")],
        "one": [f"inproc-one-{f}-{r}" for r in R for f in ("binary", "json")],
        "sequential": [f"inproc-sequential-binary-{r}" for r in R]}
yardstick = {}
for k, names in runs.items():
    measured = [load(n) for n in names]
    entry = {f: median([m[f] for m in measured]) for f in yard_fields}
    entry["steps_per_second_runs"] = [m["steps_per_second"] for m in measured]
    entry["steps_per_caller_min_max_runs"] = [m.get("steps_per_caller_min_max") for m in measured]
    yardstick[k] = entry
result = {"yardstick_in_process": yardstick,
          "kernel_only": {"decode_whisper_base_1_thread_median_us": median(kernels),
                          "steps_per_second": round(2e6 / median(kernels)), "median_us_rounds": kernels}}
for load_name in ("many", "one"):
    for form in ("binary", "json"):
        per_round = [parse(f"{load_name}-{form}-{r}") for r in R]
        inproc_rate = [load(f"inproc-{load_name}-{form}-{r}")["steps_per_second"] for r in R]
        fractions = [round(h["requests_per_second"] / y, 3) for h, y in zip(per_round, inproc_rate)]
        r = {f: median([h[f] for h in per_round]) for f in ("requests_per_second", "p50_us", "p90_us", "p99_us")}
        r["non_2xx"] = sum(h["non_2xx"] for h in per_round)
        r["socket_errors"] = "; ".join(sorted({h["socket_errors"] for h in per_round}))
        r["cpu"] = cpu_medians([cpu(f"{load_name}-{form}-{n}", f"inproc-{load_name}-{form}-{n}") for n in R])
        r["fraction_of_in_process"] = median(fractions)
        r["fraction_of_in_process_spread"] = spread(fractions)
        r["rounds"] = [{"requests_per_second": h["requests_per_second"], "in_process_steps_per_second": y, "fraction": f}
                       for h, y, f in zip(per_round, inproc_rate, fractions)]
        if load_name == "one":
            kernel_fractions = [round(h["requests_per_second"] * k / 2e6, 3) for h, k in zip(per_round, kernels)]
            r["fraction_of_kernel_only"] = median(kernel_fractions)
            r["fraction_of_kernel_only_spread"] = spread(kernel_fractions)
        result[f"{load_name}_sessions_{form}" if load_name == "many" else f"one_session_{form}"] = r
seq_rounds = [parse(f"sequential-binary-{r}") for r in R]
seq_inproc = [load(f"inproc-sequential-binary-{r}") for r in R]
seq = {f: median([h[f] for h in seq_rounds]) for f in ("requests_per_second", "p50_us", "p90_us", "p99_us")}
seq["non_2xx"] = sum(h["non_2xx"] for h in seq_rounds)
seq["socket_errors"] = "; ".join(sorted({h["socket_errors"] for h in seq_rounds}))
# Per round: the HTTP percentile minus the in-process one measured just before it; the median of those.
adds = {p: [round(h[f"{p}_us"] - y[f"{p}_us"], 1) for h, y in zip(seq_rounds, seq_inproc) if h[f"{p}_us"] is not None]
        for p in ("p50", "p90", "p99")}
seq["http_adds_us"] = {p: median(v) for p, v in adds.items()}
seq["cpu"] = cpu_medians([cpu(f"sequential-binary-{n}", f"inproc-sequential-binary-{n}") for n in R])
seq["http_adds_us_spread"] = {p: spread(v) for p, v in adds.items() if v}
result["sequential_binary"] = seq
result["targets"] = {"many_sessions_binary >= 0.6 of in-process": result["many_sessions_binary"]["fraction_of_in_process"] >= 0.6,
                     "many_sessions_json >= 0.4 of in-process": result["many_sessions_json"]["fraction_of_in_process"] >= 0.4,
                     "one_session_binary >= 0.6 of kernel-only": result["one_session_binary"]["fraction_of_kernel_only"] >= 0.6,
                     "one_session_json >= 0.4 of kernel-only": result["one_session_json"]["fraction_of_kernel_only"] >= 0.4}
result["_meta"] = {"sessions": sessions, "connections": connections, "duration_s": duration, "warmup_s": warmup,
                   "rounds": rounds, "batch_max_rows": batch_rows, "api_key": api_key,
                   "model": "demo 6 layers, d 512, 8 heads (whisper-base size)",
                   "m": 1500, "n": 1, "layer": 0, "loadavg": open("/proc/loadavg").read().split()[:3]}
print(json.dumps(result, indent=2))
PY
