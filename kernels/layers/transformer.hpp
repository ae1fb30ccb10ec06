/// @file transformer.hpp
/// @brief The encoder layer, the decoder layer, their stacks with a final LayerNorm, and
/// the encoder-decoder model of the seed (embedding + positions, nn.Transformer, output
/// layer, cross-entropy), assembled from modules.hpp.
///
/// Parameter names are those of the PyTorch model in pytorch_reference.py (its
/// state_dict), so weights move between the two by name.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/batch.hpp"
#include "kernels/layers/batch_upload.hpp"
#include "kernels/layers/modules.hpp"

namespace halfway::layers {
/// Sees an activation gradient during backward: where (a layer's name and what), the
/// values (in the layers' memory) and their count. For measurements (chapter 04's
/// underflow tables); an empty observer costs nothing.
template <class S>
using GradObserver = std::function<void(const std::string& where, const S* grad, std::int64_t n)>;
/// Told during backward each time a module's parameter gradients are final: every gradient
/// from element `from` of the store's flat buffer on (backward runs in the reverse order
/// of the offsets). Data parallel (chapter 08) launches a bucket's all-reduce from it.
using GradsFinal = std::function<void(std::int64_t from)>;
/// The first element of module `m`'s parameters in their store (the smallest offset).
template <class S, class Module>
std::int64_t first_offset(Module& m) {
  std::vector<Param<S>*> ps;
  m.collect(ps);
  return ps.front()->offset;
}
}  // namespace halfway::layers

namespace halfway::layers {

/// Dropout on a copy (the branch gradient); returns src itself when dropout is off.
template <class S>
const S* dropped_copy(const S* src, std::int64_t n, bool on, float p, const DropoutSeed& seed, Buf<S>& tmp) {
  if (!on) return src;
  S* t = tmp.get(std::size_t(n));
  copy_values(src, t, n);
  dropout_inplace(t, n, p, seed);
  return t;
}

/// One encoder layer. Post-LN (nn.TransformerEncoderLayer's default):
///   x1 = LN1(x + Drop(SelfAttn(x))),   y = LN2(x1 + Drop(FF(x1)));
/// pre-LN:
///   x1 = x + Drop(SelfAttn(LN1(x))),   y = x1 + Drop(FF(LN2(x1))).
template <class S>
class EncoderLayer {
 public:
  MultiheadAttention<S> self_attn;
  FeedForward<S> ff;
  LayerNorm<S> norm1, norm2;

  EncoderLayer(const std::string& prefix, const Config& c)
      : self_attn(prefix + "self_attn.", c.d_model, c.heads, c.dropout),
        ff(prefix, c.d_model, c.d_ff, c.activation, c.dropout),
        norm1(prefix + "norm1.", c.d_model, c.ln_eps), norm2(prefix + "norm2.", c.d_model, c.ln_eps),
        d_(c.d_model), p_(c.dropout), pre_(c.pre_ln), tag1_(name_tag(prefix + "dropout1")),
        tag2_(name_tag(prefix + "dropout2")) {}
  void collect(ParamList<S>& ps) {
    self_attn.collect(ps);
    ff.collect(ps);
    norm1.collect(ps);
    norm2.collect(ps);
  }

