#include "kernels/intro/intro_ops.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "common/tensor.hpp"
#include "kernels/intro/intro.hpp"

namespace halfway::intro {

namespace {
Tensor on(Backend backend, const std::vector<float>& values) {
  return Tensor::from_vector(values, Shape{static_cast<std::int64_t>(values.size())}, backend);
}

Launch resolve(Launch launch, int n) {
  HALFWAY_EXPECT(launch.threads >= 1 && launch.threads <= 1024, "threads per block in [1, 1024]",
                 std::to_string(launch.threads));
  if (launch.blocks == 0) launch.blocks = blocks_for(n, launch.threads);
  HALFWAY_EXPECT(launch.blocks >= 1, "at least one block", std::to_string(launch.blocks));
  return launch;
}
}  // namespace

int blocks_for(int n, int threads) { return std::clamp((n + threads - 1) / threads, 1, 1024); }

std::vector<float> vector_add(Backend backend, const std::vector<float>& a,
                              const std::vector<float>& b, Launch launch) {
  HALFWAY_EXPECT(a.size() == b.size(), "a and b of one size",
                 std::to_string(a.size()) + " and " + std::to_string(b.size()));
  const int n = static_cast<int>(a.size());
  if (backend == Backend::cpu) {
    std::vector<float> c(a.size());
    for (int i = 0; i < n; ++i) c[i] = a[i] + b[i];
    return c;
  }
  launch = resolve(launch, n);
  Tensor ta = on(backend, a), tb = on(backend, b), tc = Tensor::zeros(Shape{n}, DType::f32, backend);
  const float *pa = ta.data<float>(), *pb = tb.data<float>();
  float* pc = tc.data<float>();
  if (backend == Backend::emu) emu::vector_add(pa, pb, pc, n, launch.blocks, launch.threads);
  else HALFWAY_ON_GPU(vector_add(pa, pb, pc, n, launch.blocks, launch.threads));
  return tc.to_vector<float>();
}

std::vector<float> block_sums(Backend backend, SumKernel kernel, const std::vector<float>& x,
                              Launch launch) {
  const int n = static_cast<int>(x.size());
  launch = resolve(launch, n);
  if (backend == Backend::cpu) {
    // Same partition as the kernels: thread t of block j sums x[j*T + t + k*G], k = 0, 1, ...
    const int grid = launch.blocks * launch.threads;
    std::vector<float> sums(launch.blocks, 0.0f);
    for (int j = 0; j < launch.blocks; ++j)
      for (int t = 0; t < launch.threads; ++t) {
        float v = 0.0f;
        for (int i = j * launch.threads + t; i < n; i += grid) v += x[i];
        sums[j] += v;
      }
    return sums;
  }
  Tensor tx = on(backend, x), ts = Tensor::zeros(Shape{launch.blocks}, DType::f32, backend);
  const float* px = tx.data<float>();
  float* ps = ts.data<float>();
  const bool tree = kernel == SumKernel::tree;
  if (backend == Backend::emu) {
    tree ? emu::block_sum_tree(px, n, ps, launch.blocks, launch.threads)
         : emu::block_sum_shuffle(px, n, ps, launch.blocks, launch.threads);
  } else {
    tree ? HALFWAY_ON_GPU(block_sum_tree(px, n, ps, launch.blocks, launch.threads))
         : HALFWAY_ON_GPU(block_sum_shuffle(px, n, ps, launch.blocks, launch.threads));
  }
  return ts.to_vector<float>();
}

std::vector<float> reverse_in_shared(Backend backend, const std::vector<float>& x, bool with_barrier) {
  HALFWAY_EXPECT(backend != Backend::cpu, "the emu or cuda backend (the demo is about kernels)", "cpu");
  const int n = static_cast<int>(x.size());
  Tensor tx = on(backend, x), ty = Tensor::zeros(Shape{n}, DType::f32, backend);
  if (backend == Backend::emu) emu::reverse_in_shared(tx.data<float>(), ty.data<float>(), n, with_barrier);
  else HALFWAY_ON_GPU(reverse_in_shared(tx.data<float>(), ty.data<float>(), n, with_barrier));
  return ty.to_vector<float>();
}

}  // namespace halfway::intro
