// nvcuda::wmma: every shape, layout and type against a host loop; a tiled WMMA GEMM
// written as for the GPU; and the API's rules as clear errors.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "common/emu/tests/helpers.hpp"

namespace halfway::emu {

template <int M, int N, int K, class T, class LA, class LB, class TC>
__global__ void wmma_tile(const T* a, const T* b, const TC* c, TC* d, unsigned lda, unsigned ldb, unsigned ldc,
                          int col_major_c, float scale) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, M, N, K, T, LA> fa;
  wmma::fragment<wmma::matrix_b, M, N, K, T, LB> fb;
  wmma::fragment<wmma::accumulator, M, N, K, TC> fc;
  wmma::fragment<wmma::accumulator, M, N, K, TC> fd;
  const auto layout = col_major_c ? wmma::mem_col_major : wmma::mem_row_major;
  wmma::load_matrix_sync(fa, a, lda);
  wmma::load_matrix_sync(fb, b, ldb);
  wmma::load_matrix_sync(fc, c, ldc, layout);
  wmma::fill_fragment(fd, 0.0f);
  wmma::mma_sync(fd, fa, fb, fc);
  for (int i = 0; i < fd.num_elements; ++i) fd.x[i] = static_cast<TC>(static_cast<float>(fd.x[i]) * scale);
  wmma::store_matrix_sync(d, fd, ldc, layout);
}

// A GEMM as one would write it for the GPU: a block of 4 warps computes a 32x32 tile of
// C = A (MxK, row-major) * B (KxN, row-major), staging 16-wide slices of A and B through
// padded shared memory.
__global__ void wmma_gemm(const __half* A, const __half* B, float* C, int M, int N, int K) {
  using namespace nvcuda;
  constexpr int kPad = 16;
  __shared__ __align__(32) __half As[32][16 + kPad];
  __shared__ __align__(32) __half Bs[16][32 + kPad];
  const int warp = threadIdx.x / 32;
  const int wy = warp / 2, wx = warp % 2;
  const int row0 = blockIdx.y * 32, col0 = blockIdx.x * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int i = threadIdx.x; i < 32 * 16; i += blockDim.x) {
      const int r = i / 16, c = i % 16;
      As[r][c] = (row0 + r < M && k0 + c < K) ? A[(row0 + r) * K + k0 + c] : __float2half(0.0f);
    }
    for (int i = threadIdx.x; i < 16 * 32; i += blockDim.x) {
      const int r = i / 32, c = i % 32;
      Bs[r][c] = (k0 + r < K && col0 + c < N) ? B[(k0 + r) * N + col0 + c] : __float2half(0.0f);
    }
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
    wmma::load_matrix_sync(fa, &As[wy * 16][0], 16 + kPad);
    wmma::load_matrix_sync(fb, &Bs[0][wx * 16], 32 + kPad);
    wmma::mma_sync(acc, fa, fb, acc);
    __syncthreads();
  }
  wmma::store_matrix_sync(C + (row0 + wy * 16) * N + col0 + wx * 16, acc, N, wmma::mem_row_major);
}

__global__ void wmma_misuse(const __half* a, int mode) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  const unsigned lane = threadIdx.x % 32;
  switch (mode) {
    case 0: wmma::load_matrix_sync(fa, a + 1, 16); break;              // misaligned
    case 1: wmma::load_matrix_sync(fa, a, 12); break;                  // ldm not a multiple of 8
    case 2: wmma::load_matrix_sync(fa, a, 8); break;                   // ldm shorter than a row
    case 3: wmma::load_matrix_sync(fa, a + (lane == 3 ? 16 : 0), 16); break;  // lanes disagree
    case 4:
      wmma::fill_fragment(fa, 1.0f);
      wmma::fill_fragment(fb, 1.0f);
      wmma::fill_fragment(acc, 0.0f);
      if (lane == 7) return;  // one lane leaves: the warp is incomplete
      wmma::mma_sync(acc, fa, fb, acc);
      break;
    case 6:  // a store 16 bytes past a 32-byte boundary
      wmma::fill_fragment(acc, 0.0f);
      wmma::store_matrix_sync(reinterpret_cast<float*>(const_cast<__half*>(a)) + 4, acc, 16, wmma::mem_row_major);
      break;
    case 7:  // a float store with ldm 18: 72 bytes, not a multiple of 16
      wmma::fill_fragment(acc, 0.0f);
      wmma::store_matrix_sync(reinterpret_cast<float*>(const_cast<__half*>(a)), acc, 18, wmma::mem_row_major);
      break;
    default: wmma::load_matrix_sync(fa, a, 16); break;  // called by a block of 16 threads
  }
}

}  // namespace halfway::emu

