// ch02_gemm_bench: validates, then times, the GEMMs of chapter 02.
//
//   cuda: every rung of the WMMA ladder and cuBLAS (the baseline) at one size, default
//         4096^3: TFLOP/s and percent of cuBLAS. CUDA events, warm-up, L2 flushed before
//         every timed run (a 256 MiB memset), the median of the repeats.
//   cpu:  the cpu GEMM (fp16 inputs converted to fp32, then OpenBLAS sgemm, conversions
//         included) against OpenBLAS sgemm alone on the same fp32 values, default 1024^3.
//   emu:  the ladder under the emulator at a small size (default 128^3). These times
//         measure the emulator (fiber switches per barrier), not a GPU: they are here to
//         show that every kernel runs, not how fast it would be.
// Every kernel is first validated: rows sampled across C against an fp64 reference
// from the same fp16-rounded inputs, with the bound of chapters/02_gemm/tests. A kernel
// that fails is reported and not timed. Results go to stdout and, with --log, to JSONL
// (read by plots/ch02_ladder.py and plots/ch02_table.py).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/backend.hpp"
#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/device_memory.hpp"
#include "common/timer.hpp"
#include "kernels/gemm/gemm.hpp"

#if HALFWAY_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif

namespace {

using namespace halfway;

struct Options {
  std::string backend = "auto";
  int size = 0;  // 0: the backend's default
  int m = 0, n = 0, k = 0;
  std::string layout = "NN";
  std::string dtype = "f16";
  std::string kernels = "all";
  int repeats = 0, warmup = -1;
  std::string log;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string cpu_description() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads";
}

/// The problem, its host data (fp16/bf16 bits and the same values as fp32) and a
/// sampled fp64 reference.
struct Problem {
  GemmArgs g;  // pointers filled per backend
  std::vector<std::uint16_t> a16, b16;
  std::vector<float> a32, b32;
  std::vector<int> rows;             // rows of C checked
  std::vector<double> ref, bound;    // rows.size() x n

  Problem(Op op_a, Op op_b, int m, int n, int k, DType in) {
    g = gemm_args(op_a, op_b, m, n, k);
    g.in = in;
    g.out = DType::f32;
    const std::size_t na = std::size_t(m) * k, nb = std::size_t(k) * n;
    std::mt19937 rng(2024);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    a32.resize(na);
    b32.resize(nb);
    for (auto& x : a32) x = dist(rng);
    for (auto& x : b32) x = dist(rng);
    a16.resize(na);
    b16.resize(nb);
    convert_from_f32(in, a32.data(), a16.data(), std::int64_t(na));
    convert_from_f32(in, b32.data(), b16.data(), std::int64_t(nb));
    convert_to_f32(in, a16.data(), a32.data(), std::int64_t(na));  // the rounded values
    convert_to_f32(in, b16.data(), b32.data(), std::int64_t(nb));
    reference();
  }

  float a_at(int i, int p) const { return g.op_a == Op::N ? a32[std::size_t(i) * g.lda + p] : a32[std::size_t(p) * g.lda + i]; }
  float b_at(int p, int j) const { return g.op_b == Op::N ? b32[std::size_t(p) * g.ldb + j] : b32[std::size_t(j) * g.ldb + p]; }

  // 17 rows spread over C (first, last, and between): all of each, in fp64.
  void reference() {
    for (int s = 0; s <= 16; ++s) rows.push_back(int((std::int64_t(g.m - 1) * s) / 16));
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    ref.assign(rows.size() * std::size_t(g.n), 0.0);
    bound.assign(ref.size(), 0.0);
    const double u = std::ldexp(1.0, -23);
#pragma omp parallel for schedule(dynamic)
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::vector<double> arow(std::size_t(g.k));
      for (int p = 0; p < g.k; ++p) arow[std::size_t(p)] = a_at(rows[r], p);
      std::vector<double> s(std::size_t(g.n), 0.0), s_abs(std::size_t(g.n), 0.0);
      for (int p = 0; p < g.k; ++p)
        for (int j = 0; j < g.n; ++j) {
          const double prod = arow[std::size_t(p)] * b_at(p, j);
          s[std::size_t(j)] += prod;
          s_abs[std::size_t(j)] += std::fabs(prod);
        }
      for (int j = 0; j < g.n; ++j) {
        ref[r * std::size_t(g.n) + std::size_t(j)] = s[std::size_t(j)];
        bound[r * std::size_t(g.n) + std::size_t(j)] = (g.k + 2) * u * s_abs[std::size_t(j)] + 1e-30;
      }
    }
  }

