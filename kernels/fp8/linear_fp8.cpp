// fp8 training's Linear GEMMs (linear_fp8.hpp): the casts, the GEMM and its output scaling
// on the cpu in host loops, on emu and cuda through linear_kernels.hpp.
#include "kernels/fp8/linear_fp8.hpp"

#include <algorithm>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "kernels/fp8/gemm_packed.hpp"
#include "kernels/fp8/linear_kernels.hpp"

namespace halfway::fp8 {

std::string to_string(Fp8Scaling s) {
  return s == Fp8Scaling::none ? "none" : s == Fp8Scaling::current ? "current" : "delayed";
}

Fp8Scaling parse_fp8_scaling(const std::string& text) {
  for (Fp8Scaling s : {Fp8Scaling::none, Fp8Scaling::current, Fp8Scaling::delayed})
    if (text == to_string(s)) return s;
  throw UsageError("fp8 scaling: expected none, current or delayed, found '" + text + "'");
}

Fp8Format parse_fp8_format(const std::string& text) {
  if (text == "e5m2") return Fp8Format::e5m2;
  if (text == "e4m3") return Fp8Format::e4m3;
  throw UsageError("fp8 gradient format: expected e5m2 or e4m3, found '" + text + "'");
}

namespace {
constexpr int kSlots = Fp8Linears::kMaxLinears * kSlotsPerLinear;
int slot(int site, Fp8Role r) { return site * kSlotsPerLinear + int(r); }
}  // namespace

Fp8Linears::Fp8Linears(Backend backend, Fp8Recipe recipe, std::function<std::string(const void*)> namer)
    : backend_(backend), recipe_(recipe), namer_(std::move(namer)) {
  if (recipe.history_length < 1 || recipe.history_length > 1024)
    throw UsageError("fp8 amax history: expected a length from 1 to 1024, found " +
                     std::to_string(recipe.history_length));
  if (recipe.margin < 0 || recipe.margin > 64)
    throw UsageError("fp8 margin: expected 0 to 64, found " + std::to_string(recipe.margin));
  const int h = recipe.history_length;
  std::vector<float> ones(2 * kSlots, 1.0f);  // every scale 1 before its first update (TE)
  state_.scale = scales_.get(ones.size(), backend);
  state_.inv_scale = state_.scale + kSlots;
  copy_in(backend, state_.scale, ones.data(), ones.size() * sizeof(float));
  const std::vector<float> zeros(std::size_t(kSlots) * h, 0.0f);
  state_.history = history_.get(zeros.size(), backend);
  copy_in(backend, state_.history, zeros.data(), zeros.size() * sizeof(float));
  const std::vector<unsigned> no_amax(2 * kSlots, 0u);
  state_.step_amax = amax_.get(no_amax.size(), backend);
  state_.current_amax = state_.step_amax + kSlots;
  copy_in(backend, state_.step_amax, no_amax.data(), no_amax.size() * sizeof(unsigned));
  const std::vector<unsigned long long> no_counts(3 * kSlots, 0ull);
  state_.counts = counts_.get(no_counts.size(), backend);
  copy_in(backend, state_.counts, no_counts.data(), no_counts.size() * sizeof(unsigned long long));
  state_.history_length = h;
  state_.margin = recipe.margin;
  state_.scaling = recipe.scaling;
  state_.grad_format = recipe.grad_format;
}

int Fp8Linears::site(const void* w) {
  const auto it = sites_.find(w);
  if (it != sites_.end()) return it->second;
  if (int(sites_.size()) >= kMaxLinears)
    throw Error("fp8 training: the model has more than " + std::to_string(kMaxLinears) + " Linear layers");
  names_.push_back(namer_ ? namer_(w) : "linear " + std::to_string(sites_.size()));
  codes_.push_back(std::make_unique<SiteCodes>());
  return sites_[w] = int(sites_.size());
}

std::uint8_t* Fp8Linears::cast(Buf<std::uint8_t>& out, const bfloat16* x, int rows, int cols, std::int64_t ld,
                               int t) {
  const std::int64_t n = std::int64_t(rows) * cols;
  std::uint8_t* q = out.get(std::size_t(std::max<std::int64_t>(n, 1)), backend_);
  if (recipe_.scaling == Fp8Scaling::current) {
    if (backend_ != Backend::cpu) {
      HALFWAY_KERNEL(backend_, fp8_current_scale(x, rows, cols, ld, state_, t));
    } else {
      unsigned m = 0;
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) m = std::max(m, float_to_bits(float(x[r * ld + c])) & 0x7FFFFFFFu);
      state_.current_amax[t] = m;
      set_current_scale(state_, t);
    }
  }
  if (backend_ != Backend::cpu) {
    HALFWAY_KERNEL(backend_, fp8_cast_slot(x, rows, cols, ld, state_, t, recording_, q));
    return q;
  }
  const float scale = state_.scale[t];
  const Fp8Format format = slot_format(state_, t);
  CastTally tally;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) q[std::int64_t(r) * cols + c] = cast_counted(float(x[r * ld + c]), scale, format, tally);
  if (recording_) {
    state_.step_amax[t] = std::max(state_.step_amax[t], tally.amax_bits);
    state_.counts[3 * t] += static_cast<unsigned long long>(n);
    state_.counts[3 * t + 1] += tally.saturated;
    state_.counts[3 * t + 2] += tally.underflowed;
  }
  return q;
}

