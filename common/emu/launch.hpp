/// @file launch.hpp
/// @brief The emulator's side of HALFWAY_LAUNCH: `launcher(kernel, ...)(args...)`.
///
/// Arguments are converted to the kernel's parameter types once, at the launch (as
/// `<<<>>>` does), and every thread receives its own copy, as from CUDA's parameter space.
/// A template kernel with several template arguments must be wrapped in parentheses in
/// HALFWAY_LAUNCH (the preprocessor splits at commas): HALFWAY_LAUNCH((k<float, 16>), ...).
#pragma once

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "common/emu/runtime.hpp"
#include "common/emu/scheduler.hpp"

namespace halfway::simt {

template <class... P>
class Launcher {
 public:
  using Kernel = void (*)(P...);
  Launcher(Kernel k, const char* name, const char* file, int line, dim3 grid, dim3 block, std::size_t smem)
      : spec_{reinterpret_cast<const void*>(k), name, file, line, grid, block, smem, nullptr, nullptr}, kernel_(k) {}

  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "HALFWAY_LAUNCH: the kernel takes a different number of arguments");
    using Params = std::tuple<std::decay_t<P>...>;
    struct Ctx {
      Kernel kernel;
      const Params* params;
    };
    const Params params(std::forward<A>(args)...);
    Ctx ctx{kernel_, &params};
    detail::LaunchSpec spec = spec_;
    spec.body = [](void* c) {
      auto* x = static_cast<Ctx*>(c);
      Params copy = *x->params;  // this thread's own arguments
      std::apply(x->kernel, std::move(copy));
    };
    spec.body_ctx = &ctx;
    detail::count_launch();
    detail::launch(spec);
  }

 private:
  detail::LaunchSpec spec_;
  Kernel kernel_;
};

/// What HALFWAY_LAUNCH(kernel, grid, block, smem, stream) expands to under g++.
template <class... P>
Launcher<P...> launcher(void (*kernel)(P...), const char* name, const char* file, int line, dim3 grid, dim3 block,
                        std::size_t smem = 0, cudaStream_t /*stream: launches run in call order*/ = nullptr) {
  return Launcher<P...>(kernel, name, file, line, grid, block, smem);
}

}  // namespace halfway::simt
