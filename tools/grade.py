#!/usr/bin/env python3
"""Grade a student's exercises: build them, run their tests, print a score table.

    tools/grade.py                      grade this checkout's exercises/
    tools/grade.py PATH/TO/exercises    grade a student's copy of the exercises folder

The exercise list and the points come from solutions/ (tools/exercises.py), never from
the student's copy. The student's folder is linked in place of solutions/
(HALFWAY_IMPL=exercises), every chapter that has exercises is built, and the tests
tagged [exNN.M] are run. An exercise earns its points in proportion to its passing tests
(tests skipped for want of a GPU do not count); a chapter that fails to build earns
nothing. Writes grade.json and grade.junit.xml into --out.

--expect full|zero turns the grade into a check (used by CI): full marks everywhere, or
zero everywhere with every exercise failing because it is "not implemented yet".
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import exercises as exercise_tool  # noqa: E402

ROOT = exercise_tool.ROOT
TAG = re.compile(r"\[ex(\d\d\.\d+)\]")
NOT_IMPLEMENTED = "is not implemented yet"


def run(cmd: list[str], log: pathlib.Path, quiet: bool) -> subprocess.CompletedProcess:
    """Runs a command, keeping its whole output in a log file."""
    if not quiet:
        print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with log.open("a", encoding="utf-8") as f:
        f.write("+ " + " ".join(cmd) + "\n" + proc.stdout + "\n")
    return proc


def first_error(output: str) -> str:
    """The first failing check of a doctest or compiler output, on one line."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if "ERROR:" in line or "error:" in line or "exception" in line.lower():
            text = line.strip()
            text = re.sub(r"^\S*/(chapters|solutions|exercises|kernels|common)/", r"\1/", text)
            for follow in lines[i + 1:i + 3]:
                if follow.strip().startswith("values:"):
                    text += " | " + follow.strip()
                    break
            return text[:300]
    tail = [l.strip() for l in lines if l.strip()]
    return (tail[-1] if tail else "failed without output")[:300]


def build(args, impl_dir: pathlib.Path, chapters: list[str], log: pathlib.Path) -> dict[str, str]:
    """Configures and builds each chapter; returns {chapter: build error} for the failures."""
    configure = ["cmake", "-S", str(ROOT), "-B", str(args.build_dir), "-G", "Ninja",
                 "-DHALFWAY_IMPL=exercises", f"-DHALFWAY_EXERCISES_DIR={impl_dir}",
                 "-DCMAKE_BUILD_TYPE=Release", f"-DHALFWAY_CUDA={args.cuda}"]
    if not shutil.which("ninja"):
        configure.remove("-G"), configure.remove("Ninja")
    proc = run(configure, log, args.quiet)
    if proc.returncode != 0:
        return {ch: "configure failed: " + first_error(proc.stdout) for ch in chapters}
    failed = {}
    for ch in chapters:
        proc = run(["cmake", "--build", str(args.build_dir), "--target", f"ch{ch}", "-j", str(args.jobs)], log, args.quiet)
        if proc.returncode != 0:
            failed[ch] = "build failed: " + first_error(proc.stdout)
    return failed


def run_tests(args, log: pathlib.Path) -> list[dict]:
    junit = args.out / "ctest.junit.xml"
    run(["ctest", "--test-dir", str(args.build_dir), "-L", "exercise", "-j", str(args.jobs),
         "--timeout", "900", "--output-junit", str(junit)], log, args.quiet)
    if not junit.is_file():
        return []
    results = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        out = case.findtext("system-out") or ""
        status = case.get("status")
        results.append({"name": case.get("name"), "status": {"run": "pass", "fail": "fail"}.get(status, "skipped"),
                        "output": out})
    return results


def grade(exercises, build_failures: dict[str, str], results: list[dict]) -> list[dict]:
    rows = []
    for ex in exercises:
        tests = [r for r in results if ex.id in TAG.findall(r["name"])]
        counted = [t for t in tests if t["status"] != "skipped"]
        passed = [t for t in counted if t["status"] == "pass"]
        failing = [t for t in counted if t["status"] == "fail"]
        if ex.chapter in build_failures:
            earned, first = 0.0, build_failures[ex.chapter]
        elif not counted:
            earned, first = 0.0, "no tests ran for this exercise"
        else:
            earned = ex.points * len(passed) / len(counted)
            first = f"{failing[0]['name']}: {first_error(failing[0]['output'])}" if failing else ""
        rows.append({"id": ex.id, "title": ex.title, "points": ex.points, "earned": round(earned, 2),
                     "passed": len(passed), "tests": len(counted), "result": "pass" if earned == ex.points else "fail",
                     "first_failure": first, "test_results": tests})
    return rows


