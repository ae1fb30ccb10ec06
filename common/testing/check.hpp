/// @file check.hpp
/// @brief Test helpers every chapter uses: compare arrays against a reference within a
/// stated bound, report the first failure readably, fill inputs with reproducible
/// random numbers.
///
/// ```
/// std::vector<float> x = halfway::testing::random_normal(n, 1);  // seed 1
/// ...
/// // fp16 storage: relative error 2^-11 per rounding, two roundings -> rtol 2^-10
/// HALFWAY_CHECK_CLOSE(out, ref, 0.0, 0x1p-10);
/// ```
/// A comparison fails on any NaN or infinity in the values or the reference: a kernel
/// that produces one is wrong even where the reference happens to agree. The macros
/// expand to doctest's CHECK_MESSAGE/REQUIRE_MESSAGE, so include doctest before using
/// them; the functions themselves need no test framework.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/rng.hpp"

namespace halfway::testing {

/// Anything with std::data() and std::size(): std::vector, std::array, std::span, C arrays.
template <class R>
concept Contiguous = requires(const R& r) {
  std::data(r);
  std::size(r);
};

namespace detail {
template <class A, class B>
void check_sizes(const A& a, const B& b, const char* where) {
  if (std::size(a) != std::size(b))
    throw Error(std::string(where) + ": expected arrays of the same size, found " +
                std::to_string(std::size(a)) + " and " + std::to_string(std::size(b)));
}
inline std::string num(double v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}
}  // namespace detail

/// The largest |a[i] - b[i]| (in double); NaN when any difference is NaN. Throws Error
/// when the sizes differ.
template <Contiguous A, Contiguous B>
double max_abs_diff(const A& a, const B& b) {
  detail::check_sizes(a, b, "max_abs_diff");
  double worst = 0;
  for (std::size_t i = 0; i < std::size(a); ++i) {
    const double d = std::abs(static_cast<double>(std::data(a)[i]) - static_cast<double>(std::data(b)[i]));
    if (std::isnan(d)) return d;
    if (d > worst) worst = d;
  }
  return worst;
}

/// True when every value is finite (no NaN, no infinity).
template <Contiguous A>
bool all_finite(const A& a) {
  for (std::size_t i = 0; i < std::size(a); ++i)
    if (!std::isfinite(static_cast<double>(std::data(a)[i]))) return false;
  return true;
}

/// The outcome of check_close(): converts to bool, and `message` says why.
struct CloseReport {
  bool ok = true;
  std::size_t count = 0;     ///< elements compared
  std::size_t failures = 0;  ///< elements out of bound, or not finite
  /// The first failing element (meaningful when !ok).
  std::size_t first_index = 0;
  double first_value = 0, first_reference = 0, first_bound = 0;
  /// The largest |x - ref| over the finite elements, and where.
  double max_abs_error = 0;
  std::size_t max_abs_index = 0;
  /// "all 1024 within |x - ref| <= atol + rtol |ref| (max error 3e-06 at [17])", or the
  /// number of failures and the first one, e.g.
  /// "3 of 1024 out of |x - ref| <= 1e-05 + 0.001 |ref|; first at [17]: x = 1.5, ref =
  /// 1.25, |x - ref| = 0.25 > 0.00126".
  std::string message;
  explicit operator bool() const { return ok; }
};

inline std::ostream& operator<<(std::ostream& os, const CloseReport& r) { return os << r.message; }

/// Checks |x[i] - ref[i]| <= atol + rtol * |ref[i]| for every i, in double, and that all
/// of x and ref are finite. Throws Error when the sizes differ (a test bug, not a result).
template <Contiguous X, Contiguous R>
CloseReport check_close(const X& x, const R& ref, double atol, double rtol) {
  detail::check_sizes(x, ref, "check_close");
  CloseReport r;
  r.count = std::size(x);
  const std::string rule = "|x - ref| <= " + detail::num(atol) + " + " + detail::num(rtol) + " |ref|";
  for (std::size_t i = 0; i < r.count; ++i) {
    const double v = static_cast<double>(std::data(x)[i]);
    const double e = static_cast<double>(std::data(ref)[i]);
    const double bound = atol + rtol * std::abs(e);
    const double err = std::abs(v - e);
    const bool finite = std::isfinite(v) && std::isfinite(e);
    if (finite && err > r.max_abs_error) {
      r.max_abs_error = err;
      r.max_abs_index = i;
    }
    if (finite && err <= bound) continue;
    if (r.failures++ == 0) {
      r.first_index = i;
      r.first_value = v;
      r.first_reference = e;
      r.first_bound = bound;
    }
  }
  r.ok = r.failures == 0;
  std::ostringstream m;
  if (r.ok) {
    m << "all " << r.count << " within " << rule << " (max error " << detail::num(r.max_abs_error)
      << " at [" << r.max_abs_index << "])";
  } else {
    m << r.failures << " of " << r.count << " out of " << rule << "; first at [" << r.first_index
      << "]: x = " << detail::num(r.first_value) << ", ref = " << detail::num(r.first_reference);
    if (!std::isfinite(r.first_value) || !std::isfinite(r.first_reference)) {
      m << " (not finite)";
    } else {
      m << ", |x - ref| = " << detail::num(std::abs(r.first_value - r.first_reference)) << " > "
        << detail::num(r.first_bound);
    }
  }
  r.message = m.str();
  return r;
}

/// Distance in units in the last place between two finite floats of the same sign or
/// either side of zero (0 when equal, 1 for neighbours; +0 and -0 are 0 apart).
inline std::int64_t ulp_distance(float a, float b) {
  auto ordered = [](float f) {
    std::int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? static_cast<std::int64_t>(std::numeric_limits<std::int32_t>::min()) - i
                 : static_cast<std::int64_t>(i);
  };
  const std::int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

/// out[i] = lo + (hi - lo) * rng::uniform(seed, offset + i): reproducible on every backend.
inline void fill_uniform(std::span<float> out, std::uint64_t seed, float lo = -1.0f,
                         float hi = 1.0f, std::uint64_t offset = 0) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = lo + (hi - lo) * rng::uniform(seed, offset + i);
}

/// out[i] = mean + stddev * rng::normal(seed, offset + i).
inline void fill_normal(std::span<float> out, std::uint64_t seed, float mean = 0.0f,
                        float stddev = 1.0f, std::uint64_t offset = 0) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = mean + stddev * rng::normal(seed, offset + i);
}

