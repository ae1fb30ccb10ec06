// The trainer's hook (kernels/dist/gradient_sync.hpp): the flat gradient buffer summed over
// the ranks, and the skip decision that then agrees everywhere without a consensus call.
#include <doctest/doctest.h>

#include "kernels/amp/unscale.hpp"
#include "kernels/dist/gradient_sync.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "world.hpp"

using namespace halfway;
using namespace halfway::dist;
using namespace halfway::dist::testing;  // world(), rank_values(), on_every_rank()

TEST_CASE("gradient sync: fp32 gradients become their sum over the ranks") {
  Communicator& comm = world();
  std::vector<float> g = rank_values(300, comm.rank(), true), want = g;
  comm.all_reduce(want.data(), 300, ReduceOp::sum);
  sum_gradients(comm, amp::GradBuffer{Backend::cpu, DType::f32, g.data(), 300}, Accumulate::fp32);
  CHECK(g == want);
}

TEST_CASE("gradient sync: an fp16 overflow on the wire is found on every rank and every rank skips") {
  Communicator& comm = world();
  // Scaled gradients near fp16's top: 4e4 per rank; two or more ranks sum past 65504.
  std::vector<float> scaled(64, 4.0e4f);
  std::vector<std::uint16_t> g(64);
  convert_from_f32(DType::f16, scaled.data(), g.data(), 64);
  sum_gradients(comm, amp::GradBuffer{Backend::cpu, DType::f16, g.data(), 64}, Accumulate::wire16);
  const bool found_inf = amp::unscale_and_check(amp::GradBuffer{Backend::cpu, DType::f16, g.data(), 64}, 1.0f / 1024, nullptr);
  CHECK(found_inf == (comm.size() > 1));
  // Each rank decided from its own copy of the sum, and they agree.
  CHECK(on_every_rank(found_inf == (comm.size() > 1)));
}

// Gradient buckets start several sums before they wait for the first. Each must keep its
// own copy for the network (fp32 gradients rounded to 16-bit words, 16-bit ones widened to
// fp32): had two shared one, the second conversion would overwrite the first's words while
// they are summed, and the first's wait would convert the second's sum back. Waited for in
// reverse order, the three parts must equal their sums done one at a time, bit for bit.
TEST_CASE("gradient sync: sums started together and waited for in reverse order keep their own copies") {
  Communicator& comm = world();
  const std::int64_t sizes[] = {5003, 3001, 7};  // unequal: a shared copy would also be resized
  for (const StorageWire& sw : storage_wire_pairs()) {
    const std::string name = sw.name();
    CAPTURE(name);
    std::vector<TestGrads> together, one_at_a_time;
    for (int i = 0; i < 3; ++i) {
      together.emplace_back(sw.storage, sizes[i], comm.rank(), 100 + std::uint64_t(i));
      one_at_a_time.push_back(together.back());
    }
    for (TestGrads& g : one_at_a_time) sum_gradients_as(comm, g.buffer(), sw.wire);
    std::vector<std::unique_ptr<Pending>> started;
    for (TestGrads& g : together) started.push_back(start_sum_gradients(comm, g.buffer(), sw.wire));
    for (int i = 2; i >= 0; --i) started[std::size_t(i)]->wait();
    for (int i = 0; i < 3; ++i) CHECK(on_every_rank(together[std::size_t(i)].same_bits(one_at_a_time[std::size_t(i)])));
  }
}
