/// @file device_memory.hpp
/// @brief Where chapter 03's layers run, and the memory they run on: the layers' backend,
/// the growing buffers every module keeps, and copies between host and that memory.
///
/// - Backend::cpu: the host implementation; buffers are host memory.
/// - Backend::emu: the kernels of kernels/layers and chapter 02's GEMM under the emulator.
///   Its "device memory" is host memory, but the layers treat it exactly as cuda's: every
///   op on a buffer is a kernel or a copy below, never a host loop, so the emu tests run
///   the very code path the GPU runs.
/// - Backend::cuda: the same kernels built by nvcc; buffers are GPU memory.
///
/// double (the finite-difference mode) always runs on the cpu.
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
#include "common/error.hpp"

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

namespace detail {
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
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  HALFWAY_EXPECT(p != nullptr, std::to_string(bytes) + " bytes of host memory", "allocation failure");
  return p;
}
inline void free_bytes(Backend where, void* p) noexcept {
  if (where == Backend::cuda) gpu::free_bytes(p);
  else std::free(p);
}
}  // namespace detail

/// How many buffers have been allocated on `where` so far (every Buf growth counts): a test
/// demands that it stays put after a model's first step.
inline unsigned long long allocation_count(Backend where) { return detail::allocations(where).load(); }

/// Host -> the layers' memory (a plain copy on cpu and emu).
inline void copy_in(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (layers_backend() == Backend::cuda) gpu::copy_to_device(dst, src, bytes);
  else std::memcpy(dst, src, bytes);
}
/// The layers' memory -> host.
inline void copy_out(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  if (layers_backend() == Backend::cuda) gpu::copy_to_host(dst, src, bytes);
  else std::memcpy(dst, src, bytes);
}
/// Within the layers' memory.
inline void copy_within(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0 || dst == src) return;
  if (layers_backend() == Backend::cuda) gpu::copy_on_device(dst, src, bytes);
  else std::memmove(dst, src, bytes);
}

/// n values from the layers' memory into a host vector (a test's or a logger's view).
template <class T>
std::vector<T> to_host(const T* p, std::size_t n) {
  std::vector<T> v(n);
  copy_out(v.data(), p, n * sizeof(T));
  return v;
}

/// A buffer that only grows, in the memory of the backend it was last asked on: a layer's
/// outputs, saved activations and workspace live in these and are reused by every step
/// instead of being reallocated. Growing keeps the contents; moving to another backend
/// does not (a new backend starts from fresh buffers).
template <class T>
class Buf {
 public:
  Buf() = default;
  ~Buf() { release(); }
  Buf(Buf&& o) noexcept : p_(o.p_), n_(o.n_), where_(o.where_) { o.p_ = nullptr, o.n_ = 0; }
  Buf& operator=(Buf&& o) noexcept {
    if (this != &o) {
      release();
      p_ = o.p_, n_ = o.n_, where_ = o.where_;
      o.p_ = nullptr, o.n_ = 0;
    }
    return *this;
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;

  /// At least n elements in the current backend's memory (contents kept when it grows).
  T* get(std::size_t n) {
    const Backend where = std::is_same_v<T, double> ? Backend::cpu : layers_backend();
    if (where != where_) {
      release();
      where_ = where;
    }
    if (n > n_) {
      T* q = static_cast<T*>(detail::alloc_bytes(where_, n * sizeof(T)));
      if (p_) copy_within(q, p_, n_ * sizeof(T));
      release();
      p_ = q;
      n_ = n;
    }
    return p_;
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  /// Bytes held: what this buffer costs in memory.
  std::size_t bytes() const { return n_ * sizeof(T); }

 private:
  void release() noexcept {
    if (p_) detail::free_bytes(where_, p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
  Backend where_ = Backend::cpu;
};

}  // namespace halfway::layers
