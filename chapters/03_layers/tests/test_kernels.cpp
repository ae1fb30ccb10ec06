// The layers' kernels on the test's device against the cpu implementation, in fp32 and
// mixed mode (fp16, bf16). The device is HALFWAY_TEST_BACKEND: the emulator in
// ch03_tests_emu, the GPU in ch03_tests_gpu. Every kernel reads and writes device memory
// (DeviceCopy below: GPU memory on cuda, host memory on emu through the same copies), and
// its results are copied back to the host before they are compared.
//
// The elementwise kernels compute the cpu's very expression per element: they must agree
// bit for bit (bound 0), so any difference is an indexing or launch bug.
//
// The row kernels run a block of 128 threads per row and call the cpu's row functions with
// the block as their team: the same formulas, but every sum over a row is added in another
// order (per-thread strided partials, a warp butterfly, then 4 warp partials) than the
// cpu's serial loop. The bounds below follow from that, with u = 2^-24 (fp32's unit
// roundoff; every statistic is fp32 for all three S):
//
// - A sum of n terms computed in any order is within gamma_(n-1) sum|terms| ~ (n-1) u
//   sum|terms| of the exact sum, so two orders differ by at most 2 (n+1) u sum|terms|
//   (the +1 pays for the second-order terms and for a division by n after the sum).
//   A max is exact in any order, so maxima agree bit for bit.
// - Every later operation rounds once on each side; two correctly rounded results of
//   inputs a and b differ by at most |a - b| + u|a| + u|b|, hence the k u |value| terms.
//   exp, log and erf: under the emulator both sides call the same libm (equal inputs give
//   equal outputs); on a GPU the kernel calls CUDA's, within 2 ulp of the exact value
//   (expf, erff; logf 1 ulp: CUDA Programming Guide, accuracy tables) where glibc's is
//   within 1 ulp, so one evaluation may differ by 3 ulp <= 6 u of its value: math_u() below.
//   Everything else is the same arithmetic: the layers' gpu kernels are built with
//   -fmad=false (no fused multiply-add), and nvcc's division and sqrt are IEEE-rounded.
// - A 16-bit output is the fp32 value rounded once more: two fp32 values that straddle a
//   rounding boundary of S round one ulp of S apart, so 16-bit outputs get + 1 ulp of S
//   at the value on top of the fp32 bound.
// The per-quantity bounds are derived next to each test. They are worst cases: the
// measured differences are a few u (rounding errors of different orders partly cancel),
// while an indexing bug (a missing element, a stale shared value) is off by a whole term.
//
// Shapes: widths 1, 7, 31, 33, 128, 129 and 2049 (a partial warp, one short of a warp,
// exactly the block, one past it, many elements per thread), rows 1 and several, and one
// case with more rows than the LayerNorm backward's 512 blocks (grid-stride, two rows per
// block slice). The emulator runs every thread as a fiber, so the rows stay few.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "common/device_memory.hpp"
#include "common/dispatch.hpp"
#include "kernels/layers/ops.hpp"
#include "chapters/03_layers/tests/gradcheck.hpp"
#include "kernels/layers/layers.hpp"
#include "kernels/layers/modules.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {

constexpr double kU = 1.0 / 16777216.0;  // 2^-24: fp32's unit roundoff
const int kWidths[] = {1, 7, 31, 33, 128, 129, 2049};

// Resolved on first use inside a test, never in a static initialiser (ctest's discovery
// runs this binary at build time, and the gpu build must not touch the GPU then).
Backend device() {
  static const Backend chosen = select_backend(HALFWAY_TEST_BACKEND);
  return chosen;
}

// The extra relative difference of one exp/log/erf evaluation between the device and the
// host (see the header): 0 under the emulator, 6 u on a GPU.
double math_u() { return device() == Backend::cuda ? 6 * kU : 0.0; }

// "emu" or "cuda", for the messages.
std::string device_name() { return std::string(to_string(device())); }

// A host vector's copy in the device's memory: a Buf on the device (GPU memory on cuda,
// host memory on emu). The kernels get ptr(); host() copies the current contents back.
// Output buffers are copied in too, so that a kernel that accumulates (+=) starts from
// the host's values and one that skips an element leaves the host's value there on every
// backend.
template <class T>
class DeviceCopy {
 public:
  explicit DeviceCopy(const std::vector<T>& v) : n_(v.size()) {
    copy_in(device(), buf_.get(std::max<std::size_t>(n_, 1), device()), v.data(), n_ * sizeof(T));
  }
  T* ptr() { return buf_.data(); }
  std::vector<T> host() const { return buf_.host(n_); }

 private:
  std::size_t n_;
  Buf<T> buf_;
};

