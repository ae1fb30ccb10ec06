// Adam/AdamW (and plain SGD) fused over a parameter store on the device (API: optimizer.hpp).
//
// The math per element is exercise 05.1 (adam_element: moments, bias-corrected step,
// decay), then the writes of the master mode (update_element.hpp). Every element is
// independent: one thread per element, grid-stride, no shared memory, no reduction.
//
//   buffers (n elements each):  grad | m | v | master | working
//   thread t of G x 256 handles elements t, t + 256 G, t + 512 G, ...   (coalesced: a
//   warp reads 32 consecutive elements of each buffer)
//
// Per element it reads grad, m, v and the weight (master or working copy) and writes m, v
// and master and/or working: 5 reads and 4 writes of 2-4 bytes, ~26 bytes an element in
// mixed mode; the launch is bound by memory bandwidth, as a fused optimizer should be (the
// unfused PyTorch single-tensor path makes ~10 passes over the same data).
#include <algorithm>

#include "common/device.cuh"
#include "common/grid.hpp"
#include "kernels/optim/optimizer.hpp"
#include "kernels/optim/update_element.hpp"

namespace halfway::HALFWAY_KERNEL_NS {
namespace {

constexpr int kThreads = 256;

template <class S, class G>
__global__ void update_kernel(bool sgd, float* master, S* working, const G* grad, float* m, float* v, std::int64_t n,
                              ::halfway::optim::AdamConstants c, int mode, std::uint64_t sr_seed,
                              ::halfway::optim::GradFold fold) {
  if (::halfway::optim::skipped(fold)) return;  // a word on the device: the host never decided
  const ::halfway::optim::GradFactors f = ::halfway::optim::factors(fold);
  c = ::halfway::optim::constants_of(fold, c);  // the step's own, when computed on the device
  sr_seed = ::halfway::optim::sr_seed_of(fold, sr_seed);
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t i = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    ::halfway::optim::update_element(i, sgd, master, working, grad, m, v, c, mode, sr_seed, f);
}

template <class S, class G>
void launch(bool sgd, float* master, S* working, const G* grad, float* m, float* v, std::int64_t n,
            const ::halfway::optim::AdamConstants& c, int mode, std::uint64_t sr_seed,
            const ::halfway::optim::GradFold& fold) {
  if (n <= 0) return;
  constexpr auto kernel = update_kernel<S, G>;
  HALFWAY_LAUNCH(kernel, grid_blocks(n, kThreads), kThreads, 0, 0)(sgd, master, working, grad, m, v, n, c, mode, sr_seed, fold);
  HALFWAY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

#define HALFWAY_ADAM_DEFINE(S, G)                                                                        \
  void optimizer_step(bool sgd, float* master, S* working, const G* grad, float* m, float* v, std::int64_t n, \
                      ::halfway::optim::AdamConstants c, int mode, std::uint64_t sr_seed,                  \
                      ::halfway::optim::GradFold fold) {                                                     \
    launch(sgd, master, working, grad, m, v, n, c, mode, sr_seed, fold);                                   \
  }
HALFWAY_ADAM_DEFINE(float, float)
HALFWAY_ADAM_DEFINE(::halfway::half, float)
HALFWAY_ADAM_DEFINE(::halfway::half, ::halfway::half)
HALFWAY_ADAM_DEFINE(::halfway::bfloat16, float)
HALFWAY_ADAM_DEFINE(::halfway::bfloat16, ::halfway::bfloat16)

}  // namespace halfway::HALFWAY_KERNEL_NS
