#!/usr/bin/env bash
# Chapter 08's step-time table: 1 process x 1 thread, 1 x 2 threads, and 2 ranks x 1 thread
# at several --bucket-mb (0: one all-reduce after the backward), the seed model in fp16,
# STEPS steps each, the layouts interleaved and repeated REPEATS times (on a shared machine
# the load drifts: interleaving spreads it over all rows). Prints each row's median ms/step
# and the median of the all-reduce hook's time per step (rank 0: with buckets, the wait
# after the backward; without, the whole all-reduce), both including waiting for the
# other rank.
#
#   chapters/08_data_parallel/bucket_ablation.sh [BUILD_DIR] [STEPS] [REPEATS] [BUCKET_MB...]
#
# FLAGS="--comm-dtype 16" (for example) adds halfway-train options to every run.
set -euo pipefail
build=${1:-build/cpu-only}
steps=${2:-30}
repeats=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
buckets=("${@:-0 0.5 1 3 25}")
read -r -a buckets <<< "${buckets[*]}"
train="$build/bin/halfway-train"
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
common=(--steps "$steps" --eval-every 0)
read -r -a extra <<< "${FLAGS:-}"
common+=("${extra[@]}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() {  # run NAME COMMAND...: appends "ms_per_step comm_ms_per_step" to $out/NAME
  local name=$1 log
  shift
  log=$("$@" 2>&1) || { echo "$log" >&2; exit 1; }
  local ms comm
  ms=$(sed -n 's/.*trained [0-9]* steps in [0-9.]* s (\([0-9.]*\) ms\/step.*/\1/p' <<< "$log")
  comm=$(sed -n 's/.*gradient all-reduces (\([0-9.]*\) ms each.*/\1/p' <<< "$log")
  echo "$ms ${comm:--}" >> "$out/$name"
}

for ((r = 1; r <= repeats; ++r)); do
  run "1x1" "$train" --threads 1 "${common[@]}"
  run "1x2" "$train" --threads 2 "${common[@]}"
  for mb in "${buckets[@]}"; do
    run "2x1_mb$mb" "${mpirun[@]}" -np 2 "$train" --threads 1 --bucket-mb "$mb" "${common[@]}"
  done
done

median() { sort -g | awk '{v[NR] = $1} END {print NR == 0 ? "-" : (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%-28s %12s %22s   %s\n' layout "ms/step" "all-reduce ms/step" "runs (ms/step)"
for name in 1x1 1x2 $(printf '2x1_mb%s ' "${buckets[@]}"); do
  label=$name
  case $name in
    1x1) label="1 process x 1 thread" ;;
    1x2) label="1 process x 2 threads" ;;
    2x1_mb*) label="2 ranks x 1 thread, ${name#2x1_mb} MB" ;;
  esac
  printf '%-28s %12s %22s   %s\n' "$label" "$(cut -d' ' -f1 "$out/$name" | median)" \
    "$(cut -d' ' -f2 "$out/$name" | grep -v -- - | median)" "$(cut -d' ' -f1 "$out/$name" | tr '\n' ' ')"
done
