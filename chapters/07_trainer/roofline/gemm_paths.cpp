// The GEMMs of one training step of the seed model (halfway-train's defaults: d 128, ff
// 2048, 2+2 layers, 4 heads, batch 32), timed on the cpu backend per precision and per
// path of the 16-bit GEMM (kernels/gemm/cpu_isa.hpp), on one thread. fp32 is OpenBLAS
// sgemm; the configurations alternate within each round and the median round is kept, and
// the time is the thread's cpu time: on a shared machine, waiting for a core does not count.
//
//     OPENBLAS_CORETYPE=SkylakeX build/cpu-only/bin/ch07_gemm_paths [--rounds 30]
#include <omp.h>

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/gemm/gemm.hpp"

extern "C" void openblas_set_num_threads(int);

namespace {

using halfway::Op;

struct Shape {
  Op a, b;
  int m, n, k, batch, count;
  bool out16;  // the attention's P V and its gradient write the 16-bit type
};

// Counted in halfway-train (seed 1, defaults): the products of one optimizer step.
const std::vector<Shape> kStep = {
    {Op::T, Op::N, 2048, 128, 128, 1, 2, false}, {Op::T, Op::N, 128, 2048, 128, 1, 2, false},
    {Op::N, Op::T, 128, 2048, 128, 1, 2, false}, {Op::N, Op::T, 128, 128, 2048, 1, 2, false},
    {Op::N, Op::N, 128, 2048, 128, 1, 2, false}, {Op::N, Op::N, 128, 128, 2048, 1, 2, false},
    {Op::T, Op::N, 2048, 128, 96, 1, 2, false},  {Op::T, Op::N, 128, 2048, 96, 1, 2, false},
    {Op::N, Op::T, 96, 2048, 128, 1, 2, false},  {Op::N, Op::T, 96, 128, 2048, 1, 2, false},
    {Op::N, Op::N, 96, 2048, 128, 1, 2, false},  {Op::N, Op::N, 96, 128, 2048, 1, 2, false},
    {Op::T, Op::N, 384, 128, 128, 1, 2, false},  {Op::T, Op::N, 128, 128, 128, 1, 6, false},
    {Op::N, Op::T, 128, 384, 128, 1, 2, false},  {Op::N, Op::T, 128, 128, 128, 1, 6, false},
    {Op::N, Op::N, 128, 128, 384, 1, 2, false},  {Op::N, Op::N, 128, 128, 128, 1, 6, false},
    {Op::T, Op::N, 384, 128, 96, 1, 2, false},   {Op::N, Op::T, 96, 384, 128, 1, 2, false},
    {Op::N, Op::N, 96, 128, 384, 1, 2, false},   {Op::T, Op::N, 256, 128, 96, 1, 2, false},
    {Op::N, Op::T, 96, 256, 128, 1, 2, false},   {Op::N, Op::N, 96, 128, 256, 1, 2, false},
    {Op::T, Op::N, 128, 128, 96, 1, 2, false},   {Op::N, Op::T, 96, 128, 128, 1, 2, false},
    {Op::N, Op::N, 96, 128, 128, 1, 2, false},   {Op::T, Op::N, 13, 128, 128, 1, 1, false},
    {Op::N, Op::T, 128, 13, 128, 1, 1, false},   {Op::N, Op::N, 128, 128, 13, 1, 1, false},
    {Op::T, Op::N, 4, 32, 4, 128, 4, true},      {Op::N, Op::T, 4, 4, 32, 128, 4, false},
    {Op::N, Op::N, 4, 32, 4, 128, 4, true},      {Op::T, Op::N, 3, 32, 4, 128, 4, true},
    {Op::N, Op::T, 4, 3, 32, 128, 4, false},     {Op::N, Op::N, 4, 32, 3, 128, 4, true},
    {Op::T, Op::N, 3, 32, 3, 128, 4, true},      {Op::N, Op::T, 3, 3, 32, 128, 4, false},
    {Op::N, Op::N, 3, 32, 3, 128, 4, true}};

struct Config {
  halfway::DType in;
  halfway::CpuIsa isa;  // ignored for f32 (OpenBLAS)
  std::string name;
  std::vector<double> ms;
};

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// One step's products in `c`'s precision and path; milliseconds.
double run_step(const Config& c, std::vector<float>& buf) {
  const halfway::ScopedCpuIsa isa(c.isa);
  const double t0 = thread_seconds();
  for (const Shape& s : kStep) {
    halfway::GemmArgs g = halfway::gemm_args(s.a, s.b, s.m, s.n, s.k, s.batch);
    g.in = c.in;
    g.out = s.out16 && c.in != halfway::DType::f32 ? c.in : halfway::DType::f32;
    // Inputs: small values, the same buffer for A and B (the bits do not matter for time).
    g.a = g.b = buf.data();
    g.c = buf.data() + buf.size() / 2;
    for (int r = 0; r < s.count; ++r) halfway::gemm_cpu(g);
  }
  return (thread_seconds() - t0) * 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The seed model's GEMMs of one training step on one core, per precision and cpu GEMM path"};
  int rounds = 30;
  std::string only;
  app.add_option("--rounds", rounds, "rounds (each runs every configuration once)")->check(halfway::whole_number(1));
  app.add_option("--only", only, "run only the configurations whose name contains this (and fp32), e.g. 'bf16 avx2'");
  return halfway::run_program(argc, argv, app, [&] {
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    using halfway::CpuIsa;
    using halfway::DType;
    std::vector<Config> configs = {{DType::f32, CpuIsa::generic, "fp32 (OpenBLAS)", {}}};
    for (const DType in : {DType::f16, DType::bf16})
      for (const CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::avx512bf16, CpuIsa::amx}) {
        const std::string name = std::string(halfway::to_string(in)) + " " + std::string(halfway::to_string(isa));
        if (halfway::cpu_isa_available(isa) && name.find(only) != std::string::npos) configs.push_back({in, isa, name, {}});
      }
    double flops = 0, largest = 0;
    for (const Shape& s : kStep) {
      flops += 2.0 * s.m * s.n * s.k * s.batch * s.count;
      largest = std::max(largest, (double(s.m) * s.k + double(s.k) * s.n + double(s.m) * s.n) * s.batch);
    }
    std::vector<float> buf(std::size_t(2 * largest), 0.25f);  // fp32 values, or 16-bit 0x3e80 pairs
    for (const Config& c : configs) run_step(c, buf);                 // warm-up: packed buffers grown
    for (int r = 0; r < rounds; ++r)
      for (Config& c : configs) c.ms.push_back(run_step(c, buf));
    std::printf("gemm_paths: one step's GEMMs (%.3f GFLOP, %zu shapes), 1 thread, median of %d rounds\n", flops / 1e9,
                kStep.size(), rounds);
    double base = 0;
    for (Config& c : configs) {
      std::nth_element(c.ms.begin(), c.ms.begin() + c.ms.size() / 2, c.ms.end());
      const double ms = c.ms[c.ms.size() / 2];
      if (base == 0) base = ms;
      std::printf("  %-22s %8.2f ms  %6.1f GFLOP/s  x%.2f of fp32\n", c.name.c_str(), ms, flops / ms / 1e6, ms / base);
    }
  });
}
