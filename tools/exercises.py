#!/usr/bin/env python3
"""Generate exercises/ from solutions/, or check that they agree.

solutions/ is the one home of every exercised function. Each exercise is a block

    // BEGIN EXERCISE 01.1 (3 points): Float to half, round to nearest even
    // HINT: lines like this one are kept in the student's stub
    ...solution...
    // END EXERCISE 01.1

The generator copies solutions/ to exercises/ and replaces each block's body with its
hints and `HALFWAY_EXERCISE_NOT_IMPLEMENTED("01.1");`, which throws (or traps on a GPU)
"exercise 01.1 is not implemented yet". It also writes exercises/exercises.json (the
manifest the grader reads) and exercises/README.md (the student's list).

    tools/exercises.py            regenerate exercises/
    tools/exercises.py --check    exit 1 when exercises/ differs from what solutions/ gives
    tools/exercises.py --list     print the exercises
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^(?P<indent>\s*)// BEGIN EXERCISE (?P<id>\d\d\.\d+) \((?P<points>\d+) points?\): (?P<title>\S.*?)\s*$")
END = re.compile(r"^\s*// END EXERCISE (?P<id>\d\d\.\d+)\s*$")
ANY_MARKER = re.compile(r"//\s*(BEGIN|END)\s+EXERCISE")
HINT = re.compile(r"^\s*// HINT:")
C_LIKE = {".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".cu", ".cuh", ".inl"}


class MarkerError(Exception):
    """A malformed exercise block: the message names file:line."""


@dataclasses.dataclass
class Gate:
    """Tests an exercise must pass to earn more than `cap` (a share of its points)."""
    test: str    # a substring of the gate tests' names
    cap: float   # the share of the points kept when a gate test fails (0: none)


# Scoring. The policy: a plausible mistake keeps at most a third of an exercise's points.
# Every test tagged with an exercise checks a property of its answer, so each failing one
# caps the exercise: at DEFAULT_CAP (a third) whatever share of the other tests passes, or
# lower where a gate says so. An exercise earns points * min(share of passing tests, the
# lowest cap of its failing tests).
DEFAULT_CAP = 1 / 3

# The gates: tests that check the exercise's point itself (every input of a conversion; a
# row against an independent fp64 formula), whose failure caps harder than DEFAULT_CAP. A
# gate matches the tests whose names contain `test`; one that matches none caps nothing.
GATES: dict[str, list[Gate]] = {
    "01.1": [Gate("every float converts to the half the hardware gives", 0.0)],
    "01.2": [Gate("every half converts to the float the hardware gives", 0.0)],
    "01.3": [Gate("every float converts to the bf16", 0.0)],
    "03.1": [Gate("fp64 reference", 0.0)],
    "03.2": [Gate("fp64 reference", 0.0)],
    "03.3": [Gate("fp64 reference", 0.0)],
    "09.1": [Gate("every float converts to the e4m3 CUDA gives", 0.0), Gate("floats convert to the e4m3 CUDA gives", 0.0)],
}


@dataclasses.dataclass
class Exercise:
    id: str
    title: str
    points: int
    file: str  # path relative to solutions/ and exercises/
    line: int  # the BEGIN marker's line in exercises/FILE (the stub the student opens)
    solution_line: int = 0  # the same marker's line in solutions/FILE
    gates: list[Gate] = dataclasses.field(default_factory=list)

    @property
    def chapter(self) -> str:
        return self.id.split(".")[0]


@dataclasses.dataclass
class Block:
    """One marked region of a file: lines[begin] is BEGIN, lines[end] is END (0-based)."""
    id: str
    title: str
    points: int
    begin: int
    end: int
    indent: str


def find_blocks(lines: list[str], where: str) -> list[Block]:
    """The exercise blocks of a file's lines; `where` names the file in errors."""
    blocks: list[Block] = []
    open_block: Block | None = None
    for i, line in enumerate(lines):
        at = f"{where}:{i + 1}"
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_block:
                raise MarkerError(f"{at}: expected END EXERCISE {open_block.id} before a new BEGIN, found another BEGIN")
            open_block = Block(begin["id"], begin["title"], int(begin["points"]), i, -1, begin["indent"])
        elif end:
            if not open_block or end["id"] != open_block.id:
                expected = f"END EXERCISE {open_block.id}" if open_block else "no END before a BEGIN"
                raise MarkerError(f"{at}: expected {expected}, found END EXERCISE {end['id']}")
            open_block.end = i
            blocks.append(open_block)
            open_block = None
        elif ANY_MARKER.search(line):
            raise MarkerError(f"{at}: expected '// BEGIN EXERCISE NN.M (P points): Title' or "
                              f"'// END EXERCISE NN.M', found {line.strip()!r}")
    if open_block:
        raise MarkerError(f"{where}:{open_block.begin + 1}: expected END EXERCISE {open_block.id}, found the end of the file")
    return blocks


