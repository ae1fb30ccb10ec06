// The task's data: tokens, words, the seeded split and batches (common/number_words.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "common/error.hpp"
#include "common/number_words.hpp"

using namespace halfway;
using namespace halfway::task;

TEST_CASE("task: digits and words share one 13-token vocabulary") {
  CHECK(source_tokens(407) == std::vector<std::int32_t>{7, 3, 10});
  CHECK(source_tokens(0) == std::vector<std::int32_t>{3});
  CHECK(words(target_words(407)) == "four zero seven");
  CHECK(words(target_words(985)) == "nine eight five");
  CHECK(words({kSos, 4, 5, kEos, 6}) == "one two");  // <eos> ends the text
  for (int d = 0; d < 10; ++d) CHECK(digit_token(d) < kVocab);
  CHECK(token_word(12) == "nine");
  CHECK(token_word(13) == "<?>");
  CHECK_THROWS_AS(source_tokens(1000), Error);
  CHECK_THROWS_AS(source_tokens(-1), Error);
}

TEST_CASE("task: parse_number accepts 0..999 in plain digits only") {
  CHECK(parse_number("0") == 0);
  CHECK(parse_number("999") == 999);
  for (const char* bad : {"", "1000", "-1", "07", "4a", " 4", "+4"})
    CHECK_THROWS_WITH_AS(parse_number(bad), doctest::Contains("expected a number 0..999"), UsageError);
}

TEST_CASE("task: the split is a seeded 80/20 partition of 0..999") {
  const Split a = split_numbers(1), b = split_numbers(1), c = split_numbers(2);
  CHECK(a.train.size() == 800);
  CHECK(a.held_out.size() == 200);
  CHECK(a.train == b.train);
  CHECK(a.train != c.train);
  std::set<int> all(a.train.begin(), a.train.end());
  for (int n : a.held_out) CHECK(all.insert(n).second);  // disjoint
  CHECK(all.size() == 1000);
  CHECK(*all.begin() == 0);
  CHECK(*all.rbegin() == 999);
  // held-out numbers of every length (a split by accident of order would not have them)
  CHECK(std::count_if(a.held_out.begin(), a.held_out.end(), [](int n) { return n < 100; }) > 5);
  CHECK_THROWS_AS(split_numbers(1, 1.0), Error);
}

TEST_CASE("task: a batch pads to its longest number and masks the padding") {
  const Batch b = make_batch({7, 407, 12});
  CHECK(b.B == 3);
  CHECK(b.Ls == 3);
  CHECK(b.Lt == 4);
  // 7: source [10 pad pad], decoder in [sos seven pad pad], out [seven eos pad pad]
  CHECK(std::vector<std::int32_t>(b.src.begin(), b.src.begin() + 3) == std::vector<std::int32_t>{10, kPad, kPad});
  CHECK(std::vector<std::uint8_t>(b.src_pad.begin(), b.src_pad.begin() + 3) == std::vector<std::uint8_t>{0, 1, 1});
  CHECK(std::vector<std::int32_t>(b.tgt_in.begin(), b.tgt_in.begin() + 4) == std::vector<std::int32_t>{kSos, 10, kPad, kPad});
  CHECK(std::vector<std::int32_t>(b.tgt_out.begin(), b.tgt_out.begin() + 4) == std::vector<std::int32_t>{10, kEos, kPad, kPad});
  CHECK(std::vector<std::uint8_t>(b.tgt_pad.begin(), b.tgt_pad.begin() + 4) == std::vector<std::uint8_t>{0, 0, 1, 1});
  // 407: full length
  CHECK(std::vector<std::int32_t>(b.tgt_in.begin() + 4, b.tgt_in.begin() + 8) == std::vector<std::int32_t>{kSos, 7, 3, 10});
  CHECK(std::vector<std::int32_t>(b.tgt_out.begin() + 4, b.tgt_out.begin() + 8) == std::vector<std::int32_t>{7, 3, 10, kEos});
  CHECK_THROWS_AS(make_batch({}), Error);
}

TEST_CASE("task: counted_targets of a list of numbers is the count of its batch's targets, without the batch") {
  // Every number alone, then batches that mix lengths (1, 2 and 3 digits) in several orders.
  for (int n = 0; n < kNumbers; ++n) CHECK(counted_targets(std::vector<int>{n}) == counted_targets(make_batch({n}), kPad));
  const std::vector<std::vector<int>> batches = {{7, 42, 407}, {999, 0, 10, 5}, {100, 101, 110, 111}, {3, 3, 3}};
  for (const auto& numbers : batches) {
    CHECK(counted_targets(numbers) == counted_targets(make_batch(numbers), kPad));
    CHECK(counted_targets(numbers) > 0);
  }
}
