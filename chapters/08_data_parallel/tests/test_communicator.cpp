// The communicator's collectives (kernels/dist): MPI's under mpirun with 2 and 3 ranks, the
// size-1 one alone. Values are small integers where the result is exact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "08_data_parallel/shard.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "world.hpp"

using namespace halfway;
using namespace halfway::dist;
using namespace halfway::dist::testing;  // world(), rank_values(), on_every_rank()

namespace {
// Element i of every rank's input in these tests: rank r holds r + 1 + i (mod 7).
float input(int rank, std::int64_t i) { return float(rank + 1 + i % 7); }
// Its sum and max over the ranks.
float sum_over_ranks(int ranks, std::int64_t i) {
  float s = 0;
  for (int r = 0; r < ranks; ++r) s += input(r, i);
  return s;
}
std::vector<float> inputs(std::int64_t n) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[std::size_t(i)] = input(world().rank(), i);
  return v;
}
}  // namespace

TEST_CASE("communicator: rank and size agree with the launch") {
  Communicator& comm = world();
  CHECK(comm.rank() >= 0);
  CHECK(comm.rank() < comm.size());
  CHECK(comm.name() == (launched_by_mpirun() ? "mpi" : "single"));
  float size = float(comm.size());
  comm.all_reduce(&size, 1, ReduceOp::sum);
  CHECK(size == float(comm.size() * comm.size()));
}

TEST_CASE("communicator: all-reduce sum and max") {
  Communicator& comm = world();
  const int n = comm.size();
  std::vector<float> sum = inputs(13), max = sum;
  comm.all_reduce(sum.data(), 13, ReduceOp::sum);
  comm.all_reduce(max.data(), 13, ReduceOp::max);
  for (std::int64_t i = 0; i < 13; ++i) {
    CHECK(sum[std::size_t(i)] == sum_over_ranks(n, i));
    CHECK(max[std::size_t(i)] == input(n - 1, i));
  }
}

TEST_CASE("communicator: nonblocking all-reduce holds the sum after wait") {
  Communicator& comm = world();
  std::vector<float> a = inputs(1000), b = inputs(5);
  auto first = comm.all_reduce_async(a.data(), 1000, ReduceOp::sum);
  auto second = comm.all_reduce_async(b.data(), 5, ReduceOp::sum);  // two in flight
  second->wait();
  first->wait();
  for (std::int64_t i = 0; i < 1000; ++i) CHECK(a[std::size_t(i)] == sum_over_ranks(comm.size(), i));
  for (std::int64_t i = 0; i < 5; ++i) CHECK(b[std::size_t(i)] == sum_over_ranks(comm.size(), i));
}

TEST_CASE("communicator: reduce-scatter gives each rank its shard of the sum") {
  Communicator& comm = world();
  for (std::int64_t n : {0, 1, 2, 10, 101}) {
    CAPTURE(n);
    const ShardRange mine = shard_range(n, comm.size(), comm.rank());
    std::vector<float> send = inputs(n), recv(std::size_t(mine.size()) + 1, -1.0f);
    comm.reduce_scatter(send.data(), recv.data(), n);
    for (std::int64_t i = 0; i < mine.size(); ++i) CHECK(recv[std::size_t(i)] == sum_over_ranks(comm.size(), mine.begin + i));
    CHECK(recv.back() == -1.0f);  // nothing written past the shard
  }
}

