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
