// The scaling recipes (scaling.hpp): host code, one pass per cast.
#include "kernels/fp8/scaling.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"

namespace halfway::fp8 {

float QuantStats::history_amax() const { return nonfinite > 0 ? NAN : amax; }

void QuantStats::merge(const QuantStats& other) {
  amax = std::max(amax, other.amax);
  count += other.count;
  saturated += other.saturated;
  underflowed += other.underflowed;
  nonfinite += other.nonfinite;
}

float amax(const float* x, std::int64_t n) {
  float m = 0.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (!std::isfinite(a)) return NAN;
    m = std::max(m, a);
  }
  return m;
}

QuantStats quantize(const float* x, std::int64_t n, float scale, Fp8Format format, std::uint8_t* out) {
  QuantStats s;
  s.count = n;
  const float max = fp8_max(format);
  for (std::int64_t i = 0; i < n; ++i) {
    const float y = x[i] * scale;
    const std::uint8_t q = float_to_fp8_bits(y, format, Saturation::finite);
    out[i] = q;
    if (!std::isfinite(x[i])) {
      ++s.nonfinite;
      continue;
    }
    s.amax = std::max(s.amax, std::fabs(x[i]));
    if (std::fabs(y) > max) ++s.saturated;
    if (x[i] != 0.0f && fp8_is_zero(q)) ++s.underflowed;
  }
  return s;
}

void dequantize(const std::uint8_t* q, std::int64_t n, float inv_scale, Fp8Format format, float* out) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = fp8_bits_to_float(q[i], format) * inv_scale;
}

DelayedScaler::DelayedScaler(Fp8Format format, DelayedRecipe recipe)
    : format_(format), recipe_(recipe) {
  if (recipe.history_length < 1)
    throw Error("delayed scaling: expected a history length >= 1, found " + std::to_string(recipe.history_length));
  if (recipe.margin < 0 || recipe.margin > 64)
    throw Error("delayed scaling: expected a margin from 0 to 64, found " + std::to_string(recipe.margin));
  ring_.assign(static_cast<std::size_t>(recipe.history_length), 0.0f);
}

std::vector<float> DelayedScaler::history() const {
  std::vector<float> h(ring_.begin() + next_, ring_.end());
  h.insert(h.end(), ring_.begin(), ring_.begin() + next_);
  return h;
}

void DelayedScaler::update(float step_amax) {
  ring_[static_cast<std::size_t>(next_)] = step_amax;
  next_ = (next_ + 1) % recipe_.history_length;
  scale_ = delayed_scale(ring_.data(), recipe_.history_length, fp8_max(format_), recipe_.margin, scale_);
}

QuantStats quantize_blocks(const float* x, std::int64_t rows, std::int64_t cols, int block_rows, int block_cols,
                           Fp8Format format, std::uint8_t* out, float* inv_scales) {
  if (block_rows < 1 || block_cols < 1)
    throw Error("per-block scaling: expected blocks of at least 1 x 1, found " + std::to_string(block_rows) + " x " +
                std::to_string(block_cols));
  QuantStats total;
  std::vector<float> block;
  std::vector<std::uint8_t> codes;
  const std::int64_t block_cols_n = (cols + block_cols - 1) / block_cols;
  for (std::int64_t r0 = 0; r0 < rows; r0 += block_rows) {
    for (std::int64_t c0 = 0; c0 < cols; c0 += block_cols) {
      const std::int64_t r1 = std::min(rows, r0 + block_rows), c1 = std::min(cols, c0 + block_cols);
      block.clear();
      for (std::int64_t r = r0; r < r1; ++r) block.insert(block.end(), x + r * cols + c0, x + r * cols + c1);
      const float scale = current_scale(amax(block.data(), static_cast<std::int64_t>(block.size())), format);
      codes.resize(block.size());
      total.merge(quantize(block.data(), static_cast<std::int64_t>(block.size()), scale, format, codes.data()));
      for (std::int64_t r = r0, k = 0; r < r1; ++r, k += c1 - c0)
        std::copy(codes.begin() + k, codes.begin() + k + (c1 - c0), out + r * cols + c0);
      inv_scales[(r0 / block_rows) * block_cols_n + c0 / block_cols] = 1.0f / scale;
    }
  }
  return total;
}

}  // namespace halfway::fp8
