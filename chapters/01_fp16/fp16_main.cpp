// ch01_fp16: what fp32, fp16 and bf16 make of a number, and of a gradient tensor.
//
//   ch01_fp16 0.1 65519.99 1e-8          each value's bits, stored value, error and ulp
//   ch01_fp16 --log values.csv ...       the same as CSV
//   ch01_fp16 --table spacing.csv        ulp/|x| against |x| for the three formats (a plot)
//   ch01_fp16 --gradients grads.csv      a synthetic gradient tensor cast to fp16, with
//                                        and without a loss scale (a plot, and chapter 04)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <algorithm>
#include <string>
#include <vector>

#include "common/backend.hpp"
#include "common/cli.hpp"
#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "kernels/fp16/cast.hpp"
#include "kernels/fp16/half.hpp"

using namespace halfway;

namespace {

// One number as a format stores it.
struct Stored {
  const char* label;  // the format, and the rounding when it is not to nearest even
  const FloatFormat* format;
  std::uint32_t bits;
  double value;
};

std::vector<Stored> store(double x) {
  const float f = static_cast<float>(x);  // round to nearest even, by the FPU
  const half h(f);                        // chapter 01's conversions
  const bfloat16 b(f);
  const half z = half::from_bits(float_to_half_bits_rtz(f));  // for comparison
  return {{"fp32", &kFp32, float_to_bits(f), f},
          {"fp16", &kFp16, h.bits, to_float(h)},
          {"fp16 rtz", &kFp16, z.bits, to_float(z)},
          {"bf16", &kBf16, b.bits, to_float(b)}};
}

// Where a stored value landed: what the lesson calls overflow, flush, subnormal.
std::string note(const Stored& s, double x) {
  const double v = std::fabs(s.value), ax = std::fabs(x);
  if (std::isnan(x)) return "NaN";
  if (std::isinf(v)) return std::isinf(ax) ? "inf" : "overflow to inf";
  if (v == 0) return ax == 0 ? "zero" : "flushed to zero";
  if (v < s.format->min_normal()) return "subnormal";
  return "";
}

double parse_number(const std::string& text) {
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0')
    throw UsageError("value: expected a number (like 0.1, -65520, 1e-8, 0x1p-24, inf, nan), found '" +
                     text + "'");
  return x;
}

std::string hex(std::uint32_t bits, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, bits);
  return buf;
}

void print_value(const std::string& text, double x, CsvWriter* log) {
  std::printf("%s\n", text.c_str());
  for (const Stored& s : store(x)) {
    const FloatFormat& f = *s.format;
    const double error = s.value - x;
    // The spacing where the rounding happened: at x (at the stored value for inf and NaN).
    const double u = ulp(f, std::isfinite(x) ? x : s.value);
    std::printf("  %-8s  %-35s %-10s  %-24.17g", s.label, bits_string(f, s.bits).c_str(),
                hex(s.bits, f.total_bits() / 4).c_str(), s.value);
    char err[64] = "-";
    if (std::isfinite(error)) std::snprintf(err, sizeof err, "%+.3e (%+.2f ulp)", error, error / u);
    std::printf("  %-22s  %.3e", err, u);
    const std::string n = note(s, x);
    if (!n.empty()) std::printf("  %s", n.c_str());
    std::printf("\n");
    if (log)
      log->row(text, s.label, hex(s.bits, f.total_bits() / 4), s.value, error,
               x != 0 ? error / std::fabs(x) : 0.0, u, n);
  }
}

// ulp(x)/|x| over every magnitude each format can hold, 64 points per octave.
void write_spacing_table(const std::string& path) {
  CsvWriter table(path, {"format", "x", "ulp", "relative_spacing", "region"});
  for (const FloatFormat* f : {&kFp32, &kFp16, &kBf16}) {
    const int lo = f->min_exponent() - f->mantissa_bits;  // the smallest subnormal
    const int hi = f->max_exponent() + 1;
    for (int k = lo * 64; k < hi * 64; ++k) {
      const double x = std::exp2(k / 64.0);
      if (x > f->max_finite()) break;
      const double u = ulp(*f, x);
      table.row(f->name, x, u, u / x, x < f->min_normal() ? "subnormal" : "normal");
    }
  }
  std::printf("wrote the spacing of fp32, fp16 and bf16 (%zu rows) to %s\n", table.rows(),
              path.c_str());
}

