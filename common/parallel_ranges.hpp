/// @file parallel_ranges.hpp
/// @brief for_ranges: a host loop over [0, n) cut into chunks, run on OpenMP threads when
/// the caller says the work is worth it.
///
/// A loop that should vectorise belongs in a function of its own that takes its scalars by
/// value, called as body(begin, end): in an OpenMP-outlined loop body the scalars are read
/// through a pointer that stores to the arrays might alias, and the loop stays scalar
/// (Adam's host loop and ReLU's ran at a fifth and a tenth of an fp32 step that way).
#pragma once

#include <algorithm>
#include <cstdint>

namespace halfway {

template <class Body>
void for_ranges(std::int64_t n, bool threads, Body body) {
  if (!threads) return body(std::int64_t(0), n);
  constexpr std::int64_t chunk = 1 << 16;
  const std::int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
}

}  // namespace halfway
