#!/usr/bin/env python3
"""Compose the implementation a student build compiles: the student's bodies where written.

A local student build (preset `student`, HALFWAY_IMPL=mixed) compiles a folder that this
tool writes into the build folder: every file of solutions/, where each exercise's body is

  - the student's, from exercises/, when the student has written it (the body between the
    markers holds more than the stub's not-implemented line and hints), or
  - the reference body from solutions/ otherwise, so that the exercises built on it can be
    tested before it is done. The tests of such an exercise fail on purpose
    (common/testing/exercise_status.hpp reads the status file written here).

Text outside the markers always comes from solutions/ (tools/grade.py ignores it too).
A student body keeps its own file and line numbers (`#line`), so compiler errors point
into exercises/. Files are written only when their content changes: ninja then
recompiles only what includes a changed exercise.

    tools/implementation.py --out DIR                    compose from this checkout's exercises/
    tools/implementation.py --out DIR --reference-for 01.1,01.2   use the reference for these anyway
"""
from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import exercises as exercise_tool  # noqa: E402

ROOT = exercise_tool.ROOT
STATUS_FILE = "exercise_status.txt"  # "ID yours|reference" per line, read by the test binaries
MAX_EXERCISES = 64                   # ExerciseRuns::kMax in common/exercise.hpp


def with_bodies(solution_text: str, bodies: dict[str, list[str]], where: str = "solutions") -> str:
    """The solution text with the body of each exercise in `bodies` replaced (its lines)."""
    lines = solution_text.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for block in exercise_tool.find_blocks(lines, where):
        if block.id not in bodies:
            continue
        body = bodies[block.id]
        if body and not body[-1].endswith("\n"):
            body = body[:-1] + [body[-1] + "\n"]
        out += lines[at:block.begin + 1] + body
        at = block.end
    return "".join(out + lines[at:])


def meaningful(lines: list[str]) -> list[str]:
    """Lines without blank ones and trailing spaces."""
    return [line.rstrip() for line in lines if line.strip()]


def written(body: list[str], ex_id: str) -> bool:
    """A body is the student's unless it is the stub: the not-implemented line, hint lines
    (a hint that changed in solutions/ since the student's copy was made is still a stub)."""
    code = [line.strip() for line in body if line.strip() and not exercise_tool.HINT.match(line)]
    return code != [f'HALFWAY_EXERCISE_NOT_IMPLEMENTED("{ex_id}");']


