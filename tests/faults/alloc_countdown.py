"""faults.alloc_countdown: every allocation sluice makes fails in turn.

SQLite's countdown, on the fault build (build-asan/: SLUICE_ALLOC_FAULTS,
runtime/faults/alloc_faults.c).  Each scenario below runs once with
SLUICE_FAIL_ALLOC_COUNT=1 to count the allocations sluice's own code makes
(the runtime, the codecs, the Lua bridge and the Lua states' allocator, every
plugin's setup), then again with SLUICE_FAIL_ALLOC=i for i = 1..N (the i-th
allocation fails, "one-shot") and with SLUICE_FAIL_ALLOC=i+ (every one from
the i-th fails, "persistent"), under ASan + LSan + UBSan.  Each faulted run
must end cleanly:

  - an exit code of 0, 1, 2 or 3 (docs/cli.md), never a signal or an abort;
  - no sanitizer report (a leak, a use after free, undefined behaviour);
  - when it failed (exit != 0) after the fault was met, a message saying so
    on standard error ("out of memory", Lua's "not enough memory");
  - `run`: nothing lost: with exit 0, every record of the clean run is in the
    output or is a dead letter; otherwise a second run without the fault, on
    the same state folder, delivers the rest.

Scenarios:
  check  `sluice check` of a pipeline naming every plugin (file, generate,
         kafka, pg source/cdc/sink, clean, dedup, mask, stateful, Lua steps,
         null, console): option parsing and each plugin's check phase
  run    `sluice run`: a CSV file through sl.clean and a Lua step (one record
         refused, a dead letter) to a JSON Lines sink and a CSV sink
  test   `sluice test` of that pipeline with in-memory sources and sinks
  sources `sluice run` of sl.generate (a template) and sl.sequence (a source
         written in Lua, the lua plugin) through a Lua step to a file

CI (the ctest entry) sweeps a deterministic sample: each scenario gets at
most --budget one-shot runs at a stride, starting at an offset taken from
the commit (so successive commits cover successive allocations), and a third
as many persistent runs.  --soak sweeps every allocation of every scenario,
both ways.  A failing run is replayed with one command, which is printed.

  alloc_countdown.py [--soak] [--sluice PATH] [--only SCENARIO[:N[+]]]
                     [--budget RUNS] [--offset K] [--jobs J]

The sluice binary defaults to build-asan/sluice (env SLUICE_ASAN_BIN or
--sluice override); a binary without the fault build skips (exit 77)."""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TIMEOUT = 120

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "LSAN_OPTIONS": "",
}
REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                    r"unprotected Lua error|Assertion .* failed")
OOM = re.compile(r"out of memory|not enough memory", re.I)
MET = re.compile(r"^sluice: injected allocation failure (\d+)$", re.M)
COUNT = re.compile(r"^sluice: allocations: (\d+)$", re.M)

INPUT_CSV = "id,name,phone\n" + "".join(
    "%d, name %d ,1380013800%d\n" % (i, i, i % 10) for i in range(1, 9))

