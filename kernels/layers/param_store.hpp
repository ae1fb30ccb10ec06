/// @file param_store.hpp
/// @brief Every parameter of a model in flat buffers in the backend's memory, and Param,
/// a named view into them.
///
/// A ParamStore owns one buffer each for
/// - the masters, in A = `acc_t<S>` (fp32; fp64 in the checking mode): what an optimizer updates.
///   A 16-bit store built with Masters::none has none: its working copies are the weights
///   (chapter 05's update without masters reads and writes S only);
/// - the working copies in S, `st<S>(master)`: what the forward pass reads. In fp32 (and fp64)
///   mode `st<S>` is the identity, so the working copy *is* the master buffer (no second copy);
/// - the gradients: what backward accumulates into, in A (GradType::fp32, the default:
///   torch.amp's way, fp32 parameters get fp32 gradients) or in the 16-bit S
///   (GradType::storage: half the bytes, read scaled and unscaled in fp32 registers by the
///   optimizer; in fp32 and fp64 mode the two are one);
/// - an optimizer's two moments m and v, in A, allocated only when it asks (ensure_moments()).
///
/// Parameters are registered in the fixed order of the model's params() (build()), each at
/// an offset that is a multiple of kAlign = 128 elements; then every buffer is allocated
/// once. 128 elements are 256 bytes in the narrowest (16-bit) buffer and 512 in the fp32
/// ones, what cudaMalloc guarantees for a separate allocation (and host buffers are 256-byte
/// aligned too, common/device_memory.hpp): each view is a pointer as well aligned as a tensor
/// of its own, fit for vector loads and WMMA's 32-byte rule. The padding (at most 127 elements a
/// parameter: 115 in all for the seed's 2.51M) is zero in every buffer and stays zero, so a sum or
/// a norm over the whole buffer needs no mask.
///
/// Whole-model operations are one launch over a whole buffer (param_store.cu; a host loop on
/// the cpu): zero_grads(), round_to_working(). Chapters 04-06 add unscale-and-check, the
/// global norm and the fused optimizer the same way, over grads() (or grads_storage()), masters(), working(),
/// moment_m(), moment_v() and size(). Nothing is copied to the host unless asked for
/// (master_host(), grad_host(), working_host(): tests, checkpoints, logs).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/dispatch.hpp"
#include "common/error.hpp"
#include "kernels/layers/param_store_kernels.hpp"
#include "kernels/layers/precision.hpp"

namespace halfway::layers {

template <class S>
class ParamStore;

/// The type a store keeps the gradients in: fp32 (A), or the storage type S.
enum class GradType { fp32, storage };

/// Whether a 16-bit store keeps masters in A: `kept` (mixed precision's master weights), or
/// `none` (the weights live in S only: the trainer's --master off and sr, whose update never
/// reads a master; 4 bytes a parameter less). In fp32 and fp64 mode the working copy is the
/// master buffer: always kept.
enum class Masters { kept, none };

/// Where one parameter's gradient lives: `a` (in A) or `s` (in S), the other one null.
template <class S>
struct Grad {
  acc_t<S>* a = nullptr;
  S* s = nullptr;
  /// The gradient of element n onwards (a slice of a parameter: in_proj's K and V rows).
  Grad operator+(std::int64_t n) const { return {a ? a + n : nullptr, s ? s + n : nullptr}; }
};

/// A named parameter: a view into a ParamStore (its offset in the flat buffers). Modules
/// read the working copy through w() and accumulate the gradient through g(); both are
/// pointers into the store's buffers (device pointers on emu and cuda).
template <class S>
struct Param {
  using A = acc_t<S>;
  std::string name;                  ///< PyTorch's name, "transformer.encoder.layers.0.linear1.weight"
  std::vector<std::int64_t> shape;
  double initial = 0;                ///< every master's value when the store is built (LayerNorm's gamma: 1)
  std::int64_t offset = -1;          ///< in the store's buffers, in elements (set by ParamStore::build)
  ParamStore<S>* store = nullptr;    ///< the store it lives in (set by ParamStore::build)

  Param() = default;
  Param(std::string n, std::vector<std::int64_t> s, double init = 0)
      : name(std::move(n)), shape(std::move(s)), initial(init) {
    for (auto d : shape) numel_ *= d;
  }
  std::int64_t numel() const { return numel_; }
  /// The working copy the layers read (S).
  const S* w() const { return checked().working() + offset; }
  /// Where the layers accumulate the gradient (in A or in S: the store's GradType).
  Grad<S> grad() const {
    ParamStore<S>& s = checked();
    if (s.grad_type() == GradType::fp32) return {s.grads() + offset, nullptr};
    return {nullptr, s.grads_storage() + offset};
  }
  /// The gradient in A (a store with fp32 gradients only).
  A* g() const {
    const Grad<S> gr = grad();
    HALFWAY_EXPECT(gr.a != nullptr, "fp32 gradients for " + name, "a store that keeps them in 16 bits (use grad())");
    return gr.a;
  }

