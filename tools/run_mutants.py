#!/usr/bin/env python3
"""Grades plausible wrong solutions (tools/mutants/NN.M.mut) and fails when one keeps its points.

    tools/run_mutants.py                       every mutant of every exercise
    tools/run_mutants.py --exercise 03.1       the mutants of one exercise
    tools/run_mutants.py --ci                  the mutants tagged [ci] (CI's sample, ~10 min on 2 cores)
    tools/run_mutants.py --list                the mutants, not graded

A mutant is the solution's body of one exercise with one small edit: a find/replace inside
the body between the markers (file format below). Each is written into a student folder
(the generated stub with that body) and graded by tools/grade.py for its own exercise only,
all in one build folder (--build-dir), so a mutant rebuilds only the objects that read its
file. The policy: a plausible mistake keeps at most a third of an exercise's points. So a
mutant that loses less than two thirds of them (MIN_LOSS), or less than the share its
header states (`[lose >= 0.75]`, never below two thirds), is a failure of the tests
(exit 1). So is a mutant that does not compile (it proves nothing about the tests).

File format (one file per exercise, any number of mutants):

    ## short-name: what is wrong, in a few words [lose >= 0.75] [ci]
    <<<<
    the exact text of the solution's body to replace (whole lines)
    ====
    the wrong text
    >>>>

Lines outside the blocks starting with `#` are comments. `[ci]` puts a mutant in the
sample that CI grades (one per exercise at least, and the issue's acceptance cases): every
mutant rebuilds its chapter's test objects that read its file (a minute or two for chapter
03), so CI grades the sample and `tools/run_mutants.py` with no option grades them all.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import exercises as exercise_tool  # noqa: E402

ROOT = exercise_tool.ROOT
MUTANTS = ROOT / "tools" / "mutants"
MIN_LOSS = 2 / 3  # the share of its points every mutant must lose, at least
HEAD = re.compile(r"^## (?P<name>[a-z0-9-]+): (?P<what>.*?)(?:\s*\[lose >= (?P<share>[0-9.]+)\])?"
                  r"(?P<ci>\s*\[ci\])?\s*$")


class MutantError(Exception):
    pass


@dataclasses.dataclass
class Mutant:
    exercise: str
    name: str
    what: str
    find: str
    replace: str
    min_loss: float  # the share of the points it must lose (MIN_LOSS or more)
    ci: bool         # in CI's sample
    where: str       # file:line of its header

    @property
    def key(self) -> str:
        return f"{self.exercise}-{self.name}"


def parse(path: pathlib.Path) -> list[Mutant]:
    ex_id = path.stem
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out: list[Mutant] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = HEAD.match(line.rstrip("\n"))
        if not m:
            if line.strip() and not line.startswith("#"):
                raise MutantError(f"{path.name}:{i + 1}: expected '## name: what' or a # comment, found {line.strip()!r}")
            i += 1
            continue
        where = f"{path.relative_to(ROOT)}:{i + 1}"
        try:
            a = lines.index("<<<<\n", i + 1)
            b = lines.index("====\n", a + 1)
            c = lines.index(">>>>\n", b + 1)
        except ValueError:
            raise MutantError(f"{where}: expected <<<<, ==== and >>>> lines after the header") from None
        if a != i + 1:
            raise MutantError(f"{where}: expected <<<< right after the header")
        share = float(m["share"] or MIN_LOSS)
        if share < MIN_LOSS or share > 1:
            raise MutantError(f"{where}: expected [lose >= X] with X from {MIN_LOSS:.3g} to 1 "
                              f"(a mistake keeps a third of the points at most), found {m['share']}")
        out.append(Mutant(ex_id, m["name"], m["what"], "".join(lines[a + 1:b]), "".join(lines[b + 1:c]),
                          share, bool(m["ci"]), where))
        i = c + 1
    return out


def load(ids: list[str], ci: bool = False) -> list[Mutant]:
    mutants = [m for p in sorted(MUTANTS.glob("*.mut")) for m in parse(p)]
    if ci:
        untagged = sorted({m.exercise for m in mutants} - {m.exercise for m in mutants if m.ci})
        if untagged:
            raise MutantError(f"expected a [ci] mutant for every exercise, found none for {', '.join(untagged)}")
        mutants = [m for m in mutants if m.ci]
    if ids:
        mutants = [m for m in mutants if m.exercise in ids]
    keys = [m.key for m in mutants]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise MutantError(f"expected unique mutant names, found {', '.join(dup)} twice")
    return mutants


def student_file(m: Mutant, ex, solution: str, stub: str) -> str:
    """The stub with exercise m.exercise's body = the solution's body with the mutant's edit."""
    sol_lines = solution.splitlines(keepends=True)
    block = next(b for b in exercise_tool.find_blocks(sol_lines, "solutions") if b.id == m.exercise)
    body = "".join(sol_lines[block.begin + 1:block.end])
    if body.count(m.find) != 1:
        raise MutantError(f"{m.where}: expected its <<<< text once in the body of {m.exercise} "
                          f"(solutions/{ex.file}), found it {body.count(m.find)} times")
    mutated = body.replace(m.find, m.replace)
    stub_lines = stub.splitlines(keepends=True)
    sblock = next(b for b in exercise_tool.find_blocks(stub_lines, "exercises") if b.id == m.exercise)
    return "".join(stub_lines[:sblock.begin + 1]) + mutated + "".join(stub_lines[sblock.end:])