  const S* forward(const S* x, int B, int L, const std::uint8_t* pad, const RunState& run) {
    rows_ = B * L;
    const std::int64_t n = std::int64_t(rows_) * d_;
    drop_ = run.training && p_ > 0;
    seed1_ = drop_ ? dropout_seed(run, tag1_) : DropoutSeed{};
    seed2_ = drop_ ? dropout_seed(run, tag2_) : DropoutSeed{};
    S* r1 = r1_.get(std::size_t(n));
    S* r2 = r2_.get(std::size_t(n));
    if (!pre_) {
      // The branch outputs are the out_proj/linear2 output buffers, read by nobody's
      // backward: dropout may overwrite them in place.
      S* sa = const_cast<S*>(self_attn.forward(x, x, B, L, L, pad, false, run));
      if (drop_) dropout_inplace(sa, n, p_, seed1_);
      add(x, sa, r1, n);
      const S* x1 = norm1.forward(r1, rows_);
      S* f = const_cast<S*>(ff.forward(x1, rows_, run));
      if (drop_) dropout_inplace(f, n, p_, seed2_);
      add(x1, f, r2, n);
      return norm2.forward(r2, rows_);
    }
    const S* h = norm1.forward(x, rows_);
    S* sa = const_cast<S*>(self_attn.forward(h, h, B, L, L, pad, false, run));
    if (drop_) dropout_inplace(sa, n, p_, seed1_);
    add(x, sa, r1, n);
    const S* h2 = norm2.forward(r1, rows_);
    S* f = const_cast<S*>(ff.forward(h2, rows_, run));
    if (drop_) dropout_inplace(f, n, p_, seed2_);
    add(r1, f, r2, n);
    return r2;
  }

  const S* backward(const S* dy) {
    const std::int64_t n = std::int64_t(rows_) * d_;
    S* dx = dx_.get(std::size_t(n));
    S* dmid = dmid_.get(std::size_t(n));
    if (!pre_) {
      const S* dr2 = norm2.backward(dy);
      const S* dx1_ff = ff.backward(dropped_copy(dr2, n, drop_, p_, seed2_, tmp_));
      add(dr2, dx1_ff, dmid, n);  // the residual: both paths reach x1
      const S* dr1 = norm1.backward(dmid);
      const S* dx_sa = self_attn.backward(dropped_copy(dr1, n, drop_, p_, seed1_, tmp_));
      add(dr1, dx_sa, dx, n);
      return dx;
    }
    const S* dh2 = ff.backward(dropped_copy(dy, n, drop_, p_, seed2_, tmp_));
    add(dy, norm2.backward(dh2), dmid, n);
    const S* dh = self_attn.backward(dropped_copy(dmid, n, drop_, p_, seed1_, tmp_));
    add(dmid, norm1.backward(dh), dx, n);
    return dx;
  }

  std::size_t saved_bytes() const {
    return self_attn.saved_bytes() + ff.saved_bytes() + norm1.saved_bytes() + norm2.saved_bytes();
  }

 private:
  int d_, rows_ = 0;
  float p_;
  bool pre_, drop_ = false;
  std::uint64_t tag1_, tag2_;
  DropoutSeed seed1_, seed2_;
  Buf<S> r1_, r2_, dx_, dmid_, tmp_;
};

/// One decoder layer. Post-LN:
///   x1 = LN1(x + Drop(SelfAttn(x, causal))),  x2 = LN2(x1 + Drop(CrossAttn(x1, mem))),
///   y = LN3(x2 + Drop(FF(x2)));   pre-LN puts each LN on the branch input instead.
template <class S>
class DecoderLayer {
 public:
  MultiheadAttention<S> self_attn, multihead_attn;
  FeedForward<S> ff;
  LayerNorm<S> norm1, norm2, norm3;

  DecoderLayer(const std::string& prefix, const Config& c)
      : self_attn(prefix + "self_attn.", c.d_model, c.heads, c.dropout),
        multihead_attn(prefix + "multihead_attn.", c.d_model, c.heads, c.dropout),
        ff(prefix, c.d_model, c.d_ff, c.activation, c.dropout),
        norm1(prefix + "norm1.", c.d_model, c.ln_eps), norm2(prefix + "norm2.", c.d_model, c.ln_eps),
        norm3(prefix + "norm3.", c.d_model, c.ln_eps), d_(c.d_model), p_(c.dropout), pre_(c.pre_ln),
        tag_{name_tag(prefix + "dropout1"), name_tag(prefix + "dropout2"), name_tag(prefix + "dropout3")} {}
  void collect(ParamList<S>& ps) {
    self_attn.collect(ps);
    multihead_attn.collect(ps);
    ff.collect(ps);
    norm1.collect(ps);
    norm2.collect(ps);
    norm3.collect(ps);
  }

