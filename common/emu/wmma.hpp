/// @file wmma.hpp
/// @brief nvcuda::wmma for the emulator: warp-wide matrix fragments and tensor-core MMA.
///
/// Shapes 16x16x16, 32x8x16 and 8x32x16; matrix_a/matrix_b of __half or __nv_bfloat16,
/// row_major or col_major; accumulators of float (or __half with __half inputs), whose
/// memory layout is given at load/store time (mem_row_major / mem_col_major).
///
/// Each lane holds num_elements = rows*cols/32 elements in x[]. The mapping is the
/// emulator's own (element e of the row-major tile lives in lane e % 32, x[e / 32]) and,
/// as on a GPU, unspecified: only uniform element-wise operations on x[] are portable.
/// mma_sync multiplies exactly (16-bit products fit in fp32) and accumulates in fp32 in k
/// order, then rounds to the accumulator type; a tensor core's summation order differs.
///
/// Every call is warp-collective and checked like the Programming Guide demands: all 32
/// lanes of a full warp call it with the same arguments; pointers are 32-byte (256-bit)
/// aligned; ldm is a multiple of 8 for 16-bit elements and of 4 for float, and at least a
/// row (row-major) or a column (col-major) long. A violation is a KernelError naming the
/// call's line.
#pragma once

#include <cstdint>
#include <cstdio>
#include <source_location>
#include <string>
#include <type_traits>

#include "common/emu/half.hpp"
#include "common/emu/qualifiers.hpp"
#include "common/emu/scheduler.hpp"

namespace halfway::simt::nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {

template <class Use, int M, int N, int K>
struct dims;
template <int M, int N, int K>
struct dims<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct dims<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct dims<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <int M, int N, int K>
constexpr bool valid_shape = (M == 16 && N == 16 && K == 16) || (M == 32 && N == 8 && K == 16) ||
                             (M == 8 && N == 32 && K == 16);

template <class T>
constexpr bool is_16bit_input = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(detail::valid_shape<M, N, K>, "wmma: the shapes are 16x16x16, 32x8x16 and 8x32x16");
  static_assert(std::is_same_v<Use, accumulator> ? (std::is_same_v<T, float> || std::is_same_v<T, __half>)
                                                 : detail::is_16bit_input<T>,
                "wmma: matrix_a/matrix_b hold __half or __nv_bfloat16, accumulators float or __half");
  static_assert(std::is_same_v<Use, accumulator> ? std::is_void_v<Layout>
                                                 : (std::is_same_v<Layout, row_major> ||
                                                    std::is_same_v<Layout, col_major>),
                "wmma: matrix_a/matrix_b need row_major or col_major; an accumulator takes no layout");

 public:
  static constexpr int rows = detail::dims<Use, M, N, K>::rows;
  static constexpr int cols = detail::dims<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols / 32;
  using element_type = T;
  using storage_element_type = T;
  using use = Use;
  using layout = Layout;
  T x[num_elements];
};

namespace detail {

using ::halfway::simt::detail::kernel_fail;
using ::halfway::simt::detail::warp_collective;
using ::halfway::simt::detail::WarpOpKind;

struct MemArgs {
  const void* ptr;
  unsigned ldm;
  int layout;  // 0 row-major, 1 col-major
};

inline std::string describe(const MemArgs& a) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "ptr %p, ldm %u, %s", a.ptr, a.ldm, a.layout ? "col-major" : "row-major");
  return buf;
}

// Completion of a load/store: all lanes must have passed the same arguments.
HALFWAY_EMU_NO_TSAN inline void same_args(void* const* data, unsigned, const char* file, int line) {
  const MemArgs& first = *static_cast<const MemArgs*>(data[0]);
  for (unsigned l = 1; l < 32; ++l) {
    const MemArgs& a = *static_cast<const MemArgs*>(data[l]);
    if (a.ptr != first.ptr || a.ldm != first.ldm || a.layout != first.layout)
      kernel_fail("wmma: the lanes of the warp called with different arguments (lane 0: " + describe(first) +
                      "; lane " + std::to_string(l) + ": " + describe(a) + ")",
                  file, line);
  }
}