def banner(rel: str) -> str:
    return (f"// Your copy of solutions/{rel}, generated by tools/exercises.py.\n"
            "// Fill in the bodies between the EXERCISE markers; keep the markers.\n")


def parse(path: pathlib.Path, rel: str) -> tuple[list[Exercise], str]:
    """Returns the exercises of one solution file and its generated stub text."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    blocks = find_blocks(lines, f"solutions/{rel}")
    out: list[str] = banner(rel).splitlines(keepends=True) if blocks and path.suffix in C_LIKE else []
    found: list[Exercise] = []
    inside = {i: b for b in blocks for i in range(b.begin + 1, b.end)}
    ends = {b.end: b for b in blocks}
    for i, line in enumerate(lines):
        if i in ends:
            out.append(f'{ends[i].indent}HALFWAY_EXERCISE_NOT_IMPLEMENTED("{ends[i].id}");\n')
        if i not in inside or HINT.match(line):
            out.append(line)
        for b in blocks:
            if b.begin == i:
                found.append(Exercise(b.id, b.title, b.points, rel, len(out), i + 1, list(GATES.get(b.id, []))))
    return found, "".join(out)


def generate(solutions: pathlib.Path) -> tuple[list[Exercise], dict[str, str]]:
    """All exercises and the text of every file of exercises/, keyed by relative path."""
    exercises: list[Exercise] = []
    files: dict[str, str] = {}
    for path in sorted(p for p in solutions.rglob("*") if p.is_file()):
        rel = path.relative_to(solutions).as_posix()
        if "__pycache__" in rel:
            continue
        found, text = parse(path, rel)
        exercises += found
        files[rel] = text
    seen: dict[str, Exercise] = {}
    for ex in exercises:
        if ex.id in seen:
            raise MarkerError(f"solutions/{ex.file}:{ex.line}: expected a new exercise id, found {ex.id} "
                              f"again (first at solutions/{seen[ex.id].file}:{seen[ex.id].line})")
        seen[ex.id] = ex
    exercises.sort(key=lambda e: [int(x) for x in e.id.split(".")])
    files["exercises.json"] = json.dumps(
        {"generated_by": "tools/exercises.py", "exercises": [dataclasses.asdict(e) for e in exercises]},
        indent=2) + "\n"
    files["README.md"] = student_readme(exercises)
    return exercises, files


def gate_text(e: Exercise) -> str:
    return "; ".join(f"{g.test!r} (else {g.cap:.0%} at most)" for g in e.gates) or "none"


def student_readme(exercises: list[Exercise]) -> str:
    rows = "\n".join(f"| {e.id} | {e.title} | {e.points} | [`{e.file}:{e.line}`]({e.file}#L{e.line}) | {gate_text(e)} |"
                     for e in exercises)
    total = sum(e.points for e in exercises)
    return f"""# Exercises

