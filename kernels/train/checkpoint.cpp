// A trainer's checkpoint: save(), load() and read_checkpoint_info() (checkpoint.hpp).
#include "kernels/train/checkpoint.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "common/safetensors.hpp"
#include "kernels/train/checkpoint_io.hpp"
#include "kernels/train/trainer.hpp"
#include "kernels/train/trainer_state.hpp"

namespace halfway::train {

namespace {
constexpr const char* kFormat = "halfway-trainer-checkpoint";
constexpr int kVersion = 1;

const char* st_dtype(DType t) { return t == DType::f32 ? "F32" : t == DType::f16 ? "F16" : "BF16"; }


nlohmann::json model_json(const layers::Config& c) {
  return {{"vocab", c.vocab}, {"d_model", c.d_model}, {"heads", c.heads}, {"d_ff", c.d_ff},
          {"encoder_layers", c.encoder_layers}, {"decoder_layers", c.decoder_layers},
          {"pre_ln", c.pre_ln}, {"max_length", c.max_length}};
}

// The counters a run continues from, each in its range and consistent with the others: a
// damaged or edited value ("step": -5) is refused before it reaches the data order, the
// schedule or a progress count.
void check_counters(const nlohmann::json& j, const std::string& dir) {
  const auto bad = [&](const std::string& what) { throw Error("checkpoint " + dir + ": trainer.json " + what); };
  const auto integer = [&](const char* key, std::int64_t lo) -> std::int64_t {
    const auto it = j.find(key);
    if (it == j.end()) bad(std::string("lacks \"") + key + "\"");
    const bool fits = it->is_number_integer() && !(it->is_number_unsigned() && it->get<std::uint64_t>() > INT64_MAX);
    if (!fits || it->get<std::int64_t>() < lo)
      bad(std::string("has \"") + key + "\": " + it->dump() + ", expected an integer >= " + std::to_string(lo));
    return it->get<std::int64_t>();
  };
  for (const char* key : {"seed", "split_seed"}) integer(key, 0);
  const std::int64_t step = integer("step", 0), accumulate = integer("accumulate", 1);
  integer("batch", 1), integer("train_limit", 0), integer("steps_planned", 1), integer("warmup", 1);
  if (const std::int64_t micro = integer("micro_batches", 0); step > INT64_MAX / accumulate || micro != step * accumulate)
    bad("has \"micro_batches\": " + std::to_string(micro) + ", expected step x accumulate = " + std::to_string(step) +
        " x " + std::to_string(accumulate));
  for (const char* key : {"adam_step", "schedule_step", "skipped_in_row"})
    if (const std::int64_t k = integer(key, 0); k > step)
      bad(std::string("has \"") + key + "\": " + std::to_string(k) + ", more than its \"step\" " + std::to_string(step));
  if (const auto f = j.find("lr_factor"); f == j.end() || !f->is_number() || !(f->get<double>() > 0))
    bad("has no \"lr_factor\" > 0");
}

nlohmann::json read_checkpoint_json(const std::string& dir) {
  const std::string path = dir + "/trainer.json";
  if (!std::filesystem::exists(path)) throw Error("no checkpoint in " + dir + " (" + path + " is missing)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_whole_file(path));
  } catch (const nlohmann::json::parse_error& e) {
    // Where, not what: the parser's message quotes the bytes it read, which may be anything.
    throw Error("checkpoint " + dir + ": trainer.json is damaged (not JSON at byte " + std::to_string(e.byte) + ")");
  }
  if (!j.is_object() || j.value("format", "") != kFormat || j.value("version", 0) != kVersion ||
      !j.contains("model") || !j.contains("scaler"))
    throw Error("checkpoint " + dir + ": trainer.json is not a halfway trainer checkpoint (version " +
                std::to_string(kVersion) + ")");
  check_counters(j, dir);
  return j;
}
}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& dir) {
  const nlohmann::json j = read_checkpoint_json(dir);
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
void Trainer<S>::save(const std::string& dir) {
  using A = float;
  Impl& t = *impl_;
  t.read_log();  // the counts of steps taken and skipped in a row, as the device has them
  const TrainerOptions& o = t.o;
  auto& st = t.model.store;
  // ZeRO-1: every rank gathers the shards (collective), rank 0 alone writes the full state.
  dist::ShardedOptimizer* shard = t.shard.get();
  const bool masters = !std::is_same_v<S, float> && (st.has_masters() || (shard && shard->masters()));  // fp32: the weights are the masters
  const std::vector<A> all_masters = !masters ? std::vector<A>{} : shard ? shard->gather_host(shard->masters()) : st.masters_host();
  std::vector<A> m, v;
  if (shard && shard->has_moments()) {
    m = shard->gather_host(shard->moment_m());
    v = shard->gather_host(shard->moment_v());
  } else if (st.has_moments()) {
    m = to_host(st.moment_m(), std::size_t(st.size()));
    v = to_host(st.moment_v(), std::size_t(st.size()));
  }
  if (shard && shard->comm().rank() != 0) return;
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
  std::snprintf(name, sizeof name, "state-%08lld-%08llx.safetensors", static_cast<long long>(t.step),
                static_cast<unsigned long long>(sum & 0xffffffffu));
  write_file_atomic(dir, name, bytes, o.checkpoint_crash, o.checkpoint_pause_ms);
  const auto& sc = t.scaler.state();
  std::uint32_t scale_bits;
  std::memcpy(&scale_bits, &sc.scale, 4);
  const nlohmann::json j = {
      {"format", kFormat}, {"version", kVersion}, {"precision", layers::precision_name<S>()},
      {"model", model_json(o.model)}, {"seed", o.seed}, {"split_seed", o.split_seed}, {"batch", o.batch},
      {"accumulate", o.accumulate}, {"train_limit", o.train_limit}, {"steps_planned", o.steps},
      {"warmup", o.schedule.warmup}, {"lr_factor", o.schedule.factor},
      {"master", optim::to_string(o.master)}, {"grad_storage", to_string(o.grad_storage)}, {"optimizer", to_string(o.optimizer)},
      {"step", t.step}, {"micro_batches", t.micro}, {"adam_step", t.adam.step}, {"schedule_step", t.schedule.steps()},
      {"skipped_in_row", t.skipped_in_row},
      {"scaler", {{"mode", amp::to_string(o.scaler.mode)}, {"scale", sc.scale}, {"scale_bits", scale_bits},
                  {"growth_tracker", sc.growth_tracker}, {"hysteresis_left", sc.hysteresis_left}}},
      {"tensors", name}, {"bytes", bytes.size()}, {"fnv1a64", checksum_text(sum)}};
  write_file_atomic(dir, "trainer.json", j.dump(2) + "\n", false, o.checkpoint_pause_ms);
  // The previous tensor files are no longer referenced: remove them (and stray temporaries).
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string f = e.path().filename().string();
    if (f != name && f.rfind("state-", 0) == 0) std::filesystem::remove(e.path());
  }
}