  /// x [B Lt, D] (target side), mem [B Ls, D] (the encoder's output).
  const S* forward(const S* x, const S* mem, int B, int Lt, int Ls, const std::uint8_t* tgt_pad,
                   const std::uint8_t* src_pad, const RunState& run) {
    rows_ = B * Lt;
    mem_rows_ = B * Ls;
    const std::int64_t n = std::int64_t(rows_) * d_;
    drop_ = run.training && p_ > 0;
    for (int i = 0; i < 3; ++i) seed_[i] = drop_ ? dropout_seed(run, tag_[i]) : DropoutSeed{};
    S* r1 = r_[0].get(std::size_t(n));
    S* r2 = r_[1].get(std::size_t(n));
    S* r3 = r_[2].get(std::size_t(n));
    const auto branch = [&](const S* out, int i) {
      S* o = const_cast<S*>(out);  // a branch output nobody's backward reads (see EncoderLayer)
      if (drop_) dropout_inplace(o, n, p_, seed_[i]);
      return o;
    };
    if (!pre_) {
      add(x, branch(self_attn.forward(x, x, B, Lt, Lt, tgt_pad, true, run), 0), r1, n);
      const S* x1 = norm1.forward(r1, rows_);
      add(x1, branch(multihead_attn.forward(x1, mem, B, Lt, Ls, src_pad, false, run), 1), r2, n);
      const S* x2 = norm2.forward(r2, rows_);
      add(x2, branch(ff.forward(x2, rows_, run), 2), r3, n);
      return norm3.forward(r3, rows_);
    }
    const S* h1 = norm1.forward(x, rows_);
    add(x, branch(self_attn.forward(h1, h1, B, Lt, Lt, tgt_pad, true, run), 0), r1, n);
    const S* h2 = norm2.forward(r1, rows_);
    add(r1, branch(multihead_attn.forward(h2, mem, B, Lt, Ls, src_pad, false, run), 1), r2, n);
    const S* h3 = norm3.forward(r2, rows_);
    add(r2, branch(ff.forward(h3, rows_, run), 2), r3, n);
    return r3;
  }

  /// Returns dx; dmem() is then the gradient this layer sends to the encoder's output.
  const S* backward(const S* dy) {
    const std::int64_t n = std::int64_t(rows_) * d_;
    S* dx = dx_.get(std::size_t(n));
    S* d1 = dmid_[0].get(std::size_t(n));
    S* d2 = dmid_[1].get(std::size_t(n));
    if (!pre_) {
      const S* dr3 = norm3.backward(dy);
      add(dr3, ff.backward(dropped_copy(dr3, n, drop_, p_, seed_[2], tmp_)), d2, n);
      const S* dr2 = norm2.backward(d2);
      add(dr2, multihead_attn.backward(dropped_copy(dr2, n, drop_, p_, seed_[1], tmp_)), d1, n);
      const S* dr1 = norm1.backward(d1);
      add(dr1, self_attn.backward(dropped_copy(dr1, n, drop_, p_, seed_[0], tmp_)), dx, n);
      return dx;
    }
    add(dy, norm3.backward(ff.backward(dropped_copy(dy, n, drop_, p_, seed_[2], tmp_))), d2, n);
    add(d2, norm2.backward(multihead_attn.backward(dropped_copy(d2, n, drop_, p_, seed_[1], tmp_))), d1, n);
    add(d1, norm1.backward(self_attn.backward(dropped_copy(d1, n, drop_, p_, seed_[0], tmp_))), dx, n);
    return dx;
  }
  const S* dmem() const { return multihead_attn.dx_kv(); }

  std::size_t saved_bytes() const {
    return self_attn.saved_bytes() + multihead_attn.saved_bytes() + ff.saved_bytes() +
           norm1.saved_bytes() + norm2.saved_bytes() + norm3.saved_bytes();
  }

