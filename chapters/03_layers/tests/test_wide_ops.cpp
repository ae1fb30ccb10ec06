// The cpu's 16-bit elementwise and row ops read and write their 16-bit arrays a block at a
// time through chapter 02's bulk conversion (kernels/layers/wide_blocks.hpp), computing in
// fp32 on the stack. The math and the one rounding are the element-by-element loop's, so
// the bits must be too: each op against its element rule (ld, the fp32 math, st) or the
// exercised row function on the 16-bit row, on awkward values (zeros of both signs,
// subnormals, infinities, NaNs, a wide range of binades) and on lengths that cross a block
// (kWideBlock = 256) and end inside one.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/rng.hpp"
#include "kernels/layers/modules.hpp"
#include "kernels/layers/ops.hpp"

using namespace halfway;
using namespace halfway::layers;

namespace {

// Every 17th value special, the others normals over 2^-20 .. 2^20 of both signs.
template <class S>
std::vector<S> awkward(std::size_t n, std::uint64_t seed, bool specials = true) {
  const float special[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(), 5.9604644775390625e-8f, 65504.0f, -65504.0f};
  std::vector<S> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float x = specials && i % 17 == 5 ? special[(i / 17) % 8]
                                            : float(rng::normal(seed, i)) * std::ldexp(1.0f, int(rng::bits(seed + 1, i) % 40) - 20);
    v[i] = st<S>(x);
  }
  return v;
}

// Standard normals: for the row ops, whose statistics an inf or a NaN would only turn into NaN.
template <class S>
std::vector<S> normals(std::size_t n, std::uint64_t seed) {
  std::vector<S> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = st<S>(float(rng::normal(seed, i)));
  return v;
}

template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE_TEMPLATE("16-bit cpu ops: residual add and accumulate give the element rule's bits", S, half, bfloat16) {
  for (const std::int64_t n : {std::int64_t(1), std::int64_t(255), std::int64_t(256), std::int64_t(1000)}) {
    CAPTURE(n);
    const auto a = awkward<S>(std::size_t(n), 1), b = awkward<S>(std::size_t(n), 2);
    std::vector<S> out(static_cast<std::size_t>(n)), expect(static_cast<std::size_t>(n));
    add(a.data(), b.data(), out.data(), n);
    for (std::int64_t i = 0; i < n; ++i) expect[std::size_t(i)] = st<S>(ld(a[std::size_t(i)]) + ld(b[std::size_t(i)]));
    CHECK(same_bits(out.data(), expect.data(), std::size_t(n)));
    std::vector<float> acc(std::size_t(n), 0.25f), acc_expect = acc;
    accumulate(a.data(), acc.data(), n);
    for (std::int64_t i = 0; i < n; ++i) acc_expect[std::size_t(i)] += ld(a[std::size_t(i)]);
    CHECK(same_bits(acc.data(), acc_expect.data(), std::size_t(n)));
  }
}

TEST_CASE_TEMPLATE("16-bit cpu ops: the linear layer's bias and column sums give the element rule's bits", S, half,
                   bfloat16) {
  const int rows = 7, in = 5, out = 300;  // out: a block of 256 columns and a part of one
  const auto x = normals<S>(std::size_t(rows) * in, 3), w = normals<S>(std::size_t(out) * in, 4);
  const auto b = awkward<S>(std::size_t(out), 5);
  Buf<float> ws;
  std::vector<S> y(std::size_t(rows) * out), expect(std::size_t(rows) * out);
  linear_forward<S>(x.data(), rows, in, w.data(), in, b.data(), out, y.data(), out, ws);
  std::vector<float> acc(std::size_t(rows) * out);
  mm<S, float>(Op::N, Op::T, rows, out, in, x.data(), in, w.data(), in, acc.data(), out);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < out; ++j) expect[std::size_t(r) * out + j] = st<S>(acc[std::size_t(r) * out + j] + ld(b[j]));
  CHECK(same_bits(y.data(), expect.data(), y.size()));

  const auto dy = awkward<S>(std::size_t(rows) * out, 6);
  std::vector<float> dw(std::size_t(out) * in, 0.0f), db(std::size_t(out), 0.5f), db_expect = db;
  linear_backward<S>(x.data(), dy.data(), out, rows, in, out, w.data(), in, dw.data(), db.data(), nullptr, 0.0f);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < out; ++j) db_expect[std::size_t(j)] += ld(dy[std::size_t(r) * out + j]);
  CHECK(same_bits(db.data(), db_expect.data(), db.size()));
}

