#!/usr/bin/env python3
"""Run one pipeline test case: run_case.py <path-to-sluice> <case-dir>.

A case is a folder holding pipeline.lua, its inputs, and expected outputs:

  pipeline.lua       the pipeline under test (paths in it are relative to it)
  expected.<name>    <name> must exist after the run and match this file:
                     .jsonl files line by line as parsed JSON, ignoring a
                     top-level "time" key (DLQ envelopes carry a timestamp);
                     any other file byte for byte.  In the expected text,
                     {work} and {state} stand for the (real) paths of the
                     work and state folders, e.g. a DLQ envelope's
                     "origin":"{work}/in.jsonl"
  expected.<dir>/    a folder: each file in it is compared as above with the
                     file of the same relative path under <dir> in the work
                     folder; expected.@state/ is the state folder instead, so
                     expected.@state/<pipeline name>/dlq.jsonl checks the
                     default dead-letter file
  expected.@stdout   (or expected.@stdout.jsonl) what sluice wrote to standard
                     output in the last run
  stdin              optional: fed to sluice on standard input (else /dev/null)
  case.json          optional, every key optional:
                       {"command": "run" | "check",      default "run"
                        "args": ["--flag", ...],         extra arguments
                        "exit_code": 0,                  expected exit code
                        "stderr_contains": ["..."],
                        "stdout_contains": ["..."],
                        "stderr_not_contains": ["..."],
                        "pipeline": "pipeline.lua",      the file to pass
                        "env": {"NAME": "value"},
                        "timeout": 60,                   seconds, per run
                        "runs": 1,                       runs in a row, same state
                        "copy": ["../other_case/f.lua"]} files of other cases
                                                         the case shares, copied
                                                         beside it before the run
                     In "args" and "env" values, {work} and {state} stand for
                     the work folder and the state folder.

The case folder is copied to a fresh temporary folder, and sluice runs there:
  sluice run pipeline.lua --state-dir <tmp>/state [args...]     (cwd = the copy)
  sluice check pipeline.lua [args...]
(with case.json's "pipeline" in place of pipeline.lua if given, e.g. to check
a file that does not exist; the folder still needs a pipeline.lua to be a case)
Every run must meet exit_code and the *_contains lists; the expected files are
compared after the last run. Exit 0 on pass, 1 on fail; on failure the
temporary folder is kept and its path printed.
"""

import difflib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

MAX_REPORT_LINES = 80


class CaseError(Exception):
    """The case itself is malformed (not a sluice failure)."""