namespace halfway::emu_test {
using namespace ::halfway::emu;
namespace wmma = ::halfway::simt::nvcuda::wmma;

namespace {

int value(int i, int j, int salt) { return ((i * 7 + j * 3 + salt) % 9) - 4; }  // in [-4, 4]

template <int M, int N, int K, class T, class LA, class LB, class TC>
void check_tile(bool col_major_c) {
  constexpr bool a_col = std::is_same_v<LA, wmma::col_major>;
  constexpr bool b_col = std::is_same_v<LB, wmma::col_major>;
  const unsigned lda = (a_col ? M : K) + 8, ldb = (b_col ? K : N) + 8, ldc = (col_major_c ? M : N) + 8;
  std::vector<T> a((a_col ? K : M) * lda, T(0.0f)), b((b_col ? N : K) * ldb, T(0.0f));
  std::vector<TC> c((col_major_c ? N : M) * ldc, TC(0.0f));
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k) a[a_col ? k * lda + i : i * lda + k] = T(static_cast<float>(value(i, k, 1)));
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < N; ++j) b[b_col ? j * ldb + k : k * ldb + j] = T(static_cast<float>(value(k, j, 2)));
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) c[col_major_c ? j * ldc + i : i * ldc + j] = TC(static_cast<float>(value(i, j, 3)));
  DeviceBuffer<T> da(a.size(), a), db(b.size(), b);
  DeviceBuffer<TC> dc(c.size(), c), dd(c.size());
  HALFWAY_LAUNCH((wmma_tile<M, N, K, T, LA, LB, TC>), 1, 32, 0, 0)(da.get(), db.get(), dc.get(), dd.get(), lda, ldb,
                                                                    ldc, col_major_c ? 1 : 0, 2.0f);
  const auto d = dd.host();
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      int ref = value(i, j, 3);
      for (int k = 0; k < K; ++k) ref += value(i, k, 1) * value(k, j, 2);
      CHECK(static_cast<float>(d[col_major_c ? j * ldc + i : i * ldc + j]) == static_cast<float>(2 * ref));
    }
}

template <int M, int N, int K, class T, class TC>
void check_layouts() {
  INFO("shape ", M, "x", N, "x", K, ", ", sizeof(T) == 2 && std::is_same_v<T, simt::__half> ? "half" : "bf16",
       " inputs, ", std::is_same_v<TC, float> ? "float" : "half", " accumulator");
  for (bool cc : {false, true}) {
    check_tile<M, N, K, T, wmma::row_major, wmma::row_major, TC>(cc);
    check_tile<M, N, K, T, wmma::row_major, wmma::col_major, TC>(cc);
    check_tile<M, N, K, T, wmma::col_major, wmma::row_major, TC>(cc);
    check_tile<M, N, K, T, wmma::col_major, wmma::col_major, TC>(cc);
  }
}

std::string misuse(int mode, int threads = 32) {
  std::vector<simt::__half> host(64 * 16, simt::__half(1.0f));
  DeviceBuffer<simt::__half> a(host.size(), host);
  try {
    HALFWAY_LAUNCH(wmma_misuse, 1, threads, 0, 0)(a.get(), mode);
    run_queued();
  } catch (const simt::KernelError& e) {
    return e.what();
  }
  return "no KernelError";
}

}  // namespace

