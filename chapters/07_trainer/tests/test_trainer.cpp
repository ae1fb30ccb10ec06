// Chapter 07: the trainer on a tiny model (d 32, 1+1 layers) and a few steps: resume is
// bit-identical (with and without masters; a resume in another master mode is refused),
// a run without masters keeps none, an injected inf skips a step with the state bit-unchanged, a collapsing
// scale stops the run, damaged checkpoints are rejected, a short run learns (with fp32 and
// with 16-bit gradients), 16-bit gradients are the fp32 ones rounded once and take half the
// bytes, and accumulation 2 x 16 matches batch 32 within a derived bound.
// The backend comes from HALFWAY_TEST_BACKEND (cpu here; emu in the emu binary).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/device_memory.hpp"
#include "common/error.hpp"
#include "kernels/layers/scalar.hpp"
#include "kernels/train/trainer.hpp"
#include "chapters/07_trainer/tests/trainer_helpers.hpp"

using namespace halfway;
using namespace halfway::train;
using namespace ch07test;

namespace {

template <class S>
void check_resume(amp::ScaleMode scaling, const std::string& dir_name,
                  optim::MasterMode mode = optim::MasterMode::master) {
  const int n = 6;
  TrainerOptions o = tiny(n, scaling);
  o.master = mode;
  Trainer<S> straight(o);
  for (int i = 0; i < n; ++i) straight.step();
  // The weights: the masters, or without masters the 16-bit working copies (widened exactly).
  const auto masters = straight.weights_host(), moments = straight.moments_host();
  const float scale = straight.loss_scale();

  const std::string dir = fresh_dir(dir_name);
  {
    Trainer<S> first(o);
    for (int i = 0; i < n / 2; ++i) first.step();
    first.save(dir);
  }
  Trainer<S> second(o);
  second.load(dir);
  CHECK(second.steps_done() == n / 2);
  while (second.steps_done() < n) second.step();
  CHECK(same_bits(second.weights_host(), masters));
  CHECK(same_bits(second.moments_host(), moments));
  CHECK(second.loss_scale() == scale);
  CHECK_FALSE(moments.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace

TEST_CASE("trainer: N steps straight and N/2 + save + load + N/2 give the same bits in fp32 [resume]") {
  check_resume<float>(amp::ScaleMode::off, "resume_fp32");
}

TEST_CASE("trainer: N steps straight and N/2 + save + load + N/2 give the same bits in fp16 [resume]") {
  check_resume<half>(amp::ScaleMode::dynamic, "resume_fp16");
}

TEST_CASE("trainer: resume is bit-identical without masters (--master off and sr) [resume]") {
  check_resume<half>(amp::ScaleMode::dynamic, "resume_fp16_none", optim::MasterMode::none);
  check_resume<bfloat16>(amp::ScaleMode::off, "resume_bf16_sr", optim::MasterMode::stochastic);
}

TEST_CASE("trainer: without masters the store keeps none and the weights are the working copies [resume]") {
  TrainerOptions o = tiny(4, amp::ScaleMode::dynamic);
  o.master = optim::MasterMode::none;
  Trainer<half> t(o);
  t.step();
  CHECK(t.store_bytes().masters == 0);
  CHECK(t.store_bytes().working > 0);
  CHECK(error_of([&] { t.masters_host(); }).find("a store built without them") != std::string::npos);
  // The weights are 16-bit values: widening them and rounding back changes nothing.
  for (float w : t.weights_host()) CHECK(layers::ld(layers::st<half>(w)) == w);
  // A run with masters starts from the same 16-bit weights: the masters rounded.
  TrainerOptions with = o;
  with.master = optim::MasterMode::master;
  Trainer<half> m(with), none(o);
  const auto masters = m.masters_host(), weights = none.weights_host();
  REQUIRE(masters.size() == weights.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < masters.size(); ++i) differ += layers::ld(layers::st<half>(masters[i])) != weights[i];
  CHECK(differ == 0);
}

TEST_CASE("checkpoint: a resume in another master mode is refused with one line and changes nothing [checkpoint]") {
  const std::string dir = fresh_dir("checkpoint_master_mode");
  for (const auto [saved, resumed] : {std::pair{optim::MasterMode::none, optim::MasterMode::master},
                                      std::pair{optim::MasterMode::master, optim::MasterMode::stochastic}}) {
    TrainerOptions o = tiny(4, amp::ScaleMode::dynamic);
    o.master = saved;
    {
      Trainer<half> t(o);
      t.step();
      t.save(dir);
    }
    o.master = resumed;
    Trainer<half> t(o);
    const auto before = t.weights_host();
    const std::string want = "trained with --master " + master_option(saved) + " (this run: " +
                             master_option(resumed) + "): resume with --master " + master_option(saved);
    CHECK(error_of([&] { t.load(dir); }).find(want) != std::string::npos);
    CHECK(t.steps_done() == 0);
    CHECK(same_bits(t.weights_host(), before));
    std::filesystem::remove_all(dir);
  }
}

TEST_CASE("trainer: an injected inf or NaN skips the step with masters and moments bit-unchanged [fault]") {
  for (float bad : {INFINITY, NAN}) {
    TrainerOptions o = tiny(10, amp::ScaleMode::dynamic);
    o.fault.step = 3;
    o.fault.value = bad;
    Trainer<half> t(o);
    CHECK_FALSE(t.step().skipped);
    CHECK_FALSE(t.step().skipped);
    const auto masters = t.masters_host(), moments = t.moments_host();
    const float scale = t.loss_scale();
    const StepResult r = t.step();
    CHECK(r.skipped);
    CHECK_FALSE(std::isfinite(r.grad_norm));
    CHECK(same_bits(t.masters_host(), masters));
    CHECK(same_bits(t.moments_host(), moments));
    CHECK(t.loss_scale() == scale / 2);  // PyTorch's backoff factor 0.5
    const StepResult next = t.step();    // training goes on
    CHECK_FALSE(next.skipped);
    CHECK(std::isfinite(next.loss));
    CHECK_FALSE(same_bits(t.masters_host(), masters));
  }
}

TEST_CASE("trainer: 20 skipped steps in a row stop the run and name the first non-finite gradient [fault]") {
  TrainerOptions o = tiny(100, amp::ScaleMode::dynamic);
  o.fault = parse_fault("nan@2+1000:generator.weight");
  Trainer<bfloat16> t(o);
  t.step();
  std::string message;
  int steps = 1;
  try {
    for (; steps < 100; ++steps) t.step();
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(steps == 20);  // the call for step 21 threw: steps 2..21 skipped, the 20th in a row stops
  CHECK(t.steps_done() == 21);
  CHECK(message.find("20 skipped steps in a row") != std::string::npos);
  CHECK(message.find("first non-finite gradient: generator.weight") != std::string::npos);
}

TEST_CASE("trainer: a collapse between logging steps is reported at the next read and names its step [fault]") {
  TrainerOptions o = tiny(100, amp::ScaleMode::dynamic);
  o.fault = parse_fault("nan@2+1000:generator.weight");
  o.log_every = 8;  // reads after steps 8, 16, 24: the collapse at step 21 comes out at step 24
  Trainer<bfloat16> t(o);
  std::string message;
  int calls = 0;
  try {
    for (; calls < 100; ++calls) t.step();
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(t.steps_done() == 24);
  CHECK(message.find("20 skipped steps in a row (step 21, ") != std::string::npos);
  CHECK(message.find("first non-finite gradient: generator.weight") != std::string::npos);
}

TEST_CASE("trainer: only logging steps read the log and the bits do not depend on how often [log]") {
  TrainerOptions o = tiny(7, amp::ScaleMode::dynamic);
  o.fault = parse_fault("inf@3");
  Trainer<half> every(o);
  o.log_every = 3;
  Trainer<half> sparse(o);
  for (int i = 1; i <= 7; ++i) {
    const StepResult a = every.step(), b = sparse.step();
    CHECK(a.logged);
    CHECK(b.logged == (i % 3 == 0 || i == 7));  // and the run's last step
    CHECK(a.tokens == b.tokens);
    CHECK(a.skipped_steps == (i >= 3 ? 1 : 0));  // step 3's overflow
    if (!b.logged) continue;
    CHECK(b.loss == a.loss);
    CHECK(b.lr == a.lr);
    CHECK(b.scale == a.scale);
    CHECK(b.grad_norm == a.grad_norm);
    CHECK(b.skipped_steps == 1);
  }
  CHECK(same_bits(every.masters_host(), sparse.masters_host()));
  CHECK(every.loss_scale() == sparse.loss_scale());
  const StepResult now = sparse.read_log();  // on demand: the last step's values
  CHECK(now.logged);
  CHECK(now.step == 7);
}

TEST_CASE("trainer: with loss scaling off a NaN gradient stops the run instead of training on [fault]") {
  TrainerOptions o = tiny(10, amp::ScaleMode::off);
  o.fault = parse_fault("nan@2");
  Trainer<float> t(o);
  t.step();
  const std::string m = error_of([&] { t.step(); });
  CHECK(m.find("diverged at step 2") != std::string::npos);
  CHECK(m.find("transformer.decoder.layers.0.linear1.weight") != std::string::npos);
}

TEST_CASE("checkpoint: a crash while writing, a truncated, altered or foreign checkpoint [checkpoint]") {
  const std::string dir = fresh_dir("checkpoint_faults");
  TrainerOptions o = tiny(10, amp::ScaleMode::dynamic);
  {
    Trainer<half> t(o);
    t.step();
    t.step();
    t.save(dir);
    t.step();
    TrainerOptions crash = o;
    crash.checkpoint_crash = true;
    Trainer<half> c(crash);
    c.step();
    CHECK(error_of([&] { c.save(dir); }).find("simulated crash") != std::string::npos);
  }
  Trainer<half> fresh(o);
  const auto before = fresh.masters_host();
  fresh.load(dir);  // the crash left the step-2 checkpoint loadable
  CHECK(fresh.steps_done() == 2);

  std::string tensors;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") tensors = e.path().string();
  REQUIRE_FALSE(tensors.empty());
  const auto size = std::filesystem::file_size(tensors);
  std::string bytes(size, '\0');
  std::ifstream(tensors, std::ios::binary).read(bytes.data(), std::streamsize(size));

  SUBCASE("altered") {
    std::string altered = bytes;
    altered[size - 5] = char(altered[size - 5] ^ 1);
    std::ofstream(tensors, std::ios::binary).write(altered.data(), std::streamsize(size));
    Trainer<half> t(o);
    CHECK(error_of([&] { t.load(dir); }).find("is damaged") != std::string::npos);
    CHECK(same_bits(t.masters_host(), before));  // nothing changed
    CHECK(t.steps_done() == 0);
  }
  SUBCASE("truncated") {
    std::ofstream(tensors, std::ios::binary).write(bytes.data(), std::streamsize(size / 2));
    Trainer<half> t(o);
    CHECK(error_of([&] { t.load(dir); }).find("truncated") != std::string::npos);
  }
  SUBCASE("another model shape") {
    TrainerOptions other = o;
    other.model.d_ff = 128;
    Trainer<half> t(other);
    CHECK(error_of([&] { t.load(dir); }).find("another shape: d_ff 64 (this run: 128)") != std::string::npos);
  }
  SUBCASE("another precision") {
    Trainer<float> t(tiny(10));
    CHECK(error_of([&] { t.load(dir); }).find("trained in fp16") != std::string::npos);
  }
  SUBCASE("a damaged trainer.json and a missing folder") {
    std::ofstream(dir + "/trainer.json") << "{\"format\": ";
    Trainer<half> t(o);
    CHECK(error_of([&] { t.load(dir); }).find("trainer.json is damaged") != std::string::npos);
    CHECK(error_of([&] { t.load(dir + "/nowhere"); }).find("no checkpoint in") != std::string::npos);
  }
  std::filesystem::remove_all(dir);  // after each subcase; the next one writes it again
}

TEST_CASE("trainer: a short run learns its training numbers in fp32 fp16 and bf16 [learn]") {
  // 24 numbers, no dropout, a constant rate: a tiny model memorises them. The bound is
  // loose on purpose (the loss starts at ln 13 = 2.56 and ends near 0 in every precision).
  const auto run = [](auto tag, double* first, double* last, double* exact,
                      layers::GradType grads = layers::GradType::fp32) {
    using S = decltype(tag);
    TrainerOptions o = tiny(150, std::is_same_v<S, half> ? amp::ScaleMode::dynamic : amp::ScaleMode::off);
    o.grad_storage = grads;
    o.model.dropout = 0;
    o.schedule.kind = optim::ScheduleKind::constant;
    o.schedule.peak = 3e-3;
    Trainer<S> t(o);
    std::vector<double> losses;
    while (t.steps_done() < o.steps) losses.push_back(t.step().loss);
    *first = (losses[0] + losses[1] + losses[2]) / 3;
    *last = (losses[losses.size() - 1] + losses[losses.size() - 2] + losses[losses.size() - 3]) / 3;
    const std::vector<int> seen(t.train_numbers().begin(), t.train_numbers().begin() + 24);
    *exact = t.evaluate(seen).exact_match();
  };
  double first, last, exact;
  SUBCASE("fp32") { run(float{}, &first, &last, &exact); }
  SUBCASE("fp16") { run(half{}, &first, &last, &exact); }
  SUBCASE("bf16") { run(bfloat16{}, &first, &last, &exact); }
  SUBCASE("fp16, 16-bit gradients") { run(half{}, &first, &last, &exact, layers::GradType::storage); }
  SUBCASE("bf16, 16-bit gradients") { run(bfloat16{}, &first, &last, &exact, layers::GradType::storage); }
  INFO("loss " << first << " -> " << last << ", exact match on the training numbers " << exact);
  CHECK(first > 2.0);
  CHECK(last < 0.1 * first);
  CHECK(exact == 1.0);
}

namespace {
/// One step with fp32 and one with 16-bit gradients from the same start: scaling and
/// clipping off, so that step() leaves each gradient buffer as backward wrote it.
template <class S>
void check_grads_rounded_once() {
  TrainerOptions o = tiny(1);
  o.clip = false;
  Trainer<S> wide(o);
  o.grad_storage = layers::GradType::storage;
  Trainer<S> narrow(o);
  wide.step();
  narrow.step();
  const auto g32 = wide.grads_host(), g16 = narrow.grads_host();
  REQUIRE(g32.size() == g16.size());
  // With one micro-batch both runs compute every gradient element as the same fp32 number
  // (the same forward and backward activations in S; the GEMM's fp32 sum, or the fp32 sums
  // of a bias, LayerNorm or the embedding, added to a zero gradient). The 16-bit store
  // rounds it once: exactly st<S> of the fp32 run's value, bit for bit.
  std::size_t differ = 0, rounded = 0, nonzero = 0;
  for (std::size_t i = 0; i < g32.size(); ++i) {
    const float want = layers::ld(layers::st<S>(g32[i]));
    differ += std::memcmp(&want, &g16[i], sizeof want) != 0;
    rounded += want != g32[i];
    nonzero += g32[i] != 0;
  }
  INFO(std::string(layers::precision_name<S>()) << ": " << nonzero << " nonzero gradients, " << rounded
                                   << " changed by the rounding to 16 bits");
  CHECK(differ == 0);
  CHECK(rounded > nonzero / 2);  // the comparison sees the rounding: most fp32 values are not 16-bit values
}
}  // namespace

TEST_CASE("trainer: 16-bit gradients after one micro-batch are the fp32 gradients rounded once [grad16]") {
  check_grads_rounded_once<half>();
  check_grads_rounded_once<bfloat16>();
}

TEST_CASE("trainer: 16-bit gradients take 2 bytes per parameter in the store and no extra buffer [grad16]") {
  const TrainerOptions o = tiny(1, amp::ScaleMode::dynamic);
  TrainerOptions o16 = o;
  o16.grad_storage = layers::GradType::storage;
  const auto before = allocation_count(test_backend());
  Trainer<half> wide(o);
  const auto wide_allocations = allocation_count(test_backend()) - before;
  Trainer<half> narrow(o16);
  const auto narrow_allocations = allocation_count(test_backend()) - before - wide_allocations;
  const layers::StoreBytes w = wide.store_bytes(), n = narrow.store_bytes();
  // The masters are 4 bytes per element (padding included): the gradients 4 in fp32, 2 in S.
  CHECK(w.grads == w.masters);
  CHECK(n.grads * 2 == n.masters);
  CHECK(n.grads >= std::size_t(2 * narrow.parameter_count()));
  CHECK(n.total() + n.grads == w.total());  // the rest of the store is the same
  CHECK(narrow_allocations == wide_allocations);  // the 16-bit buffer replaces the fp32 one
  CHECK_THROWS_AS(Trainer<float>{o16}, UsageError);  // fp32 has no 16-bit gradients
}

namespace {
/// gamma_n = n u / (1 - n u): a sum of n products (or of n terms), computed in any order in
/// a precision of unit roundoff u, is within gamma_n times the sum of their absolute values
/// of the exact sum (Higham, Accuracy and Stability of Numerical Algorithms, section 3.1).
double gamma_n(double n, double u) { return n * u / (1 - n * u); }
}  // namespace

TEST_CASE("trainer: accumulation 2 x 16 gives batch 32's loss and gradients within a derived bound [accumulate]") {
  // fp32, dropout off, scaling and clipping off (step() leaves the gradients as backward
  // wrote them). A micro-batch's loss is the mean over ITS target tokens, so 2 x 16 equals
  // batch 32 only when both halves hold the same number of tokens T/2: then
  // (1/2)(sum_1/(T/2) + sum_2/(T/2)) = (sum_1 + sum_2)/T. Pick a seed whose first 32 numbers split so.
  TrainerOptions o = tiny(1);
  o.model.dropout = 0;
  o.train_limit = 0;
  o.clip = false;
  std::int64_t t1 = 0, t2 = -1;
  for (o.seed = 1; o.seed < 200 && t1 != t2; ++o.seed) {
    TrainerOptions p = o;
    p.batch = 16;
    p.steps = 2;
    Trainer<float> probe(p);  // its micro-batches 0 and 1 are the halves (data.hpp: the order ignores the batch size)
    t1 = probe.step().tokens;
    t2 = probe.step().tokens;
  }
  --o.seed;
  REQUIRE(t1 == t2);
  TrainerOptions acc = o, full = o;
  acc.batch = 16;
  acc.accumulate = 2;
  full.batch = 32;
  Trainer<float> a(acc), f(full);
  const StepResult ra = a.step(), rf = f.step();
  REQUIRE(ra.tokens == rf.tokens);
  const double T = double(rf.tokens), u = 0x1p-24, D = o.model.d_model;
  INFO("seed " << o.seed << ", " << t1 << " + " << t2 << " tokens, loss " << ra.loss << " vs " << rf.loss);
  // Each row's logits, loss l_r >= 0 and dlogits are the same numbers in both runs: every op
  // before the loss works within one row or one sequence (no dropout), and the logits'
  // gradient scale is 1/T in both (0.5 / (T/2) and 1 / T round to the same float). Only
  // the sums over rows differ in order:
  // - loss: sum_1 + sum_2 of positive terms against one sum of T: each within gamma of the
  //   exact sum, plus a division each: |La - Lf| <= (gamma_{T/2} + gamma_T + 2u) L <= 2 gamma_{T+1} L;
  CHECK(std::abs(ra.loss - rf.loss) <= 2 * gamma_n(T + 1, u) * rf.loss);
  // - the output layer's gradients are sums over the T counted rows (padding rows are 0):
  //   db_j = sum_r d_rj and dW_jk = sum_r d_rj x_rk, with |d_rj| = |p_rj - y_rj| / T <= 1/T
  //   (one rounding more: (1 + u)/T) and x the decoder's final LayerNorm output, which at
  //   step 1 (gain 1, shift 0) is a normalised row: |x_rk| <= sqrt(D - 1) < sqrt(D). So
  //   sum_r |terms| <= (1 + u) for db and (1 + u) sqrt(D) for dW. One run sums T terms, the
  //   other T/2 twice and adds the halves (one rounding more): the two are within
  //   (gamma_T + gamma_{T/2 + 1}) (1 + u) sum|terms| <= 2 gamma_{T+2} sum|terms| of each other.
  //   Without the 1/accumulate factor the accumulated gradients would be twice as large.
  const double bound_b = 2 * gamma_n(T + 2, u), bound_w = bound_b * std::sqrt(D);
  for (const auto& [name, bound] : {std::pair<std::string, double>{"generator.bias", bound_b}, {"generator.weight", bound_w}}) {
    const auto ga = a.grads_host(name), gf = f.grads_host(name);
    double diff = 0, largest = 0;
    for (std::size_t i = 0; i < ga.size(); ++i) {
      diff = std::max(diff, std::abs(double(ga[i]) - double(gf[i])));
      largest = std::max(largest, std::abs(double(gf[i])));
    }
    INFO(name << ": largest difference " << diff << ", bound " << bound << ", largest gradient " << largest);
    CHECK(diff <= bound);
    CHECK(largest > 100 * bound);  // the bound is far below what a wrong factor would show
  }
}

TEST_CASE("trainer: options are checked [options]") {
  CHECK(parse_fault("inf@12").step == 12);
  CHECK(parse_fault("nan@5+30:generator.weight").count == 30);
  CHECK_THROWS_AS(parse_fault("inf@0"), UsageError);
  CHECK_THROWS_AS(parse_fault("zero@3"), UsageError);
  CHECK(parse_loss_scaling("auto", true).mode == amp::ScaleMode::dynamic);
  CHECK(parse_loss_scaling("auto", false).mode == amp::ScaleMode::off);
  CHECK(parse_loss_scaling("static:1024", true).init_scale == 1024.0f);
  CHECK_THROWS_AS(parse_loss_scaling("static:-2", true), UsageError);
  CHECK_THROWS_AS(model_preset("huge"), UsageError);
  CHECK(parse_grad_storage("16") == layers::GradType::storage);
  CHECK_THROWS_AS(parse_grad_storage("fp8"), UsageError);
  TrainerOptions o = tiny(10);
  o.master = optim::MasterMode::none;
  CHECK_THROWS_AS(Trainer<float>{o}, UsageError);
  // One name per mode, the option's: --master off, never "none".
  CHECK(error_of([&] { Trainer<float>{o}; }).find("--master off needs a 16-bit precision") != std::string::npos);
  CHECK(master_option(optim::MasterMode::master) == "on");
  CHECK(master_option(optim::MasterMode::stochastic) == "sr");
  o = tiny(10);
  o.fault = parse_fault("inf@2:no.such.weight");
  CHECK_THROWS_AS(Trainer<half>{o}, UsageError);
}

TEST_CASE("trainer: the defaults are the course's recipe and live in TrainerOptions only [options]") {
  // halfway-train starts from TrainerOptions{} (train_main.cpp): 48 epochs of the 800
  // training numbers at batch 32, Noam with factor 0.25 and half the run as warmup.
  const TrainerOptions d = resolved(TrainerOptions{}, false);
  CHECK(d.steps == 1200);
  CHECK(d.steps == steps_for_epochs(kDefaultEpochs, 32, 1, 0));
  CHECK(d.schedule.warmup == 600);
  CHECK(d.schedule.factor == 0.25);
  CHECK(d.batch == 32);
  CHECK(steps_for_epochs(2, 8, 4, 24) == 2);   // 3 micro-batches an epoch, 6 in all, 4 a step: 2 steps
  CHECK(steps_for_epochs(48, 32, 1, 10) == 48);  // a limit of 10 numbers: one short batch an epoch
  Trainer<float> t(tiny(0));
  CHECK(t.options().steps == steps_for_epochs(kDefaultEpochs, 8, 1, 24));  // steps 0: the default at this batch
}
