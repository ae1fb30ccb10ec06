"""tools/check_exercise_bodies.py finds an exercise's answer copied elsewhere (whitespace and
comments changed too), ignores trivial lines and the folders that may hold it, and passes a
tree without copies."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import check_exercise_bodies as check  # noqa: E402

BODY = ["  const float x = a[i] * scale;\n", "  }\n", "  acc += x * x;  // the square\n",
        "  #pragma unroll\n", "  out[i] = acc + bias[i];\n"]


def windows():
    sig = [t for _, t in check.significant(BODY)]
    return {tuple(sig[k:k + check.WINDOW]): "99.1 (solutions/x.hpp:1)" for k in range(len(sig) - check.WINDOW + 1)}


def tree(files):
    root = pathlib.Path(tempfile.mkdtemp())
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


class ExerciseBodies(unittest.TestCase):
    def test_trivial_lines_and_comments_do_not_count(self):
        self.assertEqual([t for _, t in check.significant(BODY)],
                         ["const float x = a[i] * scale;", "acc += x * x;", "out[i] = acc + bias[i];"])

    def test_a_copy_with_other_whitespace_and_comments_is_found(self):
        copy = "void f() {\n  const float   x = a[i] * scale;  // mine\n\n  acc += x * x;\n}\n  out[i] = acc + bias[i];\n"
        found = check.hits(tree({"kernels/k/f.cuh": copy}), windows())
        self.assertEqual(len(found), 1)
        self.assertTrue(found[0].startswith("kernels/k/f.cuh:2:"), found[0])

    def test_solutions_exercises_and_mutants_may_hold_it(self):
        text = "".join(BODY)
        root = tree({"solutions/x.hpp": text, "exercises/x.hpp": text, "tools/mutants/99.1.mut": text})
        self.assertEqual(check.hits(root, windows()), [])

    def test_a_partial_copy_shorter_than_the_window_passes(self):
        root = tree({"kernels/k/g.cuh": "const float x = a[i] * scale;\nacc += x * x;\nreturn acc;\n"})
        self.assertEqual(check.hits(root, windows()), [])

    def test_every_exercise_of_solutions_has_windows(self):
        owners = {o.split()[0] for o in check.body_windows(check.ROOT / "solutions").values()}
        ids = {e.id for e in check.exercise_tool.generate(check.ROOT / "solutions")[0]}
        self.assertEqual(owners, ids)


if __name__ == "__main__":
    unittest.main()
