// Loss scaling changes only exponents: the backward of loss * 2^k gives exactly 2^k times
// the gradients of the unscaled backward, in fp32, bit for bit, and unscaling them gives
// back the unscaled gradients exactly (every operation of the backward pass is linear in
// the incoming gradient, and multiplying a float by a power of two is exact while the
// result stays normal). On the chapter 03 model (the seed's shape, smaller), with dropout,
// on the test's backend: cpu, and the kernels under the emulator.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "common/testing/test_backend.hpp"
#include "common/number_words.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/layers/transformer.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

Backend device() { return testing::test_backend(); }

std::vector<float> gradients(float scale, bool unscale) {
  BackendScope scope(device());
  Config c;
  c.d_model = 32, c.heads = 4, c.d_ff = 64, c.encoder_layers = 1, c.decoder_layers = 1;
  c.vocab = task::kVocab;
  Seq2Seq<float> model(c);
  model.init(5);
  const Batch b = task::make_batch({7, 407, 12, 999, 100});
  model.zero_grad();
  model.forward(b, RunState{true, 9, 1});
  model.loss(task::kPad, 0.0f, scale);
  model.backward();
  if (unscale) {
    amp::ScalerOptions o;
    o.init_scale = scale;
    amp::GradScaler scaler(o);
    CHECK_FALSE(scaler.unscale(amp::GradBuffer{model.store.backend(), DType::f32, model.store.grads(), model.store.size()}));
  }
  return model.store.grads_host();
}

}  // namespace

TEST_CASE("loss scaling: the backward of a scaled loss is the scaled backward, exactly, in fp32") {
  const std::vector<float> g1 = gradients(1.0f, false);
  for (float scale : {0x1p4f, 0x1p10f, 0x1p16f}) {
    const std::vector<float> gs = gradients(scale, false);
    REQUIRE(gs.size() == g1.size());
    std::size_t nonzero = 0;
    for (std::size_t i = 0; i < g1.size(); ++i) {
      REQUIRE_MESSAGE(gs[i] == g1[i] * scale, "element " << i << " scale " << scale);
      nonzero += g1[i] != 0;
    }
    CHECK(nonzero > g1.size() / 2);  // the comparison saw real gradients
    const std::vector<float> back = gradients(scale, true);
    CHECK(std::memcmp(back.data(), g1.data(), g1.size() * sizeof(float)) == 0);
  }
}
