// The tests of exercises 03.1 (LayerNorm rows), 03.2 (softmax backward) and 03.3
// (cross-entropy rows): exact values where the math is exact, central differences in
// fp64 otherwise. Each fails on the stub (it throws "exercise 03.N is not implemented yet").
//
// The last tests compare each row function with its formula evaluated here in long double
// (the fp64 reference: the gate of 03.1-03.3), run by a team of several host threads
// (ThreadTeam below: the contract of kernels/layers/team.hpp without a GPU) as the kernels
// run it with a thread block: a function that ignores its team does the row once per member
// (dgamma added k times) or sums only its own elements, and fails them.
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "chapters/03_layers/tests/gradcheck.hpp"

using namespace halfway;
using namespace halfway::layers;
using namespace ch03test;

namespace {

// A team of `size` host threads. sum/max: every member writes its value to its slot, a
// barrier, every member combines the slots in rank order (the same bits for all), a
// barrier before the slots are reused: the two barriers of the kernels' BlockTeam.
struct TeamShared {
  explicit TeamShared(int size) : bar(size), slots(std::size_t(size)) {}
  std::barrier<> bar;
  std::vector<double> slots;
};

struct ThreadTeam {
  int rank = 0;
  int size = 1;
  TeamShared* shared = nullptr;
  template <class T>
  T sum(T v) const {
    return combine(v, [](T a, T b) { return a + b; });
  }
  template <class T>
  T max(T v) const {
    return combine(v, [](T a, T b) { return a > b ? a : b; });
  }

 private:
  template <class T, class Op>
  T combine(T v, Op op) const {
    shared->slots[std::size_t(rank)] = double(v);  // exact: T is float or double
    shared->bar.arrive_and_wait();
    T r = T(shared->slots[0]);
    for (int m = 1; m < size; ++m) r = op(r, T(shared->slots[std::size_t(m)]));
    shared->bar.arrive_and_wait();
    return r;
  }
};

// Runs body(team) on `size` threads and rethrows the first exception (the stub's "not
// implemented yet"); a member that throws leaves the barrier so the others finish.
void run_team(int size, const std::function<void(const ThreadTeam&)>& body) {
  TeamShared shared(size);
  std::exception_ptr first;
  std::mutex mu;
  std::vector<std::thread> members;
  for (int rank = 0; rank < size; ++rank)
    members.emplace_back([&, rank] {
      try {
        body(ThreadTeam{rank, size, &shared});
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!first) first = std::current_exception();
        }
        shared.bar.arrive_and_drop();
      }
    });
  for (auto& m : members) m.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace

TEST_CASE("layernorm row forward: exact statistics of small integers [ex03.1]") {
  // x = 1 2 3 4 5 6 7 8 9: mean 5, biased variance 60/9 = 20/3; eps 0 here.
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, gamma(9, 2.0), beta(9, 0.5), y(9);
  double mean = 0, rstd = 0;
  LayerNormRow<double> r;
  r.n = 9, r.eps = 0, r.x = x.data(), r.gamma = gamma.data(), r.beta = beta.data(), r.y = y.data();
  r.mean = &mean, r.rstd = &rstd;
  layernorm_row<double>(Pass::forward, r);
  CHECK(mean == 5.0);
  CHECK(rstd == doctest::Approx(1.0 / std::sqrt(20.0 / 3.0)).epsilon(1e-15));
  for (int i = 0; i < 9; ++i) CHECK(y[i] == doctest::Approx(2.0 * (x[i] - 5.0) * rstd + 0.5).epsilon(1e-14));
}