TEST_CASE("communicator: all-gather collects every shard and works in place") {
  Communicator& comm = world();
  for (std::int64_t n : {0, 1, 2, 10, 101}) {
    CAPTURE(n);
    const ShardRange mine = shard_range(n, comm.size(), comm.rank());
    std::vector<float> shard(std::size_t(mine.size())), full(std::size_t(n), -1.0f), in_place(std::size_t(n), -1.0f);
    for (std::int64_t i = 0; i < mine.size(); ++i) shard[std::size_t(i)] = in_place[std::size_t(mine.begin + i)] = float(mine.begin + i);
    comm.all_gather(shard.data(), full.data(), n);
    comm.all_gather(in_place.data() + mine.begin, in_place.data(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      CHECK(full[std::size_t(i)] == float(i));
      CHECK(in_place[std::size_t(i)] == float(i));
    }
  }
}

TEST_CASE("communicator: broadcast from the last rank and a barrier") {
  Communicator& comm = world();
  const int root = comm.size() - 1;
  std::uint64_t seed = comm.rank() == root ? 0x1234'5678'9abcULL : 0;
  comm.broadcast(&seed, sizeof seed, root);
  comm.barrier();
  CHECK(seed == 0x1234'5678'9abcULL);
}

TEST_CASE("communicator: send_recv shifts values round the ring") {
  Communicator& comm = world();
  const int n = comm.size(), r = comm.rank();
  float mine = float(r), got = -1.0f;
  comm.send_recv(&mine, 1, (r + 1) % n, &got, 1, (r + n - 1) % n);
  CHECK(got == float((r + n - 1) % n));
}

TEST_CASE("communicator: 16-bit sums in fp32 round once and on the wire every hop") {
  Communicator& comm = world();
  const int n = comm.size();
  const std::int64_t count = 257;
  for (DType type : {DType::f16, DType::bf16}) {
    CAPTURE(to_string(type));
    std::vector<float> mine = rank_values(count, comm.rank(), false), exact = mine;
    comm.all_reduce(exact.data(), count, ReduceOp::sum);  // fp32: the reference
    std::vector<std::uint16_t> wide(static_cast<std::size_t>(count)), wire(static_cast<std::size_t>(count)), want(static_cast<std::size_t>(count));
    convert_from_f32(type, mine.data(), wide.data(), count);
    wire = wide;
    // The fp32 path sums the 16-bit inputs exactly (their sum fits a float here) and rounds once.
    std::vector<float> rounded_in(static_cast<std::size_t>(count));
    convert_to_f32(type, wide.data(), rounded_in.data(), count);
    comm.all_reduce(rounded_in.data(), count, ReduceOp::sum);
    convert_from_f32(type, rounded_in.data(), want.data(), count);
    comm.all_reduce16(type, wide.data(), count, Accumulate::fp32);
    comm.all_reduce16(type, wire.data(), count, Accumulate::wire16);
    CHECK(wide == want);
    // The wire sum rounds each of the N - 1 partial sums: within N - 1 half-ulps of the
    // 16-bit format (2^-11 for f16, 2^-8 for bf16, relative) of sum |x|, plus the final rounding.
    std::vector<float> wire_f(static_cast<std::size_t>(count));
    convert_to_f32(type, wire.data(), wire_f.data(), count);
    std::vector<float> abs_in(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < abs_in.size(); ++i) abs_in[i] = std::fabs(mine[i]);
    comm.all_reduce(abs_in.data(), count, ReduceOp::sum);
    const double u = type == DType::f16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
    int outside = 0;
    for (std::size_t i = 0; i < wire_f.size(); ++i)
      if (std::fabs(double(wire_f[i]) - double(exact[i])) > (n + 1) * u * abs_in[i] + 1e-6) ++outside;
    CHECK(outside == 0);
  }
}

TEST_CASE("communicator: a 16-bit sum that overflows becomes inf and must be caught as found_inf") {
  Communicator& comm = world();
  std::vector<float> big(4, 40000.0f);  // fp16's largest finite value is 65504: two ranks overflow
  std::vector<std::uint16_t> wide(4), wire(4);
  convert_from_f32(DType::f16, big.data(), wide.data(), 4);
  wire = wide;
  comm.all_reduce16(DType::f16, wide.data(), 4, Accumulate::fp32);
  comm.all_reduce16(DType::f16, wire.data(), 4, Accumulate::wire16);
  std::vector<float> back(4);
  const bool alone = comm.size() == 1;  // one rank sums nothing: 40000 stays finite
  convert_to_f32(DType::f16, wire.data(), back.data(), 4);
  CHECK(std::isinf(back[0]) != alone);
  convert_to_f32(DType::f16, wide.data(), back.data(), 4);
  CHECK(std::isinf(back[0]) != alone);  // the fp32 sum fits, its rounding to fp16 does not
}
