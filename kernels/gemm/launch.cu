// gemm_launch: the kernel libraries' entry point (one per build), picking a rung of the ladder.
#include "kernels/gemm/gemm_device.cuh"

namespace halfway::HALFWAY_KERNEL_NS {

void gemm_launch(GemmKernel kernel, const GemmArgs& g, void* stream) {
  using namespace gemm_impl;
  const auto s = static_cast<cudaStream_t>(stream);
  // gridDim.z holds the batch entry and stops at 65535: longer batches go in slices.
  constexpr int kMaxZ = 65535;
  for (int z0 = 0; z0 < g.batch; z0 += kMaxZ) {
    GemmArgs part = g;
    part.batch = g.batch - z0 < kMaxZ ? g.batch - z0 : kMaxZ;
    const std::size_t in = size_of(g.in), out = size_of(g.out);
    part.a = static_cast<const char*>(g.a) + std::size_t(z0) * std::size_t(g.stride_a) * in;
    part.b = static_cast<const char*>(g.b) + std::size_t(z0) * std::size_t(g.stride_b) * in;
    part.c = static_cast<char*>(g.c) + std::size_t(z0) * std::size_t(g.stride_c) * out;
    switch (kernel) {
      case GemmKernel::naive: launch_naive(part, s); break;
      case GemmKernel::smem_tiled: launch_smem_tiled(part, s); break;
      case GemmKernel::wmma_naive: launch_wmma_naive(part, s); break;
      case GemmKernel::wmma_block: launch_wmma_block(part, s); break;
      case GemmKernel::wmma_pipeline: launch_wmma_pipeline(part, s); break;
      case GemmKernel::best:
      case GemmKernel::wmma_best: launch_wmma_best(part, s); break;
      default:
        throw Error("gemm_launch: expected a GemmKernel 0-6 (best, naive, smem_tiled, wmma_naive, wmma_block, "
                    "wmma_pipeline, wmma_best), found " + std::to_string(int(kernel)));
    }
  }
}

void gemm_launch_variant(int variant, const GemmArgs& g, void* stream) {
  HALFWAY_EXPECT(g.batch <= 65535, "a batch of at most 65535 for kernel 6's variants", std::to_string(g.batch));
  gemm_impl::launch_wmma_best_variant(variant, g, static_cast<cudaStream_t>(stream));
}

}  // namespace halfway::HALFWAY_KERNEL_NS
