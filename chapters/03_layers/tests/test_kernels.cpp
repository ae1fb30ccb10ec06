// The layers' kernels on the emulator against the cpu implementation, in fp32 and mixed
// mode (fp16, bf16). Each kernel runs the same row function as the cpu code, compiled by
// the same g++ for the emulator: results must agree bit for bit, so any difference is an
// indexing or launch bug (the bound is 0; on a GPU, whose exp/log/sqrt differ from glibc's
// by an ulp, a gpu build of this test would need one ulp of S). Shapes are small and odd
// (rows 1, 5 and 37; widths 1, 17 and 24) because the emulator runs every thread as a fiber.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "chapters/03_layers/ops.hpp"
#include "chapters/03_layers/tests/gradcheck.hpp"
#include "kernels/layers/layers.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {

template <class S>
std::vector<S> random_s(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::vector<S> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = st<S>(acc_t<S>(scale * rng::normal(seed, i)));
  return v;
}

// Bit-for-bit equality, and no NaN or Inf.
template <class T>
void require_same(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(what);
    CAPTURE(i);
    REQUIRE(std::isfinite(double(ld(got[i]))));
    REQUIRE(std::memcmp(&got[i], &want[i], sizeof(T)) == 0);
  }
}
void require_same(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(what);
    CAPTURE(i);
    REQUIRE(std::isfinite(got[i]));
    REQUIRE(got[i] == want[i]);
  }
}

}  // namespace

TEST_CASE_TEMPLATE("emu layernorm forward and backward equal the cpu rows [ex03.1]", S, float, half, bfloat16) {
  for (int rows : {1, 5, 37})
    for (int d : {1, 17, 24}) {
      CAPTURE(rows);
      CAPTURE(d);
      const auto x = random_s<S>(std::size_t(rows) * d, 1, 3.0), dy = random_s<S>(x.size(), 2);
      const auto gamma = random_s<S>(d, 3), beta = random_s<S>(d, 4);
      // cpu: the module's loop
      std::vector<S> y(x.size()), dx(x.size());
      std::vector<float> mean(rows), rstd(rows), dg(d, 0.5f), db(d, -0.5f);
      for (int r = 0; r < rows; ++r) {
        LayerNormRow<S> row;
        row.n = d, row.eps = 1e-5f, row.x = x.data() + r * d, row.gamma = gamma.data(), row.beta = beta.data();
        row.y = y.data() + r * d, row.mean = &mean[r], row.rstd = &rstd[r];
        layernorm_row<S>(Pass::forward, row);
      }
      std::vector<float> partial(2 * d, 0.0f);
      for (int r = 0; r < rows; ++r) {
        LayerNormRow<S> row;
        row.n = d, row.x = x.data() + r * d, row.gamma = gamma.data(), row.mean = &mean[r], row.rstd = &rstd[r];
        row.dy = dy.data() + r * d, row.dx = dx.data() + r * d, row.dgamma = partial.data(), row.dbeta = partial.data() + d;
        layernorm_row<S>(Pass::backward, row);
      }
      for (int i = 0; i < d; ++i) dg[i] += partial[i], db[i] += partial[d + i];
      // emu
      std::vector<S> ye(x.size()), dxe(x.size());
      std::vector<float> me(rows), re(rows), dge(d, 0.5f), dbe(d, -0.5f);
      emu::layernorm_forward(x.data(), gamma.data(), beta.data(), ye.data(), me.data(), re.data(), rows, d, 1e-5f);
      emu::layernorm_backward(x.data(), gamma.data(), me.data(), re.data(), dy.data(), dxe.data(), dge.data(), dbe.data(), rows, d);
      require_same(ye, y, "y");
      require_same(me, mean, "mean");
      require_same(re, rstd, "rstd");
      require_same(dxe, dx, "dx");
      require_same(dge, dg, "dgamma (accumulated onto 0.5)");
      require_same(dbe, db, "dbeta (accumulated onto -0.5)");
    }
}

TEST_CASE_TEMPLATE("emu softmax backward equals the cpu rows [ex03.2]", S, float, half, bfloat16) {
  for (int rows : {1, 37})
    for (int n : {1, 17}) {
      CAPTURE(rows);
      CAPTURE(n);
      // y: a real softmax output with some masked (zero) entries
      std::vector<float> scores(std::size_t(rows) * n);
      for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = float(rng::normal(5, i));
      std::vector<std::uint8_t> pad(n, 0);
      if (n > 1) pad[n - 1] = 1;
      std::vector<S> y(scores.size()), ye(scores.size());
      masked_softmax_forward<S>(scores.data(), y.data(), 1, 1, rows, n, pad.data(), true);
      emu::masked_softmax_forward(scores.data(), ye.data(), 1, 1, rows, n, pad.data(), true);
      require_same(ye, y, "masked softmax");
      std::vector<float> dy(scores.size());
      for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = float(rng::normal(6, i));
      std::vector<S> ds(y.size()), dse(y.size());
      softmax_backward<S>(y.data(), dy.data(), ds.data(), rows, n);
      emu::softmax_backward(y.data(), dy.data(), dse.data(), rows, n);
      require_same(dse, ds, "softmax backward");
    }
}

