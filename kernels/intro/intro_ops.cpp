#include "kernels/intro/intro_ops.hpp"

#include <algorithm>

#include "common/device_memory.hpp"
#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "kernels/intro/intro.hpp"

namespace halfway::intro {

namespace {
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
  const Buf<float> da = device_copy(backend, a), db = device_copy(backend, b);
  Buf<float> dc;
  HALFWAY_KERNEL(backend, vector_add(da.data(), db.data(), dc.get(a.size(), backend), n, launch.blocks, launch.threads));
  return dc.host(a.size());
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
  const Buf<float> dx = device_copy(backend, x);
  Buf<float> ds;
  const float* px = dx.data();
  float* ps = ds.get(std::size_t(launch.blocks), backend);
  if (kernel == SumKernel::tree) HALFWAY_KERNEL(backend, block_sum_tree(px, n, ps, launch.blocks, launch.threads));
  else HALFWAY_KERNEL(backend, block_sum_shuffle(px, n, ps, launch.blocks, launch.threads));
  return ds.host(std::size_t(launch.blocks));
}

std::vector<float> reverse_in_shared(Backend backend, const std::vector<float>& x, bool with_barrier) {
  HALFWAY_EXPECT(backend != Backend::cpu, "the emu or cuda backend (the demo is about kernels)", "cpu");
  const int n = static_cast<int>(x.size());
  const Buf<float> dx = device_copy(backend, x);
  Buf<float> dy;
  HALFWAY_KERNEL(backend, reverse_in_shared(dx.data(), dy.get(x.size(), backend), n, with_barrier));
  return dy.host(x.size());
}

}  // namespace halfway::intro