// LayerNorm backward's workspace, filled with NaN: the kernel must zero what it uses (a
// slice it did not clear would carry NaN into dgamma/dbeta, which the tests reject).
std::vector<float> nan_workspace(int rows, int d) {
  return std::vector<float>(layernorm_backward_workspace(rows, d), std::nanf(""));
}

template <class S>
std::vector<S> random_s(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  std::vector<S> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = st<S>(acc_t<S>(scale * rng::normal(seed, i)));
  return v;
}

template <class T>
double dbl(T v) {
  return double(ld(v));
}
double dbl(float v) { return double(v); }

// One ulp of S at |v| (0 for fp32, whose roundings are in the bounds already).
template <class S>
double ulp_of(double v) {
  if constexpr (!is_16bit_v<S>) {
    return 0.0;
  } else {
    const int mant = std::is_same_v<S, half> ? 10 : 7;         // stored mantissa bits
    const int emin = std::is_same_v<S, half> ? -14 : -126;     // smallest normal exponent
    const int e = v == 0.0 ? emin : std::max(int(std::floor(std::log2(std::fabs(v)))), emin);
    return std::ldexp(1.0, e - mant);
  }
}

// Bit-for-bit equality, and no NaN or Inf.
template <class T>
void require_same(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(what);
    CAPTURE(i);
    REQUIRE(std::isfinite(dbl(got[i])));
    REQUIRE(std::memcmp(&got[i], &want[i], sizeof(T)) == 0);
  }
}

// |got - want| <= bound(i) + (one ulp of S at the value, for a 16-bit S), both finite.
// Returns the largest |got - want| / (that bound), for the record.
template <class S, class T, class Bound>
double require_close(const std::vector<T>& got, const std::vector<T>& want, Bound bound, const char* what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = dbl(got[i]), w = dbl(want[i]);
    const double tol = bound(i) + (std::is_same_v<T, S> ? ulp_of<S>(std::max(std::fabs(g), std::fabs(w))) : 0.0);
    CAPTURE(what);
    CAPTURE(i);
    CAPTURE(g);
    CAPTURE(w);
    CAPTURE(tol);
    REQUIRE(std::isfinite(g));
    REQUIRE(std::fabs(g - w) <= tol);
    if (tol > 0) worst = std::max(worst, std::fabs(g - w) / tol);
  }
  return worst;
}

}  // namespace

