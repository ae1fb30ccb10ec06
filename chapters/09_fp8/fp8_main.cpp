// ch09_fp8: what e4m3 and e5m2 make of a number, and the number lines of the 8- and
// 16-bit formats.
//
//   ch09_fp8 0.1 300 500 1e-5           each value in e4m3 and e5m2: bits, stored value, error
//   ch09_fp8 --table numberline.csv      every positive finite value of e4m3, e5m2, fp16 and
//                                        bf16 with the gap to the next (the number-line plot)
//   ch09_fp8 --dump conversions.bin      a sample of floats and their four fp8 conversions,
//                                        and every byte decoded (read by test_ml_dtypes.py)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "kernels/fp16/half.hpp"
#include "kernels/fp8/fp8.hpp"

using namespace halfway;

namespace {

double parse_number(const std::string& text) {
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0')
    throw UsageError("value: expected a number (like 0.1, 448, -500, 1e-5, inf, nan), found '" + text + "'");
  return x;
}

// `overflows`: rounding leaves the format (the non-saturating conversion gives NaN or inf).
const char* note(double x, float stored, Fp8Format format, bool overflows) {
  const double v = std::fabs(stored), ax = std::fabs(x);
  if (std::isnan(x)) return "NaN";
  if (std::isnan(stored)) return "overflow to NaN";
  if (std::isinf(stored)) return std::isinf(x) ? "inf" : "overflow to inf";
  if (overflows) return "saturated";
  if (v == 0) return ax == 0 ? "zero" : "flushed to zero";
  if (v < (format == Fp8Format::e4m3 ? 0x1p-6 : 0x1p-14)) return "subnormal";
  return "";
}

void print_value(const std::string& text, double x) {
  const float f = static_cast<float>(x);
  std::printf("%s\n", text.c_str());
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    const bool overflows = !std::isnan(x) && !std::isfinite(fp8_bits_to_float(float_to_fp8_bits(f, format, Saturation::none), format));
    for (Saturation s : {Saturation::finite, Saturation::none}) {
      const std::uint8_t b = float_to_fp8_bits(f, format, s);
      const float v = fp8_bits_to_float(b, format);
      const double error = static_cast<double>(v) - x;
      char err[48] = "-";
      if (std::isfinite(error) && x != 0) std::snprintf(err, sizeof err, "%+.3e (%+.2f%%)", error, 100 * error / std::fabs(x));
      std::printf("  %s %-9s  0x%02X  %-14.9g %-24s %s\n", to_string(format),
                  s == Saturation::finite ? "satfinite" : "nosat", b, v, err, note(x, v, format, overflows));
    }
  }
}

// Every positive finite value of a 16-bit or 8-bit format, with the gap to the next.
void write_number_lines(const std::string& path) {
  CsvWriter table(path, {"format", "value", "spacing"});
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2})
    for (int b = 1; b < 0x7F && fp8_bits_to_float(static_cast<std::uint8_t>(b + 1), format) <= fp8_max(format); ++b) {
      const float v = fp8_bits_to_float(static_cast<std::uint8_t>(b), format);
      table.row(to_string(format), v, fp8_bits_to_float(static_cast<std::uint8_t>(b + 1), format) - v);
    }
  for (std::uint32_t b = 1; b < 0x7BFF; ++b)
    table.row("fp16", half_bits_to_float(static_cast<std::uint16_t>(b)),
              half_bits_to_float(static_cast<std::uint16_t>(b + 1)) - half_bits_to_float(static_cast<std::uint16_t>(b)));
  for (std::uint32_t b = 1; b < 0x7F7F; b += 1)
    table.row("bf16", bf16_bits_to_float(static_cast<std::uint16_t>(b)),
              bf16_bits_to_float(static_cast<std::uint16_t>(b + 1)) - bf16_bits_to_float(static_cast<std::uint16_t>(b)));
  std::printf("wrote every positive finite value of e4m3, e5m2, fp16 and bf16 with its spacing (%zu rows) to %s\n",
              table.rows(), path.c_str());
}