TEST_CASE("layernorm row backward against central differences [ex03.1]") {
  const int n = 7;
  auto x = normal_vec(n, 1, 2.0), gamma = normal_vec(n, 2), beta = normal_vec(n, 3), w = normal_vec(n, 4);
  std::vector<double> y(n), dx(n), dgamma(n, 0.0), dbeta(n, 0.0);
  double mean = 0, rstd = 0;
  LayerNormRow<double> r;
  r.n = n, r.eps = 1e-5, r.x = x.data(), r.gamma = gamma.data(), r.beta = beta.data(), r.y = y.data();
  r.mean = &mean, r.rstd = &rstd;
  const auto loss = [&] {
    layernorm_row<double>(Pass::forward, r);
    return dot(y.data(), w);
  };
  loss();
  r.dy = w.data(), r.dx = dx.data(), r.dgamma = dgamma.data(), r.dbeta = dbeta.data();
  layernorm_row<double>(Pass::backward, r);
  CHECK(check_gradient("dx", x.data(), dx.data(), n, loss).checked == std::size_t(n));
  CHECK(check_gradient("dgamma", gamma.data(), dgamma.data(), n, loss).checked == std::size_t(n));
  CHECK(check_gradient("dbeta", beta.data(), dbeta.data(), n, loss).checked == std::size_t(n));
  // dgamma and dbeta accumulate: a second backward doubles them.
  layernorm_row<double>(Pass::forward, r);
  const std::vector<double> once = dbeta;
  layernorm_row<double>(Pass::backward, r);
  for (int i = 0; i < n; ++i) CHECK(dbeta[i] == 2 * once[i]);
}

TEST_CASE("layernorm row in fp16 keeps fp32 statistics [ex03.1]") {
  // 1000 + small offsets: in fp16, (x - mean)^2 sums to ~ 8e4 for 32 values of +-50,
  // beyond fp16's max; fp32 statistics give the exact normalised values.
  const int n = 32;
  std::vector<half> x(n), gamma(n, half(1.0f)), beta(n, half(0.0f)), y(n);
  for (int i = 0; i < n; ++i) x[i] = half(i % 2 ? 1050.0f : 950.0f);
  float mean = 0, rstd = 0;
  LayerNormRow<half> r;
  r.n = n, r.x = x.data(), r.gamma = gamma.data(), r.beta = beta.data(), r.y = y.data();
  r.mean = &mean, r.rstd = &rstd;
  layernorm_row<half>(Pass::forward, r);
  CHECK(mean == 1000.0f);
  for (int i = 0; i < n; ++i) CHECK(float(y[i]) == doctest::Approx(i % 2 ? 1.0 : -1.0).epsilon(1e-3));
}

TEST_CASE("softmax backward row: exact value and central differences [ex03.2]") {
  // y = (1/2, 1/4, 1/4, 0), dy = (1, 2, 3, 4): sum y dy = 1.75, ds = y (dy - 1.75).
  const std::vector<double> y = {0.5, 0.25, 0.25, 0.0}, dy = {1, 2, 3, 4};
  std::vector<double> ds(4);
  softmax_backward_row<double>(y.data(), dy.data(), ds.data(), 4);
  CHECK(ds[0] == -0.375);
  CHECK(ds[1] == 0.0625);
  CHECK(ds[2] == 0.3125);
  CHECK(ds[3] == 0.0);  // a masked entry
  // Against central differences of L = <softmax(s), w>.
  const int n = 6;
  auto s = normal_vec(n, 5, 2.0), w = normal_vec(n, 6);
  const auto softmax = [&](std::vector<double>& out) {
    double m = s[0], sum = 0;
    for (double v : s) m = std::max(m, v);
    for (int j = 0; j < n; ++j) sum += std::exp(s[j] - m);
    for (int j = 0; j < n; ++j) out[j] = std::exp(s[j] - m) / sum;
  };
  std::vector<double> p(n), g(n);
  const auto loss = [&] {
    softmax(p);
    return dot(p.data(), w);
  };
  loss();
  softmax_backward_row<double>(p.data(), w.data(), g.data(), n);
  CHECK(check_gradient("ds", s.data(), g.data(), n, loss).checked == std::size_t(n));
}

