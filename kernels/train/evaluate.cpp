// Greedy decoding with a trainer's model: translate() and evaluate() (trainer.hpp).
#include <algorithm>

#include "kernels/train/trainer.hpp"
#include "kernels/train/trainer_state.hpp"

namespace halfway::train {

template <class S>
std::vector<std::vector<std::int32_t>> Trainer<S>::translate(const std::vector<int>& numbers) {
  auto& model = impl_->model;
  if (numbers.size() > std::size_t(kEvalBatch)) {  // in batches of kEvalBatch
    std::vector<std::vector<std::int32_t>> all;
    for (std::size_t lo = 0; lo < numbers.size(); lo += std::size_t(kEvalBatch)) {
      const auto hi = std::min(numbers.size(), lo + std::size_t(kEvalBatch));
      auto part = translate({numbers.begin() + std::ptrdiff_t(lo), numbers.begin() + std::ptrdiff_t(hi)});
      for (auto& o : part) all.push_back(std::move(o));
    }
    return all;
  }
  const int B = int(numbers.size());
  auto out = std::vector<std::vector<std::int32_t>>(std::size_t(B));
  if (B == 0) return out;
  const Batch src = task::make_batch(numbers);
  std::vector<char> done(std::size_t(B), 0);
  const int V = impl_->o.model.vocab;
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

template <class S>
EvalResult Trainer<S>::evaluate(const std::vector<int>& numbers, int examples, int max_failures) {
  EvalResult r;
  const auto out = translate(numbers);  // in batches of at most kEvalBatch
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    auto want = task::target_words(numbers[i]);
    want.push_back(task::kEos);
    const auto& got = out[i];
    ++r.count;
    const bool ok = got == want;
    r.exact += ok;
    r.tokens += std::int64_t(want.size());
    for (std::size_t k = 0; k < want.size(); ++k) r.correct_tokens += k < got.size() && got[k] == want[k];
    const std::string line = std::to_string(numbers[i]) + " -> " + task::words(got);
    if (int(r.examples.size()) < examples) r.examples.push_back(line);
    if (!ok && int(r.failures.size()) < max_failures)
      r.failures.push_back(line + " (expected " + task::words(want) + ")");
  }
  return r;
}

#define HALFWAY_TRAINER_EVALUATION(S)                                                                  \
  template std::vector<std::vector<std::int32_t>> Trainer<S>::translate(const std::vector<int>&);     \
  template EvalResult Trainer<S>::evaluate(const std::vector<int>&, int, int);
HALFWAY_TRAINER_EVALUATION(float)
HALFWAY_TRAINER_EVALUATION(half)
HALFWAY_TRAINER_EVALUATION(bfloat16)

}  // namespace halfway::train