def load_case(case_dir):
    spec = {}
    path = os.path.join(case_dir, "case.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        if not isinstance(spec, dict):
            raise CaseError("case.json must hold a JSON object")
    known = {"command", "args", "exit_code", "stderr_contains",
             "stdout_contains", "stderr_not_contains", "pipeline", "env",
             "timeout", "runs", "copy"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise CaseError("case.json: unknown key(s) %s (known: %s)"
                        % (", ".join(unknown), ", ".join(sorted(known))))
    spec.setdefault("command", "run")
    spec.setdefault("args", [])
    spec.setdefault("exit_code", 0)
    spec.setdefault("stderr_contains", [])
    spec.setdefault("stdout_contains", [])
    spec.setdefault("stderr_not_contains", [])
    spec.setdefault("pipeline", "pipeline.lua")
    spec.setdefault("env", {})
    spec.setdefault("timeout", 60)
    spec.setdefault("runs", 1)
    if spec["command"] not in ("run", "check"):
        raise CaseError("case.json: command must be \"run\" or \"check\", not %r"
                        % spec["command"])
    return spec


def substitute(value, work, state):
    return str(value).replace("{work}", work).replace("{state}", state)


def run_sluice(sluice, spec, case_dir, work, state, run_no):
    """Runs sluice once; returns a list of failure messages and the output
    (stdout as bytes, stderr as text)."""
    cmd = [sluice, spec["command"], spec["pipeline"]]
    if spec["command"] == "run":
        cmd += ["--state-dir", state]
    cmd += [substitute(a, work, state) for a in spec["args"]]
    env = dict(os.environ)
    env.update({k: substitute(v, work, state) for k, v in spec["env"].items()})

    stdin_path = os.path.join(case_dir, "stdin")
    if not os.path.exists(stdin_path):
        stdin_path = os.devnull
    label = "run %d of %d" % (run_no, spec["runs"]) if spec["runs"] > 1 else "run"
    print("%s: %s  (cwd %s)" % (label, " ".join(cmd), work))

    failures = []
    with open(stdin_path, "rb") as stdin:
        # Own process group, so that a timeout kills anything sluice started.
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=spec["timeout"])
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            code = None
            failures.append("%s: timed out after %s s (killed)"
                            % (label, spec["timeout"]))
    err = err.decode("utf-8", "replace")

    if code is not None and code != spec["exit_code"]:
        failures.append("%s: exit code: expected %d, actual %d"
                        % (label, spec["exit_code"], code))
    for stream, text, key in (("stderr", err, "stderr_contains"),
                              ("stdout", out.decode("utf-8", "replace"), "stdout_contains")):
        for want in spec[key]:
            if want not in text:
                failures.append("%s: %s does not contain %r" % (label, stream, want))
    for unwanted in spec["stderr_not_contains"]:
        if unwanted in err:
            failures.append("%s: stderr contains %r" % (label, unwanted))
    return failures, out, err


def split_lines(data):
    """Lines of a text file without their newlines; a final newline ends the
    last line rather than starting an empty one."""
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def normalize_jsonl(line):
    """A canonical form of one JSON Lines line for comparison, or None if the
    line is not a JSON value."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if isinstance(value, dict):
        value.pop("time", None)
    # sort_keys ignores key order; dumps keeps true != 1 and 1 != 1.0.
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def report(lines):
    if len(lines) > MAX_REPORT_LINES:
        lines = lines[:MAX_REPORT_LINES] + ["... (%d more lines)"
                                            % (len(lines) - MAX_REPORT_LINES)]
    return "\n".join(lines)


def compare_jsonl(name, expected_bytes, actual_bytes):
    """Returns None if equal, else a failure report."""
    try:
        exp_lines = split_lines(expected_bytes.decode("utf-8"))
    except UnicodeDecodeError as e:
        return "expected.%s is not UTF-8: %s" % (name, e)
    try:
        act_text = actual_bytes.decode("utf-8")
    except UnicodeDecodeError as e:
        return "%s is not UTF-8: %s" % (name, e)
    act_lines = split_lines(act_text)

    problems = []
    if act_text and not act_text.endswith("\n"):
        problems.append("%s: the last line (%d) has no newline (torn write?)"
                        % (name, len(act_lines)))
    exp_norm = []
    for i, line in enumerate(exp_lines, 1):
        norm = normalize_jsonl(line)
        if norm is None:
            return "expected.%s:%d is not valid JSON: %s" % (name, i, line)
        exp_norm.append(norm)
    act_norm = []
    for i, line in enumerate(act_lines, 1):
        norm = normalize_jsonl(line)
        if norm is None:
            problems.append("%s:%d is not valid JSON: %s" % (name, i, line))
            norm = "<not JSON> " + line
        act_norm.append(norm)

    if exp_norm == act_norm and not problems:
        return None
    first = next((i for i, (e, a) in enumerate(zip(exp_norm, act_norm))
                  if e != a), min(len(exp_norm), len(act_norm)))
    out = ["%s: differs from expected.%s (%d expected lines, %d actual lines)"
           % (name, name, len(exp_lines), len(act_lines))]
    out += problems
    if exp_norm != act_norm:
        out.append("first differing line: %d" % (first + 1))
        out.append("  expected: %s" % (exp_lines[first] if first < len(exp_lines)
                                       else "<end of file>"))
        out.append("  actual:   %s" % (act_lines[first] if first < len(act_lines)
                                       else "<end of file>"))
        out.append("diff (each line as canonical JSON: keys sorted, "
                   "top-level \"time\" removed):")
        out += [d.rstrip("\n") for d in difflib.unified_diff(
            exp_norm, act_norm, "expected." + name, name + " (actual)", lineterm="")]
    return report(out)


def compare_bytes(name, expected_bytes, actual_bytes):
    if expected_bytes == actual_bytes:
        return None
    exp_lines = expected_bytes.decode("utf-8", "replace").splitlines(keepends=True)
    act_lines = actual_bytes.decode("utf-8", "replace").splitlines(keepends=True)
    first = next((i for i, (e, a) in enumerate(zip(exp_lines, act_lines))
                  if e != a), min(len(exp_lines), len(act_lines)))
    out = ["%s: differs from expected.%s (%d expected bytes, %d actual bytes)"
           % (name, name, len(expected_bytes), len(actual_bytes)),
           "first differing line: %d" % (first + 1),
           "  expected: %r" % (exp_lines[first] if first < len(exp_lines)
                               else "<end of file>"),
           "  actual:   %r" % (act_lines[first] if first < len(act_lines)
                               else "<end of file>"),
           "diff:"]
    out += [d.rstrip("\n") for d in difflib.unified_diff(
        exp_lines, act_lines, "expected." + name, name + " (actual)")]
    return report(out)


def expected_files(case_dir):
    """(expected file path, name relative to its root, root) for every
    expected file: expected.<name> files, and the files inside expected.<dir>/
    folders.  root is "work", "state" or "stdout"."""
    found = []
    for entry in sorted(os.listdir(case_dir)):
        if not entry.startswith("expected."):
            continue
        path = os.path.join(case_dir, entry)
        name = entry[len("expected."):]
        if os.path.isfile(path):
            if name in ("@stdout", "@stdout.jsonl"):
                found.append((path, name, "stdout"))
            else:
                found.append((path, name, "work"))
        elif os.path.isdir(path):
            root, prefix = ("state", "") if name == "@state" else ("work", name)
            for folder, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    full = os.path.join(folder, f)
                    rel = os.path.relpath(full, path)
                    found.append((full, os.path.join(prefix, rel) if prefix else rel, root))
    return found


def compare_outputs(case_dir, work, state, stdout_bytes):
    failures = []
    real_work = os.path.realpath(work)
    real_state = os.path.realpath(state)
    for exp_path, name, root in expected_files(case_dir):
        with open(exp_path, "rb") as f:
            expected = f.read()
        # {work} and {state}: the run's folders, as sluice resolves them.
        expected = expected.replace(b"{work}", real_work.encode()) \
                           .replace(b"{state}", real_state.encode())
        if root == "stdout":
            actual = stdout_bytes
        else:
            actual_path = os.path.join(state if root == "state" else work, name)
            if root == "state":
                name = "@state/" + name
            if not os.path.isfile(actual_path):
                failures.append("%s: missing (expected.%s says it should exist)"
                                % (name, os.path.relpath(exp_path, case_dir)[len("expected."):]))
                continue
            with open(actual_path, "rb") as f:
                actual = f.read()
        if name.endswith(".jsonl"):
            problem = compare_jsonl(name, expected, actual)
        else:
            problem = compare_bytes(name, expected, actual)
        if problem:
            failures.append(problem)
    return failures


def main(argv):
    if len(argv) != 3:
        print("usage: run_case.py <path-to-sluice> <case-dir>", file=sys.stderr)
        return 2
    sluice = os.path.abspath(argv[1])
    case_dir = os.path.abspath(argv[2])
    case_name = os.path.basename(case_dir)
    if not os.path.isfile(os.path.join(case_dir, "pipeline.lua")):
        print("%s: no pipeline.lua in %s" % (case_name, case_dir), file=sys.stderr)
        return 1
    try:
        spec = load_case(case_dir)
    except (CaseError, ValueError) as e:
        print("%s: bad case: %s" % (case_name, e), file=sys.stderr)
        return 1

    tmp = tempfile.mkdtemp(prefix="sluice-case-%s-" % case_name)
    work = os.path.join(tmp, "work")
    state = os.path.join(tmp, "state")
    shutil.copytree(case_dir, work)
    for rel in spec.get("copy", []):
        shutil.copy(os.path.join(case_dir, rel), work)

    failures = []
    logs = []
    out = b""
    for run_no in range(1, spec["runs"] + 1):
        run_failures, out, err = run_sluice(sluice, spec, case_dir, work, state, run_no)
        failures += run_failures
        logs.append((run_no, out, err))
        if run_failures:
            break
    if not failures:
        failures += compare_outputs(case_dir, work, state, out)

    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
        print("%s: PASS" % case_name)
        return 0

    for text in failures:
        print("\nFAIL " + text)
    for run_no, out, err in logs:
        which = " (run %d)" % run_no if len(logs) > 1 else ""
        print("\n---- sluice stderr%s ----\n%s---- end of stderr ----"
              % (which, err if err.endswith("\n") or not err else err + "\n"))
        if out:
            out = out.decode("utf-8", "replace")
            print("---- sluice stdout%s ----\n%s---- end of stdout ----"
                  % (which, out if out.endswith("\n") else out + "\n"))
    print("\n%s: FAIL (files kept in %s)" % (case_name, tmp))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