TEST_CASE_TEMPLATE("16-bit cpu ops: the embedding gives the element rule's bits", S, half, bfloat16) {
  const int vocab = 4, d = 300, length = 3;
  const std::vector<std::int32_t> tokens = {2, 0, 3, 2, 1};
  const int rows = int(tokens.size());
  const auto table = awkward<S>(std::size_t(vocab) * d, 7);
  std::vector<float> pe;
  positional_encoding(length, d, pe);
  std::vector<S> y(std::size_t(rows) * d);
  embedding_forward<S>(tokens.data(), rows, length, table.data(), vocab, d, pe.data(), y.data());
  const float scale = std::sqrt(float(d));
  std::int64_t wrong = 0;
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < d; ++i) {
      const S e = st<S>(scale * ld(table[std::size_t(tokens[std::size_t(r)]) * d + i]) + pe[std::size_t(r % length) * d + i]);
      wrong += std::memcmp(&e, &y[std::size_t(r) * d + i], sizeof(S)) != 0;
    }
  CHECK(wrong == 0);

  const auto dy = awkward<S>(std::size_t(rows) * d, 8);
  std::vector<float> g(std::size_t(vocab) * d, 0.0f), g_expect = g;
  embedding_backward<S>(tokens.data(), rows, dy.data(), d, g.data());
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < d; ++i) g_expect[std::size_t(tokens[std::size_t(r)]) * d + i] += scale * ld(dy[std::size_t(r) * d + i]);
  CHECK(same_bits(g.data(), g_expect.data(), g.size()));
}

TEST_CASE_TEMPLATE("16-bit cpu ops: softmax and its backward give the row functions' bits", S, half, bfloat16) {
  const int B = 2, H = 3, Lq = 4, Lk = 300;
  const std::int64_t rows = std::int64_t(B) * H * Lq, np = rows * Lk;
  std::vector<float> scores(static_cast<std::size_t>(np));
  for (std::int64_t i = 0; i < np; ++i) scores[std::size_t(i)] = 4.0f * float(rng::normal(9, std::uint64_t(i)));
  std::vector<std::uint8_t> pad(std::size_t(B) * Lk, 0);
  for (int j = 250; j < Lk; ++j) pad[std::size_t(Lk) + j] = 1;  // batch entry 1: its last 50 keys are padding
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    std::vector<S> p(static_cast<std::size_t>(np)), expect(static_cast<std::size_t>(np));
    masked_softmax_forward<S>(scores.data(), p.data(), B, H, Lq, Lk, pad.data(), causal);
    for (std::int64_t r = 0; r < rows; ++r)
      masked_softmax_row<S>(scores.data() + r * Lk, expect.data() + r * Lk, Lk, int(r % Lq),
                            pad.data() + (r / (H * Lq)) * Lk, causal);
    CHECK(same_bits(p.data(), expect.data(), p.size()));

    std::vector<float> dp(static_cast<std::size_t>(np));
    for (std::int64_t i = 0; i < np; ++i) dp[std::size_t(i)] = float(rng::normal(10, std::uint64_t(i)));
    std::vector<S> ds(static_cast<std::size_t>(np)), ds_expect(static_cast<std::size_t>(np));
    softmax_backward<S>(p.data(), dp.data(), ds.data(), rows, Lk);
    for (std::int64_t r = 0; r < rows; ++r)
      softmax_backward_row<S>(p.data() + r * Lk, dp.data() + r * Lk, ds_expect.data() + r * Lk, Lk);
    CHECK(same_bits(ds.data(), ds_expect.data(), ds.size()));
  }
}

