#include "kernels/train/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/number_words.hpp"
#include "common/rng.hpp"
#include "common/safetensors.hpp"
#include "kernels/layers/transformer.hpp"
#include "kernels/optim/train_step.hpp"
#include "kernels/train/checkpoint_io.hpp"
#include "kernels/train/data.hpp"

namespace halfway::train {

// ---- option parsing -------------------------------------------------------------------------

namespace {
bool parse_int(std::string_view s, std::int64_t& v) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

FaultInjection parse_fault(const std::string& text) {
  const auto bad = [&] {
    return UsageError("expected a fault as inf@STEP or nan@STEP, optionally +COUNT and :PARAMETER "
                      "(e.g. inf@12, nan@5+30), found '" + text + "'");
  };
  FaultInjection f;
  const auto at = text.find('@');
  if (at == std::string::npos) throw bad();
  const std::string kind = text.substr(0, at);
  if (kind == "inf") f.value = INFINITY;
  else if (kind == "-inf") f.value = -INFINITY;
  else if (kind == "nan") f.value = NAN;
  else throw bad();
  std::string rest = text.substr(at + 1);
  if (const auto colon = rest.find(':'); colon != std::string::npos) {
    f.param = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (f.param.empty()) throw bad();
  }
  std::string count = "1";
  if (const auto plus = rest.find('+'); plus != std::string::npos) {
    count = rest.substr(plus + 1);
    rest = rest.substr(0, plus);
  }
  if (!parse_int(rest, f.step) || f.step < 1 || !parse_int(count, f.count) || f.count < 1) throw bad();
  return f;
}

amp::ScalerOptions parse_loss_scaling(const std::string& text, bool fp16) {
  amp::ScalerOptions o;
  if (text == "auto") o.mode = fp16 ? amp::ScaleMode::dynamic : amp::ScaleMode::off;
  else if (text == "dynamic") o.mode = amp::ScaleMode::dynamic;
  else if (text == "off") o.mode = amp::ScaleMode::off;
  else if (text.rfind("static:", 0) == 0) {
    o.mode = amp::ScaleMode::fixed;
    char* end = nullptr;
    const std::string v = text.substr(7);
    const double s = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(s) || s <= 0 || s > 3.0e38)
      throw UsageError("expected a static loss scale > 0 (static:1024), found '" + text + "'");
    o.init_scale = float(s);
    o.rule.max_scale = INFINITY;
  } else {
    throw UsageError("expected a loss scaling of auto, dynamic, static:S or off, found '" + text + "'");
  }
  return o;
}

layers::GradType parse_grad_storage(const std::string& text) {
  if (text == "fp32") return layers::GradType::fp32;
  if (text == "16") return layers::GradType::storage;
  throw UsageError("expected a gradient storage of fp32 or 16, found '" + text + "'");
}

std::string to_string(layers::GradType g) { return g == layers::GradType::fp32 ? "fp32" : "16"; }

layers::Config model_preset(const std::string& name) {
  layers::Config c;
  if (name == "seed") return c;
  if (name == "tiny") {
    c.d_model = 32, c.heads = 2, c.d_ff = 64, c.encoder_layers = 1, c.decoder_layers = 1;
    return c;
  }
  if (name == "base") {
    c.d_model = 512, c.heads = 8, c.d_ff = 2048, c.encoder_layers = 6, c.decoder_layers = 6;
    return c;
  }
  throw UsageError("expected a model size of tiny, seed or base, found '" + name + "'");
}

std::int64_t default_warmup(std::int64_t steps) { return std::max<std::int64_t>(1, steps / 2); }

// ---- the trainer ------------------------------------------------------------------------------

namespace {
constexpr const char* kFormat = "halfway-trainer-checkpoint";
constexpr int kVersion = 1;

template <class S>
TrainerOptions checked(TrainerOptions o) {
  const auto usage = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError(msg);
  };
  usage(o.batch >= 1, "expected a batch size >= 1, found " + std::to_string(o.batch));
  usage(o.accumulate >= 1, "expected --accumulate >= 1, found " + std::to_string(o.accumulate));
  usage(std::isfinite(o.loss_weight) && o.loss_weight > 0, "expected a loss weight > 0, found " + std::to_string(o.loss_weight));
  usage(o.steps >= 1, "expected a run of at least 1 step, found " + std::to_string(o.steps));
  usage(!o.clip || (std::isfinite(o.max_norm) && o.max_norm > 0),
        "expected a clipping norm > 0 (0 turns clipping off), found " + std::to_string(o.max_norm));
  usage(o.model.dropout >= 0 && o.model.dropout < 1, "expected a dropout in [0, 1), found " + std::to_string(o.model.dropout));
  usage(o.collapse_after >= 1, "expected a collapse limit >= 1");
  usage(o.train_limit >= 0, "expected a training subset size >= 0");
  if constexpr (std::is_same_v<S, float>) {
    usage(o.master == optim::MasterMode::master,
          "--master " + optim::to_string(o.master) + " needs a 16-bit precision: in fp32 the weights are the masters");
    usage(o.grad_storage == layers::GradType::fp32,
          "--grad-storage 16 needs a 16-bit precision (fp16 or bf16): in fp32 the gradients are fp32");
  }
  o.schedule.d_model = o.model.d_model;
  o.schedule.total = o.steps;
  optim::check(o.schedule);
  return o;
}

std::uint64_t tag(const char* what) { return layers::name_tag(what); }

// Masters only where the update reads them: modes none and sr read and write the 16-bit
// working copies (kernels/optim/update_element.hpp), so their store keeps no fp32 copy.
layers::Masters store_masters(optim::MasterMode m) {
  return m == optim::MasterMode::master ? layers::Masters::kept : layers::Masters::none;
}

std::vector<int> training_numbers(const task::Split& split, std::int64_t limit) {
  if (limit <= 0 || limit >= std::int64_t(split.train.size())) return split.train;
  return {split.train.begin(), split.train.begin() + limit};
}

const char* st_dtype(DType t) { return t == DType::f32 ? "F32" : t == DType::f16 ? "F16" : "BF16"; }

std::string hex64(std::uint64_t v) {
  std::ostringstream s;
  s << std::hex << v;
  return s.str();
}
}  // namespace

