// Gradient buckets (kernels/dist/gradient_buckets.hpp): the flat buffer's sum started piece
// by piece as a backward makes its modules' gradients final. Each element must come out as
// the unbucketed sum leaves it, bit for bit; run alone and under mpirun -np 2 and 3.
#include <doctest/doctest.h>

#include <cstring>

#include "kernels/dist/gradient_buckets.hpp"
#include "kernels/dist/gradient_sync.hpp"
#include "kernels/dist/staging_buffers.hpp"
#include "world.hpp"

using namespace halfway;
using namespace halfway::dist;
using namespace halfway::dist::testing;  // world(), rank_values(), on_every_rank()

namespace {
constexpr std::int64_t kN = 100003;  // odd: no bucket or shard is a power of two
// Module boundaries as a backward reports them (descending), of uneven sizes.
std::vector<std::int64_t> module_starts() {
  std::vector<std::int64_t> from;
  for (std::int64_t at = kN, k = 0; at > 0; ++k) from.push_back(at = std::max<std::int64_t>(0, at - 1500 - 977 * (k % 7)));
  return from;
}
// The buffer summed by buckets of `bytes`, the hook called as a backward would call it:
// every bucket stays in flight until finish() waits for them in the order they started.
std::vector<Bucket> bucketed_sum(const amp::GradBuffer& whole, std::int64_t bytes, DType wire) {
  Communicator& comm = world();
  GradientBuckets buckets(bytes, [&](const amp::GradBuffer& part) { return start_sum_gradients(comm, part, wire); });
  buckets.record_trace();
  buckets.final_from(whole, kN);
  for (std::int64_t from : module_starts()) buckets.final_from(whole, from);
  buckets.finish(whole);
  return buckets.last_buckets();
}
}  // namespace

TEST_CASE("gradient buckets: bucketed and unbucketed sums are the same bits") {
  Communicator& comm = world();
  for (const std::int64_t bytes : {std::int64_t(4), std::int64_t(40000), std::int64_t(1) << 30}) {
    for (const DType wire : {DType::f32, DType::f16}) {
      CAPTURE(bytes);
      const std::string wire_name(to_string(wire));
      CAPTURE(wire_name);
      // Uniform values: their sums round, so a different order of the ranks would show.
      const std::vector<float> mine = rank_values(kN, comm.rank(), false);
      std::vector<float> whole = mine, pieces = mine;
      sum_gradients_as(comm, amp::GradBuffer{Backend::cpu, DType::f32, whole.data(), kN}, wire);
      const std::vector<Bucket> used = bucketed_sum(amp::GradBuffer{Backend::cpu, DType::f32, pieces.data(), kN}, bytes, wire);
      CHECK(on_every_rank(std::memcmp(whole.data(), pieces.data(), sizeof(float) * kN) == 0));
      // The buckets tile the buffer from its end down, each ending at a module boundary.
      REQUIRE(!used.empty());
      CHECK(used.front().end == kN);
      CHECK(used.back().begin == 0);
      for (std::size_t i = 1; i < used.size(); ++i) CHECK(used[i].end == used[i - 1].begin);
      // 4 bytes: every module is a bucket; 40 kB: several modules each; 1 GB: one bucket.
      const std::size_t want = bytes == 4 ? module_starts().size() : bytes == 40000 ? 0 : 1;
      if (want > 0) CHECK(used.size() == want);
      else CHECK((used.size() > 3 && used.size() < module_starts().size()));
    }
  }
}

// Every storage and wire: fp32 on fp32 (all_reduce_async), 16-bit gradients widened to an
// fp32 sum or summed in their type (all_reduce16_async), fp32 gradients rounded to 16-bit
// words (a copy per bucket). Buckets of 4 bytes (one per module, 24 in flight at
// once) and 40 kB (several).
TEST_CASE("gradient buckets: 16-bit buckets in flight together are the bits of the blocking sum") {
  Communicator& comm = world();
  for (const StorageWire& sw : storage_wire_pairs()) {
    for (const std::int64_t bytes : {std::int64_t(4), std::int64_t(40000)}) {
      const std::string name = sw.name();
      CAPTURE(name);
      CAPTURE(bytes);
      TestGrads whole(sw.storage, kN, comm.rank(), 8), pieces = whole;
      sum_gradients_as(comm, whole.buffer(), sw.wire);
      const std::vector<Bucket> used = bucketed_sum(pieces.buffer(), bytes, sw.wire);
      CHECK(used.size() > 3);
      CHECK(on_every_rank(pieces.same_bits(whole)));
    }
  }
}

// The copies are kept between steps: a second and third step with the same buckets allocate
// none (halfway-train's steps all have the same buckets). Alone nothing is copied at all.
TEST_CASE("gradient buckets: 16-bit copies are allocated in the first step only") {
  Communicator& comm = world();
  for (const StorageWire& sw : {StorageWire{DType::f32, DType::f16}, StorageWire{DType::bf16, DType::f32}}) {
    const std::string name = sw.name();
    CAPTURE(name);
    TestGrads g(sw.storage, kN, comm.rank(), 9);
    bucketed_sum(g.buffer(), 4, sw.wire);
    const std::int64_t after_first = staging_allocations();
    bucketed_sum(g.buffer(), 4, sw.wire);
    bucketed_sum(g.buffer(), 4, sw.wire);
    CHECK(staging_allocations() == after_first);
  }
}

TEST_CASE("gradient buckets: the trace holds every module's backward and every bucket once") {
  std::vector<float> g = rank_values(kN, world().rank(), false);
  Communicator& comm = world();
  const amp::GradBuffer whole{Backend::cpu, DType::f32, g.data(), kN};
  GradientBuckets buckets(40000, [&](const amp::GradBuffer& part) { return start_sum_gradients(comm, part, DType::f32); });
  buckets.record_trace();
  for (int step = 0; step < 2; ++step) {
    buckets.final_from(whole, kN);
    for (std::int64_t from : module_starts()) buckets.final_from(whole, from);
    buckets.finish(whole);
  }
  std::size_t backward = 0, bucket = 0, wait = 0;
  for (const TraceEvent& e : buckets.trace()) {
    CHECK(e.t0 <= e.t1);
    CHECK((e.step == 1 || e.step == 2));
    backward += e.kind == "backward", bucket += e.kind == "bucket", wait += e.kind == "wait";
  }
  CHECK(backward == 2 * module_starts().size());
  CHECK(bucket == 2 * buckets.last_buckets().size());
  CHECK(wait == 2);
}

TEST_CASE("gradient buckets: a final offset that moves backwards is refused") {
  std::vector<float> g(16);
  const amp::GradBuffer whole{Backend::cpu, DType::f32, g.data(), 16};
  GradientBuckets buckets(4, [](const amp::GradBuffer&) { return finished_pending(); });
  buckets.final_from(whole, 16);
  buckets.final_from(whole, 8);
  CHECK_THROWS_WITH_AS(buckets.final_from(whole, 12), doctest::Contains("final offsets that fall during one backward"),
                       Error);
  CHECK_THROWS_AS(buckets.final_from(whole, 17), Error);
}
