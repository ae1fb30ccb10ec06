// The tests of exercises 03.1 (LayerNorm rows), 03.2 (softmax backward) and 03.3
// (cross-entropy rows): exact values where the math is exact, central differences in
// fp64 otherwise. Each fails on the stub (it throws "exercise 03.N is not implemented yet").
//
// The last tests run each row function with a team of several host threads (ThreadTeam
// below: the contract of kernels/layers/team.hpp without a GPU), as the kernels run it
// with a thread block: a function that ignores its team does the row once per member
// (dgamma added k times) or sums only its own elements, and fails them.
#include <doctest/doctest.h>

#include <barrier>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
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

// With a team, each member handles i = rank, rank + size, ... and the sums go through
// t.sum: the results equal the serial ones up to the order of the fp64 sums (1e-13
// relative), and dgamma/dbeta are added exactly once per element.
TEST_CASE("layernorm row with a team of host threads equals the serial row [ex03.1]") {
  const int n = 7;
  const auto x = normal_vec(n, 11, 2.0), gamma = normal_vec(n, 12), beta = normal_vec(n, 13), dy = normal_vec(n, 14);
  std::vector<double> y(n), dx(n), dg(n, 1.0), db(n, -1.0);
  double mean = 0, rstd = 0;
  LayerNormRow<double> r;
  r.n = n, r.x = x.data(), r.gamma = gamma.data(), r.beta = beta.data(), r.y = y.data(), r.mean = &mean, r.rstd = &rstd;
  r.dy = dy.data(), r.dx = dx.data(), r.dgamma = dg.data(), r.dbeta = db.data();
  layernorm_row<double>(Pass::forward, r);
  layernorm_row<double>(Pass::backward, r);
  for (int size : {2, 3, 8}) {  // 8 > n: a member without elements still takes part
    CAPTURE(size);
    std::vector<double> yt(n), dxt(n), dgt(n, 1.0), dbt(n, -1.0);
    double mt = -1, rt = -1;
    LayerNormRow<double> rr = r;
    rr.y = yt.data(), rr.mean = &mt, rr.rstd = &rt, rr.dx = dxt.data(), rr.dgamma = dgt.data(), rr.dbeta = dbt.data();
    run_team(size, [&](const ThreadTeam& t) { layernorm_row<double>(Pass::forward, rr, t); });
    CHECK(mt == doctest::Approx(mean).epsilon(1e-13));
    CHECK(rt == doctest::Approx(rstd).epsilon(1e-13));
    run_team(size, [&](const ThreadTeam& t) { layernorm_row<double>(Pass::backward, rr, t); });
    for (int i = 0; i < n; ++i) {
      CHECK(yt[i] == doctest::Approx(y[i]).epsilon(1e-13));
      CHECK(dxt[i] == doctest::Approx(dx[i]).epsilon(1e-12));
      CHECK(dgt[i] == doctest::Approx(dg[i]).epsilon(1e-13));
      CHECK(dbt[i] == db[i]);  // 1 added to -1 + dy once: the same single rounding
    }
  }
}

TEST_CASE("softmax backward row with a team of host threads equals the serial row [ex03.2]") {
  const int n = 9;
  auto y = normal_vec(n, 15), dy = normal_vec(n, 16);
  for (double& v : y) v = std::fabs(v);
  std::vector<double> ds(n);
  softmax_backward_row<double>(y.data(), dy.data(), ds.data(), n);
  for (int size : {2, 4, 16}) {
    CAPTURE(size);
    std::vector<double> dst(n, 99.0);
    run_team(size, [&](const ThreadTeam& t) { softmax_backward_row<double>(y.data(), dy.data(), dst.data(), n, t); });
    for (int j = 0; j < n; ++j) CHECK(dst[j] == doctest::Approx(ds[j]).epsilon(1e-12));
  }
}

TEST_CASE("cross-entropy row with a team of host threads: every member returns the loss [ex03.3]") {
  const int V = 11;
  const auto z = normal_vec(V, 17, 3.0);
  std::vector<double> d(V);
  const double loss = cross_entropy_row<double>(z.data(), V, 4, 0.1, 0.5, d.data());
  for (int size : {2, 3, 16}) {
    CAPTURE(size);
    std::vector<double> dt(V, 99.0), losses(std::size_t(size), -1.0);
    run_team(size, [&](const ThreadTeam& t) {
      losses[std::size_t(t.rank)] = cross_entropy_row<double>(z.data(), V, 4, 0.1, 0.5, dt.data(), t);
    });
    for (double l : losses) CHECK(l == doctest::Approx(loss).epsilon(1e-13));
    for (int j = 0; j < V; ++j) CHECK(dt[j] == doctest::Approx(d[j]).epsilon(1e-12));
  }
}
