// The communicator every chapter-08 test shares: MPI's when the binary runs under mpirun
// (ctest runs it with -np 2, 3 and 4), the size-1 one when it runs alone.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/rng.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/dist/communicator.hpp"
#include "kernels/fp16/convert_array.hpp"

namespace halfway::dist::testing {

inline Communicator& world() {
  static const std::unique_ptr<Communicator> comm = make_communicator(Backend::cpu);
  return *comm;
}

/// n values that differ on every rank: small integers (sums exact in float) when `exact`,
/// else uniform in [-1, 1).
inline std::vector<float> rank_values(std::int64_t n, int rank, bool exact, std::uint64_t seed = 8) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const float u = rng::uniform(seed + std::uint64_t(rank) * 1000003u, std::uint64_t(i));
    v[std::size_t(i)] = exact ? float(int(u * 200.0f) - 100) : 2.0f * u - 1.0f;
  }
  return v;
}

/// True on every rank when `ok` holds on every rank (a min over the ranks).
inline bool on_every_rank(bool ok) {
  float flag = ok ? 1.0f : 0.0f, neg = -flag;
  world().all_reduce(&neg, 1, ReduceOp::max);
  return -neg == 1.0f;
}

/// The gradient storage and wire types halfway-train combines (--grad-storage, --comm-dtype):
/// fp32 gradients on every wire, 16-bit ones on an fp32 wire and on their own type.
struct StorageWire {
  DType storage, wire;
  std::string name() const { return std::string(to_string(storage)) + " on " + std::string(to_string(wire)); }
};
inline std::vector<StorageWire> storage_wire_pairs() {
  return {{DType::f32, DType::f32},  {DType::f32, DType::f16}, {DType::f32, DType::bf16}, {DType::f16, DType::f32},
          {DType::f16, DType::f16},  {DType::bf16, DType::f32}, {DType::bf16, DType::bf16}};
}

/// A host gradient buffer of `storage` type holding rank_values (rounded to 16 bits there).
struct TestGrads {
  DType dtype = DType::f32;
  std::vector<float> f32;
  std::vector<std::uint16_t> w16;
  TestGrads(DType storage, std::int64_t n, int rank, std::uint64_t seed) : dtype(storage), f32(rank_values(n, rank, false, seed)) {
    if (storage == DType::f32) return;
    w16.resize(f32.size());
    convert_from_f32(storage, f32.data(), w16.data(), n);
    f32.clear();
  }
  amp::GradBuffer buffer() {
    if (dtype == DType::f32) return {Backend::cpu, dtype, f32.data(), std::int64_t(f32.size())};
    return {Backend::cpu, dtype, w16.data(), std::int64_t(w16.size())};
  }
  bool same_bits(const TestGrads& o) const {
    return dtype == o.dtype && f32.size() == o.f32.size() && w16 == o.w16 &&
           (f32.empty() || std::memcmp(f32.data(), o.f32.data(), f32.size() * sizeof(float)) == 0);
  }
};

}  // namespace halfway::dist::testing
