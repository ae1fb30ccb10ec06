/// @file number_words.hpp
/// @brief The course's task: a number 0..999 written in digits, to its digits as words
/// ("407" -> "four zero seven"). The seed's task, with its bugs fixed (chapter 07's lesson lists them):
/// all ten digit words, the source tokenised in the same 13-token vocabulary, targets of
/// different lengths padded, and a held-out set of numbers never seen in training.
///
/// Vocabulary (shared by source and target, so one embedding serves both):
///
///     0 <pad>   1 <sos>   2 <eos>   3 "0"/zero   4 "1"/one   ...   12 "9"/nine
///
/// A digit d is token 3 + d on both sides: the source "407" is [7, 3, 10]; the target is
/// `<sos>` four zero seven `<eos>` = [1, 7, 3, 10, 2], fed to the decoder as tgt_in = [1, 7, 3, 10]
/// and predicted as tgt_out = [7, 3, 10, 2]. Padding is `<pad>` with the mask set; the loss
/// ignores `<pad>` targets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/batch.hpp"

namespace halfway::task {

inline constexpr int kPad = 0, kSos = 1, kEos = 2;
inline constexpr int kVocab = 13;        ///< 3 special tokens and ten digits
inline constexpr int kNumbers = 1000;    ///< the task's numbers: 0 .. 999
inline constexpr int kMaxSource = 3;     ///< digits of 999
inline constexpr int kMaxTarget = 4;     ///< three words and `<sos>` (or `<eos>`)

/// The token of digit d (0..9).
inline constexpr std::int32_t digit_token(int d) { return 3 + d; }

/// "zero" .. "nine" for digit tokens, `"<pad>"`, `"<sos>"`, `"<eos>"` for the others; "<?>"
/// outside the vocabulary.
std::string token_word(std::int32_t token);
/// The source tokens of n (its decimal digits, no leading zeros; "0" for 0).
std::vector<std::int32_t> source_tokens(int n);
/// The words of n's digits as tokens, without `<sos>`/`<eos>`.
std::vector<std::int32_t> target_words(int n);
/// "four zero seven": tokens as words, `<eos>` ends the text, `<pad>`/`<sos>` are skipped.
std::string words(const std::vector<std::int32_t>& tokens);
/// Parses "407" into 407; throws UsageError unless it is a number 0..999 in plain digits.
int parse_number(const std::string& text);

/// The seeded split: a permutation of 0..999 by the seed (Fisher-Yates with the course's
/// counter-based RNG), the first round(share * 1000) numbers for training, the rest held
/// out. The same seed gives the same split on every machine.
struct Split {
  std::vector<int> train, held_out;
};
Split split_numbers(std::uint64_t seed, double train_share = 0.8);

/// A batch of the given numbers: lengths padded to the longest in the batch.
Batch make_batch(const std::vector<int>& numbers);

/// The target positions of number n in a batch (its words and `<eos>`): what a mean loss
/// counts for it. make_batch lays out exactly these.
int target_positions(int n);
/// counted_targets(make_batch(numbers), kPad), without building the batch (chapter 08's
/// ranks count the global micro-batch's targets every step).
std::int32_t counted_targets(const std::vector<int>& numbers);

}  // namespace halfway::task
