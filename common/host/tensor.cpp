// Shape and Tensor (common/tensor.hpp).
#include "common/tensor.hpp"

#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "common/error.hpp"

namespace halfway {

namespace {
constexpr std::size_t kHostAlignment = 64;  // a cache line, and enough for any SIMD load

bool on_host(Backend b) { return b != Backend::cuda; }

void* allocate(std::size_t bytes, Backend backend) {
  if (bytes == 0) return nullptr;
  if (backend == Backend::cuda) return gpu::malloc_bytes(bytes);
  try {
    return ::operator new(bytes, std::align_val_t{kHostAlignment});
  } catch (const std::bad_alloc&) {
    throw Error("Tensor: expected to allocate " + std::to_string(bytes) +
                " bytes of host memory, found not enough memory");
  }
}

void deallocate(void* p, Backend backend) noexcept {
  if (!p) return;
  if (backend == Backend::cuda) {
    gpu::free_bytes(p);
  } else {
    ::operator delete(p, std::align_val_t{kHostAlignment});
  }
}

// Copies between any two backends' memory.
void copy_bytes(void* dst, Backend to, const void* src, Backend from, std::size_t bytes) {
  if (bytes == 0) return;
  if (on_host(to) && on_host(from)) {
    std::memcpy(dst, src, bytes);
  } else if (on_host(from)) {
    gpu::copy_to_device(dst, src, bytes);
  } else if (on_host(to)) {
    gpu::copy_to_host(dst, src, bytes);
  } else {
    gpu::copy_on_device(dst, src, bytes);
  }
}
}  // namespace

// ---- Shape ------------------------------------------------------------------------------

Shape::Shape(std::initializer_list<std::int64_t> dims) { set(dims.begin(), dims.size()); }

Shape::Shape(const std::vector<std::int64_t>& dims) { set(dims.data(), dims.size()); }

void Shape::set(const std::int64_t* dims, std::size_t n) {
  if (n > static_cast<std::size_t>(kMaxRank))
    throw Error("Shape: expected at most " + std::to_string(kMaxRank) + " dimensions, found " +
                std::to_string(n));
  rank_ = static_cast<int>(n);
  for (std::size_t i = 0; i < n; ++i) dims_[i] = dims[i];
  std::int64_t total = 1;
  for (std::size_t i = 0; i < n; ++i) {
    if (dims[i] < 0) throw Error("Shape: expected dimensions >= 0, found " + to_string());
    if (dims[i] > 0 && total > std::numeric_limits<std::int64_t>::max() / dims[i])
      throw Error("Shape: expected fewer than 2^63 elements, found " + to_string());
    total *= dims[i];
  }
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

std::int64_t Shape::operator[](int i) const {
  const int j = i < 0 ? i + rank_ : i;
  if (j < 0 || j >= rank_)
    throw Error("Shape" + to_string() + ": expected a dimension index in [" +
                std::to_string(-rank_) + ", " + std::to_string(rank_) + "), found " +
                std::to_string(i));
  return dims_[j];
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

// ---- Tensor -----------------------------------------------------------------------------

Tensor::Tensor() = default;

Tensor::Tensor(Shape shape, DType dtype, Backend backend)
    : shape_(std::move(shape)), dtype_(dtype), backend_(backend) {
  data_ = allocate(bytes(), backend_);
}

Tensor::Tensor(Tensor&& other) noexcept
    : shape_(other.shape_), dtype_(other.dtype_), backend_(other.backend_), data_(other.data_) {
  other.data_ = nullptr;
  other.shape_ = Shape{0};
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    release();
    shape_ = other.shape_;
    dtype_ = other.dtype_;
    backend_ = other.backend_;
    data_ = other.data_;
    other.data_ = nullptr;
    other.shape_ = Shape{0};
  }
  return *this;
}

Tensor::~Tensor() { release(); }

void Tensor::release() noexcept {
  deallocate(data_, backend_);
  data_ = nullptr;
}

Tensor Tensor::zeros(Shape shape, DType dtype, Backend backend) {
  Tensor t(std::move(shape), dtype, backend);
  t.zero();
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape, Backend backend) {
  return from_vector<float>(values, std::move(shape), DType::f32, backend);
}

std::string Tensor::to_string() const {
  return std::string(halfway::to_string(dtype_)) + " " + shape_.to_string() + " on " +
         std::string(halfway::to_string(backend_));
}

void Tensor::access_error(const char* where, DType dtype, std::size_t type_size) {
  const std::string wanted = dtype == DType::f32 ? "float" : "a 2-byte type";
  throw Error(std::string(where) + ": expected " + wanted + " for a " +
              halfway::to_string(dtype) + " tensor, found a " + std::to_string(type_size) +
              "-byte type" + (dtype == DType::f32 && type_size == 4 ? " that is not float" : ""));
}

void Tensor::check_count(std::size_t count, const char* where) const {
  if (count != static_cast<std::size_t>(numel()))
    throw Error(std::string(where) + ": expected " + std::to_string(numel()) +
                " values for shape " + shape_.to_string() + ", found " + std::to_string(count));
}

void Tensor::copy_in(const void* host) { copy_bytes(data_, backend_, host, Backend::cpu, bytes()); }

void Tensor::copy_out(void* host) const {
  copy_bytes(host, Backend::cpu, data_, backend_, bytes());
}

Tensor Tensor::to(Backend backend) const {
  Tensor t(shape_, dtype_, backend);
  copy_bytes(t.data_, backend, data_, backend_, bytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  // The destination's shape and dtype are what the source is expected to have.
  src.require_shape(shape_, "Tensor::copy_from source");
  src.require_dtype(dtype_, "Tensor::copy_from source");
  if (src.data_ == data_) return;
  copy_bytes(data_, backend_, src.data_, src.backend_, bytes());
}

void Tensor::zero() {
  if (bytes() == 0) return;
  if (on_host(backend_)) {
    std::memset(data_, 0, bytes());
  } else {
    std::vector<unsigned char> zeros(bytes(), 0);
    gpu::copy_to_device(data_, zeros.data(), bytes());
  }
}

void Tensor::reshape(Shape shape) {
  if (shape.numel() != numel())
    throw Error("Tensor::reshape of " + to_string() + ": expected a shape of " +
                std::to_string(numel()) + " elements, found " + shape.to_string() + " (" +
                std::to_string(shape.numel()) + " elements)");
  shape_ = std::move(shape);
}

void Tensor::require_shape(const Shape& expected, std::string_view what) const {
  if (!(shape_ == expected))
    throw Error(std::string(what) + ": expected shape " + expected.to_string() + ", found " +
                shape_.to_string());
}

void Tensor::require_dtype(DType expected, std::string_view what) const {
  if (dtype_ != expected)
    throw Error(std::string(what) + ": expected dtype " + halfway::to_string(expected) +
                ", found " + halfway::to_string(dtype_));
}

void Tensor::require_backend(Backend expected, std::string_view what) const {
  if (backend_ != expected)
    throw Error(std::string(what) + ": expected a tensor on " +
                std::string(halfway::to_string(expected)) + ", found one on " +
                std::string(halfway::to_string(backend_)));
}

}  // namespace halfway
