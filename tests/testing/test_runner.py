#!/usr/bin/env python3
"""The `sluice test` runner itself: test_runner.py SLUICE FIXTURES.

FIXTURES (tests/testing/) holds:
  coverage/branch.lua   a pipeline whose executable lines are known (checked
                        against `luac5.4 -l`: 2-6, 8, 9, 11, 13-16), and a
                        test that takes one side of its `if`
  features/stamp.lua    a pipeline that shows what reaches its steps (_meta,
                        now, env), and stamp_test.lua using every feature
  failing/upper.lua     a pipeline, and upper_test.lua with a passing case,
                        failing ones (a diff, an unknown step or source, a
                        failing check) and a skipped one
  invalid/              test files that cannot be run: a case without a
                        name, a syntax error
Each check prints what it expected and what it got when it fails.
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SLUICE = os.path.abspath(sys.argv[1])
FIX = os.path.abspath(sys.argv[2])
failures = []


def run(args, cwd):
    p = subprocess.run([SLUICE, "test"] + args, cwd=cwd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def check(what, cond, expected, got):
    if not cond:
        failures.append(f"{what}\n  expected: {expected}\n  got:      {got}")


def contains(what, text, needle):
    check(what, needle in text, f"output containing {needle!r}", text)


# A passing run with coverage: exact figures and LCOV.
with tempfile.TemporaryDirectory() as tmp:
    lcov = os.path.join(tmp, "branch.info")
    code, out, err = run(["--coverage-out", lcov, "branch_test.lua"], os.path.join(FIX, "coverage"))
    check("coverage: exit code", code == 0, 0, f"{code}\n{out}{err}")
    contains("coverage: the case line", out, "ok    branch_test.lua: a small n is not big (")
    line = next((l for l in out.splitlines() if l.strip().startswith("branch.lua")), "")
    check("coverage: the file's line", line.split() == ["branch.lua", "11/12", "91.7%", "not", "run:", "9"],
          "branch.lua 11/12 91.7% not run: 9", line)
    contains("coverage: summary", out, "1 passed, 0 failed")
    with open(lcov) as f:
        info = f.read().splitlines()
    da = {int(l[3:].split(",")[0]): int(l.split(",")[1]) for l in info if l.startswith("DA:")}
    check("lcov: the lines that can run", sorted(da) == [2, 3, 4, 5, 6, 8, 9, 11, 13, 14, 15, 16],
          [2, 3, 4, 5, 6, 8, 9, 11, 13, 14, 15, 16], sorted(da))
    check("lcov: line 9 never ran, 11 ran once", da.get(9) == 0 and da.get(11) == 1, "DA:9,0 and DA:11,1",
          {9: da.get(9), 11: da.get(11)})
    check("lcov: totals", "LF:12" in info and "LH:11" in info and info[-1] == "end_of_record",
          "LF:12, LH:11, end_of_record", info[-3:])
    check("lcov: the source file", f"SF:{os.path.join(FIX, 'coverage', 'branch.lua')}" in info,
          "SF:<absolute path of branch.lua>", [l for l in info if l.startswith("SF:")])

# _meta, now, env (suite and case), test.any, test.like, unordered, dropped.
code, out, err = run(["features"], FIX)
check("features: every case passes", code == 0 and "4 passed, 0 failed" in out, "exit 0, 4 passed",
      f"{code}\n{out}{err}")

# The pipeline as PATH finds its test file beside it.
code, out, err = run(["branch.lua"], os.path.join(FIX, "coverage"))
check("a pipeline as PATH", code == 0 and "1 passed, 0 failed" in out, "exit 0, 1 passed", f"{code}\n{out}{err}")

# Failing cases: one line each, a diff, exit 1.
code, out, err = run([], os.path.join(FIX, "failing"))
check("failing: exit code", code == 1, 1, f"{code}\n{out}{err}")
contains("failing: a passing case", out, "ok    upper_test.lua: names are upper-cased (")
contains("failing: the failing case", out, "FAIL  upper_test.lua: a wrong expectation (")
contains("failing: a field that differs", out, 'name: expected "B", got "A"')
contains("failing: a field that is missing", out, "extra: expected true, missing")
contains("failing: a dead letter's reason", out,
         'reason: expected one containing "no such reason", got "upper.lua:9: attempt to index a nil value')
contains("failing: an unknown step", out, "at: the pipeline has no step named 'nope' (steps: step.1")
contains("failing: an unknown source", out, "input: the pipeline has no source named 'elsewhere' (sources: people)")
contains("failing: a failing check", out, "check: upper_test.lua:12: expected two records")
contains("failing: a skipped case", out, "skip  upper_test.lua: skipped for now (")
contains("failing: the summary", out, "1 passed, 4 failed, 1 skipped (1 file,")

# JUnit XML on standard output, and to a file; both parse.
with tempfile.TemporaryDirectory() as tmp:
    jfile = os.path.join(tmp, "j.xml")
    code, out, err = run(["--format", "junit", "--junit", jfile], os.path.join(FIX, "failing"))
    check("junit: exit code", code == 1, 1, code)
    contains("junit: the lines of text go to standard error", err, "FAIL  upper_test.lua: a wrong expectation")
    for name, text in (("stdout", out), ("--junit FILE", open(jfile).read())):
        try:
            root = ET.fromstring(text)
        except ET.ParseError as e:
            failures.append(f"junit ({name}): not XML: {e}\n{text}")
            continue
        suite = root.find("testsuite")
        got = {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")}
        want = {"name": "upper_test.lua", "tests": "6", "failures": "4", "errors": "0", "skipped": "1"}
        check(f"junit ({name}): the suite", got == want, want, got)
        cases = {c.get("name"): c for c in suite.findall("testcase")}
        fail = cases.get("a wrong expectation")
        msg = fail.find("failure") if fail is not None else None
        check(f"junit ({name}): a failure with its diff", msg is not None and 'name: expected "B", got "A"' in msg.text,
              "a <failure> holding the diff", ET.tostring(fail, encoding="unicode") if fail is not None else None)
        check(f"junit ({name}): a passing case", cases.get("names are upper-cased") is not None and
              len(list(cases["names are upper-cased"])) == 0, "an empty <testcase>", list(cases))

# --run picks cases by name.
code, out, err = run(["--run", "upper-cased"], os.path.join(FIX, "failing"))
check("--run: only the named case", code == 0 and "1 passed, 0 failed" in out, "exit 0, 1 passed", f"{code}\n{out}")

# Invalid test files: file:line, exit 2.
code, out, err = run([], os.path.join(FIX, "invalid"))
check("invalid: exit code", code == 2, 2, f"{code}\n{out}{err}")
contains("invalid: a case without a name", out, "missing_name_test.lua:2: case 1: name: a string is required")
contains("invalid: a syntax error", out, "syntax_test.lua:5: '}' expected near 'expect'")
contains("invalid: the summary", out, "0 passed, 0 failed, 2 invalid test files")

# A path that is no test.
code, out, err = run(["no-such-file.lua"], FIX)
check("a missing path: exit code 2", code == 2, 2, f"{code}\n{out}{err}")

if failures:
    print("\n\n".join(failures))
    print(f"\ntest_runner: {len(failures)} check(s) failed")
    sys.exit(1)
print("test_runner: ok")
