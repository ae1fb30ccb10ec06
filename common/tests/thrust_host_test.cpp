// Thrust on the host: the CUDA toolkit's CCCL (or Debian's libthrust-dev) compiled by g++
// with the CPP device system, as host-side code of the course uses it (fill, transform,
// reduce, sort, scan where a chapter does not teach that algorithm). With the CPP system,
// `thrust::device` runs on host memory.
#include <doctest/doctest.h>

#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include <vector>

TEST_CASE("thrust runs on the host with the CPP device system") {
  static_assert(THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CPP);
  std::vector<int> v(1000);
  thrust::sequence(thrust::device, v.begin(), v.end(), 1);  // 1..1000
  CHECK(thrust::reduce(thrust::device, v.begin(), v.end(), 0) == 500500);
  thrust::transform(thrust::device, v.begin(), v.end(), v.begin(), thrust::negate<int>());
  thrust::sort(thrust::device, v.begin(), v.end());
  thrust::inclusive_scan(thrust::device, v.begin(), v.end(), v.begin());
  CHECK(v.front() == -1000);
  CHECK(v[1] == -1999);
  CHECK(v.back() == -500500);
}
