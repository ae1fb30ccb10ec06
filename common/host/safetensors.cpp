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

namespace {
// Bytes per element of a dtype, 0 for one this reader does not know.
std::size_t element_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

// Whether `bytes` is the product of the shape's sizes and `element` (false on an overflow).
bool bytes_match(const std::vector<std::int64_t>& shape, std::size_t element, std::size_t bytes) {
  std::size_t n = element;
  for (const std::int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(n, std::size_t(d), &n)) return false;
  return n == bytes;
}
}  // namespace

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
  } catch (const nlohmann::json::parse_error& e) {
    // Where, not what: the parser's message quotes the bytes it read, which may be anything.
    throw Error("safetensors: expected a JSON header in '" + path + "', found bytes that are not JSON (at byte " +
                std::to_string(e.byte) + " of the header)");
  }
  if (!header.is_object()) throw Error("safetensors: expected a JSON object as the header of '" + path + "'");
  std::map<std::string, SafeTensor> out;
  std::multimap<std::size_t, std::size_t> spans;  // every tensor's [begin, end) in the data, by begin
  const std::size_t data_size = file.size() - data0;
  for (auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    SafeTensor t;
    std::vector<std::size_t> off;
    try {
      t.dtype = info.at("dtype").get<std::string>();
      t.shape = info.at("shape").get<std::vector<std::int64_t>>();
      off = info.at("data_offsets").get<std::vector<std::size_t>>();
    } catch (const nlohmann::json::exception&) {
      throw Error("safetensors: expected a dtype, a shape and data_offsets for tensor '" + name + "' in '" + path + "'");
    }
    if (off.size() != 2 || off[0] > off[1] || off[1] > data_size)
      throw Error("safetensors: data of '" + name + "' past the end of '" + path + "'");
    if (const std::size_t size = element_size(t.dtype); size != 0 && !bytes_match(t.shape, size, off[1] - off[0]))
      throw Error("safetensors: tensor '" + name + "' in '" + path + "' holds " + std::to_string(off[1] - off[0]) +
                  " bytes, not the size of its dtype and shape");
    t.bytes.assign(file.begin() + std::ptrdiff_t(data0 + off[0]), file.begin() + std::ptrdiff_t(data0 + off[1]));
    if (off[1] > off[0]) spans.emplace(off[0], off[1]);  // an empty tensor owns no bytes
    out.emplace(name, std::move(t));
  }
  // The format's rule: the tensors tile the data exactly, in some order, with no overlap and
  // no hole. Overlapping tensors would share bytes (one edit changes both), and a hole holds
  // bytes no tensor owns.
  std::size_t at = 0;
  for (const auto& [begin, end] : spans) {
    if (begin != at)
      throw Error("safetensors: the tensors of '" + path + "' " + (begin < at ? "overlap" : "leave a hole") +
                  " at data byte " + std::to_string(begin < at ? begin : at));
    at = end;
  }
  if (at != data_size)
    throw Error("safetensors: " + std::to_string(data_size - at) + " bytes after the last tensor of '" + path + "'");
  return out;
}

}  // namespace halfway::layers
