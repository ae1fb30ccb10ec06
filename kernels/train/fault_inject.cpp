// The fault hook on each backend (fault_inject.hpp): the kernels of fault_inject.cu on emu
// and cuda, the same rule as host code on the cpu.
#include "kernels/train/fault_inject.hpp"

#include <cstring>

#include "common/dispatch.hpp"

namespace halfway::train {

void inject_fault(Backend b, const std::int64_t* step, const FaultWrite& w, void* target) {
  if (b != Backend::cpu) return HALFWAY_KERNEL(b, inject_fault_kernel(step, w, target));
  if (!fault_active(w.first, w.count, *step)) return;
  if (w.bytes == 2) {
    const auto v = static_cast<std::uint16_t>(w.bits);
    std::memcpy(target, &v, sizeof v);
  } else {
    std::memcpy(target, &w.bits, sizeof w.bits);
  }
}

void count_step(Backend b, std::int64_t* step) {
  if (b != Backend::cpu) return HALFWAY_KERNEL(b, count_step_kernel(step));
  *step += 1;
}

}  // namespace halfway::train
