/// @file launch.hpp
/// @brief The emulator's side of HALFWAY_LAUNCH: `launcher(kernel, ..., stream)(args...)`.
///
/// Arguments are converted to the kernel's parameter types once, at the launch (as
/// `<<<>>>` does), and every thread receives its own copy, as from CUDA's parameter space.
/// At the launch the configuration is checked (a bad one sets cudaGetLastError and runs
/// nothing) and so is every pointer argument: one that points into neither device memory
/// nor pinned host memory is a KernelError naming the kernel and the argument. Then the
/// kernel is queued on its stream (queue.hpp): it runs at the next synchronisation point.
/// A template kernel with several template arguments must be wrapped in parentheses in
/// HALFWAY_LAUNCH (the preprocessor splits at commas): HALFWAY_LAUNCH((k<float, 16>), ...).
#pragma once

#include <cstddef>
#include <memory>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "common/emu/queue.hpp"
#include "common/emu/runtime.hpp"
#include "common/emu/scheduler.hpp"

namespace halfway::simt {

template <class... P>
class Launcher {
 public:
  using Kernel = void (*)(P...);
  Launcher(Kernel k, const char* name, const char* file, int line, dim3 grid, dim3 block, std::size_t smem,
           cudaStream_t stream)
      : spec_{reinterpret_cast<const void*>(k), name, file, line, grid, block, smem, nullptr, nullptr},
        kernel_(k),
        stream_(stream) {}

  template <class... A>
  void operator()(A&&... args) const {
    static_assert(sizeof...(A) == sizeof...(P), "HALFWAY_LAUNCH: the kernel takes a different number of arguments");
    struct Ctx {
      Kernel kernel;
      Params params;
    };
    // Owned by the queued work (and by a graph that captured it), so it outlives this call.
    auto ctx = std::make_shared<Ctx>(Ctx{kernel_, Params(std::forward<A>(args)...)});
    detail::LaunchSpec spec = spec_;
    spec.body = [](void* c) {
      auto* x = static_cast<Ctx*>(c);
      Params copy = x->params;  // this thread's own arguments
      std::apply(x->kernel, std::move(copy));
    };
    spec.body_ctx = ctx.get();
    detail::count_launch();
    if (!detail::launch_accepted(spec)) return;
    check_pointers(ctx->params, std::index_sequence_for<P...>{});
    if (cudaError_t e = detail::submit(stream_, [spec, ctx] { detail::run_launch(spec); }); e != cudaSuccess)
      detail::record_error(e);
  }

 private:
  using Params = std::tuple<std::decay_t<P>...>;

  template <std::size_t... I>
  void check_pointers(const Params& params, std::index_sequence<I...>) const {
    (check_pointer<I>(std::get<I>(params)), ...);
  }
  template <std::size_t I, class T>
  void check_pointer(const T& value) const {
    if constexpr (std::is_pointer_v<T> && !std::is_function_v<std::remove_pointer_t<T>>)
      detail::check_pointer_argument(spec_.kernel_name, spec_.file, spec_.line, I, typeid(T).name(),
                                     const_cast<const void*>(static_cast<const volatile void*>(value)));
  }

  detail::LaunchSpec spec_;
  Kernel kernel_;
  cudaStream_t stream_;
};

/// What HALFWAY_LAUNCH(kernel, grid, block, smem, stream) expands to under g++.
template <class... P>
Launcher<P...> launcher(void (*kernel)(P...), const char* name, const char* file, int line, dim3 grid, dim3 block,
                        std::size_t smem = 0, cudaStream_t stream = nullptr) {
  return Launcher<P...>(kernel, name, file, line, grid, block, smem, stream);
}

}  // namespace halfway::simt
