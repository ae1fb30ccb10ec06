// The trainer's step and its state (trainer.hpp); evaluation is in evaluate.cpp, checkpoints
// in checkpoint.cpp, the options in options.cpp.
#include "kernels/train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/rng.hpp"
#include "kernels/train/trainer_state.hpp"

namespace halfway::train {

namespace {
std::uint64_t tag(const char* what) { return layers::name_tag(what); }

// Masters only where the update reads them: modes none and sr read and write the 16-bit
// working copies (kernels/optim/update_element.hpp), so their store keeps no fp32 copy.
layers::Masters store_masters(optim::MasterMode m) {
  return m == optim::MasterMode::master ? layers::Masters::kept : layers::Masters::none;
}

// 6 significant digits ("1e+30", "0.0625", "nan"): std::to_string's %f prints a large
// scale with all its 31 integer digits and a small one as 0.000000.
std::string short_number(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

std::vector<int> training_numbers(const task::Split& split, std::int64_t limit) {
  if (limit <= 0 || limit >= std::int64_t(split.train.size())) return split.train;
  return {split.train.begin(), split.train.begin() + limit};
}
}  // namespace

template <class S>
Trainer<S>::Impl::Impl(const TrainerOptions& options)
    : o(resolved(options, std::is_same_v<S, float>)), scope(o.backend), stream(o.backend), on_stream(stream),
      model(o.model, o.grad_storage, store_masters(o.master)),
      split(task::split_numbers(o.split_seed)),
      order(training_numbers(split, o.train_limit), o.batch, rng::derive_seed(o.seed, tag("data order"))),
      scaler(o.scaler), schedule(o.schedule), dropout_seed(rng::derive_seed(o.seed, tag("dropout"))),
      sr_seed(rng::derive_seed(o.seed, tag("stochastic rounding"))) {
  model.init(o.seed, o.init == InitKind::seed ? 1.0 : 0.0);
  order.set_shard(o.rank, o.ranks);  // data parallel (chapter 08): this rank's share of each batch
  if (o.shard_optimizer) {  // ZeRO-1 (chapter 08): this rank keeps its shard of the masters
    if (o.master == optim::MasterMode::stochastic)
      throw UsageError("--shard-optimizer takes --master on or off (sr draws its random bits by the element's index in "
                       "the whole buffer)");
    auto& st = model.store;
    shard = std::make_unique<dist::ShardedOptimizer>(*o.shard_optimizer, st.backend(), st.size(),
                                                     o.found_inf_consensus);
    if (!std::is_same_v<S, float> && st.has_masters()) {  // fp32: the working copies are the masters
      shard->own_masters(st.masters());
      st.release_masters();
    }
  }
  plan.schedule = o.schedule;
  plan.adam = o.optimizer == OptimizerKind::adam;
  plan.adam_options = o.adam;
  plan.sr_seed = sr_seed;
  plan.collapse_after = o.collapse_after;
  plan.scaling = o.scaler.mode != amp::ScaleMode::off;
  restart_log();
  if (o.fault.step > 0) {
    const std::string name =
        o.fault.param.empty() ? "transformer.decoder.layers.0.linear1.weight" : o.fault.param;
    for (auto* p : model.store.params())
      if (p->name == name) fault_param = p;
    if (!fault_param) throw UsageError("no parameter named '" + name + "' to inject a fault into");
  }
  if (o.fp8) {
    // Chapter 09: the hook that runs the Linear GEMMs in fp8, each Linear named by the
    // parameter its weight pointer falls in (attention's packed projection by its first row).
    if (!std::is_same_v<S, bfloat16>) throw UsageError("fp8 training stores its tensors in bf16 (a bf16 trainer)");
    if (o.grad_storage != layers::GradType::fp32)
      throw UsageError("fp8 training keeps fp32 gradients (--grad-storage fp32)");
    auto name = [this](const void* w) -> std::string {
      for (auto* p : model.store.params()) {
        const auto at = reinterpret_cast<const char*>(w) - reinterpret_cast<const char*>(p->w());
        if (at < 0 || at >= std::ptrdiff_t(p->numel() * std::int64_t(sizeof(S)))) continue;
        const std::int64_t row = at / std::ptrdiff_t(sizeof(S)) / (p->shape.size() > 1 ? p->shape[1] : 1);
        return row == 0 ? p->name : p->name + "[" + std::to_string(row) + ":]";
      }
      return "linear";
    };
    fp8_gemms = std::make_unique<fp8::Fp8Linears>(o.backend, o.fp8_recipe, name);
    fp8_hook.emplace(fp8_gemms.get());
  }
}

template <class S>
amp::GradBuffer Trainer<S>::Impl::grads() {
  auto& st = model.store;
  if (st.grad_type() == layers::GradType::storage)
    return {st.backend(), layers::dtype_of<S>(), st.grads_storage(), st.size()};
  return {st.backend(), DType::f32, st.grads(), st.size()};
}

template <class S>
void Trainer<S>::Impl::optimizer_step(const optim::GradFold& fold) {
  auto& st = model.store;
  const amp::GradBuffer g = grads();
  optim::ParamBuffers b{st.backend(), st.size(), st.masters(), st.working(), layers::dtype_of<S>(),
                        g.data, g.dtype, nullptr, nullptr, fold};
  // The rate and Adam's constants are device words in the fold (computed on the device from
  // its count of steps taken); the constants given here are unused. SGD's stochastic
  // rounding draws by steps run, which the host knows.
  if (o.optimizer == OptimizerKind::sgd) return optim::sgd_step(b, 0.0f, o.master, sr_seed, step);
  st.ensure_moments();
  b.m = st.moment_m();
  b.v = st.moment_v();
  optim::adam_step(b, optim::AdamConstants{}, o.master, sr_seed, 1);
}

template <class S>
void Trainer<S>::Impl::sharded_optimizer_step(const optim::GradFold& fold, const optim::TrainStepOptions& ts) {
  auto& st = model.store;
  // The fold points at the words of this rank's shard: make them the whole model's first.
  shard->agree(ws.words.get(1, st.backend()), scaler.words(st.backend()), optim::fused_rule(scaler, ts));
  const amp::GradBuffer g = shard->shard_of(grads());
  const dist::ShardRange r = shard->range();
  float* master = std::is_same_v<S, float> ? st.masters() + r.begin : shard->masters();
  optim::ParamBuffers b{st.backend(), r.size(), master, st.working() + r.begin, layers::dtype_of<S>(),
                        g.data, g.dtype, nullptr, nullptr, fold};
  if (o.optimizer == OptimizerKind::sgd) {
    optim::sgd_step(b, 0.0f, o.master, sr_seed, step);
  } else {
    shard->ensure_moments();
    b.m = shard->moment_m();
    b.v = shard->moment_v();
    optim::adam_step(b, optim::AdamConstants{}, o.master, sr_seed, 1);
  }
  shard->gather_working(st.working(), layers::dtype_of<S>());
}

template <class S>
void Trainer<S>::Impl::restart_log() {
  log.reset(model.store.backend(), schedule.steps(), skipped_in_row);
}

template <class S>
const StepResult& Trainer<S>::Impl::read_log() {
  const optim::StepLog& l = log.read();
  last.logged = true;
  last.loss = l.loss;
  last.lr = l.lr;
  last.scale = l.scale;
  last.grad_norm = l.grad_norm;
  last.skipped = l.last_skipped != 0u;
  last.skipped_steps = l.skipped;
  schedule.load({l.taken});
  if (o.optimizer == OptimizerKind::adam) adam.step = l.taken;
  skipped_in_row = l.skipped_in_row;
  // The first of the two that happened (a collapse first within one step, as before).
  const bool collapsed = l.collapse_step != 0 && (l.diverge_step == 0 || l.collapse_step <= l.diverge_step);
  if (collapsed)
    throw Error("training collapsed: " + std::to_string(o.collapse_after) + " skipped steps in a row (step " +
                std::to_string(l.collapse_step) + ", loss scale now " + short_number(l.collapse_scale) + ", loss " +
                short_number(l.collapse_loss) + "); " + first_nonfinite());
  if (l.diverge_step != 0)
    throw Error("training diverged at step " + std::to_string(l.diverge_step) + " (loss " + short_number(l.diverge_loss) +
                ", gradient norm " + short_number(l.diverge_norm) + ", loss scaling " + amp::to_string(o.scaler.mode) +
                ": nothing skipped the step); " + first_nonfinite());
  return last;
}

template <class S>
std::string Trainer<S>::Impl::first_nonfinite() {
  int bad = 0;
  std::string first;
  for (auto* p : model.store.params()) {
    const auto g = model.store.grad_host(*p);
    if (std::all_of(g.begin(), g.end(), [](float x) { return std::isfinite(x); })) continue;
    if (bad++ == 0) first = p->name;
  }
  if (!bad) return "no gradient is inf or NaN";
  return "first non-finite gradient: " + first + " (" + std::to_string(bad) + " of " +
         std::to_string(model.store.params().size()) + " tensors)";
}

template <class S>
void Trainer<S>::Impl::inject_fault() {
  // One gradient element, as a real overflow would leave it (inf and NaN stay so in S).
  const layers::Grad<S> g = fault_param->grad();
  FaultWrite w{o.fault.step, o.fault.count, 0, 4};
  void* target = g.a;
  const A v = o.fault.value;
  std::memcpy(&w.bits, &v, sizeof v);
  if constexpr (sizeof(S) == 2) {
    if (!g.a) {  // 16-bit gradient storage: the value in S
      const S vs = layers::st<S>(v);
      std::uint16_t bits = 0;
      std::memcpy(&bits, &vs, sizeof vs);
      w.bits = bits, w.bytes = 2;
      target = g.s;
    }
  }
  train::inject_fault(o.backend, step_word.data(), w, target);
}

template <class S>
void Trainer<S>::Impl::run_step_work(StepResult& r, const std::vector<Batch>& batches) {
  const Backend b = o.backend;
  if (step_word_at != r.step - 1) {
    // The first step, or a load moved the step: the word follows (a host copy, outside
    // any graph), and a recorded step may hold the state of before.
    const std::int64_t before = r.step - 1;
    copy_in(b, step_word.get(1, b), &before, sizeof before);
    drop_graphs();
  }
  step_word_at = r.step;
  // A graph records pointers: an allocation since the captures may have moved a buffer.
  if (!graphs.empty() && graph_allocations != allocation_count(b)) drop_graphs();
  // Data parallel (chapter 08): the ranks' all-reduce waits on the host, so those steps run directly.
  // (And a graph would keep the first step's token-weighted loss weights: ranks > 1 too.)
  if (o.cuda_graph != CudaGraph::on || o.after_backward || shard || o.ranks > 1 || direct_steps < kDirectSteps) {
    step_work(batches, false);
    ++direct_steps;
    return;
  }
  // The batches go to the device before the graph, one copy each into a slot of their own
  // (BatchUpload::preload): the graph reads them there.
  for (int i = 0; i < o.accumulate; ++i)
    model.preload_batch(i, batches[std::size_t(i)], micro_run(i), task::kPad);
  const auto work = [&] { step_work(batches, true); };
  // A graph replays fixed shapes (the launches' grids, the kernels' sizes): one graph per
  // shape of the step's micro-batches (the last batch of an epoch may be short, a batch of
  // small numbers has shorter sequences).
  std::vector<int> shape;
  for (const Batch& m : batches) shape.insert(shape.end(), {m.B, m.Ls, m.Lt});
  auto& g = graphs[shape];
  if (!g) {
    auto fresh = std::make_unique<StepGraph>(b);
    fresh->capture(stream, work, "step " + std::to_string(r.step));
    g = std::move(fresh);
    graph_allocations = allocation_count(b);
  }
  g->replay(stream);  // the trainer's stream: after the preloads, before the log's read
  ++replayed_steps;
}

template <class S>
void Trainer<S>::Impl::step_work(const std::vector<Batch>& batches, bool preloaded) {
  count_step(o.backend, step_word.data());
  if (fp8_gemms) fp8_gemms->set_recording(true);  // evaluation's casts, outside the step, record nothing
  model.zero_grad();
  // The loss is summed on the device, into the step's log record, and its gradient scaled
  // there: the scale is the scaler's word (1 when scaling is off), the batch's counted rows
  // its header's.
  const amp::ScalerWords* words = scaler.words(model.store.backend());
  layers::DeviceLossScale loss_scale{o.scaler.mode == amp::ScaleMode::off ? nullptr : &words->state.scale,
                                     o.loss_weight, o.accumulate};
  for (int i = 0; i < o.accumulate; ++i) {
    if (preloaded) model.use_batch_slot(i);
    if (o.ranks > 1) loss_scale.weight = rank_weights[std::size_t(i)];  // data parallel: this rank's token share
    model.forward(batches[std::size_t(i)], micro_run(i), task::kPad);
    model.loss_into(log.loss_sum(), loss_scale, task::kPad);
    if (i + 1 < o.accumulate || !o.grads_final || fault_param) {
      model.backward();
      continue;
    }
    // The last backward tells chapter 08's buckets as each layer's gradients become final.
    const amp::GradBuffer g = grads();
    o.grads_final(g, g.count);
    model.backward([&](std::int64_t from) { o.grads_final(g, from); });
  }
  if (fp8_gemms) {
    fp8_gemms->set_recording(false);
    fp8_gemms->end_step();
  }  // every slot's amax into its history, the next scales (on the device)
  if (fault_param) inject_fault();  // every step: the kernel decides (fault_inject.hpp)
  if (shard) shard->reduce_scatter(grads());  // ZeRO-1: this rank's shard of the summed gradients
  else if (o.after_backward) o.after_backward(grads());  // data parallel: the ranks' gradients summed (chapter 08)
  optim::TrainStepOptions ts;
  ts.clip = o.clip;
  ts.clip_options.max_norm = o.clip ? o.max_norm : 1.0f;
  // Without a scaler nothing skips a non-finite step: let the clip refuse it before it
  // multiplies (PyTorch's error_if_nonfinite), so the gradients still show where it began.
  ts.clip_options.error_if_nonfinite = o.scaler.mode == amp::ScaleMode::off;
  if (shard)
    return optim::device_train_step(scaler, shard->shard_of(grads()), ts, ws, log, plan,
                                    [&](const optim::GradFold& f) { sharded_optimizer_step(f, ts); });
  optim::device_train_step(scaler, grads(), ts, ws, log, plan, [&](const optim::GradFold& f) { optimizer_step(f); });
}

template <class S>
StepResult Trainer<S>::Impl::run_step() {
  StepResult r;
  r.step = ++step;
  // The host's part: this step's micro-batches.
  std::vector<Batch> batches;
  rank_weights.clear();
  for (int i = 0; i < o.accumulate; ++i) {
    batches.push_back(order.take(micro + i));
    const std::int32_t counted = counted_targets(batches.back(), task::kPad);
    r.tokens += counted;
    // Data parallel: every rank walks the same order, so each counts the global micro-batch's
    // targets itself (no all-reduce) and weighs its mean by its share of them: the ranks'
    // summed gradients are then one process's mean over the global micro-batch.
    if (o.ranks > 1)
      rank_weights.push_back(o.loss_weight * counted /
                             task::counted_targets(order.global_batch(micro + i)));
  }
  // Every buffer sized for the largest batches of the run (at the first step, then a no-op):
  // no later step, evaluation or translation allocates.
  model.reserve(int(std::min<std::int64_t>(o.batch, order.size())), std::min(o.eval_batch, kEvalBatch),
                task::kMaxSource, task::kMaxTarget,
                layers::batch_slots_for(o.log_every, o.accumulate, o.cuda_graph == CudaGraph::on));
  run_step_work(r, batches);
  micro += o.accumulate;
  order.prepare(micro);  // the next step's first micro-batch, while the device runs this step
  last = StepResult{};
  last.step = r.step;
  last.tokens = r.tokens;
  if (r.step % o.log_every == 0 || r.step >= o.steps) return read_log();
  return last;
}

template <class S>
Trainer<S>::Trainer(const TrainerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
template <class S>
Trainer<S>::~Trainer() = default;
template <class S>
StepResult Trainer<S>::step() { return impl_->run_step(); }
template <class S>
StepResult Trainer<S>::read_log() { return impl_->read_log(); }
template <class S>
std::int64_t Trainer<S>::steps_done() const { return impl_->step; }
template <class S>
const TrainerOptions& Trainer<S>::options() const { return impl_->o; }
template <class S>
const std::vector<int>& Trainer<S>::train_numbers() const { return impl_->split.train; }
template <class S>
const std::vector<int>& Trainer<S>::held_out_numbers() const { return impl_->split.held_out; }
template <class S>
fp8::Fp8Linears* Trainer<S>::fp8_linears() { return impl_->fp8_gemms.get(); }
template <class S>
float Trainer<S>::loss_scale() const { return impl_->scaler.scale(); }
template <class S>
std::int64_t Trainer<S>::parameter_count() const { return impl_->model.store.count(); }
template <class S>
std::vector<float> Trainer<S>::masters_host() {
  Impl& t = *impl_;
  if (t.shard && t.shard->masters()) return t.shard->gather_host(t.shard->masters());  // collective
  return t.model.store.masters_host();
}
template <class S>
std::vector<float> Trainer<S>::weights_host() {
  if (impl_->shard && impl_->shard->masters()) return masters_host();  // ZeRO-1: the weights are the sharded masters
  return impl_->model.store.weights_host();
}
template <class S>
std::vector<float> Trainer<S>::grads_host(const std::string& param) {
  auto& st = impl_->model.store;
  if (param.empty()) return st.grads_host();
  for (auto* p : st.params())
    if (p->name == param) return st.grad_host(*p);
  throw Error("the model has no parameter named '" + param + "'");
}
template <class S>
layers::StoreBytes Trainer<S>::store_bytes() const {
  layers::StoreBytes b = impl_->model.store.bytes();
  if (const auto& s = impl_->shard) b.masters += s->master_bytes(), b.moments += s->moment_bytes();  // ZeRO-1's shards
  return b;
}
template <class S>
std::vector<float> Trainer<S>::moments_host() {
  auto& st = impl_->model.store;
  if (auto& s = impl_->shard; s && s->has_moments()) {  // ZeRO-1: gathered from every rank (collective)
    auto m = s->gather_host(s->moment_m());
    const auto v = s->gather_host(s->moment_v());
    m.insert(m.end(), v.begin(), v.end());
    return m;
  }
  if (!st.has_moments()) return {};
  auto m = to_host(st.moment_m(), std::size_t(st.size()));
  const auto v = to_host(st.moment_v(), std::size_t(st.size()));
  m.insert(m.end(), v.begin(), v.end());
  return m;
}

// The members defined here; evaluate.cpp and checkpoint.cpp instantiate their own.
template class Trainer<float>;
template class Trainer<half>;
template class Trainer<bfloat16>;

}  // namespace halfway::train
