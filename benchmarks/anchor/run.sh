#!/usr/bin/env bash
# Ours against libtorch, interleaved in rounds, then the compare table (markdown on stdout).
#   bash benchmarks/anchor/run.sh [--rounds 5] [--threads 2] [--only A,B] [--out DIR] [--anchor-bench PATH]
# Each round runs libtorch's harness, then ours (each a fresh process, all workloads), so a noisy minute on a shared
# host moves one round of both sides rather than a whole side; each side's figure is the median of its rounds
# (`merge`). The libtorch harness is copied to /tmp and built there (its folder is read-only, and the project's build
# never references it). Keeps every round's JSON, the merged files and the table in --out (default: a new temp dir).
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=5 threads=2 only="" out="" anchor_src="../shared/anchor-bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --anchor-bench) anchor_src=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
out=${out:-$(mktemp -d /tmp/anchor-run.XXXXXX)}
mkdir -p "$out"
only_args=()
[ -n "$only" ] && only_args=(--only "$only")

anchor=/tmp/anchor-bench
if [ ! -f "$anchor/Program.cs" ] || ! cmp -s "$anchor_src/Program.cs" "$anchor/Program.cs"; then
  rm -rf "$anchor" && mkdir -p "$anchor"
  cp -r "$anchor_src"/. "$anchor"/
fi
(cd "$anchor" && dotnet build -c Release >&2)
dotnet build -c Release benchmarks/CrossAttention.Benchmarks >&2
# The built program directly: `dotnet run` re-evaluates the project each time, which takes tens of seconds on a busy host.
bench() { dotnet benchmarks/CrossAttention.Benchmarks/bin/Release/net10.0/CrossAttention.Benchmarks.dll "$@"; }

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds: libtorch" >&2
  (cd "$anchor" && dotnet bin/Release/net10.0/AnchorBench.dll --threads "$threads" --no-check "${only_args[@]}") >"$out/libtorch-r$r.json"
  echo "round $r/$rounds: ours" >&2
  bench anchor --threads "$threads" --rounds 1 --no-check "${only_args[@]}" >"$out/ours-r$r.json"
done
bench merge "$out"/ours-r*.json >"$out/ours.json"
bench merge "$out"/libtorch-r*.json >"$out/libtorch.json"
bench compare "$out/ours.json" "$out/libtorch.json" | tee "$out/table.md"
echo "JSON and table in $out" >&2
