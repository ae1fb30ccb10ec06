#include "kernels/train/telemetry.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/number_words.hpp"
#include "kernels/amp/grad_scaler.hpp"
#include "kernels/amp/numerics.hpp"
#include "kernels/amp/unscale.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "kernels/layers/transformer.hpp"

namespace halfway::train {

namespace {
const TrainerOptions& checked(const std::string& path, std::int64_t every, const TrainerOptions& run) {
  if (every < 1) throw UsageError("expected --telemetry-every >= 1, found " + std::to_string(every));
  if (path.size() < 5 || path.substr(path.size() - 4) != ".csv")
    throw UsageError("expected a --telemetry file ending in .csv, found '" + path + "'");
  return run;
}
}  // namespace

struct Telemetry::Impl {
  TrainerOptions run;
  CsvWriter csv;
  Batch probe;
  std::unique_ptr<layers::Seq2Seq<float>> model;  // the fp32 copy, on the cpu

  Impl(const std::string& path, const TrainerOptions& o, const std::vector<int>& numbers)
      : run(o),
        csv(path, {"step", "run_scale", "loss_scale", "multiplier", "kind", "tensor", "format", "values", "exact_zero", "underflow",
                   "subnormal", "normal", "overflow", "nonfinite"}) {
    HALFWAY_EXPECT(!numbers.empty(), "training numbers for the telemetry's probe batch", "none");
    probe = task::make_batch({numbers.begin(), numbers.begin() + std::min<std::ptrdiff_t>(run.batch, std::ptrdiff_t(numbers.size()))});
    const layers::BackendScope cpu(Backend::cpu);  // a measurement beside the run, wherever the run is
    model = std::make_unique<layers::Seq2Seq<float>>(run.model);
  }

  /// The multiplier the run's backward puts on this batch's gradients (Trainer's run_step).
  /// Under mpirun a rank's share of the batch weighs its share of the tokens: about 1/ranks.
  float multiplier(float scale) const {
    return float(double(scale) * run.loss_weight / run.accumulate / std::max(1, run.ranks));
  }

  /// Counts of n fp32 values in both formats, at the run's scale and (when that is not 1)
  /// at scale 1 for comparison: what the same gradients would lose without loss scaling.
  void count(std::int64_t step, float scale, const char* kind, const std::string& name, const float* x,
             std::int64_t n) {
    const float scales[2] = {scale, 1.0f};
    for (int k = 0; k < (scale == 1.0f ? 1 : 2); ++k) {
      const float mult = multiplier(scales[k]);
      for (const DType f : {DType::f16, DType::bf16}) {
        const amp::RangeCounts c = amp::count_ranges(Backend::cpu, DType::f32, x, n, f, mult, nullptr);
        csv.row(step, scale, scales[k], mult, kind, name, f == DType::f16 ? "fp16" : "bf16", c.total(), c.n[0], c.n[1],
                c.n[2], c.n[3], c.n[4], c.n[5]);
      }
    }
  }

  /// What unscaling does to the parameter gradients `g` once stored in 16 bits at the run's
  /// multiplier (--grad-storage 16): the fused step's read, g * (1/scale) in fp32 registers
  /// (kernels/optim/update_element.hpp), against chapter 04's in-place unscale_, which
  /// writes g * (1/scale) back into the 16-bit type (amp::unscale_and_check, the trainer's
  /// path before issue 21). Rows of kind "unscale"; see telemetry.hpp for the columns.
  void count_unscale(std::int64_t step, float scale, const float* g, std::int64_t n) {
    const float mult = multiplier(scale);
    const float inv_scale = 1.0f / scale;
    const auto count = static_cast<std::size_t>(n);
    std::vector<float> scaled(count), stored(count), in_place(count);
    for (std::int64_t i = 0; i < n; ++i) scaled[i] = g[i] * mult;
    std::vector<std::uint16_t> bits(count);
    for (const DType f : {DType::f16, DType::bf16}) {
      convert_from_f32(f, scaled.data(), bits.data(), n);
      convert_to_f32(f, bits.data(), stored.data(), n);
      amp::unscale_and_check(amp::GradBuffer{Backend::cpu, f, bits.data(), n}, inv_scale, nullptr);
      convert_to_f32(f, bits.data(), in_place.data(), n);
      // exact_zero: 0 once stored; underflow: stored nonzero, 0 after unscaling (flushed by
      // unscaling); normal: nonzero after unscaling; nonfinite: inf or NaN once stored.
      std::int64_t zero = 0, nonfinite = 0, flushed_fused = 0, flushed_in_place = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        if (!std::isfinite(stored[i])) {
          ++nonfinite;
        } else if (stored[i] == 0.0f) {
          ++zero;
        } else {
          flushed_fused += stored[i] * inv_scale * 1.0f == 0.0f;  // the fused read, clip coefficient 1
          flushed_in_place += in_place[i] == 0.0f;
        }
      }
      const char* format = f == DType::f16 ? "fp16" : "bf16";
      const std::int64_t kept = n - zero - nonfinite;
      csv.row(step, scale, scale, mult, "unscale", "fused step (read in fp32)", format, n, zero, flushed_fused, 0,
              kept - flushed_fused, 0, nonfinite);
      csv.row(step, scale, scale, mult, "unscale", "in place (chapter 04's unscale_)", format, n, zero,
              flushed_in_place, 0, kept - flushed_in_place, 0, nonfinite);
    }
  }
};

Telemetry::Telemetry(const std::string& csv_path, std::int64_t every, const TrainerOptions& run,
                     const std::vector<int>& train_numbers)
    : impl_(std::make_unique<Impl>(csv_path, checked(csv_path, every, run), train_numbers)), every_(every) {}

Telemetry::~Telemetry() = default;

std::size_t Telemetry::rows() const { return impl_->csv.rows(); }

void Telemetry::measure(std::int64_t step, const std::vector<float>& weights, float scale) {
  const layers::BackendScope cpu(Backend::cpu);
  auto& m = *impl_->model;
  HALFWAY_EXPECT(std::int64_t(weights.size()) == m.store.size(),
                 std::to_string(m.store.size()) + " weights (this model's store)", std::to_string(weights.size()));
  m.store.set_weights(weights);
  m.zero_grad();
  // The same batch and dropout masks at every measurement: only the weights and the scale change.
  m.forward(impl_->probe, layers::RunState{true, impl_->run.seed, 0});
  m.loss(task::kPad);
  m.backward([&](const std::string& where, const float* g, std::int64_t n) {
    impl_->count(step, scale, "activation", where, g, n);
  });
  for (const auto* p : m.store.params())
    impl_->count(step, scale, "parameter", p->name, m.store.grads() + p->offset, p->numel());
  std::vector<float> all;  // every parameter gradient, without the store's padding
  all.reserve(std::size_t(m.store.size()));
  for (const auto* p : m.store.params()) all.insert(all.end(), m.store.grads() + p->offset, m.store.grads() + p->offset + p->numel());
  impl_->count_unscale(step, scale, all.data(), std::int64_t(all.size()));
}

}  // namespace halfway::train
