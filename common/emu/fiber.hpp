/// @file fiber.hpp
/// @brief Fibers for the emulator's CUDA threads: pooled stacks, Boost.Context switches,
/// and the sanitizer annotations every switch needs.
///
/// switch_to() goes from the running context (a fiber, or the host: nullptr) straight to
/// another one; a thread that blocks hands over to the next ready thread without a detour
/// through the host (one switch, not two). Stacks are mmap'ed once, with a guard page
/// below (a stack overflow faults instead of corrupting a neighbour), and reused by every
/// later block and launch: a fiber's entry function loops, running one CUDA thread's body
/// per round.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace halfway::simt::detail {

struct Fiber {
  void* ctx = nullptr;  ///< boost::context::detail::fcontext_t where it is suspended
  char* stack_lo = nullptr;
  std::size_t stack_size = 0;
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  unsigned index = 0;
};

/// The host side of the switches: owns the fibers and remembers where the host stack is.
class FiberPool {
 public:
  using Entry = void (*)(void* arg);

  /// Makes sure fibers 0..n-1 exist; new ones start by calling entry(arg) on first resume.
  /// entry must never return.
  void ensure(unsigned n, Entry entry, void* arg);
  Fiber& operator[](unsigned i) { return *fibers_[i]; }

  /// Call on the host before a series of switches (TSan needs the host's own fiber).
  void begin_on_host();
  /// From `from` (the running fiber, or nullptr for the host) to `to` (a fiber, or nullptr
  /// for the host). Returns when something switches back to `from`.
  void switch_to(Fiber* from, Fiber* to);
  /// Called by a fiber's entry function once, first thing.
  void started(Fiber& f, void* jump);

  static std::size_t stack_bytes();

 private:
  std::vector<std::unique_ptr<Fiber>> fibers_;
  void* host_ctx_ = nullptr;
  const void* host_stack_lo_ = nullptr;
  std::size_t host_stack_size_ = 0;
  void* host_fake_stack_ = nullptr;
  void* host_tsan_fiber_ = nullptr;
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
};

}  // namespace halfway::simt::detail