 private:
  int d_, rows_ = 0, mem_rows_ = 0;
  float p_;
  bool pre_, drop_ = false;
  std::uint64_t tag_[3];
  DropoutSeed seed_[3];
  Buf<S> r_[3], dx_, dmid_[2], tmp_;
};

/// N encoder layers and a final LayerNorm (nn.TransformerEncoder with norm=LayerNorm).
template <class S>
class Encoder {
 public:
  std::vector<EncoderLayer<S>> layers;
  LayerNorm<S> norm;

  Encoder(const std::string& prefix, const Config& c)
      : norm(prefix + "norm.", c.d_model, c.ln_eps), prefix_(prefix), d_(c.d_model) {
    layers.reserve(std::size_t(c.encoder_layers));
    for (int i = 0; i < c.encoder_layers; ++i)
      layers.emplace_back(prefix + "layers." + std::to_string(i) + ".", c);
  }
  void collect(ParamList<S>& ps) {
    for (auto& l : layers) l.collect(ps);
    norm.collect(ps);
  }
  const S* forward(const S* x, int B, int L, const std::uint8_t* pad, const RunState& run) {
    rows_ = B * L;
    for (auto& l : layers) x = l.forward(x, B, L, pad, run);
    return norm.forward(x, rows_);
  }
  /// `observe` sees the gradient of every layer's input; `final` is told after the norm's
  /// and every layer's backward.
  const S* backward(const S* dy, const GradObserver<S>& observe = {}, const GradsFinal& final = {}) {
    dy = norm.backward(dy);
    if (final) final(first_offset<S>(norm));
    int i = int(layers.size());
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      dy = it->backward(dy);
      if (observe) observe(prefix_ + "layers." + std::to_string(--i) + " input", dy, std::int64_t(rows_) * d_);
      if (final) final(first_offset<S>(*it));
    }
    return dy;
  }

 private:
  std::string prefix_;
  int d_, rows_ = 0;
};

/// N decoder layers and a final LayerNorm. The gradient of the memory is the sum over the
/// layers' cross-attentions, accumulated in A and rounded once.
template <class S>
class Decoder {
 public:
  using A = acc_t<S>;
  std::vector<DecoderLayer<S>> layers;
  LayerNorm<S> norm;

  Decoder(const std::string& prefix, const Config& c)
      : norm(prefix + "norm.", c.d_model, c.ln_eps), prefix_(prefix), d_(c.d_model) {
    layers.reserve(std::size_t(c.decoder_layers));
    for (int i = 0; i < c.decoder_layers; ++i)
      layers.emplace_back(prefix + "layers." + std::to_string(i) + ".", c);
  }
  void collect(ParamList<S>& ps) {
    for (auto& l : layers) l.collect(ps);
    norm.collect(ps);
  }
  const S* forward(const S* x, const S* mem, int B, int Lt, int Ls, const std::uint8_t* tgt_pad,
                   const std::uint8_t* src_pad, const RunState& run) {
    rows_ = B * Lt;
    mem_rows_ = B * Ls;
    for (auto& l : layers) x = l.forward(x, mem, B, Lt, Ls, tgt_pad, src_pad, run);
    return norm.forward(x, rows_);
  }
  /// `observe` sees the gradient of every layer's input and of the memory; `final` is told
  /// after the norm's and every layer's backward.
  const S* backward(const S* dy, const GradObserver<S>& observe = {}, const GradsFinal& final = {}) {
    const std::int64_t nm = std::int64_t(mem_rows_) * d_;
    A* acc = dmem_acc_.get(std::size_t(nm));
    zero_values(acc, nm);
    dy = norm.backward(dy);
    if (final) final(first_offset<S>(norm));
    int i = int(layers.size());
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      dy = it->backward(dy);
      accumulate<S>(it->dmem(), acc, nm);
      if (observe) observe(prefix_ + "layers." + std::to_string(--i) + " input", dy, std::int64_t(rows_) * d_);
      if (final) final(first_offset<S>(*it));
    }
    round_to<S>(acc, dmem_.get(std::size_t(nm)), nm);
    return dy;
  }
  /// The gradient of the memory after backward().
  const S* dmem() const { return dmem_.data(); }

 private:
  std::string prefix_;
  int d_, rows_ = 0, mem_rows_ = 0;
  Buf<A> dmem_acc_;
  Buf<S> dmem_;
};

