#!/usr/bin/env python3
"""Grade a student's exercises, each one on its own: build it, run its tests, print a score table.

    tools/grade.py                          grade this checkout's exercises/
    tools/grade.py PATH/TO/exercises        grade a student's copy of the exercises folder
    tools/grade.py --exercise 03.1 FOLDER   grade one exercise (FOLDER needs only its file)

The exercise list, the points and the gates come from solutions/ (tools/exercises.py),
never from the student's copy. Each exercise is graded in a tree that is solutions/ except
for that exercise's marked body, taken from the student's file: a typo in 02.1 cannot
break 03.x's build, an unfilled 01.1 cannot fail 03.1. Text the student changed outside
the markers is reported (file:line) and ignored.

Speed: one build folder (--build-dir) links one grading tree (BUILD_DIR/grading-tree) in
place of solutions/; it is configured once (later runs leave CMake's reruns to ninja).
Grading an exercise writes its one file into the tree, builds only the test binaries of its
chapter that run its tagged tests (ninja rebuilds what includes that file) and runs the
tests tagged [exNN.M]. Then the file is put back with its old timestamp and the objects
compiled against the student's version are deleted, so the next exercise rebuilds only what
its own file touches. An exercise whose body equals the solution's rebuilds nothing.

Points: the policy is that a plausible mistake keeps at most a third of an exercise's
points. Every test tagged [exNN.M] checks a property of the answer, so each failing test
caps the exercise: at a third (exercises.py DEFAULT_CAP), or lower when it is a gate
(exercises.py GATES: the test of the exercise's point, e.g. every input of a conversion).
An exercise earns points * min(share of passing tests, lowest cap of its failing tests);
tests skipped for want of a GPU do not count. A body that does not compile earns nothing.
Writes grade.json and grade.junit.xml into --out.

--expect full|zero turns the grade into a check (used by CI): full marks everywhere, or
zero everywhere with every exercise failing because it is "not implemented yet".
--expect-each ID=full|zero,... checks exercise by exercise, `*` standing for the others
(a folder where 02.1 does not compile: --expect-each '02.1=zero,*=full').
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import exercises as exercise_tool  # noqa: E402
import implementation  # noqa: E402

ROOT = exercise_tool.ROOT
TAG = re.compile(r"\[ex(\d\d\.\d+)\]")
NOT_IMPLEMENTED = "is not implemented yet"
TREE = "grading-tree"


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
        if "ERROR:" in line or "error:" in line or "undefined reference" in line or "exception" in line.lower():
            text = line.strip()
            text = re.sub(r"^\S*/(chapters|solutions|exercises|kernels|common)/", r"\1/", text)
            for follow in lines[i + 1:i + 3]:
                if follow.strip().startswith("values:"):
                    text += " | " + follow.strip()
                    break
            return text[:300]
    tail = [l.strip() for l in lines if l.strip()]
    return (tail[-1] if tail else "failed without output")[:300]


# ---- the student's folder: bodies, and what changed outside the markers -------------------

@dataclasses.dataclass
class StudentFile:
    bodies: dict[str, list[str]]     # exercise id -> the lines between its markers
    body_line: dict[str, int]        # exercise id -> the student's line number of its BEGIN
    errors: dict[str, str]           # exercise id -> why its body cannot be taken
    ignored: list[str]               # "file:line: what" for each change outside the markers


def outside(lines: list[str], blocks: list[exercise_tool.Block]) -> list[tuple[int, str]]:
    """(line number, text) of the lines that are not inside a block (markers included)."""
    inside = {i for b in blocks for i in range(b.begin + 1, b.end)}
    return [(i + 1, l) for i, l in enumerate(lines) if i not in inside]


def changes(rel: str, expected: list[tuple[int, str]], found: list[tuple[int, str]]) -> list[str]:
    """file:line of each of the student's lines that differ from the generated stub's."""
    out = []
    matcher = difflib.SequenceMatcher(a=[t for _, t in expected], b=[t for _, t in found], autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op in ("replace", "insert"):
            for n, text in found[b0:b1]:
                out.append(f"{rel}:{n}: {text.strip()[:80]!r}")
        elif op == "delete":
            at = found[b0][0] if b0 < len(found) else (found[-1][0] + 1 if found else 1)
            out.append(f"{rel}:{at}: {a1 - a0} line(s) of the stub deleted")
    return out


def read_student(folder: pathlib.Path, rel: str, stub_text: str, ids: list[str]) -> StudentFile:
    path = folder / rel
    if not path.is_file():
        return StudentFile({}, {}, {i: f"{rel} is missing from {folder}" for i in ids}, [f"{rel}: missing"])
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    try:
        blocks = exercise_tool.find_blocks(lines, rel)
    except exercise_tool.MarkerError as err:
        return StudentFile({}, {}, {i: f"broken markers: {err}" for i in ids}, [str(err)])
    by_id = {b.id: b for b in blocks}
    # The stub's banner is no change; a folder without it (solutions/) is none either.
    banner = exercise_tool.banner(rel).splitlines(keepends=True)
    stub_lines = stub_text.splitlines(keepends=True)
    expected = [x for x in outside(stub_lines, exercise_tool.find_blocks(stub_lines, rel)) if x[0] > len(banner)
                or stub_lines[:len(banner)] != banner]
    found = [x for x in outside(lines, blocks) if x[0] > len(banner) or lines[:len(banner)] != banner]
    ignored = changes(rel, expected, found)
    errors = {i: f"{rel}: the markers of exercise {i} are missing" for i in ids if i not in by_id}
    bodies = {i: lines[b.begin + 1:b.end] for i, b in by_id.items() if i in ids}
    return StudentFile(bodies, {i: b.begin + 1 for i, b in by_id.items()}, errors, ignored)


def variant(solution_text: str, ex_id: str, body: list[str]) -> str:
    """The solution file with exercise ex_id's body replaced by `body`."""
    return implementation.with_bodies(solution_text, {ex_id: body})


