// Parsing of element type names (common/dtype.hpp).
#include <string>

#include "common/dtype.hpp"
#include "common/error.hpp"

namespace halfway {

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "fp32" || name == "float32" || name == "float") return DType::f32;
  if (name == "f16" || name == "fp16" || name == "float16" || name == "half") return DType::f16;
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  throw UsageError("dtype: expected f32, f16 or bf16, found '" + std::string(name) + "'");
}

}  // namespace halfway
