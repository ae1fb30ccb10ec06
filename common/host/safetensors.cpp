#include "common/safetensors.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace halfway::layers {

std::int64_t SafeTensor::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {
template <class T>
T load(const std::uint8_t* p) {  // the file is little-endian, as is every machine we run on
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The exact value of a 16-bit word, read from its fields. The reader decodes the two
// formats itself: chapter 01's conversions are the course's library (and a student's
// exercise), which infrastructure below it must not need.
double f16_value(std::uint16_t h) {  // sign 1, exponent 5 (bias 15), mantissa 10
  const double sign = h & 0x8000u ? -1.0 : 1.0;
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  if (exponent == 0x1f) return mantissa ? NAN : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);  // subnormal: mantissa 2^-24
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}
double bf16_value(std::uint16_t b) {  // the top half of a float
  const std::uint32_t bits = std::uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
}  // namespace

std::vector<double> SafeTensor::as_double() const {
  const std::int64_t n = numel();
  std::vector<double> out(static_cast<std::size_t>(n));
  const auto* p = bytes.data();
  for (std::int64_t i = 0; i < n; ++i) {
    if (dtype == "F32") out[i] = load<float>(p + 4 * i);
    else if (dtype == "F64") out[i] = load<double>(p + 8 * i);
    else if (dtype == "I64") out[i] = double(load<std::int64_t>(p + 8 * i));
    else if (dtype == "I32") out[i] = load<std::int32_t>(p + 4 * i);
    else if (dtype == "U8" || dtype == "BOOL") out[i] = p[i];
    else if (dtype == "F16") out[i] = f16_value(load<std::uint16_t>(p + 2 * i));
    else if (dtype == "BF16") out[i] = bf16_value(load<std::uint16_t>(p + 2 * i));
    else throw Error("safetensors: expected a dtype F32, F64, I64, I32, U8, BOOL, F16 or BF16, found " + dtype);
  }
  return out;
}

std::map<std::string, SafeTensor> read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("safetensors: cannot open '" + path + "'");
  const std::vector<std::uint8_t> file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (file.size() < 8) throw Error("safetensors: expected at least 8 bytes in '" + path + "'");
  const auto header_len = load<std::uint64_t>(file.data());
  if (header_len > file.size() - 8) throw Error("safetensors: header length past the end of '" + path + "'");
  const std::size_t data0 = 8 + std::size_t(header_len);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.begin() + 8, file.begin() + std::ptrdiff_t(data0));
  } catch (const nlohmann::json::exception& e) {
    throw Error("safetensors: expected a JSON header in '" + path + "', found: " + e.what());
  }
  std::map<std::string, SafeTensor> out;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    SafeTensor t;
    t.dtype = info.at("dtype").get<std::string>();
    t.shape = info.at("shape").get<std::vector<std::int64_t>>();
    const auto off = info.at("data_offsets").get<std::vector<std::size_t>>();
    if (off.size() != 2 || off[0] > off[1] || data0 + off[1] > file.size())
      throw Error("safetensors: data of '" + name + "' past the end of '" + path + "'");
    t.bytes.assign(file.begin() + std::ptrdiff_t(data0 + off[0]), file.begin() + std::ptrdiff_t(data0 + off[1]));
    out.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace halfway::layers
