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

    def test_lines_point_into_the_stub_the_student_opens(self):
        found, files = exercises.generate(write_tree({"09_x/twice.cpp": SOLUTION}))
        ex, = found
        self.assertEqual(ex.solution_line, 3)
        stub = files["09_x/twice.cpp"].splitlines()
        self.assertTrue(stub[ex.line - 1].strip().startswith("// BEGIN EXERCISE 09.1"), stub)
        self.assertNotEqual(ex.line, ex.solution_line)  # the stub has a banner
        self.assertIn(f"09_x/twice.cpp:{ex.line}", files["README.md"])

    def test_every_gate_names_an_exercise_of_the_course(self):
        found, _ = exercises.generate(exercises.ROOT / "solutions")
        ids = {e.id for e in found}
        self.assertEqual(sorted(set(exercises.GATES) - ids), [])
        for e in found:
            for g in e.gates:
                self.assertTrue(g.test and 0.0 <= g.cap < 1.0, (e.id, g))

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

    def test_a_failing_test_caps_the_points_at_a_third_and_skips_do_not_count(self):
        ex = exercises.Exercise("09.1", "Twice", 6, "09_x/twice.cpp", 3)
        results = [{"name": f"a{i} [ex09.1]", "status": "pass", "output": ""} for i in range(9)]
        results += [{"name": "b [ex09.1]", "status": "fail", "output": "x.cpp:1: ERROR: boom"},
                    {"name": "c [ex09.1]", "status": "skipped", "output": ""},
                    {"name": "d [ex09.2]", "status": "fail", "output": ""}]
        row, = grade.grade([ex], {}, results)  # 5.4 of 6 by share: a plausible mistake keeps 2 at most
        self.assertEqual((row["earned"], row["passed"], row["tests"], row["result"]), (2.0, 9, 10, "fail"))
        self.assertIn("x.cpp:1: ERROR: boom", row["first_failure"])
        self.assertIn("capped at 33%", row["first_failure"])

    def test_below_the_cap_the_share_of_passing_tests_counts(self):
        ex = exercises.Exercise("09.1", "Twice", 6, "09_x/twice.cpp", 3)
        results = [{"name": "a [ex09.1]", "status": "pass", "output": ""}] + [
            {"name": f"b{i} [ex09.1]", "status": "fail", "output": "ERROR: x"} for i in range(5)]
        row, = grade.grade([ex], {}, results)
        self.assertEqual(row["earned"], 1.0)

    def test_expect_zero_requires_the_not_implemented_reason(self):
        ex = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3)
        rows = grade.grade([ex], {}, [{"name": "a [ex09.1]", "status": "fail", "output": "ERROR: wrong value"}])
        self.assertTrue(grade.check_expectation(rows, "zero"))
        rows = grade.grade([ex], {}, [{"name": "a [ex09.1]", "status": "fail",
                                       "output": "ERROR: exercise 09.1 is not implemented yet"}])
        self.assertEqual(grade.check_expectation(rows, "zero"), [])
        rows = grade.grade([ex], {}, [{"name": "a [ex09.1]", "status": "pass", "output": ""}])
        self.assertTrue(grade.check_expectation(rows, "zero"))

    def test_a_failing_gate_caps_the_points(self):
        ex = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3, 3, [exercises.Gate("every input", 0.25)])
        results = [{"name": f"t{i} [ex09.1]", "status": "pass", "output": ""} for i in range(9)]
        results.append({"name": "every input is doubled [ex09.1]", "status": "fail", "output": "x.cpp:1: ERROR: 3 != 4"})
        row, = grade.grade([ex], {}, results)
        self.assertEqual((row["earned"], row["result"]), (1.0, "gate"))  # 3.6 of 4 without the gate
        self.assertIn("gate failed", row["first_failure"])
        results[-1]["status"] = "pass"
        row, = grade.grade([ex], {}, results)
        self.assertEqual((row["earned"], row["result"]), (4.0, "pass"))

    def test_build_failure_of_one_exercise_earns_nothing_for_it_only(self):
        a = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3)
        b = exercises.Exercise("09.2", "Thrice", 2, "09_x/twice.cpp", 9)
        rows = grade.grade([a, b], {"09.1": "build failed: x"},
                           [{"name": "a [ex09.1]", "status": "pass", "output": ""},
                            {"name": "b [ex09.2]", "status": "pass", "output": ""}])
        self.assertEqual([r["earned"] for r in rows], [0.0, 2.0])
        self.assertEqual(grade.check_expectation(rows, {"09.1": "zero", "09.2": "full"}), [])
        self.assertTrue(grade.check_expectation(rows, {"09.1": "full"}))
        self.assertEqual(grade.check_expectation(rows, grade.parse_expect_each("09.1=zero,*=full")), [])
        self.assertTrue(grade.check_expectation(rows, grade.parse_expect_each("*=full")))

    def test_build_failure_earns_nothing(self):
        ex = exercises.Exercise("09.1", "Twice", 4, "09_x/twice.cpp", 3)
        row, = grade.grade([ex], {"09": "build failed: x"}, [{"name": "a [ex09.1]", "status": "pass", "output": ""}])
        self.assertEqual(row["earned"], 0.0)