template <class S>
struct Trainer<S>::Impl {
  using A = float;
  TrainerOptions o;
  layers::BackendScope scope;
  layers::Seq2Seq<S> model;
  task::Split split;
  DataOrder order;
  amp::DeviceScaler scaler;
  optim::Schedule schedule;
  optim::AdamState adam;
  optim::CheckNormWorkspace ws;
  std::int64_t step = 0, micro = 0;
  int skipped_in_row = 0;
  std::uint64_t dropout_seed, sr_seed;
  const layers::Param<S>* fault_param = nullptr;

  explicit Impl(const TrainerOptions& opt)
      : o(checked<S>(opt)), scope(o.backend), model(o.model, o.grad_storage, store_masters(o.master)), split(task::split_numbers(o.split_seed)),
        order(training_numbers(split, o.train_limit), o.batch, rng::derive_seed(o.seed, tag("data order"))),
        scaler(o.scaler), schedule(o.schedule), dropout_seed(rng::derive_seed(o.seed, tag("dropout"))),
        sr_seed(rng::derive_seed(o.seed, tag("stochastic rounding"))) {
    model.init(o.seed, o.init == InitKind::seed ? 1.0 : 0.0);
    if (o.fault.step > 0) {
      const std::string name =
          o.fault.param.empty() ? "transformer.decoder.layers.0.linear1.weight" : o.fault.param;
      for (auto* p : model.store.params())
        if (p->name == name) fault_param = p;
      if (!fault_param) throw UsageError("no parameter named '" + name + "' to inject a fault into");
    }
  }

  /// The whole gradient buffer, in fp32 or in S (the store's GradType).
  amp::GradBuffer grads() {
    auto& st = model.store;
    if (st.grad_type() == layers::GradType::storage)
      return {st.backend(), layers::dtype_of<S>(), st.grads_storage(), st.size()};
    return {st.backend(), DType::f32, st.grads(), st.size()};
  }