// LayerNorm forward, per row, with d_i = x_i - mean and s = sum |x_i|:
//   mean:  |dmean| <= 2 (n+1) u s / n                                      (a sum, then / n)
//   var:   |dvar| <= 2 (n+1) u sum d_i^2 / n + 2 |dmean| sum |d_i| / n     (its order, and the
//          mean's difference entering every d_i^2 = (d_i + dmean)^2 to first order)
//   rstd:  |drstd| / rstd <= |dvar| / (2 (var + eps)) + 3 u                (+eps, sqrt, 1/x)
//   y_i = (d_i rstd) gamma_i + beta_i: |dy_i| <= |gamma_i| (rstd (|dmean| + 2u|d_i|) +
//          |xhat_i| |drstd| / rstd) + 6 u (|xhat_i gamma_i| + |beta_i|)   (3 roundings a side)
// LayerNorm backward, given the SAME mean and rstd (the cpu's) on both sides, so xhat_i and
// g_i = dy_i gamma_i are equal bit for bit and only the two sums differ:
//   |dmean_g| <= 2 (n+1) u sum |g_i| / n, |dmean_gx| <= 2 (n+1) u sum |g_i xhat_i| / n
//   dx_i = rstd (g_i - mean_g - xhat_i mean_gx): |ddx_i| <= rstd (|dmean_g| + |xhat_i|
//          |dmean_gx|) + 8 u rstd (|g_i| + |mean_g| + |xhat_i mean_gx|)   (4 roundings a side)
//   dgamma_i, dbeta_i: the same terms, in row order within a block slice and then slice by
//          slice: with rows <= 512 (one row per block) that is the cpu's order, bit for bit;
//          beyond, 2 (rows+2) u (|start| + sum_rows |term|).
TEST_CASE_TEMPLATE("kernel: layernorm forward and backward agree with the cpu rows to the derived bound [ex03.1]", S,
                   float, half, bfloat16) {
  struct Shape {
    int rows, d;
  };
  std::vector<Shape> shapes;
  for (int d : kWidths)
    for (int rows : {1, 5}) shapes.push_back({rows, d});
  shapes.push_back({600, 33});  // more rows than blocks: grid-stride, two rows per slice
  double worst = 0;
  for (const Shape& sh : shapes) {
    const int rows = sh.rows, d = sh.d;
    CAPTURE(rows);
    CAPTURE(d);
    const auto x = random_s<S>(std::size_t(rows) * d, 1 + d, 3.0), dy = random_s<S>(x.size(), 2 + d);
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
    // the kernels, on the device (the backward on the cpu's mean and rstd)
    std::vector<S> ye(x.size()), dxe(x.size());
    std::vector<float> me(rows), re(rows), dge(d, 0.5f), dbe(d, -0.5f);
    {
      DeviceCopy<S> x_d(x), gamma_d(gamma), beta_d(beta), y_d(ye), dy_d(dy), dx_d(dxe);
      DeviceCopy<float> m_d(me), r_d(re), mean_d(mean), rstd_d(rstd), dg_d(dge), db_d(dbe);
      HALFWAY_KERNEL(device(), layernorm_forward(x_d.ptr(), gamma_d.ptr(), beta_d.ptr(), y_d.ptr(), m_d.ptr(), r_d.ptr(), rows, d,
                  1e-5f));
      DeviceCopy<float> ws_d(nan_workspace(rows, d));
      HALFWAY_KERNEL(device(), layernorm_backward(x_d.ptr(), gamma_d.ptr(), mean_d.ptr(), rstd_d.ptr(), dy_d.ptr(), dx_d.ptr(),
                  dg_d.ptr(), db_d.ptr(), rows, d, ws_d.ptr()));
      ye = y_d.host(), me = m_d.host(), re = r_d.host();
      dxe = dx_d.host(), dge = dg_d.host(), dbe = db_d.host();
    }
    // the bounds, per row, in fp64
    const double n = d, sum_k = 2 * (n + 1) * kU;
    std::vector<double> b_mean(rows), b_rstd(rows), b_y(x.size()), b_dx(x.size());
    std::vector<double> sum_dgamma(d, 0.5), sum_dbeta(d, 0.5);  // |start| + sum |term| per column
    for (int r = 0; r < rows; ++r) {
      const double mu = mean[r], rs = rstd[r];
      double s = 0, sd2 = 0, sd = 0, sg = 0, sgx = 0, mg = 0, mgx = 0;
      for (int i = 0; i < d; ++i) {
        const double xi = dbl(x[r * d + i]), di = xi - mu, xh = di * rs, g = dbl(dy[r * d + i]) * dbl(gamma[i]);
        s += std::fabs(xi), sd2 += di * di, sd += std::fabs(di);
        sg += std::fabs(g), sgx += std::fabs(g * xh), mg += g, mgx += g * xh;
        sum_dgamma[i] += std::fabs(dbl(dy[r * d + i]) * xh), sum_dbeta[i] += std::fabs(dbl(dy[r * d + i]));
      }
      mg /= n, mgx /= n;
      const double dmean = sum_k * s / n;
      const double var = sd2 / n, dvar = sum_k * sd2 / n + 2 * dmean * sd / n;
      const double drel = dvar / (2 * (var + 1e-5)) + 3 * kU;
      b_mean[r] = dmean, b_rstd[r] = drel * rs;
      const double dmg = sum_k * sg / n, dmgx = sum_k * sgx / n;
      for (int i = 0; i < d; ++i) {
        const double di = dbl(x[r * d + i]) - mu, xh = di * rs, ga = std::fabs(dbl(gamma[i]));
        const double g = dbl(dy[r * d + i]) * dbl(gamma[i]);
        b_y[r * d + i] = ga * (rs * (dmean + 2 * kU * std::fabs(di)) + std::fabs(xh) * drel) +
                         6 * kU * (std::fabs(xh) * ga + std::fabs(dbl(beta[i])));
        b_dx[r * d + i] = rs * (dmg + std::fabs(xh) * dmgx) + 8 * kU * rs * (std::fabs(g) + std::fabs(mg) + std::fabs(xh * mgx));
      }
    }
    worst = std::max(worst, require_close<S>(me, mean, [&](std::size_t r) { return b_mean[r]; }, "mean"));
    worst = std::max(worst, require_close<S>(re, rstd, [&](std::size_t r) { return b_rstd[r]; }, "rstd"));
    worst = std::max(worst, require_close<S>(ye, y, [&](std::size_t i) { return b_y[i]; }, "y"));
    worst = std::max(worst, require_close<S>(dxe, dx, [&](std::size_t i) { return b_dx[i]; }, "dx"));
    if (rows <= 512) {
      require_same(dge, dg, "dgamma (accumulated onto 0.5)");
      require_same(dbe, db, "dbeta (accumulated onto -0.5)");
    } else {
      const double k = 2 * (rows + 2) * kU;
      require_close<S>(dge, dg, [&](std::size_t i) { return k * sum_dgamma[i]; }, "dgamma (accumulated onto 0.5)");
      require_close<S>(dbe, db, [&](std::size_t i) { return k * sum_dbeta[i]; }, "dbeta (accumulated onto -0.5)");
    }
  }
  MESSAGE("layernorm: largest |" << device_name() << " - cpu| / bound = " << worst);
}

