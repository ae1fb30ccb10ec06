#!/usr/bin/env bash
# Every GPU check of the course in one go, within 9 minutes: configure for sm_90, build the
# gpu test binaries of every chapter and the benchmarks, run the gpu tests (ctest -L gpu:
# they must pass, not skip), the GEMM ladder against cuBLAS at 4096^3 and the best kernel
# in the other layouts (chapter 02), and one encoder and one decoder layer forward+backward
# on cuda against the cpu (chapter 03), and the trainer (chapter 07): short fp32, fp16 and
# bf16 runs of the seed's model on cuda (the fp16 one also prints the runtime's counters per
# step, --profile-steps), then steady-state ms/step at --size base per precision, with and
# without --cuda-graph (where halfway-train has the option); the fp8 GEMM kernel against
# cuBLASLt's fp8 GEMM (chapter 09; a GPU of compute capability 8.9+, else the step says so
# and is skipped); then compute-sanitizer (memcheck, racecheck, synccheck) over the gpu test
# binaries and a 50-step training run.
#
#   tools/gpu/check.sh [OUTDIR]      (default: $OUT, else ./gpu-results)
#
# Everything lands in OUTDIR: summary.txt (what ran, how long, the verdicts), nvidia-smi.txt,
# configure.log, build.log, tests.txt + tests.xml (ctest, JUnit), ch02_bench.txt +
# ch02_bench_cuda.jsonl, ch02_bench_layouts.txt, ch03_bench.txt + ch03_bench.csv,
# ch02_ladder.png when matplotlib is there, ch07_train_<precision>.txt/.csv and
# ch07_base_<precision>_graph-<on|off>.txt/.csv (the trainer), ch09_fp8_gemm_bench.txt,
# sanitizer_<tool>_<binary>.txt. Then, on the development machine:
#   python3 plots/ch02_table.py OUTDIR/ch02_bench_cuda.jsonl   (rewrites chapter 02's table)
# Exit status: 0 when every step passed, 1 otherwise, 77 when there is no GPU (nothing checked).
# Environment: GPU_BUILD_DIR (default build-gpu), GPU_JOBS (default nproc),
# GPU_BUDGET_S (default 540 seconds for everything), GPU_STEPS (default
# "tests ch02 ch03 ch07 ch09 sanitizer": the sanitizer pass comes last and gets what time is left;
# GPU_STEPS=sanitizer gives it the whole budget), GPU_SANITIZER_TOOLS (default "memcheck racecheck synccheck"),
# GPU_ALLOW_NO_GPU=1 (configure and build even without a GPU: a compile check).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out="${1:-${OUT:-gpu-results}}"
mkdir -p "$out"
t0=$(date +%s)
budget=${GPU_BUDGET_S:-540}
steps=" ${GPU_STEPS:-tests ch02 ch03 ch07 ch09 sanitizer} "
status=0
note() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$out/summary.txt"; }
left() { echo $(( budget - ($(date +%s) - t0) )); }
at_most() { local l; l=$(left); echo $(( l < $1 ? l : $1 )); }  # seconds for one step
want() { [[ "$steps" == *" $1 "* ]]; }

note "GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), steps:$steps"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || note "nvidia-smi failed (see nvidia-smi.txt)"
if ! nvidia-smi -L 2> /dev/null | grep -q '^GPU '; then
  if [ "${GPU_ALLOW_NO_GPU:-0}" != 1 ]; then
    note "no GPU here (nvidia-smi -L lists none): nothing to check (GPU_ALLOW_NO_GPU=1 builds anyway); exit 77"
    exit 77
  fi
  note "no GPU here: configure and build only (GPU_ALLOW_NO_GPU=1)"
  steps=" "
fi
nvcc_path=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
note "nvcc: $("$nvcc_path" --version 2>/dev/null | tail -1)"

build="${GPU_BUILD_DIR:-build-gpu}"
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
if ! timeout "$(left)" cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DHALFWAY_CUDA=ON \
     -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$nvcc_path" > "$out/configure.log" 2>&1; then
  note "configure FAILED (configure.log)"; tail -20 "$out/configure.log" >> "$out/summary.txt"; exit 1
fi
note "configured"
targets=()
want tests && targets+=(common_tests_gpu common_block_reduce_gpu ch00_tests_gpu ch01_tests_gpu ch02_tests_gpu ch03_tests_gpu
                         ch04_tests_gpu ch05_tests_gpu ch06_tests_gpu ch07_tests_gpu ch09_tests_gpu)
want ch02 && targets+=(ch02_gemm_bench)
want ch03 && targets+=(ch03_bench)
if want ch07 || want sanitizer; then targets+=(halfway-train); fi
want ch09 && targets+=(ch09_fp8_gemm_bench)
gpu_tests=(common_tests_gpu common_block_reduce_gpu ch00_tests_gpu ch01_tests_gpu ch02_tests_gpu ch03_tests_gpu
           ch04_tests_gpu ch05_tests_gpu ch06_tests_gpu ch07_tests_gpu ch09_tests_gpu)