RUN_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name    = "alloc",
  workers = 1,
  sources = { sl.file.source { path = "in.csv", format = "csv" } },
  steps   = {
    sl.clean { fields = { name = { "trim", "nfkc" }, phone = { "cn_phone", on_invalid = "null" } },
               required = { "name" } },
    function (rec)
      if rec.id == "3" then error("record 3 is refused") end
      rec.tag = string.format("n%s", rec.id)
      return rec
    end,
  },
  sinks   = {
    sl.file.sink { name = "json", path = "out.jsonl", format = "jsonl" },
    sl.file.sink { name = "csv", path = "out.csv", format = "csv", columns = { "id", "name", "tag" } },
  },
  dlq     = sl.file.sink { path = "dlq.jsonl", format = "jsonl" },
}
"""

RUN_TEST = """local test = require "sluice.test"
return test.suite {
  cases = {
    { name = "a record passes, cleansed and tagged",
      input = { { id = "1", name = " name 1 ", phone = "13800138001" } },
      expect = { output = { json = { { id = "1", name = "name 1", phone = "+8613800138001", tag = "n1" } } } } },
    { name = "record 3 is a dead letter",
      input = { { id = "3", name = "x" } },
      expect = { output = { json = {} }, dead = { { stage = "step.2", record = test.like { id = "3" } } } } },
  },
}
"""

CHECK_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name    = "alloc-check",
  workers = 1,
  sources = {
    sl.file.source { path = "in.csv", format = "csv" },
    sl.kafka.source { brokers = "127.0.0.1:1", topics = { "alloc.in" }, group = "alloc",
                      librdkafka = { ["client.id"] = "alloc" } },
    sl.pg.source { dsn = "host=127.0.0.1 port=1 dbname=x", table = "public.t",
                   watermark = { "updated_at" }, key = { "id" } },
    sl.pg.cdc { dsn = "host=127.0.0.1 port=1", slot = "alloc_slot", publication = "alloc_pub" },
    sl.generate { count = 3, template = { id = "${seq}" } },
    sl.sequence { to = 3 },
  },
  steps   = {
    sl.clean { fields = { name = { "trim", "nfkc", "t2s" }, id_no = "cn_id",
                          birth = { "date", output = "date" } },
               required = { "name" } },
    sl.dedup { key = "id" },
    sl.mask { fields = { "name" } },
    sl.stateful { key = "id", apply = function (state, rec) state.n = (state.n or 0) + 1 end },
    function (rec) return rec end,
  },
  sinks   = {
    sl.file.sink { path = "out.jsonl" },
    sl.file.sink { name = "csv", path = "out.csv", format = "csv", columns = { "id", "name" } },
    sl.kafka.sink { brokers = "127.0.0.1:1", topic = "alloc.out", key = "id" },
    sl.pg.sink { dsn = "host=127.0.0.1 port=1", table = "public.t", mode = "upsert", key = { "id" } },
    sl.null {},
    sl.console {},
  },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""

SOURCES_PIPELINE = """local sl = require "sluice"
return sl.pipeline {
  name    = "alloc-sources",
  workers = 1,
  sources = {
    sl.generate { count = 5, template = { id = "g${seq}", kind = "template" } },
    sl.sequence { to = 5 },
  },
  steps   = {
    function (rec)
      if rec.id == nil then rec.id = "s" .. tostring(rec.n) end
      return rec
    end,
  },
  sinks   = { sl.file.sink { path = "out.jsonl" } },
  dlq     = sl.file.sink { path = "dlq.jsonl" },
}
"""

SCENARIOS = {
    "check": {"files": {"pipeline.lua": CHECK_PIPELINE, "in.csv": INPUT_CSV},
              "args": ["check", "pipeline.lua"]},
    "run": {"files": {"pipeline.lua": RUN_PIPELINE, "in.csv": INPUT_CSV},
            "args": ["run", "pipeline.lua", "--state-dir", "state", "--log-level", "warn"],
            "delivery": True},
    "test": {"files": {"pipeline.lua": RUN_PIPELINE, "pipeline_test.lua": RUN_TEST},
             "args": ["test", "pipeline_test.lua"]},
    "sources": {"files": {"pipeline.lua": SOURCES_PIPELINE},
                "args": ["run", "pipeline.lua", "--state-dir", "state", "--log-level", "warn"],
                "delivery": True},
}


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"torn": line})
    return out


def setup(name):
    work = tempfile.mkdtemp(prefix="sluice-alloc-%s-" % name)
    for fname, text in SCENARIOS[name]["files"].items():
        with open(os.path.join(work, fname), "w", encoding="utf-8") as f:
            f.write(text)
    return work


def run_sluice(sluice, name, work, fault=None, count=False):
    env = dict(os.environ, **SANITIZER_ENV)
    env.pop("SLUICE_FAIL_ALLOC", None)
    env.pop("SLUICE_FAIL_ALLOC_COUNT", None)
    if fault:
        env["SLUICE_FAIL_ALLOC"] = fault
    if count:
        env["SLUICE_FAIL_ALLOC_COUNT"] = "1"
    try:
        p = subprocess.run([sluice] + SCENARIOS[name]["args"], cwd=work, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           text=True, errors="replace", timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, err
    return p.returncode, p.stdout + p.stderr


def dead_id(letter):
    """The id of a dead letter's record: from its fields, else from its raw
    bytes (a dead letter whose fields could not be copied keeps only those):
    a JSON object's id, or a CSV row's first field (the inputs here)."""
    rec = letter.get("record")
    if isinstance(rec, dict) and "id" in rec:
        return rec["id"]
    raw = letter.get("raw") or ""
    try:
        obj = json.loads(raw)
        return obj.get("id") if isinstance(obj, dict) else None
    except ValueError:
        return raw.split(",")[0].strip() or None


def delivered(work):
    """The ids in the JSON Lines output and the ids dead-lettered."""
    out = [r.get("id") for r in read_jsonl(os.path.join(work, "out.jsonl"))]
    dead = [dead_id(r) for r in read_jsonl(os.path.join(work, "dlq.jsonl"))]
    return out, dead


def count_allocations(sluice, name):
    work = setup(name)
    try:
        rc, log = run_sluice(sluice, name, work, count=True)
        m = COUNT.search(log or "")
        if rc != 0 or not m:
            raise SystemExit("alloc_countdown: the clean %s run failed (exit %s):\n%s" % (name, rc, log[-3000:]))
        base = delivered(work) if SCENARIOS[name].get("delivery") else None
        return int(m.group(1)), base
    finally:
        shutil.rmtree(work, ignore_errors=True)


def judge(sluice, name, fault, base):
    """Runs one faulted case: (outcome, problem or None, log).  outcome is
    'untouched' (ended before the fault), 'ok' (exit 0 all the same),
    'dead' (exit 0 with records dead-lettered), or 'error' (a clean error)."""
    work = setup(name)
    try:
        rc, log = run_sluice(sluice, name, work, fault=fault)
        if rc is None:
            return "hang", "still running after %d s (killed)" % TIMEOUT, log
        if REPORT.search(log):
            return "crash", "a sanitizer report or an abort (exit %d)" % rc, log
        if rc < 0 or rc not in (0, 1, 2, 3):
            return "crash", "exit %d: expected 0, 1, 2 or 3" % rc, log
        met = MET.search(log)
        if not met:
            return "untouched", None, log
        if rc != 0 and not OOM.search(log):
            return "error", "exit %d without a message naming out of memory" % rc, log
        if not base:
            return ("error" if rc else "ok"), None, log
        want_out, want_dead = base
        out, dead = delivered(work)
        if rc == 0:
            missing = sorted(set(want_out) - set(out) - set(dead), key=str)
            if missing or set(want_dead) - set(dead):
                return "lost", "exit 0 but records %s are neither output nor dead letters " \
                    "(expected %s, dead %s; got %s, dead %s)" % (missing, want_out, want_dead, out, dead), log
            return ("dead" if set(dead) - set(want_dead) else "ok"), None, log
        rc2, log2 = run_sluice(sluice, name, work)
        out, dead = delivered(work)
        missing = sorted(set(want_out) - set(out) - set(dead), key=str)
        if rc2 != 0 or missing:
            return "lost", "after exit %d, a rerun without the fault: exit %s, records %s lost " \
                "(expected %s; got %s, dead %s)" % (rc, rc2, missing, want_out, out, dead), log + "\n--- rerun:\n" + log2
        return "error", None, log
    finally:
        shutil.rmtree(work, ignore_errors=True)


def commit_offset():
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        head = ""
    return int(hashlib.sha1(head.encode()).hexdigest()[:8], 16)


def plan(n, budget, offset, soak):
    """The one-shot and persistent countdowns to run for n allocations."""
    if soak or n <= budget:
        return list(range(1, n + 1)), list(range(1, n + 1))
    stride = -(-n // budget)
    first = offset % stride + 1
    one = list(range(first, n + 1, stride))
    pstride = stride * 3
    pers = list(range(offset % pstride + 1, n + 1, pstride))
    return one, pers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--soak", action="store_true", help="sweep every allocation, one-shot and persistent")
    ap.add_argument("--sluice", default=os.environ.get("SLUICE_ASAN_BIN",
                                                      os.path.join(ROOT, "build-asan", "sluice")))
    ap.add_argument("--only", help="SCENARIO (sweep it alone), SCENARIO:N or SCENARIO:N+ (replay one case)")
    ap.add_argument("--budget", type=int, default=100,
                    help="one-shot runs per scenario in CI (a third as many persistent)")
    ap.add_argument("--offset", type=int, help="stride offset (default: from the commit)")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    sluice = os.path.abspath(a.sluice)
    if not os.path.exists(sluice):
        print("alloc_countdown: %s is not built (scripts/build --sanitize)" % sluice)
        return 77
    t0 = time.monotonic()
    names = list(SCENARIOS)
    single = None
    if a.only:
        m = re.match(r"^(\w+)(?::(\d+\+?))?$", a.only)
        if not m or m.group(1) not in SCENARIOS:
            raise SystemExit("--only: SCENARIO[:N[+]], SCENARIO one of %s" % ", ".join(SCENARIOS))
        names, single = [m.group(1)], m.group(2)
    offset = commit_offset() if a.offset is None else a.offset

    jobs = []
    counts = {}
    for name in names:
        n, base = count_allocations(sluice, name)
        if n == 0:
            print("alloc_countdown: %s counted no allocation: %s is not the fault build "
                  "(SLUICE_ALLOC_FAULTS)" % (name, sluice))
            return 77
        counts[name] = n
        if single:
            jobs.append((name, single, base))
            continue
        one, pers = plan(n, a.budget, offset, a.soak)
        print("%-6s %6d allocations: %d one-shot runs (from %d, stride %d), %d persistent" % (
            name, n, len(one), one[0] if one else 0, (one[1] - one[0]) if len(one) > 1 else 1, len(pers)),
            flush=True)
        jobs += [(name, str(i), base) for i in one] + [(name, "%d+" % i, base) for i in pers]

    tally = {}
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {pool.submit(judge, sluice, name, fault, base): (name, fault) for name, fault, base in jobs}
        for fut in concurrent.futures.as_completed(futs):
            name, fault = futs[fut]
            outcome, problem, log = fut.result()
            tally[outcome] = tally.get(outcome, 0) + 1
            if problem:
                problems.append((name, fault, outcome, problem, log))
            elif single:
                print("%s:%s %s\n%s" % (name, fault, outcome, log[-4000:]))

    problems.sort(key=lambda p: (p[0], int(p[1].rstrip("+")), p[1]))
    for name, fault, outcome, problem, log in problems[:15]:
        print("\nFAIL %s:%s  %s  (replay: python3 tests/faults/alloc_countdown.py --only %s:%s)\n%s" % (
            name, fault, problem, name, fault, log[-2500:]))
    if len(problems) > 15:
        print("\n... and %d more: %s" % (len(problems) - 15,
                                          " ".join("%s:%s" % (p[0], p[1]) for p in problems[15:200])))
    elapsed = time.monotonic() - t0
    crashes = tally.get("crash", 0) + tally.get("hang", 0)
    leaks = sum(1 for p in problems if "LeakSanitizer" in p[4])
    print("\nfigure: allocation failures: %s allocations, %d runs (%s): %d clean errors, "
          "%d dead letters, %d recovered (exit 0, nothing lost), %d crashes, %d leaks, %d lost, %.0f s" % (
              " + ".join("%s %d" % (k, v) for k, v in counts.items()), len(jobs),
              "every allocation, one-shot and persistent" if a.soak else
              "a stride from offset %d, one-shot and persistent" % offset,
              tally.get("error", 0), tally.get("dead", 0), tally.get("ok", 0) + tally.get("untouched", 0),
              crashes - leaks, leaks, tally.get("lost", 0), elapsed))
    failed = len(problems)
    print("%d passed, %d failed" % (len(jobs) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