// The forward kernels' LayerNorm statistics with the device's own mean and rstd fed back: the
// whole forward-then-backward chain runs and stays finite (the bounds above cover each step).
TEST_CASE_TEMPLATE("kernel: layernorm backward runs on the forward kernel statistics and stays finite [ex03.1]", S,
                   float, half, bfloat16) {
  const int rows = 3, d = 129;
  const auto x = random_s<S>(std::size_t(rows) * d, 21, 3.0), dy = random_s<S>(x.size(), 22);
  const auto gamma = random_s<S>(d, 23), beta = random_s<S>(d, 24);
  std::vector<S> y(x.size()), dx(x.size());
  std::vector<float> mean(rows), rstd(rows), dg(d, 0.0f), db(d, 0.0f);
  {
    DeviceCopy<S> x_d(x), gamma_d(gamma), beta_d(beta), y_d(y), dy_d(dy), dx_d(dx);
    DeviceCopy<float> mean_d(mean), rstd_d(rstd), dg_d(dg), db_d(db);
    HALFWAY_KERNEL(device(), layernorm_forward(x_d.ptr(), gamma_d.ptr(), beta_d.ptr(), y_d.ptr(), mean_d.ptr(), rstd_d.ptr(), rows,
                d, 1e-5f));
    DeviceCopy<float> ws_d(nan_workspace(rows, d));
    HALFWAY_KERNEL(device(), layernorm_backward(x_d.ptr(), gamma_d.ptr(), mean_d.ptr(), rstd_d.ptr(), dy_d.ptr(), dx_d.ptr(),
                dg_d.ptr(), db_d.ptr(), rows, d, ws_d.ptr()));
    y = y_d.host(), mean = mean_d.host(), rstd = rstd_d.host();
    dx = dx_d.host(), dg = dg_d.host(), db = db_d.host();
  }
  for (std::size_t i = 0; i < x.size(); ++i) REQUIRE(std::isfinite(dbl(dx[i])));
  // sum_i dx_i = rstd (sum g - n mean_g - mean_gx sum xhat) = 0 up to roundings: |.| << sum |dx|
  for (int r = 0; r < rows; ++r) {
    double s = 0, a = 0;
    for (int i = 0; i < d; ++i) s += dbl(dx[r * d + i]), a += std::fabs(dbl(dx[r * d + i]));
    CHECK(std::fabs(s) <= 1e-2 * a);
  }
}

// Masked softmax forward: the max is exact; the sum of the visible exp(s_j - m) (positive
// terms) differs by at most 2 (n+1) u sum relative, 1/sum adds 2 u, the product 2 u:
//   |dp_j| <= 2 (n+3) u p_j, plus 2 math_u p_j on a GPU (e_j and the sum of the e_k).
// Softmax backward: dot = sum y_k dy_k differs by at most 2 (n+1) u sum |y_k dy_k|; then
//   ds_j = y_j (dy_j - dot): |dds_j| <= |y_j| |ddot| + 4 u |y_j| (|dy_j| + |dot|).
// y is the cpu's softmax output on both sides, so only the backward's own sum differs.
TEST_CASE_TEMPLATE("kernel: masked softmax and its backward agree with the cpu rows to the derived bound [ex03.2]", S,
                   float, half, bfloat16) {
  double worst = 0;
  for (int n : kWidths)
    for (int rows : {1, 6}) {
      CAPTURE(rows);
      CAPTURE(n);
      // rows of queries 0..rows-1, causal, with the last key padded: row 0 sees key 0 only
      // (or nothing when n = 1: a fully masked row, zeros)
      std::vector<float> scores(std::size_t(rows) * n);
      for (std::size_t i = 0; i < scores.size(); ++i) scores[i] = float(3.0 * rng::normal(5 + n, i));
      std::vector<std::uint8_t> pad(n, 0);
      pad[n - 1] = 1;
      for (bool causal : {true, false}) {
        CAPTURE(causal);
        std::vector<S> y(scores.size()), ye(scores.size());
        masked_softmax_forward<S>(scores.data(), y.data(), 1, 1, rows, n, pad.data(), causal);
        {
          DeviceCopy<float> scores_d(scores);
          DeviceCopy<std::uint8_t> pad_d(pad);
          DeviceCopy<S> y_d(ye);
          HALFWAY_KERNEL(device(), masked_softmax_forward(scores_d.ptr(), y_d.ptr(), 1, 1, rows, n, pad_d.ptr(), causal));
          ye = y_d.host();
        }
        worst = std::max(worst, require_close<S>(ye, y, [&](std::size_t i) { return (2 * (n + 3) * kU + 2 * math_u()) * dbl(y[i]); },
                                                 "masked softmax"));
        for (std::size_t i = 0; i < y.size(); ++i)
          if (pad[i % n] || (causal && int(i % n) > int(i / n))) REQUIRE(dbl(ye[i]) == 0.0);  // hidden: exactly 0
        std::vector<float> dy(scores.size());
        for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = float(rng::normal(6 + n, i));
        std::vector<S> ds(y.size()), dse(y.size());
        softmax_backward<S>(y.data(), dy.data(), ds.data(), rows, n);
        {
          DeviceCopy<S> y_d(y), ds_d(dse);
          DeviceCopy<float> dy_d(dy);
          HALFWAY_KERNEL(device(), softmax_backward(y_d.ptr(), dy_d.ptr(), ds_d.ptr(), rows, n));
          dse = ds_d.host();
        }
        std::vector<double> b(y.size());
        for (int r = 0; r < rows; ++r) {
          double dot = 0, sabs = 0;
          for (int j = 0; j < n; ++j) {
            dot += dbl(y[r * n + j]) * dy[r * n + j];
            sabs += std::fabs(dbl(y[r * n + j]) * dy[r * n + j]);
          }
          for (int j = 0; j < n; ++j) {
            const double yj = std::fabs(dbl(y[r * n + j]));
            b[r * n + j] = yj * 2 * (n + 1) * kU * sabs + 4 * kU * yj * (std::fabs(dy[r * n + j]) + std::fabs(dot));
          }
        }
        worst = std::max(worst, require_close<S>(dse, ds, [&](std::size_t i) { return b[i]; }, "softmax backward"));
      }
    }
  MESSAGE("softmax: largest |" << device_name() << " - cpu| / bound = " << worst);
}