TEST_CASE("softmax backward row in fp16 sums in fp32 [ex03.2]") {
  // 4096 equal probabilities 2^-12 and dy = 1: sum y dy = 1, ds = 0 exactly. Summed in
  // fp16, 1 + 2^-12 rounds back to 1 and the sum would stall at 1 after 2048 terms: fine
  // here, but dy = 3 makes the fp16 sum stall at 2048 * 3 * 2^-12 = 1.5 < 3.
  const int n = 4096;
  std::vector<half> y(n, half(1.0f / 4096)), ds(n);
  std::vector<float> dy(n, 3.0f);
  softmax_backward_row<half>(y.data(), dy.data(), ds.data(), n);
  for (int j = 0; j < n; ++j) REQUIRE(float(ds[j]) == 0.0f);
}

TEST_CASE("cross-entropy row: uniform logits give log V and p - q [ex03.3]") {
  const int V = 8;
  std::vector<double> z(V, 0.25), d(V);
  const double loss = cross_entropy_row<double>(z.data(), V, 3, 0.0, 1.0, d.data());
  CHECK(loss == doctest::Approx(std::log(8.0)).epsilon(1e-15));
  for (int j = 0; j < V; ++j) CHECK(d[j] == doctest::Approx(j == 3 ? 0.125 - 1 : 0.125).epsilon(1e-15));
  // With smoothing 0.2, q = 0.8 onehot + 0.025, and the loss is still log V (every log p = -log 8).
  const double smooth = cross_entropy_row<double>(z.data(), V, 3, 0.2, 0.5, d.data());
  CHECK(smooth == doctest::Approx(std::log(8.0)).epsilon(1e-15));
  for (int j = 0; j < V; ++j) CHECK(d[j] == doctest::Approx(0.5 * (0.125 - (j == 3 ? 0.825 : 0.025))).epsilon(1e-14));
}

TEST_CASE("cross-entropy row against central differences and with huge logits [ex03.3]") {
  const int V = 6;
  auto z = normal_vec(V, 7, 3.0);
  std::vector<double> d(V), scratch(V);
  cross_entropy_row<double>(z.data(), V, 2, 0.1, 1.0, d.data());
  const auto loss = [&] { return cross_entropy_row<double>(z.data(), V, 2, 0.1, 1.0, scratch.data()); };
  CHECK(check_gradient("dlogits", z.data(), d.data(), V, loss).checked == std::size_t(V));
  // Logits at fp32's scale: exp(z) overflows, log-sum-exp does not.
  std::vector<float> big = {3e38f, 2.9e38f, -3e38f}, db(3);
  const float l = cross_entropy_row<float>(big.data(), 3, 0, 0.0f, 1.0f, db.data());
  CHECK(l == 0.0f);
  CHECK(db[0] == 0.0f);
  CHECK(db[1] == 0.0f);
}

// ---- the fp64 references (the gate of 03.1-03.3: exercises.py GATES) ------------------------
// Each row function is compared with its formula written here in long double, two-pass,
// independently of the student's code, on several rows (eps > 0, a one-element row, a row of
// mean 1e4 and variance ~1 where a one-pass variance cancels catastrophically) and run by
// teams of 1 (SerialTeam), 2, 3 and 8 members (8 > some n: a member without elements still
// takes part). Tolerances are derived per test below.

