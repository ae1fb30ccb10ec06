#!/usr/bin/env python3
"""The lesson's bytes-per-parameter table is the program's output: runs ch03_param_memory
and checks that every row of the table in chapters/03_layers/README.md (section "The
parameter store") gives the bytes per parameter and the total MiB the program prints for
that mode.

    check_param_memory_table.py PATH/TO/ch03_param_memory README.md
"""
import re
import subprocess
import sys


def program_rows(binary):
    out = subprocess.run([binary], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^(fp32|mixed \S+, \S+ grads)\s+(no|yes)\s+\d+\s+(?:[\d.]+\s+){4}([\d.]+)\s+([\d.]+)\s*$", line)
        if m:
            mode, adam, total, per = m.groups()
            kind = "fp32" if mode == "fp32" else ("mixed16" if "fp32 grads" not in mode else "mixed")
            rows.setdefault((kind, adam == "yes"), set()).add((float(per), total))
    return rows


def lesson_rows(readme):
    rows = {}
    for line in open(readme, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 7 or not cells[5].startswith("**"):
            continue
        label = cells[0]
        kind = "fp32" if label.startswith("fp32") else ("mixed16" if "16-bit gradients" in label else "mixed")
        rows[(kind, "with Adam" in label)] = (float(cells[5].strip("*")), cells[6])
    return rows


def main(args):
    if len(args) != 2:
        sys.exit("usage: check_param_memory_table.py PATH/TO/ch03_param_memory README.md")
    prog, lesson = program_rows(args[0]), lesson_rows(args[1])
    if len(lesson) != 6 or len(prog) != 6:
        sys.exit(f"expected 6 modes in the lesson's table and the program's output, found {len(lesson)} and {len(prog)}")
    bad = 0
    for key, (per, total) in sorted(lesson.items()):
        got = prog[key]
        if not any(abs(p - per) < 0.05 and t == total for p, t in got):
            print(f"lesson row {key}: {per} B/param, {total} MiB; the program prints {sorted(got)}")
            bad += 1
    if bad:
        sys.exit(f"{bad} row(s) of the lesson's table differ from ch03_param_memory's output")
    print("the lesson's bytes-per-parameter table matches ch03_param_memory (6 modes)")


if __name__ == "__main__":
    main(sys.argv[1:])