// Cross-entropy, per row with m = max z (exact), e_j = exp(z_j - m), E = sum e_j:
//   |dE| / E <= 2 (V+1) u; log E: |dlogE| <= 2 (V+1) u + 4 u |log E|;
//   loss: |dloss| <= |dlogE| + eps 2 (V+1) u sum |z_j - m| / V + 8 u (|log E| + |z_t - m| +
//         sum |z_j - m| / V)
//   p_j = e_j / E: |dp_j| <= (2 (V+1) + 2) u p_j; d_j = scale (p_j - q_j):
//   |dd_j| <= scale (|dp_j| + 4 u (p_j + q_j)).
// On a GPU (math_u, see the header) E gains math_u relative, so log E gains math_u, and the
// log itself math_u |log E|; p_j gains 2 math_u p_j.
// Ignored rows are exact zeros.
TEST_CASE_TEMPLATE("kernel: cross-entropy agrees with the cpu rows to the derived bound [ex03.3]", S, float, half,
                   bfloat16) {
  const int ignore = -1;
  const float eps = 0.1f, scale = 0.25f;
  double worst = 0;
  for (int V : kWidths)
    for (int rows : {1, 9}) {
      CAPTURE(rows);
      CAPTURE(V);
      const auto logits = random_s<S>(std::size_t(rows) * V, 7 + V, 4.0);
      std::vector<std::int32_t> targets(rows);
      for (int r = 0; r < rows; ++r) targets[r] = (r % 4 == 3) ? ignore : (r * 37 + 5) % V;
      // cpu: the row function per row, as the cpu's cross_entropy calls it
      std::vector<S> d(logits.size()), de(logits.size());
      std::vector<float> loss(rows, 0.0f), le(rows, -1.0f);
      for (int r = 0; r < rows; ++r) {
        if (targets[r] == ignore) {
          for (int j = 0; j < V; ++j) d[r * V + j] = st<S>(0.0f);
          continue;
        }
        loss[r] = cross_entropy_row<S>(logits.data() + r * V, V, targets[r], eps, scale, d.data() + r * V);
      }
      {
        DeviceCopy<S> logits_d(logits), d_d(de);
        DeviceCopy<std::int32_t> targets_d(targets);
        DeviceCopy<float> loss_d(le);
        HALFWAY_KERNEL(device(), cross_entropy(logits_d.ptr(), targets_d.ptr(), rows, V, ignore, eps, scale, d_d.ptr(), loss_d.ptr()));
        de = d_d.host(), le = loss_d.host();
      }
      std::vector<double> bl(rows, 0.0), bd(logits.size(), 0.0);
      for (int r = 0; r < rows; ++r) {
        if (targets[r] == ignore) continue;
        double m = -INFINITY, E = 0, szm = 0;
        for (int j = 0; j < V; ++j) m = std::max(m, dbl(logits[r * V + j]));
        for (int j = 0; j < V; ++j) E += std::exp(dbl(logits[r * V + j]) - m), szm += std::fabs(dbl(logits[r * V + j]) - m);
        const double k = 2 * (V + 1) * kU, logE = std::log(E);
        const double dlogE = k + math_u() + (4 * kU + math_u()) * std::fabs(logE);
        bl[r] = dlogE + eps * k * szm / V + 8 * kU * (std::fabs(logE) + std::fabs(dbl(logits[r * V + targets[r]]) - m) + szm / V);
        for (int j = 0; j < V; ++j) {
          const double p = std::exp(dbl(logits[r * V + j]) - m) / E;
          const double q = (j == targets[r] ? 1 - eps : 0) + eps / V;
          bd[r * V + j] = scale * ((k + 2 * kU + 2 * math_u()) * p + 4 * kU * (p + q));
        }
      }
      worst = std::max(worst, require_close<S>(de, d, [&](std::size_t i) { return bd[i]; }, "dlogits"));
      worst = std::max(worst, require_close<S>(le, loss, [&](std::size_t r) { return bl[r]; }, "row loss"));
      for (int r = 0; r < rows; ++r)
        if (targets[r] == ignore) {
          REQUIRE(le[r] == 0.0f);
          for (int j = 0; j < V; ++j) REQUIRE(dbl(de[r * V + j]) == 0.0);
        }
    }
  MESSAGE("cross-entropy: largest |" << device_name() << " - cpu| / bound = " << worst);
}