  /// Checks C (host copy, fp32, ldc = n) on the sampled rows; returns "" or what failed.
  std::string check(const std::vector<float>& c) const {
    std::int64_t bad = 0;
    std::string first;
    for (std::size_t r = 0; r < rows.size(); ++r)
      for (int j = 0; j < g.n; ++j) {
        const double got = c[std::size_t(rows[r]) * std::size_t(g.n) + std::size_t(j)];
        const double want = ref[r * std::size_t(g.n) + std::size_t(j)];
        const double lim = bound[r * std::size_t(g.n) + std::size_t(j)];
        if (!std::isfinite(got) || !(std::fabs(got - want) <= lim)) {
          if (bad++ == 0) {
            std::ostringstream s;
            s << "C[" << rows[r] << "][" << j << "] = " << got << ", reference " << want << ", bound " << lim;
            first = s.str();
          }
        }
      }
    return bad ? std::to_string(bad) + " bad elements in the sampled rows, first " + first : "";
  }
};

struct Result {
  std::string kernel;
  double seconds = 0;  // median
  double best = 0;     // min
  bool valid = true;
  std::string error;
};

void report(const Options& o, const Problem& p, Backend backend, const std::string& machine,
            const std::vector<Result>& results, const std::string& baseline,
            std::optional<JsonlWriter>& log) {
  double base_s = 0;
  for (const auto& r : results)
    if (r.kernel == baseline && r.valid) base_s = r.seconds;
  const bool tera = backend == Backend::cuda;
  std::printf("\n%-16s %12s %12s %12s\n", "kernel", "median ms", tera ? "TFLOP/s" : "GFLOP/s",
              ("% of " + baseline).c_str());
  const double flops = gemm_flops(p.g);
  const std::string date = utc_now();
  for (const auto& r : results) {
    if (!r.valid) {
      std::printf("%-16s %s\n", r.kernel.c_str(), ("INVALID: " + r.error).c_str());
    } else {
      const double rate = flops / r.seconds / (tera ? 1e12 : 1e9);
      const double pct = base_s > 0 ? 100.0 * base_s / r.seconds : 0.0;
      std::printf("%-16s %12.3f %12.2f %11.1f%%\n", r.kernel.c_str(), r.seconds * 1e3, rate, pct);
    }
    if (log) {
      nlohmann::json j = {{"program", "ch02_gemm_bench"}, {"backend", std::string(to_string(backend))},
                          {"machine", machine}, {"date", date}, {"kernel", r.kernel},
                          {"m", p.g.m}, {"n", p.g.n}, {"k", p.g.k}, {"layout", o.layout},
                          {"dtype", o.dtype}, {"out", "f32"}, {"valid", r.valid},
                          {"baseline", baseline}};
      if (r.valid) {
        j["median_ms"] = r.seconds * 1e3;
        j["min_ms"] = r.best * 1e3;
        j["gflops"] = flops / r.seconds / 1e9;
        j["pct_of_baseline"] = base_s > 0 ? 100.0 * base_s / r.seconds : 0.0;
      } else {
        j["error"] = r.error;
      }
      log->write(j);
    }
  }
}

std::vector<GemmKernel> parse_kernels(const std::string& list) {
  std::vector<GemmKernel> out;
  if (list == "all") {
    for (int i = 1; i <= 6; ++i) out.push_back(static_cast<GemmKernel>(i));
    return out;
  }
  std::stringstream s(list);
  std::string item;
  while (std::getline(s, item, ',')) out.push_back(parse_gemm_kernel(item));
  return out;
}