  void optimizer_step(double lr, const optim::GradFold& fold) {
    auto& st = model.store;
    const amp::GradBuffer g = grads();
    optim::ParamBuffers b{st.backend(), st.size(), st.masters(), st.working(), layers::dtype_of<S>(),
                          g.data, g.dtype, nullptr, nullptr, fold};
    if (o.optimizer == OptimizerKind::sgd) return optim::sgd_step(b, float(lr), o.master, sr_seed, step);
    st.ensure_moments();
    b.m = st.moment_m();
    b.v = st.moment_v();
    // The kernel may skip (a device word): the step counts once the report says it was taken.
    const std::int64_t t = adam.step + 1;
    optim::adam_step(b, optim::adam_constants(o.adam, lr, t), o.master, sr_seed, t);
  }

  /// The first parameter whose gradient holds an inf or NaN (host copies, one per view).
  std::string first_nonfinite() {
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

  StepResult run_step() {
    StepResult r;
    r.step = ++step;
    r.scale = scaler.scale();
    model.zero_grad();
    const A scale = A(double(r.scale) * o.loss_weight / o.accumulate);
    for (int i = 0; i < o.accumulate; ++i) {
      const Batch b = task::make_batch(order.batch(micro));
      const layers::RunState run{true, dropout_seed, std::uint64_t(micro)};
      ++micro;
      model.forward(b, run);
      r.loss += double(model.loss(task::kPad, A(0), scale)) / o.accumulate;
      model.backward();
      r.tokens += std::count_if(b.tgt_out.begin(), b.tgt_out.end(), [](std::int32_t t) { return t != task::kPad; });
    }
    if (fault_param && o.fault.active(r.step)) {
      // One gradient element, as a real overflow would leave it (inf and NaN stay so in S).
      const layers::Grad<S> g = fault_param->grad();
      const A v = o.fault.value;
      const S vs = layers::st<S>(v);
      if (g.a) copy_in(g.a, &v, sizeof v);
      else copy_in(g.s, &vs, sizeof vs);
    }
    optim::TrainStepOptions ts;
    ts.clip = o.clip;
    ts.clip_options.max_norm = o.clip ? o.max_norm : 1.0f;
    // Without a scaler nothing skips a non-finite step: let the clip refuse it before it
    // multiplies (PyTorch's error_if_nonfinite), so the gradients still show where it began.
    ts.clip_options.error_if_nonfinite = o.scaler.mode == amp::ScaleMode::off;
    optim::StepReport rep;
    try {
      rep = optim::fused_train_step(
          scaler, grads(), ts, ws, [&](double lr, const optim::GradFold& f) { optimizer_step(lr, f); }, schedule);
      if (!rep.skipped && o.optimizer == OptimizerKind::adam) ++adam.step;
    } catch (const Error&) {
      if (!ts.clip_options.error_if_nonfinite) throw;
      rep.grad_norm = NAN;  // the clip's refusal: report it as the divergence below
    }
    r.lr = rep.lr;
    r.grad_norm = rep.grad_norm;
    r.skipped = rep.skipped;
    skipped_in_row = r.skipped ? skipped_in_row + 1 : 0;
    if (skipped_in_row >= o.collapse_after)
      throw Error("training collapsed: " + std::to_string(skipped_in_row) + " skipped steps in a row (step " +
                  std::to_string(r.step) + ", loss scale now " + std::to_string(scaler.scale()) + ", loss " +
                  std::to_string(r.loss) + "); " + first_nonfinite());
    if (!r.skipped && (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)))
      throw Error("training diverged at step " + std::to_string(r.step) + " (loss " + std::to_string(r.loss) +
                  ", gradient norm " + std::to_string(r.grad_norm) + ", loss scaling " +
                  amp::to_string(o.scaler.mode) + ": nothing skipped the step); " + first_nonfinite());
    return r;
  }