Generated by `tools/exercises.py` from `solutions/`: do not edit this page; edit the
bodies between the `BEGIN EXERCISE` and `END EXERCISE` markers in the files below.

Build and test your code with the `student` preset, and grade it with `tools/grade.py`
(see the top-level README).

## Your build tests each exercise on its own

The `student` preset (`HALFWAY_IMPL=mixed`) does not compile this folder as it is. At
every build, `tools/implementation.py` composes `build/student/implementation/` from it
and `solutions/`: for each exercise, your body if you have written it (anything between
its markers besides the stub's not-implemented line and hints), else the reference body. So `ctest -L ex04.2` tests
your 04.2 even while chapter 01's exercises are still stubs, and a mistake in 04.1 cannot
stop chapter 06's tests compiling. The build prints which exercises are yours.

- The tests of an exercise that runs on the reference fail on purpose, with one line:
  `exercise 01.1 is not implemented yet (this build uses the reference for it, so the
  exercises that build on it can be tested)`. Write its body and they run.
- A failing test names your other exercises that ran during it: `note: this test also ran
  your exercise(s) 01.1: a mistake there fails it too`. Run their own tests first
  (`ctest -L ex01.1`). On a GPU, where this is not recorded, it names your exercises of the
  test's chapter and earlier instead.
- To go back to the reference for an exercise you have started (a half-written 01.1 that
  breaks the tests of later exercises):
  `cmake --preset student -DHALFWAY_REFERENCE_FOR="01.1;01.2"` (an empty value undoes it).
- Only the bodies between the markers are compiled; text you change outside them is
  reported by the build and ignored, as the grader ignores it. Compiler errors point into
  your file here, at your line numbers.
- The programs in `build/student/bin` run the same mixture: yours where written.

## Grading

Each exercise is graded on its own: its marked body is taken
from your file, everything else from `solutions/`, so a mistake in one exercise costs
nothing in another; edits outside the markers are reported and ignored. Every test of
an exercise checks a property of its answer, so one failing test caps the exercise at a
third of its points, and a failing gate (the test of the exercise's point: every input of
a conversion, or a fp64 reference of a row) at the share its column gives; otherwise the
points are the share of passing tests.

| exercise | title | points | where | gate |
|---|---|---|---|---|
{rows}

{total} points in all.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when exercises/ differs from the generated files")
    mode.add_argument("--list", action="store_true", help="print the exercises and their points")
    parser.add_argument("--solutions", type=pathlib.Path, default=ROOT / "solutions")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "exercises", help="the exercises folder")
    args = parser.parse_args()

    try:
        exercises, files = generate(args.solutions)
    except MarkerError as err:
        print(f"exercises.py: {err}", file=sys.stderr)
        return 1

    if args.list:
        for e in exercises:
            print(f"{e.id:>6}  {e.points:>2} pt  {e.title}  ({e.file})")
        return 0

    existing = {p.relative_to(args.out).as_posix() for p in args.out.rglob("*") if p.is_file()} if args.out.exists() else set()
    if args.check:
        drift = [rel for rel, text in files.items()
                 if not (args.out / rel).is_file() or (args.out / rel).read_text(encoding="utf-8") != text]
        extra = sorted(existing - files.keys())
        for rel in drift:
            print(f"exercises.py: exercises/{rel} differs from what solutions/ generates", file=sys.stderr)
        for rel in extra:
            print(f"exercises.py: exercises/{rel} has no counterpart in solutions/", file=sys.stderr)
        if drift or extra:
            print("exercises.py: run tools/exercises.py to regenerate exercises/ (never edit it by hand)", file=sys.stderr)
            return 1
        print(f"exercises.py: exercises/ is in sync with solutions/ ({len(exercises)} exercises)")
        return 0

    for rel in sorted(existing - files.keys()):
        (args.out / rel).unlink()
    for rel, text in files.items():
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    print(f"exercises.py: wrote {args.out} ({len(exercises)} exercises, {len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