template <class S>
void Trainer<S>::load(const std::string& dir) {
  using A = float;
  Impl& t = *impl_;
  const TrainerOptions& o = t.o;
  const nlohmann::json j = read_checkpoint_json(dir);
  const auto fail = [&](const std::string& what) { throw Error("checkpoint " + dir + ": " + what); };
  if (j.value("precision", "") != layers::precision_name<S>())
    fail("trained in " + j.value("precision", "?") + ", this run is " + layers::precision_name<S>() +
         " (resume with --precision " + j.value("precision", "?") + ")");
  const nlohmann::json mine = model_json(o.model);
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
  if (const std::string m = j.value("master", "master"); m != optim::to_string(o.master)) {
    const std::string saved = master_option(optim::parse_master_mode(m));
    fail("trained with --master " + saved + " (this run: " + master_option(o.master) + "): resume with --master " + saved);
  }
  if (const std::string k = j.value("optimizer", "adam"); k != to_string(o.optimizer))
    fail("trained with --optimizer " + k + " (this run: " + to_string(o.optimizer) + "): resume with --optimizer " + k);
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
  const std::uint64_t sum = fnv1a64(bytes);
  if (std::uint64_t want = 0; !parse_checksum(j.value("fnv1a64", ""), want) || sum != want)
    fail(path + " is damaged: its checksum is " + checksum_text(sum) + ", expected " + j.value("fnv1a64", "?"));
  const auto tensors = layers::read_safetensors(path);

  auto& st = t.model.store;
  dist::ShardedOptimizer* shard = t.shard.get();  // ZeRO-1: the file's full state, this rank's shard kept
  const bool with_masters = st.has_masters() || (shard && shard->masters());
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
  std::vector<A> masters(with_masters ? n : 0, A(0)), m, v;
  std::vector<S> working(with_masters ? 0 : n, layers::st<S>(A(0)));
  // Adam's moments exist from its first step on, and then every parameter's are needed: a
  // missing one would resume from zero moments, silently another run.
  const std::int64_t adam_steps = j.value("adam_step", std::int64_t(0));
  const bool has_m = adam_steps > 0;
  if (has_m) m.assign(n, A(0)), v.assign(n, A(0));
  for (auto* p : st.params()) {
    const auto* w = find(p->name, st_dtype(layers::dtype_of<S>()), *p);
    if (!w) fail("tensor " + p->name + " is missing");
    if (!with_masters) {
      std::memcpy(working.data() + p->offset, w->bytes.data(), w->bytes.size());
    } else if (const auto* mt = find("master." + p->name, "F32", *p)) {
      std::memcpy(masters.data() + p->offset, mt->bytes.data(), mt->bytes.size());
    } else if constexpr (std::is_same_v<S, A>) {  // fp32: the weights are the masters
      std::memcpy(masters.data() + p->offset, w->bytes.data(), w->bytes.size());
    } else {
      fail("tensor master." + p->name + " is missing");
    }
    if (has_m) {
      for (auto [prefix, all] : {std::pair{"adam.m.", &m}, std::pair{"adam.v.", &v}}) {
        const std::string name = prefix + p->name;
        const auto* mt = find(name, "F32", *p);
        if (!mt)
          fail("tensor " + name + " is missing (Adam's moments, after " + std::to_string(adam_steps) +
               " Adam steps)");
        std::memcpy(all->data() + p->offset, mt->bytes.data(), mt->bytes.size());
      }
    }
  }
  amp::ScaleState sc;
  const std::uint32_t bits = j["scaler"].value("scale_bits", 0u);
  std::memcpy(&sc.scale, &bits, 4);
  sc.growth_tracker = j["scaler"].value("growth_tracker", 0);
  sc.hysteresis_left = j["scaler"].value("hysteresis_left", 1);
  // Everything read and checked: now change the trainer.
  if (with_masters) st.set_weights(masters);  // ZeRO-1's store has none: the working copies rounded
  else st.set_working(working);
  if (shard && shard->masters()) shard->scatter_host(masters, shard->masters());
  if (has_m && shard) {
    shard->ensure_moments();
    shard->scatter_host(m, shard->moment_m());
    shard->scatter_host(v, shard->moment_v());
  } else if (has_m) {
    st.ensure_moments();
    copy_in(st.moment_m(), m.data(), m.size() * sizeof(A));
    copy_in(st.moment_v(), v.data(), v.size() * sizeof(A));
  }
  if (o.scaler.mode != amp::ScaleMode::off) t.scaler.load(sc);
  t.step = j.value("step", std::int64_t(0));
  t.micro = j.value("micro_batches", std::int64_t(0));
  t.adam.step = j.value("adam_step", std::int64_t(0));
  t.schedule.load({j.value("schedule_step", std::int64_t(0))});
  t.skipped_in_row = j.value("skipped_in_row", 0);
  t.restart_log();  // the device's counts from the checkpoint's
}

template void Trainer<float>::save(const std::string&);
template void Trainer<half>::save(const std::string&);
template void Trainer<bfloat16>::save(const std::string&);
template void Trainer<float>::load(const std::string&);
template void Trainer<half>::load(const std::string&);
template void Trainer<bfloat16>::load(const std::string&);

}  // namespace halfway::train
