#!/usr/bin/env bash
# Every GPU check of the course in one go, within 9 minutes: configure for sm_90, build the
# gpu test binaries of every chapter and the benchmarks, run the gpu tests (ctest -L gpu:
# they must pass, not skip), the GEMM ladder against cuBLAS at 4096^3 and the best kernel
# in the other layouts (chapter 02), and one encoder and one decoder layer forward+backward
# on cuda against the cpu (chapter 03), and the trainer (chapter 07): short fp32, fp16 and
# bf16 runs of the seed's model on cuda, then step time at --size base per precision, and
# the fp8 GEMM kernel against cuBLASLt's fp8 GEMM (chapter 09; a GPU of compute capability
# 8.9+, else the step says so and is skipped).
#
#   tools/gpu/check.sh [OUTDIR]      (default: $OUT, else ./gpu-results)
#
# Everything lands in OUTDIR: summary.txt (what ran, how long, the verdicts), nvidia-smi.txt,
# configure.log, build.log, tests.txt + tests.xml (ctest, JUnit), ch02_bench.txt +
# ch02_bench_cuda.jsonl, ch02_bench_layouts.txt, ch03_bench.txt + ch03_bench.csv,
# ch02_ladder.png when matplotlib is there, ch07_train_<precision>.txt/.csv and
# ch07_base_<precision>.txt/.csv (the trainer), ch09_fp8_gemm_bench.txt. Then, on the development machine:
#   python3 plots/ch02_table.py OUTDIR/ch02_bench_cuda.jsonl   (rewrites chapter 02's table)
# Exit status: 0 when every step passed, 1 otherwise.
# Environment: GPU_BUILD_DIR (default build-gpu), GPU_JOBS (default nproc),
# GPU_BUDGET_S (default 540 seconds for everything), GPU_STEPS (default "tests ch02 ch03 ch07 ch09").
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-${OUT:-gpu-results}}"
mkdir -p "$out"
t0=$(date +%s)
budget=${GPU_BUDGET_S:-540}
steps=" ${GPU_STEPS:-tests ch02 ch03 ch07 ch09} "
status=0
note() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$out/summary.txt"; }
left() { echo $(( budget - ($(date +%s) - t0) )); }
at_most() { local l; l=$(left); echo $(( l < $1 ? l : $1 )); }  # seconds for one step
want() { [[ "$steps" == *" $1 "* ]]; }

note "GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), steps:$steps"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || note "nvidia-smi failed (see nvidia-smi.txt)"
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
want ch07 && targets+=(halfway-train)
want ch09 && targets+=(ch09_fp8_gemm_bench)
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
if want ch07; then
  # 200 steps of the seed's model in each precision (held-out exact match, step time), then
  # 30 steps at --size base (d 512, 6+6 layers) where tensor cores matter: ms/step, tokens/s.
  train="$build/bin/halfway-train"
  for p in fp32 fp16 bf16; do
    [ "$(left)" -gt 40 ] || { note "ch07: no time left for $p"; break; }
    if timeout "$(at_most 90)" "$train" --backend cuda --precision "$p" --steps 200 --eval-every 0 \
         --log "$out/ch07_train_$p.csv" > "$out/ch07_train_$p.txt" 2>&1; then
      note "ch07 $p seed size: $(grep -E '^trained' "$out/ch07_train_$p.txt"); $(grep -E '^held-out' "$out/ch07_train_$p.txt")"
    else
      status=1; note "ch07 $p run FAILED (ch07_train_$p.txt)"; tail -5 "$out/ch07_train_$p.txt" >> "$out/summary.txt"
    fi
  done
  for p in fp32 fp16 bf16; do
    [ "$(left)" -gt 30 ] || { note "ch07: no time left for base $p"; break; }
    if timeout "$(at_most 60)" "$train" --backend cuda --precision "$p" --size base --steps 30 --eval-every 0 \
         --log "$out/ch07_base_$p.csv" > "$out/ch07_base_$p.txt" 2>&1; then
      note "ch07 $p base size: $(grep -E '^trained' "$out/ch07_base_$p.txt")"
    else
      status=1; note "ch07 $p base run FAILED (ch07_base_$p.txt)"; tail -5 "$out/ch07_base_$p.txt" >> "$out/summary.txt"
    fi
  done
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
note "done, exit $status"
exit $status
