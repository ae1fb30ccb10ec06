/// @file atomics.hpp
/// @brief CUDA's atomic functions, through the compiler's __atomic builtins.
///
/// The emulator runs one CUDA thread at a time, so plain code would give the same values;
/// the builtins are there for the race checker: TSan sees these accesses as atomic (and
/// CUDA's atomics as relaxed: they order nothing else), so racing atomics are not reported
/// while a plain `*p += v` from two threads is. Each returns the old value.
#pragma once

#include <type_traits>

#include "common/emu/half.hpp"

namespace halfway::simt {
namespace detail {

// Read-modify-write by compare-and-swap on the object's bytes (any 2/4/8-byte type).
template <class T, class F>
T atomic_update(T* p, F f) {
  T old;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  T desired;
  do {
    desired = f(old);
  } while (!__atomic_compare_exchange(p, &old, &desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return old;
}

}  // namespace detail

#define HALFWAY_EMU_ATOMIC_INT(T)                                                                                \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }                         \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }                         \
  inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }                         \
  inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }                           \
  inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }                         \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }                       \
  inline T atomicMax(T* p, T v) {                                                                              \
    return detail::atomic_update(p, [v](T old) { return old < v ? v : old; });                                 \
  }                                                                                                            \
  inline T atomicMin(T* p, T v) {                                                                              \
    return detail::atomic_update(p, [v](T old) { return v < old ? v : old; });                                 \
  }                                                                                                            \
  inline T atomicCAS(T* p, T compare, T v) {                                                                   \
    __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);                    \
    return compare; /* the old value, whether or not it matched */                                             \
  }

HALFWAY_EMU_ATOMIC_INT(int)
HALFWAY_EMU_ATOMIC_INT(unsigned)
HALFWAY_EMU_ATOMIC_INT(unsigned long long)
HALFWAY_EMU_ATOMIC_INT(long long)
#undef HALFWAY_EMU_ATOMIC_INT

inline unsigned short atomicCAS(unsigned short* p, unsigned short compare, unsigned short v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;
}

/// ((old >= v) ? 0 : old + 1), as CUDA defines it.
inline unsigned atomicInc(unsigned* p, unsigned v) {
  return detail::atomic_update(p, [v](unsigned old) { return old >= v ? 0u : old + 1u; });
}
/// ((old == 0 || old > v) ? v : old - 1).
inline unsigned atomicDec(unsigned* p, unsigned v) {
  return detail::atomic_update(p, [v](unsigned old) { return (old == 0 || old > v) ? v : old - 1u; });
}

inline float atomicAdd(float* p, float v) {
  return detail::atomic_update(p, [v](float old) { return old + v; });
}
inline double atomicAdd(double* p, double v) {
  return detail::atomic_update(p, [v](double old) { return old + v; });
}
inline float atomicExch(float* p, float v) {
  float old;
  __atomic_exchange(p, &v, &old, __ATOMIC_RELAXED);
  return old;
}
inline __half atomicAdd(__half* p, __half v) {
  return detail::atomic_update(p, [v](__half old) { return __hadd(old, v); });
}
inline __half2 atomicAdd(__half2* p, __half2 v) {
  return detail::atomic_update(p, [v](__half2 old) { return __hadd2(old, v); });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* p, __nv_bfloat16 v) {
  return detail::atomic_update(p, [v](__nv_bfloat16 old) { return __hadd(old, v); });
}
inline __nv_bfloat162 atomicAdd(__nv_bfloat162* p, __nv_bfloat162 v) {
  return detail::atomic_update(p, [v](__nv_bfloat162 old) { return __hadd2(old, v); });
}

// Block- and system-scope variants: one block runs at a time, so the scope changes nothing.
#define HALFWAY_EMU_ATOMIC_SCOPES(name)                   \
  template <class T, class... A>                          \
  auto name##_block(T* p, A... a) {                       \
    return name(p, a...);                                 \
  }                                                       \
  template <class T, class... A>                          \
  auto name##_system(T* p, A... a) {                      \
    return name(p, a...);                                 \
  }
HALFWAY_EMU_ATOMIC_SCOPES(atomicAdd)
HALFWAY_EMU_ATOMIC_SCOPES(atomicSub)
HALFWAY_EMU_ATOMIC_SCOPES(atomicMax)
HALFWAY_EMU_ATOMIC_SCOPES(atomicMin)
HALFWAY_EMU_ATOMIC_SCOPES(atomicExch)
HALFWAY_EMU_ATOMIC_SCOPES(atomicCAS)
HALFWAY_EMU_ATOMIC_SCOPES(atomicAnd)
HALFWAY_EMU_ATOMIC_SCOPES(atomicOr)
HALFWAY_EMU_ATOMIC_SCOPES(atomicXor)
#undef HALFWAY_EMU_ATOMIC_SCOPES

}  // namespace halfway::simt
