// The trainer's options: their text forms, the defaults and the checks (options.hpp).
#include "kernels/train/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/error.hpp"
#include "common/number_words.hpp"

namespace halfway::train {

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

CudaGraph parse_cuda_graph(const std::string& text) {
  if (text == "on") return CudaGraph::on;
  if (text == "off") return CudaGraph::off;
  throw UsageError("expected --cuda-graph on or off, found '" + text + "'");
}

std::string graph_blocker(const TrainerOptions& o) {
  if (o.optimizer == OptimizerKind::sgd && o.master == optim::MasterMode::stochastic)
    return "SGD's stochastic rounding takes its seed as a host argument (a replay would repeat it): use Adam";
  return "";
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

std::string to_string(OptimizerKind k) { return k == OptimizerKind::adam ? "adam" : "sgd"; }

std::string master_option(optim::MasterMode m) {
  switch (m) {
    case optim::MasterMode::master: return "on";
    case optim::MasterMode::none: return "off";
    case optim::MasterMode::stochastic: return "sr";
  }
  return "?";
}

std::int64_t steps_for_epochs(std::int64_t epochs, int batch, int accumulate, std::int64_t train_limit) {
  const auto all = std::int64_t(task::split_numbers(0).train.size());  // every seed's split has this size
  const std::int64_t numbers = train_limit > 0 ? std::min(train_limit, all) : all;
  const std::int64_t per_epoch = (numbers + batch - 1) / batch;  // the last batch of an epoch may be short
  return (epochs * per_epoch + accumulate - 1) / accumulate;
}

TrainerOptions resolved(TrainerOptions o, bool fp32) {
  const auto usage = [](bool ok, const std::string& msg) {
    if (!ok) throw UsageError(msg);
  };
  usage(o.batch >= 1, "expected a batch size >= 1, found " + std::to_string(o.batch));
  usage(o.eval_batch >= 0, "expected an evaluation batch size >= 0, found " + std::to_string(o.eval_batch));
  usage(o.accumulate >= 1, "expected --accumulate >= 1, found " + std::to_string(o.accumulate));
  usage(std::isfinite(o.loss_weight) && o.loss_weight > 0, "expected a loss weight > 0, found " + std::to_string(o.loss_weight));
  usage(o.train_limit >= 0, "expected a training subset size >= 0");
  if (o.steps == 0) o.steps = steps_for_epochs(kDefaultEpochs, o.batch, o.accumulate, o.train_limit);
  usage(o.steps >= 1, "expected a run of at least 1 step, found " + std::to_string(o.steps));
  usage(!o.clip || (std::isfinite(o.max_norm) && o.max_norm > 0),
        "expected a clipping norm > 0 (0 turns clipping off), found " + std::to_string(o.max_norm));
  usage(o.model.dropout >= 0 && o.model.dropout < 1, "expected a dropout in [0, 1), found " + std::to_string(o.model.dropout));
  usage(o.collapse_after >= 1, "expected a collapse limit >= 1");
  usage(o.log_every >= 1, "expected --log-every >= 1");
  if (fp32) {
    usage(o.master == optim::MasterMode::master,
          "--master " + master_option(o.master) + " needs a 16-bit precision: in fp32 the weights are the masters");
    usage(o.grad_storage == layers::GradType::fp32,
          "--grad-storage 16 needs a 16-bit precision (fp16 or bf16): in fp32 the gradients are fp32");
  }
  const std::string blocker = graph_blocker(o);
  if (o.cuda_graph == CudaGraph::automatic)
    o.cuda_graph = o.backend == Backend::cuda && blocker.empty() ? CudaGraph::on : CudaGraph::off;
  usage(o.cuda_graph == CudaGraph::off || o.backend != Backend::cpu,
        "--cuda-graph on needs --backend emu or cuda: the cpu backend has no streams to capture");
  usage(o.cuda_graph == CudaGraph::off || blocker.empty(), "--cuda-graph on: " + blocker);
  if (o.schedule.warmup == 0) o.schedule.warmup = default_warmup(o.steps);
  o.schedule.d_model = o.model.d_model;
  o.schedule.total = o.steps;
  optim::check(o.schedule);
  return o;
}

}  // namespace halfway::train