// A synthetic gradient tensor, deterministic on every machine: magnitudes log-normal,
// log2|g| ~ Normal(-22, 5), random signs. Published gradient histograms (Micikevicius et
// al., "Mixed Precision Training", 2018, Fig. 3: SSD's activation gradients) have this
// shape, most of the mass far below 1 and much of it below fp16's smallest subnormal;
// the centre and the spread here are illustrative, not measured.
std::vector<float> synthetic_gradients(std::size_t n, std::uint64_t seed) {
  std::vector<float> g(n);
  std::uint64_t state = seed;
  auto next = [&state] {  // splitmix64
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  auto uniform = [&] { return (static_cast<double>(next() >> 11) + 0.5) * 0x1p-53; };  // (0, 1)
  for (std::size_t i = 0; i < n; ++i) {
    const double normal = std::sqrt(-2.0 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
    const double magnitude = std::exp2(-22.0 + 5.0 * normal);
    g[i] = static_cast<float>((next() & 1) ? -magnitude : magnitude);
  }
  return g;
}

void gradients(const std::string& path, std::size_t n, double scale, Backend backend) {
  const std::vector<float> g = synthetic_gradients(n, 20180215);
  std::printf("\nA synthetic gradient tensor of %zu values, log2|g| ~ Normal(-22, 5), cast to "
              "fp16 on the %s backend:\n",
              n, std::string(to_string(backend)).c_str());
  std::printf("  %-12s %10s %10s %10s %10s\n", "loss scale", "flushed", "subnormal", "normal",
              "overflow");
  std::vector<float> scaled(n);
  Buf<float> d_scaled;  // the backend's memory (the GPU's on cuda)
  Buf<half> d_out;
  Buf<unsigned long long> d_counts;  // the cast's counters on emu and cuda (the cpu counts on the host)
  for (double s : {1.0, 16.0, 256.0, 4096.0, 65536.0, 1048576.0, 16777216.0}) {
    for (std::size_t i = 0; i < n; ++i) scaled[i] = static_cast<float>(g[i] * s);
    copy_in(backend, d_scaled.get(n, backend), scaled.data(), n * sizeof(float));
    CastCounts c;
    cast_f32_to_f16(backend, d_scaled.data(), d_out.get(n, backend), n, &c, d_counts.get(kCastCounters, backend));
    const double pct = 100.0 / static_cast<double>(n);
    const double normal = static_cast<double>(n - c.flushed - c.subnormal - c.overflow);
    std::printf("  2^%-10d %9.2f%% %9.2f%% %9.2f%% %9.2f%%\n", static_cast<int>(std::log2(s)),
                c.flushed * pct, c.subnormal * pct, normal * pct, c.overflow * pct);
  }
  // The histogram of log2|g| in unit bins, unscaled and scaled.
  const int lo = -50, hi = 24;  // the ends collect what lies beyond
  std::vector<std::uint64_t> plain(hi - lo, 0), with_scale(hi - lo, 0);
  auto bin = [&](double v) {
    const int b = static_cast<int>(std::floor(std::log2(std::fabs(v))));
    return std::min(std::max(b, lo), hi - 1) - lo;
  };
  for (float v : g) {
    ++plain[bin(v)];
    ++with_scale[bin(v * scale)];
  }
  CsvWriter csv(path, {"log2_lo", "count", "count_scaled", "scale"});
  for (int b = lo; b < hi; ++b) csv.row(b, plain[b - lo], with_scale[b - lo], scale);
  std::printf("wrote the histogram of log2|g| (and of log2|g * %g|) to %s\n", scale,
              path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Chapter 01: what fp32, fp16 and bf16 store for each VALUE: bits (sign exponent "
      "mantissa), stored value, rounding error and ulp"};
  std::vector<std::string> values;
  std::string log_path, table_path, gradients_path, backend_name = "auto";
  std::size_t count = 1 << 20;
  double scale = 256;
  app.add_option("values", values, "numbers to store (default: a tour of the edge cases)");
  add_log_option(app, log_path, "each value's row per format (CSV)");
  app.add_option("--table", table_path,
                 "write ulp/|x| against |x| for fp32, fp16 and bf16 to this CSV (for the spacing plot)")
      ->option_text("FILE");
  app.add_option("--gradients", gradients_path,
                 "cast a synthetic gradient tensor to fp16 at several loss scales and write its "
                 "histogram to this CSV (for the gradient plot)")
      ->option_text("FILE");
  app.add_option("--gradient-count", count, "values in the gradient tensor")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 28));
  app.add_option("--scale", scale, "the loss scale of the histogram's second series")
      ->check(halfway::positive_number());
  add_backend_option(app, backend_name);

  return run_program(argc, argv, app, [&] {
    if (values.empty() && table_path.empty() && gradients_path.empty())
      values = {"1", "0.1", "3.14159265", "2049", "65504", "65519.99", "65520", "6.1e-5",
                "1e-7", "2.9e-8", "-0", "nan"};
    std::vector<double> numbers;
    for (const auto& v : values) numbers.push_back(parse_number(v));
    std::unique_ptr<CsvWriter> log;
    if (!log_path.empty())
      log = std::make_unique<CsvWriter>(
          log_path, std::vector<std::string>{"input", "format", "bits", "value", "error",
                                             "relative_error", "ulp", "note"});
    if (!numbers.empty())
      std::printf("Each value as fp32, fp16 and bf16 store it, rounded to nearest even (and, to\n"
                  "compare, fp16 rounded toward zero). The error is the stored value minus the given\n"
                  "one; the ulp is the format's spacing at the given value.\n"
                  "  %-8s  %-35s %-10s  %-24s  %-22s  %s\n",
                  "", "sign exponent mantissa", "bits", "stored value", "error (in ulps)", "ulp");
    for (std::size_t i = 0; i < numbers.size(); ++i) print_value(values[i], numbers[i], log.get());
    if (!table_path.empty()) write_spacing_table(table_path);
    if (!gradients_path.empty())
      gradients(gradients_path, count, scale, select_backend(backend_name));
  });
}
