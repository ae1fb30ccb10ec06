// Chapter 07: the memory report (kernels/train/memory_report.hpp) against the parameter
// store's own count, and the allocator's accounting by use (common/device_memory.hpp).
#include <doctest/doctest.h>

#include "common/device_memory.hpp"
#include "kernels/train/memory_report.hpp"

using namespace halfway;
using namespace halfway::train;

namespace {

TrainerOptions tiny(optim::MasterMode master = optim::MasterMode::master,
                    layers::GradType grads = layers::GradType::fp32) {
  TrainerOptions o;
  o.model = model_preset("tiny");
  o.backend = Backend::cpu;
  o.batch = 8;
  o.steps = 4;
  o.schedule.warmup = 2;
  o.master = master;
  o.grad_storage = grads;
  return o;
}

/// The checks every mode must pass: the report's uses add up to its total, the allocator's
/// parameter and gradient bytes are the store's own, Adam keeps two fp32 values per weight,
/// and everything is given back when the trainer goes.
void check_adds_up(const std::string& precision, const MemoryBreakdown& r) {
  CAPTURE(precision);
  long long sum = 0;
  for (long long b : r.bytes) sum += b;
  CHECK(sum == r.total);
  CHECK(r.of(MemoryUse::parameters) == static_cast<long long>(r.store_masters + r.store_working));
  CHECK(r.of(MemoryUse::gradients) == static_cast<long long>(r.store_grads));
  // The store's elements (padding included): 4 bytes each in fp32 masters, else 2 in the
  // 16-bit working copies. m and v are fp32: 8 bytes an element.
  const long long elements = r.store_masters > 0 ? static_cast<long long>(r.store_masters) / 4
                                                 : static_cast<long long>(r.store_working) / 2;
  CHECK(r.of(MemoryUse::optimizer_state) == 8 * elements);
  CHECK(elements >= r.parameters);
  CHECK(r.of(MemoryUse::activations) > 0);
  CHECK(r.of(MemoryUse::backward) > 0);
  CHECK(r.parameters > 0);
}

}  // namespace

TEST_CASE("memory: a Buf counts for the use it was allocated (or grown) under, until it is freed [memory]") {
  const long long acts = held_bytes(Backend::cpu, MemoryUse::activations);
  const long long grads = held_bytes(Backend::cpu, MemoryUse::gradients);
  {
    Buf<float> b;
    {
      const MemoryUseScope use(MemoryUse::activations);
      b.get(100, Backend::cpu);
    }
    CHECK(held_bytes(Backend::cpu, MemoryUse::activations) - acts == 400);
    {
      const MemoryUseScope use(MemoryUse::gradients);
      b.get(50, Backend::cpu);  // no growth: nothing changes
      CHECK(held_bytes(Backend::cpu, MemoryUse::gradients) == grads);
      b.get(200, Backend::cpu);  // grown: the new buffer is the gradients'
    }
    CHECK(held_bytes(Backend::cpu, MemoryUse::activations) == acts);
    CHECK(held_bytes(Backend::cpu, MemoryUse::gradients) - grads == 800);
    Buf<float> moved = std::move(b);
    CHECK(held_bytes(Backend::cpu, MemoryUse::gradients) - grads == 800);
  }
  CHECK(held_bytes(Backend::cpu, MemoryUse::gradients) == grads);
}

TEST_CASE("memory: the report by use adds up and matches the parameter store, in every mode [memory]") {
  const long long before = held_bytes(Backend::cpu);
  const MemoryBreakdown f32 = measure_memory("fp32", tiny());
  check_adds_up("fp32", f32);
  CHECK(f32.store_working == 0);  // fp32: the working copy is the master
  CHECK(f32.store_grads == f32.store_masters);
  CHECK(f32.store_masters >= std::size_t(f32.parameters) * 4);  // fp32, plus each view's padding

  const MemoryBreakdown f16 = measure_memory("fp16", tiny());
  check_adds_up("fp16", f16);
  CHECK(f16.store_masters == f32.store_masters);
  CHECK(2 * f16.store_working == f16.store_masters);  // 16-bit working copies
  // The forward's activations are stored in 16 bits: fewer bytes than fp32's (fp32 scratch
  // remains, so not half).
  CHECK(f16.of(MemoryUse::activations) < f32.of(MemoryUse::activations));

  const MemoryBreakdown g16 = measure_memory("bf16", tiny(optim::MasterMode::master, layers::GradType::storage));
  check_adds_up("bf16 with 16-bit gradients", g16);
  CHECK(2 * g16.store_grads == f32.store_grads);

  CHECK(held_bytes(Backend::cpu) == before);  // every trainer's buffers were given back
}

TEST_CASE("memory: without masters (--master off or sr) the store holds no fp32 masters and saves exactly them [memory]") {
  const long long before = held_bytes(Backend::cpu);
  for (const char* precision : {"fp16", "bf16"}) {
    const MemoryBreakdown with = measure_memory(precision, tiny());
    for (const optim::MasterMode mode : {optim::MasterMode::none, optim::MasterMode::stochastic}) {
      CAPTURE(optim::to_string(mode));
      const MemoryBreakdown r = measure_memory(precision, tiny(mode));
      check_adds_up(precision, r);
      CHECK(r.store_masters == 0);
      CHECK(r.store_working == with.store_working);
      // Everything else is the same run's: the total drops by the masters' bytes, no more.
      CHECK(r.total == with.total - static_cast<long long>(with.store_masters));
      CHECK(r.of(MemoryUse::parameters) == with.of(MemoryUse::parameters) - static_cast<long long>(with.store_masters));
    }
  }

  CHECK(held_bytes(Backend::cpu) == before);  // every trainer's buffers were given back
}
