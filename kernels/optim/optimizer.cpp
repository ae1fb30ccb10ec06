// The host side of the fused optimizer step (optimizer.hpp): constants in double, the cpu loop, and
// the dispatch to the kernel on emu and cuda.
#include "kernels/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "common/parallel_ranges.hpp"
#include "common/rng.hpp"
#include "kernels/fp16/convert_array.hpp"
#include "kernels/fp16/dtype_switch.hpp"
#include "kernels/optim/update_element.hpp"

namespace halfway::optim {
namespace {

// Elementwise and memory-bound: threads pay off only on large stores (worth_threads,
// common/parallel_ranges.hpp).
// The update kind is a template constant here, so that the loop has no branch and the
// compiler vectorises it (sqrt and division included); the loop is a function of its own
// with the constants by value (common/parallel_ranges.hpp says why).
template <bool Sgd, class S, class G>
void update_range(std::int64_t begin, std::int64_t end, float* master, S* working, const G* grad, float* m,
                  float* v, const AdamConstants c, int mode, std::uint64_t sr_seed, const GradFactors f) {
  for (std::int64_t i = begin; i < end; ++i) update_element(i, Sgd, master, working, grad, m, v, c, mode, sr_seed, f);
}

template <bool Sgd, class S, class G>
void host_loop_of(float* master, S* working, const G* grad, float* m, float* v, std::int64_t n,
                  const AdamConstants& c, int mode, std::uint64_t sr_seed, GradFactors f) {
  for_ranges(n, worth_threads_elementwise(n), [&](std::int64_t begin, std::int64_t end) {
    update_range<Sgd>(begin, end, master, working, grad, m, v, c, mode, sr_seed, f);
  });
}

template <class S, class G>
void host_loop(bool sgd, float* master, S* working, const G* grad, float* m, float* v, std::int64_t n,
               const AdamConstants& c, int mode, std::uint64_t sr_seed, GradFactors f) {
  if (sgd) return host_loop_of<true>(master, working, grad, m, v, n, c, mode, sr_seed, f);
  host_loop_of<false>(master, working, grad, m, v, n, c, mode, sr_seed, f);
}

// fp16/bf16 working copies with fp32 masters: the masters updated, then rounded to the
// working copies by chapter 02's bulk conversion (F16C where present, a plain twin
// elsewhere: the bits of st<S>; one scalar rounding per element is the slow part on the
// host). A block at a time, so the rounding reads the masters from L1, not from memory in
// a second pass over every parameter.
template <bool Sgd, class G>
void master_loop_of(DType working_type, float* master, std::uint16_t* working, const G* grad, float* m, float* v,
                    std::int64_t n, const AdamConstants& c, int mode, std::uint64_t sr_seed, GradFactors f) {
  constexpr std::int64_t kBlock = 2048;
  for_ranges(n, worth_threads_elementwise(n), [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; i += kBlock) {
      const std::int64_t e = std::min(end, i + kBlock);
      update_range<Sgd>(i, e, master, master, grad, m, v, c, mode, sr_seed, f);
      convert_from_f32(working_type, master + i, working + i, e - i);
    }
  });
}

template <class S, class G>
void run(bool sgd, const ParamBuffers& b, const AdamConstants& given, int mode, std::uint64_t given_seed) {
  S* working = static_cast<S*>(b.working);
  const G* grad = static_cast<const G*>(b.grad);
  if (b.backend == Backend::cpu) {
    if (skipped(b.fold)) return;  // the cpu's device memory is the host's: the same words
    const GradFactors f = factors(b.fold);
    const AdamConstants c = constants_of(b.fold, given);
    const std::uint64_t sr_seed = sr_seed_of(b.fold, given_seed);
    if constexpr (!std::is_same_v<S, float>) {
      if (mode == int(MasterMode::master)) {
        auto* w16 = reinterpret_cast<std::uint16_t*>(working);
        if (sgd) return master_loop_of<true>(b.working_type, b.master, w16, grad, b.m, b.v, b.count, c, mode, sr_seed, f);
        return master_loop_of<false>(b.working_type, b.master, w16, grad, b.m, b.v, b.count, c, mode, sr_seed, f);
      }
    }
    return host_loop(sgd, b.master, working, grad, b.m, b.v, b.count, c, mode, sr_seed, f);
  }
  HALFWAY_KERNEL(b.backend,
                 optimizer_step(sgd, b.master, working, grad, b.m, b.v, b.count, given, mode, given_seed, b.fold));
}

template <class S>
void run_grad(bool sgd, const ParamBuffers& b, const AdamConstants& c, int mode, std::uint64_t sr_seed) {
  if (b.grad_type == DType::f32) return run<S, float>(sgd, b, c, mode, sr_seed);
  if constexpr (!std::is_same_v<S, float>) {
    HALFWAY_EXPECT(b.grad_type == b.working_type, "gradients in f32 or in the working copies' type",
                   std::string(to_string(b.grad_type)));
    return run<S, S>(sgd, b, c, mode, sr_seed);
  }
  throw Error("optimizer step: expected f32 gradients for f32 weights, found " + std::string(to_string(b.grad_type)));
}

void step(bool sgd, const ParamBuffers& b, const AdamConstants& c, MasterMode mode, std::uint64_t seed,
          std::int64_t step) {
  HALFWAY_EXPECT(b.count >= 0, "an element count >= 0", std::to_string(b.count));
  if (b.count == 0) return;
  HALFWAY_EXPECT(b.working && b.grad && (sgd || (b.m && b.v)), "working copies, gradients and both moments",
                 "a null buffer (ensure_moments() before the first step?)");
  const bool fp32 = b.working_type == DType::f32;
  HALFWAY_EXPECT(!fp32 || mode == MasterMode::master, "master-weight mode 'master' for fp32 weights",
                 to_string(mode));
  HALFWAY_EXPECT(mode != MasterMode::master || b.master, "fp32 masters in mode 'master'", "none");
  const std::uint64_t sr_seed = rng::derive_seed(seed, std::uint64_t(step));
  const int m = int(mode);
  with_dtype(b.working_type,
             [&](auto type) { run_grad<typename decltype(type)::type>(sgd, b, c, m, sr_seed); });
}

}  // namespace

