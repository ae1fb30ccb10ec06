"""Tests of the exercise generator and the grader's parsing (run by ctest, label `tools`)."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import exercises  # noqa: E402
import grade  # noqa: E402

SOLUTION = """#include "common/exercise.hpp"
float twice(float x) {
  // BEGIN EXERCISE 09.1 (2 points): Twice a value
  // HINT: multiply by two
  float y = x * 2.0f;
  return y;
  // END EXERCISE 09.1
}
"""


def write_tree(files):
    root = pathlib.Path(tempfile.mkdtemp())
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


class Generator(unittest.TestCase):
    def test_body_becomes_stub_and_hints_stay(self):
        found, files = exercises.generate(write_tree({"09_x/twice.cpp": SOLUTION}))
        self.assertEqual([(e.id, e.points, e.title) for e in found], [("09.1", 2, "Twice a value")])
        stub = files["09_x/twice.cpp"]
        self.assertIn('  HALFWAY_EXERCISE_NOT_IMPLEMENTED("09.1");\n', stub)
        self.assertIn("// HINT: multiply by two", stub)
        self.assertNotIn("x * 2.0f", stub)
        self.assertIn("// BEGIN EXERCISE 09.1", stub)
        self.assertIn("// END EXERCISE 09.1", stub)
        self.assertIn('"09.1"', files["exercises.json"])

    def test_unterminated_block_names_the_line(self):
        bad = SOLUTION.replace("  // END EXERCISE 09.1\n", "")
        with self.assertRaisesRegex(exercises.MarkerError, r"twice.cpp:3: expected END EXERCISE 09.1"):
            exercises.generate(write_tree({"09_x/twice.cpp": bad}))

    def test_mismatched_end(self):
        bad = SOLUTION.replace("END EXERCISE 09.1", "END EXERCISE 09.2")
        with self.assertRaisesRegex(exercises.MarkerError, r"found END EXERCISE 09.2"):
            exercises.generate(write_tree({"09_x/twice.cpp": bad}))

    def test_malformed_marker(self):
        bad = SOLUTION.replace("(2 points)", "(two points)")
        with self.assertRaisesRegex(exercises.MarkerError, r"expected '// BEGIN EXERCISE NN.M"):
            exercises.generate(write_tree({"09_x/twice.cpp": bad}))

    def test_duplicate_id(self):
        with self.assertRaisesRegex(exercises.MarkerError, r"found 09.1 again"):
            exercises.generate(write_tree({"09_x/a.cpp": SOLUTION, "09_x/b.cpp": SOLUTION}))


class Grader(unittest.TestCase):
    def test_first_error_is_one_line_with_values(self):
        out = ("[doctest] ...\n/work/main/chapters/01_fp16/tests/t.cpp:12: ERROR: CHECK( a == b ) is NOT correct!\n"
               "  values: CHECK( 1 == 2 )\n")
        self.assertEqual(grade.first_error(out),
                         "chapters/01_fp16/tests/t.cpp:12: ERROR: CHECK( a == b ) is NOT correct! | values: CHECK( 1 == 2 )")

    def test_scores_are_proportional_and_skips_do_not_count(self):
        ex = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3)
        results = [{"name": "a [ex09.1]", "status": "pass", "output": ""},
                   {"name": "b [ex09.1]", "status": "fail", "output": "x.cpp:1: ERROR: boom"},
                   {"name": "c [ex09.1]", "status": "skipped", "output": ""},
                   {"name": "d [ex09.2]", "status": "fail", "output": ""}]
        row, = grade.grade([ex], {}, results)
        self.assertEqual((row["earned"], row["passed"], row["tests"], row["result"]), (2.0, 1, 2, "fail"))
        self.assertIn("x.cpp:1: ERROR: boom", row["first_failure"])

    def test_expect_zero_requires_the_not_implemented_reason(self):
        ex = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3)
        rows = grade.grade([ex], {}, [{"name": "a [ex09.1]", "status": "fail", "output": "ERROR: wrong value"}])
        self.assertTrue(grade.check_expectation(rows, "zero"))
        rows = grade.grade([ex], {}, [{"name": "a [ex09.1]", "status": "fail",
                                       "output": "ERROR: exercise 09.1 is not implemented yet"}])
        self.assertEqual(grade.check_expectation(rows, "zero"), [])
        rows = grade.grade([ex], {}, [{"name": "a [ex09.1]", "status": "pass", "output": ""}])
        self.assertTrue(grade.check_expectation(rows, "zero"))

    def test_build_failure_earns_nothing(self):
        ex = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3)
        row, = grade.grade([ex], {"09": "build failed: x"}, [{"name": "a [ex09.1]", "status": "pass", "output": ""}])
        self.assertEqual(row["earned"], 0.0)


if __name__ == "__main__":
    unittest.main()
