// ch03_bench: forward+backward of one encoder layer and one decoder layer at the trainer's
// shapes (batch 32, ~10 tokens, d_model 128, 4 heads, feed-forward 2048, dropout 0.1, training
// mode), per backend and precision, and PyTorch's CPU time for the same layer in the same run
// (pytorch_reference.py bench), with the ratio. Backends: cpu by default, plus cuda where a
// GPU is usable; emu on request (--backend emu, slow: use a small --batch). PyTorch runs
// on as many threads as we do (OpenMP's count) unless --torch-threads says otherwise: a
// speedup between different thread counts would measure the threads, not the code.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

extern "C" char* openblas_get_corename(void);  // OpenBLAS (its cblas.h typedefs bfloat16)
extern "C" int openblas_get_num_threads(void);
#include <omp.h>

#include <nlohmann/json.hpp>

#include "kernels/layers/transformer.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"
#include "common/rng.hpp"
#include "common/timer.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

struct Options {
  int batch = 32, length = 10, warmup = 3, repeats = 20;
  bool torch = true;
  int torch_threads = -1;  // -1: ours (omp_get_max_threads()); 0: PyTorch's own default
  std::vector<std::string> precisions = {"fp32", "fp16", "bf16"};
  std::vector<std::string> backends;  // empty: cpu, and cuda when usable
  std::string csv;
};

template <class S>
std::vector<S> random_s(std::size_t n, std::uint64_t seed) {
  std::vector<S> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = st<S>(acc_t<S>(rng::normal(seed, i)));
  return v;
}

// A host vector copied into the layers' memory (of the current BackendScope).
template <class T>
struct Uploaded {
  Buf<T> buf;
  explicit Uploaded(const std::vector<T>& v) { copy_in(buf.get(v.size()), v.data(), v.size() * sizeof(T)); }
  const T* data() const { return buf.data(); }
};

// Median seconds of forward+backward of one layer of kind `layer` in storage type S on
// `backend` (on cuda each run ends with a device synchronize: kernel wrappers do not wait,
// so without it the wall clock would time the launches, not the kernels).
template <class S>
Timing time_layer(const std::string& layer, const Options& o, Backend backend) {
  BackendScope scope(backend);
  Config c;  // d_model 128, 4 heads, d_ff 2048, dropout 0.1, ReLU, post-LN
  const int B = o.batch, L = o.length, D = c.d_model;
  const Uploaded<S> x(random_s<S>(std::size_t(B) * L * D, 1));
  const Uploaded<S> mem(random_s<S>(std::size_t(B) * L * D, 2));
  const Uploaded<S> dy(random_s<S>(std::size_t(B) * L * D, 3));
  const Uploaded<std::uint8_t> pad(std::vector<std::uint8_t>(std::size_t(B) * L, 0));
  RunState run{true, 7, 0};
  if (layer == "encoder") {
    auto l = std::make_unique<EncoderLayer<S>>("enc.", c);
    ParamList<S> ps;
    l->collect(ps);
    ParamStore<S> store(ps);  // weights 0 (LayerNorm's gamma 1): timing does not depend on them
    return time_repeated([&] {
      ++run.step;
      l->forward(x.data(), B, L, pad.data(), run);
      l->backward(dy.data());
      synchronize(backend);  // emu queues its launches too (async mode): time the work, not the queueing
    }, o.warmup, o.repeats);
  }
  auto l = std::make_unique<DecoderLayer<S>>("dec.", c);
  ParamList<S> ps;
  l->collect(ps);
  ParamStore<S> store(ps);
  return time_repeated([&] {
    ++run.step;
    l->forward(x.data(), mem.data(), B, L, L, pad.data(), pad.data(), run);
    l->backward(dy.data());
    synchronize(backend);
  }, o.warmup, o.repeats);
}

