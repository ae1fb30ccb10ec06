// Exercise 08.3: every rank skips the step when any rank found inf/NaN. Run under mpirun
// with 2 and 3 ranks, and alone.
#include <doctest/doctest.h>

#include "08_data_parallel/found_inf.hpp"
#include "world.hpp"

using namespace halfway::dist;
using namespace halfway::dist::testing;  // world(), rank_values(), on_every_rank()

namespace {
// found_inf on every rank after the consensus, when it was raised locally on `raised` ranks.
float consensus(bool raised_here) {
  float flag = raised_here ? 1.0f : 0.0f;
  found_inf_consensus(world(), &flag);
  return flag;
}
}  // namespace

TEST_CASE("found_inf consensus: no rank found inf so none skips [ex08.3]") {
  CHECK(on_every_rank(consensus(false) == 0.0f));
}

TEST_CASE("found_inf consensus: every rank found inf so all skip [ex08.3]") {
  CHECK(on_every_rank(consensus(true) == 1.0f));
}

TEST_CASE("found_inf consensus: one rank alone found inf and every rank skips [ex08.3]") {
  const int n = world().size();
  for (int culprit = 0; culprit < n; ++culprit) {
    CAPTURE(culprit);
    CHECK(on_every_rank(consensus(world().rank() == culprit) == 1.0f));  // exactly 1: a flag, not a count
  }
}

TEST_CASE("found_inf consensus: all but one rank found inf and every rank skips [ex08.3]") {
  const int n = world().size();
  for (int clean = 0; clean < n; ++clean) {
    CAPTURE(clean);
    const float expected = n > 1 ? 1.0f : 0.0f;  // alone, "all but one" is nobody
    CHECK(on_every_rank(consensus(world().rank() != clean) == expected));
  }
}