/// One batch of the sequence-to-sequence task (common/batch.hpp).
using Batch = ::halfway::Batch;

/// The seed's encoder-decoder: a shared embedding (scaled by sqrt(D)) plus sinusoidal
/// positions and dropout, nn.Transformer (encoder and decoder stacks with final
/// LayerNorms), the output layer "generator", and cross-entropy with an ignore index.
template <class S>
class Seq2Seq {
 public:
  using A = acc_t<S>;
  Config cfg;
  Param<S> embedding;
  Encoder<S> encoder;
  Decoder<S> decoder;
  Linear<S> generator;

  /// The model's parameters, in the memory of the backend it is built in (build the model
  /// inside the BackendScope it runs in).
  ParamStore<S> store;

  /// `grads`: the gradients' type (fp32, or S for 16-bit gradients in mixed mode);
  /// `masters`: Masters::none keeps the 16-bit weights only (param_store.hpp).
  explicit Seq2Seq(const Config& c, GradType grads = GradType::fp32, Masters masters = Masters::kept)
      : cfg(c), embedding("embedding.weight", {c.vocab, c.d_model}),
        encoder("transformer.encoder.", c), decoder("transformer.decoder.", c),
        generator("generator.", c.d_model, c.vocab) {
    positional_encoding<A>(c.max_length, c.d_model, pe_);
    store.build(params(), grads, masters);
  }
  Seq2Seq(const Seq2Seq&) = delete;  // the parameters are views into `store`
  Seq2Seq& operator=(const Seq2Seq&) = delete;

  /// Every parameter, in a fixed order, with its name (the order of their offsets in `store`).
  ParamList<S> params() {
    ParamList<S> ps{&embedding};
    encoder.collect(ps);
    decoder.collect(ps);
    generator.collect(ps);
    return ps;
  }
  /// Every gradient to 0: one launch over the store's gradient buffer.
  void zero_grad() { store.zero_grads(); }
  /// Working copies from the masters (after an update of the masters): one launch.
  void sync() { store.round_to_working(); }

  /// nn.Transformer's initialisation (Xavier-uniform for every matrix, zero biases, LayerNorm
  /// 1 and 0) with the embedding drawn from N(0, 1/sqrt(D)), as tensor2tensor and fairseq do
  /// (Vaswani et al. give only the sqrt(D) factor; N(0, 1) times sqrt(D) drowns the
  /// positions: chapter 03's lesson). Counter-based: the same
  /// weights for the same seed everywhere. Drawn on the host, uploaded once.
  /// `embedding_sd` > 0 replaces the embedding's standard deviation (1: the seed's N(0, 1)).
  void init(std::uint64_t seed, double embedding_sd = 0) {
    std::vector<A> m(std::size_t(store.size()), A(0));
    std::uint64_t k = 0;
    for (auto* p : params()) {
      const std::uint64_t s = rng::derive_seed(seed, ++k);
      const bool is_ln = p->name.find("norm") != std::string::npos;
      A* v = m.data() + p->offset;
      if (p == &embedding) {
        const double sd = embedding_sd > 0 ? embedding_sd : std::pow(double(cfg.d_model), -0.5);
        for (std::int64_t i = 0; i < p->numel(); ++i) v[i] = A(sd * rng::normal(s, i));
      } else if (p->shape.size() == 2) {
        const double a = std::sqrt(6.0 / double(p->shape[0] + p->shape[1]));
        for (std::int64_t i = 0; i < p->numel(); ++i) v[i] = A(a * (2.0 * rng::uniform(s, i) - 1.0));
      } else {
        const bool ones = is_ln && p->name.ends_with("weight");
        std::fill(v, v + p->numel(), A(ones ? 1 : 0));
      }
    }
    store.set_weights(m);  // the masters (when kept) and the working copies
  }

