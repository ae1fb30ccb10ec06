// The trainer's loss (Seq2Seq::loss_into, ops.hpp cross_entropy_into): the gradient's scale
// read from a word in the layers' memory, the counted rows from the batch's header, the
// mean loss added into a word. It gives the same bits as the host-driven loss() on the cpu
// and on the device (HALFWAY_TEST_BACKEND): the same loss (the rows in the same order) and
// the same gradients after backward (the same row scale, computed by the same formula).
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"
#include "chapters/03_layers/tests/small_model.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {

struct Outcome {
  float loss = 0;
  std::vector<float> grads;
};

// Two micro-batches of a step with accumulation 2, loss weight 0.5, loss scale 1024:
// `device_sum` picks loss_into, else loss() with the host's scale.
template <class S>
Outcome run(Backend backend, bool device_sum, bool all_ignored) {
  BackendScope scope(backend);
  Seq2Seq<S> model(small_config());
  randomize(model.store, 5, 0.3);
  Batch b = small_batch();
  if (all_ignored) b.tgt_out.assign(b.tgt_out.size(), 0);
  const float loss_scale = 1024.0f;
  const double weight = 0.5;
  const int accumulate = 2;
  Buf<float> scale_word, loss_word;
  copy_in(scale_word.get(1), &loss_scale, sizeof loss_scale);
  zero_values(loss_word.get(1), 1);
  Outcome o;
  model.zero_grad();
  for (int micro = 0; micro < accumulate; ++micro) {
    const RunState run{true, 11, std::uint64_t(micro)};
    model.forward(b, run, /*loss_ignore_index*/ 0);
    if (device_sum) {
      model.loss_into(loss_word.data(), DeviceLossScale{scale_word.data(), weight, accumulate}, 0, 0.1f);
    } else {
      const float host_scale = float(double(loss_scale) * weight / accumulate);  // the trainer's formula before
      o.loss += model.loss(0, 0.1f, host_scale) / float(accumulate);
    }
    model.backward();
  }
  if (device_sum) o.loss = loss_word.host(1)[0];
  o.grads = model.store.grads_host();
  return o;
}

template <class S>
void check_same_bits(Backend backend, bool all_ignored) {
  const Outcome host = run<S>(backend, false, all_ignored), dev = run<S>(backend, true, all_ignored);
  CHECK(std::memcmp(&host.loss, &dev.loss, sizeof(float)) == 0);
  REQUIRE(host.grads.size() == dev.grads.size());
  CHECK(std::memcmp(host.grads.data(), dev.grads.data(), host.grads.size() * sizeof(float)) == 0);
  if (all_ignored) CHECK(dev.loss == 0.0f);
  else CHECK(dev.loss > 0.0f);
}

}  // namespace

TEST_CASE("loss_into gives loss()'s bits on the cpu: fp32 and fp16") {
  check_same_bits<float>(Backend::cpu, false);
  check_same_bits<half>(Backend::cpu, false);
}

TEST_CASE("loss_into gives loss()'s bits on the device: fp32 fp16 and bf16") {
  check_same_bits<float>(test_device(), false);
  check_same_bits<half>(test_device(), false);
  check_same_bits<bfloat16>(test_device(), false);
}

TEST_CASE("loss_into with no counted row: loss 0 and zero gradients of the loss as loss()") {
  check_same_bits<float>(test_device(), true);
  check_same_bits<float>(Backend::cpu, true);
}
