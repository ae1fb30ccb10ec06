#include "common/number_words.hpp"

#include <algorithm>
#include <cmath>

#include "common/error.hpp"
#include "common/rng.hpp"

namespace halfway::task {
namespace {

constexpr const char* kWords[10] = {"zero", "one", "two",   "three", "four",
                                    "five", "six", "seven", "eight", "nine"};

void check_number(int n) {
  HALFWAY_EXPECT(n >= 0 && n < kNumbers, "a number in 0..999", std::to_string(n));
}

}  // namespace

std::string token_word(std::int32_t token) {
  switch (token) {
    case kPad: return "<pad>";
    case kSos: return "<sos>";
    case kEos: return "<eos>";
    default: break;
  }
  if (token >= 3 && token < kVocab) return kWords[token - 3];
  return "<?>";
}

std::vector<std::int32_t> source_tokens(int n) {
  check_number(n);
  std::vector<std::int32_t> t;
  for (char c : std::to_string(n)) t.push_back(digit_token(c - '0'));
  return t;
}

std::vector<std::int32_t> target_words(int n) { return source_tokens(n); }

std::string words(const std::vector<std::int32_t>& tokens) {
  std::string out;
  for (std::int32_t t : tokens) {
    if (t == kEos) break;
    if (t == kPad || t == kSos) continue;
    if (!out.empty()) out += ' ';
    out += token_word(t);
  }
  return out;
}

int parse_number(const std::string& text) {
  const bool digits = !text.empty() && text.size() <= 3 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || (text.size() > 1 && text[0] == '0'))
    throw UsageError("expected a number 0..999 written in digits (no sign, no leading zeros), found '" + text + "'");
  return std::stoi(text);
}

Split split_numbers(std::uint64_t seed, double train_share) {
  HALFWAY_EXPECT(train_share > 0.0 && train_share < 1.0, "a training share in (0, 1)", std::to_string(train_share));
  std::vector<int> order(kNumbers);
  for (int i = 0; i < kNumbers; ++i) order[std::size_t(i)] = i;
  // Fisher-Yates: position i swaps with a uniform j in [0, i]. uniform() has 24 bits, so
  // floor(u * (i + 1)) is uniform to within 2^-14 for i < 1000: plenty for a split.
  const std::uint64_t s = rng::derive_seed(seed, 0x5b117);
  for (int i = kNumbers - 1; i > 0; --i) {
    const int j = std::min(i, int(rng::uniform(s, std::uint64_t(i)) * float(i + 1)));
    std::swap(order[std::size_t(i)], order[std::size_t(j)]);
  }
  const auto n_train = std::size_t(std::lround(train_share * kNumbers));
  Split split;
  split.train.assign(order.begin(), order.begin() + std::ptrdiff_t(n_train));
  split.held_out.assign(order.begin() + std::ptrdiff_t(n_train), order.end());
  return split;
}

int target_positions(int n) { return int(target_words(n).size()) + 1; }

std::int32_t counted_targets(const std::vector<int>& numbers) {
  std::int32_t count = 0;
  for (int n : numbers) count += target_positions(n);
  return count;
}

Batch make_batch(const std::vector<int>& numbers) {
  HALFWAY_EXPECT(!numbers.empty(), "a batch of at least one number", "an empty list");
  Batch b;
  b.B = int(numbers.size());
  for (int n : numbers) {
    const auto len = int(source_tokens(n).size());
    b.Ls = std::max(b.Ls, len);
    b.Lt = std::max(b.Lt, target_positions(n));
  }
  b.src.assign(std::size_t(b.B) * b.Ls, kPad);
  b.src_pad.assign(b.src.size(), 1);
  b.tgt_in.assign(std::size_t(b.B) * b.Lt, kPad);
  b.tgt_out.assign(b.tgt_in.size(), kPad);
  b.tgt_pad.assign(b.tgt_in.size(), 1);
  for (int r = 0; r < b.B; ++r) {
    const auto src = source_tokens(numbers[std::size_t(r)]);
    const auto tgt = target_words(numbers[std::size_t(r)]);
    for (std::size_t i = 0; i < src.size(); ++i) {
      b.src[std::size_t(r) * b.Ls + i] = src[i];
      b.src_pad[std::size_t(r) * b.Ls + i] = 0;
    }
    // decoder input <sos> w1..wn, target w1..wn <eos>: n + 1 positions each (target_positions)
    for (std::size_t i = 0; i <= tgt.size(); ++i) {
      const std::size_t at = std::size_t(r) * b.Lt + i;
      b.tgt_in[at] = i == 0 ? kSos : tgt[i - 1];
      b.tgt_out[at] = i == tgt.size() ? kEos : tgt[i];
      b.tgt_pad[at] = 0;
    }
  }
  return b;
}

}  // namespace halfway::task