  /// Forward to the logits [B Lt, V] (S). The batch must stay alive until backward().
  /// `loss_ignore_index`: the target loss_into() will ignore (the batch header's counted
  /// rows are those of the other targets).
  const S* forward(const Batch& b, const RunState& given, int loss_ignore_index = -1) {
    const MemoryUseScope use(MemoryUse::activations);  // what it allocates (chapter 07's memory report)
    batch_ = &b;
    const int D = cfg.d_model;
    HALFWAY_EXPECT(b.Ls <= cfg.max_length && b.Lt <= cfg.max_length,
                   "sequences up to max_length " + std::to_string(cfg.max_length),
                   std::to_string(std::max(b.Ls, b.Lt)));
    const std::int64_t ns = std::int64_t(b.B) * b.Ls * D, nt = std::int64_t(b.B) * b.Lt * D;
    const DeviceBatch& db = to_device(b, given, loss_ignore_index);
    RunState run = given;
    if (on_device<S>()) run.step_seed = &db.header->step_seed;  // the kernels read the step there
    drop_ = run.training && cfg.dropout > 0;
    seed_src_ = drop_ ? dropout_seed(run, name_tag("src_dropout")) : DropoutSeed{};
    seed_tgt_ = drop_ ? dropout_seed(run, name_tag("tgt_dropout")) : DropoutSeed{};
    S* es = emb_src_.get(std::size_t(ns));
    S* et = emb_tgt_.get(std::size_t(nt));
    embedding_forward<S>(db.src, b.B * b.Ls, b.Ls, embedding.w(), cfg.vocab, D, pe_where(), es);
    embedding_forward<S>(db.tgt_in, b.B * b.Lt, b.Lt, embedding.w(), cfg.vocab, D, pe_where(), et);
    if (drop_) {
      dropout_inplace(es, ns, cfg.dropout, seed_src_);
      dropout_inplace(et, nt, cfg.dropout, seed_tgt_);
    }
    const S* mem = encoder.forward(es, b.B, b.Ls, db.src_pad, run);
    const S* y = decoder.forward(et, mem, b.B, b.Lt, b.Ls, db.tgt_pad, db.src_pad, run);
    last_logits_ = generator.forward(y, b.B * b.Lt);
    return last_logits_;
  }

  /// Mean cross-entropy of the last forward's logits against batch.tgt_out (tokens equal
  /// to ignore_index do not count); fills the logits' gradient times `scale` for backward().
  A loss(int ignore_index, A smoothing = 0, A scale = 1) {
    const MemoryUseScope use(MemoryUse::backward);  // the logits' gradient
    const int rows = batch_->B * batch_->Lt;
    S* dl = dlogits_.get(std::size_t(rows) * cfg.vocab);
    return cross_entropy<S>(logits(), batch_->tgt_out.data(), rows, cfg.vocab, ignore_index,
                            smoothing, scale, dl, nullptr, upload_.view().tgt_out, &row_loss_);
  }
  /// The trainer's loss: as loss(), but nothing comes back to the host. The gradient's scale
  /// is read on the device (`scale`: the loss scale's word and host constants; the counted
  /// rows come from the batch's header, for the forward's `loss_ignore_index`, which must
  /// be `ignore_index`), and the mean loss divided by scale.divisor is added into *loss_sum,
  /// a word in the layers' memory (cross_entropy_into in ops.hpp).
  void loss_into(float* loss_sum, DeviceLossScale scale, int ignore_index, A smoothing = 0) {
    HALFWAY_EXPECT(ignore_index == ignore_, "loss_into's ignore index as the forward's loss_ignore_index (" +
                                                std::to_string(ignore_) + ")",
                   std::to_string(ignore_index));
    const MemoryUseScope use(MemoryUse::backward);
    const int rows = batch_->B * batch_->Lt;
    S* dl = dlogits_.get(std::size_t(rows) * cfg.vocab);
    float* rl = on_device<S>() ? row_loss_.get(std::size_t(rows)) : nullptr;
    scale.counted = &upload_.view().header->counted;
    cross_entropy_into<S>(logits(), upload_.view().tgt_out, rows, cfg.vocab, ignore_index, smoothing, scale, dl,
                          rl, loss_sum);
  }
  /// A step replayed from a graph (kernels/train/step_graph.hpp, emu and cuda): micro-batch
  /// `slot`'s batch to the device now, outside the graph (its tokens checked, its header as
  /// forward() makes it, one copy), and use_batch_slot(slot) before its forward() makes the
  /// forward read it there without a copy (BatchUpload::preload).
  void preload_batch(int slot, const Batch& b, const RunState& run, int loss_ignore_index) {
    check_batch_tokens(b);
    upload_.preload(slot, b, header(b, run, loss_ignore_index));
  }
  void use_batch_slot(int slot) { upload_.use_slot(slot); }
  /// A float word of the model's in the layers' memory, for loss_into's sum (until the
  /// trainer's log record holds it).
  float* loss_word() { return loss_word_.get(1); }

