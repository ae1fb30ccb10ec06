/// @file safetensors.hpp
/// @brief Reading a safetensors file: an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}}, then the raw little-endian data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace halfway::layers {

/// One tensor of a safetensors file, with its raw bytes.
struct SafeTensor {
  std::string dtype;                 ///< "F32", "F64", "I64", "I32", "U8", "BOOL", "F16", "BF16"
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;   ///< little-endian elements
  std::int64_t numel() const;
  /// The elements converted to double (exact for every dtype above). Throws Error on an
  /// unknown dtype.
  std::vector<double> as_double() const;
};

/// Every tensor of the file by name. Throws Error (naming the file) when it cannot be
/// read, when the header is not the expected JSON, or when offsets run past the data.
std::map<std::string, SafeTensor> read_safetensors(const std::string& path);

}  // namespace halfway::layers