def grade_one(m: Mutant, ex, text: str, args) -> dict:
    folder = args.work / "folders" / m.key
    (folder / ex.file).parent.mkdir(parents=True, exist_ok=True)
    (folder / ex.file).write_text(text, encoding="utf-8")
    out = args.work / "reports" / m.key
    cmd = [sys.executable, str(ROOT / "tools" / "grade.py"), "--exercise", m.exercise, str(folder),
           "--build-dir", str(args.build_dir), "--out", str(out), "--jobs", str(args.jobs), "--quiet"]
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - start
    report = out / "grade.json"
    if not report.is_file():
        return {"error": f"grade.py wrote no report (exit {proc.returncode}): {proc.stdout[-400:]}", "seconds": seconds}
    row = json.loads(report.read_text(encoding="utf-8"))["exercises"][0]
    failed = [t["name"] for t in row["tests_detail"] if t["status"] == "fail"]
    return {"earned": row["earned"], "points": row["points"], "result": row["result"], "failed": failed,
            "first_failure": row["first_failure"], "seconds": seconds,
            "tests": f"{row['passed']}/{row['tests']}"}


def verdict(m: Mutant, r: dict) -> str:
    """'' when the mutant is caught as required, else why not."""
    if "error" in r:
        return r["error"]
    if r["result"] == "fail" and r["tests"] == "0/0" and r["first_failure"].startswith("build failed"):
        return f"does not compile (a mutant must build to test the tests): {r['first_failure'][:200]}"
    loss = 1 - r["earned"] / r["points"]
    if loss <= 0:
        return "keeps its full points: the tests pass this wrong answer"
    if loss < m.min_loss - 0.005 / r["points"] - 1e-9:  # grade.json rounds the points to 0.01
        return f"loses {loss:.0%} of its points, expected at least {m.min_loss:.0%}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exercise", action="append", default=[], metavar="ID", help="only this exercise's mutants")
    parser.add_argument("--build-dir", type=pathlib.Path, default=ROOT / "build" / "mutants")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--ci", action="store_true", help="only the mutants tagged [ci]")
    parser.add_argument("--list", action="store_true", help="list the mutants and check they apply; grade nothing")
    args = parser.parse_args()
    args.build_dir = args.build_dir.resolve()
    args.work = args.build_dir / "mutant-runs"

    try:
        exercises, generated = exercise_tool.generate(ROOT / "solutions")
        by_id = {e.id: e for e in exercises}
        mutants = load(args.exercise, args.ci)
        unknown = sorted({m.exercise for m in mutants} - set(by_id))
        if unknown:
            raise MutantError(f"expected mutant files named after exercises of solutions/, found {', '.join(unknown)}")
        texts = {m.key: student_file(m, by_id[m.exercise], (ROOT / "solutions" / by_id[m.exercise].file).read_text(
            encoding="utf-8"), generated[by_id[m.exercise].file]) for m in mutants}
    except (MutantError, exercise_tool.MarkerError) as err:
        print(f"run_mutants.py: {err}", file=sys.stderr)
        return 2
    everyone = load(args.exercise) if args.ci else mutants
    few = [e.id for e in exercises if (not args.exercise or e.id in args.exercise)
           and sum(m.exercise == e.id for m in everyone) < 3]
    if args.list:
        for m in mutants:
            print(f"{m.key:<36} {'ci ' if m.ci else '   '}{m.what}")
        print(f"{len(mutants)} mutants" + (f"; fewer than 3 for {', '.join(few)}" if few else ""))
        return 1 if few else 0

    start = time.monotonic()
    problems = [f"exercise {i}: fewer than 3 mutants" for i in few]
    print(f"{'mutant':<36} {'points':>9} {'tests':>7} {'s':>5}  caught by (first failing test)")
    for m in mutants:
        r = grade_one(m, by_id[m.exercise], texts[m.key], args)
        why = verdict(m, r)
        score = f"{r.get('earned', 0):g}/{r.get('points', by_id[m.exercise].points)}"
        first = (r.get("failed") or [r.get("first_failure", "") or "-"])[0]
        print(f"{m.key:<36} {score:>9} {r.get('tests', '-'):>7} {r['seconds']:5.0f}  "
              f"{'SURVIVES: ' + why if why else first}", flush=True)
        if why:
            problems.append(f"{m.key} ({m.where}): {why}")
    print(f"run_mutants.py: graded {len(mutants)} mutants in {time.monotonic() - start:.0f} s")
    for p in problems:
        print(f"run_mutants.py: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
