"""Runs the race demo built with ThreadSanitizer: the racy kernel must be reported with
both source lines (the lines marked `race: write` and `race: read` in race_demo.cu), and
the fixed kernel must run clean. Usage: check_race_report.py PROGRAM race_demo.cu"""
import os
import subprocess
import sys

program, source = sys.argv[1], sys.argv[2]
lines = open(source).read().splitlines()
write = next(i + 1 for i, l in enumerate(lines) if "// race: write" in l)
read = next(i + 1 for i, l in enumerate(lines) if "// race: read" in l)
env = dict(os.environ, TSAN_OPTIONS="halt_on_error=0 exitcode=66")

racy = subprocess.run([program, "--kernel", "racy", "--backend", "emu", "--size", "64"],
                      capture_output=True, text=True, env=env)
report = racy.stdout + racy.stderr
problems = []
if "ThreadSanitizer: data race" not in report:
    problems.append("expected a ThreadSanitizer data race report for the racy kernel, found none")
for what, line in (("write", write), ("read", read)):
    if f"race_demo.cu:{line}" not in report:
        problems.append(f"expected the {what} at race_demo.cu:{line} in the report, found it missing")

fixed = subprocess.run([program, "--kernel", "fixed", "--backend", "emu", "--size", "64"],
                       capture_output=True, text=True, env=env)
if fixed.returncode != 0 or "ThreadSanitizer" in fixed.stdout + fixed.stderr:
    problems.append(f"expected the fixed kernel to run clean, found exit {fixed.returncode}:\n{fixed.stderr[-2000:]}")

for p in problems:
    print("check_race_report:", p)
if problems:
    print(report[-4000:])
    sys.exit(1)
print(f"check_race_report: race reported at race_demo.cu:{write} and :{read}; the fixed kernel is clean")