// The block reduction itself, through the kernels, on values whose sums are exact in any
// order (small integers in fp32), so the answer is known exactly: softmax backward with
// y = 1 computes ds_j = dy_j - sum_k dy_k. Widths 1..130 cover rows shorter than a warp, a
// partial last warp, exactly 4 warps and members with two elements; 255..257 and 2049 many.
TEST_CASE("kernel: block sum exact on integers for every width from 1 to 130 and beyond") {
  std::vector<int> widths;
  for (int n = 1; n <= 130; ++n) widths.push_back(n);
  for (int n : {255, 256, 257, 2049}) widths.push_back(n);
  for (int n : widths) {
    CAPTURE(n);
    const int rows = 2;
    std::vector<float> y(std::size_t(rows) * n, 1.0f), dy(y.size()), ds(y.size());
    double sum[2] = {0, 0};
    for (std::size_t i = 0; i < dy.size(); ++i) {
      dy[i] = float(int(rng::bits(31, i) % 17) - 8);  // -8..8
      sum[i / n] += dy[i];
    }
    {
      DeviceCopy<float> y_d(y), dy_d(dy), ds_d(ds);
      HALFWAY_KERNEL(device(), softmax_backward(y_d.ptr(), dy_d.ptr(), ds_d.ptr(), rows, n));
      ds = ds_d.host();
    }
    for (std::size_t i = 0; i < ds.size(); ++i) REQUIRE(double(ds[i]) == double(dy[i]) - sum[i / n]);
  }
}

// The block max, through cross-entropy at fp32's scale: one logit 3e38 and the rest -3e38.
// A max that missed the big logit (one member, one warp, a stale shared value) makes
// exp(3e38 - m) overflow to inf and the loss NaN; with the right max the loss is exactly 0
// and the gradient exactly 0, wherever the big logit sits.
TEST_CASE("kernel: block max finds the largest logit wherever it sits") {
  for (int V : {1, 31, 33, 128, 129, 2049})
    for (int at : {0, 31, 32, 127, 128, V - 1}) {
      if (at >= V) continue;
      CAPTURE(V);
      CAPTURE(at);
      std::vector<float> z(V, -3e38f), d(V, 1.0f);
      z[at] = 3e38f;
      const std::int32_t target = at;
      float loss = -1;
      {
        DeviceCopy<float> z_d(z), d_d(d), loss_d(std::vector<float>{loss});
        DeviceCopy<std::int32_t> target_d(std::vector<std::int32_t>{target});
        HALFWAY_KERNEL(device(), cross_entropy(z_d.ptr(), target_d.ptr(), 1, V, -1, 0.0f, 1.0f, d_d.ptr(), loss_d.ptr()));
        d = d_d.host(), loss = loss_d.host()[0];
      }
      REQUIRE(loss == 0.0f);
      for (int j = 0; j < V; ++j) REQUIRE(d[j] == 0.0f);
    }
}