def c_string(path: pathlib.Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclasses.dataclass
class Composed:
    files: dict[str, str]   # relative path -> text of the composed folder
    yours: list[str]        # exercises whose body is the student's
    reference: list[str]    # exercises that run the reference body
    warnings: list[str]     # one line each: broken markers, a missing file, edits outside markers


def compose(solutions: pathlib.Path, student: pathlib.Path, out: pathlib.Path,
            reference_for: set[str] = frozenset()) -> Composed:
    """The composed folder's files (to be written into `out`)."""
    exercises, generated = exercise_tool.generate(solutions)
    known = {e.id for e in exercises}
    index = {e.id: k for k, e in enumerate(exercises)}  # HALFWAY_EXERCISE_RAN(k), the status file's line k
    if len(index) > MAX_EXERCISES:
        raise exercise_tool.MarkerError(f"expected at most {MAX_EXERCISES} exercises (common/exercise.hpp), found {len(index)}")
    unknown = sorted(set(reference_for) - known)
    if unknown:
        raise exercise_tool.MarkerError(f"--reference-for: expected exercise ids of solutions/, found {', '.join(unknown)}")
    result = Composed({}, [], [], [])
    for rel in sorted(generated):
        source = solutions / rel
        if not source.is_file():  # exercises.json and README.md
            continue
        solution_text = source.read_text(encoding="utf-8")
        sol_blocks = exercise_tool.find_blocks(solution_text.splitlines(keepends=True), f"solutions/{rel}")
        if not sol_blocks:
            result.files[rel] = solution_text
            continue
        ids = [b.id for b in sol_blocks]
        stub_lines = generated[rel].splitlines(keepends=True)
        mine: dict[str, list[str]] = {}
        path = student / rel
        if not path.is_file():
            result.warnings.append(f"{path}: missing; the reference runs for {', '.join(ids)}")
        else:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
            try:
                blocks = {b.id: b for b in exercise_tool.find_blocks(lines, str(path))}
            except exercise_tool.MarkerError as err:
                blocks = {}
                result.warnings.append(f"{err}; the reference runs for {', '.join(ids)}")
            inside = {i for b in blocks.values() for i in range(b.begin + 1, b.end)}
            stub_inside = {i for b in exercise_tool.find_blocks(stub_lines, rel) for i in range(b.begin + 1, b.end)}
            banner = exercise_tool.banner(rel).splitlines(keepends=True)  # a copy may lack it (solutions/)
            unbannered = lambda ls: ls[len(banner):] if ls[:len(banner)] == banner else ls  # noqa: E731
            if blocks and (meaningful(unbannered([l for i, l in enumerate(lines) if i not in inside])) !=
                           meaningful(unbannered([l for i, l in enumerate(stub_lines) if i not in stub_inside]))):
                result.warnings.append(f"{path}: text changed outside the exercise markers is not built "
                                       "(only the bodies between the markers are; tools/grade.py ignores it too)")
            for ex_id in ids:
                block = blocks.get(ex_id)
                if block is None:
                    if blocks:
                        result.warnings.append(f"{path}: the markers of exercise {ex_id} are missing; the reference runs for it")
                    continue
                body = lines[block.begin + 1:block.end]
                if ex_id in reference_for or not written(body, ex_id):
                    continue
                # Records that the body ran (a failing test of another exercise names it); the
                # student's lines keep their file and numbers; then back to the composed file's.
                mine[ex_id] = [f"{block.indent}HALFWAY_EXERCISE_RAN({index[ex_id]});\n",
                               f"#line {block.begin + 2} {c_string(path.resolve())}\n"] + body + ["#line 0 \n"]
        text = with_bodies(solution_text, mine, f"solutions/{rel}")
        result.files[rel] = restore_lines(text, c_string((out / rel).resolve()))
        result.yours += [i for i in ids if i in mine]
        result.reference += [i for i in ids if i not in mine]
    result.yours.sort(key=index.get)
    result.reference.sort(key=index.get)
    result.files[STATUS_FILE] = "".join(f"{e.id} {'yours' if e.id in result.yours else 'reference'}\n"
                                        for e in exercises)
    return result


def restore_lines(text: str, own_name: str) -> str:
    """Replaces each `#line 0` placeholder by the line number and name the line after it has
    in the composed file itself."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line == "#line 0 \n":
            lines[i] = f"#line {i + 2} {own_name}\n"
    return "".join(lines)


def write(out: pathlib.Path, files: dict[str, str], keep: set[str]) -> list[str]:
    """Writes the files whose content changed and removes the ones no longer composed;
    returns the paths written."""
    written = []
    existing = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} if out.exists() else set()
    for rel in sorted(existing - files.keys() - keep):
        (out / rel).unlink()
    for rel, text in files.items():
        target = out / rel
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(rel)
    return written


def parse_ids(text: str) -> set[str]:
    return {i.strip() for i in text.replace(";", ",").split(",") if i.strip()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="the folder to compose (in the build folder)")
    parser.add_argument("--exercises", type=pathlib.Path, default=ROOT / "exercises", help="the student's exercises folder")
    parser.add_argument("--solutions", type=pathlib.Path, default=ROOT / "solutions")
    parser.add_argument("--reference-for", type=parse_ids, default=set(), metavar="ID,...",
                        help="exercises to run on the reference even where written (work in progress)")
    parser.add_argument("--stamp", type=pathlib.Path, help="a file touched after composing (the build step's output)")
    parser.add_argument("--quiet", action="store_true", help="print warnings only")
    args = parser.parse_args()
    try:
        composed = compose(args.solutions, args.exercises, args.out.resolve(), args.reference_for)
    except exercise_tool.MarkerError as err:
        print(f"implementation.py: {err}", file=sys.stderr)
        return 1
    keep = {args.stamp.resolve().relative_to(args.out.resolve()).as_posix()} if (
        args.stamp and args.stamp.resolve().is_relative_to(args.out.resolve())) else set()
    written = write(args.out, composed.files, keep)
    for w in composed.warnings:
        print(f"implementation.py: warning: {w}")
    if not args.quiet:
        print(f"implementation.py: yours: {' '.join(composed.yours) or 'none yet'}; the reference (their tests fail "
              f"on purpose): {' '.join(composed.reference) or 'none'}" + (f" [{len(written)} file(s) changed]" if written else ""))
    if args.stamp:
        args.stamp.parent.mkdir(parents=True, exist_ok=True)
        args.stamp.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
