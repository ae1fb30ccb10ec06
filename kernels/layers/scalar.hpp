/// @file scalar.hpp
/// @brief Storage type S and accumulation type A of chapter 03's layers, usable from host
/// code and from kernels alike.
///
/// S is what a layer stores (activations, gradients, GEMM inputs): double (for the
/// finite-difference tests only), float (fp32 mode), halfway::half or halfway::bfloat16
/// (mixed mode). A = `acc_t<S>` is what every sum, statistic and parameter gradient is
/// computed in: double for double, float for the others.
#pragma once

#include <type_traits>

#include "common/hd.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway::layers {

/// The accumulation type of a storage type: double for double, float for the rest.
template <class S>
using acc_t = std::conditional_t<std::is_same_v<S, double>, double, float>;

/// True for the 16-bit storage types (mixed mode).
template <class S>
inline constexpr bool is_16bit_v = std::is_same_v<S, half> || std::is_same_v<S, bfloat16>;

/// Loads a stored value into the accumulation type (exact).
template <class S>
HALFWAY_HD_INLINE acc_t<S> ld(S v) {
  return static_cast<acc_t<S>>(v);
}
/// Stores a value: the one place a value is rounded to the storage type (round to nearest
/// even; beyond fp16's 65504 that is +-inf).
template <class S>
HALFWAY_HD_INLINE S st(acc_t<S> v) {
  return static_cast<S>(v);
}

}  // namespace halfway::layers