// ---- cpu: the cpu GEMM against OpenBLAS sgemm on the same fp32 values ---------------------

void run_cpu(const Options& o, Problem& p, std::optional<JsonlWriter>& log) {
  const int warmup = o.warmup >= 0 ? o.warmup : 2, repeats = o.repeats > 0 ? o.repeats : 7;
  const std::string machine = cpu_description();
  std::printf("cpu: %s\n", machine.c_str());
  std::vector<float> c(std::size_t(p.g.m) * std::size_t(p.g.n));
  std::vector<Result> results;

  GemmArgs g = p.g;
  g.a = p.a16.data();
  g.b = p.b16.data();
  g.c = c.data();
  auto cpu_gemm = [&] { gemm(Backend::cpu, g); };
  auto sgemm = [&] {
    cblas_sgemm(CblasRowMajor, g.op_a == Op::N ? CblasNoTrans : CblasTrans,
                g.op_b == Op::N ? CblasNoTrans : CblasTrans, g.m, g.n, g.k, 1.0f, p.a32.data(),
                int(g.lda), p.b32.data(), int(g.ldb), 0.0f, c.data(), g.n);
  };
  // Validate both, then time them interleaved (sgemm, cpu GEMM, sgemm, ...): on a shared
  // or throttling machine the load changes from second to second, and alternating runs
  // expose both to the same conditions.
  const std::pair<std::string, std::function<void()>> work[2] = {{"openblas_sgemm", sgemm}, {"cpu_gemm", cpu_gemm}};
  std::vector<double> runs[2];
  for (const auto& [name, fn] : work) {
    Result r;
    r.kernel = name;
    std::fill(c.begin(), c.end(), std::nanf(""));
    fn();
    r.error = p.check(c);
    r.valid = r.error.empty();
    results.push_back(r);
  }
  if (results[0].valid && results[1].valid) {
    for (int i = 0; i < warmup; ++i) sgemm(), cpu_gemm();
    for (int i = 0; i < repeats; ++i)
      for (int w = 0; w < 2; ++w) {
        WallTimer timer;
        work[w].second();
        runs[w].push_back(timer.seconds());
      }
    for (int w = 0; w < 2; ++w) {
      std::sort(runs[w].begin(), runs[w].end());
      results[std::size_t(w)].seconds = runs[w][runs[w].size() / 2];
      results[std::size_t(w)].best = runs[w].front();
    }
  }
  report(o, p, Backend::cpu, machine, results, "openblas_sgemm", log);
  if (results[0].valid && results[1].valid)
    std::printf("\ncpu GEMM (conversions included) vs OpenBLAS sgemm: %.1f%% by medians, %.1f%% by best runs "
                "(target 80%%)\n",
                100.0 * results[0].seconds / results[1].seconds, 100.0 * results[0].best / results[1].best);
}

// ---- emu: the ladder under the emulator ----------------------------------------------------

void run_emu(const Options& o, Problem& p, std::optional<JsonlWriter>& log) {
  const int warmup = o.warmup >= 0 ? o.warmup : 0, repeats = o.repeats > 0 ? o.repeats : 1;
  const std::string machine = cpu_description() + " (SIMT emulator)";
  std::printf("emu: %s; times measure the emulator, not a GPU\n", machine.c_str());
  std::vector<float> c(std::size_t(p.g.m) * std::size_t(p.g.n));
  std::vector<Result> results;
  GemmArgs g = p.g;
  g.a = p.a16.data();
  g.b = p.b16.data();
  g.c = c.data();
  for (GemmKernel kern : parse_kernels(o.kernels)) {
    Result r;
    r.kernel = std::string(to_string(kern));
    std::fill(c.begin(), c.end(), std::nanf(""));
    try {
      gemm(Backend::emu, g, kern);
      r.error = p.check(c);
    } catch (const Error& e) {
      r.error = e.what();
    }
    r.valid = r.error.empty();
    if (r.valid) {
      const Timing t = time_repeated([&] { gemm(Backend::emu, g, kern); }, warmup, repeats, Backend::emu);
      r.seconds = t.median;
      r.best = t.min;
    }
    std::printf("  %-14s %s\n", r.kernel.c_str(), r.valid ? "valid" : r.error.c_str());
    results.push_back(r);
  }
  Result host;
  host.kernel = "cpu_gemm";
  const Timing t = time_repeated([&] { gemm(Backend::cpu, g); }, 1, 5, Backend::cpu);
  host.seconds = t.median;
  host.best = t.min;
  results.push_back(host);
  report(o, p, Backend::emu, machine, results, "cpu_gemm", log);
}