# ---- the grading tree and its build --------------------------------------------------------

class GradingBuild:
    """One build folder whose exercises folder is BUILD_DIR/grading-tree, kept equal to solutions/."""

    def __init__(self, args, log: pathlib.Path, solutions: dict[str, str]):
        self.args, self.log, self.solutions = args, log, solutions
        self.tree = args.build_dir / TREE
        self.configured = False

    def sync_tree(self) -> None:
        """Makes the tree equal to solutions/, touching only files that differ."""
        for rel, text in self.solutions.items():
            path = self.tree / rel
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")

    def settings(self) -> dict[str, str]:
        return {"CMAKE_GENERATOR": "Ninja", "HALFWAY_IMPL": "exercises", "HALFWAY_EXERCISES_DIR": str(self.tree),
                "CMAKE_BUILD_TYPE": "Release", "HALFWAY_CUDA": self.args.cuda}

    def configured_already(self) -> bool:
        """The folder is configured with our settings: ninja then re-runs CMake by itself when
        a CMakeLists.txt or a globbed folder changes, and a configure of our own would only
        cost seconds per exercise (per mutant, tools/run_mutants.py)."""
        cache = self.args.build_dir / "CMakeCache.txt"
        if not cache.is_file() or not (self.args.build_dir / "build.ninja").is_file():
            return False
        found = dict(re.findall(r"^([A-Za-z_]+):[A-Z]+=(.*)$", cache.read_text(encoding="utf-8", errors="replace"), re.M))
        return all(found.get(k) == v for k, v in self.settings().items())

    def configure(self) -> str:
        """'' or the configure error."""
        if self.configured_already():  # ninja reruns CMake if a CMakeLists.txt changed
            proc = run(["ninja", "-C", str(self.args.build_dir), "build.ninja"], self.log, self.args.quiet)
            return "" if proc.returncode == 0 else "configure failed: " + first_error(proc.stdout)
        cmd = ["cmake", "-S", str(ROOT), "-B", str(self.args.build_dir), "-G", "Ninja"] + [
            f"-D{k}={v}" for k, v in self.settings().items() if k != "CMAKE_GENERATOR"]
        proc = run(cmd, self.log, self.args.quiet)
        return "" if proc.returncode == 0 else "configure failed: " + first_error(proc.stdout)

    def ninja(self, *tool: str) -> str:
        return subprocess.run(["ninja", "-C", str(self.args.build_dir), *tool], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout

    def test_targets(self, chapter: str) -> list[str]:
        """The test binaries of a chapter (the tests tagged [exNN.M] live in chapter NN's)."""
        names = re.findall(rf"^(ch{chapter}_tests_[a-z]+):", self.ninja("-t", "targets", "all"), re.M)
        return sorted(set(names))

    def ctest_binaries(self, *label: str) -> set[str]:
        """The names of the binaries that run the tests ctest lists (with `-L label`)."""
        proc = subprocess.run(["ctest", "--test-dir", str(self.args.build_dir), "--show-only=json-v1", *label],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            tests = json.loads(proc.stdout).get("tests", [])
        except json.JSONDecodeError:
            return set()
        return {pathlib.Path(t["command"][0]).name for t in tests if t.get("command")}

    def exercise_targets(self, ex) -> list[str]:
        """The chapter's test binaries that run the tests tagged [exNN.M]: only they need the
        student's body (a mutant of 05.1 rebuilds ch05_tests_cpu, not ch05_tests_emu). ctest
        knows a binary's tests once it was built (doctest discovery), so until every binary
        of the chapter was built once, all of them are built."""
        chapter = self.test_targets(ex.chapter)
        if not set(chapter) <= self.ctest_binaries():
            return chapter
        tagged = self.ctest_binaries("-L", "^ex" + re.escape(ex.id) + "$")
        return [t for t in chapter if t in tagged] or chapter

    def build(self, targets: list[str]) -> str:
        """'' or the first build error."""
        if not targets:
            return "no test binaries found for this exercise's chapter"
        proc = run(["cmake", "--build", str(self.args.build_dir), "-j", str(self.args.jobs), "--target", *targets],
                   self.log, self.args.quiet)
        return "" if proc.returncode == 0 else "build failed: " + first_error(proc.stdout)

    def dependents(self, path: pathlib.Path) -> set[pathlib.Path]:
        """Every build output that reads `path` (a source, or a header per the depfiles)."""
        build, target = self.args.build_dir, path.resolve()
        found: set[pathlib.Path] = set()
        output = None
        for line in self.ninja("-t", "deps").splitlines():
            if line and not line.startswith(" "):
                output = build / line.split(":")[0]
            elif line.strip() and output and (build / line.strip()).resolve() == target:
                found.add(output)
        query = self.ninja("-t", "query", str(target))
        for line in query.split("outputs:", 1)[1].splitlines() if "outputs:" in query else []:
            if line.strip():
                found.add(build / line.strip())
        return found

    def put_back(self, path: pathlib.Path, text: str, mtime_ns: int, since_ns: int) -> None:
        """Restores a tree file with its old timestamp, deleting what was built from the variant.

        Objects compiled before the variant was written read the solution and stay valid;
        those compiled since read the variant: they are deleted, so ninja rebuilds them
        (from the solution) only when a later exercise needs them."""
        stale = [p for p in self.dependents(path) if p.exists() and p.stat().st_mtime_ns >= since_ns]
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(mtime_ns, mtime_ns))
        for p in stale:
            p.unlink()

    def run_tests(self, ex_id: str, out: pathlib.Path) -> list[dict]:
        junit = out / f"ctest-ex{ex_id}.junit.xml"
        junit.unlink(missing_ok=True)
        label = "^ex" + re.escape(ex_id) + "$"
        run(["ctest", "--test-dir", str(self.args.build_dir), "-L", label, "-j", str(self.args.jobs),
             "--timeout", "900", "--output-junit", str(junit)], self.log, self.args.quiet)
        if not junit.is_file():
            return []
        results = []
        for case in ET.parse(junit).getroot().iter("testcase"):
            status = case.get("status")
            results.append({"name": case.get("name"), "status": {"run": "pass", "fail": "fail"}.get(status, "skipped"),
                            "output": case.findtext("system-out") or ""})
        return results


def map_lines(text: str, rel: str, sol_begin: int, stu_begin: int, body_len: int) -> str:
    """Rewrites PATH/grading-tree/REL:LINE to the student's REL:LINE inside the exercise's
    body, and every other grading-tree path to the solutions/ file it copies."""
    def fix(m: re.Match) -> str:
        line = int(m.group(1))
        if sol_begin < line <= sol_begin + body_len:
            return f"{rel}:{stu_begin + line - sol_begin}"
        return f"solutions/{rel}:{line}"
    text = re.sub(r"(?:\S*/)?" + re.escape(TREE + "/" + rel) + r":(\d+)", fix, text)
    return re.sub(r"\S*/" + TREE + "/", "solutions/", text)


def grade_all(args, exercises, folder: pathlib.Path, log: pathlib.Path) -> tuple[list[dict], list[str]]:
    """Grades each exercise in its own tree; returns the rows and the ignored changes."""
    _, generated = exercise_tool.generate(ROOT / "solutions")
    solutions = {rel: (ROOT / "solutions" / rel).read_text(encoding="utf-8") for rel in generated
                 if (ROOT / "solutions" / rel).is_file()}
    by_file: dict[str, list[str]] = {}
    for ex in exercises:
        by_file.setdefault(ex.file, []).append(ex.id)
    students = {rel: read_student(folder, rel, generated[rel], ids) for rel, ids in by_file.items()}
    ignored = [c for s in students.values() for c in s.ignored]

    gb = GradingBuild(args, log, solutions)
    gb.sync_tree()
    problem = gb.configure()
    build_failures: dict[str, str] = {}
    results: list[dict] = []
    for ex in exercises:
        student = students[ex.file]
        if problem or ex.id in student.errors:
            build_failures[ex.id] = problem or student.errors[ex.id]
            continue
        path = gb.tree / ex.file
        text = variant(solutions[ex.file], ex.id, student.bodies[ex.id])
        changed = text != solutions[ex.file]
        old_mtime, since = path.stat().st_mtime_ns, time.time_ns()
        if changed:
            path.write_text(text, encoding="utf-8")
        try:
            error = gb.build(gb.exercise_targets(ex))
            if error:
                build_failures[ex.id] = map_lines(error, ex.file, ex.solution_line, student.body_line[ex.id],
                                                  len(student.bodies[ex.id]))
            else:
                results += [r for r in gb.run_tests(ex.id, args.out) if ex.id in TAG.findall(r["name"])]
        finally:
            if changed:
                gb.put_back(path, solutions[ex.file], old_mtime, since)
    return grade(exercises, build_failures, results), ignored


# ---- points, table, reports ----------------------------------------------------------------

def cap_of(ex, test: dict) -> tuple[float, bool]:
    """(the share of the points a failing `test` leaves, whether a gate set it)."""
    gates = [g.cap for g in ex.gates if g.test in test["name"]]
    return (min(gates), True) if gates else (exercise_tool.DEFAULT_CAP, False)


def grade(exercises, build_failures: dict[str, str], results: list[dict]) -> list[dict]:
    """build_failures: exercise id (or its chapter, NN) -> why it did not build."""
    rows = []
    for ex in exercises:
        failure = build_failures.get(ex.id) or build_failures.get(ex.chapter)
        tests = [] if failure else [r for r in results if ex.id in TAG.findall(r["name"])]
        counted = [t for t in tests if t["status"] != "skipped"]
        passed = [t for t in counted if t["status"] == "pass"]
        failing = [t for t in counted if t["status"] == "fail"]
        result = "pass"
        if failure:
            earned, first = 0.0, failure
        elif not counted:
            earned, first = 0.0, "no tests ran for this exercise"
        else:
            earned = ex.points * len(passed) / len(counted)
            first = ""
            if failing:  # the test with the lowest cap names the failure
                (cap, gate), test = min(((cap_of(ex, t), t) for t in failing), key=lambda c: c[0][0])
                earned = min(earned, cap * ex.points)
                first = (f"{'gate ' if gate else ''}failed (points capped at {cap:.0%}): "
                         f"{test['name']}: {first_error(test['output'])}")
                result = "gate" if gate else "fail"
        if earned != ex.points and result == "pass":
            result = "fail"
        rows.append({"id": ex.id, "title": ex.title, "points": ex.points, "earned": round(earned, 2),
                     "passed": len(passed), "tests": len(counted), "result": result,
                     "first_failure": first, "test_results": tests})
    return rows


def print_table(rows: list[dict], ignored: list[str]) -> None:
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
    if ignored:
        print("Changed outside the exercise markers (ignored: graded from solutions/):")
        for c in ignored[:40]:
            print(f"  {c}")
        if len(ignored) > 40:
            print(f"  ... and {len(ignored) - 40} more (grade.json lists them all)")
        print()


def write_reports(rows: list[dict], out: pathlib.Path, impl_dir: pathlib.Path, ignored: list[str]) -> None:
    summary = {"exercises_dir": str(impl_dir), "earned": round(sum(r["earned"] for r in rows), 2),
               "possible": sum(r["points"] for r in rows),
               "exercises": [{k: v for k, v in r.items() if k != "test_results"} |
                             {"tests_detail": [{"name": t["name"], "status": t["status"]} for t in r["test_results"]]}
                             for r in rows],
               "ignored_changes": ignored}
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


def check_expectation(rows: list[dict], expect: str | dict[str, str]) -> list[str]:
    """expect: 'full', 'zero', or {exercise id: 'full' | 'zero'}; the id '*' stands for the
    exercises not named (without it they are not checked)."""
    problems = []
    for r in rows:
        want = expect if isinstance(expect, str) else expect.get(r["id"], expect.get("*"))
        if want == "full" and r["earned"] != r["points"]:
            problems.append(f"{r['id']}: expected full marks, found {r['earned']:g}/{r['points']} ({r['first_failure']})")
        if want == "zero":
            if r["earned"] != 0 or r["passed"] != 0:
                problems.append(f"{r['id']}: expected every test to fail, found {r['passed']}/{r['tests']} passing")
        if want == "zero" and expect == "zero":
            for t in r["test_results"]:
                if t["status"] == "fail" and NOT_IMPLEMENTED not in t["output"]:
                    problems.append(f"{r['id']}: expected '{r['id']} {NOT_IMPLEMENTED}' in {t['name']!r}, found: {first_error(t['output'])}")
            if not r["test_results"]:
                problems.append(f"{r['id']}: expected tests tagged [ex{r['id']}], found none")
    return problems


def parse_expect_each(text: str) -> dict[str, str]:
    out = {}
    for item in text.split(","):
        ex_id, _, want = item.partition("=")
        if want not in ("full", "zero"):
            raise argparse.ArgumentTypeError(f"expected ID=full or ID=zero, found {item!r}")
        out[ex_id.strip()] = want
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("exercises_dir", nargs="?", type=pathlib.Path, default=ROOT / "exercises",
                        help="the exercises folder to grade (default: this checkout's exercises/)")
    parser.add_argument("--exercise", action="append", default=[], metavar="ID",
                        help="grade only this exercise (repeatable); FOLDER then needs only its file")
    parser.add_argument("--build-dir", type=pathlib.Path, default=ROOT / "build" / "grade")
    parser.add_argument("--out", type=pathlib.Path, default=None, help="report folder (default: BUILD_DIR/report)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cuda", choices=["AUTO", "ON", "OFF"], default="OFF",
                        help="HALFWAY_CUDA for the grading build (default OFF: grading runs on the CPU)")
    expect = parser.add_mutually_exclusive_group()
    expect.add_argument("--expect", choices=["full", "zero"], help="fail unless the grade is full marks / zero from stubs")
    expect.add_argument("--expect-each", type=parse_expect_each, metavar="ID=full|zero,...",
                        help="fail unless each named exercise gets full marks / zero")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    args = parser.parse_args()

    impl_dir = args.exercises_dir.resolve()
    if not impl_dir.is_dir():
        print(f"grade.py: expected an exercises folder, found nothing at {impl_dir}", file=sys.stderr)
        return 2
    if not shutil.which("ninja"):
        print("grade.py: expected ninja (the grader rebuilds one file at a time with it), found none", file=sys.stderr)
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
    if args.exercise:
        unknown = sorted(set(args.exercise) - {e.id for e in exercises})
        if unknown:
            print(f"grade.py: expected exercise ids from solutions/, found {', '.join(unknown)}", file=sys.stderr)
            return 2
        exercises = [e for e in exercises if e.id in args.exercise]
    if not exercises:
        print("grade.py: expected exercises in solutions/, found none", file=sys.stderr)
        return 2

    start = time.monotonic()
    rows, ignored = grade_all(args, exercises, impl_dir, log)
    print_table(rows, ignored)
    write_reports(rows, args.out, impl_dir, ignored)
    print(f"grade.py: graded {len(rows)} exercise(s) in {time.monotonic() - start:.0f} s; wrote {args.out / 'grade.json'} "
          f"and {args.out / 'grade.junit.xml'} (full log: {log})")
    want = args.expect or args.expect_each
    if want:
        problems = check_expectation(rows, want)
        for p in problems:
            print(f"grade.py: {p}", file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
