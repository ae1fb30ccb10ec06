#include "kernels/train/memory_report.hpp"

#include "common/error.hpp"

namespace halfway::train {

namespace {

template <class S>
MemoryBreakdown measure(const TrainerOptions& o, int steps) {
  MemoryBreakdown r;
  std::array<long long, kMemoryUses> before{};
  for (int u = 0; u < kMemoryUses; ++u) before[std::size_t(u)] = held_bytes(o.backend, MemoryUse(u));
  TrainerOptions training_only = o;
  training_only.eval_batch = 0;  // the training step's memory, not evaluation's
  Trainer<S> t(training_only);
  for (int i = 0; i < steps; ++i) t.step();
  r.parameters = t.parameter_count();
  const layers::StoreBytes b = t.store_bytes();  // the store's own count
  r.store_masters = b.masters, r.store_working = b.working, r.store_grads = b.grads, r.store_moments = b.moments;
  r.rank = o.rank, r.ranks = o.ranks;
  for (int u = 0; u < kMemoryUses; ++u) {
    r.bytes[std::size_t(u)] = held_bytes(o.backend, MemoryUse(u)) - before[std::size_t(u)];
    r.total += r.bytes[std::size_t(u)];
  }
  return r;
}

}  // namespace

MemoryBreakdown measure_memory(const std::string& precision, const TrainerOptions& o, int steps) {
  if (steps < 1) throw UsageError("expected at least 1 step to measure the memory of, found " + std::to_string(steps));
  if (precision == "fp32") return measure<float>(o, steps);
  if (precision == "fp16") return measure<half>(o, steps);
  if (precision == "bf16") return measure<bfloat16>(o, steps);
  throw UsageError("expected a precision of fp32, fp16 or bf16, found '" + precision + "'");
}

}  // namespace halfway::train