  /// Sizes every buffer once, for the largest batches a run will see: training batches of
  /// up to train_B sequences (forward, loss, backward) and evaluation batches of up to
  /// eval_B (forward only), sources up to Ls tokens, targets up to Lt. One sizing pass of
  /// each on a batch of token 0 allocates what they need; the gradients are zeroed after
  /// it. Later batches within those sizes allocate nothing: steps, evaluation, translation.
  /// A second call with sizes already covered does nothing (the trainer asks every step).
  /// `slots`: the batch upload's staging and preload slots (batch_upload.hpp).
  void reserve(int train_B, int eval_B, int Ls, int Lt, BatchSlots slots = {}) {
    const std::array<int, 6> want{train_B, eval_B, Ls, Lt, slots.staging, slots.preload};
    if (want == reserved_) return;
    reserved_ = want;
    upload_.reserve(std::max(train_B, eval_B), Ls, Lt, on_device<S>(), slots);
    const auto pass = [&](int B, bool training) {
      Batch b;
      b.B = B, b.Ls = Ls, b.Lt = Lt;
      b.src.assign(std::size_t(B) * Ls, 0);
      b.tgt_in.assign(std::size_t(B) * Lt, 0);
      b.tgt_out.assign(std::size_t(B) * Lt, 0);
      b.src_pad.assign(b.src.size(), 0);
      b.tgt_pad.assign(b.tgt_in.size(), 0);
      forward(b, RunState{training, 0, 0});
      if (!training) return;
      float* word = loss_word();
      loss_into(word, DeviceLossScale{}, -1);
      backward();
      zero_values(word, 1);
    };
    if (train_B > 0) pass(train_B, true);
    if (eval_B > 0) pass(eval_B, false);
    zero_grad();
    batch_ = nullptr;
    // The sizing passes' work done: the steps find every staging slot's copy done.
    if (on_device<S>()) ::halfway::synchronize(layers_backend());
  }
  /// The logits of the last forward (in the layers' memory: on cuda a device pointer).
  const S* logits() const { return last_logits_; }
  /// A host copy of the logits of the last forward.
  std::vector<S> logits_host() const {
    return to_host(last_logits_, std::size_t(batch_->B) * batch_->Lt * cfg.vocab);
  }

