/// @file fault_inject.hpp
/// @brief halfway-train's `--inject-fault` on the device: an inf or NaN written into one
/// gradient by a kernel that reads the step number from a device word, so a step replayed
/// from a graph (step_graph.hpp) injects it at the same step as a step run directly.
///
/// The host cannot choose the step: a replayed graph runs the same launches with the same
/// arguments every time. So the kernel runs on every step of a run with a fault, reads the
/// step being run from device memory, and writes the value only when fault_active() says
/// so (the rule of FaultInjection::active, options.hpp, which calls this function).
///
/// The step word: the trainer's device step counter. count_step() advances it by one at
/// the start of each step (one thread), so it holds the number (from 1) of the step being
/// run.
#pragma once

#include <cstdint>

#include "common/backend.hpp"
#include "common/hd.hpp"

namespace halfway::train {

/// Whether a fault of `count` steps from step `first` (0: never) hits step `k`.
HALFWAY_HD_INLINE bool fault_active(std::int64_t first, std::int64_t count, std::int64_t k) {
  return first > 0 && k >= first && k < first + count;
}

/// What the kernel writes and when: `bytes` (2 or 4) bytes of `bits` (the value in the
/// gradient's type, converted once by the host) at steps first .. first + count - 1.
struct FaultWrite {
  std::int64_t first = 0;
  std::int64_t count = 1;
  std::uint32_t bits = 0;
  int bytes = 4;
};

/// Writes `w`'s value into `target` when fault_active(w.first, w.count, *step): one thread
/// on emu and cuda, host code on the cpu. Does not wait.
void inject_fault(Backend b, const std::int64_t* step, const FaultWrite& w, void* target);
/// *step += 1: the start of a step. One thread on emu and cuda, host code on the cpu.
void count_step(Backend b, std::int64_t* step);

}  // namespace halfway::train

HALFWAY_KERNEL_API(
  void inject_fault_kernel(const std::int64_t* step, ::halfway::train::FaultWrite w, void* target);
  void count_step_kernel(std::int64_t* step);
)