  std::vector<std::vector<std::int32_t>> translate(const std::vector<int>& numbers) {
    const int B = int(numbers.size());
    auto out = std::vector<std::vector<std::int32_t>>(std::size_t(B));
    if (B == 0) return out;
    const Batch src = task::make_batch(numbers);
    std::vector<char> done(std::size_t(B), 0);
    const int V = o.model.vocab;
    for (int t = 1; t <= task::kMaxTarget; ++t) {
      Batch b;
      b.B = B, b.Ls = src.Ls, b.Lt = t;
      b.src = src.src, b.src_pad = src.src_pad;
      b.tgt_in.assign(std::size_t(B) * t, task::kPad);
      b.tgt_pad.assign(std::size_t(B) * t, 1);
      b.tgt_out.assign(std::size_t(B) * t, task::kPad);
      for (int r = 0; r < B; ++r) {
        const auto& o_r = out[std::size_t(r)];
        for (int j = 0; j < t && j <= int(o_r.size()); ++j) {
          b.tgt_in[std::size_t(r) * t + j] = j == 0 ? task::kSos : o_r[std::size_t(j - 1)];
          b.tgt_pad[std::size_t(r) * t + j] = 0;
        }
      }
      model.forward(b, layers::RunState{false, 0, 0});
      const std::vector<S> logits = model.logits_host();
      bool all = true;
      for (int r = 0; r < B; ++r) {
        if (done[std::size_t(r)]) continue;
        const S* row = logits.data() + (std::size_t(r) * t + std::size_t(t - 1)) * V;
        int best = 0;
        for (int v = 1; v < V; ++v)
          if (layers::ld<S>(row[v]) > layers::ld<S>(row[best])) best = v;
        out[std::size_t(r)].push_back(best);
        if (best == task::kEos) done[std::size_t(r)] = 1;
        else all = false;
      }
      if (all) break;
    }
    return out;
  }

  // ---- checkpoints ----

  nlohmann::json model_json() const {
    const auto& c = o.model;
    return {{"vocab", c.vocab}, {"d_model", c.d_model}, {"heads", c.heads}, {"d_ff", c.d_ff},
            {"encoder_layers", c.encoder_layers}, {"decoder_layers", c.decoder_layers},
            {"pre_ln", c.pre_ln}, {"max_length", c.max_length}};
  }

