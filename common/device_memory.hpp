/// @file device_memory.hpp
/// @brief The course's one device memory type, `Buf<T>`, the copies between host and
/// device memory, and where chapter 03's layers run (the thread's layers backend).
///
/// Memory is the backend's: host memory (256-byte aligned) for cpu and emu, GPU memory for
/// cuda. Under emu it is host memory, but code that runs on emu treats it exactly as
/// cuda's: every op on a buffer is a kernel or a copy below, never a host loop, so the emu
/// tests run the very code path the GPU runs.
///
/// - Backend::cpu: the host implementation; buffers are host memory.
/// - Backend::emu: the kernels under the emulator; "device memory" is host memory that the
///   emulator registers (a kernel may take it as an argument), and copies go through its
///   queue: kernels run asynchronously, as on a GPU (common/emu/queue.hpp).
/// - Backend::cuda: the same kernels built by nvcc; buffers are GPU memory.
///
/// A Buf allocates on an explicit backend (`get(n, Backend::cuda)`: chapters 00-02's ops
/// and programs) or on the thread's layers backend (`get(n)`: chapter 03's modules, which
/// run wherever a BackendScope puts them; double, the finite-difference mode, always runs
/// on the cpu). The copies likewise take a backend, or default to the layers'.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/backend.hpp"
#include "common/emu/device_hooks.hpp"
#include "common/error.hpp"
#include "common/stream.hpp"
#include "common/runtime_counters.hpp"

namespace halfway::layers {

/// The backend the layers run on in this thread (cpu unless a BackendScope says otherwise).
inline Backend& layers_backend() {
  static thread_local Backend backend = Backend::cpu;
  return backend;
}

/// Runs the layers on `b` until the end of the scope. emu needs a build with the
/// emulator; cuda a build with CUDA and a usable GPU: otherwise a clear Error.
struct BackendScope {
  Backend saved;
  explicit BackendScope(Backend b) : saved(layers_backend()) {
    if (b == Backend::cuda)
      HALFWAY_EXPECT(gpu_usable(), "the layers on cuda with a usable GPU", gpu_description());
    layers_backend() = b;
  }
  ~BackendScope() { layers_backend() = saved; }
  BackendScope(const BackendScope&) = delete;
  BackendScope& operator=(const BackendScope&) = delete;
};

/// True when an op on storage type S runs its kernel (emu or cuda) on device buffers.
template <class S>
inline bool on_device() {
  return !std::is_same_v<S, double> && layers_backend() != Backend::cpu;
}
/// True when an op on S runs under the emulator.
template <class S>
inline bool on_emu() {
  return on_device<S>() && layers_backend() == Backend::emu;
}

}  // namespace halfway::layers