std::string to_string(MasterMode m) {
  switch (m) {
    case MasterMode::master: return "master";
    case MasterMode::none: return "none";
    case MasterMode::stochastic: return "sr";
  }
  return "?";
}

MasterMode parse_master_mode(const std::string& s) {
  if (s == "master" || s == "on") return MasterMode::master;
  if (s == "none" || s == "off") return MasterMode::none;
  if (s == "sr") return MasterMode::stochastic;
  throw UsageError("expected a master-weight mode on (master), off (none) or sr, found '" + s + "'");
}

AdamConstants adam_constants(const AdamOptions& o, double lr, std::int64_t step) {
  HALFWAY_EXPECT(std::isfinite(lr) && lr >= 0.0, "a learning rate >= 0", std::to_string(lr));
  HALFWAY_EXPECT(o.beta1 >= 0.0 && o.beta1 < 1.0, "beta1 in [0, 1)", std::to_string(o.beta1));
  HALFWAY_EXPECT(o.beta2 >= 0.0 && o.beta2 < 1.0, "beta2 in [0, 1)", std::to_string(o.beta2));
  HALFWAY_EXPECT(std::isfinite(o.eps) && o.eps > 0.0, "eps > 0", std::to_string(o.eps));
  HALFWAY_EXPECT(std::isfinite(o.weight_decay) && o.weight_decay >= 0.0, "a weight decay >= 0",
                 std::to_string(o.weight_decay));
  HALFWAY_EXPECT(step >= 1, "an Adam step >= 1 (steps count from 1)", std::to_string(step));
  return adam_constants_unchecked(o, lr, step);
}

void adam_step(const ParamBuffers& b, const AdamConstants& c, MasterMode mode, std::uint64_t seed, std::int64_t step) {
  ::halfway::optim::step(false, b, c, mode, seed, step);
}

void sgd_step(const ParamBuffers& b, float lr, MasterMode mode, std::uint64_t seed, std::int64_t step) {
  HALFWAY_EXPECT(std::isfinite(lr) && lr >= 0.0f, "a learning rate >= 0", std::to_string(lr));
  AdamConstants c{};
  c.step_size = lr;
  ::halfway::optim::step(true, b, c, mode, seed, step);
}

}  // namespace halfway::optim