  void save(const std::string& dir) {
    auto& st = model.store;
    const bool masters = !std::is_same_v<S, float> && st.has_masters();  // fp32: the weights are the masters
    const std::vector<A> all_masters = masters ? st.masters_host() : std::vector<A>{};
    std::vector<A> m, v;
    if (st.has_moments()) {
      m = to_host(st.moment_m(), std::size_t(st.size()));
      v = to_host(st.moment_v(), std::size_t(st.size()));
    }
    std::vector<std::vector<S>> working;
    std::vector<TensorOut> ts;
    for (auto* p : st.params()) working.push_back(st.working_host(*p));
    std::size_t i = 0;
    for (auto* p : st.params()) {
      const auto& w = working[i++];
      ts.push_back({p->name, st_dtype(layers::dtype_of<S>()), p->shape, w.data(), w.size() * sizeof(S)});
    }
    const auto add = [&](const std::string& prefix, const std::vector<A>& all) {
      for (auto* p : st.params())
        ts.push_back({prefix + p->name, "F32", p->shape, all.data() + p->offset, std::size_t(p->numel()) * sizeof(A)});
    };
    if (masters) add("master.", all_masters);
    if (!m.empty()) {
      add("adam.m.", m);
      add("adam.v.", v);
    }
    const std::string bytes = safetensors_bytes(ts, {{"format", kFormat}, {"precision", layers::precision_name<S>()}});
    const std::uint64_t sum = fnv1a64(bytes);
    char name[64];
    std::snprintf(name, sizeof name, "state-%08lld-%08llx.safetensors", static_cast<long long>(step),
                  static_cast<unsigned long long>(sum & 0xffffffffu));
    write_file_atomic(dir, name, bytes, o.checkpoint_crash, o.checkpoint_pause_ms);
    const auto& sc = scaler.state();
    std::uint32_t scale_bits;
    std::memcpy(&scale_bits, &sc.scale, 4);
    const nlohmann::json j = {
        {"format", kFormat}, {"version", kVersion}, {"precision", layers::precision_name<S>()},
        {"model", model_json()}, {"seed", o.seed}, {"split_seed", o.split_seed}, {"batch", o.batch},
        {"accumulate", o.accumulate}, {"train_limit", o.train_limit}, {"steps_planned", o.steps},
        {"warmup", o.schedule.warmup}, {"lr_factor", o.schedule.factor},
        {"master", optim::to_string(o.master)}, {"grad_storage", to_string(o.grad_storage)}, {"optimizer", o.optimizer == OptimizerKind::adam ? "adam" : "sgd"},
        {"step", step}, {"micro_batches", micro}, {"adam_step", adam.step}, {"schedule_step", schedule.steps()},
        {"skipped_in_row", skipped_in_row},
        {"scaler", {{"mode", amp::to_string(o.scaler.mode)}, {"scale", sc.scale}, {"scale_bits", scale_bits},
                    {"growth_tracker", sc.growth_tracker}, {"hysteresis_left", sc.hysteresis_left}}},
        {"tensors", name}, {"bytes", bytes.size()}, {"fnv1a64", hex64(sum)}};
    write_file_atomic(dir, "trainer.json", j.dump(2) + "\n", false, o.checkpoint_pause_ms);
    // The previous tensor files are no longer referenced: remove them (and stray temporaries).
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string f = e.path().filename().string();
      if (f != name && f.rfind("state-", 0) == 0) std::filesystem::remove(e.path());
    }
  }

  void load(const std::string& dir) {
    const nlohmann::json j = read_checkpoint_json(dir);
    const auto fail = [&](const std::string& what) { throw Error("checkpoint " + dir + ": " + what); };
    if (j.value("precision", "") != layers::precision_name<S>())
      fail("trained in " + j.value("precision", "?") + ", this run is " + layers::precision_name<S>() +
           " (resume with --precision " + j.value("precision", "?") + ")");
    const nlohmann::json mine = model_json();
    for (const auto& [k, v] : mine.items())
      if (!j["model"].contains(k) || j["model"][k] != v)
        fail("a model of another shape: " + k + " " + (j["model"].contains(k) ? j["model"][k].dump() : "missing") +
             " (this run: " + v.dump() + ")");
    for (const char* k : {"seed", "split_seed", "batch", "accumulate", "train_limit"}) {
      const nlohmann::json here = k == std::string("seed") ? nlohmann::json(o.seed)
                                  : k == std::string("split_seed") ? nlohmann::json(o.split_seed)
                                  : k == std::string("batch") ? nlohmann::json(o.batch)
                                  : k == std::string("accumulate") ? nlohmann::json(o.accumulate)
                                  : nlohmann::json(o.train_limit);
      if (j.value(k, nlohmann::json()) != here)
        fail(std::string("trained with ") + k + " " + j.value(k, nlohmann::json()).dump() + " (this run: " +
             here.dump() + "): the data order would differ");
    }
    // Gradients are not saved (every step starts from zero), but their type decides how a
    // step rounds: continuing in the other type would not be the run that was saved.
    if (const std::string g = j.value("grad_storage", "fp32"); g != to_string(o.grad_storage))
      fail("trained with --grad-storage " + g + " (this run: " + to_string(o.grad_storage) +
           "): resume with --grad-storage " + g);
    // Likewise the master mode: it decides what the update reads, and a run without masters
    // saved none (its weights are its 16-bit working copies).
    if (const std::string m = j.value("master", "master"); m != optim::to_string(o.master))
      fail("trained with --master " + m + " (this run: " + optim::to_string(o.master) + "): resume with --master " + m);
    const std::string path = dir + "/" + j.value("tensors", "");
    std::string bytes;
    try {
      bytes = read_whole_file(path);
    } catch (const Error& e) {
      fail(std::string("its tensor file is missing (") + e.what() + ")");
    }
    if (bytes.size() != j.value("bytes", std::size_t(0)))
      fail(path + " is truncated or altered: " + std::to_string(bytes.size()) + " bytes, expected " +
           std::to_string(j.value("bytes", std::size_t(0))));
    if (hex64(fnv1a64(bytes)) != j.value("fnv1a64", ""))
      fail(path + " is damaged: its checksum is " + hex64(fnv1a64(bytes)) + ", expected " + j.value("fnv1a64", ""));
    const auto tensors = layers::read_safetensors(path);

    auto& st = model.store;
    const auto find = [&](const std::string& name, const char* dtype, const layers::Param<S>& p) -> const layers::SafeTensor* {
      const auto it = tensors.find(name);
      if (it == tensors.end()) return nullptr;
      if (it->second.dtype != dtype || it->second.shape != p.shape ||
          it->second.bytes.size() != std::size_t(p.numel()) * (dtype == std::string("F32") ? 4 : 2))
        fail("tensor " + name + " has dtype " + it->second.dtype + " and another shape or size than this model's");
      return &it->second;
    };
    // A store with masters takes them (from master.NAME, or in fp32 the weights themselves);
    // one without takes the 16-bit working copies as they were saved.
    const std::size_t n = std::size_t(st.size());
    std::vector<A> masters(st.has_masters() ? n : 0, A(0)), m, v;
    std::vector<S> working(st.has_masters() ? 0 : n, layers::st<S>(A(0)));
    const bool has_m = tensors.count("adam.m." + st.params().front()->name) > 0;
    if (has_m) m.assign(n, A(0)), v.assign(n, A(0));
    for (auto* p : st.params()) {
      const auto* w = find(p->name, st_dtype(layers::dtype_of<S>()), *p);
      if (!w) fail("tensor " + p->name + " is missing");
      if (!st.has_masters()) {
        std::memcpy(working.data() + p->offset, w->bytes.data(), w->bytes.size());
      } else if (const auto* mt = find("master." + p->name, "F32", *p)) {
        std::memcpy(masters.data() + p->offset, mt->bytes.data(), mt->bytes.size());
      } else if constexpr (std::is_same_v<S, A>) {  // fp32: the weights are the masters
        std::memcpy(masters.data() + p->offset, w->bytes.data(), w->bytes.size());
      } else {
        fail("tensor master." + p->name + " is missing");
      }
      if (has_m) {
        const auto* mt = find("adam.m." + p->name, "F32", *p);
        const auto* vt = find("adam.v." + p->name, "F32", *p);
        if (!mt || !vt) fail("the Adam moments of " + p->name + " are missing");
        std::memcpy(m.data() + p->offset, mt->bytes.data(), mt->bytes.size());
        std::memcpy(v.data() + p->offset, vt->bytes.data(), vt->bytes.size());
      }
    }
    amp::ScaleState sc;
    const std::uint32_t bits = j["scaler"].value("scale_bits", 0u);
    std::memcpy(&sc.scale, &bits, 4);
    sc.growth_tracker = j["scaler"].value("growth_tracker", 0);
    sc.hysteresis_left = j["scaler"].value("hysteresis_left", 1);
    // Everything read and checked: now change the trainer.
    if (st.has_masters()) st.set_weights(masters);
    else st.set_working(working);
    if (has_m) {
      st.ensure_moments();
      copy_in(st.moment_m(), m.data(), m.size() * sizeof(A));
      copy_in(st.moment_v(), v.data(), v.size() * sizeof(A));
    }
    if (o.scaler.mode != amp::ScaleMode::off) scaler.load(sc);
    step = j.value("step", std::int64_t(0));
    micro = j.value("micro_batches", std::int64_t(0));
    adam.step = j.value("adam_step", std::int64_t(0));
    schedule.load({j.value("schedule_step", std::int64_t(0))});
    skipped_in_row = j.value("skipped_in_row", 0);
  }

  static nlohmann::json read_checkpoint_json(const std::string& dir) {
    const std::string path = dir + "/trainer.json";
    if (!std::filesystem::exists(path)) throw Error("no checkpoint in " + dir + " (" + path + " is missing)");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_whole_file(path));
    } catch (const nlohmann::json::exception& e) {
      throw Error("checkpoint " + dir + ": trainer.json is damaged (" + e.what() + ")");
    }
    if (!j.is_object() || j.value("format", "") != kFormat || j.value("version", 0) != kVersion ||
        !j.contains("model") || !j.contains("scaler"))
      throw Error("checkpoint " + dir + ": trainer.json is not a halfway trainer checkpoint (version " +
                  std::to_string(kVersion) + ")");
    return j;
  }
};