// The floats the ml_dtypes comparison checks: a strided sample of all patterns, and
// around every fp8 value and every midpoint between neighbours, the float itself and its
// two float neighbours, both signs (the ties and the overflow thresholds).
std::vector<float> sample_floats() {
  std::vector<float> out;
  for (std::uint64_t x = 0; x < (1ull << 32); x += 4099) out.push_back(bits_to_float(static_cast<std::uint32_t>(x)));
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2}) {
    for (int b = 0; b < 0x7F; ++b) {
      const float lo = fp8_bits_to_float(static_cast<std::uint8_t>(b), format);
      const float hi = b + 1 < 0x7F ? fp8_bits_to_float(static_cast<std::uint8_t>(b + 1), format)
                                    : 2 * fp8_max(format);  // past the top: the overflow threshold's region
      for (float c : {lo, lo + (hi - lo) / 2, hi})
        for (float v : {std::nextafter(c, -INFINITY), c, std::nextafter(c, INFINITY)})
          if (!std::isnan(v)) out.insert(out.end(), {v, -v});
    }
  }
  for (float v : {INFINITY, -INFINITY, NAN, -NAN}) out.push_back(v);
  return out;
}

// Binary, little-endian: u32 n; n records {f32 x; u8 e4m3 satfinite, e4m3 nosat, e5m2
// satfinite, e5m2 nosat}; then 256 f32 (e4m3 byte b decoded) and 256 f32 (e5m2).
void dump(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error("--dump: cannot write '" + path + "'");
  const std::vector<float> xs = sample_floats();
  const auto n = static_cast<std::uint32_t>(xs.size());
  out.write(reinterpret_cast<const char*>(&n), 4);
  for (float x : xs) {
    const std::uint8_t codes[4] = {float_to_e4m3_bits(x, Saturation::finite), float_to_e4m3_bits(x, Saturation::none),
                                   float_to_e5m2_bits(x, Saturation::finite), float_to_e5m2_bits(x, Saturation::none)};
    out.write(reinterpret_cast<const char*>(&x), 4);
    out.write(reinterpret_cast<const char*>(codes), 4);
  }
  for (Fp8Format format : {Fp8Format::e4m3, Fp8Format::e5m2})
    for (int b = 0; b < 256; ++b) {
      const float v = fp8_bits_to_float(static_cast<std::uint8_t>(b), format);
      out.write(reinterpret_cast<const char*>(&v), 4);
    }
  if (!out) throw Error("--dump: writing '" + path + "' failed");
  std::printf("wrote %u floats with their fp8 conversions, and every fp8 byte decoded, to %s\n", n, path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 09: what e4m3 and e5m2 store for each VALUE, saturating (satfinite) or not (nosat)"};
  std::vector<std::string> values;
  std::string table_path, dump_path;
  app.add_option("values", values, "numbers to store (default: a tour of the edge cases)");
  app.add_option("--table", table_path, "write every positive finite value of e4m3, e5m2, fp16 and bf16 "
                                        "with its spacing to this CSV (for the number-line plot)")
      ->option_text("FILE");
  app.add_option("--dump", dump_path, "write a sample of floats with their fp8 conversions (binary, for "
                                      "the ml_dtypes comparison)")
      ->option_text("FILE");
  return run_program(argc, argv, app, [&] {
    if (values.empty() && table_path.empty() && dump_path.empty())
      values = {"1", "0.1", "3.14159265", "300", "448", "460", "500", "57344", "61440", "0.001953125",
                "1e-3", "1e-5", "-0", "inf", "nan"};
    if (!values.empty())
      std::printf("Each value in e4m3 and e5m2, rounded to nearest even. The error is the stored value\n"
                  "minus the given one (and relative to it).\n");
    for (const auto& v : values) print_value(v, parse_number(v));
    if (!table_path.empty()) write_number_lines(table_path);
    if (!dump_path.empty()) dump(dump_path);
  });
}