want sanitizer && ! want tests && targets+=("${gpu_tests[@]}")
[ "$steps" = " " ] && targets=("${gpu_tests[@]}" halfway-train)
if ! timeout "$(left)" cmake --build "$build" -j "${GPU_JOBS:-$(nproc)}" --target "${targets[@]}" > "$out/build.log" 2>&1; then
  note "build FAILED (build.log)"; grep -m20 -i "error" "$out/build.log" >> "$out/summary.txt"; exit 1
fi
note "built: ${targets[*]}"

if want tests; then
  # gpu tests only, and not the slow exhaustive sweeps (they test the host code, not the GPU)
  if timeout "$(at_most 240)" ctest --test-dir "$build" -L gpu -LE slow -j 4 --output-junit "$PWD/$out/tests.xml" \
       > "$out/tests.txt" 2>&1; then
    note "gpu tests PASSED: $(grep -E 'tests passed' "$out/tests.txt")"
  else
    status=1; note "gpu tests FAILED: $(grep -E 'tests passed' "$out/tests.txt")"
    sed -n '/The following tests/,$p' "$out/tests.txt" | head -30 >> "$out/summary.txt"
  fi
  skipped=$(grep -c '\*\*\*Skipped' "$out/tests.txt")
  [ "$skipped" = 0 ] || { status=1; note "$skipped gpu tests SKIPPED: no usable GPU?"; }
fi

if want ch02; then
  bench="$build/bin/ch02_gemm_bench"
  if timeout "$(at_most 200)" "$bench" --backend cuda --size 4096 --log "$out/ch02_bench_cuda.jsonl" \
       > "$out/ch02_bench.txt" 2>&1; then
    note "ch02 benchmark:"; sed -n '/^kernel/,$p' "$out/ch02_bench.txt" | tee -a "$out/summary.txt"
  else
    status=1; note "ch02 benchmark FAILED (ch02_bench.txt)"; tail -20 "$out/ch02_bench.txt" >> "$out/summary.txt"
  fi
  for layout in NT TN; do
    [ "$(left)" -gt 30 ] || break
    timeout "$(at_most 60)" "$bench" --backend cuda --size 4096 --layout "$layout" --kernels wmma_best \
      --log "$out/ch02_bench_$layout.jsonl" >> "$out/ch02_bench_layouts.txt" 2>&1 \
      && note "layout $layout: $(grep -E '^(cublas|wmma_best) ' "$out/ch02_bench_layouts.txt" | tail -2 | tr -s ' ' | tr '\n' ';')"
  done
  if python3 -c "import matplotlib" 2> /dev/null && [ -s "$out/ch02_bench_cuda.jsonl" ]; then
    python3 plots/ch02_ladder.py "$out/ch02_bench_cuda.jsonl" "$out/ch02_ladder.png" >> "$out/summary.txt" 2>&1 \
      && note "figure: ch02_ladder.png"
  fi
fi

if want ch03; then
  # the trainer's shapes; PyTorch only where the GPU machine has it (its CPU time)
  if timeout "$(at_most 120)" "$build/bin/ch03_bench" --backend cpu --backend cuda --repeats 10 \
       --csv "$out/ch03_bench.csv" > "$out/ch03_bench.txt" 2>&1; then
    note "ch03 benchmark:"; sed -n '/^layer/,$p' "$out/ch03_bench.txt" | tee -a "$out/summary.txt"
  else
    status=1; note "ch03 benchmark FAILED (ch03_bench.txt)"; tail -20 "$out/ch03_bench.txt" >> "$out/summary.txt"
  fi