TEST_CASE_TEMPLATE("emu cross-entropy equals the cpu rows [ex03.3]", S, float, half, bfloat16) {
  const int rows = 9, V = 13;
  const auto logits = random_s<S>(std::size_t(rows) * V, 7, 4.0);
  std::vector<std::int32_t> targets = {1, 0, 12, 5, 0, 3, 3, 11, 7};  // 0 is ignored
  std::vector<S> d(logits.size()), de(logits.size());
  int counted = 0;
  const float loss = cross_entropy<S>(logits.data(), targets.data(), rows, V, 0, 0.1f, 1.0f, d.data(), &counted);
  std::vector<float> row_loss(rows);
  emu::cross_entropy(logits.data(), targets.data(), rows, V, 0, 0.1f, 1.0f / float(counted), de.data(), row_loss.data());
  require_same(de, d, "dlogits");
  float total = 0;
  for (float l : row_loss) total += l;  // the same order as the cpu's serial sum
  CHECK(total / float(counted) == loss);
}

TEST_CASE_TEMPLATE("emu dropout drops the same elements as the cpu", S, float, half, bfloat16) {
  for (std::int64_t n : {1, 7, 1001}) {
    CAPTURE(n);
    auto v = random_s<S>(std::size_t(n), 9), ve = v;
    dropout_inplace(v.data(), n, 0.3f, 4242);
    emu::dropout(ve.data(), n, 0.3f, 4242);
    require_same(ve, v, "dropout");
  }
}

TEST_CASE_TEMPLATE("emu embedding forward and backward equal the cpu with repeated tokens", S, float, half, bfloat16) {
  const int V = 5, D = 17, B = 3, L = 4;
  const auto table = random_s<S>(std::size_t(V) * D, 11, 0.3);
  std::vector<float> pe;
  positional_encoding<float>(L, D, pe);
  const std::vector<std::int32_t> tokens = {1, 3, 3, 0, 4, 4, 4, 4, 2, 1, 3, 3};
  std::vector<S> y(std::size_t(B) * L * D), ye(y.size());
  embedding_forward<S>(tokens.data(), B * L, L, table.data(), V, D, pe, y.data());
  emu::embedding_forward(tokens.data(), B * L, L, table.data(), D, pe.data(), ye.data());
  require_same(ye, y, "embedding forward");
  const auto dy = random_s<S>(y.size(), 12);
  std::vector<float> g(std::size_t(V) * D, 0.25f), ge = g;
  embedding_backward<S>(tokens.data(), B * L, dy.data(), D, g.data());
  emu::embedding_backward(tokens.data(), B * L, dy.data(), V, D, ge.data());
  require_same(ge, g, "embedding backward");
}

TEST_CASE_TEMPLATE("emu bias add column sum residual ReLU GELU equal the cpu", S, float, half, bfloat16) {
  const int rows = 7, d = 33;
  const std::int64_t n = std::int64_t(rows) * d;
  std::vector<float> acc(n);
  for (std::int64_t i = 0; i < n; ++i) acc[i] = float(rng::normal(13, i));
  const auto bias = random_s<S>(d, 14), a = random_s<S>(n, 15), b = random_s<S>(n, 16);
  // bias add as linear_forward's epilogue; the column sum as linear_backward's db
  std::vector<S> y(n), ye(n);
  for (std::int64_t i = 0; i < n; ++i) y[i] = st<S>(acc[i] + ld(bias[i % d]));
  emu::bias_add(acc.data(), bias.data(), ye.data(), rows, d);
  require_same(ye, y, "bias add");
  std::vector<float> db(d, 1.0f), dbe(d, 1.0f);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < d; ++j) db[j] += ld(a[r * d + j]);
  emu::column_sum(a.data(), dbe.data(), rows, d);
  require_same(dbe, db, "column sum");
  std::vector<S> sum(n), sume(n);
  add(a.data(), b.data(), sum.data(), n);
  emu::residual_add(a.data(), b.data(), sume.data(), n);
  require_same(sume, sum, "residual add");
  // ReLU and GELU forward and backward, as FeedForward does them
  std::vector<S> r(n), re(n), g(n), ge(n);
  for (std::int64_t i = 0; i < n; ++i) r[i] = ld(a[i]) > 0 ? a[i] : st<S>(0.0f);
  emu::relu_forward(a.data(), re.data(), n);
  require_same(re, r, "relu");
  for (std::int64_t i = 0; i < n; ++i) g[i] = st<S>(gelu(ld(a[i])));
  emu::gelu_forward(a.data(), ge.data(), n);
  require_same(ge, g, "gelu");
  std::vector<S> dr = b, dre = b, dg = b, dge = b;
  for (std::int64_t i = 0; i < n; ++i) dr[i] = ld(r[i]) > 0 ? st<S>(ld(dr[i]) * 1.25f) : st<S>(0.0f);
  emu::relu_dropout_backward(r.data(), dre.data(), n, 1.25f);
  require_same(dre, dr, "relu and dropout backward");
  for (std::int64_t i = 0; i < n; ++i) dg[i] = st<S>(ld(dg[i]) * gelu_grad(ld(a[i])));
  emu::gelu_backward(a.data(), dge.data(), n);
  require_same(dge, dg, "gelu backward");
}
