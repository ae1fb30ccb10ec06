#!/usr/bin/env python3
"""The layout rule (CONTRIBUTING.md, "Layout"), checked.

A chapter folder holds its lesson, programs, tests and figure wiring only. Code another
chapter uses lives in kernels/<topic>/ or common/. So:
  1. no file under chapters/NN_x includes a file of another chapter's folder;
  2. nothing under kernels/ or common/ includes a file under chapters/;
  3. no chapter's CMakeLists.txt defines a library (add_library): targets that others
     link are defined under kernels/ or common/;
  4. nothing under common/ includes a file under kernels/: common/ is the infrastructure
     below the course's library, so its arrows point down only.
Prints one line per violation (file:line: what) and exits 1 when there is any.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = {".hpp", ".cpp", ".cu", ".cuh", ".h", ".cc", ".py", ".in"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]')
CHAPTER = re.compile(r"^chapters/(\d\d_[^/]+)/")


def sources(root, folder):
    for path in sorted((root / folder).rglob("*")):
        if path.is_file() and path.suffix in SOURCE_SUFFIXES:
            yield path


def violations(root=ROOT):
    found = []
    for folder in ("chapters", "kernels", "common"):
        for path in sources(root, folder):
            rel = path.relative_to(root).as_posix()
            own = CHAPTER.match(rel)
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if m and folder == "common" and m.group(1).startswith("kernels/"):
                    found.append(f"{rel}:{number}: common/ includes the course's library '{m.group(1)}' "
                                 f"(common/ sits below kernels/: move what it needs down)")
                if not m or not m.group(1).startswith("chapters/"):
                    continue
                target = CHAPTER.match(m.group(1))
                if own is None:
                    found.append(f"{rel}:{number}: library code includes chapter code '{m.group(1)}'")
                elif target is None or target.group(1) != own.group(1):
                    found.append(f"{rel}:{number}: chapter {own.group(1)} includes another chapter's "
                                 f"file '{m.group(1)}' (move it to kernels/ or common/)")
    for cmake in sorted((root / "chapters").glob("*/CMakeLists.txt")):
        rel = cmake.relative_to(root).as_posix()
        for number, line in enumerate(cmake.read_text().splitlines(), 1):
            if re.match(r"^\s*add_library\s*\(", line):
                found.append(f"{rel}:{number}: a chapter defines a library (define it under kernels/ or common/)")
    return found


def main():
    found = violations()
    for v in found:
        print(v)
    if found:
        print(f"check_layout: {len(found)} violation(s) of the layout rule (CONTRIBUTING.md, Layout)", file=sys.stderr)
        return 1
    print("check_layout: every chapter includes only its own folder, kernels/ and common/; common/ includes no kernels/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
