// The out-of-line intrinsics: __trap() and clock64().
#include "common/emu/intrinsics.hpp"

#include <chrono>

#include "common/emu/scheduler.hpp"

namespace halfway::simt {

long long clock64() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace detail {
void trap(const char* file, int line) { kernel_fail("__trap() called", file, line); }
}  // namespace detail

}  // namespace halfway::simt