namespace halfway {

/// What a buffer is for, as chapter 07's memory report counts it. A Buf takes the use of
/// the MemoryUseScope around its allocation: the parameter store tags its buffers, the
/// model's forward pass `activations` (its outputs and what backward reads), the fp32 GEMM
/// results a 16-bit linear layer rounds from `forward_workspace`, the loss and the backward
/// pass `backward`; the rest (the clip's and the scaler's workspaces, tests' buffers) stays
/// `other`.
enum class MemoryUse : int { other, parameters, gradients, optimizer_state, activations, forward_workspace, backward };
constexpr int kMemoryUses = 7;
/// "other", "parameters", "gradients", "optimizer state", "activations", "forward workspace",
/// "backward".
inline const char* to_string(MemoryUse u) {
  constexpr const char* names[kMemoryUses] = {"other",       "parameters",        "gradients", "optimizer state",
                                              "activations", "forward workspace", "backward"};
  return names[int(u)];
}

namespace detail {
/// The use the next allocations of this thread are for (MemoryUseScope sets it).
inline MemoryUse& current_use() {
  static thread_local MemoryUse use = MemoryUse::other;
  return use;
}
/// Bytes the live Bufs hold, per backend and use.
inline std::atomic<long long>& held(Backend where, MemoryUse use) {
  static std::atomic<long long> bytes[3][kMemoryUses];
  return bytes[int(where)][int(use)];
}
/// Allocations so far, per backend (index: int(Backend)).
inline std::atomic<unsigned long long>& allocations(Backend where) {
  static std::atomic<unsigned long long> count[3];
  return count[int(where)];
}
/// Host memory is 256-byte aligned, as cudaMalloc's: a view at a 256-byte offset into a
/// buffer (kernels/layers/param_store.hpp) is then aligned alike on every backend.
inline void* alloc_bytes(Backend where, std::size_t bytes) {
  ++allocations(where);
  if (where == Backend::cuda) return gpu::malloc_bytes(bytes);
  if (where == Backend::emu && emu_device::hooks.alloc) return emu_device::hooks.alloc(bytes);
  counters::allocation(where);  // the cpu's (cuda and emu count in their runtimes)
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  HALFWAY_EXPECT(p != nullptr, std::to_string(bytes) + " bytes of host memory", "allocation failure");
  return p;
}
inline void free_bytes(Backend where, void* p) noexcept {
  if (where == Backend::cuda) gpu::free_bytes(p);
  else if (where == Backend::emu && emu_device::hooks.free) emu_device::hooks.free(p);
  else std::free(p);
}
}  // namespace detail

/// How many buffers have been allocated on `where` so far (every Buf growth counts): a test
/// demands that it stays put after a model's first step.
inline unsigned long long allocation_count(Backend where) { return detail::allocations(where).load(); }

/// Bytes the live Bufs on `where` hold for `use` (Buf::bytes(), without the allocator's
/// rounding to 256), and for every use together.
inline long long held_bytes(Backend where, MemoryUse use) { return detail::held(where, use).load(); }
inline long long held_bytes(Backend where) {
  long long sum = 0;
  for (int u = 0; u < kMemoryUses; ++u) sum += held_bytes(where, MemoryUse(u));
  return sum;
}

/// Tags the Bufs allocated (or grown) in this thread until the end of the scope.
struct MemoryUseScope {
  MemoryUse saved;
  explicit MemoryUseScope(MemoryUse use) : saved(detail::current_use()) { detail::current_use() = use; }
  ~MemoryUseScope() { detail::current_use() = saved; }
  MemoryUseScope(const MemoryUseScope&) = delete;
  MemoryUseScope& operator=(const MemoryUseScope&) = delete;
};

/// The copies go on the current stream of `where` (common/stream.hpp).
/// Host -> `where`'s memory (a plain copy on cpu). The host may reuse `src` at once.
inline void copy_in(Backend where, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (where == Backend::cuda) gpu::copy_to_device(dst, src, bytes, current_stream(where));
  else if (where == Backend::emu && emu_device::hooks.copy)
    emu_device::hooks.copy(dst, src, bytes, emu_device::Copy::to_device, current_stream(where));
  else {
    counters::copy(where, counters::Copy::to_device, bytes);
    std::memcpy(dst, src, bytes);
  }
}
/// `where`'s memory -> host. On cuda and emu it waits for the work before it on the stream
/// (a result the host reads is synchronised by its copy).
inline void copy_out(Backend where, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (where == Backend::cuda) gpu::copy_to_host(dst, src, bytes, current_stream(where));
  else if (where == Backend::emu && emu_device::hooks.copy)
    emu_device::hooks.copy(dst, src, bytes, emu_device::Copy::to_host, current_stream(where));
  else {
    counters::copy(where, counters::Copy::to_host, bytes);
    std::memcpy(dst, src, bytes);
  }
}
/// Within `where`'s memory.
inline void copy_within(Backend where, void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0 || dst == src) return;
  if (where == Backend::cuda) gpu::copy_on_device(dst, src, bytes, current_stream(where));
  else if (where == Backend::emu && emu_device::hooks.copy)
    emu_device::hooks.copy(dst, src, bytes, emu_device::Copy::within, current_stream(where));
  else {
    counters::copy(where, counters::Copy::within, bytes);
    std::memmove(dst, src, bytes);
  }
}
/// Waits for the work queued on `where` (kernels run asynchronously on cuda and emu): a
/// timing ends with it.
inline void synchronize(Backend where) {
  if (where == Backend::cuda) gpu::synchronize();
  else if (where == Backend::emu && emu_device::hooks.synchronize) emu_device::hooks.synchronize();
}
/// The same three on the layers' backend.
inline void copy_in(void* dst, const void* src, std::size_t bytes) {
  copy_in(layers::layers_backend(), dst, src, bytes);
}
inline void copy_out(void* dst, const void* src, std::size_t bytes) {
  copy_out(layers::layers_backend(), dst, src, bytes);
}
inline void copy_within(void* dst, const void* src, std::size_t bytes) {
  copy_within(layers::layers_backend(), dst, src, bytes);
}

