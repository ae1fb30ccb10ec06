/// @file tensor.hpp
/// @brief Shape and Tensor: an owned, typed, shaped buffer that knows its backend.
///
/// A Tensor is the unit every layer, optimizer and test passes around. It owns its
/// memory (host memory aligned to 64 bytes for the cpu and emu backends, GPU memory for
/// cuda), knows its element type (f32, f16, bf16) and its shape, and moves between
/// backends with to(). It is move-only: a copy is always explicit (clone(), to()), so a
/// 100 MB parameter is never duplicated by accident.
///
/// 16-bit elements are stored as their bits: `data<std::uint16_t>()`, or any other
/// trivially copyable 2-byte type (chapter 01's `halfway::half`). Every access checks the
/// element type and every constructor the number of values, and a mismatch is a
/// halfway::Error that names what was expected and what was found.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/backend.hpp"
#include "common/dtype.hpp"

namespace halfway {

/// A tensor's dimensions, outermost first: a small fixed-capacity vector of int64.
class Shape {
 public:
  /// The most dimensions a shape can have.
  static constexpr int kMaxRank = 8;

  /// A scalar's shape: rank 0, one element.
  Shape() = default;
  /// `Shape{32, 128}`. Throws Error on a negative dimension or more than kMaxRank.
  Shape(std::initializer_list<std::int64_t> dims);
  /// From a vector of dimensions, with the same checks.
  explicit Shape(const std::vector<std::int64_t>& dims);

  /// Number of dimensions.
  int rank() const { return rank_; }
  /// Number of elements: the product of the dimensions (1 for rank 0).
  std::int64_t numel() const;
  /// Dimension i; negative i counts from the end (-1 is the last). Throws Error when out
  /// of range.
  std::int64_t operator[](int i) const;
  /// The dimensions as a vector.
  std::vector<std::int64_t> dims() const { return {dims_.begin(), dims_.begin() + rank_}; }
  /// "[32, 128]"; "[]" for a scalar.
  std::string to_string() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }

 private:
  void set(const std::int64_t* dims, std::size_t n);
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

/// An owned buffer with a shape, an element type and a backend. Move-only.
class Tensor {
 public:
  /// An empty tensor: shape [0], f32, cpu, no memory.
  Tensor();
  /// Uninitialised storage for `shape` elements of `dtype` on `backend`.
  /// Throws Error when the cuda backend is unusable or the allocation fails.
  Tensor(Shape shape, DType dtype, Backend backend = Backend::cpu);

  Tensor(Tensor&&) noexcept;
  Tensor& operator=(Tensor&&) noexcept;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor();

  /// A tensor of zeros (all bits zero: +0 in every dtype).
  static Tensor zeros(Shape shape, DType dtype, Backend backend = Backend::cpu);

  /// An f32 tensor holding `values` (row-major), on `backend`. Throws Error when
  /// values.size() != shape.numel().
  static Tensor from_vector(const std::vector<float>& values, Shape shape,
                            Backend backend = Backend::cpu);

  /// A tensor of `dtype` holding `values`: float for f32, the bits of each value in any
  /// 2-byte type for f16/bf16. Throws Error on a type or size mismatch.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape, DType dtype,
                            Backend backend = Backend::cpu) {
    check_access<T>(dtype, "Tensor::from_vector");
    Tensor t(std::move(shape), dtype, Backend::cpu);
    t.check_count(values.size(), "Tensor::from_vector");
    t.copy_in(values.data());
    return backend == Backend::cpu ? std::move(t) : t.to(backend);
  }

  Backend backend() const { return backend_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  /// Size of the storage in bytes: numel() * size_of(dtype()).
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * size_of(dtype_); }
  /// "f32 [32, 128] on cpu", for messages.
  std::string to_string() const;

  /// The elements as T (a device pointer for the cuda backend). Throws Error when T does
  /// not fit the dtype (see dtype_accepts()).
  template <class T>
  T* data() {
    check_access<T>(dtype_, "Tensor::data");
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    check_access<T>(dtype_, "Tensor::data");
    return static_cast<const T*>(data_);
  }
  /// The storage, untyped (for kernels' launch wrappers and copies).
  void* raw() { return data_; }
  const void* raw() const { return data_; }

  /// A copy of the elements on the host, as T (checked as in data()).
  template <class T>
  std::vector<T> to_vector() const {
    check_access<T>(dtype_, "Tensor::to_vector");
    std::vector<T> out(static_cast<std::size_t>(numel()));
    copy_out(out.data());
    return out;
  }

  /// A copy on `backend` (cpu <-> emu: host copies; cuda: through the GPU copies).
  Tensor to(Backend backend) const;
  /// A copy on the same backend.
  Tensor clone() const { return to(backend_); }
  /// Copies src's elements into this tensor, across backends. Throws Error unless shape
  /// and dtype match.
  void copy_from(const Tensor& src);
  /// Sets every element to zero.
  void zero();
  /// Changes the shape, keeping the elements. Throws Error when the numel differs.
  void reshape(Shape shape);

  /// The checks an op makes on its arguments: on a mismatch each throws an Error
  /// `what: expected shape [32, 128], found [32, 127]` (or dtype, or backend).
  void require_shape(const Shape& expected, std::string_view what) const;
  void require_dtype(DType expected, std::string_view what) const;
  void require_backend(Backend expected, std::string_view what) const;

 private:
  template <class T>
  static void check_access(DType dtype, const char* where) {
    static_assert(std::is_trivially_copyable_v<T>, "tensor elements are trivially copyable");
    if (!dtype_accepts<T>(dtype)) access_error(where, dtype, sizeof(T));
  }
  [[noreturn]] static void access_error(const char* where, DType dtype, std::size_t type_size);
  void check_count(std::size_t count, const char* where) const;
  void copy_in(const void* host);   // bytes() from host memory
  void copy_out(void* host) const;  // bytes() to host memory
  void release() noexcept;

  Shape shape_{0};
  DType dtype_ = DType::f32;
  Backend backend_ = Backend::cpu;
  void* data_ = nullptr;
};

}  // namespace halfway
