/// @file exercise_status.hpp
/// @brief In a student build: the tests of an exercise run on the reference fail, and a failing
/// test names the student's other exercises it may have run.
///
/// A student build (HALFWAY_IMPL=mixed) compiles the student's body of each exercise they
/// wrote and the reference body of the others (tools/implementation.py), so the tests of
/// exercise 04.2 do not fail because 01.1 is still a stub. The reference must not earn a
/// green test, though: each test tagged with such an exercise fails with one line
/// instead of running. And since a test of 04.2 may also run the student's 01.1, a failing
/// test names the student's other exercises that ran during it (HALFWAY_EXERCISE_RAN,
/// common/exercise.hpp) as possible causes; on a GPU, where runs are not recorded, the
/// student's exercises of its chapter and earlier.
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

#include "common/exercise.hpp"

namespace halfway::testing {

struct ExerciseStatus {
  std::set<std::string> yours, reference;  // exercise ids ("04.2")
  std::vector<std::string> order;          // line k: the exercise HALFWAY_EXERCISE_RAN(k) records
};

/// The status file tools/implementation.py writes: "ID yours" or "ID reference" per line.
inline ExerciseStatus read_exercise_status(const char* path) {
  ExerciseStatus status;
  std::ifstream in(path);
  std::string id, kind;
  while (in >> id >> kind) {
    (kind == "yours" ? status.yours : status.reference).insert(id);
    status.order.push_back(id);
  }
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

/// The student's exercises other than `own` that ran since the test started.
inline std::string others_that_ran(const std::vector<std::string>& own) {
  const ExerciseStatus& status = exercise_status();
  const unsigned now = exercise_runs.epoch.load();
  std::string ran;
  for (std::size_t k = 0; k < status.order.size() && k < std::size_t(ExerciseRuns::kMax); ++k) {
    const std::string& id = status.order[k];
    if (exercise_runs.seen[k].load() == now && std::find(own.begin(), own.end(), id) == own.end())
      ran += (ran.empty() ? "" : ", ") + id;
  }
  return ran;
}

/// The student's exercises of a chapter and earlier, other than `own`: the ones a test of
/// that chapter may run where runs are not recorded (on a GPU).
inline std::string others_up_to(const std::string& chapter, const std::vector<std::string>& own) {
  std::string may;
  for (const std::string& id : exercise_status().yours)
    if (id.substr(0, 2) <= chapter && std::find(own.begin(), own.end(), id) == own.end())
      may += (may.empty() ? "" : ", ") + id;
  return may;
}

/// Records the running test's name and starts a new epoch of exercise runs; after a
/// failing test, names the student's other exercises it ran as possible causes.
struct ExerciseStatusListener : doctest::IReporter {
  explicit ExerciseStatusListener(const doctest::ContextOptions&) {}
  void test_case_start(const doctest::TestCaseData& tc) override {
    current_test_name() = tc.m_name;
    exercise_runs.epoch.fetch_add(1);
  }
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    if (stats.testCaseSuccess) return;
    const std::vector<std::string> own = exercise_tags(current_test_name());
    for (const std::string& id : own)
      if (exercise_status().reference.count(id)) return;  // refused: its line says why
    const std::string ran = others_that_ran(own);
    if (!ran.empty())
      std::printf("note: this test also ran your exercise(s) %s: a mistake there fails it too "
                  "(their own tests: ctest -L ex<ID>)\n", ran.c_str());
#if defined(HALFWAY_TEST_NEEDS_GPU)
    const std::string may = others_up_to(own.empty() ? HALFWAY_TEST_CHAPTER_NUMBER : own.front().substr(0, 2), own);
    if (!may.empty())
      std::printf("note: what ran on the GPU is not recorded; this test may also run your exercise(s) %s: "
                  "a mistake there fails it too\n", may.c_str());
#endif
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