TEST_CASE_TEMPLATE("kernel: dropout drops the same elements as the cpu", S, float, half, bfloat16) {
  for (std::int64_t n : {1, 7, 1001}) {
    CAPTURE(n);
    auto v = random_s<S>(std::size_t(n), 9), ve = v;
    dropout_inplace(v.data(), n, 0.3f, 4242);
    {
      DeviceCopy<S> v_d(ve);
      HALFWAY_KERNEL(device(), dropout(v_d.ptr(), n, 0.3f, 4242));
      ve = v_d.host();
    }
    require_same(ve, v, "dropout");
  }
}

TEST_CASE_TEMPLATE("kernel: embedding forward and backward equal the cpu with repeated tokens", S, float, half,
                   bfloat16) {
  const int V = 5, D = 17, B = 3, L = 4;
  const auto table = random_s<S>(std::size_t(V) * D, 11, 0.3);
  std::vector<float> pe;
  positional_encoding<float>(L, D, pe);
  const std::vector<std::int32_t> tokens = {1, 3, 3, 0, 4, 4, 4, 4, 2, 1, 3, 3};
  std::vector<S> y(std::size_t(B) * L * D), ye(y.size());
  embedding_forward<S>(tokens.data(), B * L, L, table.data(), V, D, pe.data(), y.data());
  DeviceCopy<std::int32_t> tokens_d(tokens);
  {
    DeviceCopy<S> table_d(table), y_d(ye);
    DeviceCopy<float> pe_d(pe);
    HALFWAY_KERNEL(device(), embedding_forward(tokens_d.ptr(), B * L, L, table_d.ptr(), D, pe_d.ptr(), y_d.ptr()));
    ye = y_d.host();
  }
  require_same(ye, y, "embedding forward");
  const auto dy = random_s<S>(y.size(), 12);
  std::vector<float> g(std::size_t(V) * D, 0.25f), ge = g;
  embedding_backward<S>(tokens.data(), B * L, dy.data(), D, g.data());
  {
    DeviceCopy<S> dy_d(dy);
    DeviceCopy<float> g_d(ge);
    HALFWAY_KERNEL(device(), embedding_backward(tokens_d.ptr(), B * L, dy_d.ptr(), V, D, g_d.ptr()));
    ge = g_d.host();
  }
  require_same(ge, g, "embedding backward");
}

TEST_CASE_TEMPLATE("kernel: bias add column sum residual ReLU GELU equal the cpu", S, float, half, bfloat16) {
  const int rows = 7, d = 33;
  const std::int64_t n = std::int64_t(rows) * d;
  std::vector<float> acc(n);
  for (std::int64_t i = 0; i < n; ++i) acc[i] = float(rng::normal(13, i));
  const auto bias = random_s<S>(d, 14), a = random_s<S>(n, 15), b = random_s<S>(n, 16);
  DeviceCopy<float> acc_d(acc);
  DeviceCopy<S> bias_d(bias), a_d(a), b_d(b);
  // bias add as linear_forward's epilogue; the column sum as linear_backward's db
  std::vector<S> y(n), ye(n);
  for (std::int64_t i = 0; i < n; ++i) y[i] = st<S>(acc[i] + ld(bias[i % d]));
  {
    DeviceCopy<S> y_d(ye);
    HALFWAY_KERNEL(device(), bias_add(acc_d.ptr(), bias_d.ptr(), y_d.ptr(), rows, d));
    ye = y_d.host();
  }
  require_same(ye, y, "bias add");
  std::vector<float> db(d, 1.0f), dbe(d, 1.0f);
  for (int r = 0; r < rows; ++r)
    for (int j = 0; j < d; ++j) db[j] += ld(a[r * d + j]);
  {
    DeviceCopy<float> db_d(dbe);
    HALFWAY_KERNEL(device(), column_sum(a_d.ptr(), db_d.ptr(), rows, d));
    dbe = db_d.host();
  }
  require_same(dbe, db, "column sum");
  std::vector<S> sum(n), sume(n);
  add(a.data(), b.data(), sum.data(), n);
  {
    DeviceCopy<S> sum_d(sume);
    HALFWAY_KERNEL(device(), residual_add(a_d.ptr(), b_d.ptr(), sum_d.ptr(), n));
    sume = sum_d.host();
  }
  require_same(sume, sum, "residual add");
  // ReLU and GELU forward and backward, as FeedForward does them
  std::vector<S> r(n), re(n), g(n), ge(n);
  for (std::int64_t i = 0; i < n; ++i) r[i] = ld(a[i]) < 0 ? st<S>(0.0f) : a[i];
  {
    DeviceCopy<S> r_d(re);
    HALFWAY_KERNEL(device(), relu_forward(a_d.ptr(), r_d.ptr(), n));
    re = r_d.host();
  }
  require_same(re, r, "relu");
  for (std::int64_t i = 0; i < n; ++i) g[i] = st<S>(gelu(ld(a[i])));
  {
    DeviceCopy<S> g_d(ge);
    HALFWAY_KERNEL(device(), gelu_forward(a_d.ptr(), g_d.ptr(), n));
    ge = g_d.host();
  }
  // GELU, x/2 (1 + erf(x / sqrt 2)): the same arithmetic on both sides but for erf (math_u:
  // |d erf| <= math_u, so |d gelu| <= math_u |x| / 2, plus a rounding of each of the three
  // later operations seeing it: 4 math_u |x| in all). 0 under the emulator: bit for bit.
  if (math_u() == 0) require_same(ge, g, "gelu");
  else require_close<S>(ge, g, [&](std::size_t i) { return 4 * math_u() * std::fabs(dbl(a[i])); }, "gelu");
  std::vector<S> dr = b, dre = b, dg = b, dge = b;
  for (std::int64_t i = 0; i < n; ++i) dr[i] = ld(r[i]) <= 0 ? st<S>(0.0f) : st<S>(ld(dr[i]) * 1.25f);
  {
    DeviceCopy<S> r_d(r), dr_d(dre);  // the cpu's ReLU output, as on the cpu side
    HALFWAY_KERNEL(device(), relu_dropout_backward(r_d.ptr(), dr_d.ptr(), n, 1.25f));
    dre = dr_d.host();
  }
  require_same(dre, dr, "relu and dropout backward");
  for (std::int64_t i = 0; i < n; ++i) dg[i] = st<S>(ld(dg[i]) * gelu_grad(ld(a[i])));
  {
    DeviceCopy<S> dg_d(dge);
    HALFWAY_KERNEL(device(), gelu_backward(a_d.ptr(), dg_d.ptr(), n));
    dge = dg_d.host();
  }
  // dgelu = Phi(x) + x phi(x), times da: erf's difference gives math_u / 2, exp's math_u
  // x phi(x) <= math_u / 4; the later roundings at most double it: 2 math_u |da| in all.
  if (math_u() == 0) require_same(dge, dg, "gelu backward");
  else require_close<S>(dge, dg, [&](std::size_t i) { return 2 * math_u() * std::fabs(dbl(b[i])); }, "gelu backward");
}