std::uint8_t* Fp8Linears::transpose(Buf<std::uint8_t>& out, const std::uint8_t* q, int rows, int cols) {
  const std::int64_t n = std::int64_t(rows) * cols;
  std::uint8_t* t = out.get(std::size_t(std::max<std::int64_t>(n, 1)), backend_);
  if (backend_ != Backend::cpu) {
    HALFWAY_KERNEL(backend_, fp8_transpose_codes(q, rows, cols, t));
    return t;
  }
  constexpr int kTile = 32;  // a tile of the source at a time: both sides stay in cache
  for (int r0 = 0; r0 < rows; r0 += kTile)
    for (int c0 = 0; c0 < cols; c0 += kTile)
      for (int c = c0; c < std::min(cols, c0 + kTile); ++c)
        for (int r = r0; r < std::min(rows, r0 + kTile); ++r) t[std::int64_t(c) * rows + r] = q[std::int64_t(r) * cols + c];
  return t;
}

const std::uint8_t* Fp8Linears::weight_codes(int s, const bfloat16* w, int out, int in, std::int64_t ldw) {
  SiteCodes& sc = *codes_[std::size_t(s)];
  if (sc.w_at != weight_key()) cast(sc.w, w, out, in, ldw, slot(s, Fp8Role::w)), sc.w_at = weight_key();
  return sc.w.data();
}

float* Fp8Linears::gemm(const Fp8GemmShape& shape, const std::uint8_t* a, const std::uint8_t* b, float* c) {
  ++gemms_;
  // Unit scales here; the slots' inverse scales are device words, applied after.
  if (backend_ == Backend::cpu) fp8_gemm_packed(shape, a, 1.0f, b, 1.0f, c);
  else fp8_gemm(backend_, shape, a, 1.0f, b, 1.0f, c);
  return c;
}

void Fp8Linears::forward(const bfloat16* x, int rows, int in, const bfloat16* w, std::int64_t ldw, int out,
                         float* acc) {
  const int s = site(w), tx = slot(s, Fp8Role::x), tw = slot(s, Fp8Role::w);
  const std::uint8_t* qw = weight_codes(s, w, out, in, ldw);
  const std::uint8_t* qx = cast(codes_[std::size_t(s)]->x, x, rows, in, in, tx);  // kept for the backward's x^T
  gemm({rows, out, in, Fp8Format::e4m3, Fp8Format::e4m3}, qx, qw, acc);
  const std::int64_t n = std::int64_t(rows) * out;
  if (backend_ != Backend::cpu) return HALFWAY_KERNEL(backend_, fp8_scale_output(acc, n, state_, tx, tw));
  const float f = output_scale(state_, tx, tw);
  for (std::int64_t i = 0; i < n; ++i) acc[i] *= f;
}