 private:
  ParamStore<S>& checked() const {
    HALFWAY_EXPECT(store != nullptr, "parameter " + name + " in a ParamStore (build one over the module's params())",
                   "a parameter in no store");
    store->check_backend();
    return *store;
  }
  std::int64_t numel_ = 1;
};

template <class S>
using ParamList = std::vector<Param<S>*>;

/// Bytes a store holds, per buffer (Buf::bytes() of each: what it really allocated).
struct StoreBytes {
  std::size_t masters = 0, working = 0, grads = 0, moments = 0;
  std::size_t total() const { return masters + working + grads + moments; }
};

template <class S>
class ParamStore {
 public:
  using A = acc_t<S>;
  /// Every view's offset is a multiple of this many elements (see the file's comment).
  static constexpr std::int64_t kAlign = 128;

  ParamStore() = default;
  /// build(ps, grads, masters) at once.
  explicit ParamStore(const ParamList<S>& ps, GradType grads = GradType::fp32, Masters masters = Masters::kept) {
    build(ps, grads, masters);
  }
  ParamStore(const ParamStore&) = delete;  // the views point back here
  ParamStore& operator=(const ParamStore&) = delete;

  /// Registers ps in their order, allocates every buffer once in the memory of the layers'
  /// backend (host memory for fp64), sets every weight to its Param::initial (the masters,
  /// when kept, and the working copies) and zeroes the gradients (kept in `grads`' type).
  void build(const ParamList<S>& ps, GradType grads = GradType::fp32, Masters masters = Masters::kept) {
    HALFWAY_EXPECT(!built_, "one build() of a parameter store", "a second one");
    backend_ = here();
    grad_type_ = is_16bit_v<S> ? grads : GradType::fp32;  // S is A in fp32 and fp64 mode
    has_masters_ = kAliased || masters == Masters::kept;
    std::int64_t at = 0;
    for (auto* p : ps) {
      HALFWAY_EXPECT(p->store == nullptr, "parameter " + p->name + " in one store", "a second store");
      p->offset = at;
      p->store = this;
      count_ += p->numel();
      at += (p->numel() + kAlign - 1) / kAlign * kAlign;
    }
    params_ = ps;
    size_ = std::max<std::int64_t>(at, kAlign);  // never empty: every buffer has a base pointer
    {
      const MemoryUseScope use(MemoryUse::parameters);  // chapter 07's memory report
      if (has_masters_) masters_.get(std::size_t(size_));
      if constexpr (!kAliased) working_.get(std::size_t(size_));
    }
    {
      const MemoryUseScope use(MemoryUse::gradients);
      if (grad_type_ == GradType::fp32) grads_.get(std::size_t(size_));
      else grads_s_.get(std::size_t(size_));
    }
    built_ = true;
    std::vector<A> init(std::size_t(size_), A(0));
    for (auto* p : ps) std::fill_n(init.begin() + p->offset, p->numel(), A(p->initial));
    set_weights(init);
    zero_grads();
  }
  bool built() const { return built_; }

  /// The parameters, in the order of their offsets (the model's params() order).
  const ParamList<S>& params() const { return params_; }
  /// Elements in each flat buffer, padding included: what a whole-model kernel covers.
  std::int64_t size() const { return size_; }
  /// Parameters of the model (no padding).
  std::int64_t count() const { return count_; }
  /// Where the buffers live (cpu for fp64 and on the cpu backend).
  Backend backend() const { return backend_; }
  /// The gradients' type: fp32 (grads()) or S (grads_storage()).
  GradType grad_type() const { return grad_type_; }
  /// False for a 16-bit store built with Masters::none (then masters() is null).
  bool has_masters() const { return has_masters_; }

  /// Base pointers of the flat buffers (device pointers on emu and cuda).
  A* masters() { return masters_.data(); }
  S* working() {
    if constexpr (kAliased) return masters_.data();
    else return working_.data();
  }
  /// The gradients in A (nullptr when they are kept in S) or in S (nullptr when in A).
  A* grads() { return grads_.data(); }
  S* grads_storage() { return grads_s_.data(); }
  /// An optimizer's first and second moments (nullptr before ensure_moments()).
  A* moment_m() { return m_.data(); }
  A* moment_v() { return v_.data(); }

