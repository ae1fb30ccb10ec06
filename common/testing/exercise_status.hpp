/// @file exercise_status.hpp
/// @brief In a student build: the tests of an exercise run on the reference fail, and a failing
/// test names the student's other exercises it may have run.
///
/// A student build (HALFWAY_IMPL=mixed) compiles the student's body of each exercise they
/// wrote and the reference body of the others (tools/implementation.py), so the tests of
/// exercise 04.2 do not fail because 01.1 is still a stub. The reference must not earn a
/// green test, though: each test tagged with such an exercise fails with one line
/// instead of running. And since a test of 04.2 may also run the student's 01.1, a failing
/// test names the student's exercises of its chapter and earlier as possible causes.
/// Included once, by common/testing/test_main.cpp (after doctest's implementation).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace halfway::testing {

struct ExerciseStatus {
  std::set<std::string> yours, reference;  // exercise ids ("04.2")
};

/// The status file tools/implementation.py writes: "ID yours" or "ID reference" per line.
inline ExerciseStatus read_exercise_status(const char* path) {
  ExerciseStatus status;
  std::ifstream in(path);
  std::string id, kind;
  while (in >> id >> kind) (kind == "yours" ? status.yours : status.reference).insert(id);
  return status;
}

inline ExerciseStatus& exercise_status() {
  static ExerciseStatus status;
  return status;
}

/// The exercises a test belongs to: its [exNN.M] tags.
inline std::vector<std::string> exercise_tags(const std::string& name) {
  static const std::regex tag(R"(\[ex(\d\d\.\d+)\])");
  std::vector<std::string> ids;
  for (std::sregex_iterator it(name.begin(), name.end(), tag), end; it != end; ++it) ids.push_back((*it)[1]);
  return ids;
}

inline std::string& current_test_name() {
  static std::string name;
  return name;
}

/// The body that replaces a test of an exercise that runs on the reference.
inline void refuse_reference_test() {
  for (const std::string& id : exercise_tags(current_test_name()))
    if (exercise_status().reference.count(id))
      throw std::runtime_error("exercise " + id + " is not implemented yet (this build uses the reference for it, "
                               "so the exercises that build on it can be tested)");
}

inline bool is_earlier_or_same_chapter(const std::string& id, const std::string& chapter) {
  return id.substr(0, 2) <= chapter;
}

/// Records the running test's name; after a failing test, names the student's other
/// exercises of its chapter and earlier (the ones it may have run) as possible causes.
struct ExerciseStatusListener : doctest::IReporter {
  explicit ExerciseStatusListener(const doctest::ContextOptions&) {}
  void test_case_start(const doctest::TestCaseData& tc) override { current_test_name() = tc.m_name; }
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    if (stats.testCaseSuccess) return;
    const std::vector<std::string> own = exercise_tags(current_test_name());
    for (const std::string& id : own)
      if (exercise_status().reference.count(id)) return;  // refused: its line says why
    const std::string chapter = own.empty() ? HALFWAY_TEST_CHAPTER_NUMBER : own.front().substr(0, 2);
    std::string others;
    for (const std::string& id : exercise_status().yours)
      if (is_earlier_or_same_chapter(id, chapter) && std::find(own.begin(), own.end(), id) == own.end())
        others += (others.empty() ? "" : ", ") + id;
    if (!others.empty())
      std::printf("note: this test may also run your exercise(s) %s: a mistake there fails it too "
                  "(run their tests: ctest -L ex<ID>)\n", others.c_str());
  }
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("halfway_exercise_status", 1, ExerciseStatusListener);

/// Reads the status file and replaces the body of every test of an exercise that runs on
/// the reference by refuse_reference_test. False (with one line) when the file is missing.
inline bool apply_exercise_status(const char* status_file) {
  if (!std::ifstream(status_file)) {
    std::fprintf(stderr, "error: expected the student build's exercise status in %s, found nothing (rebuild)\n",
                 status_file);
    return false;
  }
  exercise_status() = read_exercise_status(status_file);
  for (const doctest::detail::TestCase& tc : doctest::detail::getRegisteredTests())
    for (const std::string& id : exercise_tags(tc.m_name))
      if (exercise_status().reference.count(id))
        const_cast<doctest::detail::TestCase&>(tc).m_test = &refuse_reference_test;  // not part of the set's order
  return true;
}

}  // namespace halfway::testing