class Isolation(unittest.TestCase):
    """The grader takes only the marked body from the student's file."""

    def setUp(self):
        self.stub = exercises.parse(write_tree({"09_x/twice.cpp": SOLUTION}) / "09_x/twice.cpp", "09_x/twice.cpp")[1]

    def student(self, text):
        return grade.read_student(write_tree({"09_x/twice.cpp": text}), "09_x/twice.cpp", self.stub, ["09.1"])

    def test_body_is_taken_and_the_rest_comes_from_the_solution(self):
        mine = self.stub.replace('  HALFWAY_EXERCISE_NOT_IMPLEMENTED("09.1");\n', "  return x + x;\n")
        s = self.student(mine)
        self.assertEqual(s.errors, {})
        self.assertEqual(s.ignored, [])
        tree = grade.variant(SOLUTION, "09.1", s.bodies["09.1"])
        self.assertIn("return x + x;", tree)
        self.assertNotIn("x * 2.0f", tree)
        self.assertTrue(tree.startswith('#include "common/exercise.hpp"'))  # no banner: the solution's text

    def test_changes_outside_the_markers_are_reported_with_their_line(self):
        mine = self.stub.replace("float twice(float x) {", "float twice(float x) {  // mine")
        mine = mine.replace("}\n", "}\nint extra = 1;\n")
        s = self.student(mine)
        lines = mine.splitlines()
        at = [i + 1 for i, l in enumerate(lines) if "// mine" in l or "extra" in l]
        self.assertEqual([c.split(":")[1] for c in s.ignored], [str(n) for n in at])
        self.assertTrue(all(c.startswith("09_x/twice.cpp:") for c in s.ignored))

    def test_solutions_folder_has_no_changes(self):
        s = self.student(SOLUTION)
        self.assertEqual((s.errors, s.ignored), ({}, []))

    def test_missing_markers_or_file_fail_only_that_exercise(self):
        s = self.student(self.stub.replace("// END EXERCISE 09.1", "// END EXERCISE 09.2"))
        self.assertIn("09.1", s.errors)
        s = grade.read_student(write_tree({}), "09_x/twice.cpp", self.stub, ["09.1"])
        self.assertIn("missing", s.errors["09.1"])

    def test_compiler_lines_point_into_the_students_file(self):
        text = "/b/grading-tree/09_x/twice.cpp:5:3: error: boom"
        self.assertEqual(grade.map_lines(text, "09_x/twice.cpp", 3, 10, 4), "09_x/twice.cpp:12:3: error: boom")
        self.assertEqual(grade.map_lines("/b/grading-tree/09_x/other.hpp:5: error: x", "09_x/twice.cpp", 3, 10, 4),
                         "solutions/09_x/other.hpp:5: error: x")
        self.assertIn("solutions/09_x/twice.cpp:1:", grade.map_lines(text.replace(":5:", ":1:"), "09_x/twice.cpp", 3, 10, 4))


if __name__ == "__main__":
    unittest.main()