TEST_CASE_TEMPLATE("16-bit cpu ops: the loss gives the row function's bits", S, half, bfloat16) {
  const int rows = 6, vocab = 300;
  const auto logits = normals<S>(std::size_t(rows) * vocab, 11);
  const std::vector<std::int32_t> targets = {3, -100, 299, 0, 150, 7};
  for (const float smoothing : {0.0f, 0.1f}) {
    CAPTURE(smoothing);
    std::vector<S> d(std::size_t(rows) * vocab), d_expect(std::size_t(rows) * vocab);
    const float loss = cross_entropy<S>(logits.data(), targets.data(), rows, vocab, -100, smoothing, 1024.0f, d.data());
    float total = 0;
    for (int r = 0; r < rows; ++r) {
      S* row = d_expect.data() + std::size_t(r) * vocab;
      if (targets[std::size_t(r)] == -100) {
        for (int j = 0; j < vocab; ++j) row[j] = st<S>(0.0f);
        continue;
      }
      total += cross_entropy_row<S>(logits.data() + std::size_t(r) * vocab, vocab, targets[std::size_t(r)], smoothing,
                                    1024.0f / 5.0f, row);
    }
    CHECK(loss == total / 5.0f);  // the same sum in the same order: equal, not close
    CHECK(same_bits(d.data(), d_expect.data(), d.size()));
  }
}

TEST_CASE_TEMPLATE("16-bit cpu ops: LayerNorm forward and backward give the row function's bits", S, half, bfloat16) {
  const int rows = 5, d = 300;
  LayerNorm<S> ln("ln.", d, 1e-5);
  ParamList<S> ps;
  ln.collect(ps);
  ParamStore<S> store(ps);
  std::vector<float> gamma(static_cast<std::size_t>(d)), beta(static_cast<std::size_t>(d));
  for (int i = 0; i < d; ++i) {
    gamma[std::size_t(i)] = 1.0f + 0.1f * float(rng::normal(12, std::uint64_t(i)));
    beta[std::size_t(i)] = 0.1f * float(rng::normal(13, std::uint64_t(i)));
  }
  store.set_master(ln.weight, gamma);
  store.set_master(ln.bias, beta);
  store.round_to_working();
  const auto x = normals<S>(std::size_t(rows) * d, 14), dy = normals<S>(std::size_t(rows) * d, 15);
  const S* y = ln.forward(x.data(), rows);
  const std::vector<S> y_got(y, y + std::size_t(rows) * d);
  const S* dx = ln.backward(dy.data());

  std::vector<S> y_expect(std::size_t(rows) * d), dx_expect(std::size_t(rows) * d);
  std::vector<float> mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows)), dg(std::size_t(2) * d, 0.0f);
  for (int r = 0; r < rows; ++r) {
    LayerNormRow<S> row;
    row.n = d;
    row.x = x.data() + std::size_t(r) * d;
    row.gamma = ln.weight.w();
    row.beta = ln.bias.w();
    row.y = y_expect.data() + std::size_t(r) * d;
    row.mean = mean.data() + r;
    row.rstd = rstd.data() + r;
    row.dy = dy.data() + std::size_t(r) * d;
    row.dx = dx_expect.data() + std::size_t(r) * d;
    row.dgamma = dg.data();
    row.dbeta = dg.data() + d;
    layernorm_row<S>(Pass::forward, row);
    layernorm_row<S>(Pass::backward, row);
  }
  CHECK(same_bits(y_got.data(), y_expect.data(), y_got.size()));
  CHECK(same_bits(dx, dx_expect.data(), dx_expect.size()));
  const auto dgamma = store.grad_host(ln.weight), dbeta = store.grad_host(ln.bias);
  CHECK(same_bits(dgamma.data(), dg.data(), std::size_t(d)));
  CHECK(same_bits(dbeta.data(), dg.data() + d, std::size_t(d)));
}
