"""tools/check_layout.py finds what it must: a chapter including another chapter's file,
library code including a chapter, a chapter defining a library, common/ including kernels/;
and passes a clean tree."""
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import check_layout  # noqa: E402


def tree(files):
    root = pathlib.Path(tempfile.mkdtemp())
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


class LayoutRule(unittest.TestCase):
    def test_clean_tree_passes(self):
        root = tree({"chapters/03_x/a.cpp": '#include "chapters/03_x/b.hpp"\n#include "kernels/l/m.hpp"\n',
                     "chapters/03_x/CMakeLists.txt": "halfway_program(p)\n",
                     "kernels/l/m.hpp": '#include "common/e.hpp"\n',
                     "common/e.hpp": '#include "common/f.hpp"\n'})
        self.assertEqual(check_layout.violations(root), [])

    def test_chapter_including_another_chapter_fails(self):
        root = tree({"chapters/07_t/main.cpp": '#include "chapters/03_x/transformer.hpp"\n'})
        found = check_layout.violations(root)
        self.assertEqual(len(found), 1)
        self.assertIn("chapters/07_t/main.cpp:1", found[0])

    def test_library_including_a_chapter_fails(self):
        root = tree({"kernels/l/m.hpp": '\n#include "chapters/03_x/b.hpp"\n'})
        self.assertIn("kernels/l/m.hpp:2", check_layout.violations(root)[0])

    def test_common_including_kernels_fails(self):
        root = tree({"common/host/r.cpp": '#include "common/e.hpp"\n#include "kernels/fp16/half.hpp"\n'})
        found = check_layout.violations(root)
        self.assertEqual(len(found), 1)
        self.assertIn("common/host/r.cpp:2", found[0])
        self.assertIn("common/ includes the course's library", found[0])

    def test_chapter_defining_a_library_fails(self):
        root = tree({"chapters/02_g/CMakeLists.txt": "add_library(halfway_gemm STATIC g.cpp)\n"})
        self.assertIn("defines a library", check_layout.violations(root)[0])

    def test_this_repository_follows_the_rule(self):
        self.assertEqual(check_layout.violations(check_layout.ROOT), [])


if __name__ == "__main__":
    unittest.main()
