// The norm over a parameter store's flat gradient buffer (kernels/layers/param_store.hpp):
// the padding between parameters is zero, so the norm of the whole buffer is the norm of
// the parameters' gradients, with no mask. fp32 gradients and 16-bit ones (GradType::storage).
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"
#include "kernels/layers/param_store.hpp"

using namespace ch06;
using namespace halfway::optim;

namespace {

template <class S>
void check_store(layers::GradType type) {
  using layers::Param;
  layers::BackendScope scope(device());
  Param<S> a("a", {3, 5}), b("b", {17}), c("c", {130, 7}), d("d", {1});
  layers::ParamList<S> ps{&a, &b, &c, &d};
  layers::ParamStore<S> store(ps, type);
  REQUIRE(store.size() > store.count());  // there is padding to ignore
  const bool in_s = type == layers::GradType::storage;
  std::vector<S> all;  // every parameter's gradient, concatenated without padding
  std::uint64_t seed = 40;
  for (Param<S>* p : ps) {
    const auto g = random_grads<S>(p->numel(), seed++, -3.0, 2.0);
    all.insert(all.end(), g.begin(), g.end());
    if (in_s) {
      copy_in(device(), p->grad().s, g.data(), g.size() * sizeof(S));
    } else {
      std::vector<float> f(g.begin(), g.end());
      copy_in(device(), p->grad().a, f.data(), f.size() * sizeof(float));
    }
  }
  const GradBuffer grads = in_s ? GradBuffer{device(), dtype_of<S>(), store.grads_storage(), store.size()}
                                : GradBuffer{device(), DType::f32, store.grads(), store.size()};
  NormWorkspace ws;
  const double ref = reference_norm(all);
  CHECK(std::fabs(double(global_norm(grads, ws)) - ref) <= norm_bound(ref, store.size()));
}

}  // namespace

TEST_CASE("norm over a parameter store: the padding is zero and needs no mask") {
  check_store<float>(layers::GradType::fp32);
  check_store<half>(layers::GradType::fp32);
  check_store<half>(layers::GradType::storage);
  check_store<bfloat16>(layers::GradType::storage);
}
