// ch07_memory: what a training step of the seed's model holds in memory, by use and by
// precision mode, read from the allocator (kernels/train/memory_report.hpp): parameters,
// gradients, Adam's moments, the forward's activations, backward's buffers. The lesson's
// memory figure (plots/ch07_memory.py) draws its CSV.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/log.hpp"
#include "kernels/train/memory_report.hpp"

using namespace halfway;
using namespace halfway::train;

namespace {

struct Mode {
  const char* name;
  const char* precision;
  optim::MasterMode master;
  layers::GradType grads;
};

double mib(long long b) { return double(b) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 07: the memory of a training step by use (parameters, gradients, Adam's moments, activations,\n"
               "backward's buffers) in each precision mode, from the allocator"};
  std::string size = "seed", backend = "cpu", csv_path;
  int batch = 32, steps = 2;
  add_backend_option(app, backend);
  app.add_option("--size", size, "model: tiny, seed or base")->check(CLI::IsMember({"tiny", "seed", "base"}))->capture_default_str();
  app.add_option("--batch", batch, "numbers per batch")->check(CLI::Range(1, 800))->capture_default_str();
  app.add_option("--steps", steps, "steps before reading the allocator")->check(CLI::Range(1, 1000))->capture_default_str();
  add_log_option(app, csv_path, "the table (one row per mode, bytes per use)", "--csv");
  return run_program(argc, argv, app, [&] {
    const std::vector<Mode> modes = {
        {"fp32", "fp32", optim::MasterMode::master, layers::GradType::fp32},
        {"fp16 + fp32 masters", "fp16", optim::MasterMode::master, layers::GradType::fp32},
        {"bf16 + fp32 masters", "bf16", optim::MasterMode::master, layers::GradType::fp32},
        {"fp16 without masters", "fp16", optim::MasterMode::none, layers::GradType::fp32},
        {"fp16 + 16-bit gradients", "fp16", optim::MasterMode::master, layers::GradType::storage},
    };
    std::unique_ptr<CsvWriter> csv;
    if (!csv_path.empty())
      csv = std::make_unique<CsvWriter>(csv_path, std::vector<std::string>{
          "mode", "parameters", "masters_bytes", "working_bytes", "gradients_bytes",
          "optimizer_state_bytes", "activations_bytes", "forward_workspace_bytes", "backward_bytes", "other_bytes", "total_bytes"});
    std::printf("memory held after %d training steps, batch %d, model %s, on %s (the allocator's count per use; MiB)\n",
                steps, batch, size.c_str(), backend.c_str());
    std::printf("%-24s %8s %8s %8s %8s %8s %8s %8s %8s %8s | %8s %8s\n", "mode", "masters", "working", "grads",
                "adam m,v", "activ.", "fwd ws", "backward", "other", "total", "B/param", "w/o act.");
    for (const Mode& m : modes) {
      TrainerOptions o;
      o.backend = select_backend(backend);
      o.model = model_preset(size);
      o.batch = batch;
      o.master = m.master;
      o.grad_storage = m.grads;
      o.scaler = parse_loss_scaling("auto", std::string(m.precision) == "fp16");
      const MemoryBreakdown r = measure_memory(m.precision, o, steps);
      const long long params = r.of(MemoryUse::parameters);
      // The allocator's count of the parameters must be the store's own (chapter 03's): a
      // check that every buffer the report names is the one it thinks.
      if (params != static_cast<long long>(r.store_masters + r.store_working) ||
          r.of(MemoryUse::gradients) != static_cast<long long>(r.store_grads))
        throw Error(std::string("ch07_memory: ") + m.name + ": the allocator counts " + std::to_string(params) +
                    " parameter and " + std::to_string(r.of(MemoryUse::gradients)) +
                    " gradient bytes, the parameter store " + std::to_string(r.store_masters + r.store_working) +
                    " and " + std::to_string(r.store_grads));
      const double n = double(r.parameters);
      const long long no_act = params + r.of(MemoryUse::gradients) + r.of(MemoryUse::optimizer_state);
      std::printf("%-24s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f | %8.2f %8.2f\n", m.name,
                  mib(r.store_masters), mib(r.store_working), mib(r.of(MemoryUse::gradients)),
                  mib(r.of(MemoryUse::optimizer_state)), mib(r.of(MemoryUse::activations)),
                  mib(r.of(MemoryUse::forward_workspace)), mib(r.of(MemoryUse::backward)), mib(r.of(MemoryUse::other)),
                  mib(r.total), double(r.total) / n, double(no_act) / n);
      if (csv)
        csv->row(m.name, r.parameters, r.store_masters, r.store_working, r.of(MemoryUse::gradients),
                 r.of(MemoryUse::optimizer_state), r.of(MemoryUse::activations), r.of(MemoryUse::forward_workspace),
                 r.of(MemoryUse::backward),
                 r.of(MemoryUse::other), r.total);
    }
    std::printf("(B/param: all bytes per parameter; w/o act.: parameters, gradients and Adam's state only. fp32's\n"
                " working copy is its master: one buffer. The views are padded to 128 elements each. fwd ws: the fp32\n"
                " GEMM results a 16-bit linear layer rounds its output from, one per layer, kept between steps: on\n"
                " emu and cuda only; the cpu GEMM adds the bias and rounds in its epilogue.)\n");
  });
}