/// n values from `where`'s memory into a host vector (a test's or a logger's view).
template <class T>
std::vector<T> to_host(Backend where, const T* p, std::size_t n) {
  std::vector<T> v(n);
  copy_out(where, v.data(), p, n * sizeof(T));
  return v;
}
/// The same from the layers' memory.
template <class T>
std::vector<T> to_host(const T* p, std::size_t n) {
  return to_host(layers::layers_backend(), p, n);
}

/// Typed, sized, grow-only memory in one backend's space: a layer's outputs, saved
/// activations and workspace live in these and are reused by every step instead of being
/// reallocated. Growing keeps the contents; asking on another backend does not (the old
/// memory is freed and the new backend starts from a fresh buffer). Move-only.
template <class T>
class Buf {
 public:
  Buf() = default;
  ~Buf() { release(); }
  Buf(Buf&& o) noexcept : p_(o.p_), n_(o.n_), where_(o.where_), use_(o.use_) { o.p_ = nullptr, o.n_ = 0; }
  Buf& operator=(Buf&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_, n_ = o.n_, where_ = o.where_, use_ = o.use_;
      o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;

  /// At least n elements in the layers' backend's memory (cpu for double).
  T* get(std::size_t n) { return get(n, std::is_same_v<T, double> ? Backend::cpu : layers::layers_backend()); }
  /// At least n elements in `where`'s memory (contents kept when it grows).
  T* get(std::size_t n, Backend where) {
    if (where != where_) {
      release();
      where_ = where;
    }
    if (n > n_) {
      T* q = static_cast<T*>(detail::alloc_bytes(where_, n * sizeof(T)));
      if (p_) copy_within(where_, q, p_, n_ * sizeof(T));
      release();
      p_ = q;
      n_ = n;
      use_ = detail::current_use();  // a grown buffer counts for the use that grew it
      detail::held(where_, use_) += static_cast<long long>(bytes());
    }
    return p_;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  /// Bytes held: what this buffer costs in memory.
  std::size_t bytes() const { return n_ * sizeof(T); }
  /// The backend whose memory holds the buffer.
  Backend where() const { return where_; }
  /// The first n elements, copied to the host.
  std::vector<T> host(std::size_t n) const {
    HALFWAY_EXPECT(n <= n_, "at most " + std::to_string(n_) + " elements (the buffer's size)", std::to_string(n));
    return to_host(where_, p_, n);
  }

 private:
  void release() noexcept {
    if (p_) {
      detail::free_bytes(where_, p_);
      detail::held(where_, use_) -= static_cast<long long>(bytes());
    }
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
  Backend where_ = Backend::cpu;
  MemoryUse use_ = MemoryUse::other;
};

/// A Buf on `where` holding a copy of the host vector v (an op's input, a test's data).
template <class T>
Buf<T> device_copy(Backend where, const std::vector<T>& v) {
  Buf<T> b;
  copy_in(where, b.get(v.size(), where), v.data(), v.size() * sizeof(T));
  return b;
}

}  // namespace halfway

namespace halfway::layers {
// The modules name these unqualified inside halfway::layers, as before they moved out.
using ::halfway::allocation_count;
using ::halfway::MemoryUse;
using ::halfway::MemoryUseScope;
using ::halfway::Buf;
using ::halfway::copy_in;
using ::halfway::copy_out;
using ::halfway::copy_within;
using ::halfway::to_host;
}  // namespace halfway::layers
