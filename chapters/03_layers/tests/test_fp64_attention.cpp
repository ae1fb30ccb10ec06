// The fp64 checking mode is fp64 throughout: multi-head attention in double against an
// independent fp64 reference written from the formulas (PyTorch's nn.MultiheadAttention).
// With d_h = 3, 1/sqrt(d_h) is not a float: when the scale was passed as a float the two
// agreed only to ~3e-8 relative (the float's rounding error), which the finite-difference
// tests cannot see but a fp64 comparison with another framework does.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"

using namespace halfway::layers;
using namespace ch03test;

namespace {

// y = x W^T + b for `rows` rows of `in` values, W [out, in] at row offset `w_row`.
std::vector<double> affine(const std::vector<double>& x, int rows, int in, const double* W, const double* b,
                           int w_row, int out) {
  std::vector<double> y(std::size_t(rows) * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double s = b[w_row + o];
      for (int i = 0; i < in; ++i) s += x[std::size_t(r) * in + i] * W[std::size_t(w_row + o) * in + i];
      y[std::size_t(r) * out + o] = s;
    }
  return y;
}

// Attention of [B Lq, D] queries over [B Lk, D] keys/values, H heads, all in double.
std::vector<double> reference_attention(MultiheadAttention<double>& mha, const std::vector<double>& xq,
                                        const std::vector<double>& xkv, int B, int Lq, int Lk, int D, int H,
                                        const std::vector<std::uint8_t>& key_pad, bool causal) {
  const double* W = mha.in_proj_weight.w();
  const double* bias = mha.in_proj_bias.w();
  const auto Q = affine(xq, B * Lq, D, W, bias, 0, D);
  const auto K = affine(xkv, B * Lk, D, W, bias, D, D);
  const auto V = affine(xkv, B * Lk, D, W, bias, 2 * D, D);
  const int dh = D / H;
  std::vector<double> O(std::size_t(B) * Lq * D, 0.0);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < Lq; ++i) {
        std::vector<double> s(static_cast<std::size_t>(Lk));
        double m = -INFINITY;
        for (int j = 0; j < Lk; ++j) {
          double dot = 0;
          for (int c = 0; c < dh; ++c)
            dot += Q[(std::size_t(b) * Lq + i) * D + h * dh + c] * K[(std::size_t(b) * Lk + j) * D + h * dh + c];
          const bool hidden = key_pad[std::size_t(b) * Lk + j] || (causal && j > i);
          s[std::size_t(j)] = hidden ? -INFINITY : dot / std::sqrt(double(dh));
          m = std::max(m, s[std::size_t(j)]);
        }
        double z = 0;
        for (int j = 0; j < Lk; ++j) z += s[std::size_t(j)] == -INFINITY ? 0.0 : std::exp(s[std::size_t(j)] - m);
        for (int j = 0; j < Lk; ++j) {
          const double p = s[std::size_t(j)] == -INFINITY ? 0.0 : std::exp(s[std::size_t(j)] - m) / z;
          for (int c = 0; c < dh; ++c)
            O[(std::size_t(b) * Lq + i) * D + h * dh + c] += p * V[(std::size_t(b) * Lk + j) * D + h * dh + c];
        }
      }
  return affine(O, B * Lq, D, mha.out_proj.weight.w(), mha.out_proj.bias.w(), 0, D);
}

}  // namespace

TEST_CASE("fp64 mode: attention matches an independent fp64 reference to 1e-14 relative") {
  // Bound: each output is four dot products deep (the projection, length D = 12; the
  // scores, d_h = 3; P V, Lk = 5; out_proj, 12) plus an exp and a division in the softmax.
  // With O(1) weights and inputs every term is O(1), so the two orders of evaluation differ
  // by at most a few tens of roundings of 2^-53 |term| (measured: 2e-16 of max |y|). 1e-14
  // is 90 roundings; the float scale's error, up to 2^-24 relative in every score, showed
  // as 5e-9 to 9e-9 here and fails it by six orders of magnitude.
  const int B = 2, D = 12, H = 4;  // d_h = 3
  for (const bool self : {true, false}) {
    CAPTURE(self);
    const int Lq = self ? 5 : 4, Lk = 5;
    MultiheadAttention<double> mha("attn.", D, H, 0.0f);
    ParamList<double> ps;
    mha.collect(ps);
    ParamStore<double> store(ps);
    randomize(store, 31);
    const auto xq = normal_vec(std::size_t(B) * Lq * D, 32);
    const auto xkv = self ? xq : normal_vec(std::size_t(B) * Lk * D, 33);
    const std::vector<std::uint8_t> pad = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0};  // batch 0: last two keys hidden
    const RunState run{false, 0, 0};
    const double* y = mha.forward(xq.data(), self ? xq.data() : xkv.data(), B, Lq, Lk, pad.data(), self, run);
    const auto ref = reference_attention(mha, xq, xkv, B, Lq, Lk, D, H, pad, self);
    double max_err = 0, max_ref = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      max_err = std::max(max_err, std::abs(y[i] - ref[i]));
      max_ref = std::max(max_ref, std::abs(ref[i]));
    }
    const double relative = max_err / max_ref;
    MESSAGE("fp64 attention, self " << int(self) << ": max |y - ref| / max |ref| = " << relative);
    CHECK(max_ref > 0.1);
    CHECK(max_err <= 1e-14 * max_ref);
  }
}
