// The communicator every chapter-08 test shares: MPI's when the binary runs under mpirun
// (ctest runs it with -np 2, 3 and 4), the size-1 one when it runs alone.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/rng.hpp"
#include "kernels/dist/communicator.hpp"

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

}  // namespace halfway::dist::testing