fi
# Steady-state ms/step from a run's CSV log (the cumulative "seconds" column): the mean
# of the steps after the first 5 (the first allocates, a graph is captured early).
steady_ms() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "seconds") c = i; next }
           c { n++; s[n] = $c } END { if (n > 6) printf "%.2f", 1000 * (s[n] - s[5]) / (n - 5); else print "?" }' "$1"
}
if want ch07; then
  # 200 steps of the seed's model in each precision (held-out exact match, step time), then
  # 30 steps at --size base (d 512, 6+6 layers) where tensor cores matter: ms/step, tokens/s.
  train="$build/bin/halfway-train"
  help=$("$train" --help 2>&1)
  profile=()
  [[ "$help" == *--profile-steps* ]] && profile=(--profile-steps 20)
  for p in fp32 fp16 bf16; do
    [ "$(left)" -gt 40 ] || { note "ch07: no time left for $p"; break; }
    extra=()
    [ "$p" = fp16 ] && extra=("${profile[@]}")
    if timeout "$(at_most 90)" "$train" --backend cuda --precision "$p" --steps 200 --eval-every 0 "${extra[@]}" \
         --log "$out/ch07_train_$p.csv" > "$out/ch07_train_$p.txt" 2>&1; then
      note "ch07 $p seed size: $(grep -E '^trained' "$out/ch07_train_$p.txt"); $(grep -E '^held-out' "$out/ch07_train_$p.txt")"
      [ ${#extra[@]} -gt 0 ] && sed -n '/^runtime counters/,/allocations/p' "$out/ch07_train_$p.txt" | tee -a "$out/summary.txt"
    else
      status=1; note "ch07 $p run FAILED (ch07_train_$p.txt)"; tail -5 "$out/ch07_train_$p.txt" >> "$out/summary.txt"
    fi
  done
  # With and without the CUDA graph, where halfway-train has --cuda-graph (issue 21 point 7).
  graphs=(off)
  if [[ "$help" == *--cuda-graph* ]]; then graphs=(off on); else note "ch07: halfway-train has no --cuda-graph: base runs without it"; fi
  table="ms/step at --size base (steady state, steps 6-30):"
  for p in fp32 fp16 bf16; do
    row="  $p:"
    for g in "${graphs[@]}"; do
      [ "$(left)" -gt 30 ] || { note "ch07: no time left for base $p graph $g"; break 2; }
      name="ch07_base_${p}_graph-$g"
      gflag=()
      [ ${#graphs[@]} -gt 1 ] && gflag=(--cuda-graph "$g")
      if timeout "$(at_most 60)" "$train" --backend cuda --precision "$p" --size base --steps 30 --eval-every 0 "${gflag[@]}" \
           --log "$out/$name.csv" > "$out/$name.txt" 2>&1; then
        note "ch07 $p base size, graph $g: $(grep -E '^trained' "$out/$name.txt")"
        row+="  graph $g $(steady_ms "$out/$name.csv") ms"
      else
        status=1; note "ch07 $p base run, graph $g FAILED ($name.txt)"; tail -5 "$out/$name.txt" >> "$out/summary.txt"
        row+="  graph $g FAILED"
      fi
    done
    table+=$'\n'"$row"
  done
  note "$table"
fi

if want ch09; then
  # fp8 mma.sync needs compute capability 8.9 (Ada) or later; the build is for sm_90.
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -1)
  if ! awk -v c="$cap" 'BEGIN { exit !(c + 0 >= 8.9) }'; then
    note "ch09: no GPU of compute capability 8.9+ (found '${cap:-none}'): fp8 GEMM benchmark skipped"
  elif [ "$(left)" -le 20 ]; then
    note "ch09: no time left for the fp8 GEMM benchmark"
  elif timeout "$(at_most 90)" "$build/bin/ch09_fp8_gemm_bench" --size 8192 --repeats 10 \
         > "$out/ch09_fp8_gemm_bench.txt" 2>&1; then
    note "ch09 fp8 GEMM vs cuBLASLt (TFLOP/s):"; sed -n '/^formats/,$p' "$out/ch09_fp8_gemm_bench.txt" | tee -a "$out/summary.txt"
  else
    status=1; note "ch09 fp8 GEMM benchmark FAILED (ch09_fp8_gemm_bench.txt)"
    tail -5 "$out/ch09_fp8_gemm_bench.txt" >> "$out/summary.txt"
  fi
fi

if want sanitizer; then
  # compute-sanitizer over every gpu test binary (not the slow sweeps) and a 50-step fp16
  # training run of the tiny model (the scaler's whole path): --error-exitcode 99 tells a
  # sanitizer report from a failing test.
  san=$(command -v compute-sanitizer || echo "$(dirname "$nvcc_path")/compute-sanitizer")
  if [ ! -x "$san" ]; then
    status=1; note "sanitizer: compute-sanitizer not found (next to nvcc or on PATH)"
  else
    for tool in ${GPU_SANITIZER_TOOLS:-memcheck racecheck synccheck}; do
      verdicts=""
      for t in "${gpu_tests[@]}" halfway-train; do
        [ "$(left)" -gt 20 ] || { note "sanitizer INCOMPLETE: no time left for $tool $t (GPU_STEPS=sanitizer runs it alone)"; break 2; }
        if [ "$t" = halfway-train ]; then
          bin="$build/bin/halfway-train"
          args=(--backend cuda --size tiny --precision fp16 --steps 50 --eval-every 0)
        else
          bin=$(find "$build" -type f -name "$t" -perm -u+x 2> /dev/null | head -1)
          args=('--test-case-exclude=*[slow]*')
        fi
        if [ -z "$bin" ] || [ ! -x "$bin" ]; then verdicts+=" $t:missing"; status=1; continue; fi
        timeout "$(at_most 90)" "$san" --tool "$tool" --error-exitcode 99 --print-limit 20 "$bin" "${args[@]}" \
          > "$out/sanitizer_${tool}_$t.txt" 2>&1
        rc=$?
        case $rc in
          0) verdicts+=" $t:ok" ;;
          99) verdicts+=" $t:ERRORS"; status=1 ;;
          124) verdicts+=" $t:timeout"; status=1 ;;
          *) verdicts+=" $t:exit-$rc"; status=1 ;;
        esac
      done
      note "sanitizer $tool:$verdicts"
    done
  fi
fi
note "done, exit $status"
exit $status
