#!/usr/bin/env python3
"""Check that a local student build tests each exercise on its own (HALFWAY_IMPL=mixed).

Writes a student's exercises folder where only some exercises are written (their bodies
taken from solutions/, default 04.2, 05.2 and 06.1) and every other one is the stub, builds
it like the `student` preset does, and checks with ctest that

  - every test of a written exercise passes, though chapter 01's exercises are unwritten;
  - every test of 01.1 (unwritten: the build runs the reference for it) fails, with
    "exercise 01.1 is not implemented yet (this build uses the reference for it ...".

    tools/check_student_build.py                         build/student-check, HALFWAY_CUDA=GPU
    tools/check_student_build.py --written 03.1,04.2 --unwritten 01.2
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import exercises as exercise_tool  # noqa: E402
import implementation  # noqa: E402

ROOT = exercise_tool.ROOT
REFUSED = "is not implemented yet (this build uses the reference for it"


def student_folder(out: pathlib.Path, written: set[str]) -> None:
    """exercises/ as generated, with the solution's body in each exercise of `written`."""
    exercises, files = exercise_tool.generate(ROOT / "solutions")
    for ex in exercises:
        if ex.id in written:
            sol = (ROOT / "solutions" / ex.file).read_text(encoding="utf-8").splitlines(keepends=True)
            block = next(b for b in exercise_tool.find_blocks(sol, ex.file) if b.id == ex.id)
            files[ex.file] = implementation.with_bodies(files[ex.file], {ex.id: sol[block.begin + 1:block.end]})
    implementation.write(out, files, set())


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ctest(build: pathlib.Path, labels: list[str], jobs: int) -> list[tuple[str, str, str]]:
    """(name, pass|fail|skipped, output) of each test with one of the labels."""
    junit = build / "student-check.junit.xml"
    junit.unlink(missing_ok=True)
    run(["ctest", "--test-dir", str(build), "-L", "^(" + "|".join(re.escape("ex" + i) for i in labels) + ")$",
         "-j", str(jobs), "--output-junit", str(junit)])
    if not junit.is_file():
        return []
    return [(c.get("name"), {"run": "pass", "fail": "fail"}.get(c.get("status"), "skipped"), c.findtext("system-out") or "")
            for c in ET.parse(junit).getroot().iter("testcase")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=pathlib.Path, default=ROOT / "build" / "student-check")
    parser.add_argument("--written", type=implementation.parse_ids, default={"04.2", "05.2", "06.1"})
    parser.add_argument("--unwritten", type=implementation.parse_ids, default={"01.1"},
                        help="exercises whose tests must fail as 'on the reference'")
    parser.add_argument("--cuda", default="GPU", help="HALFWAY_CUDA (default GPU, as the student preset)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    build = args.build_dir.resolve()
    folder = build / "student-exercises"
    student_folder(folder, args.written)
    chapters = sorted({i.split(".")[0] for i in args.written | args.unwritten})
    proc = run(["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                "-DHALFWAY_IMPL=mixed", f"-DHALFWAY_EXERCISES_DIR={folder}", f"-DHALFWAY_CUDA={args.cuda}"])
    if proc.returncode:
        print(proc.stdout[-3000:] + "\ncheck_student_build.py: configure failed", file=sys.stderr)
        return 1
    targets = sorted(set(re.findall(r"^(ch(?:" + "|".join(chapters) + r")_tests_[a-z]+):",
                                    run(["ninja", "-C", str(build), "-t", "targets", "all"]).stdout, re.M)))
    proc = run(["cmake", "--build", str(build), "-j", str(args.jobs), "--target", *targets])
    if proc.returncode:
        print(proc.stdout[-3000:] + "\ncheck_student_build.py: build failed", file=sys.stderr)
        return 1
    problems = []
    for ex_id in sorted(args.written | args.unwritten):
        results = ctest(build, [ex_id], args.jobs)
        counted = [r for r in results if r[1] != "skipped"]
        passed = sum(r[1] == "pass" for r in counted)
        print(f"ex{ex_id}: {'written' if ex_id in args.written else 'stub  '}  {passed}/{len(counted)} passed"
              f" ({len(results) - len(counted)} skipped)")
        if not counted:
            problems.append(f"{ex_id}: expected tests tagged [ex{ex_id}], found none that ran")
        for name, status, output in counted:
            if ex_id in args.written and status != "pass":
                problems.append(f"{ex_id}: expected {name!r} to pass, found it failing: {output.strip()[-400:]}")
            if ex_id in args.unwritten and (status != "fail" or f"exercise {ex_id} {REFUSED}" not in output):
                problems.append(f"{ex_id}: expected {name!r} to fail with 'exercise {ex_id} {REFUSED}', "
                                f"found {status}: {output.strip()[-400:]}")
        if ex_id in args.unwritten and counted:
            line = next((l.strip() for l in counted[0][2].splitlines() if REFUSED in l), "")
            print(f"  e.g. {counted[0][0]}: {line}")
    for p in problems:
        print(f"check_student_build.py: {p}", file=sys.stderr)
    print("check_student_build.py: " + ("FAILED" if problems else "ok: each exercise's tests depend on that exercise only"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