// ReLU's kernels on every value where the rule matters, against the cpu's loops
// (relu_range, relu_grad_range: torch.relu's "h < 0 ? 0 : h", NaN and -0 go on, and
// "a <= 0 ? 0 : da * scale"), bit for bit: all 65536 words of a 16-bit type, and fp32's
// special values. require_same refuses NaN, so the words are compared here.
template <class S>
void relu_kernels_equal_the_cpu(const std::vector<S>& h) {
  const auto n = std::int64_t(h.size());
  std::vector<S> da0(h.size());
  for (std::size_t i = 0; i < h.size(); ++i) da0[i] = st<S>(acc_t<S>(1.0f + float(i % 7)));
  std::vector<S> a(h.size()), da = da0;
  relu_range(h.data(), a.data(), 0, n);
  relu_grad_range(a.data(), da.data(), 1.25f, 0, n);
  DeviceCopy<S> h_d(h), a_d(std::vector<S>(h.size())), da_d(da0);
  HALFWAY_KERNEL(device(), relu_forward(h_d.ptr(), a_d.ptr(), n));
  HALFWAY_KERNEL(device(), relu_dropout_backward(a_d.ptr(), da_d.ptr(), n, 1.25f));
  const std::vector<S> a_e = a_d.host(), da_e = da_d.host();
  std::int64_t wrong = 0;
  for (std::size_t i = 0; i < h.size(); ++i)
    wrong += std::memcmp(&a_e[i], &a[i], sizeof(S)) != 0 || std::memcmp(&da_e[i], &da[i], sizeof(S)) != 0;
  CHECK(wrong == 0);
  std::int64_t nan_in = 0, nan_out = 0;
  for (std::size_t i = 0; i < h.size(); ++i) nan_in += std::isnan(dbl(h[i])), nan_out += std::isnan(dbl(a_e[i]));
  CHECK(nan_out == nan_in);  // every NaN goes on
}

TEST_CASE_TEMPLATE("kernel: ReLU on every 16-bit word equals the cpu and keeps NaN", S, half, bfloat16) {
  std::vector<S> words(65536);
  for (std::size_t w = 0; w < words.size(); ++w) words[w] = std::bit_cast<S>(std::uint16_t(w));
  relu_kernels_equal_the_cpu(words);
}

TEST_CASE("kernel: ReLU in fp32 equals the cpu and keeps NaN") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float tiny = std::numeric_limits<float>::denorm_min();
  relu_kernels_equal_the_cpu(std::vector<float>{nan, -nan, 0.0f, -0.0f, inf, -inf, tiny, -tiny, 1.5f, -1.5f});
}