void Fp8Linears::weight_grad(const bfloat16* x, const bfloat16* dy, std::int64_t lddy, int rows, int in, int out,
                             const bfloat16* w, std::int64_t ldw, float* dw) {
  // Called after this Linear's forward and before its input_grad (modules.hpp): x's codes
  // are the forward's, dy is cast here and kept for input_grad.
  (void)x;
  const int s = site(w), tx = slot(s, Fp8Role::x), td = slot(s, Fp8Role::dy);
  SiteCodes& sc = *codes_[std::size_t(s)];
  const std::uint8_t* qd = cast(sc.dy, dy, rows, out, lddy, td);
  const std::uint8_t* qdt = transpose(qa_, qd, rows, out);        // dy^T [out, rows]
  const std::uint8_t* qxt = transpose(qb_, sc.x.data(), rows, in);  // x^T [in, rows]
  float* c = c_.get(std::size_t(out) * in, backend_);
  gemm({out, in, rows, recipe_.grad_format, Fp8Format::e4m3}, qdt, qxt, c);
  if (backend_ != Backend::cpu) return HALFWAY_KERNEL(backend_, fp8_add_output(c, out, in, state_, td, tx, dw, ldw));
  const float f = output_scale(state_, td, tx);
  for (int r = 0; r < out; ++r)
    for (int j = 0; j < in; ++j) dw[r * ldw + j] += c[std::int64_t(r) * in + j] * f;
}

void Fp8Linears::input_grad(const bfloat16* dy, std::int64_t lddy, int rows, int in, int out, const bfloat16* w,
                            std::int64_t ldw, bfloat16* dx) {
  (void)dy, (void)lddy;  // cast by weight_grad, just before
  const int s = site(w), td = slot(s, Fp8Role::dy), tw = slot(s, Fp8Role::w);
  SiteCodes& sc = *codes_[std::size_t(s)];
  if (sc.wt_at != weight_key()) transpose(sc.wt, weight_codes(s, w, out, in, ldw), out, in), sc.wt_at = weight_key();
  float* c = c_.get(std::size_t(rows) * in, backend_);
  gemm({rows, in, out, recipe_.grad_format, Fp8Format::e4m3}, sc.dy.data(), sc.wt.data(), c);  // dy . (W^T)^T
  const std::int64_t n = std::int64_t(rows) * in;
  if (backend_ != Backend::cpu) return HALFWAY_KERNEL(backend_, fp8_round_output(c, n, state_, td, tw, dx));
  const float f = output_scale(state_, td, tw);
  for (std::int64_t i = 0; i < n; ++i) dx[i] = bfloat16(c[i] * f);
}

void Fp8Linears::end_step() {
  ++generation_;  // the optimizer step comes next: every weight is cast again
  const int slots = int(sites_.size()) * kSlotsPerLinear;
  if (backend_ != Backend::cpu) return HALFWAY_KERNEL(backend_, fp8_end_step(state_, slots));
  for (int t = 0; t < slots; ++t) end_step_slot(state_, t);
}

std::vector<Fp8TensorReport> Fp8Linears::report() const {
  const int slots = int(sites_.size()) * kSlotsPerLinear, h = recipe_.history_length;
  const auto scales = to_host(backend_, state_.scale, std::size_t(kSlots));
  const auto history = to_host(backend_, state_.history, std::size_t(kSlots) * h);
  const auto counts = to_host(backend_, state_.counts, std::size_t(3 * kSlots));
  static const char* const roles[] = {"x", "w", "dy"};
  std::vector<Fp8TensorReport> r;
  for (int t = 0; t < slots; ++t) {
    Fp8TensorReport e;
    e.linear = names_[std::size_t(t / kSlotsPerLinear)];
    e.role = roles[t % kSlotsPerLinear];
    e.format = slot_format(state_, t);
    e.scale = scales[std::size_t(t)];
    e.history.assign(history.begin() + std::int64_t(t) * h, history.begin() + std::int64_t(t + 1) * h);
    e.cast = counts[std::size_t(3 * t)];
    e.saturated = counts[std::size_t(3 * t + 1)];
    e.underflowed = counts[std::size_t(3 * t + 2)];
    r.push_back(std::move(e));
  }
  return r;
}

}  // namespace halfway::fp8