// ---- cuda: the ladder against cuBLAS ---------------------------------------------------------

#if HALFWAY_HAVE_CUDA
void cublas_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string("cuBLAS ") + what + " failed with status " + std::to_string(int(s)));
}

void run_cuda(const Options& o, Problem& p, std::optional<JsonlWriter>& log) {
  const int warmup = o.warmup >= 0 ? o.warmup : 2, repeats = o.repeats > 0 ? o.repeats : 10;
  const std::string machine = gpu_description();
  std::printf("cuda: %s\n", machine.c_str());
  const std::size_t c_count = std::size_t(p.g.m) * std::size_t(p.g.n);
  const Buf<std::uint16_t> da = device_copy(Backend::cuda, p.a16), db = device_copy(Backend::cuda, p.b16);
  Buf<float> dc, flush;
  dc.get(c_count, Backend::cuda);
  flush.get(std::size_t(64) << 20, Backend::cuda);  // 256 MiB
  GemmArgs g = p.g;
  g.a = da.data();
  g.b = db.data();
  g.c = dc.data();

  cublasHandle_t handle;
  cublas_check(cublasCreate(&handle), "create");
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  auto cublas = [&] {
    const float alpha = 1.0f, beta = 0.0f;
    const cudaDataType_t t = g.in == DType::f16 ? CUDA_R_16F : CUDA_R_16BF;
    cublas_check(cublasGemmEx(handle, g.op_b == Op::N ? CUBLAS_OP_N : CUBLAS_OP_T,
                              g.op_a == Op::N ? CUBLAS_OP_N : CUBLAS_OP_T, g.n, g.m, g.k, &alpha, g.b, t,
                              int(g.ldb), g.a, t, int(g.lda), &beta, g.c, CUDA_R_32F, int(g.ldc),
                              CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "GemmEx");
  };

  auto time_gpu = [&](const std::function<void()>& work, Result& r) {
    for (int i = 0; i < warmup; ++i) work();
    std::vector<double> runs;
    GpuTimer timer;
    for (int i = 0; i < repeats; ++i) {
      // Flush L2 (50 MB on an H200) by writing 256 MiB, so each run starts from HBM.
      HALFWAY_CUDA_CHECK(cudaMemsetAsync(flush.data(), i & 0xff, flush.bytes()));
      timer.start();
      work();
      runs.push_back(timer.stop());
    }
    std::sort(runs.begin(), runs.end());
    r.seconds = runs[runs.size() / 2];
    r.best = runs.front();
  };

  std::vector<Result> results;
  std::vector<std::pair<std::string, std::function<void()>>> work;
  work.emplace_back("cublas", cublas);
  bool with_best = false;
  for (GemmKernel kern : parse_kernels(o.kernels)) {
    work.emplace_back(std::string(to_string(kern)), [&g, kern] { gemm(Backend::cuda, g, kern); });
    with_best = with_best || kern == GemmKernel::wmma_best || kern == GemmKernel::best;
  }
  // Kernel 6's other tile shapes (f16, NN): which one wins depends on the GPU.
  if (with_best && g.in == DType::f16 && g.op_a == Op::N && g.op_b == Op::N) {
    for (int v = 1; v < 4; ++v) {
      std::printf("  wmma_best_v%d = %s\n", v, kGemmBestVariants[v]);
      work.emplace_back("wmma_best_v" + std::to_string(v), [&g, v] { gemm_best_variant(Backend::cuda, g, v); });
    }
  }
  for (auto& [name, fn] : work) {
    Result r;
    r.kernel = name;
    try {
      HALFWAY_CUDA_CHECK(cudaMemset(dc.data(), 0xff, dc.bytes()));  // NaN everywhere
      fn();
      gpu::synchronize();
      r.error = p.check(dc.host(c_count));
      r.valid = r.error.empty();
      if (r.valid) time_gpu(fn, r);
    } catch (const Error& e) {
      r.valid = false;
      r.error = e.what();
    }
    std::printf("  %-14s %s\n", name.c_str(), r.valid ? "valid" : r.error.c_str());
    std::fflush(stdout);
    results.push_back(r);
  }
  cublasDestroy(handle);
  report(o, p, Backend::cuda, machine, results, "cublas", log);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 02: validates and times the GEMM kernel ladder (cuda: against cuBLAS; "
               "cpu: the cpu GEMM against OpenBLAS sgemm; emu: the ladder under the emulator)"};
  Options o;
  halfway::add_backend_option(app, o.backend);
  app.add_option("-s,--size", o.size, "square size M = N = K (default: cuda 4096, cpu 1024, emu 128)")
      ->check(CLI::PositiveNumber);
  app.add_option("--m", o.m, "M (overrides --size)")->check(CLI::PositiveNumber);
  app.add_option("--n", o.n, "N (overrides --size)")->check(CLI::PositiveNumber);
  app.add_option("--k", o.k, "K (overrides --size)")->check(CLI::PositiveNumber);
  app.add_option("--layout", o.layout, "op(A) op(B): NN, NT, TN or TT")
      ->check(CLI::IsMember({"NN", "NT", "TN", "TT"}));
  app.add_option("--dtype", o.dtype, "input type: f16 or bf16")->check(CLI::IsMember({"f16", "bf16"}));
  app.add_option("--kernels", o.kernels, "kernels of the ladder, e.g. 4,5,6 or wmma_best (default all; cuda, emu)");
  app.add_option("--repeats", o.repeats, "timed runs (default: cuda 10, cpu 7, emu 1)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed runs first (default: cuda 2, cpu 2, emu 0)")
      ->check(CLI::NonNegativeNumber);
  halfway::add_log_option(app, o.log, "one JSON record per kernel");
  return halfway::run_program(argc, argv, app, [&] {
    const Backend backend = select_backend(o.backend);
    const int def = backend == Backend::cuda ? 4096 : backend == Backend::cpu ? 1024 : 128;
    const int base = o.size > 0 ? o.size : def;
    const int m = o.m > 0 ? o.m : base, n = o.n > 0 ? o.n : base, k = o.k > 0 ? o.k : base;
    if (backend != Backend::cpu) parse_kernels(o.kernels);  // a bad name exits 2 before the work
    std::printf("GEMM %dx%dx%d, %s, %s inputs, fp32 accumulation and output\n", m, n, k, o.layout.c_str(),
                o.dtype.c_str());
    Problem p(o.layout[0] == 'N' ? Op::N : Op::T, o.layout[1] == 'N' ? Op::N : Op::T, m, n, k,
              o.dtype == "f16" ? DType::f16 : DType::bf16);
    std::optional<JsonlWriter> log;
    if (!o.log.empty()) log.emplace(o.log);
    switch (backend) {
      case Backend::cpu: run_cpu(o, p, log); break;
      case Backend::emu: run_emu(o, p, log); break;
      case Backend::cuda:
#if HALFWAY_HAVE_CUDA
        run_cuda(o, p, log);
#else
        no_cuda_build("ch02_gemm_bench --backend cuda");
#endif
        break;
    }
  });
}
