#!/usr/bin/env bash
# Chapter 09's ablation table: `halfway-train --precision fp8` with the defaults (delayed
# scaling, e5m2 gradients, history 16) and with one of them changed (no scaling, current
# scaling, e4m3 gradients, history 1), each at every seed, STEPS steps, one thread, the
# held-out evaluation at the end only. Runs JOBS runs at a time (default 2), seed by seed,
# so that a run cut short still leaves whole seeds. Prints one markdown row per
# configuration: per seed (in order) the final held-out exact match (and the mean), the
# final loss (the trainer's moving average), the skipped steps, divergence (the trainer's
# error, or "none"), and wall and cpu (user + sys) seconds from /usr/bin/time.
#
#   chapters/09_fp8/fp8_ablation.sh [BUILD_DIR] [STEPS] [SEED...]     (defaults: build/cpu-only 600 1 2 3)
#
# KEEP=DIR keeps each run's output there (NAME-sSEED.out, .time, .rc) and skips the runs
# that already finished in it, so a second call only prints the table again.
set -euo pipefail
build=${1:-build/cpu-only}
steps=${2:-600}
shift $(( $# < 2 ? $# : 2 ))
seeds=("${@:-1 2 3}")
read -r -a seeds <<< "${seeds[*]}"
train="$build/bin/halfway-train"
[ -x "$train" ] || { echo "fp8_ablation.sh: expected $train (build the halfway-train target first)" >&2; exit 1; }
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
jobs=${JOBS:-2}
if [ -n "${KEEP:-}" ]; then
  out=$KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

names=(delayed none current e4m3 h1)
declare -A option=(
  [delayed]=""
  [none]="--fp8-scaling none"
  [current]="--fp8-scaling current"
  [e4m3]="--fp8-grad-format e4m3"
  [h1]="--fp8-history 1"
)
declare -A label=(
  [delayed]="delayed scaling, e5m2 gradients, H = 16 (the defaults)"
  [none]="no scaling (every scale 1)"
  [current]="current scaling"
  [e4m3]="e4m3 gradients too"
  [h1]="delayed scaling, H = 1"
)

run() {  # run NAME SEED: the run's output, its /usr/bin/time line and exit status into $out
  local f="$out/$1-s$2" rc=0
  # shellcheck disable=SC2086 # the option is words
  /usr/bin/time -f '%e %U %S' -o "$f.time" "$train" --precision fp8 --seed "$2" --steps "$steps" \
    --eval-every 0 --threads 1 ${option[$1]} > "$f.out" 2>&1 || rc=$?
  echo "$rc" > "$f.rc"
  echo "fp8_ablation.sh: $1 seed $2 done (exit $rc)" >&2
}

for seed in "${seeds[@]}"; do
  for name in "${names[@]}"; do
    [ -f "$out/$name-s$seed.rc" ] && continue
    while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
    run "$name" "$seed" &
  done
done
wait

field() {  # field NAME SEED WHAT: one number of one run, "-" where it did not finish
  local f="$out/$1-s$2"
  [ -f "$f.rc" ] || { echo -; return; }
  case $3 in
    held) sed -n 's/^held-out: exact match \([0-9.]*\)%.*/\1%/p' "$f.out" ;;
    loss) sed -n 's/.*final loss \([^ ]*\) (moving average).*/\1/p' "$f.out" ;;
    skipped) sed -n 's/.*(moving average), \([0-9]*\) skipped steps.*/\1/p' "$f.out" ;;
    wall) tail -n 1 "$f.time" | awk '{printf "%.0f", $1}' ;;  # a failed run's first line says so
    cpu) tail -n 1 "$f.time" | awk '{printf "%.0f", $2 + $3}' ;;
  esac | grep . || echo -
}
seeds_of() {  # seeds_of NAME WHAT: "a / b / c"
  local v=()
  for seed in "${seeds[@]}"; do v+=("$(field "$1" "$seed" "$2")"); done
  local IFS=/ joined
  joined="${v[*]}"
  echo "${joined//\// / }"
}
failures() {  # failures NAME: each failed run's error line, or "none"
  local seed f msgs=()
  for seed in "${seeds[@]}"; do
    f="$out/$1-s$seed"
    if [ -f "$f.rc" ] && [ "$(cat "$f.rc")" != 0 ]; then
      msgs+=("seed $seed: $(tail -n 1 "$f.out")")
    elif [ -f "$f.rc" ] && grep -qi 'final loss -*\(nan\|inf\)' "$f.out"; then
      msgs+=("seed $seed: final loss not finite")
    fi
  done
  if [ ${#msgs[@]} = 0 ]; then echo none; else printf '%s; ' "${msgs[@]}" | sed 's/; $//'; fi
}
mean() { tr -d '%' | tr '/' '\n' | awk '$1 != "-" {s += $1; n++} END {if (n) printf "%.1f%%%s", s / n, n < '"${#seeds[@]}"' ? " of " n " seeds" : ""; else printf "-"}'; }

echo "fp8, $steps steps, seeds ${seeds[*]} (each: per seed in that order)"
echo
echo "| run | option | held-out exact match | final loss | skipped steps | NaN / divergence | wall s | cpu s |"
echo "|---|---|---|---|---|---|---|---|"
for name in "${names[@]}"; do
  held=$(seeds_of "$name" held)
  printf '| %s | %s | %s (mean %s) | %s | %s | %s | %s | %s |\n' "${label[$name]}" "\`${option[$name]:-defaults}\`" \
    "$held" "$(mean <<< "$held")" "$(seeds_of "$name" loss)" "$(seeds_of "$name" skipped)" "$(failures "$name")" \
    "$(seeds_of "$name" wall)" "$(seeds_of "$name" cpu)"
done
