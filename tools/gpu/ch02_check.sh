#!/usr/bin/env bash
# Chapter 02 on a real GPU, in one go and within 8 minutes: configure for sm_90, build
# the chapter's gpu tests and benchmark, run the tests, run the GEMM benchmark (the
# ladder against cuBLAS at 4096^3, then the best kernel in every layout), draw the figure.
#
#   tools/gpu/ch02_check.sh [OUTDIR]      (default: $OUT, else ./ch02-gpu-results)
#
# Everything lands in OUTDIR: summary.txt (what ran, how long, the verdicts),
# nvidia-smi.txt, configure.log, build.log, tests.txt + tests.xml (doctest, JUnit),
# bench.txt + ch02_bench_cuda.jsonl, bench_layouts.txt + ch02_bench_layouts.jsonl,
# ch02_ladder.png when matplotlib is there. Then, on the development machine:
#   python3 plots/ch02_table.py OUTDIR/ch02_bench_cuda.jsonl   (rewrites the lesson's table)
# Exit status: 0 when the tests passed and the benchmark ran, 1 otherwise.
# Environment: CH02_BUILD_DIR (default build-ch02-gpu), CH02_JOBS (default nproc),
# CH02_BUDGET_S (default 470 seconds for everything).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-${OUT:-ch02-gpu-results}}"
mkdir -p "$out"
t0=$(date +%s)
budget=${CH02_BUDGET_S:-470}  # seconds for everything (under 8 minutes)
status=0
note() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$out/summary.txt"; }
left() { echo $(( budget - ($(date +%s) - t0) )); }

note "ch02 GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || note "nvidia-smi failed (see nvidia-smi.txt)"
nvcc_path=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
note "nvcc: $("$nvcc_path" --version 2>/dev/null | tail -1)"

build="${CH02_BUILD_DIR:-build-ch02-gpu}"
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
if ! timeout "$(left)" cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DHALFWAY_CUDA=ON \
     -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER="$nvcc_path" > "$out/configure.log" 2>&1; then
  note "configure FAILED (configure.log)"; tail -20 "$out/configure.log" >> "$out/summary.txt"; exit 1
fi
note "configured"
if ! timeout "$(left)" cmake --build "$build" -j "${CH02_JOBS:-$(nproc)}" --target ch02_tests_gpu ch02_gemm_bench > "$out/build.log" 2>&1; then
  note "build FAILED (build.log)"; grep -m20 -i "error" "$out/build.log" >> "$out/summary.txt"; exit 1
fi
note "built"

tests=$(find "$build" -name ch02_tests_gpu -type f -perm -u+x | head -1)
bench="$build/bin/ch02_gemm_bench"
if timeout "$(( $(left) < 150 ? $(left) : 150 ))" "$tests" --reporters=console --duration=true > "$out/tests.txt" 2>&1; then
  note "gpu tests PASSED: $(grep -E '^\[doctest\] (test cases|assertions)' "$out/tests.txt" | tr '\n' ' ')"
else
  rc=$?; status=1
  if [ "$rc" = 77 ]; then
    note "gpu tests SKIPPED: no usable GPU ($(head -1 "$out/tests.txt"))"
  else
    note "gpu tests FAILED (exit $rc): $(grep -E '^\[doctest\] (test cases|assertions)' "$out/tests.txt" | tr '\n' ' ')"
  fi
fi
timeout 60 "$tests" --reporters=junit --out="$out/tests.xml" > /dev/null 2>&1 || true

if timeout "$(( $(left) < 200 ? $(left) : 200 ))" "$bench" --backend cuda --size 4096 \
     --log "$out/ch02_bench_cuda.jsonl" > "$out/bench.txt" 2>&1; then
  note "benchmark ran:"; sed -n '/^kernel/,$p' "$out/bench.txt" | tee -a "$out/summary.txt"
else
  status=1; note "benchmark FAILED (bench.txt)"; tail -20 "$out/bench.txt" >> "$out/summary.txt"
fi
for layout in NT TN; do
  [ "$(left)" -gt 30 ] || break
  timeout "$(( $(left) < 60 ? $(left) : 60 ))" "$bench" --backend cuda --size 4096 --layout "$layout" \
    --kernels wmma_best --log "$out/ch02_bench_$layout.jsonl" >> "$out/bench_layouts.txt" 2>&1 \
    && note "layout $layout: $(grep -E '^(cublas|wmma_best) ' "$out/bench_layouts.txt" | tail -2 | tr -s ' ' | tr '\n' ';')"
done
if python3 -c "import matplotlib" 2> /dev/null && [ -s "$out/ch02_bench_cuda.jsonl" ]; then
  python3 plots/ch02_ladder.py "$out/ch02_bench_cuda.jsonl" "$out/ch02_ladder.png" >> "$out/summary.txt" 2>&1 \
    && note "figure: ch02_ladder.png"
fi
note "done, exit $status"
exit $status