// PyTorch's median milliseconds for the same layer, or nothing when torch is unavailable.
struct TorchTime {
  double median_ms, min_ms;
  int threads;
};
std::optional<TorchTime> torch_ms(const std::string& layer, const Options& o) {
  const std::string cmd = std::string("\"") + HALFWAY_PYTHON + "\" \"" + HALFWAY_CH03_TORCH_SCRIPT +
                          "\" bench --layer " + layer + " --batch " + std::to_string(o.batch) +
                          " --length " + std::to_string(o.length) + " --warmup " + std::to_string(o.warmup) +
                          " --repeats " + std::to_string(o.repeats) +
                          " --threads " + std::to_string(o.torch_threads) + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe.get())) out += buf;
  try {
    const auto j = nlohmann::json::parse(out);
    return TorchTime{j.at("median_ms").get<double>(), j.at("min_ms").get<double>(), j.at("threads").get<int>()};
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 03: forward+backward of one encoder and one decoder layer, per backend, against PyTorch"};
  Options o;
  app.add_option("--batch", o.batch, "sequences per batch")->check(CLI::Range(1, 4096));
  app.add_option("--length", o.length, "tokens per sequence")->check(CLI::Range(1, 512));
  app.add_option("--warmup", o.warmup, "untimed runs first")->check(CLI::Range(0, 1000));
  app.add_option("--repeats", o.repeats, "timed runs (the median is reported)")->check(CLI::Range(1, 10000));
  app.add_flag("!--no-torch", o.torch, "do not run PyTorch's timing");
  app.add_option("--precision", o.precisions, "fp32, fp16, bf16 (repeatable)")->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  app.add_option("--torch-threads", o.torch_threads,
                 "PyTorch's threads (default: ours, OpenMP's thread count; 0: PyTorch's own default)")
      ->check(CLI::Range(0, 256));
  app.add_option("--csv", o.csv, "write the timings to this CSV file");
  app.add_option("--backend", o.backends, "cpu, emu, cuda (repeatable; default: cpu, and cuda when a GPU is usable)")
      ->check(CLI::IsMember({"cpu", "emu", "cuda"}));
  return run_program(argc, argv, app, [&] {
    if (o.torch_threads < 0) o.torch_threads = omp_get_max_threads();
    const int threads = omp_get_max_threads();
    std::vector<Backend> backends;
    for (const auto& b : o.backends) backends.push_back(select_backend(b));  // cuda without a GPU: an Error
    if (backends.empty()) {
      backends.push_back(Backend::cpu);
      if (gpu_usable()) backends.push_back(Backend::cuda);
    }
    std::unique_ptr<CsvWriter> csv;
    if (!o.csv.empty())
      csv = std::make_unique<CsvWriter>(o.csv, std::vector<std::string>{"layer", "backend", "precision", "median_ms", "min_ms", "torch_median_ms",
                                                                   "speedup_vs_torch", "threads", "torch_threads"});
    std::printf("forward+backward, batch %d, length %d, d_model 128, 4 heads, d_ff 2048, dropout 0.1 (median of %d)\n",
                o.batch, o.length, o.repeats);
    // OpenBLAS picks its kernels from the CPU's model; in a VM with a generic model name it
    // may fall back to old SSE3 ("Prescott") kernels: OPENBLAS_CORETYPE=Haswell (or
    // SkylakeX) then gives the AVX2 (AVX-512) ones, to us and to PyTorch (the same library).
    std::printf("OpenBLAS core: %s; threads: ours %d (OpenMP; OpenBLAS %d), PyTorch %s\n", openblas_get_corename(),
                threads, openblas_get_num_threads(),
                o.torch_threads > 0 ? std::to_string(o.torch_threads).c_str() : "its default");
    std::printf("%-8s %-8s %-6s %10s %10s %10s %8s %8s %4s %9s\n", "layer", "backend", "prec", "median ms", "min ms",
                "torch ms", "speedup", "(mins)", "thr", "torch thr");
    for (const std::string layer : {"encoder", "decoder"}) {
      const auto tt = o.torch ? torch_ms(layer, o) : std::nullopt;
      const std::optional<double> t = tt ? std::optional<double>(tt->median_ms) : std::nullopt;
      if (tt) std::printf("(PyTorch %s layer: %d threads, min %.2f ms)\n", layer.c_str(), tt->threads, tt->min_ms);
      const auto line = [&](Backend backend, const char* prec, const Timing& tm) {
        const double ms = tm.median * 1e3;
        const double ratio = t ? *t / ms : 0.0;
        const std::string be(to_string(backend));
        if (t) std::printf("%-8s %-8s %-6s %10.2f %10.2f %10.2f %7.2fx %7.2fx %4d %9d\n", layer.c_str(), be.c_str(), prec, ms,
                           tm.min * 1e3, *t, ratio, tt->min_ms / (tm.min * 1e3), threads, tt->threads);
        else std::printf("%-8s %-8s %-6s %10.2f %10.2f %10s %8s %8s %4d %9s\n", layer.c_str(), be.c_str(), prec, ms,
                         tm.min * 1e3, "-", "-", "-", threads, "-");
        if (csv) csv->row(layer, be, std::string(prec), ms, tm.min * 1e3, t ? *t : -1.0, ratio, threads, tt ? tt->threads : -1);
      };
      const auto want = [&](const char* p) {
        return std::find(o.precisions.begin(), o.precisions.end(), p) != o.precisions.end();
      };
      for (const Backend b : backends) {
        if (want("fp32")) line(b, "fp32", time_layer<float>(layer, o, b));
        if (want("fp16")) line(b, "fp16", time_layer<half>(layer, o, b));
        if (want("bf16")) line(b, "bf16", time_layer<bfloat16>(layer, o, b));
      }
    }
    if (!o.torch) std::printf("(PyTorch not run: --no-torch)\n");
  });
}
