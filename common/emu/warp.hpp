/// @file warp.hpp
/// @brief Warp-level primitives: __syncwarp, shuffles, votes, matches and reductions.
///
/// Each is a warp collective (scheduler.hpp): it completes when every lane named in
/// `mask` has reached it; the caller must be in its own mask; lanes of the same warp at
/// the same time must use identical or disjoint masks. Breaking a rule is a KernelError
/// naming the line, never a hang. The source line comes from a defaulted
/// std::source_location argument, so call sites look exactly like CUDA's.
///
/// Shuffles follow the Programming Guide at segment edges (width a power of two <= 32):
/// __shfl_sync reads lane srcLane % width of the caller's segment; __shfl_up_sync and
/// __shfl_down_sync return the caller's own value when the source falls outside its
/// segment; __shfl_xor_sync may read earlier segments but returns the caller's own value
/// when the source lies in a later one. Reading a lane that is not in the mask is
/// undefined on a GPU: the emulator returns all-ones bytes (a NaN for floating types) so
/// that using it shows. Shuffles and votes do not order memory; only __syncwarp does.
///
/// __activemask() returns the lanes of the warp that exist and had not exited when the
/// block last passed a barrier (or at the kernel's start), so the answer does not depend on
/// the thread order. On a GPU it is the set of lanes converged at the call, which the
/// emulator cannot know: use it only where those two agree (e.g. a tail warp of a block
/// whose size is not a multiple of 32, or lanes that left before a __syncthreads).
#pragma once

#include <cstring>
#include <source_location>
#include <string>
#include <type_traits>

#include "common/emu/scheduler.hpp"

namespace halfway::simt {
namespace detail {

enum class ShflMode { idx, up, down, bfly };

template <class T>
struct ShflData {
  T value;
  int arg;  // srcLane, delta or laneMask
  int width;
  T result;
};

template <ShflMode M>
constexpr const char* shfl_name() {
  return M == ShflMode::idx ? "__shfl_sync" : M == ShflMode::up ? "__shfl_up_sync"
                                          : M == ShflMode::down ? "__shfl_down_sync" : "__shfl_xor_sync";
}

// Source lane of lane l, or l itself where the Programming Guide says "own value".
template <ShflMode M>
constexpr unsigned shfl_source(unsigned l, int arg, int width) {
  const unsigned w = static_cast<unsigned>(width);
  const unsigned seg = l & ~(w - 1);
  if constexpr (M == ShflMode::idx) {
    return seg + (static_cast<unsigned>(arg) & (w - 1));
  } else if constexpr (M == ShflMode::up) {
    const unsigned d = static_cast<unsigned>(arg);
    return (l - seg) < d ? l : l - d;
  } else if constexpr (M == ShflMode::down) {
    const unsigned d = static_cast<unsigned>(arg);
    return (l - seg) + d >= w ? l : l + d;
  } else {
    const unsigned s = (l ^ static_cast<unsigned>(arg)) & 31u;
    return (s & ~(w - 1)) > seg ? l : s;
  }
}

template <class T, ShflMode M>
HALFWAY_EMU_NO_TSAN void shfl_complete(void* const* data, unsigned mask, const char*, int) {
  for (unsigned l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    auto* me = static_cast<ShflData<T>*>(data[l]);
    const unsigned s = shfl_source<M>(l, me->arg, me->width);
    if (mask >> s & 1u) me->result = static_cast<ShflData<T>*>(data[s])->value;
    else std::memset(static_cast<void*>(&me->result), 0xff, sizeof(T));  // undefined on a GPU
  }
}

template <class T, ShflMode M>
inline const WarpOpKind shfl_kind{shfl_name<M>(), &shfl_complete<T, M>};

template <class T, ShflMode M>
T shfl(unsigned mask, T var, int arg, int width, const std::source_location& loc) {
  static_assert(std::is_trivially_copyable_v<T>, "shuffles move trivially copyable values");
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    kernel_fail(std::string(shfl_name<M>()) + " with width " + std::to_string(width) +
                    " (expected a power of two from 1 to 32)",
                loc.file_name(), static_cast<int>(loc.line()));
  ShflData<T> d{var, arg, width, var};
  warp_collective(shfl_kind<T, M>, mask, &d, loc);
  return d.result;
}

struct VoteData {
  int pred;
  unsigned result;
};
HALFWAY_EMU_NO_TSAN inline void vote_complete(void* const* data, unsigned mask, const char*, int) {
  unsigned ballot = 0;
  for (unsigned l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && static_cast<VoteData*>(data[l])->pred) ballot |= 1u << l;
  for (unsigned l = 0; l < 32; ++l)
    if (mask >> l & 1u) static_cast<VoteData*>(data[l])->result = ballot;
}
inline const WarpOpKind ballot_kind{"__ballot_sync", &vote_complete};
inline const WarpOpKind any_kind{"__any_sync", &vote_complete};
inline const WarpOpKind all_kind{"__all_sync", &vote_complete};
inline const WarpOpKind uni_kind{"__uni_sync", &vote_complete};

template <class T>
struct MatchData {
  T value;
  unsigned any;
  bool all;
};
template <class T>
HALFWAY_EMU_NO_TSAN void match_complete(void* const* data, unsigned mask, const char*, int) {
  bool all = true;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    auto* me = static_cast<MatchData<T>*>(data[l]);
    me->any = 0;
    for (unsigned k = 0; k < 32; ++k)
      if ((mask >> k & 1u) && std::memcmp(&static_cast<MatchData<T>*>(data[k])->value, &me->value, sizeof(T)) == 0)
        me->any |= 1u << k;
    all = all && me->any == mask;
  }
  for (unsigned l = 0; l < 32; ++l)
    if (mask >> l & 1u) static_cast<MatchData<T>*>(data[l])->all = all;
}
template <class T>
inline const WarpOpKind match_any_kind{"__match_any_sync", &match_complete<T>};
template <class T>
inline const WarpOpKind match_all_kind{"__match_all_sync", &match_complete<T>};

enum class RedOp { add, min, max, band, bor, bxor };
template <class T>
struct RedData {
  T value;
  T result;
};
template <class T, RedOp Op>
HALFWAY_EMU_NO_TSAN void reduce_complete(void* const* data, unsigned mask, const char*, int) {
  bool first = true;
  T acc{};
  for (unsigned l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    const T v = static_cast<RedData<T>*>(data[l])->value;
    if (first) acc = v;
    else if constexpr (Op == RedOp::add)  // wraps around, as on a GPU
      acc = static_cast<T>(static_cast<std::make_unsigned_t<T>>(acc) + static_cast<std::make_unsigned_t<T>>(v));
    else if constexpr (Op == RedOp::min) acc = v < acc ? v : acc;
    else if constexpr (Op == RedOp::max) acc = v > acc ? v : acc;
    else if constexpr (Op == RedOp::band) acc = acc & v;
    else if constexpr (Op == RedOp::bor) acc = acc | v;
    else acc = acc ^ v;
    first = false;
  }
  for (unsigned l = 0; l < 32; ++l)
    if (mask >> l & 1u) static_cast<RedData<T>*>(data[l])->result = acc;
}
template <class T, RedOp Op>
inline const WarpOpKind reduce_kind{"__reduce_*_sync", &reduce_complete<T, Op>};
template <class T, RedOp Op>
T reduce(unsigned mask, T value, const std::source_location& loc) {
  RedData<T> d{value, value};
  warp_collective(reduce_kind<T, Op>, mask, &d, loc);
  return d.result;
}

}  // namespace detail

inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location loc = std::source_location::current()) {
  detail::syncwarp(mask, loc);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize,
              std::source_location loc = std::source_location::current()) {
  return detail::shfl<T, detail::ShflMode::idx>(mask, var, srcLane, width, loc);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location loc = std::source_location::current()) {
  return detail::shfl<T, detail::ShflMode::up>(mask, var, static_cast<int>(delta), width, loc);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location loc = std::source_location::current()) {
  return detail::shfl<T, detail::ShflMode::down>(mask, var, static_cast<int>(delta), width, loc);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize,
                  std::source_location loc = std::source_location::current()) {
  return detail::shfl<T, detail::ShflMode::bfly>(mask, var, laneMask, width, loc);
}

inline unsigned __ballot_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  detail::VoteData d{pred, 0};
  detail::warp_collective(detail::ballot_kind, mask, &d, loc);
  return d.result;
}
inline int __any_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  detail::VoteData d{pred, 0};
  detail::warp_collective(detail::any_kind, mask, &d, loc);
  return d.result != 0;
}
inline int __all_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  detail::VoteData d{pred, 0};
  detail::warp_collective(detail::all_kind, mask, &d, loc);
  return d.result == mask;
}
inline int __uni_sync(unsigned mask, int pred, std::source_location loc = std::source_location::current()) {
  detail::VoteData d{pred, 0};
  detail::warp_collective(detail::uni_kind, mask, &d, loc);
  return d.result == 0 || d.result == mask;
}
inline unsigned __activemask() { return detail::active_mask(); }

template <class T>
unsigned __match_any_sync(unsigned mask, T value, std::source_location loc = std::source_location::current()) {
  detail::MatchData<T> d{value, 0, false};
  detail::warp_collective(detail::match_any_kind<T>, mask, &d, loc);
  return d.any;
}
template <class T>
unsigned __match_all_sync(unsigned mask, T value, int* pred,
                          std::source_location loc = std::source_location::current()) {
  detail::MatchData<T> d{value, 0, false};
  detail::warp_collective(detail::match_all_kind<T>, mask, &d, loc);
  *pred = d.all;
  return d.all ? mask : 0u;
}

#define HALFWAY_EMU_REDUCE(name, T, op)                                                        \
  inline T name(unsigned mask, T value, std::source_location loc = std::source_location::current()) { \
    return detail::reduce<T, detail::RedOp::op>(mask, value, loc);                              \
  }
HALFWAY_EMU_REDUCE(__reduce_add_sync, unsigned, add)
HALFWAY_EMU_REDUCE(__reduce_add_sync, int, add)
HALFWAY_EMU_REDUCE(__reduce_min_sync, unsigned, min)
HALFWAY_EMU_REDUCE(__reduce_min_sync, int, min)
HALFWAY_EMU_REDUCE(__reduce_max_sync, unsigned, max)
HALFWAY_EMU_REDUCE(__reduce_max_sync, int, max)
HALFWAY_EMU_REDUCE(__reduce_and_sync, unsigned, band)
HALFWAY_EMU_REDUCE(__reduce_or_sync, unsigned, bor)
HALFWAY_EMU_REDUCE(__reduce_xor_sync, unsigned, bxor)
#undef HALFWAY_EMU_REDUCE

}  // namespace halfway::simt