TEST_CASE("emu: wmma half inputs with float accumulators for every shape and layout") {
  for_each_order([] {
    check_layouts<16, 16, 16, simt::__half, float>();
    check_layouts<32, 8, 16, simt::__half, float>();
    check_layouts<8, 32, 16, simt::__half, float>();
  });
}

TEST_CASE("emu: wmma half inputs with half accumulators for every shape and layout") {
  check_layouts<16, 16, 16, simt::__half, simt::__half>();
  check_layouts<32, 8, 16, simt::__half, simt::__half>();
  check_layouts<8, 32, 16, simt::__half, simt::__half>();
}

TEST_CASE("emu: wmma bf16 inputs with float accumulators for every shape and layout") {
  check_layouts<16, 16, 16, simt::__nv_bfloat16, float>();
  check_layouts<32, 8, 16, simt::__nv_bfloat16, float>();
  check_layouts<8, 32, 16, simt::__nv_bfloat16, float>();
}

TEST_CASE("emu: wmma num_elements is the tile over 32 lanes") {
  CHECK(wmma::fragment<wmma::matrix_a, 16, 16, 16, simt::__half, wmma::row_major>::num_elements == 8);
  CHECK(wmma::fragment<wmma::matrix_a, 32, 8, 16, simt::__half, wmma::row_major>::num_elements == 16);
  CHECK(wmma::fragment<wmma::matrix_b, 32, 8, 16, simt::__half, wmma::col_major>::num_elements == 4);
  CHECK(wmma::fragment<wmma::accumulator, 8, 32, 16, float>::num_elements == 8);
}

TEST_CASE("emu: a tiled WMMA GEMM kernel written for the GPU computes exactly") {
  for_each_order([] {
    const int M = 64, N = 96, K = 80;
    std::vector<simt::__half> a(M * K), b(K * N);
    for (int i = 0; i < M; ++i)
      for (int k = 0; k < K; ++k) a[i * K + k] = simt::__half(static_cast<float>(value(i, k, 5)));
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j) b[k * N + j] = simt::__half(static_cast<float>(value(k, j, 6)));
    DeviceBuffer<simt::__half> da(a.size(), a), db(b.size(), b);
    DeviceBuffer<float> dc(M * N);
    HALFWAY_LAUNCH(wmma_gemm, simt::dim3(N / 32, M / 32), 128, 0, 0)(da.get(), db.get(), dc.get(), M, N, K);
    const auto c = dc.host();
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        int ref = 0;
        for (int k = 0; k < K; ++k) ref += value(i, k, 5) * value(k, j, 6);
        CHECK(c[i * N + j] == static_cast<float>(ref));
      }
  });
}

TEST_CASE("emu: wmma rule violations are clear KernelErrors") {
  CHECK(misuse(0).find("which is not 32-byte (256-bit) aligned") != std::string::npos);
  CHECK(misuse(1).find("wmma::load_matrix_sync with ldm 12, which is not a multiple of 8 (16-bit elements)") !=
        std::string::npos);
  CHECK(misuse(2).find("with ldm 8, shorter than a row of the tile (16 elements)") != std::string::npos);
  const std::string differ = misuse(3);
  INFO(differ);
  CHECK((differ.find("called with different arguments") != std::string::npos ||
         differ.find("not 32-byte") != std::string::npos));
  const std::string exited = misuse(4);
  INFO(exited);
  CHECK(exited.find("wmma::mma_sync") != std::string::npos);
  CHECK(exited.find("lane 7, which exited") != std::string::npos);
  CHECK(misuse(5, 16).find("needs all 32 lanes of a full warp") != std::string::npos);
  CHECK(misuse(6).find("wmma::store_matrix_sync with pointer") != std::string::npos);
  CHECK(misuse(6).find("which is not 32-byte (256-bit) aligned") != std::string::npos);
  CHECK(misuse(7).find("wmma::store_matrix_sync with ldm 18, which is not a multiple of 4 (float elements)") !=
        std::string::npos);
}

}  // namespace halfway::emu_test