namespace {

using LD = long double;

// Runs body(team) serially (SerialTeam) for size 1, on `size` host threads otherwise.
template <class Body>
void with_team(int size, const Body& body) {
  if (size == 1)
    body(SerialTeam{});
  else
    run_team(size, [&](const ThreadTeam& t) { body(t); });
}

struct LayerNormRef {
  LD mean = 0, rstd = 0;
  std::vector<LD> xhat, y, dx, dgamma, dbeta, scale_dx;  // scale_dx: the size of dx's terms
};

// mu = mean(x), var = mean((x - mu)^2), r = 1/sqrt(var + eps), xhat = (x - mu) r,
// y = gamma xhat + beta; g = dy gamma, dx = r (g - mean(g) - xhat mean(g xhat)),
// dgamma = dy xhat, dbeta = dy.
template <class T>
LayerNormRef layernorm_ref(const std::vector<T>& x, const std::vector<T>& gamma, const std::vector<T>& beta,
                           const std::vector<T>& dy, double eps) {
  const std::size_t n = x.size();
  LayerNormRef r;
  for (T v : x) r.mean += LD(v);
  r.mean /= LD(n);
  LD var = 0;
  for (T v : x) var += (LD(v) - r.mean) * (LD(v) - r.mean);
  var /= LD(n);
  r.rstd = 1 / std::sqrt(var + LD(eps));
  LD mean_g = 0, mean_gx = 0, mean_abs_g = 0, mean_abs_gx = 0;
  for (std::size_t i = 0; i < n; ++i) {
    r.xhat.push_back((LD(x[i]) - r.mean) * r.rstd);
    r.y.push_back(LD(gamma[i]) * r.xhat[i] + LD(beta[i]));
    const LD g = LD(dy[i]) * LD(gamma[i]);
    mean_g += g / LD(n), mean_gx += g * r.xhat[i] / LD(n);
    mean_abs_g += std::fabs(g) / LD(n), mean_abs_gx += std::fabs(g * r.xhat[i]) / LD(n);
    r.dgamma.push_back(LD(dy[i]) * r.xhat[i]);
    r.dbeta.push_back(LD(dy[i]));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const LD g = LD(dy[i]) * LD(gamma[i]);
    r.dx.push_back(r.rstd * (g - mean_g - r.xhat[i] * mean_gx));
    r.scale_dx.push_back(r.rstd * (std::fabs(g) + mean_abs_g + std::fabs(r.xhat[i]) * mean_abs_gx));
  }
  return r;
}

// Runs forward then backward of layernorm_row<T> on one row with a team of `size` and
// checks every output against the reference: |got - ref| <= tol * (size of the terms).
// dgamma and dbeta start at 1 and -1 (they accumulate: +=).
template <class T>
void check_layernorm_row(const std::vector<T>& x, const std::vector<T>& gamma, const std::vector<T>& beta,
                         const std::vector<T>& dy, double eps, int size, double tol) {
  using A = acc_t<T>;
  const int n = int(x.size());
  CAPTURE(n);
  CAPTURE(eps);
  CAPTURE(size);
  const LayerNormRef ref = layernorm_ref(x, gamma, beta, dy, eps);
  std::vector<T> y(x.size()), dx(x.size());
  std::vector<A> dg(x.size(), A(1)), db(x.size(), A(-1));
  A mean = -1, rstd = -1;
  LayerNormRow<T> r;
  r.n = n, r.eps = A(eps), r.x = x.data(), r.gamma = gamma.data(), r.beta = beta.data(), r.y = y.data();
  r.mean = &mean, r.rstd = &rstd, r.dy = dy.data(), r.dx = dx.data(), r.dgamma = dg.data(), r.dbeta = db.data();
  with_team(size, [&](const auto& t) { layernorm_row<T>(Pass::forward, r, t); });
  CHECK(std::fabs(LD(mean) - ref.mean) <= tol * (std::fabs(ref.mean) + 1 / ref.rstd));
  CHECK(std::fabs(LD(rstd) - ref.rstd) <= tol * ref.rstd);
  with_team(size, [&](const auto& t) { layernorm_row<T>(Pass::backward, r, t); });
  int bad_y = 0, bad_dx = 0, bad_dg = 0, bad_db = 0;
  for (int i = 0; i < n; ++i) {
    const LD ax = std::fabs(ref.xhat[std::size_t(i)]);
    bad_y += !(std::fabs(LD(y[i]) - ref.y[std::size_t(i)]) <= tol * (ax * std::fabs(LD(gamma[i])) + std::fabs(LD(beta[i])) + 1e-30L));
    bad_dx += !(std::fabs(LD(dx[i]) - ref.dx[std::size_t(i)]) <= tol * ref.scale_dx[std::size_t(i)] + 1e-30L);
    bad_dg += !(std::fabs(LD(dg[i]) - (1 + ref.dgamma[std::size_t(i)])) <= tol * (1 + std::fabs(ref.dgamma[std::size_t(i)])));
    bad_db += !(std::fabs(LD(db[i]) - (-1 + ref.dbeta[std::size_t(i)])) <= tol * (1 + std::fabs(ref.dbeta[std::size_t(i)])));
  }
  CHECK(bad_y == 0);
  CHECK(bad_dx == 0);
  CHECK(bad_dg == 0);
  CHECK(bad_db == 0);
}

// Double rows: n = 1 (var 0: rstd = 1/sqrt(eps), dx = 0), 7 with eps = 0.1 (ignoring eps
// moves rstd by 5%), 64, and 1000 values of mean 1e4 and variance ~1.
struct DoubleRow {
  std::vector<double> x, gamma, beta, dy;
  double eps;
};

std::vector<DoubleRow> layernorm_rows() {
  std::vector<DoubleRow> rows;
  for (auto [n, offset, eps, seed] : {std::tuple{1, 0.5, 0.25, 20}, std::tuple{7, 0.0, 0.1, 30},
                                      std::tuple{64, 3.0, 1e-5, 40}, std::tuple{1000, 1e4, 1e-5, 50}}) {
    DoubleRow r{normal_vec(std::size_t(n), std::uint64_t(seed)), normal_vec(std::size_t(n), std::uint64_t(seed + 1)),
                normal_vec(std::size_t(n), std::uint64_t(seed + 2)), normal_vec(std::size_t(n), std::uint64_t(seed + 3)),
                eps};
    for (double& v : r.x) v += offset;
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

// Bound in double (u = 2^-53): the mean's sum is off by at most n u sum|x| / n <= n u max|x|
// (1000 * 1.1e-16 * 1.0e4 = 1.1e-9 at worst, ~sqrt(n) u max|x| = 3.5e-11 typically), which
// moves x - mean by that much against a standard deviation of ~1; every other quantity is a
// sum of at most n terms, off by n u = 1.1e-13 relative to the sum of their sizes. 1e-9 of
// the terms' size holds with room; a one-pass variance E[x^2] - mean^2 on the 1e4 row is
// off by ~sqrt(n) u 1e8 = 3.5e-7 in the variance (1.7e-7 in every xhat), and a missing
// term or eps is off by 1e-2 or more.
TEST_CASE("layernorm row forward and backward against the fp64 reference [ex03.1]") {
  for (const auto& row : layernorm_rows()) check_layernorm_row(row.x, row.gamma, row.beta, row.dy, row.eps, 1, 1e-9);
}

TEST_CASE("layernorm row with teams of host threads against the fp64 reference [ex03.1]") {
  for (int size : {2, 3, 8})
    for (const auto& row : layernorm_rows())
      check_layernorm_row(row.x, row.gamma, row.beta, row.dy, row.eps, size, 1e-9);
}

// A float row whose sums are exact in two passes: x = 1e4 + d, d in {+-0.5, +-1, +-1.5}
// (multiples of 1/4: 64 of them sum below 2^22 exactly, n = 64 divides exactly), so the
// mean is 1e4 and the variance 1.125 exactly, and gamma, dy are small multiples of 1/8.
// Then a correct row is off only by the roundings of rstd, xhat, y and dx's two sums:
// (n + 8) u_f (u_f = 2^-24) of the terms' size. A one-pass variance needs x^2 ~ 1e8, whose
// float spacing is 8: its variance is off by units of 8 (0, -8, 8...), not 1.125.
TEST_CASE("layernorm row in float, mean 1e4 and variance 1.125, against the fp64 reference [ex03.1]") {
  const int n = 64;
  const float d[8] = {-1.5f, 1.5f, -0.5f, 0.5f, -1.0f, 1.0f, -1.0f, 1.0f};
  std::vector<float> x(n), gamma(n), beta(n), dy(n);
  for (int i = 0; i < n; ++i) {
    x[i] = 1e4f + d[i % 8];
    gamma[i] = 0.125f * float(1 + i % 7);
    beta[i] = 0.25f * float(i % 5) - 0.5f;
    dy[i] = 0.125f * float(i % 11) - 0.5f;
  }
  const double tol = (n + 8) * 0x1p-24;
  for (int size : {1, 3}) {
    check_layernorm_row(x, gamma, beta, dy, 1e-5, size, tol);
    check_layernorm_row(x, gamma, beta, dy, 0.25, size, tol);
  }
}

namespace {

// ds_j = y_j (dy_j - sum_k y_k dy_k); rows: n = 1, 6, 64 (a quarter masked: y = 0) and
// 1000 (dy offset by 5, so sum y dy is ~5 and cannot be left out).
// S: the storage type (double, or half with fp32 sums: acc_t<half> = float); y and dy are
// rounded to S and to acc_t<S> first and the reference takes the rounded values. The bound:
// the dot's sum is off by n u sum|y dy| (u = acc_t<S>'s unit roundoff), then one subtraction
// and one product add 2u; storing to S adds half an S ulp (2^-11 relative for half, and
// 2^-25 absolute below its normal range). A dot kept in half is off by ~2^-11 |dot| per add.
template <class S>
void check_softmax_backward_rows(int size) {
  using A = acc_t<S>;
  const LD u = std::is_same_v<A, double> ? 0x1p-53L : 0x1p-24L;
  const LD store_rel = std::is_same_v<S, double> ? 0.0L : 0x1p-11L, store_abs = std::is_same_v<S, double> ? 0.0L : 0x1p-25L;
  for (auto [n, seed] : {std::pair{1, 60}, std::pair{6, 61}, std::pair{64, 62}, std::pair{1000, 63}}) {
    CAPTURE(n);
    CAPTURE(size);
    const auto s = normal_vec(std::size_t(n), std::uint64_t(seed), 2.0);
    auto dy0 = normal_vec(std::size_t(n), std::uint64_t(seed + 100));
    LD total = 0;
    for (int j = 0; j < n; ++j) total += (n == 64 && j % 4 == 1) ? 0 : std::exp(LD(s[std::size_t(j)]));
    std::vector<S> y(static_cast<std::size_t>(n));
    std::vector<A> dy(static_cast<std::size_t>(n));
    for (int j = 0; j < n; ++j) {
      y[std::size_t(j)] = S(A((n == 64 && j % 4 == 1) ? 0.0 : double(std::exp(LD(s[std::size_t(j)])) / total)));
      dy[std::size_t(j)] = A(dy0[std::size_t(j)] + (n == 1000 ? 5.0 : 0.0));
    }
    const auto yl = [&](int j) { return LD(A(y[std::size_t(j)])); };
    LD dot = 0, dot_abs = 0;
    for (int j = 0; j < n; ++j) dot += yl(j) * LD(dy[std::size_t(j)]);
    for (int j = 0; j < n; ++j) dot_abs += std::fabs(yl(j) * LD(dy[std::size_t(j)]));
    std::vector<S> ds(std::size_t(n), S(A(99)));
    with_team(size, [&](const auto& t) { softmax_backward_row<S>(y.data(), dy.data(), ds.data(), n, t); });
    int bad = 0;
    for (int j = 0; j < n; ++j) {
      const LD yj = yl(j), ref = yj * (LD(dy[std::size_t(j)]) - dot);
      const LD tol = (yj * ((n + 2) * u * (dot_abs + std::fabs(LD(dy[std::size_t(j)])))) + std::fabs(ref) * store_rel + store_abs) * 2;
      bad += !(std::fabs(LD(A(ds[std::size_t(j)])) - ref) <= tol);
    }
    CHECK(bad == 0);
  }
}

}  // namespace

TEST_CASE("softmax backward row against the fp64 reference, in double and in half [ex03.2]") {
  check_softmax_backward_rows<double>(1);
  check_softmax_backward_rows<half>(1);
}

TEST_CASE("softmax backward row with teams of host threads against the fp64 reference [ex03.2]") {
  for (int size : {2, 3, 16}) check_softmax_backward_rows<double>(size), check_softmax_backward_rows<half>(size);
}

namespace {

// loss = -sum_j q_j log p_j, q_j = (1 - eps)[j = target] + eps / V, log p = z - logsumexp(z);
// dlogits = scale (p - q). Rows: V = 1, 6, 50 and 1000 logits around 1000 (exp(1000)
// overflows a double: only log-sum-exp with the max subtracted stays finite), with
// smoothing 0 and 0.1, targets at both ends and inside.
void check_cross_entropy_rows(int size) {
  for (auto [V, offset, seed] : {std::tuple{1, 0.0, 70}, std::tuple{6, 0.0, 71}, std::tuple{50, -3.0, 72},
                                 std::tuple{1000, 1000.0, 73}}) {
    auto z = normal_vec(std::size_t(V), std::uint64_t(seed), 3.0);
    for (double& v : z) v += offset;
    for (int target : {0, V / 2, V - 1})
      for (double smoothing : {0.0, 0.1}) {
        CAPTURE(V);
        CAPTURE(target);
        CAPTURE(smoothing);
        CAPTURE(size);
        const double scale = 0.5;
        LD m = z[0];
        for (double v : z) m = std::max(m, LD(v));
        LD sum = 0, zmax_abs = 0;
        for (double v : z) sum += std::exp(LD(v) - m), zmax_abs = std::max(zmax_abs, std::fabs(LD(v)));
        const LD lse = m + std::log(sum);
        LD loss = 0;
        std::vector<LD> ref(static_cast<std::size_t>(V));
        for (int j = 0; j < V; ++j) {
          const LD q = (j == target ? 1 - LD(smoothing) : 0) + LD(smoothing) / V;
          const LD logp = LD(z[std::size_t(j)]) - lse;
          loss -= q * logp;
          ref[std::size_t(j)] = scale * (std::exp(logp) - q);
        }
        std::vector<double> d(std::size_t(V), 99.0), losses(std::size_t(size), -1.0);
        with_team(size, [&](const auto& t) {
          losses[std::size_t(t.rank)] =
              cross_entropy_row<double>(z.data(), V, target, smoothing, scale, d.data(), t);
        });
        // z - m is exact to u |z|; the sums of V terms are off by V u of their sizes (the
        // exponentials sum to <= V, the z - m to <= V 2 max|z|): 4 (V + 8) u (1 + max|z|)
        // bounds the loss's error and, relative to p, each p's.
        const LD rel = 4 * (V + 8) * 0x1p-53L * (1 + zmax_abs);
        for (double l : losses) CHECK(std::fabs(LD(l) - loss) <= rel * (1 + std::fabs(loss)));
        int bad = 0;
        for (int j = 0; j < V; ++j) {
          const LD p = ref[std::size_t(j)] / scale + ((j == target ? 1 - LD(smoothing) : 0) + LD(smoothing) / V);
          bad += !(std::fabs(LD(d[std::size_t(j)]) - ref[std::size_t(j)]) <= scale * (rel * p + 0x1p-52L));
        }
        CHECK(bad == 0);
      }
  }
}

}  // namespace

TEST_CASE("cross-entropy row against the fp64 reference [ex03.3]") { check_cross_entropy_rows(1); }

TEST_CASE("cross-entropy row with teams of host threads against the fp64 reference [ex03.3]") {
  for (int size : {2, 3, 16}) check_cross_entropy_rows(size);
}
