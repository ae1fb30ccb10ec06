/// @file dtype_switch.hpp
/// @brief The one switch from a run-time DType to the C++ type it names.
///
/// `with_dtype(t, f)` calls f(std::type_identity<T>{}) with T = float, half or bfloat16;
/// `with_typed(t, data, f)` calls f(static_cast<T*>(data)). Every flat buffer of the
/// course whose element type is only known at run time (gradients, working copies,
/// telemetry's tensors) goes through them, so a new type would be added in one place.
#pragma once

#include <string>
#include <type_traits>

#include "common/dtype.hpp"
#include "common/error.hpp"
#include "kernels/fp16/half.hpp"

namespace halfway {

template <class F>
decltype(auto) with_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(std::type_identity<float>{});
    case DType::f16: return f(std::type_identity<half>{});
    case DType::bf16: return f(std::type_identity<bfloat16>{});
  }
  throw Error("expected an element type f32, f16 or bf16, found DType " + std::to_string(int(t)));
}

template <class F>
decltype(auto) with_typed(DType t, void* data, F&& f) {
  return with_dtype(t, [&](auto type) -> decltype(auto) { return f(static_cast<typename decltype(type)::type*>(data)); });
}

template <class F>
decltype(auto) with_typed(DType t, const void* data, F&& f) {
  return with_dtype(t, [&](auto type) -> decltype(auto) {
    return f(static_cast<const typename decltype(type)::type*>(data));
  });
}

}  // namespace halfway
