"""faults.hostile_lua: hostile step scripts cannot escape the sandbox, dodge
their budgets or take the process down.

Each file in tests/faults/hostile/ returns a step function that attacks when
it meets the record {"evil": true}.  Its second line says what must happen:

  -- expect: dead REGEX   that record goes to the dead-letter sink with a
                          reason matching REGEX (Python re.search); the
                          records before and after it pass
  -- expect: pass         the attack is harmless: every record passes
  -- expect: refused REGEX  the file is the pipeline file itself, hostile at
                          its top level: `sluice run` refuses it with exit 2
                          and a message matching REGEX (naming the file)

The step runs in a real `sluice run` (limits call_ms = 200, memory_mb = 32,
two workers), between a file source and a file sink, for three records:
{"id":1}, {"id":2,"evil":true}, {"id":3}.  Every case must end with exit 0
within WALL_LIMIT seconds: a case that hangs, crashes or loses a record
fails, with what it printed.

  hostile_lua.py [SLUICE] [--soak] [CASE...]   SLUICE: build/sluice by default;
                                    CASE: a file name without .lua; --soak
                                    changes nothing (every case runs always)

Prints one line per case and the figure: how many cases, the slowest, and
that each was refused within its budget."""

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "hostile")
WALL_LIMIT = 30.0

PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name    = "hostile",
  workers = 2,
  limits  = { call_ms = 200, memory_mb = 32 },
  sources = { sl.file.source { path = "in.jsonl" } },
  steps   = { (require "case") },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""
INPUT = '{"id":1}\n{"id":2,"evil":true}\n{"id":3}\n'


def expectation(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^-- expect: (dead|pass|refused)\s*(.*?)\s*$", line)
            if m:
                return m.group(1), m.group(2)
    raise SystemExit("%s: no '-- expect: dead REGEX|pass|refused REGEX' line" % path)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def run_case(sluice, name):
    """Returns (problem or None, seconds, detail)."""
    src = os.path.join(CASES, name + ".lua")
    kind, pattern = expectation(src)
    work = tempfile.mkdtemp(prefix="sluice-hostile-%s-" % name)
    try:
        if kind == "refused":
            shutil.copy(src, os.path.join(work, "pipeline.lua"))
        else:
            shutil.copy(src, os.path.join(work, "case.lua"))
            with open(os.path.join(work, "pipeline.lua"), "w") as f:
                f.write(PIPELINE)
        with open(os.path.join(work, "in.jsonl"), "w") as f:
            f.write(INPUT)
        t0 = time.monotonic()
        try:
            p = subprocess.run([sluice, "run", "pipeline.lua", "--state-dir", "state", "--log-level", "warn",
                                "--log-format", "json"], cwd=work, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace", timeout=WALL_LIMIT)
        except subprocess.TimeoutExpired as e:
            return "still running after %.0f s (killed)" % WALL_LIMIT, WALL_LIMIT, (e.stderr or b"")[-2000:]
        took = time.monotonic() - t0
        log = p.stderr[-3000:]
        if kind == "refused":
            if p.returncode != 2:
                return "exit %d, expected 2 (an invalid pipeline)" % p.returncode, took, log
            if not re.search(pattern, p.stderr):
                return "expected a message matching %r" % pattern, took, log
            return None, took, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        if p.returncode != 0:
            return "exit %d, expected 0" % p.returncode, took, log
        out = [r.get("id") for r in read_jsonl(os.path.join(work, "out.jsonl"))]
        dead = read_jsonl(os.path.join(work, "dlq.jsonl"))
        if kind == "pass":
            if sorted(out) != [1, 2, 3] or dead:
                return "expected every record to pass: out %s, dead letters %s" % (out, dead), took, log
            return None, took, "passed"
        if sorted(out) != [1, 3]:
            return "expected records [1, 3] in the output, got %s" % out, took, log
        if len(dead) != 1 or (dead[0].get("record") or {}).get("id") != 2:
            return "expected one dead letter for record 2, got %s" % json.dumps(dead)[:800], took, log
        reason = dead[0].get("error") or ""
        if not reason.strip():
            return "the dead letter has no reason: %s" % json.dumps(dead[0])[:800], took, log
        if pattern and not re.search(pattern, reason):
            return "expected a reason matching %r, got %r" % (pattern, reason), took, log
        return None, took, reason
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    args = [a for a in sys.argv[1:] if a != "--soak"]  # one length: every case, always
    sluice = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "sluice")
    if args and os.path.isfile(args[0]):
        sluice = args.pop(0)
    sluice = os.path.abspath(sluice)
    names = args or sorted(f[:-4] for f in os.listdir(CASES) if f.endswith(".lua"))
    failed = 0
    slowest = (0.0, "")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda n: (n, run_case(sluice, n)), names)
        for name, (problem, took, detail) in results:
            slowest = max(slowest, (took, name))
            if problem:
                failed += 1
                print("FAIL  %-28s %5.2f s  %s\n%s" % (name, took, problem, detail), flush=True)
            else:
                print("ok    %-28s %5.2f s  %s" % (name, took, detail.splitlines()[0][:110]), flush=True)
    print("\nfigure: hostile scripts: %d cases, %d refused or harmless, slowest %s %.2f s (budget 200 ms a call, "
          "32 MiB a state)" % (len(names), len(names) - failed, slowest[1], slowest[0]))
    print("%d passed, %d failed" % (len(names) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