template <class Frag>
inline const WarpOpKind load_kind{"wmma::load_matrix_sync", &same_args};
template <class Frag>
inline const WarpOpKind store_kind{"wmma::store_matrix_sync", &same_args};

unsigned warp_lanes_present();

template <class Frag, class T>
void check_mem(const char* what, const T* ptr, unsigned ldm, bool col_major, const std::source_location& loc) {
  const char* file = loc.file_name();
  const int line = static_cast<int>(loc.line());
  if (warp_lanes_present() != 0xffffffffu)
    kernel_fail(std::string(what) + " needs all 32 lanes of a full warp, and this warp is not full", file, line);
  if (reinterpret_cast<std::uintptr_t>(ptr) % 32 != 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s with pointer %p, which is not 32-byte (256-bit) aligned", what,
                  static_cast<const void*>(ptr));
    kernel_fail(buf, file, line);
  }
  const unsigned multiple = sizeof(T) == 2 ? 8 : 4;
  if (ldm % multiple != 0)
    kernel_fail(std::string(what) + " with ldm " + std::to_string(ldm) + ", which is not a multiple of " +
                    std::to_string(multiple) + (sizeof(T) == 2 ? " (16-bit elements)" : " (float elements)"),
                file, line);
  const unsigned need = col_major ? Frag::rows : Frag::cols;
  if (ldm < need)
    kernel_fail(std::string(what) + " with ldm " + std::to_string(ldm) + ", shorter than a " +
                    (col_major ? "column" : "row") + " of the tile (" + std::to_string(need) + " elements)",
                file, line);
}

template <class Frag, class T>
void load(Frag& f, const T* p, unsigned ldm, bool col_major, const std::source_location& loc) {
  check_mem<Frag>("wmma::load_matrix_sync", p, ldm, col_major, loc);
  MemArgs args{p, ldm, col_major};
  warp_collective(load_kind<Frag>, 0xffffffffu, &args, loc);
  const unsigned lane = ::halfway::simt::detail::lane_id();
  for (int i = 0; i < Frag::num_elements; ++i) {
    const int e = i * 32 + static_cast<int>(lane);
    const int r = e / Frag::cols, c = e % Frag::cols;
    f.x[i] = static_cast<typename Frag::element_type>(col_major ? p[static_cast<std::size_t>(c) * ldm + r]
                                                                : p[static_cast<std::size_t>(r) * ldm + c]);
  }
}

template <class Frag, class T>
void store(T* p, const Frag& f, unsigned ldm, bool col_major, const std::source_location& loc) {
  check_mem<Frag>("wmma::store_matrix_sync", p, ldm, col_major, loc);
  MemArgs args{p, ldm, col_major};
  warp_collective(store_kind<Frag>, 0xffffffffu, &args, loc);
  const unsigned lane = ::halfway::simt::detail::lane_id();
  for (int i = 0; i < Frag::num_elements; ++i) {
    const int e = i * 32 + static_cast<int>(lane);
    const int r = e / Frag::cols, c = e % Frag::cols;
    (col_major ? p[static_cast<std::size_t>(c) * ldm + r] : p[static_cast<std::size_t>(r) * ldm + c]) =
        static_cast<T>(f.x[i]);
  }
}

template <class FD, class FA, class FB, class FC>
struct MmaArgs {
  FD* d;
  const FA* a;
  const FB* b;
  const FC* c;
};

