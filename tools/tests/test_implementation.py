"""Tests of the student build's composition, tools/implementation.py (ctest, label `tools`)."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import exercises  # noqa: E402
import implementation  # noqa: E402

SOLUTION = """#include "common/exercise.hpp"
float twice(float x) {
  // BEGIN EXERCISE 09.1 (2 points): Twice a value
  // HINT: multiply by two
  return x * 2.0f;
  // END EXERCISE 09.1
}
float thrice(float x) {
  // BEGIN EXERCISE 09.2 (1 point): Thrice a value
  return x * 3.0f;
  // END EXERCISE 09.2
}
"""


def folders():
    """(solutions, the student's generated exercises, an output folder)."""
    root = pathlib.Path(tempfile.mkdtemp())
    (root / "solutions/09_x").mkdir(parents=True)
    (root / "solutions/09_x/calc.hpp").write_text(SOLUTION)
    _, files = exercises.generate(root / "solutions")
    implementation.write(root / "exercises", files, set())
    return root / "solutions", root / "exercises", root / "out"


def write_body(student: pathlib.Path, ex_id: str, body: str) -> None:
    path = student / "09_x/calc.hpp"
    path.write_text(path.read_text().replace(f'  HALFWAY_EXERCISE_NOT_IMPLEMENTED("{ex_id}");\n', body))


class Compose(unittest.TestCase):
    def test_unwritten_exercises_run_the_reference(self):
        sol, student, out = folders()
        composed = implementation.compose(sol, student, out)
        self.assertEqual(composed.files["09_x/calc.hpp"], SOLUTION)
        self.assertEqual((composed.yours, composed.reference), ([], ["09.1", "09.2"]))
        self.assertEqual(composed.files[implementation.STATUS_FILE], "09.1 reference\n09.2 reference\n")
        self.assertEqual(composed.warnings, [])

    def test_blank_lines_spaces_and_hints_do_not_make_a_body_written(self):
        sol, student, out = folders()
        write_body(student, "09.1", '  // HINT: a hint changed in solutions/ since the copy was made\n'
                                    '  HALFWAY_EXERCISE_NOT_IMPLEMENTED("09.1");   \n\n')
        self.assertEqual(implementation.compose(sol, student, out).yours, [])
        write_body(student, "09.2", '  // started: 3 * x\n  HALFWAY_EXERCISE_NOT_IMPLEMENTED("09.2");\n')
        self.assertEqual(implementation.compose(sol, student, out).yours, ["09.2"])

    def test_a_written_body_keeps_its_file_and_lines_and_records_its_runs(self):
        sol, student, out = folders()
        write_body(student, "09.2", "  return x + x + x;\n")
        composed = implementation.compose(sol, student, out)
        self.assertEqual((composed.yours, composed.reference), (["09.2"], ["09.1"]))
        self.assertEqual(composed.files[implementation.STATUS_FILE], "09.1 reference\n09.2 yours\n")
        lines = composed.files["09_x/calc.hpp"].splitlines()
        mine = lines.index("  return x + x + x;")
        self.assertEqual(lines[mine - 2], "  HALFWAY_EXERCISE_RAN(1);")  # 09.2: line 1 of the status file
        student_lines = (student / "09_x/calc.hpp").read_text().splitlines()
        self.assertEqual(lines[mine - 1], f'#line {student_lines.index("  return x + x + x;") + 1} '
                                          f'"{(student / "09_x/calc.hpp").resolve()}"')
        # after the body, the composed file's own numbering: the #line names the next line
        self.assertEqual(lines[mine + 1], f'#line {mine + 3} "{(out / "09_x/calc.hpp").resolve()}"')
        self.assertEqual(lines[mine + 2], "  // END EXERCISE 09.2")
        self.assertIn("  return x * 2.0f;", lines)  # 09.1 unwritten: the reference

    def test_reference_for_overrides_a_written_body(self):
        sol, student, out = folders()
        write_body(student, "09.1", "  return x + x;\n")
        composed = implementation.compose(sol, student, out, {"09.1"})
        self.assertEqual(composed.yours, [])
        with self.assertRaises(exercises.MarkerError):
            implementation.compose(sol, student, out, {"09.7"})

    def test_broken_markers_and_outside_edits_are_warned_about(self):
        sol, student, out = folders()
        path = student / "09_x/calc.hpp"
        path.write_text(path.read_text().replace("float thrice", "float thrice_renamed"))
        composed = implementation.compose(sol, student, out)
        self.assertIn("09_x/calc.hpp", composed.files)
        self.assertTrue(any("outside the exercise markers" in w for w in composed.warnings), composed.warnings)
        self.assertNotIn("thrice_renamed", composed.files["09_x/calc.hpp"])
        path.write_text(path.read_text().replace("  // END EXERCISE 09.2\n", ""))
        composed = implementation.compose(sol, student, out)
        self.assertEqual(composed.yours, [])
        self.assertTrue(any("expected END EXERCISE 09.2" in w for w in composed.warnings), composed.warnings)

    def test_a_copy_of_solutions_is_all_written_without_warnings(self):
        sol, student, out = folders()
        composed = implementation.compose(sol, sol, out)
        self.assertEqual((composed.yours, composed.warnings), (["09.1", "09.2"], []))

    def test_write_touches_only_changed_files(self):
        sol, student, out = folders()
        files = implementation.compose(sol, student, out).files
        self.assertEqual(sorted(implementation.write(out, files, set())), sorted(files))
        self.assertEqual(implementation.write(out, files, set()), [])
        write_body(student, "09.1", "  return x + x;\n")
        self.assertEqual(implementation.write(out, implementation.compose(sol, student, out).files, set()),
                         ["09_x/calc.hpp", implementation.STATUS_FILE])

    def test_with_bodies_replaces_only_the_named_blocks(self):
        text = implementation.with_bodies(SOLUTION, {"09.2": ["  return 0.0f;"]})
        self.assertIn("  return 0.0f;\n  // END EXERCISE 09.2", text)
        self.assertIn("return x * 2.0f;", text)
        self.assertNotIn("x * 3.0f", text)


if __name__ == "__main__":
    unittest.main()
