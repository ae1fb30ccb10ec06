// Exercise 08.1: the ring all-reduce against MPI_Allreduce (the communicator's all_reduce),
// for sizes that do not divide evenly, n < ranks included. ctest runs this under mpirun with
// 2, 3 and 4 ranks, and alone (size 1: nothing to exchange).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "08_data_parallel/ring_all_reduce.hpp"
#include "world.hpp"

using namespace halfway;
using namespace halfway::dist;
using namespace halfway::dist::testing;  // world(), rank_values(), on_every_rank()

namespace {
const std::int64_t kSizes[] = {0, 1, 2, 3, 5, 7, 64, 1000, 4099};
}

TEST_CASE("ring all-reduce: integer sums equal MPI_Allreduce exactly for uneven sizes [ex08.1]") {
  Communicator& comm = world();
  std::vector<float> scratch;
  for (std::int64_t n : kSizes) {
    CAPTURE(n);
    std::vector<float> ring = rank_values(n, comm.rank(), true), mpi = ring;
    ring_all_reduce(comm, ring.data(), n, scratch);
    comm.all_reduce(mpi.data(), n, ReduceOp::sum);
    CHECK(ring == mpi);  // integers below 2^24: every order of the sum gives the same float
  }
}

TEST_CASE("ring all-reduce: every rank ends with the same bits [ex08.1]") {
  Communicator& comm = world();
  std::vector<float> scratch;
  for (std::int64_t n : kSizes) {
    CAPTURE(n);
    std::vector<float> v = rank_values(n, comm.rank(), false);
    ring_all_reduce(comm, v.data(), n, scratch);
    std::vector<float> root = v;  // rank 0's result, sent to all
    comm.broadcast(root.data(), n * std::int64_t(sizeof(float)), 0);
    CHECK(on_every_rank(std::memcmp(root.data(), v.data(), v.size() * sizeof(float)) == 0));
  }
}

TEST_CASE("ring all-reduce: random values within the rounding bound of MPI_Allreduce [ex08.1]") {
  Communicator& comm = world();
  std::vector<float> scratch;
  const std::int64_t n = 4099;
  std::vector<float> ring = rank_values(n, comm.rank(), false), mpi = ring, abs_sum(ring.size());
  for (std::size_t i = 0; i < ring.size(); ++i) abs_sum[i] = std::fabs(ring[i]);
  ring_all_reduce(comm, ring.data(), n, scratch);
  comm.all_reduce(mpi.data(), n, ReduceOp::sum);
  comm.all_reduce(abs_sum.data(), n, ReduceOp::sum);
  // Two float sums of N terms in different orders: each is within (N - 1) u sum|x| of the
  // exact sum (u = 2^-24), so they differ by at most 2 (N - 1) u sum|x|.
  const double u = std::ldexp(1.0, -24);
  int outside = 0;
  for (std::size_t i = 0; i < ring.size(); ++i)
    if (std::fabs(double(ring[i]) - double(mpi[i])) > 2.0 * (comm.size() - 1) * u * abs_sum[i]) ++outside;
  CHECK(outside == 0);
}

TEST_CASE("ring all-reduce: reusing the scratch buffer gives the same result [ex08.1]") {
  Communicator& comm = world();
  std::vector<float> scratch, again_scratch(3, 99.0f);
  const std::int64_t n = 1000;
  std::vector<float> a = rank_values(n, comm.rank(), true), b = a, mpi = a;
  ring_all_reduce(comm, a.data(), n, scratch);
  ring_all_reduce(comm, b.data(), n, again_scratch);  // stale contents must not leak in
  comm.all_reduce(mpi.data(), n, ReduceOp::sum);
  CHECK(a == mpi);
  CHECK(b == mpi);
}