  /// Backward from the gradient loss() computed; accumulates every parameter's grad.
  void backward() { backward(dlogits_.data()); }
  /// Backward that shows every activation gradient to `observe` on the way: the logits',
  /// the decoder's output, each layer's input, the memory's (measurements only).
  void backward(const GradObserver<S>& observe) { backward(dlogits_.data(), observe); }
  /// Backward that tells `final` each time a module's parameter gradients are final (the
  /// generator, each norm and layer, at last the embedding: from 0 on).
  void backward(const GradsFinal& final) { backward(dlogits_.data(), {}, final); }
  /// Backward from a given gradient of the logits [B Lt, V].
  void backward(const S* dlogits, const GradObserver<S>& observe = {}, const GradsFinal& final = {}) {
    const MemoryUseScope use(MemoryUse::backward);
    const Batch& b = *batch_;
    const int D = cfg.d_model;
    const std::int64_t ns = std::int64_t(b.B) * b.Ls * D, nt = std::int64_t(b.B) * b.Lt * D;
    const S* dy = generator.backward(dlogits);
    if (observe) {
      observe("logits", dlogits, std::int64_t(b.B) * b.Lt * cfg.vocab);
      observe("transformer.decoder output", dy, nt);
    }
    if (final) final(first_offset<S>(generator));
    S* det = const_cast<S*>(decoder.backward(dy, observe, final));  // the decoder layer's dx buffer: ours now
    if (observe) observe("transformer.encoder output (memory)", decoder.dmem(), ns);
    S* des = const_cast<S*>(encoder.backward(decoder.dmem(), observe, final));
    if (drop_) {
      dropout_inplace(det, nt, cfg.dropout, seed_tgt_);
      dropout_inplace(des, ns, cfg.dropout, seed_src_);
    }
    // The shared table gets both sums in A; with 16-bit gradients in an fp32 scratch first,
    // added into S with one rounding.
    const Grad<S> ge = embedding.grad();
    const std::int64_t ne = std::int64_t(cfg.vocab) * D;
    A* de = ge.a;
    if (!de) {
      de = emb_grad_.get(std::size_t(ne));
      zero_values(de, ne);
    }
    embedding_backward<S>(upload_.view().tgt_in, b.B * b.Lt, det, D, de, cfg.vocab);
    embedding_backward<S>(upload_.view().src, b.B * b.Ls, des, D, de, cfg.vocab);
    if constexpr (is_16bit_v<S>) {
      if (ge.s) accumulate_grad<S>(de, ge.s, ne);
    }
    if (final) final(embedding.offset);
  }

 private:
  /// The batch where the kernels read it: on emu and cuda its tokens are checked on the
  /// host, then header and arrays go in one copy (batch_upload.hpp); the position code is
  /// uploaded once.
  const DeviceBatch& to_device(const Batch& b, const RunState& run, int loss_ignore_index) {
    const bool device = on_device<S>();
    if (device) {
      check_batch_tokens(b);
      if (pe_dev_.size() < pe_.size()) copy_in(pe_dev_.get(pe_.size()), pe_.data(), pe_.size() * sizeof(A));
    }
    ignore_ = loss_ignore_index;
    return upload_.upload(b, header(b, run, loss_ignore_index), device);
  }
  static BatchHeader header(const Batch& b, const RunState& run, int loss_ignore_index) {
    return {b.B, b.Ls, b.Lt, counted_targets(b, loss_ignore_index), run.step, rng::derive_seed(run.seed, run.step)};
  }
  void check_batch_tokens(const Batch& b) const {
    check_tokens(b.src.data(), b.B * b.Ls, cfg.vocab);
    check_tokens(b.tgt_in.data(), b.B * b.Lt, cfg.vocab);
  }
  /// The position code in the layers' memory.
  const A* pe_where() const { return on_device<S>() ? pe_dev_.data() : pe_.data(); }

  const Batch* batch_ = nullptr;
  std::vector<A> pe_;
  BatchUpload upload_;
  std::array<int, 6> reserved_{};  // reserve()'s last sizes and slots
  int ignore_ = -1;  // the forward's loss_ignore_index
  Buf<A> pe_dev_;
  bool drop_ = false;
  DropoutSeed seed_src_, seed_tgt_;
  const S* last_logits_ = nullptr;
  Buf<S> emb_src_, emb_tgt_, dlogits_;
  Buf<A> emb_grad_;  // the embedding's fp32 sums for 16-bit gradients
  Buf<float> row_loss_;  // cross_entropy's per-row losses on a device (kept: no step allocates)
  Buf<float> loss_word_;  // loss_word()
};

}  // namespace halfway::layers
