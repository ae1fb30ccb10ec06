#!/usr/bin/env python3
"""Fails when an exercise's answer appears anywhere else in the course.

    tools/check_exercise_bodies.py          check this checkout (exit 1 on a hit)

An answer is the body of a marked region in solutions/ (tools/exercises.py). Lines are
compared after normalising: comments and HINT lines dropped, whitespace collapsed, trivial
lines left out (braces, `#pragma unroll`, `return x;`, anything under 12 characters). A hit
is WINDOW consecutive non-trivial lines of a body (the whole body when it is shorter) found
as consecutive non-trivial lines of a course file outside solutions/, exercises/ (the stubs)
and tools/mutants/ (wrong variants of the bodies, by design). Every text file git tracks is
searched, lessons included: a lesson that prints the answer gives it away as surely as a
kernel that contains it.

KNOWN lists the copies still to be removed (file -> why it is still there); they are
printed, not failed, and a KNOWN entry that no longer hits fails (remove it).
"""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import exercises as exercise_tool  # noqa: E402

ROOT = exercise_tool.ROOT
WINDOW = 3
SKIP = ("solutions/", "exercises/", "tools/mutants/")
TEXT = {".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".cu", ".cuh", ".inl", ".py", ".md", ".txt", ".dox"}
KNOWN: dict[str, str] = {}
TRIVIAL = re.compile(r"^(?:[{}();]*|#pragma unroll.*|return \w+;|else|else \{|\} else \{|#endif.*)$")


def normalise(line: str) -> str:
    """One line without its comment, its whitespace collapsed ('' when trivial)."""
    code = re.sub(r"//.*$", "", line)
    code = " ".join(code.split())
    if len(code) < 12 or TRIVIAL.match(code):
        return ""
    return code


def significant(lines: list[str]) -> list[tuple[int, str]]:
    """(1-based line number, normalised text) of the non-trivial lines."""
    return [(n, t) for n, t in ((i + 1, normalise(l)) for i, l in enumerate(lines)) if t]


def body_windows(solutions: pathlib.Path) -> dict[tuple[str, ...], str]:
    """Every window of every exercise body -> 'NN.M (solutions/FILE:LINE)'."""
    exercises, _ = exercise_tool.generate(solutions)
    windows: dict[tuple[str, ...], str] = {}
    for rel in sorted({e.file for e in exercises}):
        lines = (solutions / rel).read_text(encoding="utf-8").splitlines()
        for block in exercise_tool.find_blocks(lines, "solutions"):
            body = [l for l in lines[block.begin + 1:block.end] if not exercise_tool.HINT.match(l)]
            sig = [t for _, t in significant(body)]
            size = min(WINDOW, len(sig))
            for k in range(len(sig) - size + 1) if size else []:
                windows.setdefault(tuple(sig[k:k + size]), f"{block.id} (solutions/{rel}:{block.begin + 1})")
    return windows


def course_files(root: pathlib.Path) -> list[str]:
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk it, skipping builds
        out = [str(p.relative_to(root)) for p in root.rglob("*")
               if p.is_file() and not any(part.startswith(("build", ".")) for part in p.relative_to(root).parts)]
    return sorted(f for f in out if pathlib.PurePosixPath(f).suffix in TEXT and not f.startswith(SKIP))


def hits(root: pathlib.Path, windows: dict[tuple[str, ...], str]) -> list[str]:
    found = []
    sizes = sorted({len(w) for w in windows})
    for rel in course_files(root):
        path = root / rel
        if not path.is_file():
            continue
        sig = significant(path.read_text(encoding="utf-8", errors="replace").splitlines())
        seen = set()
        for size in sizes:
            for k in range(len(sig) - size + 1):
                owner = windows.get(tuple(t for _, t in sig[k:k + size]))
                if owner and owner not in seen:
                    seen.add(owner)
                    found.append(f"{rel}:{sig[k][0]}: {size} line(s) of exercise {owner}'s answer: {sig[k][1][:70]!r}")
    return found


def main() -> int:
    try:
        windows = body_windows(ROOT / "solutions")
    except exercise_tool.MarkerError as err:
        print(f"check_exercise_bodies.py: {err}", file=sys.stderr)
        return 2
    found = hits(ROOT, windows)
    known = [h for h in found if KNOWN.get(h.split(":", 1)[0]) and f"exercise {KNOWN[h.split(':', 1)[0]]} " in h]
    for h in known:
        print(f"check_exercise_bodies.py: known (tools/check_exercise_bodies.py KNOWN): {h}")
    found = [h for h in found if h not in known]
    stale = sorted(f for f, ex in KNOWN.items() if not any(h.startswith(f + ":") for h in known))
    found += [f"{f}: listed in KNOWN ({KNOWN[f]}) but no longer holds that answer: remove the entry" for f in stale]
    for h in found:
        print(f"check_exercise_bodies.py: {h}", file=sys.stderr)
    if found:
        print("check_exercise_bodies.py: an exercise's answer must exist only in solutions/ "
              "(rewrite the other copy, or make it call the linked implementation)", file=sys.stderr)
        return 1
    print(f"check_exercise_bodies.py: no exercise body outside solutions/ ({len(windows)} windows checked"
          + (f"; {len(known)} known copies listed in KNOWN)" if known else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