  /// ZeRO-1 (chapter 08, kernels/dist/sharded_optimizer.hpp): a 16-bit store's masters move
  /// to the ranks' shards and this full copy is freed; the store then works as one built
  /// with Masters::none (its working copies are the weights). In fp32 the working copy is
  /// the master: nothing is freed.
  void release_masters() {
    if constexpr (!kAliased) {
      masters_ = Buf<A>();  // freed (and no longer counted by the memory report)
      has_masters_ = false;
    }
  }
  /// Allocates the two moments (zero) on the first call; later calls do nothing.
  void ensure_moments() {
    check_backend();
    if (m_.data()) return;
    const MemoryUseScope use(MemoryUse::optimizer_state);
    zero(m_.get(std::size_t(size_)), sizeof(A));
    zero(v_.get(std::size_t(size_)), sizeof(A));
  }
  bool has_moments() const { return m_.data() != nullptr; }

  // ---- whole-model operations: one launch each ----------------------------------------

  /// Every gradient to 0.
  void zero_grads() {
    check_backend();
    if (grad_type_ == GradType::fp32) zero(grads_.data(), sizeof(A));
    else zero(grads_s_.data(), sizeof(S));
  }
  /// Every working copy from its master: `st<S>(master)`, in mixed mode the rounding of every
  /// weight to 16 bits (nothing to do in fp32 and fp64 mode, where they are one buffer, nor
  /// in a store without masters, whose working copies are the weights).
  void round_to_working() {
    check_backend();
    if (!has_masters_) return;
    if constexpr (!kAliased) {
      if (backend_ != Backend::cpu) return HALFWAY_KERNEL(backend_, store_round(masters_.data(), working_.data(), size_));
      // chapter 02's bulk conversion (F16C where present): the same bits as st<S> element by element
      convert_from_f32(dtype_of<S>(), masters_.data(), reinterpret_cast<std::uint16_t*>(working_.data()), size_);
    }
  }

  // ---- host copies, only on request ---------------------------------------------------

  std::vector<A> masters_host() const {
    need_masters("a host copy of the masters");
    return host(masters_.data(), 0, size_);
  }
  /// Every weight in A (size() values): the masters, or in a store without masters the
  /// working copies, widened exactly.
  std::vector<A> weights_host() const {
    if (has_masters_) return masters_host();
    const std::vector<S> w = host(working_data(), 0, size_);
    std::vector<A> out(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) out[i] = ld(w[i]);
    return out;
  }
  /// Gradients in A (widened exactly from S when kept in S).
  std::vector<A> grads_host() const { return grads_host(0, size_); }
  std::vector<A> master_host(const Param<S>& p) const {
    need_masters("the masters of " + p.name);
    return host(masters_.data(), mine(p), p.numel());
  }
  std::vector<A> grad_host(const Param<S>& p) const { return grads_host(mine(p), p.numel()); }
  std::vector<S> working_host(const Param<S>& p) const {
    if constexpr (kAliased) return host(masters_.data(), mine(p), p.numel());
    else return host(working_.data(), mine(p), p.numel());
  }
  /// Uploads every master (size() values, padding included: keep it zero). The working
  /// copies follow at the next round_to_working().
  void set_masters(const std::vector<A>& all) {
    HALFWAY_EXPECT(std::int64_t(all.size()) == size_, std::to_string(size_) + " masters",
                   std::to_string(all.size()));
    check_backend();
    need_masters("masters to set");
    copy_in(masters_.data(), all.data(), all.size() * sizeof(A));
  }
  /// Every weight at once (size() values, padding included: keep it zero): the masters and
  /// their working copies `st<S>(v)`, or the working copies alone in a store without masters.
  void set_weights(const std::vector<A>& all) {
    if (has_masters_) {
      set_masters(all);
      return round_to_working();
    }
    if constexpr (!kAliased) {  // no masters: round on the host (chapter 02's conversion: st<S>'s bits)
      HALFWAY_EXPECT(std::int64_t(all.size()) == size_, std::to_string(size_) + " weights", std::to_string(all.size()));
      std::vector<S> w(all.size());
      convert_from_f32(dtype_of<S>(), all.data(), reinterpret_cast<std::uint16_t*>(w.data()), size_);
      set_working(w);
    }
  }
  /// Uploads every working copy (size() values) of a store without masters (one with
  /// masters derives them: set_weights()).
  void set_working(const std::vector<S>& all) {
    HALFWAY_EXPECT(!has_masters_, "a store without masters (its working copies are the weights)",
                   "one with masters (set them with set_weights())");
    HALFWAY_EXPECT(std::int64_t(all.size()) == size_, std::to_string(size_) + " working copies",
                   std::to_string(all.size()));
    check_backend();
    copy_in(working_.data(), all.data(), all.size() * sizeof(S));
  }
  /// Uploads one parameter's masters (round_to_working() afterwards).
  void set_master(const Param<S>& p, const std::vector<A>& values) {
    HALFWAY_EXPECT(std::int64_t(values.size()) == p.numel(), std::to_string(p.numel()) + " values for " + p.name,
                   std::to_string(values.size()));
    need_masters("the masters of " + p.name + " to set");
    const std::int64_t at = mine(p);
    copy_in(masters_.data() + at, values.data(), values.size() * sizeof(A));
  }
  /// Element i of a parameter: master = v (when kept) and working copy = `st<S>(v)`, at once
  /// (the finite-difference tests' perturbation; the same rounding as round_to_working()).
  void set_value(const Param<S>& p, std::int64_t i, A v) {
    HALFWAY_EXPECT(i >= 0 && i < p.numel(), "an element of " + p.name, std::to_string(i));
    const std::int64_t at = mine(p) + i;
    if (has_masters_) copy_in(masters_.data() + at, &v, sizeof(A));
    if constexpr (!kAliased) {
      const S w = st<S>(v);
      copy_in(working_.data() + at, &w, sizeof(S));
    }
  }

