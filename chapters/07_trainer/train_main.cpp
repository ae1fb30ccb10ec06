// halfway-train: the course's main command. Trains the seed's Transformer on the number-words
// task in fp32, fp16 or bf16 (kernels/train/trainer.hpp), evaluates it on the held-out
// numbers, writes checkpoints, and translates numbers with a trained checkpoint.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <omp.h>

#include "common/cli.hpp"
#include "common/error.hpp"
#include "common/host_threads.hpp"
#include "common/log.hpp"
#include "common/number_words.hpp"
#include "common/progress.hpp"
#include "common/timer.hpp"
#include "kernels/dist/communicator.hpp"
#include "kernels/gemm/cpu_isa.hpp"
#include "kernels/dist/gradient_buckets.hpp"
#include "kernels/dist/gradient_sync.hpp"
#include "kernels/train/checkpoint_io.hpp"
#include "kernels/train/data.hpp"
#include "kernels/train/step_profile.hpp"
#include "kernels/train/fp8_telemetry.hpp"
#include "kernels/train/telemetry.hpp"
#include "kernels/train/trainer.hpp"

extern "C" void openblas_set_num_threads(int);  // OpenBLAS (pthreads build): its own worker count

using namespace halfway;
using namespace halfway::train;

namespace {

const TrainerOptions kDefaults;  // the trainer's defaults are the program's (0: the trainer picks)

struct Settings {
  std::string precision = "fp16", backend = "auto", size = "seed", optimizer = "adam";
  std::string loss_scaling = "auto", master = master_option(kDefaults.master), init = "course", grad_storage = "fp32",
              comm_dtype = "fp32";
  std::string checkpoint, resume, log, fault, cuda_graph;  // cuda_graph empty: the backend's default
  std::int64_t steps = kDefaults.steps, epochs = 0, warmup = kDefaults.schedule.warmup, checkpoint_every = 0,
               eval_every = 200, train_limit = kDefaults.train_limit;
  int batch = kDefaults.batch, accumulate = kDefaults.accumulate, threads = 0;
  std::uint64_t seed = kDefaults.seed;
  double lr_factor = kDefaults.schedule.factor, lr = 0, clip = kDefaults.max_norm, dropout = kDefaults.model.dropout;
  bool seed_warmup = false, quiet = false, held_out = false, shard_optimizer = false;
  std::vector<std::string> numbers;  // translate mode
  std::string telemetry;             // chapter 04's range counts along the run (telemetry.hpp)
  std::int64_t telemetry_every = 50;
  std::string fp8_scaling = "delayed", fp8_grad_format = "e5m2", fp8_telemetry;  // chapter 09 (--precision fp8)
  int fp8_history = kDefaults.fp8_recipe.history_length;
  std::int64_t profile_steps = 0;    // the runtime's counters per step (step_profile.hpp)
  std::int64_t log_every = kDefaults.log_every;
  std::string threads_default;       // how the default thread count was chosen (empty: --threads or OMP_NUM_THREADS)
  double bucket_mb = 1;  // data parallel: chapter 08's bucket-size ablation chose it
  std::string trace;     // data parallel: the per-rank timeline of backward and buckets
};

std::string percent(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100.0 * x);
  return b;
}
std::string fmt(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

/// The log: CSV or JSON Lines by the file's extension.
class StepLog {
 public:
  explicit StepLog(const std::string& path) {
    if (path.empty()) return;
    if (path.size() > 6 && path.substr(path.size() - 6) == ".jsonl") jsonl_ = std::make_unique<JsonlWriter>(path);
    else if (path.size() > 4 && path.substr(path.size() - 4) == ".csv") csv_ = std::make_unique<CsvWriter>(path, columns());
    else throw UsageError("expected a --log file ending in .csv or .jsonl, found '" + path + "'");
  }
  void row(const StepResult& r, double seconds, const EvalResult* e) {
    const double em = e ? e->exact_match() : NAN, ta = e ? e->token_accuracy() : NAN;
    if (csv_) csv_->row(r.step, r.loss, r.lr, r.scale, r.grad_norm, r.skipped, r.tokens, seconds, em, ta);
    if (jsonl_) {
      nlohmann::json j = {{"step", r.step}, {"loss", r.loss}, {"lr", r.lr}, {"scale", r.scale},
                          {"grad_norm", r.grad_norm}, {"skipped", r.skipped}, {"tokens", r.tokens}, {"seconds", seconds}};
      if (e) j["exact_match"] = em, j["token_accuracy"] = ta;
      jsonl_->write(j);
    }
  }

 private:
  static std::vector<std::string> columns() {
    return {"step", "loss", "lr", "scale", "grad_norm", "skipped", "tokens", "seconds", "exact_match", "token_accuracy"};
  }
  std::unique_ptr<CsvWriter> csv_;
  std::unique_ptr<JsonlWriter> jsonl_;
};

void print_eval(const char* what, const EvalResult& e, bool details) {
  std::cout << what << ": exact match " << percent(e.exact_match()) << " (" << e.exact << "/" << e.count
            << "), token accuracy " << percent(e.token_accuracy()) << "\n";
  if (!details) return;
  for (const auto& s : e.examples) std::cout << "  " << s << "\n";
  if (!e.failures.empty()) {
    std::cout << "  failures (" << (e.count - e.exact) << "):\n";
    for (const auto& s : e.failures) std::cout << "    " << s << "\n";
  }
}

template <class S>
void train(const Settings& s, const TrainerOptions& options) {
  Trainer<S> t(options);
  const TrainerOptions& o = t.options();  // with the defaults filled in
  const bool root = o.rank == 0;  // data parallel (chapter 08): rank 0 alone evaluates, logs and saves
  if (!s.resume.empty()) t.load(s.resume);  // before anything is written: a bad checkpoint changes nothing
  StepLog log(s.log);
  std::unique_ptr<Telemetry> telemetry;
  if (!s.telemetry.empty()) {
    telemetry = std::make_unique<Telemetry>(s.telemetry, s.telemetry_every, t.options(), t.train_numbers());
    telemetry->after_step(t);  // the weights the run starts from
  }
  std::unique_ptr<Fp8Telemetry> fp8_telemetry;  // chapter 09: the scales, amax histories and counts
  if (!s.fp8_telemetry.empty()) {
    if (!t.fp8_linears()) throw UsageError("--fp8-telemetry needs --precision fp8");
    fp8_telemetry = std::make_unique<Fp8Telemetry>(s.fp8_telemetry, s.telemetry_every);
  }
  std::cout << "halfway-train: " << s.precision << " on " << to_string(o.backend) << ", model d " << o.model.d_model << ", " << o.model.heads << " heads, "
            << o.model.encoder_layers << "+" << o.model.decoder_layers << " layers, ff " << o.model.d_ff << " ("
            << fmt("%.2f", double(t.parameter_count()) / 1e6) << "M parameters), " << o.steps << " steps of batch "
            << o.batch << (o.accumulate > 1 ? " x " + std::to_string(o.accumulate) + " accumulated" : "") << ", "
            << (o.optimizer == OptimizerKind::adam ? "Adam" : "SGD") << " + "
            << (o.schedule.kind == optim::ScheduleKind::noam
                    ? "Noam (factor " + fmt("%g", o.schedule.factor) + ", warmup " + std::to_string(o.schedule.warmup) + ")"
                    : "constant rate " + fmt("%g", o.schedule.peak))
            << ", clip " << (o.clip ? fmt("%g", o.max_norm) : std::string("off")) << ", loss scaling "
            << amp::to_string(o.scaler.mode) << ", masters " << master_option(o.master) << ", gradients " << s.grad_storage
            << ", init " << s.init << (o.cuda_graph == CudaGraph::on ? ", steps replayed from a CUDA graph" : "")
            << ", seed " << o.seed;
  if (o.fp8)
    std::cout << ", Linear GEMMs in fp8 (e4m3, gradients " << to_string(o.fp8_recipe.grad_format) << ", scaling "
              << fp8::to_string(o.fp8_recipe.scaling)
              << (o.fp8_recipe.scaling == fp8::Fp8Scaling::delayed ? ", history " + std::to_string(o.fp8_recipe.history_length) : "")
              << ")";
  if (t.steps_done() > 0) std::cout << ", resumed at step " << t.steps_done();
  std::cout << "\n";
  // The 16-bit GEMM's instruction-set path (HALFWAY_CPU_ISA forces one; step_time.py reads this line).
  if (o.backend == Backend::cpu) std::cout << "cpu isa: " << to_string(cpu_isa()) << "\n";
  if (!s.threads_default.empty()) std::cout << "threads: " << s.threads_default << " (--threads sets them)\n";
  if (t.steps_done() >= o.steps) std::cout << "nothing to train: the run ended at step " << t.steps_done() << "\n";
  // Before step 1: a folder that cannot take the checkpoint must not cost a whole run.
  if (!s.checkpoint.empty() && root) check_writable_folder(s.checkpoint);  // ZeRO-1's other ranks only gather
  std::cout << "task: " << t.train_numbers().size() << " training numbers, " << t.held_out_numbers().size()
            << " held out (never trained on)\n";

  Progress progress("train", std::size_t(o.steps));
  WallTimer timer;
  const std::clock_t cpu_start = std::clock();
  double tokens = 0, loss_avg = NAN;
  std::int64_t skipped = 0;
  const std::int64_t first = t.steps_done();
  std::optional<StepProfile> profile;
  if (s.profile_steps > 0) profile.emplace(o.backend, s.profile_steps);
  StepResult shown;  // the last logging step's values, for the progress line
  while (t.steps_done() < o.steps) {
    if (profile) profile->begin_step();
    StepResult r = t.step();
    if (profile) profile->end_step();
    if (profile && profile->complete()) {
      std::cout << "\n" << profile->table() << std::flush;
      profile.reset();
    }
    const bool eval_now = s.eval_every > 0 && r.step % s.eval_every == 0 && r.step < o.steps;
    if (eval_now && !r.logged) r = t.read_log();  // an evaluation's row has its step's values too
    tokens += double(r.tokens);
    if (r.logged) {  // the device's log was read (every --log-every steps)
      shown = r;
      skipped = r.skipped_steps;
      loss_avg = std::isnan(loss_avg) ? r.loss : 0.95 * loss_avg + 0.05 * r.loss;
    }
    const double secs = timer.seconds();
    std::optional<EvalResult> e;
    // Data parallel: rank 0 alone evaluates (every rank holds the same weights; evaluation
    // draws no random numbers and changes no training state, so the others need not wait).
    if (root && eval_now) e = t.evaluate(t.held_out_numbers(), 0, 0);
    if (r.logged) log.row(r, secs, e ? &*e : nullptr);
    if (telemetry) telemetry->after_step(t);  // observes only: a copy of the weights, on the side
    if (fp8_telemetry) fp8_telemetry->after_step(r.step, *t.fp8_linears(), r.step >= o.steps);
    char status[160];
    std::snprintf(status, sizeof status, "loss %.4f  lr %.2e  scale %g  %.0f tok/s%s", loss_avg, shown.lr, double(shown.scale),
                  tokens / std::max(secs, 1e-9), skipped ? (" skipped " + std::to_string(skipped)).c_str() : "");
    progress.update(std::size_t(r.step), status);
    if (e) std::cout << "\nstep " << r.step << ": held-out exact match " << percent(e->exact_match()) << ", token accuracy "
                     << percent(e->token_accuracy()) << std::endl;
    if (!s.checkpoint.empty() && s.checkpoint_every > 0 && r.step % s.checkpoint_every == 0 && r.step < o.steps)
      t.save(s.checkpoint);
  }
  progress.finish();
  if (profile)  // the run ended before the steps asked for
    std::cout << profile->table() << "(the run ended after " << t.steps_done() - first << " steps: fewer steady steps than --profile-steps "
              << s.profile_steps << ")\n";
  const double secs = timer.seconds();
  const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;  // all threads: independent of other load
  const std::int64_t done = t.steps_done() - first;
  if (done > 0)
    std::cout << "trained " << done << " steps in " << fmt("%.1f", secs) << " s (" << fmt("%.1f", 1000 * secs / double(done))
              << " ms/step; cpu time " << fmt("%.1f", cpu) << " s), final loss " << fmt("%.4f", loss_avg) << " (moving average), " << skipped
              << " skipped steps, loss scale " << t.loss_scale() << "\n";
  if (!s.checkpoint.empty()) {
    t.save(s.checkpoint);
    std::cout << "checkpoint: " << s.checkpoint << " (step " << t.steps_done() << ")\n";
  }
  if (!root) return;  // the other ranks print nothing (their stdout is /dev/null) and need no result
  const EvalResult held = t.evaluate(t.held_out_numbers(), 5, 20);
  print_eval("held-out", held, true);
  std::cout << "steps " << t.steps_done() << ", wall " << fmt("%.1f", secs) << " s, held-out exact match "
            << percent(held.exact_match()) << "\n";
}

template <class S>
void translate(const Settings& s, TrainerOptions o) {
  std::vector<int> numbers;
  for (const auto& n : s.numbers) numbers.push_back(task::parse_number(n));
  Trainer<S> t(o);
  t.load(s.resume);
  if (s.held_out) numbers = t.held_out_numbers();  // the split's order (checked against PyTorch's)
  const auto out = t.translate(numbers);
  for (std::size_t i = 0; i < numbers.size(); ++i) std::cout << numbers[i] << " -> " << task::words(out[i]) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halfway-train: the seed's Transformer trained on numbers -> digit words (\"407\" -> \"four zero seven\"),\n"
               "in fp32, fp16 or bf16, with loss scaling, master weights, clipping and a Noam schedule.\n"
               "`halfway-train translate --resume DIR 407 12` translates with a trained checkpoint."};
  Settings s;
  add_backend_option(app, s.backend);
  app.add_option("--precision", s.precision, "fp32, fp16 or bf16 (16-bit: mixed precision, fp32 masters), or fp8 "
                                            "(bf16 with the Linear GEMMs in fp8, chapter 09)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16", "fp8"}))->capture_default_str();
  app.add_option("--fp8-scaling", s.fp8_scaling, "fp8: each tensor's scale from none (1), current (its own amax) or "
                                                "delayed (the amax history)")
      ->check(CLI::IsMember({"none", "current", "delayed"}))->capture_default_str();
  app.add_option("--fp8-grad-format", s.fp8_grad_format, "fp8: the gradients' format (e5m2, or e4m3 as the inputs)")
      ->check(CLI::IsMember({"e5m2", "e4m3"}))->capture_default_str();
  app.add_option("--fp8-history", s.fp8_history, "fp8: delayed scaling's amax history length H")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  app.add_option("--fp8-telemetry", s.fp8_telemetry, "fp8: write every tensor's scale, amax history and saturation "
                                                    "and underflow counts every --telemetry-every steps (.csv)");
  app.add_option("--size", s.size, "model: tiny, seed (d 128, 2+2 layers) or base (d 512, 6+6)")
      ->check(CLI::IsMember({"tiny", "seed", "base"}))->capture_default_str();
  auto* steps = app.add_option("--steps", s.steps, "optimizer steps (default: " + std::to_string(kDefaultEpochs) + " epochs, " +
                                           std::to_string(steps_for_epochs(kDefaultEpochs, kDefaults.batch, 1, 0)) +
                                           " steps at batch " + std::to_string(kDefaults.batch) + ")")->check(whole_number<std::int64_t>(1));
  app.add_option("--epochs", s.epochs, "passes over the training numbers instead of --steps")
      ->check(whole_number<std::int64_t>(1))->excludes(steps);
  app.add_option("--batch", s.batch, "numbers per micro-batch")->check(whole_number(1, 800))->capture_default_str();
  app.add_option("--accumulate", s.accumulate, "micro-batches per optimizer step (gradient accumulation)")
      ->check(whole_number(1, 1024))->capture_default_str();
  app.add_option("--seed", s.seed, "weights, data order, dropout")->check(whole_number<std::uint64_t>(0))->capture_default_str();
  app.add_option("--optimizer", s.optimizer, "adam (0.9, 0.98, eps 1e-9) or sgd")
      ->check(CLI::IsMember({"adam", "sgd"}))->capture_default_str();
  app.add_option("--warmup", s.warmup, "Noam warmup steps (default: half the run)")->check(whole_number<std::int64_t>(1));
  app.add_flag("--seed-warmup", s.seed_warmup, "the seed's Noam warmup of 4000 steps");
  app.add_option("--lr-factor", s.lr_factor, "Noam's factor: peak rate factor / sqrt(d_model * warmup)")
      ->check(positive_number())->capture_default_str();
  app.add_option("--lr", s.lr, "a constant learning rate instead of Noam's schedule")->check(positive_number());
  app.add_option("--clip", s.clip, "clip the gradients' global norm to this (0: off)")
      ->check(non_negative_number())->capture_default_str();
  app.add_option("--grad-storage", s.grad_storage, "gradient storage: fp32, or 16 (the precision's 16-bit type: half "
                                                  "the bytes, one rounding per micro-batch; fp16 and bf16 only)")
      ->check(CLI::IsMember({"fp32", "16"}))->capture_default_str();
  app.add_option("--loss-scaling", s.loss_scaling, "auto (dynamic in fp16, off otherwise), dynamic, static:S or off")
      ->capture_default_str();
  app.add_option("--master", s.master, "master weights: on (fp32 masters), off (16-bit weights only), sr (stochastic rounding)")
      ->check(CLI::IsMember({"on", "off", "sr"}))->capture_default_str();
  app.add_option("--init", s.init, "embedding init: course (N(0, d^-1/2)) or seed (N(0, 1), drowns the positions)")
      ->check(CLI::IsMember({"course", "seed"}))->capture_default_str();
  app.add_option("--dropout", s.dropout, "dropout probability")->check(number_in(0.0, 0.99))->capture_default_str();
  app.add_option("--checkpoint", s.checkpoint, "write checkpoints into DIR (at the end, and every --checkpoint-every steps)");
  app.add_option("--checkpoint-every", s.checkpoint_every, "steps between checkpoints")->check(whole_number<std::int64_t>(1));
  app.add_option("--resume", s.resume, "continue the run saved in DIR (same model, precision, seed and batch)");
  app.add_option("--comm-dtype", s.comm_dtype, "data parallel (mpirun): the gradients' type on the wire, fp32 or 16 (the "
                                              "precision's 16-bit type: half the bytes; a sum past its range skips the step)")
      ->check(CLI::IsMember({"fp32", "16"}))->capture_default_str();
  app.add_option("--bucket-mb", s.bucket_mb, "data parallel (mpirun): MB of gradients per all-reduce started during the "
                                            "backward (0: one all-reduce after it)")
      ->check(number_in(0.0, 4096.0))->capture_default_str();
  app.add_option("--trace", s.trace, "data parallel (mpirun, --bucket-mb > 0): rank r writes the timeline of its "
                                    "backward layers and buckets to FILE.rank<r>.csv (plots/ch08_timeline.py)");
  app.add_flag("--shard-optimizer", s.shard_optimizer, "data parallel (mpirun): ZeRO-1, each rank keeps 1/N of the fp32 masters and "
                                                      "Adam's moments (gradients reduce-scattered, working copies all-gathered)");
  add_log_option(app, s.log, "one row per logging step, every --log-every steps (.csv or .jsonl)");
  app.add_option("--log-every", s.log_every,
                 "steps between the host's reads of the step's results (loss, norm, scale, skips): the --log rows, "
                 "the progress line, and the collapse and divergence checks (reported at the read, naming the step)")
      ->check(whole_number<std::int64_t>(1))->capture_default_str();
  app.add_option("--eval-every", s.eval_every, "held-out evaluation every N steps (0: at the end only)")
      ->check(whole_number<std::int64_t>(0))->capture_default_str();
  app.add_option("--cuda-graph", s.cuda_graph, "replay the steady-state step from a CUDA graph: on or off "
                                               "(default: on with --backend cuda, except SGD with --master sr; off on emu and cpu)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--inject-fault", s.fault, "fault hook: inf@STEP or nan@STEP[+COUNT][:PARAM] into one gradient "
                                            "(also HALFWAY_INJECT_FAULT)");
  app.add_option("--telemetry", s.telemetry, "write where the gradients would land in fp16 and bf16 at the run's loss "
                                            "scale, per layer, every --telemetry-every steps (.csv)");
  app.add_option("--telemetry-every", s.telemetry_every, "steps between telemetry measurements")
      ->check(whole_number<std::int64_t>(1))->capture_default_str();
  app.add_option("--profile-steps", s.profile_steps, "print the runtime's counters per step (kernel launches, copies each way, "
                                                    "blocking waits, allocations): the first step, then the mean of the next N")
      ->check(whole_number<std::int64_t>(1));
  app.add_option("--train-limit", s.train_limit, "train on the first N training numbers only")->check(whole_number<std::int64_t>(0));
  auto* tr = app.add_subcommand("translate", "translate numbers with a checkpoint: translate --resume DIR 407 12");
  tr->add_option("--resume", s.resume, "the checkpoint folder")->required();
  tr->add_option("numbers", s.numbers, "numbers 0..999");
  tr->add_flag("--held-out", s.held_out, "translate every held-out number instead (in the split's order)");
  for (auto* a : {&app, tr})
    a->add_option("--threads", s.threads, "OpenMP and OpenBLAS threads (default: the CPUs this process may use, "
                                          "less the 1-minute load average, at least 1; or OMP_NUM_THREADS)")
        ->check(whole_number(1));
  add_backend_option(*tr, s.backend);

  return run_program(argc, argv, app, [&] {
    // No --threads: the CPUs this process may use less the busy ones (common/host_threads.hpp),
    // unless OMP_NUM_THREADS says; under mpirun the ranks share the cores (chapter 08).
    if (s.threads == 0 && std::getenv("OMP_NUM_THREADS") == nullptr && !dist::launched_by_mpirun()) {
      const HostThreads h = default_host_threads();
      s.threads = h.threads;
      s.threads_default = h.describe();
    }
    if (s.threads > 0) {  // both pools: our loops are OpenMP, the cpu GEMM is OpenBLAS's
      omp_set_num_threads(s.threads);
      openblas_set_num_threads(s.threads);
    }
    if (*tr && s.numbers.empty() == !s.held_out)
      throw UsageError("translate expects numbers (translate --resume DIR 407 12) or --held-out, not both or neither");
    TrainerOptions o;
    o.backend = select_backend(s.backend);
    o.model = model_preset(s.size);
    std::int64_t resumed_at = 0;
    if (!s.resume.empty()) {
      // The checkpoint's run gives the defaults: what the user does not set is what it was.
      const CheckpointInfo c = read_checkpoint_info(s.resume);
      resumed_at = c.step;
      const auto unset = [&](const char* name) { return *tr || app.count(name) == 0; };
      if (unset("--precision")) s.precision = c.precision;
      else if (s.precision != c.precision)  // a conflict with the checkpoint, as in Trainer::load: exit code 1
        throw Error("--resume " + s.resume + " holds a run in " + c.precision + ", not " + s.precision +
                    " (resume with --precision " + c.precision + ")");
      if (unset("--size")) o.model = c.model;
      if (unset("--grad-storage")) s.grad_storage = c.grad_storage;
      if (unset("--master")) s.master = master_option(optim::parse_master_mode(c.master));
      if (unset("--seed")) s.seed = c.seed;
      if (unset("--batch")) s.batch = c.batch;
      if (unset("--accumulate")) s.accumulate = c.accumulate;
      if (unset("--train-limit")) s.train_limit = c.train_limit;
      if (unset("--steps") && unset("--epochs")) s.steps = std::max(c.steps_planned, c.step);
      if (unset("--warmup") && !s.seed_warmup) s.warmup = c.warmup;
      if (unset("--lr-factor")) s.lr_factor = c.lr_factor;
    }
    o.model.dropout = float(s.dropout);
    o.seed = s.seed;
    o.batch = s.batch;
    o.accumulate = s.accumulate;
    o.train_limit = s.train_limit;
    o.log_every = s.log_every;
    o.steps = s.epochs > 0 ? steps_for_epochs(s.epochs, s.batch, s.accumulate, s.train_limit) : s.steps;
    if (!*tr && o.steps > 0 && o.steps < resumed_at)
      throw Error("--resume " + s.resume + " is at step " + std::to_string(resumed_at) + ", past the " +
                  std::to_string(o.steps) + " steps asked for: nothing would be trained (ask for more --steps)");
    o.optimizer = s.optimizer == "sgd" ? OptimizerKind::sgd : OptimizerKind::adam;
    if (s.lr > 0) {
      o.schedule.kind = optim::ScheduleKind::constant;
      o.schedule.peak = s.lr;
    } else {
      if (s.optimizer == "sgd") throw UsageError("--optimizer sgd needs a --lr");
      o.schedule.factor = s.lr_factor;
      o.schedule.warmup = s.seed_warmup ? 4000 : s.warmup;
    }
    o.clip = s.clip > 0;
    o.max_norm = float(s.clip);
    o.scaler = parse_loss_scaling(s.loss_scaling, s.precision == "fp16");
    o.master = optim::parse_master_mode(s.master);
    o.grad_storage = parse_grad_storage(s.grad_storage);
    o.init = s.init == "seed" ? InitKind::seed : InitKind::course;
    if (!s.cuda_graph.empty()) o.cuda_graph = parse_cuda_graph(s.cuda_graph);
    std::string fault = s.fault;
    if (fault.empty())
      if (const char* env = std::getenv("HALFWAY_INJECT_FAULT")) fault = env;
    if (!fault.empty()) o.fault = parse_fault(fault);
    if (const char* env = std::getenv("HALFWAY_CHECKPOINT_PAUSE_MS")) {  // test hook: a kill mid-write
      char* end = nullptr;
      const long ms = std::strtol(env, &end, 10);
      if (*env == '\0' || *end != '\0' || ms < 1 || ms > 60000)
        throw UsageError(std::string("expected HALFWAY_CHECKPOINT_PAUSE_MS in milliseconds, 1..60000, found '") + env + "'");
      o.checkpoint_pause_ms = int(ms);
    }
    // Data parallel (chapter 08): under mpirun every rank trains on its share of each batch,
    // the gradients are summed after the backward (each rank's loss weighted by its share of
    // the global batch's tokens: the sum is one process's mean), and rank 0 alone writes the
    // output, the log and the checkpoints.
    if (s.comm_dtype == "16" && s.precision == "fp32") throw UsageError("--comm-dtype 16 needs --precision fp16 or bf16");
    if (s.shard_optimizer && s.comm_dtype == "16") throw UsageError("--shard-optimizer reduce-scatters in fp32: leave out --comm-dtype 16");
    std::unique_ptr<dist::Communicator> comm;
    std::unique_ptr<dist::GradientBuckets> buckets;
    double comm_seconds = 0;
    std::int64_t comm_calls = 0;
    if (!*tr && dist::launched_by_mpirun()) {
      comm = dist::make_communicator(o.backend);
      o.rank = comm->rank();
      o.ranks = comm->size();
      const DType wire = s.comm_dtype == "fp32" ? DType::f32 : s.precision == "fp16" ? DType::f16 : DType::bf16;
      // ZeRO-1 reduce-scatters after the backward (sharded_optimizer.hpp): no all-reduce buckets then.
      if (s.bucket_mb > 0 && !s.shard_optimizer) {  // buckets started during the backward (gradient_buckets.hpp)
        buckets = std::make_unique<dist::GradientBuckets>(
            std::int64_t(s.bucket_mb * 1e6),
            [c = comm.get(), wire](const amp::GradBuffer& part) { return dist::start_sum_gradients(*c, part, wire); });
        if (!s.trace.empty()) buckets->record_trace();
        o.grads_final = [b = buckets.get()](const amp::GradBuffer& g, std::int64_t from) { b->final_from(g, from); };
      }
      o.after_backward = [c = comm.get(), b = buckets.get(), wire, &comm_seconds, &comm_calls](const amp::GradBuffer& g) {
        const WallTimer timer;  // the hook's time: the all-reduce (or the buckets' rest), and the wait for the slowest rank
        if (b) b->finish(g);
        else dist::sum_gradients_as(*c, g, wire);
        comm_seconds += timer.seconds(), ++comm_calls;
      };
      if (s.shard_optimizer) o.shard_optimizer = comm.get();  // ZeRO-1: the trainer reduce-scatters instead
      if (comm->rank() != 0) {
        s.log.clear(), s.telemetry.clear();
        if (!s.shard_optimizer) s.checkpoint.clear();  // ZeRO-1: every rank's save() gathers the shards
        if (!std::freopen("/dev/null", "w", stdout)) throw Error("rank " + std::to_string(comm->rank()) + ": cannot silence stdout");
      }
      std::cout << "data parallel: " << comm->size() << " ranks over " << comm->name() << ", each training on its share of "
                << "every batch of " << o.batch << "; gradients summed in " << to_string(wire)
                << (buckets ? " in buckets of " + fmt("%g", s.bucket_mb) + " MB during" : std::string(" after")) << " the backward (each rank's loss"
                << " weighted by its share of the batch's tokens)\n";
      if (s.shard_optimizer)
        std::cout << "ZeRO-1: each rank keeps 1/" << comm->size() << " of the fp32 masters and Adam's moments; gradients "
                  << "reduce-scattered in fp32, working copies all-gathered\n";
    } else if (s.shard_optimizer && !*tr) {
      std::cout << "--shard-optimizer: one process, nothing to shard (it takes effect under mpirun -np N, N > 1)\n";
    }
    if (!s.trace.empty() && !buckets) throw UsageError("--trace needs mpirun and --bucket-mb > 0 (it times the buckets)");
    if (s.precision == "fp8") {  // chapter 09: bf16 with the Linear GEMMs in fp8
      if (*tr || !s.resume.empty() || !s.checkpoint.empty())
        throw UsageError("--precision fp8 neither saves nor resumes checkpoints yet (its scaling state is not in them)");
      o.fp8 = true;
      o.fp8_recipe.scaling = fp8::parse_fp8_scaling(s.fp8_scaling);
      o.fp8_recipe.grad_format = fp8::parse_fp8_format(s.fp8_grad_format);
      o.fp8_recipe.history_length = s.fp8_history;
    } else if (app.count("--fp8-scaling") + app.count("--fp8-grad-format") + app.count("--fp8-history") > 0) {
      throw UsageError("the --fp8-* options need --precision fp8");
    }
    if (*tr) {
      if (s.precision == "fp32") translate<float>(s, o);
      else if (s.precision == "fp16") translate<half>(s, o);
      else translate<bfloat16>(s, o);
      return;
    }
    try {
      if (s.precision == "fp32") train<float>(s, o);
      else if (s.precision == "fp16") train<half>(s, o);
      else train<bfloat16>(s, o);
    } catch (const std::exception& e) {
      if (!comm || comm->size() == 1) throw;
      // One rank's error (rank 0's checkpoint folder, say) must end every rank: the others
      // would otherwise wait for it in their next all-reduce forever.
      std::cerr << "halfway-train: rank " << comm->rank() << ": error: " << e.what() << " (ending all " << comm->size()
                << " ranks)" << std::endl;
      dist::abort_all_ranks(1);
    }
    if (buckets && !s.trace.empty())
      dist::write_trace_csv(s.trace + ".rank" + std::to_string(comm->rank()) + ".csv", comm->rank(), buckets->trace());
    if (buckets) std::cout << "buckets (last step): " << buckets->last_buckets().size() << "\n";
    if (comm_calls > 0)
      std::cout << "communication (rank 0): " << fmt("%.1f", comm_seconds) << " s in " << comm_calls << " gradient all-reduces ("
                << fmt("%.2f", 1000 * comm_seconds / double(comm_calls)) << " ms each, waiting for the other ranks included)\n";
  });
}
