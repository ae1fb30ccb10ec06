/// @file error.hpp
/// @brief The emulator's error type and its thread-order setting.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace halfway::simt {

/// A rule of the CUDA programming model broken by a kernel, found by the emulator:
/// a divergent barrier, a deadlock, a warp operation with a wrong mask, WMMA misuse,
/// __trap(). The message names the kernel, the source line(s) and the threads.
class KernelError : public ::halfway::Error {
 public:
  using ::halfway::Error::Error;
};

/// In which order the emulator runs a block's threads between two barriers (and the
/// blocks of a grid). A correct kernel gives the same result in every order.
enum class ThreadOrder { forward, reverse, random };

struct OrderSetting {
  ThreadOrder order = ThreadOrder::forward;
  std::uint64_t seed = 1;  ///< for random only
};

/// Parses "forward", "reverse", "random" (seed 1) or "random:SEED". Throws halfway::Error.
OrderSetting parse_thread_order(std::string_view text);
/// "forward", "reverse" or "random:SEED".
std::string to_string(const OrderSetting& s);

/// The order used by the next launches: set here, else from the environment variable
/// HALFWAY_EMU_ORDER (read at the first launch), else forward.
OrderSetting thread_order();
void set_thread_order(OrderSetting s);
inline void set_thread_order(ThreadOrder o, std::uint64_t seed = 1) { set_thread_order(OrderSetting{o, seed}); }
/// Forgets a programmatic setting: the next launch reads HALFWAY_EMU_ORDER again.
void reset_thread_order();

/// Whether the static `__shared__` arrays are filled with 0xFF bytes (NaN) before each
/// block, as dynamic shared memory always is: a kernel that reads shared memory no thread
/// of the block wrote (a missing guard or barrier) then sees garbage, whatever ran before.
/// Set here, else from HALFWAY_EMU_POISON_SHARED=1|0 (read at the first launch), else on.
bool poison_shared();
void set_poison_shared(bool on);

namespace detail {
/// An on/off setting: `setting` once set (0 or 1), else the environment variable `name`
/// ("1" or "0"; unset or empty: on), read once. Throws halfway::Error on another value.
bool env_switch(std::atomic<int>& setting, const char* name);
}  // namespace detail

}  // namespace halfway::simt