  /// What the store holds, per buffer.
  StoreBytes bytes() const {
    return {masters_.bytes(), working_.bytes(), grads_.bytes() + grads_s_.bytes(), m_.bytes() + v_.bytes()};
  }

  /// Throws Error unless the layers run where the buffers live (a model built on the cpu
  /// cannot run inside a BackendScope(emu), nor the reverse).
  void check_backend() const {
    HALFWAY_EXPECT(built_, "a built parameter store", "one before build()");
    HALFWAY_EXPECT(here() == backend_, std::string("the layers on the store's backend ") + std::string(to_string(backend_)),
                   std::string(to_string(here())) + " (build the model inside the BackendScope it runs in)");
  }

 private:
  static constexpr bool kAliased = std::is_same_v<S, A>;
  /// Where ops on S run now.
  static Backend here() { return on_device<S>() ? layers_backend() : Backend::cpu; }

  void need_masters(const std::string& what) const {
    HALFWAY_EXPECT(has_masters_, what + " (a store with masters)",
                   "a store built without them (Masters::none: the working copies are the weights)");
  }
  const S* working_data() const {
    if constexpr (kAliased) return masters_.data();
    else return working_.data();
  }
  std::int64_t mine(const Param<S>& p) const {
    HALFWAY_EXPECT(p.store == this, "parameter " + p.name + " of this store", "one of another store");
    check_backend();
    return p.offset;
  }
  template <class T>
  std::vector<T> host(const T* base, std::int64_t at, std::int64_t n) const {
    check_backend();
    return to_host(base + at, std::size_t(n));
  }
  std::vector<A> grads_host(std::int64_t at, std::int64_t n) const {
    if (grad_type_ == GradType::fp32) return host(grads_.data(), at, n);
    const std::vector<S> s = host(grads_s_.data(), at, n);
    std::vector<A> out(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) out[i] = ld(s[i]);
    return out;
  }
  /// A whole buffer of size_ elements of `elem` bytes to zero: one launch (a host fill on
  /// the cpu; all-zero bytes are +0 in every type).
  void zero(void* p, std::size_t elem) {
    const std::int64_t bytes = size_ * std::int64_t(elem);
    if (backend_ != Backend::cpu) return HALFWAY_KERNEL(backend_, store_zero(p, bytes));
    std::memset(p, 0, std::size_t(bytes));
  }

  bool built_ = false;
  Backend backend_ = Backend::cpu;
  GradType grad_type_ = GradType::fp32;
  bool has_masters_ = true;
  std::int64_t size_ = 0, count_ = 0;
  ParamList<S> params_;
  Buf<A> masters_, grads_, m_, v_;
  Buf<S> working_, grads_s_;
};

/// g[i] = `st<S>(ld(g[i]) + partial[i])` for i < n: an fp32 partial gradient (a bias's,
/// LayerNorm's or the embedding's, summed in fp32) added into a gradient kept in S, one
/// rounding. One launch on emu and cuda.
template <class S>
void accumulate_grad(const acc_t<S>* partial, S* g, std::int64_t n) {
  if constexpr (is_16bit_v<S>) {
    if (on_device<S>()) return HALFWAY_KERNEL(layers_backend(), store_accumulate(partial, g, n));
    for (std::int64_t i = 0; i < n; ++i) g[i] = st<S>(ld(g[i]) + partial[i]);
  } else {
    throw Error("accumulate_grad: expected a 16-bit storage type, found " + std::string(precision_name<S>()));
  }
}

}  // namespace halfway::layers