CheckpointInfo read_checkpoint_info(const std::string& dir) {
  const nlohmann::json j = Trainer<float>::Impl::read_checkpoint_json(dir);
  CheckpointInfo c;
  try {
    c.precision = j.at("precision").get<std::string>();
    c.grad_storage = j.value("grad_storage", "fp32");
    c.master = j.value("master", "master");
    const auto& m = j.at("model");
    c.model.vocab = m.at("vocab"), c.model.d_model = m.at("d_model"), c.model.heads = m.at("heads");
    c.model.d_ff = m.at("d_ff"), c.model.encoder_layers = m.at("encoder_layers");
    c.model.decoder_layers = m.at("decoder_layers"), c.model.pre_ln = m.at("pre_ln");
    c.model.max_length = m.at("max_length");
    c.seed = j.at("seed"), c.split_seed = j.at("split_seed"), c.batch = j.at("batch");
    c.accumulate = j.at("accumulate"), c.train_limit = j.at("train_limit"), c.step = j.at("step");
    c.steps_planned = j.at("steps_planned"), c.warmup = j.at("warmup"), c.lr_factor = j.at("lr_factor");
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint " + dir + ": trainer.json lacks a field (" + e.what() + ")");
  }
  return c;
}

template <class S>
Trainer<S>::Trainer(const TrainerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
template <class S>
Trainer<S>::~Trainer() = default;
template <class S>
StepResult Trainer<S>::step() { return impl_->run_step(); }
template <class S>
std::int64_t Trainer<S>::steps_done() const { return impl_->step; }
template <class S>
const TrainerOptions& Trainer<S>::options() const { return impl_->o; }
template <class S>
const std::vector<int>& Trainer<S>::train_numbers() const { return impl_->split.train; }
template <class S>
const std::vector<int>& Trainer<S>::held_out_numbers() const { return impl_->split.held_out; }
template <class S>
std::vector<std::vector<std::int32_t>> Trainer<S>::translate(const std::vector<int>& numbers) {
  return impl_->translate(numbers);
}
template <class S>
void Trainer<S>::save(const std::string& dir) { impl_->save(dir); }
template <class S>
void Trainer<S>::load(const std::string& dir) { impl_->load(dir); }
template <class S>
float Trainer<S>::loss_scale() const { return impl_->scaler.scale(); }
template <class S>
std::int64_t Trainer<S>::parameter_count() const { return impl_->model.store.count(); }
template <class S>
std::vector<float> Trainer<S>::masters_host() { return impl_->model.store.masters_host(); }
template <class S>
std::vector<float> Trainer<S>::weights_host() { return impl_->model.store.weights_host(); }
template <class S>
std::vector<float> Trainer<S>::grads_host(const std::string& param) {
  auto& st = impl_->model.store;
  if (param.empty()) return st.grads_host();
  for (auto* p : st.params())
    if (p->name == param) return st.grad_host(*p);
  throw Error("the model has no parameter named '" + param + "'");
}
template <class S>
layers::StoreBytes Trainer<S>::store_bytes() const { return impl_->model.store.bytes(); }
template <class S>
std::vector<float> Trainer<S>::moments_host() {
  auto& st = impl_->model.store;
  if (!st.has_moments()) return {};
  auto m = to_host(st.moment_m(), std::size_t(st.size()));
  const auto v = to_host(st.moment_v(), std::size_t(st.size()));
  m.insert(m.end(), v.begin(), v.end());
  return m;
}

template <class S>
EvalResult Trainer<S>::evaluate(const std::vector<int>& numbers, int examples, int max_failures) {
  EvalResult r;
  // Batches of at most 256 numbers: the activations of a whole split at once are small,
  // but a bound keeps the memory independent of the set's size.
  for (std::size_t lo = 0; lo < numbers.size(); lo += 256) {
    const std::vector<int> part(numbers.begin() + std::ptrdiff_t(lo),
                                numbers.begin() + std::ptrdiff_t(std::min(numbers.size(), lo + 256)));
    const auto out = translate(part);
    for (std::size_t i = 0; i < part.size(); ++i) {
      auto want = task::target_words(part[i]);
      want.push_back(task::kEos);
      const auto& got = out[i];
      ++r.count;
      const bool ok = got == want;
      r.exact += ok;
      r.tokens += std::int64_t(want.size());
      for (std::size_t k = 0; k < want.size(); ++k) r.correct_tokens += k < got.size() && got[k] == want[k];
      const std::string line = std::to_string(part[i]) + " -> " + task::words(got);
      if (int(r.examples.size()) < examples) r.examples.push_back(line);
      if (!ok && int(r.failures.size()) < max_failures)
        r.failures.push_back(line + " (expected " + task::words(want) + ")");
    }
  }
  return r;
}

template class Trainer<float>;
template class Trainer<half>;
template class Trainer<bfloat16>;

}  // namespace halfway::train