/// Integers in [lo, hi] as floats: inputs whose products and sums are exact, so that an
/// indexing bug cannot hide in a tolerance. Throws Error unless lo <= hi.
inline void fill_integers(std::span<float> out, std::uint64_t seed, int lo, int hi,
                          std::uint64_t offset = 0) {
  if (lo > hi) throw Error("fill_integers: expected lo <= hi, found " + std::to_string(lo) + " > " + std::to_string(hi));
  const std::uint64_t range = static_cast<std::uint64_t>(static_cast<std::int64_t>(hi) - lo + 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint64_t k = (static_cast<std::uint64_t>(rng::bits(seed, offset + i)) * range) >> 32;
    out[i] = static_cast<float>(static_cast<std::int64_t>(lo) + static_cast<std::int64_t>(k));
  }
}

/// `n` uniform values in [lo, hi) (see fill_uniform()).
inline std::vector<float> random_uniform(std::size_t n, std::uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  fill_uniform(v, seed, lo, hi);
  return v;
}

/// `n` normal values (see fill_normal()).
inline std::vector<float> random_normal(std::size_t n, std::uint64_t seed, float mean = 0.0f, float stddev = 1.0f) {
  std::vector<float> v(n);
  fill_normal(v, seed, mean, stddev);
  return v;
}

/// `n` integers in [lo, hi] as floats (see fill_integers()).
inline std::vector<float> random_integers(std::size_t n, std::uint64_t seed, int lo, int hi) {
  std::vector<float> v(n);
  fill_integers(v, seed, lo, hi);
  return v;
}

}  // namespace halfway::testing

/// doctest CHECK that x and ref agree within atol + rtol |ref| elementwise (see
/// check_close()); on failure the message names the first bad element.
#define HALFWAY_CHECK_CLOSE(x, ref, atol, rtol)                                  \
  do {                                                                           \
    const auto halfway_report_ = ::halfway::testing::check_close((x), (ref), (atol), (rtol)); \
    CHECK_MESSAGE(halfway_report_.ok, halfway_report_.message);                 \
  } while (0)

/// As HALFWAY_CHECK_CLOSE, but stops the test case on failure.
#define HALFWAY_REQUIRE_CLOSE(x, ref, atol, rtol)                                \
  do {                                                                           \
    const auto halfway_report_ = ::halfway::testing::check_close((x), (ref), (atol), (rtol)); \
    REQUIRE_MESSAGE(halfway_report_.ok, halfway_report_.message);               \
  } while (0)