def print_table(rows: list[dict]) -> None:
    title_w = max([len(r["title"]) for r in rows] + [5])
    print(f"\n{'exercise':<9} {'title':<{title_w}} {'points':>11} {'tests':>7}  result  first failing check")
    print("-" * (9 + title_w + 42))
    for r in rows:
        score = f"{r['earned']:g}/{r['points']}"
        print(f"{r['id']:<9} {r['title']:<{title_w}} {score:>11} {r['passed']:>3}/{r['tests']:<3}  "
              f"{r['result']:<6}  {r['first_failure']}")
    earned, possible = sum(r["earned"] for r in rows), sum(r["points"] for r in rows)
    print("-" * (9 + title_w + 42))
    print(f"{'total':<9} {'':<{title_w}} {earned:>7g}/{possible:<3}\n")


def write_reports(rows: list[dict], out: pathlib.Path, impl_dir: pathlib.Path) -> None:
    summary = {"exercises_dir": str(impl_dir), "earned": round(sum(r["earned"] for r in rows), 2),
               "possible": sum(r["points"] for r in rows),
               "exercises": [{k: v for k, v in r.items() if k != "test_results"} |
                             {"tests_detail": [{"name": t["name"], "status": t["status"]} for t in r["test_results"]]}
                             for r in rows]}
    (out / "grade.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    suites = ET.Element("testsuites", name="halfway exercises")
    for r in rows:
        suite = ET.SubElement(suites, "testsuite", name=f"ex{r['id']} {r['title']}", tests=str(len(r["test_results"])),
                              failures=str(sum(t["status"] == "fail" for t in r["test_results"])))
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="points", value=f"{r['earned']:g}/{r['points']}")
        if not r["test_results"]:
            case = ET.SubElement(suite, "testcase", name=f"ex{r['id']}", classname=f"ex{r['id']}")
            ET.SubElement(case, "failure", message=r["first_failure"] or "no tests ran")
        for t in r["test_results"]:
            case = ET.SubElement(suite, "testcase", name=t["name"], classname=f"ex{r['id']}")
            if t["status"] == "fail":
                ET.SubElement(case, "failure", message=first_error(t["output"])).text = t["output"]
            elif t["status"] == "skipped":
                ET.SubElement(case, "skipped", message="no usable GPU")
    ET.indent(suites)
    ET.ElementTree(suites).write(out / "grade.junit.xml", encoding="utf-8", xml_declaration=True)


def check_expectation(rows: list[dict], expect: str) -> list[str]:
    problems = []
    for r in rows:
        if expect == "full" and r["earned"] != r["points"]:
            problems.append(f"{r['id']}: expected full marks on solutions, found {r['earned']:g}/{r['points']} ({r['first_failure']})")
        if expect == "zero":
            if r["earned"] != 0 or r["passed"] != 0:
                problems.append(f"{r['id']}: expected every test to fail on the stub, found {r['passed']}/{r['tests']} passing")
            for t in r["test_results"]:
                if t["status"] == "fail" and NOT_IMPLEMENTED not in t["output"]:
                    problems.append(f"{r['id']}: expected '{r['id']} {NOT_IMPLEMENTED}' in {t['name']!r}, found: {first_error(t['output'])}")
            if not r["test_results"]:
                problems.append(f"{r['id']}: expected tests tagged [ex{r['id']}], found none")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercises_dir", nargs="?", type=pathlib.Path, default=ROOT / "exercises",
                        help="the exercises folder to grade (default: this checkout's exercises/)")
    parser.add_argument("--build-dir", type=pathlib.Path, default=ROOT / "build" / "grade")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="report folder (default: BUILD_DIR/report)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cuda", choices=["AUTO", "ON", "OFF"], default="OFF",
                        help="HALFWAY_CUDA for the grading build (default OFF: grading runs on the CPU)")
    parser.add_argument("--expect", choices=["full", "zero"], help="fail unless the grade is full marks / zero from stubs")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    args = parser.parse_args()

    impl_dir = args.exercises_dir.resolve()
    if not impl_dir.is_dir():
        print(f"grade.py: expected an exercises folder, found nothing at {impl_dir}", file=sys.stderr)
        return 2
    args.build_dir = args.build_dir.resolve()
    args.out = (args.out or args.build_dir / "report").resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "grade.log"
    log.write_text("", encoding="utf-8")
    try:
        exercises, _ = exercise_tool.generate(ROOT / "solutions")
    except exercise_tool.MarkerError as err:
        print(f"grade.py: {err}", file=sys.stderr)
        return 2
    if not exercises:
        print("grade.py: expected exercises in solutions/, found none", file=sys.stderr)
        return 2

    chapters = sorted({ex.chapter for ex in exercises})
    failures = build(args, impl_dir, chapters, log)
    rows = grade(exercises, failures, run_tests(args, log))
    print_table(rows)
    write_reports(rows, args.out, impl_dir)
    print(f"grade.py: wrote {args.out / 'grade.json'} and {args.out / 'grade.junit.xml'} (full log: {log})")
    if args.expect:
        problems = check_expectation(rows, args.expect)
        for p in problems:
            print(f"grade.py: {p}", file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