template <class FD, class FA, class FB, class FC>
HALFWAY_EMU_NO_TSAN void mma_complete(void* const* data, unsigned, const char*, int) {
  constexpr int M = FA::rows, K = FA::cols, N = FB::cols;
  auto arg = [&](int lane) -> const MmaArgs<FD, FA, FB, FC>& {
    return *static_cast<const MmaArgs<FD, FA, FB, FC>*>(data[lane]);
  };
  float A[M][K], B[K][N], C[M][N];
  for (int e = 0; e < M * K; ++e) A[e / K][e % K] = static_cast<float>(arg(e % 32).a->x[e / 32]);
  for (int e = 0; e < K * N; ++e) B[e / N][e % N] = static_cast<float>(arg(e % 32).b->x[e / 32]);
  for (int e = 0; e < M * N; ++e) C[e / N][e % N] = static_cast<float>(arg(e % 32).c->x[e / 32]);
  for (int e = 0; e < M * N; ++e) {
    const int i = e / N, j = e % N;
    float acc = C[i][j];
    for (int k = 0; k < K; ++k) acc += A[i][k] * B[k][j];  // exact products, fp32 sums
    arg(e % 32).d->x[e / 32] = static_cast<typename FD::element_type>(acc);
  }
}

template <class FD, class FA, class FB, class FC>
inline const WarpOpKind mma_kind{"wmma::mma_sync", &mma_complete<FD, FA, FB, FC>};

}  // namespace detail

template <class Use, int M, int N, int K, class T, class L>
void fill_fragment(fragment<Use, M, N, K, T, L>& f, const std::type_identity_t<T>& v) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = v;
}

template <class Use, int M, int N, int K, class T, class L, class P>
  requires(!std::is_same_v<Use, accumulator>)
void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const P* p, unsigned ldm,
                      std::source_location loc = std::source_location::current()) {
  static_assert(std::is_same_v<std::remove_cv_t<P>, T>, "wmma::load_matrix_sync: pointer and fragment types differ");
  detail::load(f, p, ldm, std::is_same_v<L, col_major>, loc);
}

template <int M, int N, int K, class T, class P>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const P* p, unsigned ldm, layout_t layout,
                      std::source_location loc = std::source_location::current()) {
  static_assert(std::is_same_v<std::remove_cv_t<P>, T>, "wmma::load_matrix_sync: pointer and fragment types differ");
  detail::load(f, p, ldm, layout == mem_col_major, loc);
}

template <int M, int N, int K, class T, class P>
void store_matrix_sync(P* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout,
                       std::source_location loc = std::source_location::current()) {
  static_assert(std::is_same_v<P, T>, "wmma::store_matrix_sync: pointer and fragment types differ");
  detail::store(p, f, ldm, layout == mem_col_major, loc);
}

template <int M, int N, int K, class TD, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TD>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c,
              bool /*satf: not emulated*/ = false, std::source_location loc = std::source_location::current()) {
  static_assert(std::is_same_v<TA, TB>, "wmma::mma_sync: matrix_a and matrix_b must hold the same type");
  static_assert(std::is_same_v<TA, __half> || (std::is_same_v<TD, float> && std::is_same_v<TC, float>),
                "wmma::mma_sync: __nv_bfloat16 inputs need float accumulators");
  using FD = fragment<accumulator, M, N, K, TD>;
  using FA = fragment<matrix_a, M, N, K, TA, LA>;
  using FB = fragment<matrix_b, M, N, K, TB, LB>;
  using FC = fragment<accumulator, M, N, K, TC>;
  if (detail::warp_lanes_present() != 0xffffffffu)
    ::halfway::simt::detail::kernel_fail("wmma::mma_sync needs all 32 lanes of a full warp, and this warp is not full",
                                         loc.file_name(), static_cast<int>(loc.line()));
  detail::MmaArgs<FD, FA, FB, FC> args{&d, &a, &b, &c};
  ::halfway::simt::detail::warp_collective(detail::mma_kind<FD, FA, FB, FC>, 0xffffffffu, &args, loc);
}

}  // namespace halfway::simt::nvcuda::wmma
